/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The jail: the process-level sandbox a device child runs in (see
 * docs/sandbox.md). jail_fork() is fork() that returns in the child only once
 * the child is confined: its own user, mount, PID, IPC, UTS and network
 * namespaces, an empty read-only tmpfs as its root, no capabilities in any set,
 * no_new_privs, a parent-death signal, only the file descriptors it was given
 * and a tight RLIMIT_NOFILE. The seccomp filter is installed afterwards by the
 * caller (it is device specific and is not part of this module).
 */
#ifndef CVM_JAIL_JAIL_H
#define CVM_JAIL_JAIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

struct jail_config {
	/*
	 * The file descriptors the child keeps, at the same numbers; every
	 * other descriptor is closed. They must be open (else jail_fork()
	 * fails with -EBADF) and should not be directories or anything else
	 * that reaches the host's file system: an fd to a directory would let
	 * the child walk out of its empty root with openat().
	 */
	const int *keep_fds;
	unsigned int nr_keep_fds;
	/*
	 * RLIMIT_NOFILE (soft and hard) set after the other descriptors are
	 * closed; 0 means nr_keep_fds + 8. It must leave room for the fds the
	 * device creates itself (eventfds, epoll, sockets).
	 */
	unsigned int nofile_limit;
	/*
	 * Create a new user namespace (the other namespaces are then owned by
	 * it). The child maps its own effective uid and gid to 0 inside
	 * ("self-mapping": one line, setgroups denied), which any user may do,
	 * so the same code works for root and non-root callers: a non-root
	 * caller becomes root of a namespace that owns nothing on the host; a
	 * root caller stays uid 0 (kuid 0) but only holds capabilities in the
	 * new namespace, and loses even those before jail_fork() returns.
	 * false is only possible for a caller with CAP_SYS_ADMIN (root) and
	 * is meant for hosts that forbid user namespaces.
	 */
	bool new_userns;
	/* Name used in messages and set with prctl(PR_SET_NAME) (first 15 bytes). */
	const char *name;
};

/*
 * jail_fork() - fork a child that is jailed before it returns.
 * @c: what the child keeps; see struct jail_config.
 * @err: receives a message naming the failed step when the result is < 0.
 *
 * Returns the child's pid (as seen by the caller) in the parent, 0 in the
 * child, or -errno when the jail could not be set up (the child, if any, has
 * then exited and been reaped).
 *
 * The child is created with one clone(2) carrying CLONE_NEWUSER, CLONE_NEWNS,
 * CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS and CLONE_NEWNET, so it is PID 1 of
 * its PID namespace and is the caller's direct child (waitpid() works). Like
 * fork() it is a copy of the calling thread only; unlike fork() it runs no
 * pthread_atfork() handlers and does not reset malloc's or stdio's locks, so
 * the child side of jail_fork() calls neither, and the caller should call
 * jail_fork() before it starts threads, or not allocate in the child.
 *
 * In the child, in this order: parent-death signal SIGKILL (checked against a
 * pidfd of the parent to close the race), uid/gid maps, / made private
 * recursively, every fd outside @c->keep_fds closed (close_range), an empty
 * tmpfs (mode 0755, nosuid, nodev, noexec) mounted and pivot_root'ed into, the
 * old root detached and its directory removed, the new root remounted
 * read-only, chdir("/"), capability bounding and ambient sets cleared, all
 * capabilities dropped with libcap, no_new_privs, RLIMIT_NOFILE, the name.
 * A failing step is reported to the parent over a status pipe as one line
 * ("<errno> <step>") and the child _exit(127)s; on success it sends "ready",
 * closes the pipe and returns 0.
 *
 * The parent-death signal is tied to the thread that calls jail_fork(): if
 * that thread exits, the child is killed, even if the process lives on.
 */
pid_t jail_fork(const struct jail_config *c, struct cvm_errbuf *err);

/*
 * jail_check_support() - whether jail_fork() works on this host.
 *
 * Forks a throwaway jailed child (with a new user namespace), which exits at
 * once. Returns 0, or -errno with a message in @err saying what failed and
 * that --disable-sandbox runs devices without the jail.
 */
int jail_check_support(struct cvm_errbuf *err);

#endif
