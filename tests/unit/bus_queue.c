/* Unit tests: busd's bounded queue and pending request table. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "bus/pending.h"
#include "bus/queue.h"

Test(queue, fifo_order)
{
    struct queue q;
    struct qframe *f;

    queue_init(&q, 8, 1024);
    cr_assert_eq(queue_push(&q, "a", 1, 100, 0, 0), 0);
    cr_assert_eq(queue_push(&q, "bb", 2, 100, 0, 0), 0);
    cr_assert_eq(q.count, 2);
    cr_assert_eq(q.bytes, 3);
    f = queue_pop(&q);
    cr_assert_eq(f->data[0], 'a');
    free(f);
    f = queue_pop(&q);
    cr_assert_eq(f->len, 2);
    free(f);
    cr_assert_null(queue_pop(&q));
    cr_assert_eq(q.bytes, 0);
}

Test(queue, bounded_by_count)
{
    struct queue q;

    queue_init(&q, 3, 1024);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(queue_push(&q, "x", 1, 100, 0, 0), 0);
    cr_assert_eq(queue_push(&q, "x", 1, 100, 0, 0), -1);
    cr_assert_eq(q.count, 3);
    queue_clear(&q);
    cr_assert_eq(q.count, 0);
}

Test(queue, bounded_by_bytes)
{
    struct queue q;
    char big[600] = {0};

    queue_init(&q, 100, 1000);
    cr_assert_eq(queue_push(&q, big, 600, 100, 0, 0), 0);
    cr_assert_eq(queue_push(&q, big, 600, 100, 0, 0), -1);
    cr_assert_eq(queue_push(&q, big, 400, 100, 0, 0), 0);
    cr_assert_eq(q.bytes, 1000);
    queue_clear(&q);
}

Test(queue, expiry_drops_only_stale)
{
    struct queue q;
    struct qframe *f;

    queue_init(&q, 8, 1024);
    queue_push(&q, "1", 1, 50, 0, 0);
    queue_push(&q, "2", 1, 200, 0, 0);
    queue_push(&q, "3", 1, 60, 0, 0);
    queue_push(&q, "4", 1, 300, 0, 0);
    cr_assert_eq(queue_expire(&q, 100), 2);
    cr_assert_eq(q.count, 2);
    f = queue_pop(&q);
    cr_assert_eq(f->data[0], '2');
    free(f);
    cr_assert_eq(queue_expire(&q, 300), 1);   /* deadline <= now */
    cr_assert_null(queue_head(&q));
    cr_assert_null(q.tail);
    cr_assert_eq(queue_push(&q, "5", 1, 400, 0, 0), 0);  /* tail fixed */
    cr_assert_eq(queue_head(&q)->data[0], '5');
    queue_clear(&q);
}

Test(pending, add_find_remove)
{
    struct pending_table t;
    struct pending *p;

    cr_assert_eq(pending_init(&t, 4), 0);
    cr_assert_not_null(pending_add(&t, 1, 10, 2, 100));
    cr_assert_not_null(pending_add(&t, PENDING_ADMIN, 10, 2, 200));
    cr_assert_not_null(pending_add(&t, 1, 11, 3, 50));
    p = pending_find(&t, 1, 10);
    cr_assert_not_null(p);
    cr_assert_eq(p->replier, 2);
    cr_assert_eq(pending_find(&t, PENDING_ADMIN, 10)->deadline, 200);
    cr_assert_null(pending_find(&t, 2, 10));
    pending_remove(&t, p);
    cr_assert_null(pending_find(&t, 1, 10));
    cr_assert_not_null(pending_find(&t, 1, 11));   /* moved, still there */
    cr_assert_eq(pending_count(&t), 2);
    pending_free(&t);
}

Test(pending, bounded)
{
    struct pending_table t;

    pending_init(&t, 2);
    cr_assert_not_null(pending_add(&t, 0, 1, 1, 10));
    cr_assert_not_null(pending_add(&t, 0, 2, 1, 10));
    cr_assert_null(pending_add(&t, 0, 3, 1, 10));
    pending_free(&t);
}

Test(pending, expiry_in_any_order)
{
    struct pending_table t;
    struct pending out;
    int n = 0;

    pending_init(&t, 8);
    pending_add(&t, 0, 1, 1, 300);
    pending_add(&t, 0, 2, 1, 100);
    pending_add(&t, 0, 3, 1, 200);
    cr_assert_eq(pending_next_deadline(&t), 100);
    while (pending_take_expired(&t, 250, &out)) {
        cr_assert(out.id == 2 || out.id == 3);
        n++;
    }
    cr_assert_eq(n, 2);
    cr_assert_eq(pending_next_deadline(&t), 300);
    cr_assert_not_null(pending_find(&t, 0, 1));
    pending_free(&t);
    pending_init(&t, 1);
    cr_assert_eq(pending_next_deadline(&t), UINT64_MAX);
    pending_free(&t);
}
