# lib.sh - shared helpers for the bench scripts (sourced).
#
# measure RUNS CMD...   runs CMD RUNS times (output discarded) and prints
#                       "median_s min_s max_s peak_rss_mib" over the runs.
# Wall time and peak RSS come from GNU time (/usr/bin/time, Debian package
# `time`); the median is the middle run (RUNS odd) or the mean of the two
# middle runs.
measure() {
  local runs=$1; shift
  local tf; tf=$(mktemp)
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f "%e %M" -a -o "$tf" "$@" >/dev/null 2>/dev/null || {
      echo "bench: command failed: $*" >&2; rm -f "$tf"; return 1; }
  done
  sort -n -k1,1 "$tf" | awk -v n="$runs" '
    { t[NR] = $1; if ($2 > rss) rss = $2 }
    END {
      med = (n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
      printf "%.3f %.3f %.3f %.0f\n", med, t[1], t[n], rss / 1024
    }'
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
