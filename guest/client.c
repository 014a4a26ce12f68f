/* The exec client: the agent is untrusted here too (the command's output
 * is the qube's), so frames go through the same reader and checks. */
#include "guest/client.h"

#include "guest/codec.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct client {
    struct gchan *c;
    struct guest_reader *rd;
    const struct exec_client_io *io;
    int in_fd;
    bool hello_in, out_eof, err_eof, done;
    int status;
    const char *error;
};

/* Writes all of BUF to a local fd, waiting when it is non-blocking. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd p = {fd, POLLOUT, 0};
            poll(&p, 1, 1000);
            continue;
        }
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void handle_output(struct client *cl, const struct guest_frame *f,
                          bool *eof, int fd)
{
    if (*eof) {
        cl->error = "output after its EOF";
        return;
    }
    if (f->len == 0) {
        *eof = true;
        return;
    }
    /* Output bytes are the command's: relayed as they are.  A local
     * reader that went away (EPIPE) only stops the relay. */
    if (fd >= 0)
        write_all(fd, f->untrusted_payload, f->len);
}

static void handle_frame(struct client *cl, const struct guest_frame *f)
{
    uint32_t v;

    if (!cl->hello_in) {
        if (f->type != GUEST_MSG_HELLO ||
            guest_validate_hello(f->untrusted_payload, f->len, &v) < 0)
            cl->error = "bad or missing HELLO from the agent";
        cl->hello_in = true;
        return;
    }
    switch (f->type) {
    case GUEST_MSG_STDOUT:
        handle_output(cl, f, &cl->out_eof, cl->io->out_fd);
        break;
    case GUEST_MSG_STDERR:
        handle_output(cl, f, &cl->err_eof, cl->io->err_fd);
        break;
    case GUEST_MSG_EXIT_CODE:
        if (!cl->out_eof || !cl->err_eof ||
            guest_validate_exit_code(f->untrusted_payload, f->len, &v) < 0)
            cl->error = "bad EXIT_CODE";
        else
            cl->status = (int)v, cl->done = true;
        break;
    default:
        cl->error = "unexpected frame from the agent";
    }
}

static void read_channel(struct client *cl)
{
    struct guest_frame f;
    uint8_t *dst;
    size_t want;
    int n;

    while (!cl->error && !cl->done) {
        if ((want = guest_reader_want(cl->rd, &dst)) > 0) {
            n = gchan_read(cl->c, dst, want);
            if (n < 0) {
                cl->error = "the agent closed the channel";
                return;
            }
            if (n == 0)
                return;
            guest_reader_commit(cl->rd, (size_t)n);
        }
        n = guest_reader_next(cl->rd, &f);
        if (n < 0)
            cl->error = cl->rd->error;
        else if (n > 0)
            handle_frame(cl, &f);
    }
}

static void queue_stdin(struct client *cl, const void *p, uint32_t len)
{
    uint8_t hdr[GUEST_HDR_SIZE];

    guest_put_u32(hdr, GUEST_MSG_STDIN);
    guest_put_u32(hdr + 4, len);
    gchan_queue(cl->c, hdr, sizeof(hdr));
    if (len)
        gchan_queue(cl->c, p, len);
}

/* Called when poll said IN_FD is readable. */
static void read_stdin(struct client *cl)
{
    uint8_t buf[GUEST_MAX_DATA];
    size_t room = gchan_out_room(cl->c) - GUEST_HDR_SIZE;
    ssize_t n = read(cl->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        queue_stdin(cl, NULL, 0);
        cl->in_fd = -1; /* not ours to close */
        return;
    }
    queue_stdin(cl, buf, (uint32_t)n);
}

static bool stdin_wanted(struct client *cl)
{
    return cl->in_fd >= 0 &&
           gchan_out_room(cl->c) >= GUEST_HDR_SIZE + GUEST_MAX_DATA / 4;
}

static void wait_events(struct client *cl)
{
    struct pollfd p[2];
    int n = 0;

    p[n++] = (struct pollfd){gchan_fd(cl->c), gchan_events(cl->c, true), 0};
    if (stdin_wanted(cl))
        p[n++] = (struct pollfd){cl->in_fd, POLLIN, 0};
    if (poll(p, (nfds_t)n, gchan_busy(cl->c, true) ? 0 : -1) <= 0)
        return;
    gchan_ack(cl->c, p[0].revents);
    if (n > 1 && p[1].revents)
        read_stdin(cl);
}

int exec_client_run(struct gchan *c, const struct exec_client_io *io,
                    const char **why)
{
    struct client cl = {.c = c, .io = io, .in_fd = io->in_fd};
    uint8_t hello[16];

    if (!(cl.rd = malloc(sizeof(*cl.rd))))
        return *why = "out of memory", -1;
    guest_reader_init(cl.rd, GUEST_RX_CLIENT_EXEC);
    gchan_queue(c, hello, guest_encode_hello(hello));
    if (cl.in_fd < 0)
        queue_stdin(&cl, NULL, 0);
    while (!cl.error && !cl.done) {
        /* A failed write is not the end: the agent may have finished and
         * closed, its last frames (EXIT_CODE) still waiting to be read. */
        if (gchan_flush(c) < 0)
            cl.in_fd = -1;
        read_channel(&cl);
        if (cl.error || cl.done)
            break;
        wait_events(&cl);
    }
    free(cl.rd);
    *why = cl.error;
    return cl.error ? -1 : cl.status;
}
