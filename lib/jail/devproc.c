// SPDX-License-Identifier: BSD-3-Clause
/* A device model in its own jailed, seccomp-filtered process. See devproc.h. */
#include "jail/devproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "jail/jail.h"

#define STOP_TIMEOUT_MS 5000	    /* for the device to flush and exit */
#define CONNECT_TIMEOUT_MS 2000	    /* for the VMM to answer a connection request */
#define EXIT_SECCOMP (128 + SIGSYS) /* the device process's status after a trap */
#define EVT_HDR offsetof(struct devproc_evt, text)

/* --- the device's process ------------------------------------------------------------------ */

/*
 * The only file-scope state of the library: the SIGSYS handler of a device
 * process has no other way to find its socket. It is set in the device's
 * process only (which runs one device), never in the VMM.
 */
static int sigsys_evt_fd = -1;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct devproc_evt e = { .op = DEVPROC_EVT_SIGSYS, .arg = (uint32_t)si->si_syscall };

	(void)sig;
	(void)uc;
	if (send(sigsys_evt_fd, &e, EVT_HDR, MSG_NOSIGNAL) < 0)
		_exit(EXIT_SECCOMP);
	_exit(EXIT_SECCOMP);
}

/* SIGUSR1 interrupts a blocking write when the VMM stops the device. */
static void on_stop_signal(int sig)
{
	(void)sig;
}

static void child_log(void *opaque, enum cvm_log_level level, const char *msg)
{
	struct devproc *dp = opaque;
	struct devproc_evt e = { .op = DEVPROC_EVT_LOG, .level = (uint8_t)level };
	size_t n = strnlen(msg, sizeof(e.text) - 1);

	memcpy(e.text, msg, n);
	/* Never block the device on its logging: a full socket drops the line. */
	send(dp->child_evt, &e, EVT_HDR + n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

const struct cvm_logger *devproc_child_logger(struct devproc *dp)
{
	return &dp->child_log;
}

int devproc_child_ctl_fd(const struct devproc *dp)
{
	return dp->child_ctl;
}

void devproc_child_event(struct devproc *dp, uint8_t op, uint16_t idx, uint32_t arg)
{
	struct devproc_evt e = { .op = op, .idx = idx, .arg = arg };

	send(dp->child_evt, &e, EVT_HDR, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int devproc_child_event_data(struct devproc *dp, uint8_t op, uint16_t idx, uint32_t arg,
			     const void *data, size_t len)
{
	struct devproc_evt e = { .op = op, .idx = idx, .arg = arg };

	if (len > sizeof(e.text) || (len && !data))
		return -EINVAL;
	if (len)
		memcpy(e.text, data, len);
	return send(dp->child_evt, &e, EVT_HDR + len, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int serve_one(struct devproc *dp, int flags)
{
	struct devproc_req r;
	struct devproc_rep rep = { .status = 0 };
	ssize_t n = recv(dp->child_ctl, &r, sizeof(r), flags);

	if (n == 0)
		return -EPIPE;
	if (n < 0 && errno == EAGAIN && (flags & MSG_DONTWAIT))
		return -EAGAIN;
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n != sizeof(r) || r.len > sizeof(r.data))
		rep.status = -EINVAL;
	else
		dp->cfg.ops->child_request(dp->cfg.opaque, &r, &rep);
	if (n == sizeof(r) && (r.flags & DEVPROC_F_POSTED))
		return 0;
	return send(dp->child_ctl, &rep, sizeof(rep), MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int devproc_child_serve(struct devproc *dp)
{
	return serve_one(dp, 0);
}

void devproc_child_drain(struct devproc *dp)
{
	while (serve_one(dp, MSG_DONTWAIT) == 0)
		;
}

/* Put @fd in @m's control data (@cbuf: CMSG_SPACE(sizeof(int)) bytes), for SCM_RIGHTS. */
static void attach_fd(struct msghdr *m, char *cbuf, size_t len, int fd)
{
	struct cmsghdr *c;

	m->msg_control = cbuf;
	m->msg_controllen = len;
	c = CMSG_FIRSTHDR(m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
}

/* The descriptor that came with a message (the first; the kernel drops more), or -1. */
static int received_fd(struct msghdr *m)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(m);
	int fd = -1;

	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len >= CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int devproc_child_connect(struct devproc *dp, uint32_t arg)
{
	struct devproc_evt e = { .op = DEVPROC_EVT_CONNECT, .arg = arg };
	int32_t status = -EIO;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &status, .iov_len = sizeof(status) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd = { .fd = dp->child_evt, .events = POLLIN };
	int fd;

	if (send(dp->child_evt, &e, EVT_HDR, MSG_NOSIGNAL) < 0)
		return -errno;
	if (poll(&pfd, 1, CONNECT_TIMEOUT_MS) <= 0)
		return -ETIMEDOUT;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	if (recvmsg(dp->child_evt, &m, MSG_CMSG_CLOEXEC) != sizeof(status))
		return -EIO;
	fd = received_fd(&m);
	if (status < 0) {
		if (fd >= 0)
			close(fd);
		return status;
	}
	return fd >= 0 ? fd : -EIO;
}

/* The VMM's answer to a DEVPROC_EVT_CALL. */
struct call_answer {
	int32_t status;
	uint32_t pad;
	uint64_t val;
};

int devproc_child_call(struct devproc *dp, uint16_t op, uint32_t arg, uint64_t val, int fd,
		       uint64_t *out)
{
	struct devproc_evt e = { .op = DEVPROC_EVT_CALL, .idx = op, .arg = arg };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &e, .iov_len = EVT_HDR + sizeof(val) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd = { .fd = dp->child_evt, .events = POLLIN };
	struct call_answer a = { .status = -EIO };

	memcpy(e.text, &val, sizeof(val));
	if (fd >= 0)
		attach_fd(&m, cbuf, sizeof(cbuf), fd);
	if (sendmsg(dp->child_evt, &m, MSG_NOSIGNAL) < 0)
		return -errno;
	if (poll(&pfd, 1, CONNECT_TIMEOUT_MS) <= 0)
		return -ETIMEDOUT;
	if (recv(dp->child_evt, &a, sizeof(a), 0) != sizeof(a))
		return -EIO;
	if (out)
		*out = a.val;
	return a.status;
}

static void __attribute__((noreturn)) child_main(struct devproc *dp)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	struct sigaction usr = { .sa_handler = on_stop_signal }; /* no SA_RESTART */
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP };
	int rc;

	dp->in_child = true;
	dp->child_log = *dp->cfg.log;
	dp->child_log.fn = child_log;
	dp->child_log.opaque = dp;
	sigsys_evt_fd = dp->child_evt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	sigemptyset(&usr.sa_mask);
	sigaction(SIGUSR1, &usr, NULL);
	/* The VMM stops the device in order; a terminal's ^C is for the VMM. */
	for (unsigned int i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	rc = policy_prog_install(&dp->prog);
	if (rc) {
		log_err(&dp->child_log, "%s: cannot install the seccomp filter: %s", dp->cfg.name,
			strerror(-rc));
		_exit(1);
	}
	dp->cfg.ops->child_run(dp->cfg.opaque, dp);
	_exit(0);
}

/* --- the VMM's side ------------------------------------------------------------------------ */

int devproc_call(struct devproc *dp, const struct devproc_req *req, struct devproc_rep *rep)
{
	int rc = -EPIPE;

	pthread_mutex_lock(&dp->lock);
	if (!dp->broken_io && send(dp->ctl_fd, req, sizeof(*req), MSG_NOSIGNAL) == sizeof(*req)) {
		for (;;) {
			ssize_t n = recv(dp->ctl_fd, rep, sizeof(*rep), 0);

			if (n < 0 && errno == EINTR &&
			    !(dp->cfg.stopping && atomic_load(dp->cfg.stopping)))
				continue;
			if (n == sizeof(*rep))
				rc = rep->status;
			else
				dp->broken_io =
					true; /* gone, or the VM stops: answers would mismatch */
			break;
		}
	} else {
		dp->broken_io = true;
	}
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int devproc_post(struct devproc *dp, const struct devproc_req *req)
{
	struct devproc_req r = *req;
	int rc = -EPIPE;

	r.flags |= DEVPROC_F_POSTED;
	pthread_mutex_lock(&dp->lock);
	for (;;) {
		if (dp->broken_io)
			break;
		if (send(dp->ctl_fd, &r, sizeof(r), MSG_NOSIGNAL) == sizeof(r)) {
			rc = 0;
			break;
		}
		/* A full socket (the device is busy) holds the vCPU back, unless the VM stops. */
		if (errno == EINTR && !(dp->cfg.stopping && atomic_load(dp->cfg.stopping)))
			continue;
		dp->broken_io = true;
		break;
	}
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void dp_free(struct devproc *dp)
{
	close_fd(&dp->ctl_fd);
	close_fd(&dp->evt_fd);
	close_fd(&dp->child_ctl);
	close_fd(&dp->child_evt);
	policy_prog_free(&dp->prog);
	pthread_mutex_destroy(&dp->lock);
	free(dp);
}

int devproc_start(struct devproc **out, const struct devproc_config *c, struct cvm_errbuf *err)
{
	int fds[DEVPROC_MAX_FDS + 3], ctl[2], evt[2];
	unsigned int n = 0;
	struct devproc *dp;
	pid_t pid;
	int rc;

	*out = NULL;
	if ((!c->policy && !c->policy_text && !c->policy_file) || !c->ops || !c->ops->child_run ||
	    !c->ops->child_request)
		return errf(err, -EINVAL, "%s: no policy or no device loop", c->name);
	if (c->nr_keep_fds > DEVPROC_MAX_FDS)
		return errf(err, -EINVAL, "%s: too many descriptors to keep", c->name);
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return errf(err, -ENOMEM, "%s: out of memory", c->name);
	dp->cfg = *c;
	dp->ctl_fd = dp->evt_fd = dp->child_ctl = dp->child_evt = -1;
	dp->sigsys_nr = -1;
	pthread_mutex_init(&dp->lock, NULL);
	if (c->policy_text || c->policy_file)
		rc = policy_prog_custom(&dp->prog, c->policy_dir, c->policy_text, c->policy_file,
					SCMP_ACT_TRAP, err);
	else
		rc = policy_prog_file(&dp->prog, c->policy_dir, c->policy, SCMP_ACT_TRAP, err);
	if (rc)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl)) {
		rc = errf(err, -errno, "%s: socketpair: %s", c->name, strerror(errno));
		goto fail;
	}
	dp->ctl_fd = ctl[0];
	dp->child_ctl = ctl[1];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, evt)) {
		rc = errf(err, -errno, "%s: socketpair: %s", c->name, strerror(errno));
		goto fail;
	}
	dp->evt_fd = evt[0];
	dp->child_evt = evt[1];

	fds[n++] = dp->child_ctl;
	fds[n++] = dp->child_evt;
	for (unsigned int i = 0; i < c->nr_keep_fds; i++)
		fds[n++] = c->keep_fds[i];
#if defined(__SANITIZE_ADDRESS__)
	/* A sanitizer build: the device's reports must reach the test logs. */
	if (fcntl(STDERR_FILENO, F_GETFD) >= 0)
		fds[n++] = STDERR_FILENO;
#endif
	struct jail_config jc = {
		.keep_fds = fds,
		.nr_keep_fds = n,
		.nofile_limit = n + 16 + c->extra_fds,
		.new_userns = c->new_userns,
		.name = c->name,
	};

	*out = dp; /* the child finds itself through it too */
	pid = jail_fork(&jc, err);
	if (pid == 0)
		child_main(dp);
	if (pid < 0) {
		rc = pid;
		goto fail;
	}
	dp->pid = pid;
	close_fd(&dp->child_ctl);
	close_fd(&dp->child_evt);
	*out = dp;
	return 0;
fail:
	*out = NULL;
	dp_free(dp);
	return rc;
}

int devproc_event_fd(const struct devproc *dp)
{
	return dp && !dp->reaped ? dp->evt_fd : -1;
}

static void reap(struct devproc *dp)
{
	while (!dp->reaped) {
		if (waitpid(dp->pid, &dp->status, 0) == dp->pid || errno != EINTR)
			dp->reaped = true;
	}
}

/* Why the process ended, into @err; 0 for a clean exit. */
static int describe_end(struct devproc *dp, struct cvm_errbuf *err)
{
	const char *name = dp->cfg.name;
	int st = dp->status, pid = (int)dp->pid;

	if (dp->sigsys_nr >= 0) {
		char *sc = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, dp->sigsys_nr);
		char which[300];
		int rc;

		if (dp->cfg.policy_text || dp->cfg.policy_file)
			snprintf(which, sizeof(which), "%s + common_device.policy",
				 dp->cfg.policy_file ? dp->cfg.policy_file : "the device's policy");
		else
			snprintf(which, sizeof(which), "%s_device.policy", dp->cfg.policy);
		rc = errf(err, -EPERM,
			  "%s: the device process (pid %d) was killed by its seccomp filter: "
			  "syscall %d (%s) is not in its policy (%s)",
			  name, pid, dp->sigsys_nr, sc ? sc : "unknown", which);

		free(sc);
		return rc;
	}
	if (WIFSIGNALED(st))
		return errf(err, -EPIPE,
			    "%s: the device process (pid %d) was killed by signal %d (%s)", name,
			    pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
	if (WIFEXITED(st) && WEXITSTATUS(st))
		return errf(err, -EPIPE, "%s: the device process (pid %d) exited with status %d",
			    name, pid, WEXITSTATUS(st));
	return 0;
}

static void answer_connect(struct devproc *dp, uint32_t arg)
{
	int fd = dp->cfg.ops->connect ? dp->cfg.ops->connect(dp->cfg.opaque, arg) : -ENOSYS;
	int32_t status = fd < 0 ? fd : 0;
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &status, .iov_len = sizeof(status) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0)
		attach_fd(&m, cbuf, sizeof(cbuf), fd);
	if (sendmsg(dp->evt_fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug(dp->cfg.log, "%s: cannot answer a connection request: %s", dp->cfg.name,
			  strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void answer_call(struct devproc *dp, const struct devproc_evt *e, size_t n, int fd)
{
	struct call_answer a = { .status = -ENOSYS };
	uint64_t val;

	if (n != EVT_HDR + sizeof(val)) {
		a.status = -EINVAL;
	} else if (dp->cfg.ops->call) {
		memcpy(&val, e->text, sizeof(val));
		a.status = dp->cfg.ops->call(dp->cfg.opaque, e->idx, e->arg, val, fd, &a.val);
	}
	if (send(dp->evt_fd, &a, sizeof(a), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug(dp->cfg.log, "%s: cannot answer a request: %s", dp->cfg.name,
			  strerror(errno));
}

/* Handle what the device sent; 1 when its process is gone (reaped). */
static int drain(struct devproc *dp)
{
	for (;;) {
		struct devproc_evt e;
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) - 1 };
		struct msghdr m = { .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(dp->evt_fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		int fd;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			reap(dp);
			return 1;
		}
		fd = received_fd(&m);
		if ((size_t)n >= EVT_HDR && e.op == DEVPROC_EVT_CALL)
			answer_call(dp, &e, (size_t)n, fd);
		if (fd >= 0)
			close(fd); /* a call's is done with; any other is unexpected */
		if ((size_t)n < EVT_HDR)
			continue;
		switch (e.op) {
		case DEVPROC_EVT_CALL:
			break;
		case DEVPROC_EVT_LOG:
			e.text[n - EVT_HDR] = 0;
			cvm_logf(dp->cfg.log,
				 e.level <= CVM_LOG_DEBUG ? (enum cvm_log_level)e.level :
							    CVM_LOG_DEBUG,
				 "%s", e.text);
			break;
		case DEVPROC_EVT_SIGSYS:
			dp->sigsys_nr = (int)(e.arg & 0xffff);
			break;
		case DEVPROC_EVT_CONNECT:
			answer_connect(dp, e.arg);
			break;
		default:
			if (e.op >= DEVPROC_EVT_DEVICE && dp->cfg.ops->event)
				dp->cfg.ops->event(dp->cfg.opaque, &e);
		}
	}
}

int devproc_events(struct devproc *dp, struct cvm_errbuf *err)
{
	if (!dp || dp->reaped || !drain(dp))
		return 0;
	int rc = describe_end(dp, err);

	return rc ? rc :
		    errf(err, -EPIPE, "%s: the device process (pid %d) exited", dp->cfg.name,
			 (int)dp->pid);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

void devproc_stop(struct devproc *dp)
{
	struct cvm_errbuf err = { "" };
	struct timespec t0;
	uint64_t one = 1;
	bool was_reaped;

	if (!dp)
		return;
	was_reaped = dp->reaped;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!dp->reaped) {
		if (write(dp->cfg.stop_efd, &one, sizeof(one)) < 0)
			log_warn(dp->cfg.log, "%s: cannot stop the device process: %s",
				 dp->cfg.name, strerror(errno));
		if (dp->cfg.interrupt_stop)
			kill(dp->pid, SIGUSR1);
	}
	/* Let it flush and exit, relaying its last words; then make sure. */
	while (!dp->reaped) {
		long left = STOP_TIMEOUT_MS - ms_since(&t0);
		struct pollfd pfd = { .fd = dp->evt_fd, .events = POLLIN };

		if (left <= 0) {
			log_warn(
				dp->cfg.log,
				"%s: the device process (pid %d) did not stop in %d ms; killing it",
				dp->cfg.name, (int)dp->pid, STOP_TIMEOUT_MS);
			kill(dp->pid, SIGKILL);
			reap(dp);
			break;
		}
		/* A blocking write may start after a signal: repeat it. */
		if (dp->cfg.interrupt_stop && left > 100)
			left = 100;
		if (poll(&pfd, 1, (int)left) > 0)
			drain(dp);
		else if (dp->cfg.interrupt_stop)
			kill(dp->pid, SIGUSR1);
	}
	if (!was_reaped) {
		int rc = describe_end(dp, &err);

		if (rc && dp->cfg.failed)
			dp->cfg.failed(dp->cfg.failed_ctx, rc, err.msg);
		else if (rc)
			log_err(dp->cfg.log, "%s", err.msg);
	}
	dp_free(dp);
}
