/* Swapping a running service for another binary (see README.md, "Swap"):
 * start the new one on the other bus slot, wait for its readiness, have
 * busd switch (BusSwitch), retire the old one; any failure kills the new
 * one and the old one keeps serving. */
#include "launcher.h"

#include "lib/log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)


int launcher_swap_begin(struct launcher *l, struct svc *s, const char *exec,
                        uint64_t tag, char *err, size_t errlen)
{
    char line[1024], *rest = strpbrk(s->conf.exec, " \t");
    pid_t pid;
    int fd;

    if (!strcmp(s->conf.name, "busd"))
        return ERR("busd cannot be swapped (it is the switch); restart it");
    if (s->state != ST_UP)
        return ERR("%s is %s, not up", s->conf.name, fsm_state_name(s->state));
    if (s->swap.pid)
        return ERR("a swap of %s is already running", s->conf.name);
    /* The new binary keeps the configured arguments. */
    if ((size_t)snprintf(line, sizeof(line), "%s%s", exec, rest ? rest : "") >=
        sizeof(line))
        return ERR("exec line too long");
    pid = spawn_service(&l->ctx, &s->conf, line, 1 - s->slot, &fd, err, errlen);
    if (pid < 0)
        return -1;
    s->swap = (struct svc_swap){.pid = pid, .notify_fd = fd,
                                .slot = 1 - s->slot, .admin_tag = tag,
                                .deadline_ms = launcher_now() +
                                               (uint64_t)s->conf.ready_timeout_ms};
    snprintf(s->swap.exec, sizeof(s->swap.exec), "%s", line);
    log_info("%s: swap: started pid %d on slot %d: %s", s->conf.name, (int)pid,
             s->swap.slot, line);
    return 0;
}

static void retire(struct launcher *l, pid_t pid, int sig, int timeout_ms)
{
    kill(pid, sig);
    for (int i = 0; i < RETIRING_MAX; i++)
        if (!l->retiring[i]) {
            l->retiring[i] = pid;
            l->retire_deadline[i] = launcher_now() + (uint64_t)timeout_ms;
            return;
        }
    kill(pid, SIGKILL); /* no room to watch it: do not leave it behind */
}

void swap_fail(struct launcher *l, struct svc *s, const char *why)
{
    log_warnx("%s: swap aborted: %s; pid %d keeps serving", s->conf.name, why,
              (int)s->pid);
    if (s->swap.notify_fd >= 0)
        close(s->swap.notify_fd);
    if (s->swap.pid > 0)
        retire(l, s->swap.pid, SIGKILL, 1000);
    admin_answer_error(l, s->swap.admin_tag, BULKHEAD__ERROR__CODE__FAILED,
                       "swap of %s aborted: %s; the old instance keeps serving",
                       s->conf.name, why);
    memset(&s->swap, 0, sizeof(s->swap));
}

void swap_ready(struct launcher *l, struct svc *s)
{
    s->swap.switch_tag = ++l->next_id;
    s->swap.deadline_ms = launcher_now() + 5000;
    log_info("%s: swap: pid %d ready; switching busd to slot %d",
             s->conf.name, (int)s->swap.pid, s->swap.slot);
    launcher_send_switch(l, s->conf.name, s->swap.slot, s->swap.switch_tag);
}

static void swap_commit(struct launcher *l, struct svc *s)
{
    char msg[256];
    char line[1024];

    /* The old instance finishes its in-flight requests on SIGTERM. */
    retire(l, s->pid, SIGTERM, s->conf.stop_timeout_ms);
    s->pid = s->swap.pid;
    s->slot = s->swap.slot;
    snprintf(line, sizeof(line), "%s", s->swap.exec);
    snprintf(s->conf.exec, sizeof(s->conf.exec), "%s", line);
    line[strcspn(line, " \t")] = '\0';
    snprintf(s->conf.prog, sizeof(s->conf.prog), "%s", line);
    s->up_since_ms = launcher_realtime_ms();
    snprintf(msg, sizeof(msg), "%s swapped to pid %d (%s, slot %d)",
             s->conf.name, (int)s->pid, line, s->slot);
    log_info("%s", msg);
    admin_answer_ok(l, s->swap.admin_tag, msg);
    launcher_publish_state(l, s, "swapped");
    memset(&s->swap, 0, sizeof(s->swap));
}

/* A reply from the bus to one of our own requests. */
void swap_on_reply(struct launcher *l, bus_msg *m)
{
    for (int i = 0; i < l->nsvc; i++) {
        struct svc *s = &l->svcs[i];
        if (!s->swap.pid || s->swap.switch_tag != m->reply_to)
            continue;
        if (m->body_case == BULKHEAD__ENVELOPE__BODY_OK)
            swap_commit(l, s);
        else
            swap_fail(l, s, m->body_case == BULKHEAD__ENVELOPE__BODY_ERROR &&
                                    m->error->message
                                ? m->error->message
                                : "busd refused the switch");
        return;
    }
}
