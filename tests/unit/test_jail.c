// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests of the jail: they fork real jailed children and look at them from
 * the parent (/proc/<pid>/status, /proc/<pid>/ns) and from inside (results sent
 * back over a kept pipe). Every child is killed and reaped in the teardown.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/jail.h"

#define MAX_TRACKED 8

/* Children (our own: waitpid) and other processes (pidfds: kill only) to clean up. */
static pid_t kids[MAX_TRACKED];
static int nr_kids;
static int pidfds[MAX_TRACKED];
static int nr_pidfds;

static void track_kid(pid_t pid)
{
	cr_assert_lt(nr_kids, MAX_TRACKED);
	kids[nr_kids++] = pid;
}

static void untrack_kid(pid_t pid)
{
	for (int i = 0; i < nr_kids; i++)
		if (kids[i] == pid)
			kids[i] = -1;
}

static void teardown(void)
{
	int status;

	for (int i = 0; i < nr_kids; i++) {
		if (kids[i] <= 0)
			continue;
		kill(kids[i], SIGKILL);
		while (waitpid(kids[i], &status, 0) < 0 && errno == EINTR)
			;
	}
	nr_kids = 0;
	for (int i = 0; i < nr_pidfds; i++) {
		syscall(SYS_pidfd_send_signal, pidfds[i], SIGKILL, NULL, 0);
		/* Reaps it if it was reparented to us (subreaper); ECHILD otherwise. */
		waitid(P_PIDFD, pidfds[i], NULL, WEXITED);
		close(pidfds[i]);
	}
	nr_pidfds = 0;
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

TestSuite(jail, .fini = teardown, .timeout = 30);

/* Wait for our child @pid and return its wait status. */
static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	untrack_kid(pid);
	return status;
}

static void read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		cr_assert_gt(n, 0, "short read from the child (%zu of %zu bytes): %s", got, len,
			     n < 0 ? strerror(errno) : "EOF");
		got += n;
	}
}

/* Fork a jailed child that blocks until @release is closed; returns its pid. */
static pid_t jail_sleeper(const char *name, int *release)
{
	struct cvm_errbuf err = { "" };
	int p[2];
	char c;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	struct jail_config cfg = {
		.keep_fds = &p[0], .nr_keep_fds = 1, .new_userns = true, .name = name
	};
	pid_t pid = jail_fork(&cfg, &err);

	if (pid == 0) {
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	cr_assert_gt(pid, 0, "jail_fork: %d: %s", pid, err.msg);
	track_kid(pid);
	close(p[0]);
	*release = p[1];
	return pid;
}

/* The value of field @key in /proc/@pid/status, as a string. */
static void status_field(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	val[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			char *v = line + klen + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(val, len, "%s", v);
			break;
		}
	}
	fclose(f);
	cr_assert_neq(val[0], '\0', "no %s in %s", key, path);
}

Test(jail, parent_sees_no_caps_and_no_new_privs)
{
	static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	char v[128];
	int release;
	pid_t pid = jail_sleeper("jail-test-caps", &release);

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		status_field(pid, caps[i], v, sizeof(v));
		cr_expect_str_eq(v, "0000000000000000", "%s is %s", caps[i], v);
	}
	status_field(pid, "NoNewPrivs", v, sizeof(v));
	cr_expect_str_eq(v, "1");
	status_field(pid, "Name", v, sizeof(v));
	cr_expect_str_eq(v, "jail-test-caps");
	/* The jailed process is PID 1 of its own PID namespace. */
	status_field(pid, "NSpid", v, sizeof(v));
	cr_expect(strlen(v) > 2 && !strcmp(v + strlen(v) - 2, "\t1"), "NSpid is %s", v);
	close(release);
	cr_expect_eq(reap(pid), 0);
}

Test(jail, parent_sees_new_namespaces)
{
	static const char *const ns[] = { "user", "mnt", "pid", "ipc", "uts", "net" };
	char path[64], mine[64], theirs[64];
	int release;
	ssize_t n;
	pid_t pid = jail_sleeper("jail-test-ns", &release);

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
		n = readlink(path, mine, sizeof(mine) - 1);
		cr_assert_gt(n, 0, "%s: %s", path, strerror(errno));
		mine[n] = '\0';
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns[i]);
		n = readlink(path, theirs, sizeof(theirs) - 1);
		cr_assert_gt(n, 0, "%s: %s", path, strerror(errno));
		theirs[n] = '\0';
		cr_expect_str_neq(mine, theirs, "%s namespace shared: %s", ns[i], mine);
	}
	close(release);
	cr_expect_eq(reap(pid), 0);
}

/* What a jailed child finds inside; all errno values are 0 on success. */
struct inside {
	int pid;
	uid_t uid;
	gid_t gid;
	int root_open_errno;
	int root_entries; /* entries of / other than . and .. */
	int root_rdonly;  /* statvfs("/") has ST_RDONLY */
	int creat_errno;
	int mkdir_errno;
	int passwd_errno;
	int proc_errno;
	int unkept_errno; /* fcntl(F_GETFD) on a descriptor that was not kept */
	int nr_open;	  /* open descriptors among 0..4095 */
	int kept_open[2];
	unsigned long long nofile_cur, nofile_max;
	int sock_errno;
	int eth0_errno;
	char if1_name[IF_NAMESIZE];
	int if_others; /* interface indexes 2..64 that exist */
	long no_new_privs;
	char cwd[64];
};

/* Runs in the jailed child: look around, fill @r. */
static void look_inside(struct inside *r, const int *kept, const int *unkept)
{
	char buf[4096];
	struct ifreq ifr;
	struct statvfs sv;
	struct rlimit rl;
	int fd, s;
	long n;

	memset(r, 0, sizeof(*r));
	r->pid = getpid();
	r->uid = getuid();
	r->gid = getgid();
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r->root_open_errno = fd < 0 ? errno : 0;
	if (fd >= 0) {
		/* getdents64, not opendir: the child of a jail must not allocate. */
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
			for (long off = 0; off < n;) {
				unsigned short reclen;
				const char *name = buf + off + 19;

				memcpy(&reclen, buf + off + 16, sizeof(reclen));
				if (strcmp(name, ".") && strcmp(name, ".."))
					r->root_entries++;
				off += reclen;
			}
		}
		close(fd);
	}
	r->root_rdonly = statvfs("/", &sv) == 0 && (sv.f_flag & ST_RDONLY);
	fd = open("/newfile", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	r->creat_errno = fd < 0 ? errno : 0;
	r->mkdir_errno = mkdir("/newdir", 0700) < 0 ? errno : 0;
	r->passwd_errno = open("/etc/passwd", O_RDONLY | O_CLOEXEC) < 0 ? errno : 0;
	r->proc_errno = open("/proc/self/status", O_RDONLY | O_CLOEXEC) < 0 ? errno : 0;
	r->unkept_errno = fcntl(*unkept, F_GETFD) < 0 ? errno : 0;
	for (fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			r->nr_open++;
	r->kept_open[0] = fcntl(kept[0], F_GETFD) >= 0;
	r->kept_open[1] = fcntl(kept[1], F_GETFD) >= 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		r->nofile_cur = rl.rlim_cur;
		r->nofile_max = rl.rlim_max;
	}
	/* The network namespace: only lo (index 1), no eth0, nothing else. */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	r->sock_errno = s < 0 ? errno : 0;
	if (s >= 0) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
		r->eth0_errno = ioctl(s, SIOCGIFINDEX, &ifr) < 0 ? errno : 0;
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_ifindex = 1;
		if (ioctl(s, SIOCGIFNAME, &ifr) == 0)
			snprintf(r->if1_name, sizeof(r->if1_name), "%s", ifr.ifr_name);
		for (int i = 2; i <= 64; i++) {
			memset(&ifr, 0, sizeof(ifr));
			ifr.ifr_ifindex = i;
			if (ioctl(s, SIOCGIFNAME, &ifr) == 0)
				r->if_others++;
		}
		close(s);
	}
	r->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (!getcwd(r->cwd, sizeof(r->cwd)))
		snprintf(r->cwd, sizeof(r->cwd), "getcwd: %d", errno);
}

/*
 * Jail a child that keeps the write end of a result pipe and one end of an
 * extra pipe, and looks inside. With @as_nobody, a middle process first drops
 * to uid/gid 65534 and does the jail_fork(), to test the non-root path.
 */
static void jail_and_look(struct inside *r, bool as_nobody, unsigned int nofile)
{
	struct cvm_errbuf err = { "" };
	int res[2], extra[2], kept[2];
	pid_t pid = -1, mid = -1;

	cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(extra, 0), 0);
	kept[0] = res[1];
	kept[1] = extra[0];
	struct jail_config cfg = {
		.keep_fds = kept,
		.nr_keep_fds = 2,
		.nofile_limit = nofile,
		.new_userns = true,
		.name = "jail-test-look",
	};

	if (as_nobody) {
		mid = fork();
		cr_assert_geq(mid, 0);
		if (mid > 0) {
			track_kid(mid);
			goto parent;
		}
		/* The middle process: become nobody, stay dumpable. */
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534) || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)) {
			_exit(3);
		}
	}
	pid = jail_fork(&cfg, &err);
	if (pid == 0) {
		look_inside(r, kept, &extra[1]);
		if (write(res[1], r, sizeof(*r)) != sizeof(*r))
			_exit(1);
		_exit(0);
	}
	if (as_nobody) {
		int status;

		if (pid < 0) {
			/* Tell the test what failed: an empty result and the message. */
			fprintf(stderr, "jail_fork as nobody: %s\n", err.msg);
			_exit(2);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 4);
	}
	cr_assert_gt(pid, 0, "jail_fork: %d: %s", pid, err.msg);
	track_kid(pid);
parent:
	close(res[1]);
	close(extra[0]);
	close(extra[1]);
	read_all(res[0], r, sizeof(*r));
	close(res[0]);
	cr_expect_eq(reap(as_nobody ? mid : pid), 0, "the child (or middle) failed");
}

static void expect_jailed(const struct inside *r, unsigned long long nofile)
{
	cr_expect_eq(r->pid, 1, "getpid() in the jail is %d", r->pid);
	cr_expect_eq(r->uid, 0);
	cr_expect_eq(r->gid, 0);
	cr_expect_eq(r->root_open_errno, 0, "open(/): %s", strerror(r->root_open_errno));
	cr_expect_eq(r->root_entries, 0, "/ has %d entries", r->root_entries);
	cr_expect(r->root_rdonly, "/ is not read-only");
	cr_expect_eq(r->creat_errno, EROFS, "creat: %s", strerror(r->creat_errno));
	cr_expect_eq(r->mkdir_errno, EROFS, "mkdir: %s", strerror(r->mkdir_errno));
	cr_expect_eq(r->passwd_errno, ENOENT, "/etc/passwd: %s", strerror(r->passwd_errno));
	cr_expect_eq(r->proc_errno, ENOENT, "/proc: %s", strerror(r->proc_errno));
	cr_expect_eq(r->unkept_errno, EBADF, "unkept fd: %s", strerror(r->unkept_errno));
	cr_expect(r->kept_open[0] && r->kept_open[1], "a kept fd is closed");
	cr_expect_eq(r->nr_open, 2, "%d fds open in the jail", r->nr_open);
	cr_expect_eq(r->nofile_cur, nofile);
	cr_expect_eq(r->nofile_max, nofile);
	cr_expect_eq(r->sock_errno, 0, "socket: %s", strerror(r->sock_errno));
	cr_expect_eq(r->eth0_errno, ENODEV, "eth0: %s", strerror(r->eth0_errno));
	cr_expect_str_eq(r->if1_name, "lo");
	cr_expect_eq(r->if_others, 0, "%d interfaces besides lo", r->if_others);
	cr_expect_eq(r->no_new_privs, 1);
	cr_expect_str_eq(r->cwd, "/");
}

Test(jail, inside_the_jail)
{
	struct inside r;

	jail_and_look(&r, false, 5);
	expect_jailed(&r, 5);
}

Test(jail, default_nofile_limit)
{
	struct inside r;

	jail_and_look(&r, false, 0);
	expect_jailed(&r, 2 + 8);
}

Test(jail, non_root_caller)
{
	struct inside r;

	/* Not root: every other test already takes the non-root path. */
	if (geteuid() != 0)
		cr_skip_test("needs root to become nobody");
	jail_and_look(&r, true, 7);
	expect_jailed(&r, 7);
}

Test(jail, parent_death_kills_the_child)
{
	struct cvm_errbuf err = { "" };
	int to_test[2], to_mid[2], status, pidfd;
	struct pollfd p;
	pid_t mid, jailed;
	char c = 0;

	/* Orphans come to us rather than to init: we can check how they died and reap them. */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	cr_assert_eq(pipe2(to_test, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(to_mid, O_CLOEXEC), 0);
	mid = fork();
	cr_assert_geq(mid, 0);
	if (mid == 0) {
		struct jail_config cfg = { .new_userns = true, .name = "jail-test-orphan" };
		pid_t pid = jail_fork(&cfg, &err);

		if (pid == 0) {
			for (;;)
				pause();
		}
		if (write(to_test[1], &pid, sizeof(pid)) != sizeof(pid))
			_exit(1);
		if (pid < 0)
			_exit(2);
		/* Wait for the go-ahead, then die without reaping the jailed child. */
		while (read(to_mid[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	track_kid(mid);
	close(to_test[1]);
	close(to_mid[0]);
	read_all(to_test[0], &jailed, sizeof(jailed));
	cr_assert_gt(jailed, 0, "jail_fork in the middle process: %d", jailed);
	pidfd = (int)syscall(SYS_pidfd_open, jailed, 0);
	cr_assert_geq(pidfd, 0, "pidfd_open: %s", strerror(errno));
	pidfds[nr_pidfds++] = pidfd;

	/* Alive while its parent lives. */
	p = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 100), 0, "the jailed child died early");

	cr_assert_eq(write(to_mid[1], &c, 1), 1);
	status = reap(mid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "middle status %#x", status);
	p = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 5000), 1, "the jailed child outlived its parent");
	track_kid(jailed);
	status = reap(jailed);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "jailed child status %#x",
		  status);
	close(to_test[0]);
	close(to_mid[1]);
}

Test(jail, unopened_keep_fd_fails_naming_the_step)
{
	struct cvm_errbuf err = { "" };
	int fds[2], bad;
	pid_t pid;

	/* An fd number that is surely not open: one just closed. */
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	close(fds[1]);
	bad = fds[1];
	struct jail_config cfg = {
		.keep_fds = &bad, .nr_keep_fds = 1, .new_userns = true, .name = "jail-test-bad"
	};
	pid = jail_fork(&cfg, &err);
	if (pid == 0)
		_exit(0); /* must not happen; the assertion below fails */
	if (pid > 0)
		track_kid(pid);
	close(fds[0]);
	cr_assert_eq(pid, -EBADF, "jail_fork: %d: %s", pid, err.msg);
	cr_expect(strstr(err.msg, "jail-test-bad"), "message: %s", err.msg);
	cr_expect(strstr(err.msg, "keep_fds[0]"), "message: %s", err.msg);
	cr_expect(strstr(err.msg, "not open"), "message: %s", err.msg);
	/* jail_fork reaped the failed child. */
	cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1);
	cr_expect_eq(errno, ECHILD);
}

Test(jail, no_userns_without_privilege_fails_with_hint)
{
	struct cvm_errbuf err = { "" };
	int p[2], status;
	char msg[sizeof(err.msg)] = "";
	pid_t mid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	mid = fork();
	cr_assert_geq(mid, 0);
	if (mid == 0) {
		struct jail_config cfg = { .new_userns = false, .name = "jail-test-nouserns" };
		pid_t pid;

		if (geteuid() == 0 && (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
				       setresuid(65534, 65534, 65534)))
			_exit(3);
		pid = jail_fork(&cfg, &err);
		if (pid == 0)
			_exit(0);
		if (pid > 0) {
			waitpid(pid, NULL, 0);
			_exit(4);
		}
		if (write(p[1], err.msg, strlen(err.msg)) < 0)
			_exit(5);
		_exit(pid == -EPERM ? 0 : 6);
	}
	track_kid(mid);
	close(p[1]);
	if (read(p[0], msg, sizeof(msg) - 1) < 0)
		msg[0] = '\0';
	close(p[0]);
	status = reap(mid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x, message %s", status,
		  msg);
	cr_expect(strstr(msg, "--disable-sandbox"), "message: %s", msg);
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return r;
}

/*
 * User namespaces disabled: a middle process enters a user namespace of its own
 * and sets user.max_user_namespaces to 0 there, which only affects namespaces
 * created below it.
 */
Test(jail, userns_disabled_fails_with_hint)
{
	struct cvm_errbuf err = { "" };
	char msg[sizeof(err.msg)] = "", map[32];
	int p[2], status, r;
	pid_t mid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	mid = fork();
	cr_assert_geq(mid, 0);
	if (mid == 0) {
		uid_t uid = geteuid();
		gid_t gid = getegid();

		if (unshare(CLONE_NEWUSER) || write_str("/proc/self/setgroups", "deny"))
			_exit(3);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned int)uid);
		if (write_str("/proc/self/uid_map", map))
			_exit(4);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned int)gid);
		if (write_str("/proc/self/gid_map", map) ||
		    write_str("/proc/sys/user/max_user_namespaces", "0"))
			_exit(5);
		r = jail_check_support(&err);
		if (write(p[1], err.msg, strlen(err.msg)) < 0)
			_exit(6);
		_exit(r == -ENOSPC ? 0 : 7);
	}
	track_kid(mid);
	close(p[1]);
	if (read(p[0], msg, sizeof(msg) - 1) < 0)
		msg[0] = '\0';
	close(p[0]);
	status = reap(mid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x, message %s", status,
		  msg);
	cr_expect(strstr(msg, "user namespaces may be disabled"), "message: %s", msg);
	cr_expect(strstr(msg, "--disable-sandbox"), "message: %s", msg);
}

Test(jail, check_support)
{
	struct cvm_errbuf err = { "" };

	cr_expect_eq(jail_check_support(&err), 0, "%s", err.msg);
	cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a child was left behind");
}

Test(jail, root_without_userns)
{
	struct cvm_errbuf err = { "" };
	char v[64];
	int p[2], release;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	struct jail_config cfg = {
		.keep_fds = &p[0], .nr_keep_fds = 1, .new_userns = false, .name = "jail-test-root"
	};
	pid = jail_fork(&cfg, &err);
	if (pid == 0) {
		char c;

		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	cr_assert_gt(pid, 0, "jail_fork: %d: %s", pid, err.msg);
	track_kid(pid);
	close(p[0]);
	release = p[1];
	status_field(pid, "CapEff", v, sizeof(v));
	cr_expect_str_eq(v, "0000000000000000");
	status_field(pid, "CapBnd", v, sizeof(v));
	cr_expect_str_eq(v, "0000000000000000");
	status_field(pid, "NoNewPrivs", v, sizeof(v));
	cr_expect_str_eq(v, "1");
	close(release);
	cr_expect_eq(reap(pid), 0);
}
