/* vchan xen transport: it is built and linked into every build; without
 * Xen it must fail with one clear line, never crash. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/vchan_util.h"

static void no_xen_setup(void)
{
    vt_setup();
    if (access("/dev/xen/evtchn", F_OK) == 0)
        cr_skip_test("this host runs Xen: see tests/xen/vchan-two-domain.sh");
}

TestSuite(vchan_xen, .init = no_xen_setup, .fini = vt_teardown);

/* Runs INIT with stderr captured; returns what it logged. */
static char *captured(struct vchan *(*init)(void), struct vchan **out)
{
    static char text[1024];
    char path[128];
    int fd, saved;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/stderr", vt_root);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    saved = dup(2);
    dup2(fd, 2);
    *out = init();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    return text;
}

static struct vchan *server(void)
{
    return vchan_server_init(1, 5, 1024, 1024);
}

static struct vchan *client(void)
{
    return vchan_client_init(0, 5);
}

static void one_clear_line(const char *text)
{
    const char *nl = strchr(text, '\n');

    cr_assert_not_null(strstr(text, "no Xen: /dev/xen/evtchn missing"),
                       "got: %s", text);
    cr_assert(nl && nl[1] == '\0', "more than one line: %s", text);
}

Test(vchan_xen, server_fails_cleanly)
{
    struct vchan *v;

    cr_assert_eq(vchan_set_transport(VCHAN_TRANSPORT_XEN), 0);
    errno = 0;
    one_clear_line(captured(server, &v));
    cr_assert_null(v);
    cr_assert_eq(errno, ENODEV);
}

Test(vchan_xen, client_fails_cleanly_via_env)
{
    struct vchan *v;

    setenv("BULKHEAD_VCHAN", "xen", 1);
    one_clear_line(captured(client, &v));
    cr_assert_null(v);
}

Test(vchan_xen, bad_transport_value_refused)
{
    cr_assert_eq(vchan_set_transport((enum vchan_transport)42), -1);
    cr_assert_eq(vchan_set_transport(VCHAN_TRANSPORT_SHM), 0);
}

/* libxenvchan really is linked in (not just declared). */
Test(vchan_xen, libxenvchan_is_linked)
{
    extern int libxenvchan_is_open(void *);

    cr_assert_not_null((void *)libxenvchan_is_open);
}
