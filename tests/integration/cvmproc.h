/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For the tests that watch a `cvm run` in the background while they act on
 * it (test_fault.c, test_safety.c, test_sandbox.c): its output, its end,
 * and what /proc says about it and its device processes.
 */
#ifndef CVM_TESTS_CVMPROC_H
#define CVM_TESTS_CVMPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

struct fproc {
	pid_t pid;
	int in;	   /* cvm's stdin (a pipe), or -1 */
	int fd[2]; /* its stdout, stderr, or -1 */
	char *buf[2];
	size_t len[2];
	bool reaped;
	int status;
	double t0;
};

double fproc_now(void);

/* Starts `cvm run <sandbox args> @args...` (NULL-terminated); stdin is a pipe. */
void fproc_start(struct fproc *p, const char *const *args);

/* Runs in the forked child before exec; on failure it prints why and _exits. */
typedef void (*fproc_hook_fn)(const void *arg);

/* fproc_start() with @hook(@arg) run in the child just before exec (NULL: none). */
void fproc_start_hook(struct fproc *p, const char *const *args, fproc_hook_fn hook,
		      const void *arg);
/* Collects output for up to @ms (less when some arrives); reaps cvm once it exits. */
void fproc_pump(struct fproc *p, int ms);
/* Waits up to @secs for @needle on stdout; false when it did not come (or cvm ended). */
bool fproc_wait(struct fproc *p, const char *needle, double secs);
/* Writes @s to cvm's stdin (the guest's COM1). */
void fproc_send(struct fproc *p, const char *s);
/*
 * Waits up to @secs for cvm's exit (then kills its process group) and its
 * last output; fills @r (runner_free() it) for RUN_FMT and friends.
 */
void fproc_finish(struct fproc *p, struct runner_result *r, double secs);
/* Kills what a failed test left running (a suite's .fini). */
void fproc_cleanup(void);

/* The children of @pid (at most @max). */
unsigned int proc_children(pid_t pid, pid_t *kids, unsigned int max);
/* The child of @pid whose name starts with @prefix, or -1. */
pid_t proc_child_named(pid_t pid, const char *prefix);
/* User + system CPU seconds of @pid (all its threads), or -1. */
double proc_cpu(pid_t pid);
/* Whether @pid is gone (not even a zombie), waiting up to @secs. */
bool proc_gone(pid_t pid, double secs);

/* The number in the last "@prefix<number>" line of @text, or -1. */
long last_number(const char *text, const char *prefix);

#endif
