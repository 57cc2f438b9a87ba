# lib.sh - shared helpers for the bench scripts (sourced).
#
# measure RUNS CMD...   runs CMD RUNS times (output discarded) and prints
#                       "median_s min_s max_s peak_rss_mib median_cpu_s" over
#                       the runs (cpu = user + system time: on a shared
#                       machine it varies less than wall time).
# Wall time, CPU time and peak RSS come from GNU time (/usr/bin/time, Debian
# package `time`); a median is the middle run (RUNS odd) or the mean of the
# two middle runs.
measure() {
  local runs=$1; shift
  local tf; tf=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f "%e %M %U %S" -a -o "$tf" "$@" >/dev/null 2>/dev/null || {
      echo "bench: command failed: $*" >&2; rm -f "$tf"; return 1; }
  done
  awk -v n="$runs" '
    function median(a, k,   i, j, t) {
      for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j > 0 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    { w[NR] = $1; c[NR] = $3 + $4; if ($2 > rss) rss = $2 }
    END {
      m = median(w, n); lo = w[1]; hi = w[n]
      printf "%.3f %.3f %.3f %.0f %.3f\n", m, lo, hi, rss / 1024, median(c, n)
    }' "$tf"
  rm -f "$tf"
}

# machine: one line naming the CPU, cores and memory.
machine() {
  local cpu mem
  cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
  echo "$cpu, $(nproc) cores, $mem, $(. /etc/os-release && echo "$PRETTY_NAME")"
}

# build a Release binary in build-rel (what the figures are for).
build_release() {
  scripts/deps.sh --bench >&2
  GF_BUILD_TYPE=Release scripts/build.sh build-rel -DGF_TESTS=OFF >&2
}
