// SPDX-License-Identifier: BSD-3-Clause
/*
 * A virtio device in its own process (docs/sandbox.md): the VMM keeps the
 * PCI function (configuration space, BAR placement, MSI-X table); the
 * device's transport registers, queues and backend run in a jailed child
 * with a seccomp filter, forked from the VMM with the state it had.
 *
 * Two SOCK_SEQPACKET socketpairs join them:
 *   ctl: the VMM asks (a register read or write a vCPU trapped), the device
 *        answers. One request at a time.
 *   evt: the device tells (a log line, "the ISR changed", "my filter trapped
 *        syscall N") or asks the VMM to open a connection for it, which the
 *        VMM answers on the same socket with the descriptor (SCM_RIGHTS).
 * Queue kicks (ioeventfds), interrupts (irqfds, MSI-X state in shared
 * memory) and guest RAM (the inherited shared mapping) never cross the VMM.
 */
#include "virtio/virtio_pci.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "jail/jail.h"
#include "jail/policy_prog.h"

#define VP_MAX_KEEP_FDS (8 + 2 * VIRTIO_PCI_MAX_QUEUES + MSIX_MAX_VECTORS)
#define VP_DEV_MAX_FDS 8	       /* descriptors a device may hand to its process */
#define VP_STOP_TIMEOUT_MS 5000	       /* for the device to flush and exit */
#define VP_CONNECT_TIMEOUT_MS 2000     /* for the VMM to answer a connection request */
#define VP_EXIT_SECCOMP (128 + SIGSYS) /* the device process's status after a trap */

enum { VP_REQ_READ = 1, VP_REQ_WRITE = 2 };

struct vp_req {
	uint8_t op, len;
	uint16_t pad;
	uint32_t pad2;
	uint64_t off;
	uint8_t data[8];
};

struct vp_rep {
	uint8_t data[8];
	int32_t status;
	uint32_t pad;
};

enum { VP_EVT_LOG = 1, VP_EVT_INTX, VP_EVT_SIGSYS, VP_EVT_CONNECT };

struct vp_evt {
	uint8_t op, level;
	uint16_t pad;
	uint32_t arg;
	char text[496];
};

struct vp_proc {
	pid_t pid;
	int ctl_fd, evt_fd;	  /* the VMM's ends */
	int child_ctl, child_evt; /* the device's ends */
	pthread_mutex_t lock;	  /* one proxied access at a time */
	const _Atomic bool *stopping;
	bool reaped;
	int status;	/* wait status once reaped */
	int sigsys_nr;	/* the syscall the filter trapped, or -1 */
	bool broken_io; /* the proxy failed once: do not wait on it again */
	struct policy_prog prog;
	struct cvm_logger child_log; /* the device's logger, in its process */
};

/* --- the device's process ------------------------------------------------------------------ */

/*
 * The only file-scope state of the library: the SIGSYS handler of a device
 * process has no other way to find its socket. It is set in the device's
 * process only (which runs one device), never in the VMM.
 */
static int sigsys_evt_fd = -1;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct vp_evt e = { .op = VP_EVT_SIGSYS, .arg = (uint32_t)si->si_syscall };

	(void)sig;
	(void)uc;
	if (send(sigsys_evt_fd, &e, offsetof(struct vp_evt, text), MSG_NOSIGNAL) < 0)
		_exit(VP_EXIT_SECCOMP);
	_exit(VP_EXIT_SECCOMP);
}

static void child_log(void *opaque, enum cvm_log_level level, const char *msg)
{
	struct vp_proc *p = opaque;
	struct vp_evt e = { .op = VP_EVT_LOG, .level = (uint8_t)level };
	size_t n = strnlen(msg, sizeof(e.text) - 1);

	memcpy(e.text, msg, n);
	/* Never block the device on its logging: a full socket drops the line. */
	send(p->child_evt, &e, offsetof(struct vp_evt, text) + n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void vp_child_intx(struct virtio_pci *vp)
{
	struct vp_evt e = { .op = VP_EVT_INTX };

	/* Dropped only when events are queued already: each makes the VMM re-read the state. */
	send(vp->proc->child_evt, &e, offsetof(struct vp_evt, text), MSG_NOSIGNAL | MSG_DONTWAIT);
}

int vp_child_ctl(struct virtio_pci *vp)
{
	struct vp_req r;
	struct vp_rep rep = { .status = 0 };
	ssize_t n = recv(vp->proc->child_ctl, &r, sizeof(r), 0);

	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n != sizeof(r) || !r.len || r.len > sizeof(r.data)) {
		rep.status = -EINVAL;
	} else if (r.op == VP_REQ_READ) {
		vp_regs_read(vp, r.off, rep.data, r.len);
	} else if (r.op == VP_REQ_WRITE) {
		vp_regs_write(vp, r.off, r.data, r.len);
	} else {
		rep.status = -EINVAL;
	}
	return send(vp->proc->child_ctl, &rep, sizeof(rep), MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static void __attribute__((noreturn)) child_main(struct virtio_pci *vp)
{
	struct vp_proc *p = vp->proc;
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = VP_CTL_TAG };
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP };
	int rc;

	vp->in_child = true;
	p->child_log = *vp->log;
	p->child_log.fn = child_log;
	p->child_log.opaque = p;
	vp->log = &p->child_log;
	sigsys_evt_fd = p->child_evt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	/* The VMM stops the device in order; a terminal's ^C is for the VMM. */
	for (unsigned int i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	if (epoll_ctl(vp->ep_fd, EPOLL_CTL_ADD, p->child_ctl, &ev)) {
		log_err(vp->log, "%s: epoll_ctl: %s", vp->cfg.name, strerror(errno));
		_exit(1);
	}
	rc = policy_prog_install(&p->prog);
	if (rc) {
		log_err(vp->log, "%s: cannot install the seccomp filter: %s", vp->cfg.name,
			strerror(-rc));
		_exit(1);
	}
	vp_serve(vp);
	pthread_mutex_lock(&vp->lock);
	if (vp->cfg.ops->shutdown)
		vp->cfg.ops->shutdown(vp->cfg.opaque);
	pthread_mutex_unlock(&vp->lock);
	_exit(0);
}

/* Ask the VMM for a connection (device process side). */
static int child_connect(struct virtio_pci *vp, uint32_t arg)
{
	struct vp_proc *p = vp->proc;
	struct vp_evt e = { .op = VP_EVT_CONNECT, .arg = arg };
	int32_t status = -EIO;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &status, .iov_len = sizeof(status) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd = { .fd = p->child_evt, .events = POLLIN };
	struct cmsghdr *c;
	int fd = -1;

	if (send(p->child_evt, &e, offsetof(struct vp_evt, text), MSG_NOSIGNAL) < 0)
		return -errno;
	if (poll(&pfd, 1, VP_CONNECT_TIMEOUT_MS) <= 0)
		return -ETIMEDOUT;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	if (recvmsg(p->child_evt, &m, MSG_CMSG_CLOEXEC) != sizeof(status))
		return -EIO;
	c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (status < 0) {
		if (fd >= 0)
			close(fd);
		return status;
	}
	return fd >= 0 ? fd : -EIO;
}

int virtio_pci_broker_connect(struct virtio_pci *vp, uint32_t arg)
{
	if (vp->in_child)
		return child_connect(vp, arg);
	if (!vp->cfg.ops->broker_connect)
		return -ENOSYS;
	return vp->cfg.ops->broker_connect(vp->cfg.opaque, arg);
}

/* --- the VMM's side ------------------------------------------------------------------------ */

void vp_proxy_access(struct virtio_pci *vp, bool write, uint64_t off, uint8_t *data, uint32_t len)
{
	struct vp_proc *p = vp->proc;
	struct vp_req r = { .op = write ? VP_REQ_WRITE : VP_REQ_READ,
			    .len = (uint8_t)len,
			    .off = off };
	struct vp_rep rep;
	bool ok = false;

	if (len == 0 || len > sizeof(r.data))
		goto out;
	if (write)
		memcpy(r.data, data, len);
	pthread_mutex_lock(&p->lock);
	if (!p->broken_io && send(p->ctl_fd, &r, sizeof(r), MSG_NOSIGNAL) == sizeof(r)) {
		for (;;) {
			ssize_t n = recv(p->ctl_fd, &rep, sizeof(rep), 0);

			if (n < 0 && errno == EINTR && !(p->stopping && atomic_load(p->stopping)))
				continue;
			ok = n == sizeof(rep) && rep.status == 0;
			if (n <= 0)
				p->broken_io =
					true; /* gone, or the VM stops: answers would mismatch */
			break;
		}
	} else {
		p->broken_io = true;
	}
	pthread_mutex_unlock(&p->lock);
out:
	if (!write)
		memset(data, 0xff, len); /* what a missing device reads */
	if (ok && !write)
		memcpy(data, rep.data, len);
}

static unsigned int keep_fds(const struct virtio_pci *vp, int *fds)
{
	unsigned int n = 0;

	fds[n++] = vp->proc->child_ctl;
	fds[n++] = vp->proc->child_evt;
	fds[n++] = vp->ep_fd;
	fds[n++] = vp->stop_efd;
	for (unsigned int i = 0; i < vp->cfg.nr_queues; i++)
		fds[n++] = vp->q[i].kick_efd;
	for (unsigned int i = 0; i < vp->msix.nr; i++)
		fds[n++] = vp->msix.v[i].efd;
	if (vp->cfg.ops->keep_fds)
		n += vp->cfg.ops->keep_fds(vp->cfg.opaque, fds + n, VP_DEV_MAX_FDS);
#if defined(__SANITIZE_ADDRESS__)
	/* A sanitizer build: the device's reports must reach the test logs. */
	if (fcntl(STDERR_FILENO, F_GETFD) >= 0)
		fds[n++] = STDERR_FILENO;
#endif
	return n;
}

static void proc_free(struct virtio_pci *vp)
{
	struct vp_proc *p = vp->proc;

	if (!p)
		return;
	int fds[] = { p->ctl_fd, p->evt_fd, p->child_ctl, p->child_evt };

	for (unsigned int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	policy_prog_free(&p->prog);
	pthread_mutex_destroy(&p->lock);
	free(p);
	vp->proc = NULL;
}

int vp_proc_start(struct virtio_pci *vp, const struct vp_sandbox *sb, struct cvm_errbuf *err)
{
	int fds[VP_MAX_KEEP_FDS + VP_DEV_MAX_FDS], ctl[2], evt[2];
	struct vp_proc *p;
	pid_t pid;
	int rc;

	if (!vp->cfg.policy)
		return errf(err, -EINVAL, "%s: no seccomp policy for this device", vp->cfg.name);
	p = calloc(1, sizeof(*p));
	if (!p)
		return errf(err, -ENOMEM, "%s: out of memory", vp->cfg.name);
	*p = (struct vp_proc){ .ctl_fd = -1,
			       .evt_fd = -1,
			       .child_ctl = -1,
			       .child_evt = -1,
			       .stopping = sb->stopping,
			       .sigsys_nr = -1 };
	pthread_mutex_init(&p->lock, NULL);
	vp->proc = p;
	rc = policy_prog_file(&p->prog, sb->policy_dir, vp->cfg.policy, SCMP_ACT_TRAP, err);
	if (rc)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) ||
	    (p->ctl_fd = ctl[0], p->child_ctl = ctl[1],
	     socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, evt))) {
		rc = errf(err, -errno, "%s: socketpair: %s", vp->cfg.name, strerror(errno));
		goto fail;
	}
	p->evt_fd = evt[0];
	p->child_evt = evt[1];

	struct jail_config jc = {
		.keep_fds = fds,
		.nr_keep_fds = keep_fds(vp, fds),
		.new_userns = sb->new_userns,
		.name = vp->cfg.name,
	};
	/* Room for what the device opens as it runs (vsock: its connections). */
	jc.nofile_limit = jc.nr_keep_fds + 16 + vp->cfg.max_fds;
	pid = jail_fork(&jc, err);
	if (pid == 0)
		child_main(vp);
	if (pid < 0) {
		rc = pid;
		goto fail;
	}
	p->pid = pid;
	close(p->child_ctl);
	close(p->child_evt);
	p->child_ctl = p->child_evt = -1;
	return 0;
fail:
	proc_free(vp);
	return rc;
}

int virtio_pci_proc_fd(const struct virtio_pci *vp)
{
	return vp->proc && !vp->proc->reaped ? vp->proc->evt_fd : -1;
}

int virtio_pci_proc_pid(const struct virtio_pci *vp)
{
	return vp->proc && !vp->proc->reaped ? vp->proc->pid : 0;
}

static void reap(struct vp_proc *p)
{
	while (!p->reaped) {
		if (waitpid(p->pid, &p->status, 0) == p->pid || errno != EINTR)
			p->reaped = true;
	}
}

/* Why the device's process ended, into @err (-EPIPE), or 0 for a clean exit. */
static int describe_end(struct virtio_pci *vp, struct cvm_errbuf *err)
{
	struct vp_proc *p = vp->proc;
	int st = p->status;

	if (p->sigsys_nr >= 0) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, p->sigsys_nr);
		int rc = errf(err, -EPERM,
			      "%s: the device process (pid %d) was killed by its seccomp filter: "
			      "syscall %d (%s) is not in its policy (%s_device.policy)",
			      vp->cfg.name, (int)p->pid, p->sigsys_nr, name ? name : "unknown",
			      vp->cfg.policy);

		free(name);
		return rc;
	}
	if (WIFSIGNALED(st))
		return errf(err, -EPIPE,
			    "%s: the device process (pid %d) was killed by signal %d (%s)",
			    vp->cfg.name, (int)p->pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
	if (WIFEXITED(st) && WEXITSTATUS(st))
		return errf(err, -EPIPE, "%s: the device process (pid %d) exited with status %d",
			    vp->cfg.name, (int)p->pid, WEXITSTATUS(st));
	return 0;
}

static void answer_connect(struct virtio_pci *vp, uint32_t arg)
{
	int fd = vp->cfg.ops->broker_connect ? vp->cfg.ops->broker_connect(vp->cfg.opaque, arg) :
					       -ENOSYS;
	int32_t status = fd < 0 ? fd : 0;
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &status, .iov_len = sizeof(status) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(vp->proc->evt_fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug(vp->log, "%s: cannot answer a connection request: %s", vp->cfg.name,
			  strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Handle what the device sent; 1 when its process is gone (reaped). */
static int drain_events(struct virtio_pci *vp)
{
	struct vp_proc *p = vp->proc;

	for (;;) {
		struct vp_evt e;
		ssize_t n = recv(p->evt_fd, &e, sizeof(e) - 1, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			reap(p);
			return 1;
		}
		if ((size_t)n < offsetof(struct vp_evt, text))
			continue;
		switch (e.op) {
		case VP_EVT_LOG:
			e.text[n - offsetof(struct vp_evt, text)] = 0;
			cvm_logf(vp->log,
				 e.level <= CVM_LOG_DEBUG ? (enum cvm_log_level)e.level :
							    CVM_LOG_DEBUG,
				 "%s", e.text);
			break;
		case VP_EVT_INTX:
			vp_intx_sync(vp);
			break;
		case VP_EVT_SIGSYS:
			p->sigsys_nr = (int)(e.arg & 0xffff);
			break;
		case VP_EVT_CONNECT:
			answer_connect(vp, e.arg);
			break;
		}
	}
}

int virtio_pci_proc_event(struct virtio_pci *vp, struct cvm_errbuf *err)
{
	if (!vp->proc || vp->proc->reaped || !drain_events(vp))
		return 0;
	int rc = describe_end(vp, err);

	return rc ? rc :
		    errf(err, -EPIPE, "%s: the device process (pid %d) exited", vp->cfg.name,
			 (int)vp->proc->pid);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

void vp_proc_stop(struct virtio_pci *vp)
{
	struct vp_proc *p = vp->proc;
	struct cvm_errbuf err = { "" };
	struct timespec t0;
	uint64_t one = 1;
	bool was_reaped = p->reaped;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!p->reaped && write(vp->stop_efd, &one, sizeof(one)) < 0)
		log_warn(vp->log, "%s: cannot stop the device process: %s", vp->cfg.name,
			 strerror(errno));
	/* Let it flush and exit, relaying its last words; then make sure. */
	while (!p->reaped) {
		long left = VP_STOP_TIMEOUT_MS - ms_since(&t0);
		struct pollfd pfd = { .fd = p->evt_fd, .events = POLLIN };

		if (left <= 0) {
			log_warn(vp->log,
				 "%s: the device process (pid %d) did not stop in %d ms; "
				 "killing it",
				 vp->cfg.name, (int)p->pid, VP_STOP_TIMEOUT_MS);
			kill(p->pid, SIGKILL);
			reap(p);
			break;
		}
		if (poll(&pfd, 1, (int)left) > 0)
			drain_events(vp);
	}
	if (!was_reaped && describe_end(vp, &err))
		log_err(vp->log, "%s", err.msg);
	proc_free(vp);
}
