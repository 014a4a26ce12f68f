/* Bounded frame queue (see queue.h). */
#include "bus/queue.h"

#include <stdlib.h>
#include <string.h>

void queue_init(struct queue *q, size_t max_frames, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->max_frames = max_frames;
    q->max_bytes = max_bytes;
}

void queue_clear(struct queue *q)
{
    struct qframe *f;

    while ((f = queue_pop(q)))
        free(f);
}

int queue_push(struct queue *q, const void *frame, size_t len,
               uint64_t deadline, uint64_t not_before, int dst)
{
    struct qframe *f;

    if (q->count >= q->max_frames || len > q->max_bytes ||
        q->bytes + len > q->max_bytes)
        return -1;
    f = malloc(sizeof(*f) + len);
    if (!f)
        return -1;
    f->next = NULL;
    f->deadline = deadline;
    f->not_before = not_before;
    f->dst = dst;
    f->len = len;
    memcpy(f->data, frame, len);
    if (q->tail)
        q->tail->next = f;
    else
        q->head = f;
    q->tail = f;
    q->count++;
    q->bytes += len;
    return 0;
}

struct qframe *queue_head(const struct queue *q)
{
    return q->head;
}

void queue_unlink(struct queue *q, struct qframe *prev, struct qframe *f)
{
    if (prev)
        prev->next = f->next;
    else
        q->head = f->next;
    if (q->tail == f)
        q->tail = prev;
    f->next = NULL;
    q->count--;
    q->bytes -= f->len;
}

struct qframe *queue_pop(struct queue *q)
{
    struct qframe *f = q->head;

    if (f)
        queue_unlink(q, NULL, f);
    return f;
}

size_t queue_expire(struct queue *q, uint64_t now)
{
    struct qframe *prev = NULL, *f = q->head;
    size_t n = 0;

    while (f) {
        struct qframe *next = f->next;
        if (f->deadline <= now) {
            queue_unlink(q, prev, f);
            free(f);
            n++;
        } else
            prev = f;
        f = next;
    }
    return n;
}
