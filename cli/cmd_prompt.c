/* bulkhead prompt [--once] [--no-tty]: the terminal prompt agent for RPC
 * policy `ask` (DESIGN.md §7).  It listens to the bus events; for each
 * AskRequest from rpc-router it shows who asks for what and which targets
 * the policy allows, then reads one line:
 *
 *   y / yes          allow, to the default target (or the only one)
 *   TARGET           allow, to that target (one of those offered)
 *   anything else    deny (also an empty line, EOF, or no answer in time)
 *
 * Input that arrives in the first second after the question is thrown
 * away (typed-ahead or a reflexive Enter cannot approve); on a terminal
 * the pending input is flushed too.  The answer goes to rpc-router as
 * AskAnswer; no answer before the request's timeout = deny (rpc-router
 * denies on its own too).  --once: exit after one question (tests and
 * scripts); --no-tty: read answers from any stdin without touching
 * terminal settings.
 *
 * Exit: 0; 2 usage; 3 the system is not running. */
#include "cmd_decls.h"
#include "commands.h"

#include "busctl.h"
#include "lib/names.h"
#include "prompt_gui.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define GUARD_MS 1000
/* Answer this much before rpc-router's own deadline. */
#define MARGIN_MS 200

static volatile sig_atomic_t interrupted;
/* --gui: the display of the dialog (prompt_gui.c); NULL: the terminal. */
static const char *gui_display;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

static void usage(FILE *out)
{
    fprintf(out, "usage: bulkhead prompt [--once] [--no-tty] "
                 "[--gui [--display D]]\n"
                 "Answers RPC policy 'ask' questions on this terminal: "
                 "y = default target, a target name, anything else = deny.\n"
                 "Keystrokes in the first second after a question are "
                 "ignored; no answer in time = deny.\n"
                 "--gui: gui-daemon's dialog on the display (--display, "
                 "$DISPLAY or gui-daemon.conf) instead.\n");
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Names and arguments come from a qube via rpc-router, which validated
 * them; still, print only safe characters. */
static void put_safe(const char *s)
{
    for (; s && *s; s++)
        putchar((*s >= 0x20 && *s < 0x7f) ? *s : '?');
}

static void show(const Bulkhead__AskRequest *a)
{
    printf("\n[ask %llu] ", (unsigned long long)a->ask_id);
    put_safe(a->source);
    printf(" wants to call ");
    put_safe(a->service);
    if (a->argument && *a->argument) {
        putchar('+');
        put_safe(a->argument);
    }
    printf("\n  argument: ");
    put_safe(a->argument && *a->argument ? a->argument : "(none)");
    printf("\n  allowed targets:");
    for (size_t i = 0; i < a->n_targets; i++) {
        putchar(' ');
        put_safe(a->targets[i]);
    }
    printf("\n  default target: ");
    put_safe(a->default_target && *a->default_target ? a->default_target
                                                     : "(none)");
    printf("\nAllow? [y = default / TARGET / N] (%u s): ",
           a->timeout_ms / 1000);
    fflush(stdout);
}

/* Throws away whatever stdin delivers until DEADLINE. */
static void guard(int fd, uint64_t deadline, bool tty)
{
    char buf[256];
    uint64_t t;

    while ((t = now_ms()) < deadline && !interrupted) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(deadline - t)) > 0 &&
            read(fd, buf, sizeof(buf)) <= 0) {
            /* EOF: nothing more will come; wait the guard out anyway. */
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (tty)
        tcflush(fd, TCIFLUSH);
}

/* Reads one line until DEADLINE: 1 got one, 0 EOF or timeout. */
static int read_line(int fd, char *line, size_t cap, uint64_t deadline)
{
    size_t n = 0;
    uint64_t t;

    while ((t = now_ms()) < deadline && !interrupted) {
        struct pollfd p = {fd, POLLIN, 0};
        char c;
        if (poll(&p, 1, (int)(deadline - t)) <= 0)
            continue;
        if (read(fd, &c, 1) != 1)
            return 0;
        if (c == '\n') {
            line[n] = 0;
            return 1;
        }
        if (n + 1 < cap)
            line[n++] = c;
    }
    return 0;
}

/* The line -> (allow, target). */
static bool decide(const Bulkhead__AskRequest *a, const char *line,
                   const char **target)
{
    if (!strcmp(line, "y") || !strcmp(line, "Y") || !strcmp(line, "yes")) {
        if (a->default_target && *a->default_target)
            *target = a->default_target;
        else if (a->n_targets == 1)
            *target = a->targets[0];
        else
            return false; /* several targets and no default: name one */
        return true;
    }
    for (size_t i = 0; i < a->n_targets; i++)
        if (!strcmp(line, a->targets[i]))
            return *target = a->targets[i], true;
    return false;
}

static void answer(const Bulkhead__AskRequest *a, bool allow,
                   const char *target)
{
    bus_msg req = BULKHEAD__ENVELOPE__INIT, *reply;
    Bulkhead__AskAnswer ans = BULKHEAD__ASK_ANSWER__INIT;

    ans.ask_id = a->ask_id;
    ans.allow = allow;
    ans.target = (char *)(target ? target : "");
    req.body_case = BULKHEAD__ENVELOPE__BODY_ASK_ANSWER;
    req.ask_answer = &ans;
    if (cli_admin_call("prompt", "rpc-router", &req, &reply,
                       CLI_CALL_TIMEOUT_MS) == 0)
        bus_free(reply);
}

static void handle(const Bulkhead__AskRequest *a, bool tty)
{
    uint64_t start = now_ms(), deadline = start + a->timeout_ms;
    const char *target = NULL;
    char line[128];
    bool allow = false;

    if (a->timeout_ms > MARGIN_MS)
        deadline -= MARGIN_MS;
    show(a);
    if (gui_display)
        allow = prompt_gui_ask(a, gui_display, (unsigned)(deadline - start),
                               &target);
    else {
        guard(STDIN_FILENO, start + GUARD_MS, tty);
        if (read_line(STDIN_FILENO, line, sizeof(line), deadline) == 1)
            allow = decide(a, line, &target);
        else
            printf("\n(no answer)");
    }
    printf("%s\n", allow ? "-> allowed" : "-> denied");
    if (allow) {
        printf("  target: ");
        put_safe(target);
        printf("\n");
    }
    fflush(stdout);
    answer(a, allow, target);
}

int cmd_prompt(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    bool once = false, gui = false, tty;
    const char *display = NULL;
    struct bus *b;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout), 0;
        if (!strcmp(argv[i], "--once"))
            once = true;
        else if (!strcmp(argv[i], "--gui"))
            gui = true;
        else if (!strcmp(argv[i], "--display") && i + 1 < argc)
            display = argv[++i];
        else if (strcmp(argv[i], "--no-tty"))
            return usage(stderr), EXIT_USAGE;
    }
    if (gui && !(gui_display = prompt_gui_display(display))) {
        fprintf(stderr, "bulkhead: prompt: --gui: no display (--display, "
                        "DISPLAY or gui-daemon.conf `display`)\n");
        return EXIT_USAGE;
    }
    tty = isatty(STDIN_FILENO);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--no-tty"))
            tty = false;
    if (!(b = bus_open_events())) {
        fprintf(stderr, "bulkhead: prompt: system not running (no bus: %s)\n",
                strerror(errno));
        return EXIT_NOT_RUNNING;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("waiting for RPC questions (Ctrl-C to stop)\n");
    fflush(stdout);
    while (!interrupted) {
        struct pollfd p = {bus_fd(b), POLLIN, 0};
        bus_msg *m;
        bool done = false;

        if (poll(&p, 1, 500) < 0 && errno != EINTR)
            break;
        while (!interrupted && bus_recv(b, &m) > 0) {
            if (m->body_case == BULKHEAD__ENVELOPE__BODY_ASK_REQUEST &&
                !strcmp(m->src, "rpc-router")) {
                handle(m->ask_request, tty);
                done = once;
            }
            bus_free(m);
            if (done)
                break;
        }
        if (done)
            break;
    }
    bus_close(b);
    return 0;
}
