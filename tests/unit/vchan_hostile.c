/* vchan shm transport against hostile peers: the test plays the peer
 * with the raw rendezvous calls and scribbles on the shared page.  The
 * honest side must neither crash nor read out of bounds (run under ASan
 * too), must close that one channel and carry on with the others. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "lib/atomicfile.h"
#include "tests/unit/vchan_util.h"
#include "vchan/rendezvous.h"
#include "vchan/ring.h"

TestSuite(vchan_hostile, .init = vt_setup, .fini = vt_teardown,
          .timeout = 30);

struct raw {
    struct vchan_shm_page *page;
    size_t len;
    int sock, fds[RDV_NFDS];
};

/* A hostile client: connects, takes the hello, maps the page. */
static void raw_client(struct vchan *s, int port, struct raw *r)
{
    struct rdv_hello h;

    r->sock = rdv_connect(0, 0, port);
    cr_assert_geq(r->sock, 0);
    vchan_is_open(s);                   /* the server accepts */
    cr_assert_eq(rdv_recv_hello(r->sock, &h, r->fds), 1);
    r->len = h.total;
    r->page = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED,
                   r->fds[RDV_FD_MEM], 0);
    cr_assert_neq(r->page, MAP_FAILED);
    r->page->cli_live = VCHAN_SHM_LIVE;
}

static void raw_close(struct raw *r)
{
    munmap(r->page, r->len);
    close(r->sock);
    for (int i = 0; i < RDV_NFDS; i++)
        close(r->fds[i]);
}

/* A second, honest channel must keep working beside the broken one. */
static void honest_channel_still_works(int port)
{
    struct vchan *s, *c;
    char buf[4];

    vt_pair(port, 0, 0, &s, &c);
    cr_assert_eq(vchan_send(c, "ok!", 4), 4);
    cr_assert_eq(vchan_recv(s, buf, 4), 4);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_hostile, producer_index_far_ahead)
{
    struct vchan *s = vchan_server_init(0, 20, 0, 0);
    char buf[64];
    struct raw r;

    cr_assert_not_null(s);
    raw_client(s, 20, &r);
    cr_assert_eq(vchan_is_open(s), VCHAN_CONNECTED);
    r.page->left.prod = 1000000000;
    cr_assert_eq(vchan_read(s, buf, sizeof(buf)), -1);
    cr_assert_eq(vchan_is_open(s), VCHAN_DISCONNECTED);
    cr_assert_eq(vchan_data_ready(s), 0);
    cr_assert_eq(vchan_write(s, "x", 1), -1);
    /* It sees itself cut off: live flag 0, socket shut down. */
    cr_assert_eq(r.page->srv_live, VCHAN_SHM_DEAD);
    honest_channel_still_works(21);
    raw_close(&r);
    vchan_close(s);
}

Test(vchan_hostile, producer_index_moves_backwards)
{
    struct vchan *s = vchan_server_init(0, 22, 0, 0);
    char buf[64];
    struct raw r;

    cr_assert_not_null(s);
    raw_client(s, 22, &r);
    r.page->left.prod = 10;
    cr_assert_eq(vchan_read(s, buf, 10), 10);
    r.page->left.prod = 5;
    cr_assert_eq(vchan_data_ready(s), 0);
    cr_assert_eq(vchan_is_open(s), VCHAN_DISCONNECTED);
    raw_close(&r);
    vchan_close(s);
}

Test(vchan_hostile, consumer_index_nonsense)
{
    struct vchan *s = vchan_server_init(0, 23, 0, 0);
    struct raw r;

    cr_assert_not_null(s);
    raw_client(s, 23, &r);
    cr_assert_eq(vchan_write(s, "abc", 3), 3);
    r.page->right.cons = 0x80000000u;
    cr_assert_eq(vchan_write(s, "abc", 3), -1);
    cr_assert_eq(vchan_buffer_space(s), 0);
    cr_assert_eq(vchan_is_open(s), VCHAN_DISCONNECTED);
    honest_channel_still_works(24);
    raw_close(&r);
    vchan_close(s);
}

Test(vchan_hostile, live_flag_nonsense)
{
    struct vchan *s = vchan_server_init(0, 25, 0, 0);
    char buf[8];
    struct raw r;

    cr_assert_not_null(s);
    raw_client(s, 25, &r);
    cr_assert_eq(vchan_is_open(s), VCHAN_CONNECTED);
    r.page->cli_live = 0xa5;
    cr_assert_eq(vchan_is_open(s), VCHAN_DISCONNECTED);
    cr_assert_eq(vchan_read(s, buf, sizeof(buf)), -1);
    raw_close(&r);
    vchan_close(s);
}

Test(vchan_hostile, scribbled_orders_and_own_indexes_are_ignored)
{
    struct vchan *s = vchan_server_init(0, 26, 0, 0);
    char buf[8];
    struct raw r;

    cr_assert_not_null(s);
    raw_client(s, 26, &r);
    /* Orders are read once at setup; later changes mean nothing. */
    r.page->left_order = 30;
    r.page->right_order = 0xffff;
    r.page->left.cons = 12345;          /* the server's own index */
    r.page->srv_notify = 0xff;          /* spurious wake-ups only */
    memcpy((char *)r.page + 1024, "data", 4);
    r.page->left.prod = 4;
    cr_assert_eq(vchan_read(s, buf, sizeof(buf)), 4);
    cr_assert_arr_eq(buf, "data", 4);
    cr_assert_eq(r.page->left.cons, 4);
    cr_assert_eq(vchan_is_open(s), VCHAN_CONNECTED);
    raw_close(&r);
    vchan_close(s);
}

Test(vchan_hostile, garbage_on_the_rendezvous_socket)
{
    struct vchan *s = vchan_server_init(0, 27, 0, 0);
    struct raw r;

    cr_assert_not_null(s);
    raw_client(s, 27, &r);
    cr_assert_eq(send(r.sock, "junk", 4, 0), 4);
    cr_assert_eq(vchan_is_open(s), VCHAN_DISCONNECTED);
    raw_close(&r);
    vchan_close(s);
}

/* ---- hostile servers ------------------------------------------------------- */

/* A raw server on PORT whose hello is built by the caller. */
static int raw_listen(int port)
{
    char path[RDV_PATH_MAX];
    int fd = rdv_listen(0, 0, port, path, sizeof(path));

    cr_assert_geq(fd, 0);
    return fd;
}

static int raw_accept(int lfd)
{
    int fd;

    for (int i = 0; i < 1000; i++) {
        fd = rdv_accept(lfd, 0);
        if (fd >= 0)
            return fd;
        usleep(1000);
    }
    cr_assert_fail("no client");
    return -1;
}

static int sealed_memfd(size_t len, int seal)
{
    int fd = memfd_create("t", MFD_ALLOW_SEALING);

    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)len), 0);
    if (seal)
        cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    return fd;
}

static void bad_hello(int port, struct rdv_hello h, int seal, int evfd)
{
    int lfd = raw_listen(port), fd;
    int fds[RDV_NFDS];
    struct vchan *c;
    char b;

    c = vchan_client_init(0, port);
    cr_assert_not_null(c);
    fd = raw_accept(lfd);
    fds[RDV_FD_MEM] = sealed_memfd(4096, seal);
    fds[RDV_FD_IN] = evfd ? eventfd(0, 0) : dup(fds[RDV_FD_MEM]);
    fds[RDV_FD_OUT] = eventfd(0, 0);
    cr_assert_eq(rdv_send_hello(fd, &h, fds), 0);
    cr_assert_eq(vchan_is_open(c), VCHAN_DISCONNECTED);
    vchan_set_blocking(c, 0);
    cr_assert_eq(vchan_read(c, &b, 1), -1);
    vchan_close(c);
    for (int i = 0; i < RDV_NFDS; i++)
        close(fds[i]);
    close(fd);
    close(lfd);
}

Test(vchan_hostile, server_hello_unsealed_memfd)
{
    struct rdv_hello h = { VCHAN_SHM_MAGIC, VCHAN_SHM_VERSION, 10, 11, 0,
                           4096 };

    bad_hello(30, h, 0, 1);
}

Test(vchan_hostile, server_hello_size_mismatch)
{
    struct rdv_hello h = { VCHAN_SHM_MAGIC, VCHAN_SHM_VERSION, 12, 12, 0,
                           4096 * 3 };

    bad_hello(31, h, 1, 1);
}

Test(vchan_hostile, server_hello_bad_orders)
{
    struct rdv_hello h = { VCHAN_SHM_MAGIC, VCHAN_SHM_VERSION, 10, 10, 0,
                           4096 };

    bad_hello(32, h, 1, 1);
}

Test(vchan_hostile, server_hello_not_an_eventfd)
{
    struct rdv_hello h = { VCHAN_SHM_MAGIC, VCHAN_SHM_VERSION, 10, 11, 0,
                           4096 };

    bad_hello(33, h, 1, 0);
}

Test(vchan_hostile, server_corrupts_client_read_ring)
{
    struct rdv_hello h = { VCHAN_SHM_MAGIC, VCHAN_SHM_VERSION, 10, 11, 0,
                           4096 };
    int lfd = raw_listen(34), fd, fds[RDV_NFDS];
    struct vchan_shm_page *page;
    struct vchan *c;
    char buf[64];

    c = vchan_client_init(0, 34);
    cr_assert_not_null(c);
    fd = raw_accept(lfd);
    fds[RDV_FD_MEM] = sealed_memfd(4096, 1);
    fds[RDV_FD_IN] = eventfd(0, 0);
    fds[RDV_FD_OUT] = eventfd(0, 0);
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
                fds[RDV_FD_MEM], 0);
    cr_assert_neq(page, MAP_FAILED);
    page->srv_live = VCHAN_SHM_LIVE;
    cr_assert_eq(rdv_send_hello(fd, &h, fds), 0);
    cr_assert_eq(vchan_is_open(c), VCHAN_CONNECTED);
    cr_assert_eq(page->cli_live, VCHAN_SHM_LIVE);
    page->right.prod = 2049;            /* ring is 2048 */
    cr_assert_eq(vchan_read(c, buf, sizeof(buf)), -1);
    cr_assert_eq(vchan_is_open(c), VCHAN_DISCONNECTED);
    vchan_close(c);
    munmap(page, 4096);
    for (int i = 0; i < RDV_NFDS; i++)
        close(fds[i]);
    close(fd);
    close(lfd);
}

/* ---- peer identity ----------------------------------------------------------- */

/* Forks a child with the uid of domain DOM claiming (env) to be CLAIM,
 * running FN(ARG) as its exit status. */
static pid_t spawn_as(int dom, int claim, int (*fn)(int), int arg)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        uid_t u = vchan_uid_base(dom);
        char env[16];

        alarm(20);                      /* never outlive a failed test */
        snprintf(env, sizeof(env), "%d", claim);
        setenv("BULKHEAD_VCHAN_DOMID", env, 1);
        if (setresgid(u, u, u) < 0 || setresuid(u, u, u) < 0)
            _exit(100);
        _exit(fn(arg));
    }
    return pid;
}

/* Exit 0 when a client to dom0 on PORT ends up connected, 1 when it is
 * refused (init fails or the channel closes). */
static int try_client(int port)
{
    struct vchan *c = vchan_client_init(0, port);
    char b;

    if (!c)
        return 1;
    if (vchan_recv(c, &b, 1) != 1)
        return 1;
    vchan_close(c);
    return 0;
}

static void need_root(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to take other domains' uids");
}

Test(vchan_hostile, server_refuses_client_of_wrong_domain)
{
    struct vchan *s;
    pid_t pid;
    int st;

    need_root();
    s = vchan_server_init(5, 40, 0, 0);
    cr_assert_not_null(s);
    cr_assert_eq(vchan_send(s, "!", 1), 1);     /* before anyone connects */
    /* A process of domain 7 pretending to be 5: refused. */
    pid = spawn_as(7, 5, try_client, 40);
    while (waitpid(pid, &st, WNOHANG) == 0) {
        vchan_is_open(s);
        usleep(1000);
    }
    cr_assert_eq(WEXITSTATUS(st), 1);
    cr_assert_eq(vchan_is_open(s), VCHAN_WAITING);
    /* Domain 5 itself: welcome. */
    pid = spawn_as(5, 5, try_client, 40);
    while (waitpid(pid, &st, WNOHANG) == 0) {
        vchan_is_open(s);
        usleep(1000);
    }
    cr_assert_eq(WEXITSTATUS(st), 0);
    vchan_close(s);
}

static int impostor_server(int port)
{
    struct vchan *s = vchan_server_init(0, port, 0, 0);

    if (!s)
        return 3;
    pause();
    return 0;
}

Test(vchan_hostile, client_refuses_server_of_wrong_domain)
{
    char dir[256], path[300];
    pid_t pid;

    need_root();
    /* The tree is shared: say domain 7 could write in 5's directory. */
    snprintf(dir, sizeof(dir), "%s/run/bulkhead/vchan/5", vt_root);
    cr_assert_eq(mkdir_p(dir, 0755), 0);
    chmod(dir, 0777);
    snprintf(path, sizeof(path), "%s/0.41.sock", dir);
    pid = spawn_as(7, 5, impostor_server, 41);
    for (int i = 0; i < 2000 && access(path, F_OK) < 0; i++)
        usleep(1000);
    cr_assert_eq(access(path, F_OK), 0);
    errno = 0;
    cr_assert_null(vchan_client_init(5, 41));
    cr_assert_eq(errno, EACCES);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
