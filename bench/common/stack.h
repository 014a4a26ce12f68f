/* Helpers shared by the benchmarks that drive a whole bulkhead stack under
 * a throw-away root from shell command lines (bench/rpc, bench/dvm). */
#ifndef BENCH_COMMON_STACK_H
#define BENCH_COMMON_STACK_H

#include <stddef.h>

/* CLOCK_MONOTONIC in milliseconds. */
double bench_now_ms(void);

/* Sorts V and returns its median (the lower one for an even N). */
double bench_median(double *v, int n);

/* The root and binary directory bench_sh() uses; the strings must outlive
 * every call (the benchmarks' static buffers). */
void bench_sh_init(const char *bin, const char *root);

/* Runs a shell command line (printf format) in which BH is a function
 * running `bulkhead --root ROOT`; returns its exit status, -1 if killed. */
int bench_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Makes the throw-away root from PATTERN ("/tmp/bh.benchNAMEXXXXXX") in
 * the ROOT buffer given to bench_sh_init() (LEN bytes) and lays it out
 * with prepare-root from TOP, keeping busd, vm-manager, storage-manager,
 * rpc-router and policyd.  Returns 0, or -1 with the failed step in *WHAT. */
int bench_stack_prepare(char *root, size_t len, const char *pattern,
                        const char *top, const char **what);

/* Starts the launcher on the root (pid in ROOT/launcher.pid) and waits up
 * to 20 s for every service to be up.  0, or -1. */
int bench_stack_start(void);

/* Stops the launcher, kills the qubes, unmounts what is left under the
 * root and removes it.  Harmless when nothing was made. */
void bench_stack_teardown(void);

#endif
