/* The syscalls every bulkhead service needs once it is connected to the
 * bus: glibc + nanomsg (ipc://, its worker thread, its reconnects) +
 * protobuf-c + lib/log.  A service's own table lists only its extras.
 * Keep it small: everything here is reachable from every service. */
#include "sandbox.h"

#include <errno.h>
#include <stddef.h>

const char *const sandbox_base_syscalls[] = {
    /* Memory: malloc, protobuf-c unpack buffers */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise",

    /* Threads and locks: nanomsg's worker thread is already running when
     * the filter goes in (bus_open comes first); no clone here. */
    "futex", "set_robust_list", "rseq", "sched_yield", "gettid", "getpid",

    /* Signals: SIGTERM handling, abort() */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "tgkill",
    "restart_syscall",

    /* Clocks and sleeping: deadlines are CLOCK_MONOTONIC ms */
    "clock_gettime", "clock_getres", "gettimeofday", "clock_nanosleep",
    "nanosleep",

    /* Event loop: the service's poll() on bus_fd(), nanomsg's epoll and
     * eventfd-based signalling between its threads */
    "poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_ctl",
    "epoll_create1", "eventfd2", "pipe2",

    /* Plain I/O on descriptors already open (stderr logging, the bus) */
    "read", "write", "readv", "writev", "close", "fcntl", "fstat",
    "newfstatat", "lseek", "getrandom",

    /* The bus socket: nanomsg ipc:// reconnects by path when busd
     * restarts, so it creates fresh sockets; socket(2) is limited to
     * AF_UNIX by an argument rule (see sandbox.c). */
    "socket", "connect", "sendmsg", "recvmsg", "sendto", "recvfrom",
    "shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername",

    /* Leaving */
    "exit", "exit_group",

#ifdef __SANITIZE_ADDRESS__
    /* ASan/UBSan builds only (build-asan/): the sanitizer runtime's own
     * calls (alternate signal stack, reports, shadow memory queries). */
    "sigaltstack", "prctl", "readlink", "sched_getaffinity",
    "pread64",
#endif
    NULL,
};

/* Harmless probes: glibc opens files lazily (locale, /etc/localtime for a
 * timestamp); failing those with EACCES is better than a kill.  A policy
 * that allows openat outright overrides this. */
const struct sandbox_errno sandbox_base_errnos[] = {
    {"openat", EACCES},
    {"open", EACCES},
    {"sched_getaffinity", ENOSYS},
    {NULL, 0},
};

#ifdef __SANITIZE_ADDRESS__
/* LeakSanitizer's exit-time check clones a tracer thread and ptrace()s the
 * process: impossible (and rightly killed) under a seccomp filter.  In
 * ASan builds, every program that links the sandbox runs without it; ASan
 * and UBSan proper stay on. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "detect_leaks=0"; }
#endif
