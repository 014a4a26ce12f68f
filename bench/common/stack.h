/* Helpers shared by the benchmarks that drive a whole bulkhead stack under
 * a throw-away root from shell command lines (bench/rpc, bench/dvm). */
#ifndef BENCH_COMMON_STACK_H
#define BENCH_COMMON_STACK_H

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

#endif
