// SPDX-License-Identifier: BSD-3-Clause
/*
 * The jail a device child runs in. See jail.h for the contract and
 * docs/sandbox.md for the reasons behind each step.
 *
 * The child side runs right after a raw clone(2) in a copy of a process that
 * may have other threads: it must not take malloc's or stdio's locks. It only
 * makes system calls, formats with snprintf() into stack buffers and uses the
 * cap_t and the sorted fd list the parent prepared before the clone.
 */
#include "jail/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define JAIL_MAX_KEEP_FDS 1024U
#define JAIL_CLONE_NS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET)

/* Where the new root's tmpfs is mounted before pivot_root: any directory will do. */
static const char *const tmpfs_mountpoints[] = { "/tmp", "/mnt", "/proc", "/dev" };

/* What the parent prepares for the child before the clone. */
struct jail_child_args {
	const struct jail_config *c;
	int status_fd;	  /* write end of the status pipe */
	int parent_pidfd; /* pidfd of the parent, or -1 */
	uid_t uid;	  /* the parent's euid, mapped to 0 */
	gid_t gid;	  /* the parent's egid, mapped to 0 */
	const int *keep;  /* keep_fds + status_fd + parent_pidfd, sorted, unique */
	unsigned int nr_keep;
	cap_t caps; /* an empty capability set */
};

/* Report a failed step to the parent and exit; never returns. */
static void __attribute__((noreturn))
child_fail(const struct jail_child_args *a, int e, const char *step)
{
	char line[160];
	int n;

	n = snprintf(line, sizeof(line), "%d %s\n", e, step);
	if (n > 0 && (size_t)n >= sizeof(line))
		n = sizeof(line) - 1, line[n - 1] = '\n';
	if (n > 0 && write(a->status_fd, line, n) < 0) {
		/* Nobody to tell. */
	}
	_exit(127);
}

static int write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, e = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0)
		e = -errno;
	else if ((size_t)n != len)
		e = -EIO;
	close(fd);
	return e;
}

static void child_userns(const struct jail_child_args *a)
{
	int r, dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	char map[64];

	/*
	 * A non-dumpable process's /proc/self files belong to root, which is
	 * not mapped yet: writing the maps would fail with EACCES.
	 */
	if (dumpable == 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		child_fail(a, errno, "prctl(PR_SET_DUMPABLE, 1)");
	/* Unprivileged gid self-mapping requires setgroups to be denied first. */
	r = write_file("/proc/self/setgroups", "deny");
	if (r < 0)
		child_fail(a, -r, "write /proc/self/setgroups (deny)");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)a->uid);
	r = write_file("/proc/self/uid_map", map);
	if (r < 0)
		child_fail(a, -r, "write /proc/self/uid_map");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)a->gid);
	r = write_file("/proc/self/gid_map", map);
	if (r < 0)
		child_fail(a, -r, "write /proc/self/gid_map");
	if (dumpable == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		child_fail(a, errno, "prctl(PR_SET_DUMPABLE, 0)");
}

static void child_close_fds(const struct jail_child_args *a)
{
	const struct jail_config *c = a->c;
	unsigned int i, lo = 0;
	char step[64];

	for (i = 0; i < c->nr_keep_fds; i++) {
		if (c->keep_fds[i] < 0 || fcntl(c->keep_fds[i], F_GETFD) < 0) {
			snprintf(step, sizeof(step), "keep_fds[%u] (fd %d) is not open", i,
				 c->keep_fds[i]);
			child_fail(a, EBADF, step);
		}
	}
	for (i = 0; i < a->nr_keep; i++) {
		unsigned int k = a->keep[i];

		if (k > lo && close_range(lo, k - 1, 0) < 0)
			child_fail(a, errno, "close_range");
		lo = k + 1;
	}
	if (close_range(lo, ~0U, 0) < 0)
		child_fail(a, errno, "close_range");
}

static void child_pivot(const struct jail_child_args *a)
{
	const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	const char *mp = NULL;
	struct stat st;
	size_t i;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(a, errno, "mount / MS_REC|MS_PRIVATE");
	for (i = 0; i < sizeof(tmpfs_mountpoints) / sizeof(tmpfs_mountpoints[0]); i++) {
		if (stat(tmpfs_mountpoints[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			mp = tmpfs_mountpoints[i];
			break;
		}
	}
	if (!mp)
		child_fail(a, ENOENT, "find a directory to mount the new root on");
	if (mount("none", mp, "tmpfs", fl, "size=16k,nr_inodes=16,mode=0755") < 0)
		child_fail(a, errno, "mount tmpfs for the new root");
	if (chdir(mp) < 0)
		child_fail(a, errno, "chdir to the new root");
	if (mkdir("old-root", 0700) < 0)
		child_fail(a, errno, "mkdir old-root");
	if (syscall(SYS_pivot_root, ".", "old-root") < 0)
		child_fail(a, errno, "pivot_root");
	if (chdir("/") < 0)
		child_fail(a, errno, "chdir /");
	if (umount2("/old-root", MNT_DETACH) < 0)
		child_fail(a, errno, "umount2 old root (MNT_DETACH)");
	if (rmdir("/old-root") < 0)
		child_fail(a, errno, "rmdir old root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | fl, NULL) < 0)
		child_fail(a, errno, "remount / read-only");
	if (chdir("/") < 0)
		child_fail(a, errno, "chdir /");
}

static void child_drop_caps(const struct jail_child_args *a)
{
	int cap, last = cap_max_bits() - 1;

	/*
	 * The bounding set needs CAP_SETPCAP, so it goes first. Drop up to what
	 * libcap knows and on as long as the kernel knows the number.
	 */
	for (cap = 0; cap <= last || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			child_fail(a, errno, "prctl(PR_CAPBSET_DROP)");
		if (cap > 255)
			break;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		child_fail(a, errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
	if (cap_clear(a->caps) < 0)
		child_fail(a, errno, "cap_clear");
	if (cap_set_proc(a->caps) < 0)
		child_fail(a, errno, "cap_set_proc (drop all capabilities)");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(a, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
}

/* Fail if the parent already died (before PR_SET_PDEATHSIG could catch it). */
static void child_check_parent(const struct jail_child_args *a)
{
	struct pollfd p = { .fd = a->parent_pidfd, .events = POLLIN };

	if (a->parent_pidfd >= 0) {
		if (poll(&p, 1, 0) < 0)
			child_fail(a, errno, "poll the parent's pidfd");
		if (p.revents)
			child_fail(a, ESRCH, "the parent exited");
	} else if (getppid() == 1) {
		/* No pidfd (old kernel): only meaningful outside a new PID namespace. */
		child_fail(a, ESRCH, "the parent exited");
	}
}

static void child_setup(const struct jail_child_args *a)
{
	const struct jail_config *c = a->c;
	struct rlimit rl;
	char name[16];

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(a, errno, "prctl(PR_SET_PDEATHSIG)");
	child_check_parent(a);
	if (c->new_userns)
		child_userns(a);
	child_close_fds(a);
	child_pivot(a);
	child_drop_caps(a);
	rl.rlim_cur = rl.rlim_max = c->nofile_limit ? c->nofile_limit : c->nr_keep_fds + 8;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		child_fail(a, errno, "setrlimit(RLIMIT_NOFILE)");
	snprintf(name, sizeof(name), "%s", c->name ? c->name : "cvm-jail");
	if (prctl(PR_SET_NAME, name, 0, 0, 0) < 0)
		child_fail(a, errno, "prctl(PR_SET_NAME)");
	/* Dropping capabilities keeps the parent-death signal; check anyway. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(a, errno, "prctl(PR_SET_PDEATHSIG)");
	child_check_parent(a);
	if (a->parent_pidfd >= 0)
		close(a->parent_pidfd);
	/* A parent that died since then makes this write fail (EPIPE/SIGPIPE). */
	if (write(a->status_fd, "ready\n", 6) != 6)
		_exit(127);
	close(a->status_fd);
}

static int cmp_int(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;

	return (a > b) - (a < b);
}

/* An explanation to append to a message for failures that mean "not supported here". */
static const char *hint(const struct jail_config *c, int e)
{
	if (e != EPERM && e != EACCES && e != ENOSPC && e != EUSERS)
		return "";
	if (c->new_userns)
		return "; user namespaces may be disabled on this host (sysctls"
		       " kernel.unprivileged_userns_clone, user.max_user_namespaces, or an"
		       " AppArmor/SELinux policy); run with --disable-sandbox to run devices"
		       " without the sandbox";
	return "; without a new user namespace the jail needs CAP_SYS_ADMIN; run with"
	       " --disable-sandbox to run devices without the sandbox";
}

/*
 * Read the child's report: "ready\n", or "<errno> <step>\n", or nothing (EOF)
 * if it died. Returns 0 when ready, or -errno with @err filled in.
 */
static int read_status(const struct jail_config *c, int fd, pid_t pid, struct cvm_errbuf *err)
{
	const char *name = c->name ? c->name : "cvm-jail";
	char buf[192], *nl, *step;
	size_t len = 0;
	ssize_t n;
	int status, e;

	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	if (!strcmp(buf, "ready\n"))
		return 0;

	/* The child failed: reap it, it has exited or is about to. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	nl = strchr(buf, '\n');
	if (!nl) {
		if (WIFSIGNALED(status))
			return errf(err, -ECHILD,
				    "jail %s: the child was killed by signal %d while setting up",
				    name, WTERMSIG(status));
		return errf(err, -ECHILD, "jail %s: the child exited (status %d) without reporting",
			    name, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	*nl = '\0';
	e = (int)strtol(buf, &step, 10);
	if (e <= 0 || *step != ' ')
		return errf(err, -EPROTO, "jail %s: bad report from the child: %s", name, buf);
	step++;
	return errf(err, -e, "jail %s: %s: %s%s", name, step, strerror(e), hint(c, e));
}

pid_t jail_fork(const struct jail_config *c, struct cvm_errbuf *err)
{
	const char *name = c->name ? c->name : "cvm-jail";
	struct jail_child_args a = { .c = c, .parent_pidfd = -1 };
	unsigned long flags = JAIL_CLONE_NS | SIGCHLD;
	unsigned int i, n = 0;
	int pipefd[2], r;
	long pid;

	if (c->nr_keep_fds && !c->keep_fds)
		return errf(err, -EINVAL, "jail %s: nr_keep_fds without keep_fds", name);
	if (c->nr_keep_fds > JAIL_MAX_KEEP_FDS)
		return errf(err, -EINVAL, "jail %s: %u fds to keep, at most %u", name,
			    c->nr_keep_fds, JAIL_MAX_KEEP_FDS);

	/* On the stack: the child uses it after the clone and must not free it. */
	int keep[c->nr_keep_fds + 2];

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return errf(err, -errno, "jail %s: pipe2: %s", name, strerror(errno));
	a.status_fd = pipefd[1];
	/* Old kernels: no pidfd, then only the EPIPE on "ready" catches a dead parent. */
	a.parent_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	a.uid = geteuid();
	a.gid = getegid();
	a.caps = cap_init();
	if (!a.caps) {
		r = errf(err, -ENOMEM, "jail %s: out of memory", name);
		goto out;
	}
	for (i = 0; i < c->nr_keep_fds; i++)
		if (c->keep_fds[i] >= 0)
			keep[n++] = c->keep_fds[i];
	keep[n++] = a.status_fd;
	if (a.parent_pidfd >= 0)
		keep[n++] = a.parent_pidfd;
	qsort(keep, n, sizeof(*keep), cmp_int);
	a.nr_keep = 0;
	for (i = 0; i < n; i++)
		if (!a.nr_keep || keep[a.nr_keep - 1] != keep[i])
			keep[a.nr_keep++] = keep[i];
	a.keep = keep;
	if (c->new_userns)
		flags |= CLONE_NEWUSER;

	/*
	 * fork() with the namespace flags: the child is PID 1 of its new PID
	 * namespace and still our child. Same argument order as fork-style
	 * clone on x86_64: flags, stack (NULL: the copy of ours), ptid, ctid, tls.
	 */
	pid = syscall(SYS_clone, flags, NULL, NULL, NULL, 0L);
	if (pid == 0) {
		close(pipefd[0]);
		child_setup(&a);
		cap_free(a.caps);
		return 0;
	}
	if (pid < 0) {
		r = -errno;
		errf(err, r, "jail %s: clone(%snew mount, PID, IPC, UTS, network namespaces): %s%s",
		     name, c->new_userns ? "new user namespace, " : "", strerror(-r), hint(c, -r));
		goto out;
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	r = read_status(c, pipefd[0], (pid_t)pid, err);
	if (!r)
		r = (int)pid;
out:
	if (a.caps)
		cap_free(a.caps);
	if (a.parent_pidfd >= 0)
		close(a.parent_pidfd);
	close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return r;
}

int jail_check_support(struct cvm_errbuf *err)
{
	const struct jail_config c = { .new_userns = true, .name = "cvm-jail-probe" };
	int status;
	pid_t pid;

	pid = jail_fork(&c, err);
	if (pid < 0)
		return pid;
	if (pid == 0)
		_exit(0);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return errf(err, -errno, "jail probe: waitpid: %s", strerror(errno));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return errf(err, -ECHILD, "jail probe: the jailed child failed (wait status %#x)",
			    status);
	return 0;
}
