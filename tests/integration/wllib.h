/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the virtio-wayland integration tests (test_wl*.c) share: weston on a
 * private XDG_RUNTIME_DIR in its own process group, started and stopped
 * (the wl suite's .fini is weston_stop()); checks that it still serves a
 * host client; guest runs against it; helpers for the fake compositors.
 */
#ifndef CVM_TEST_WLLIB_H
#define CVM_TEST_WLLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runner.h"

#define WL_TIMEOUT 90

extern char *wdir;   /* weston's XDG_RUNTIME_DIR (or a fake compositor's directory) */
extern char *wsock;  /* its socket */
extern char *wlog;   /* its stdout + stderr */
extern pid_t weston; /* also its process group; -1: none */
extern int weston_status;
extern bool weston_reaped;

/* The end of weston's log (a static buffer, for failure messages). */
const char *weston_log(void);
bool weston_alive(void);
/*
 * Starts weston (headless; kiosk shell, or with @desktop desktop-shell,
 * pixman, 320x240 and --debug) with XDG_RUNTIME_DIR = a fresh 0700
 * directory and socket @name there; waits (bounded) until it accepts
 * clients. Skips the test when weston is not installed.
 */
void weston_start_shell(const char *name, bool desktop);
void weston_start(const char *name);
/* Stops weston (and a cvm the test left), removes its directory. */
void weston_stop(void);
/* Weston still runs and still serves a client that is not the guest. */
void assert_weston_fine(const struct runner_result *r);
void run_wl(struct runner_result *r, const char *test, const char *const *extra);
/* The guest printed "WL global <name> <iface> <version>" for @iface. */
bool has_global(const char *out, const char *iface);
/* Runs guest test @test against a fresh weston through --wayland-sock. */
void wl_guest_test_shell(const char *test, struct runner_result *r, bool desktop);
void wl_guest_test(const char *test, struct runner_result *r);

/* The fake compositors: wdir, wsock = wdir/@name and a socket listening there. */
int fake_listen(const char *name);
int fake_wait(int fd, int ms);
/* Reads @fd until EOF (or @stop seen), at most @size - 1 bytes, for up to 60 s. */
void fake_read(int fd, char *buf, size_t size, const char *stop);

#endif
