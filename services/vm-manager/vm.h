/* vm-manager's service state and the lifecycle actions around the table
 * of lifecycle.h: what happens on start, ready, shutdown, kill, pause,
 * exit, deadlines and at startup (adoption, autostart).  Talks to
 * storage-manager (volumes) and rpc-router (agent channel) on the bus. */
#ifndef VM_VM_H
#define VM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "bus/bus.h"
#include "qubedb.h"

#define VM_MAX_WAITERS 8

/* A request answered when the qube reaches a state (start -> Running,
 * shutdown --wait / kill -> Halted). */
struct waiter {
    bus_msg *req;
    enum qube_state want;
};

struct qube_rt {
    const struct backend_ops *ops;
    struct backend_run *br;
    uint64_t deadline_ms;   /* start: agent ready by; halting: exit by */
    struct waiter waiters[VM_MAX_WAITERS];
    int nwaiters;
    char fail[512];         /* why a start failed, for the waiters */
    /* phases of the last start (us, monotonic), logged at ready */
    uint64_t t_start, t_prepared, t_attached, t_spawned;
    uint64_t attach_id;     /* QubeAttach in flight (bus request id) */
};

struct vm {
    struct bus *bus;        /* NULL: no bus (events and peers skipped) */
    struct qubedb db;
    int start_timeout_ms;
    int shutdown_timeout_ms;
    bool wait_agent;        /* false: Running at spawn (no agent, tests) */
};

/* Publishes DomainEvent EVENT for Q (detail may be NULL). */
void vm_event(struct vm *vm, const struct qube *q, const char *event,
              const char *detail);
/* Applies INPUT to Q through the table and publishes its event.  Returns
 * -1 (state unchanged) when the table refuses. */
int vm_step(struct vm *vm, struct qube *q, enum qube_input input);

/* Actions.  REQ (may be NULL) is answered now on error, or later when the
 * qube reaches the state the action waits for; 1 = REQ was kept (the
 * caller must not free it), 0 = answered, -1 = refused/failed with ERR
 * set and CODE (nothing answered). */
int vm_start(struct vm *vm, struct qube *q, bus_msg *req, int *code,
             char *err, size_t errlen);
/* FORCE: also when running qubes use Q as their netvm. */
int vm_shutdown(struct vm *vm, struct qube *q, bus_msg *req, bool wait,
                bool force, unsigned timeout_s, int *code, char *err,
                size_t errlen);
int vm_kill(struct vm *vm, struct qube *q, bus_msg *req, int *code,
            char *err, size_t errlen);
int vm_pause(struct vm *vm, struct qube *q, bool pause, int *code,
             char *err, size_t errlen);

/* memory or vcpus changed: applied to the running qube when its backend
 * can, else at the next start. */
void vm_apply_limits(struct vm *vm, struct qube *q);

/* Events from elsewhere.  vm_peer_reply: a reply to an asynchronous
 * request (QubeAttach). */
void vm_peer_reply(struct vm *vm, const bus_msg *m);
void vm_agent_ready(struct vm *vm, const char *qube, unsigned qid);
/* Init of Q exited (halted auto_cleanup disposables are removed by
 * dispvm_tick() on the next loop turn). */
void vm_exited(struct vm *vm, struct qube *q);
/* Deadlines passed by NOW; returns the next deadline (0 = none). */
uint64_t vm_deadlines(struct vm *vm, uint64_t now);

/* Startup: re-adopt running qubes from their run records; releases the
 * volumes of qubes that died meanwhile. */
void vm_adopt_all(struct vm *vm);
/* Starts every Halted qube with autostart = true. */
void vm_autostart(struct vm *vm);

/* Fills a protobuf Qube for Q (strings owned by an arena freed with
 * vm_qube_msg_free). */
struct Bulkhead__Qube *vm_qube_msg(struct vm *vm, const struct qube *q);
void vm_qube_msg_free(struct Bulkhead__Qube *m);

#endif
