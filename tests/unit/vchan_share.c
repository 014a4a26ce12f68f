/* vchan buffer sharing (vchan/share.h) over the shm transport: a sealed
 * memfd crosses, tags and order are kept, the receiver sees the same
 * memory, unsealed buffers are told apart, junk and floods close the
 * channel, and nothing leaks. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "vchan/share.h"
#include "vchan_util.h"

TestSuite(vchan_share, .init = vt_setup, .fini = vt_teardown);

Test(vchan_share, memfd_crosses_with_its_tag)
{
    struct vchan *s, *c;
    uint64_t tag = 0;
    size_t size = 0;
    int fd, got;
    char *p, *q;

    vt_pair(10, 0, 0, &s, &c);
    fd = vchan_buffer_create("t", 8192);
    cr_assert_geq(fd, 0);
    p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq(p, MAP_FAILED);
    strcpy(p, "pixels");
    cr_assert_eq(vchan_share_buffer(c, fd, 42), 0);
    cr_assert_eq(vchan_send(c, "x", 1), 1);
    got = vchan_recv_buffer(s, &tag);
    cr_assert_geq(got, 0);
    cr_assert_eq(tag, 42);
    cr_assert_eq(vchan_buffer_validate(got, 8192, &size), 0);
    cr_assert_eq(size, 8192);
    q = mmap(NULL, size, PROT_READ, MAP_SHARED, got, 0);
    cr_assert_neq(q, MAP_FAILED);
    cr_assert_str_eq(q, "pixels");
    cr_assert_eq(vchan_recv_buffer(s, &tag), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(vchan_is_open(s), VCHAN_CONNECTED);
    munmap(p, 8192);
    munmap(q, size);
    close(got);
    close(fd);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_share, order_kept_through_poll_loop)
{
    struct vchan *s, *c;
    uint64_t tag;
    int fd = vchan_buffer_create("t", 4096), got;

    vt_pair(11, 0, 0, &s, &c);
    vchan_set_blocking(s, 0);
    for (uint64_t i = 1; i <= 3; i++)
        cr_assert_eq(vchan_share_buffer(c, fd, i), 0);
    cr_assert_eq(vchan_send(c, "x", 1), 1);
    vchan_wait(s);                      /* the socket event queues them */
    for (uint64_t i = 1; i <= 3; i++) {
        got = vchan_recv_buffer(s, &tag);
        cr_assert_geq(got, 0);
        cr_assert_eq(tag, i);
        close(got);
    }
    cr_assert_eq(vchan_is_open(s), VCHAN_CONNECTED);
    close(fd);
    vchan_close(c);
    vchan_close(s);
}

Test(vchan_share, unsealed_and_small_are_told_apart)
{
    size_t size;
    int fd = memfd_create("u", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    cr_assert_eq(ftruncate(fd, 4096), 0);
    cr_assert_eq(vchan_buffer_validate(fd, 1, &size), -1);
    cr_assert_eq(errno, EPERM);
    close(fd);
    fd = vchan_buffer_create("s", 4096);
    cr_assert_eq(vchan_buffer_validate(fd, 4097, &size), -1);
    cr_assert_eq(errno, ERANGE);
    close(fd);
}

Test(vchan_share, flood_closes_only_that_channel)
{
    struct vchan *s, *c, *s2, *c2;
    int fd = vchan_buffer_create("t", 4096), i;

    vt_pair(12, 0, 0, &s, &c);
    vt_pair(13, 0, 0, &s2, &c2);
    for (i = 0; i < VCHAN_SHARE_QUEUE + 4; i++)
        cr_assert_eq(vchan_share_buffer(c, fd, (uint64_t)i), 0);
    /* Never claimed: each socket event queues one; one more than the
     * queue holds is a violation that closes this channel. */
    for (i = 0; i < 4 * VCHAN_SHARE_QUEUE &&
         vchan_is_open(s) == VCHAN_CONNECTED; i++)
        vchan_wait(s);
    cr_assert_eq(vchan_is_open(s), VCHAN_DISCONNECTED);
    cr_assert_eq(vchan_send(c2, "ok", 2), 2);
    cr_assert_eq(vchan_is_open(s2), VCHAN_CONNECTED);
    close(fd);
    vchan_close(c);
    vchan_close(s);
    vchan_close(c2);
    vchan_close(s2);
}

Test(vchan_share, nothing_to_share_with_before_a_peer)
{
    struct vchan *s = vchan_server_init(0, 15, 0, 0);
    uint64_t tag;
    int fd = vchan_buffer_create("t", 4096);

    cr_assert_not_null(s);
    cr_assert_eq(vchan_share_buffer(s, fd, 1), -1);
    cr_assert_eq(errno, ENOTCONN);
    cr_assert_eq(vchan_recv_buffer(s, &tag), -1);
    cr_assert_eq(errno, EAGAIN);
    close(fd);
    vchan_close(s);
}
