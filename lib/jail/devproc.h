/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A device process: a device model that runs in a jailed (jail.h), seccomp-
 * filtered (policy_prog.h) child of the VMM, and the two sockets that join
 * them (docs/sandbox.md):
 *
 *   ctl  the VMM asks, the device answers: fixed-size requests (a register
 *        access a vCPU trapped, input bytes for a UART...), one at a time.
 *   evt  the device tells: a log line, "my interrupt changed", "my filter
 *        trapped syscall N", or asks the VMM to open a connection, which the
 *        VMM answers on the same socket with the descriptor (SCM_RIGHTS).
 *
 * The device's own loop (virtio: vp_serve(); the UARTs: serial_proc.c) runs
 * in the child and calls devproc_child_serve() when the ctl socket is
 * readable. This module knows nothing of the device's requests and events
 * beyond the generic ones (log, SIGSYS, connect).
 */
#ifndef CVM_JAIL_DEVPROC_H
#define CVM_JAIL_DEVPROC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "jail/policy_prog.h"
#include "util/err.h"
#include "util/log.h"

#define DEVPROC_DATA 16	 /* payload bytes of a request or an answer */
#define DEVPROC_TEXT 480 /* longest log line relayed */
#define DEVPROC_MAX_FDS 128

#define DEVPROC_F_POSTED 1 /* no answer: the VMM does not wait */

struct devproc_req {
	uint8_t op, len; /* op: the device's own; len: payload bytes */
	uint16_t idx;	 /* the device's own: a port, a queue... */
	uint32_t flags;	 /* DEVPROC_F_* */
	uint64_t off;
	uint8_t data[DEVPROC_DATA];
};

struct devproc_rep {
	int32_t status; /* 0, or -errno */
	uint32_t val;	/* the device's own */
	uint8_t data[DEVPROC_DATA];
};

/* Events 0..15 belong to this module; devices number theirs from DEVPROC_EVT_DEVICE. */
enum {
	DEVPROC_EVT_LOG = 1,
	DEVPROC_EVT_SIGSYS,
	DEVPROC_EVT_CONNECT,
	DEVPROC_EVT_CALL,
	DEVPROC_EVT_DEVICE = 16
};

struct devproc_evt {
	uint8_t op, level; /* level: the log level of a LOG */
	uint16_t idx;
	uint32_t arg;
	char text[DEVPROC_TEXT];
};

struct devproc;

struct devproc_ops {
	/* Child: run the device until it is told to stop; then flush. Must not return early. */
	void (*child_run)(void *opaque, struct devproc *dp);
	/* Child: answer one request (fill @rep; status -EINVAL for garbage). */
	void (*child_request)(void *opaque, const struct devproc_req *req, struct devproc_rep *rep);
	/* VMM: a device event arrived (op >= DEVPROC_EVT_DEVICE). */
	void (*event)(void *opaque, const struct devproc_evt *e);
	/* VMM: open a connection the device asked for (arg): an fd or -errno. NULL: -ENOSYS. */
	int (*connect)(void *opaque, uint32_t arg);
	/*
	 * VMM: do what the device asked with devproc_child_call(): @fd is the
	 * descriptor it passed (-1: none; closed after the call returns, so
	 * dup it or map it to keep it). Returns 0 or -errno, a value in *@out.
	 * NULL: -ENOSYS.
	 */
	int (*call)(void *opaque, uint16_t op, uint32_t arg, uint64_t val, int fd, uint64_t *out);
};

struct devproc_config {
	const char *name;   /* "virtio-blk vda", "serial": messages, process name */
	const char *policy; /* <policy_dir>/<policy>_device.policy */
	const char *policy_dir;
	/* A custom device's own rules instead (policy_prog_custom()): text or a file. */
	const char *policy_text, *policy_file;
	bool new_userns;     /* false: only for hosts without user namespaces */
	const int *keep_fds; /* besides the sockets: what the device uses */
	unsigned int nr_keep_fds;
	unsigned int extra_fds;	      /* descriptors it opens as it runs */
	int stop_efd;		      /* written to stop it (the device's loop watches it) */
	bool interrupt_stop;	      /* also signal it (SIGUSR1) to break a blocking write */
	const _Atomic bool *stopping; /* set while the VM stops: a waiting vCPU gives up */
	const struct cvm_logger *log; /* the VMM's */
	const struct devproc_ops *ops;
	void *opaque;
	/*
	 * VMM: the process ended abnormally (@msg says how) and devproc_events()
	 * did not report it: it died as the VM stopped, or did not stop in time.
	 */
	void (*failed)(void *ctx, int rc, const char *msg);
	void *failed_ctx;
};

struct devproc {
	struct devproc_config cfg;
	pid_t pid;
	int ctl_fd, evt_fd;	  /* the VMM's ends */
	int child_ctl, child_evt; /* the device's ends (closed in the VMM after the fork) */
	pthread_mutex_t lock;	  /* VMM: one request at a time */
	bool reaped;
	int status;	/* wait status once reaped */
	int sigsys_nr;	/* the syscall its filter trapped, or -1 */
	bool broken_io; /* a request failed: the socket may hold a stale answer */
	struct policy_prog prog;
	struct cvm_logger child_log; /* in the child: relays to the VMM */
	bool in_child;
};

/*
 * devproc_start() - fork and jail the device process and return in the VMM
 * (*@out); the child runs ops->child_run() under its filter and _exit()s.
 * Call before any vCPU thread runs, from a thread that outlives the device.
 * Returns 0 or -errno with a message in @err.
 */
int devproc_start(struct devproc **out, const struct devproc_config *c, struct cvm_errbuf *err);

/*
 * devproc_call() - VMM: send @req and wait for the answer. Returns 0 or
 * -errno (the device is gone, broke the protocol, or the VM stops); after
 * an error every later call fails at once.
 */
int devproc_call(struct devproc *dp, const struct devproc_req *req, struct devproc_rep *rep);

/*
 * devproc_post() - VMM: send @req without waiting (a register write: the
 * device handles requests in order, so a later call sees its effect).
 * Returns 0 or -errno as devproc_call().
 */
int devproc_post(struct devproc *dp, const struct devproc_req *req);

/* VMM: the descriptor to watch for events (-1 once the process is reaped). */
int devproc_event_fd(const struct devproc *dp);
/*
 * devproc_events() - VMM: handle what arrived; 0, or -errno with @err
 * saying how the process ended (it was reaped: the VM must stop).
 */
int devproc_events(struct devproc *dp, struct cvm_errbuf *err);

/*
 * devproc_stop() - VMM: tell it to stop (stop_efd), relay its last words,
 * wait up to 5 s, then SIGKILL; reap it; log how it ended if it failed;
 * free @dp. NULL is fine.
 */
void devproc_stop(struct devproc *dp);

/* Child: the device's logger (relays to the VMM). */
const struct cvm_logger *devproc_child_logger(struct devproc *dp);
/* Child: the ctl socket to watch; serve one request when it is readable (<0: the VMM is gone). */
int devproc_child_ctl_fd(const struct devproc *dp);
int devproc_child_serve(struct devproc *dp);
/*
 * Child: serve the requests already queued, without waiting: a stopping
 * device calls it so that writes the VMM posted before the stop (a UART's
 * last bytes) take effect.
 */
void devproc_child_drain(struct devproc *dp);
/* Child: send an event without blocking (dropped when the socket is full). */
void devproc_child_event(struct devproc *dp, uint8_t op, uint16_t idx, uint32_t arg);
/* The same with @len (<= DEVPROC_TEXT) bytes of payload in text[]; blocking: it must arrive. */
int devproc_child_event_data(struct devproc *dp, uint8_t op, uint16_t idx, uint32_t arg,
			     const void *data, size_t len);
/* Child: have the VMM open a connection (ops->connect(@arg)); an fd or -errno. */
int devproc_child_connect(struct devproc *dp, uint32_t arg);
/*
 * Child: have the VMM run ops->call(@op, @arg, @val) with @fd (-1: none)
 * passed to it; wait for the answer. Returns its status (0 or -errno) and
 * the value in *@out (may be NULL); -ETIMEDOUT when the VMM did not answer.
 */
int devproc_child_call(struct devproc *dp, uint16_t op, uint32_t arg, uint64_t val, int fd,
		       uint64_t *out);

#endif
