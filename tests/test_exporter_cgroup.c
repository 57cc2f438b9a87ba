/* test_exporter_cgroup.c - host PID -> pod UID and container ID
 * (exporter/cgroup.c): every cgroup path shape the kubelet and the runtimes
 * produce, non-pod processes, malformed files, and the fake /proc in
 * tests/fixtures/exporter/proc. */
#include "testutil.h"
#include "exporter/cgroup.h"

#include <stdio.h>
#include <string.h>

#define UID "05b3ee07-a2bd-47e7-9599-7961201f20dd"
#define UID_ "05b3ee07_a2bd_47e7_9599_7961201f20dd"
#define CID "4f1c2a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b"

typedef struct shape {
    const char *what, *path;
    bool in_pod;
    const char *uid, *container;
    gf_qos qos;
} shape;

static const shape shapes[] = {
    {"v2 systemd containerd burstable",
     "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
     ".slice/cri-containerd-" CID ".scope",
     true, UID, CID, GF_QOS_BURSTABLE},
    {"systemd besteffort",
     "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
     ".slice/cri-containerd-" CID ".scope",
     true, UID, CID, GF_QOS_BESTEFFORT},
    {"systemd guaranteed (no QoS level)",
     "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" CID ".scope", true, UID, CID,
     GF_QOS_GUARANTEED},
    {"cgroupfs burstable", "/kubepods/burstable/pod" UID "/" CID, true, UID, CID, GF_QOS_BURSTABLE},
    {"cgroupfs besteffort", "/kubepods/besteffort/pod" UID "/" CID, true, UID, CID,
     GF_QOS_BESTEFFORT},
    {"cgroupfs guaranteed", "/kubepods/pod" UID "/" CID, true, UID, CID, GF_QOS_GUARANTEED},
    {"CRI-O systemd",
     "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/crio-" CID
     ".scope",
     true, UID, CID, GF_QOS_BURSTABLE},
    {"CRI-O with crun's container child",
     "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID ".scope/container", true, UID, CID,
     GF_QOS_GUARANTEED},
    {"CRI-O cgroupfs", "/kubepods/besteffort/pod" UID "/crio-" CID, true, UID, CID,
     GF_QOS_BESTEFFORT},
    {"CRI-O conmon is no container",
     "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-" CID ".scope", true, UID, "",
     GF_QOS_GUARANTEED},
    {"docker systemd",
     "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/docker-" CID
     ".scope",
     true, UID, CID, GF_QOS_BURSTABLE},
    {"runc without the systemd driver (colon form)",
     "/system.slice/containerd.service/kubepods-burstable-pod" UID_ ".slice:cri-containerd:" CID,
     true, UID, CID, GF_QOS_BURSTABLE},
    {"outside the cgroup namespace",
     "/../../kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
     ".slice/cri-containerd-" CID ".scope",
     true, UID, CID, GF_QOS_BESTEFFORT},
    {"kubelet --cgroup-root prefix",
     "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
     "kubelet-kubepods-burstable-pod" UID_ ".slice/cri-containerd-" CID ".scope",
     true, UID, CID, GF_QOS_BURSTABLE},
    {"static pod (UID is a 32-digit hash)",
     "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
     "0123456789abcdef0123456789abcdef.slice/cri-containerd-" CID ".scope",
     true, "0123456789abcdef0123456789abcdef", CID, GF_QOS_BURSTABLE},
    {"upper case is normalised", "/kubepods/pod05B3EE07-A2BD-47E7-9599-7961201F20DD/" CID, true,
     UID, CID, GF_QOS_GUARANTEED},
    {"the pause process sits in the pod cgroup", "/kubepods/burstable/pod" UID, true, UID, "",
     GF_QOS_BURSTABLE},
    {"a leaf that is no container ID", "/kubepods/burstable/pod" UID "/not-an-id", true, UID, "",
     GF_QOS_BURSTABLE},
    {"host process", "/user.slice/user-1000.slice/session-3.scope", false, "", "", GF_QOS_UNKNOWN},
    {"docker outside Kubernetes", "/system.slice/docker-" CID ".scope", false, "", "",
     GF_QOS_UNKNOWN},
    {"root", "/", false, "", "", GF_QOS_UNKNOWN},
    {"kubepods without a pod", "/kubepods.slice/kubepods-burstable.slice", false, "", "",
     GF_QOS_UNKNOWN},
    {"pod UID too short", "/kubepods/burstable/pod05b3ee07-a2bd/" CID, false, "", "",
     GF_QOS_UNKNOWN},
    {"pod UID with a bad digit", "/kubepods/pod05b3ee07-a2bd-47e7-9599-7961201f20dz/" CID, false,
     "", "", GF_QOS_UNKNOWN},
    {"podcast is not a pod", "/kubepods/podcast/" CID, false, "", "", GF_QOS_UNKNOWN},
    {"empty", "", false, "", "", GF_QOS_UNKNOWN},
};

static void test_path_shapes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        gf_cgroup_pod p;
        bool got = gf_cgroup_parse_path(s->path, strlen(s->path), &p);
        if (got != s->in_pod || strcmp(p.pod_uid, s->uid) || strcmp(p.container_id, s->container) ||
            p.qos != s->qos)
            fail_msg("%s: got in_pod=%d uid='%s' container='%s' qos=%s", s->what, got, p.pod_uid,
                     p.container_id, gf_qos_name(p.qos));
    }
}

static void test_file_v1_and_hybrid(void **state)
{
    (void)state;
    /* v1: one line per hierarchy; the unified line of a hybrid host is "/" */
    const char *v1 = "12:pids:/kubepods/burstable/pod" UID "/" CID "\n"
                     "11:cpu,cpuacct:/kubepods/burstable/pod" UID "/" CID "\n"
                     "1:name=systemd:/kubepods/burstable/pod" UID "/" CID "\n"
                     "0::/\n";
    gf_cgroup_pod p;
    gf_error err = {0};
    assert_int_equal(gf_cgroup_parse("v1", v1, strlen(v1), &p, &err), GF_OK);
    assert_true(p.in_pod);
    assert_string_equal(p.pod_uid, UID);
    assert_string_equal(p.container_id, CID);

    /* an early line names only the pod; a later one supplies the container */
    const char *late = "5:freezer:/kubepods/burstable/pod" UID "\n"
                       "4:memory:/kubepods/burstable/pod" UID "/" CID "\n";
    assert_int_equal(gf_cgroup_parse("late", late, strlen(late), &p, &err), GF_OK);
    assert_string_equal(p.container_id, CID);

    /* no trailing newline, CR-less, a NUL inside a line */
    const char nul[] = "0::/kubepods/pod" UID "/" CID;
    assert_int_equal(gf_cgroup_parse("nul", nul, sizeof nul - 1, &p, &err), GF_OK);
    assert_string_equal(p.pod_uid, UID);
    const char with_nul[] = "7:x\0y:/kubepods/pod" UID "/" CID "\n";
    assert_int_equal(gf_cgroup_parse("with_nul", with_nul, sizeof with_nul - 1, &p, &err), GF_OK);

    /* a host process: valid, not in a pod */
    const char *host = "0::/system.slice/nvidia-persistenced.service\n";
    assert_int_equal(gf_cgroup_parse("host", host, strlen(host), &p, &err), GF_OK);
    assert_false(p.in_pod);
    assert_string_equal(p.pod_uid, "");
}

static void test_file_malformed(void **state)
{
    (void)state;
    gf_cgroup_pod p;
    gf_error err = {0};
    static const char *const bad[] = {
        "",
        "garbage",
        "kubepods/pod" UID "\n",   /* no ID:controllers: */
        "x:cpu:/kubepods/pod" UID, /* the ID must be a number */
        ":cpu:/kubepods/pod" UID,  /* ... and present */
        "12/cpu/kubepods\n\n\n",   /* no colons */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(gf_cgroup_parse("/host/proc/7/cgroup", bad[i], strlen(bad[i]), &p, &err),
                         GF_EINPUT);
        assert_string_equal(err.where, "/host/proc/7/cgroup");
        assert_true(strstr(err.msg, "ID:controllers:path") != NULL);
        assert_false(p.in_pod);
    }
    /* one good line among garbage is enough */
    const char *mixed = "garbage\n0::/kubepods/pod" UID "/" CID "\nmore garbage";
    assert_int_equal(gf_cgroup_parse("mixed", mixed, strlen(mixed), &p, &err), GF_OK);
    assert_true(p.in_pod);
}

static void test_fake_proc_root(void **state)
{
    (void)state;
    char root[4200];
    snprintf(root, sizeof root, "%s", gf_test_fixture("exporter/proc"));
    gf_cgroup_pod p;
    gf_error err = {0};

    assert_int_equal(gf_proc_pod_of(root, 1001, &p, &err), GF_OK); /* v2 systemd containerd */
    assert_string_equal(p.pod_uid, "11111111-1111-4111-8111-111111111111");
    assert_string_equal(p.container_id,
                        "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
    assert_int_equal(p.qos, GF_QOS_BURSTABLE);
    assert_int_equal(gf_proc_pod_of(root, 1002, &p, &err), GF_OK); /* v1 cgroupfs */
    assert_string_equal(p.pod_uid, "22222222-2222-4222-8222-222222222222");
    assert_int_equal(p.qos, GF_QOS_BESTEFFORT);
    assert_int_equal(gf_proc_pod_of(root, 1005, &p, &err), GF_OK); /* CRI-O + crun child */
    assert_string_equal(p.container_id,
                        "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3");
    assert_int_equal(p.qos, GF_QOS_GUARANTEED);
    assert_int_equal(gf_proc_pod_of(root, 1007, &p, &err), GF_OK); /* host */
    assert_false(p.in_pod);

    /* a process that exited: not found, naming the file */
    assert_int_equal(gf_proc_pod_of(root, 1009, &p, &err), GF_ENOTFOUND);
    assert_true(strstr(err.where, "proc/1009/cgroup") != NULL);
    assert_true(strstr(err.msg, "no such process") != NULL);

    /* start time: field 22, counted after the last ')' of the command name */
    unsigned long long st = 0;
    assert_int_equal(gf_proc_start_time(root, 1002, &st, &err), GF_OK); /* "(embed (worker))" */
    assert_int_equal(st, 101002);
    assert_int_equal(gf_proc_start_time(root, 1003, &st, &err), GF_OK); /* "(embed)x)" */
    assert_int_equal(st, 101003);
    assert_int_equal(gf_proc_start_time(root, 1009, &st, &err), GF_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_shapes),
        cmocka_unit_test(test_file_v1_and_hybrid),
        cmocka_unit_test(test_file_malformed),
        cmocka_unit_test(test_fake_proc_root),
    };
    return cmocka_run_group_tests_name("exporter_cgroup", tests, NULL, NULL);
}
