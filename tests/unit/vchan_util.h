/* Helpers shared by the vchan Criterion suites: a throw-away
 * BULKHEAD_ROOT per test and a connected shm pair in one process. */
#ifndef BULKHEAD_TEST_VCHAN_UTIL_H
#define BULKHEAD_TEST_VCHAN_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/paths.h"
#include "vchan/vchan.h"

static char vt_root[64];

__attribute__((unused)) static void vt_setup(void)
{
    snprintf(vt_root, sizeof(vt_root), "/tmp/bhv.XXXXXX");
    cr_assert_not_null(mkdtemp(vt_root));
    /* Other domains' uids must be able to reach $RUN/vchan. */
    chmod(vt_root, 0755);
    setenv("BULKHEAD_ROOT", vt_root, 1);
    unsetenv("BULKHEAD_VCHAN_DOMID");
    unsetenv("BULKHEAD_VCHAN");
    unsetenv("BULKHEAD_LOG_LEVEL");
    cr_assert_eq(paths_set_root(vt_root), 0);
}

__attribute__((unused)) static void vt_teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", vt_root);
    if (vt_root[0] && system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", vt_root);
}

/* A connected server (domain 0) / client (domain 0) pair on PORT. */
__attribute__((unused)) static void vt_pair(int port, size_t rmin, size_t wmin, struct vchan **s,
                    struct vchan **c)
{
    *s = vchan_server_init(0, port, rmin, wmin);
    cr_assert_not_null(*s);
    cr_assert_eq(vchan_is_open(*s), VCHAN_WAITING);
    *c = vchan_client_init(0, port);
    cr_assert_not_null(*c);
    vchan_is_open(*s);                  /* accepts, sends the hello */
    cr_assert_eq(vchan_is_open(*c), VCHAN_CONNECTED);
    cr_assert_eq(vchan_is_open(*s), VCHAN_CONNECTED);
}

#endif
