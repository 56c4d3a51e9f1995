// SPDX-License-Identifier: BSD-3-Clause
/*
 * The device sandbox as `cvm run` sets it up (docs/sandbox.md), seen from
 * outside: every virtio device is a child process of cvm with a seccomp
 * filter, no capabilities, no_new_privs, namespaces of its own and an empty
 * root; the children go when cvm goes; the same for a cvm that is not root;
 * and a host without user namespaces gets an error that says what to do.
 *
 * Each cvm runs in its own process group with a deadline; the suite's .fini
 * kills what a failed test left running. In the suite's second run
 * (CVM_TEST_NO_SANDBOX=1) only no_userns's --disable-sandbox half runs.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cvmproc.h"
#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

#define START_TIMEOUT 30 /* until the guest prints SPIN */
#define EXIT_TIMEOUT 20	 /* until cvm exits after SIGTERM */
#define RUN_TIMEOUT 60	 /* a whole guest run */
#define NOBODY 65534
#define MAX_KIDS 16
#define EXIT_SETUP 125 /* the forked child could not prepare the exec */

static char *tmpdir;

static void setup(void)
{
	tmpdir = make_temp_dir();
	cr_assert(tmpdir, "cannot create a temporary directory: %s", strerror(errno));
}

static void teardown(void)
{
	fproc_cleanup();
	rm_rf(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

TestSuite(sandbox, .init = setup, .fini = teardown);

static __attribute__((noreturn)) void setup_fail(const char *step)
{
	dprintf(2, "SETUP %s: %s\n", step, strerror(errno));
	_exit(EXIT_SETUP);
}

/* ---- /proc ------------------------------------------------------------ */

/* The value of "@key:" in /proc/@pid/status (malloc'ed, tabs and all), or NULL. */
static char *status_field(pid_t pid, const char *key)
{
	char path[64], want[32], *text, *line, *v = NULL;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = read_file(path, NULL);
	if (!text)
		return NULL;
	snprintf(want, sizeof(want), "%s:", key);
	line = find_line(text, want);
	free(text);
	if (line) {
		const char *s = line + strlen(want);

		while (*s == '\t' || *s == ' ')
			s++;
		v = strdup(s);
		free(line);
	}
	return v;
}

static char *ns_link(pid_t pid, const char *ns)
{
	char path[64], target[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	n = readlink(path, target, sizeof(target) - 1);
	cr_assert_gt(n, 0, "readlink %s: %s", path, strerror(errno));
	target[n] = '\0';
	return strdup(target);
}

#define ZERO_CAPS "0000000000000000"

/*
 * Device process @kid of cvm @vmm is confined: its seccomp filter, no
 * capabilities, no_new_privs, six namespaces of its own, an empty read-only
 * tmpfs for a root, and PID 1 in its PID namespace. Returns its name.
 */
static char *assert_confined(pid_t vmm, pid_t kid)
{
	static const char *const fields[][2] = {
		{ "Seccomp", "2" },	 { "NoNewPrivs", "1" },	  { "CapEff", ZERO_CAPS },
		{ "CapPrm", ZERO_CAPS }, { "CapBnd", ZERO_CAPS }, { "CapInh", ZERO_CAPS },
		{ "CapAmb", ZERO_CAPS },
	};
	static const char *const nss[] = { "user", "mnt", "pid", "ipc", "uts", "net" };
	char *name = status_field(kid, "Name"), *nspid = status_field(kid, "NSpid");
	char root[64];
	struct stat st, host;
	struct statfs sfs;
	struct dirent *e;
	DIR *d;

	cr_assert(name, "no /proc/%d/status", (int)kid);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char *v = status_field(kid, fields[i][0]);

		cr_assert(v && !strcmp(v, fields[i][1]), "%s (pid %d): %s is %s, want %s", name,
			  (int)kid, fields[i][0], v ? v : "(missing)", fields[i][1]);
		free(v);
	}
	cr_assert(nspid && strlen(nspid) > 2 && !strcmp(nspid + strlen(nspid) - 2, "\t1"),
		  "%s: NSpid '%s': not PID 1 of a PID namespace of its own", name, nspid);
	free(nspid);
	for (size_t i = 0; i < sizeof(nss) / sizeof(nss[0]); i++) {
		char *mine = ns_link(vmm, nss[i]), *its = ns_link(kid, nss[i]);

		cr_assert_str_neq(mine, its, "%s (pid %d) shares cvm's %s namespace %s", name,
				  (int)kid, nss[i], its);
		free(mine);
		free(its);
	}
	/* Its root: an empty, read-only tmpfs, not the host's /. */
	snprintf(root, sizeof(root), "/proc/%d/root/", (int)kid);
	cr_assert_eq(stat("/", &host), 0);
	cr_assert_eq(stat(root, &st), 0, "%s: %s", root, strerror(errno));
	cr_assert(st.st_dev != host.st_dev || st.st_ino != host.st_ino,
		  "%s: its root is the host's", name);
	cr_assert_eq(statfs(root, &sfs), 0, "statfs %s: %s", root, strerror(errno));
	cr_assert_eq(sfs.f_type, TMPFS_MAGIC, "%s: its root is not a tmpfs (0x%lx)", name,
		     (unsigned long)sfs.f_type);
	cr_assert(sfs.f_flags & ST_RDONLY, "%s: its root is writable", name);
	d = opendir(root);
	cr_assert(d, "%s: %s", root, strerror(errno));
	while ((e = readdir(d)))
		cr_assert(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."),
			  "%s: its root holds '%s'", name, e->d_name);
	closedir(d);
	return name;
}

/* ---- the tests --------------------------------------------------------- */

#define REQUIRE_SANDBOX()                                                               \
	do {                                                                            \
		if (!runner_sandboxed())                                                \
			cr_skip_test("devices run as threads (CVM_TEST_NO_SANDBOX=1)"); \
	} while (0)

/* A zeroed disk image of 1 MiB in tmpdir, owned by @uid. */
static char *make_disk(uid_t uid)
{
	char *path;
	int fd;

	cr_assert(asprintf(&path, "%s/disk.img", tmpdir) > 0);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	cr_assert_eq(fchown(fd, uid, uid), 0, "chown %s: %s", path, strerror(errno));
	close(fd);
	return path;
}

static long uid_of(pid_t pid)
{
	char *u = status_field(pid, "Uid");
	long v = u ? atol(u) : -1;

	free(u);
	return v;
}

/*
 * `cvm run -m 32 --rwdisk DISK --cid CID --vsock-uds UDS -p cvm.test=spin`
 * (and the default rng): a process per device. Checks each, stops cvm with
 * SIGTERM and checks that they are gone. @uid: what cvm and its devices
 * must run as (host view).
 */
static void spin_and_check(uid_t uid, fproc_hook_fn hook, const void *arg)
{
	static const char *const want[] = { "virtio-blk", "virtio-rng", "virtio-vsock" };
	char cid[16], uds[256];
	char *disk = make_disk(uid);
	pid_t kids[MAX_KIDS];
	struct runner_result r;
	unsigned int n, found[3] = { 0 };
	struct fproc p;

	/* CIDs are unique per host: by pid, above test_vsock.c's range. */
	snprintf(cid, sizeof(cid), "%u", 10000000u + (unsigned int)getpid());
	snprintf(uds, sizeof(uds), "%s/v.sock", tmpdir);
	const char *args[] = { "-m", "32", "--rwdisk",	    disk,      "--cid", cid, "--vsock-uds",
			       uds,  "-p", "cvm.test=spin", CVM_GUEST, NULL };

	fproc_start_hook(&p, args, hook, arg);
	if (!fproc_wait(&p, "SPIN\n", START_TIMEOUT)) {
		fproc_finish(&p, &r, 0);
		if (r.exited && r.status == EXIT_SETUP)
			cr_skip_test("cannot prepare cvm's process: %s", r.err);
		cr_assert_run(&r, false, "the guest did not print SPIN within %d s", START_TIMEOUT);
	}
	/* One per virtio device; any other device process must be confined as well. */
	n = proc_children(p.pid, kids, MAX_KIDS);
	cr_assert_geq(n, 3, "cvm (pid %d) has %u children, want one per device (blk, rng, vsock)",
		      (int)p.pid, n);
	cr_assert_eq(uid_of(p.pid), (long)uid, "cvm runs as uid %ld, want %u", uid_of(p.pid),
		     (unsigned int)uid);
	for (unsigned int i = 0; i < n; i++) {
		char *name = assert_confined(p.pid, kids[i]);

		cr_assert_eq(uid_of(kids[i]), (long)uid, "%s runs as host uid %ld, want %u", name,
			     uid_of(kids[i]), (unsigned int)uid);
		for (unsigned int k = 0; k < 3; k++)
			if (!strncmp(name, want[k], strlen(want[k])))
				found[k]++;
		cr_log_info("pid %d (%s): confined, host uid %u", (int)kids[i], name,
			    (unsigned int)uid);
		free(name);
	}
	for (unsigned int k = 0; k < 3; k++)
		cr_assert_eq(found[k], 1, "%u device processes named %s*, want 1", found[k],
			     want[k]);

	cr_assert_eq(kill(p.pid, SIGTERM), 0);
	fproc_finish(&p, &r, EXIT_TIMEOUT);
	cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0 after SIGTERM");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	for (unsigned int i = 0; i < n; i++) {
		errno = 0;
		cr_assert_run(&r, kill(kids[i], 0) == -1 && errno == ESRCH,
			      "device process %d is still there after cvm exited (%s)",
			      (int)kids[i], strerror(errno));
	}
	runner_free(&r);
	free(disk);
}

Test(sandbox, proc_status)
{
	REQUIRE_KVM();
	REQUIRE_SANDBOX();
	spin_and_check(geteuid(), NULL, NULL);
}

struct nonroot {
	gid_t kvm_gid;
	const char *kvm_node; /* bind-mounted over /dev/kvm in cvm's own mount namespace, or NULL */
};

static void drop_to_nobody(const void *arg)
{
	const struct nonroot *nr = arg;

	if (nr->kvm_node) {
		if (unshare(CLONE_NEWNS))
			setup_fail("unshare(CLONE_NEWNS)");
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			setup_fail("making / private");
		if (mount(nr->kvm_node, "/dev/kvm", NULL, MS_BIND, NULL))
			setup_fail("bind-mounting the device node over /dev/kvm");
	}
	if (setgroups(1, &nr->kvm_gid))
		setup_fail("setgroups");
	if (setgid(NOBODY))
		setup_fail("setgid");
	if (setuid(NOBODY))
		setup_fail("setuid");
	/* A build tree that uid 65534 cannot reach is the host's business: skip. */
	if (access(CVM_BIN, X_OK))
		setup_fail(CVM_BIN);
	if (access(CVM_GUEST, R_OK))
		setup_fail(CVM_GUEST);
	if (access(CVM_POLICY_SRC "/rng_device.policy", R_OK))
		setup_fail(CVM_POLICY_SRC "/rng_device.policy");
}

/*
 * cvm as uid/gid 65534 with /dev/kvm's group as its only supplementary
 * group: the devices are sandboxed all the same (self-mapped user namespace).
 * A /dev/kvm only root may open is replaced, for cvm alone, by a node of the
 * same device with mode 0660 and group 65534 (a private mount namespace).
 */
Test(sandbox, nonroot)
{
	struct nonroot nr = { 0 };
	char node[256];
	struct stat st;

	REQUIRE_KVM();
	REQUIRE_SANDBOX();
	if (geteuid() != 0)
		cr_skip_test("needs root to run cvm as uid %d", NOBODY);
	cr_assert_eq(stat("/dev/kvm", &st), 0, "/dev/kvm: %s", strerror(errno));
	if ((st.st_mode & 0060) == 0060) {
		nr.kvm_gid = st.st_gid;
	} else {
		snprintf(node, sizeof(node), "%s/kvm", tmpdir);
		if (mknod(node, S_IFCHR | 0660, st.st_rdev) || chown(node, 0, NOBODY) ||
		    chmod(node, 0660))
			cr_skip_test("/dev/kvm (mode %04o) is not group-accessible, and a private "
				     "node of it cannot be made: %s",
				     (unsigned int)(st.st_mode & 07777), strerror(errno));
		cr_log_info("/dev/kvm (mode %04o) is not group-accessible: cvm gets %s "
			    "(0660, group %d) over it in a mount namespace of its own",
			    (unsigned int)(st.st_mode & 07777), node, NOBODY);
		nr.kvm_gid = NOBODY;
		nr.kvm_node = node;
	}
	cr_assert_eq(chown(tmpdir, NOBODY, NOBODY), 0, "chown %s: %s", tmpdir, strerror(errno));
	spin_and_check(NOBODY, drop_to_nobody, &nr);
}

static void write_proc(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		setup_fail(path);
	close(fd);
}

/*
 * A host without user namespaces, simulated: cvm runs in a user namespace
 * of its own (its ids mapped to themselves) in which user.max_user_namespaces
 * is 0. The limit is per user namespace and only binds namespaces created
 * below this one.
 */
static void no_userns(const void *arg)
{
	unsigned int uid = (unsigned int)geteuid(), gid = (unsigned int)getegid();
	char map[32];

	(void)arg;
	if (unshare(CLONE_NEWUSER))
		setup_fail("unshare(CLONE_NEWUSER)");
	write_proc("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1", uid, uid);
	write_proc("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1", gid, gid);
	write_proc("/proc/self/gid_map", map);
	write_proc("/proc/sys/user/max_user_namespaces", "0");
}

static void run_rng(struct runner_result *r, bool disable_sandbox)
{
	const char *with[] = { "-p", "cvm.test=rng", "--disable-sandbox", CVM_GUEST, NULL };
	const char *without[] = { "-p", "cvm.test=rng", CVM_GUEST, NULL };
	struct fproc p;

	fproc_start_hook(&p, disable_sandbox ? with : without, no_userns, NULL);
	fproc_finish(&p, r, RUN_TIMEOUT);
	if (r->exited && r->status == EXIT_SETUP)
		cr_skip_test("cannot simulate a host without user namespaces: %s", r->err);
}

Test(sandbox, no_userns)
{
	struct runner_result r;

	REQUIRE_KVM();
	/* Sandboxed, cvm must fail and say why (threads, the suite's second run: nothing to see). */
	if (runner_sandboxed()) {
		run_rng(&r, false);
		cr_assert_run(&r, !r.timed_out && r.exited && r.status != 0,
			      "cvm did not fail without user namespaces");
		cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
		cr_assert_run(&r, strstr(r.err, "user namespace"),
			      "stderr does not name user namespaces");
		cr_assert_run(&r, strstr(r.err, "--disable-sandbox"),
			      "stderr does not mention --disable-sandbox");
		cr_assert_run(&r, !strstr(r.out, "PASS "), "the guest ran");
		cr_log_info("without user namespaces: %s; %.300s", runner_how(&r), r.err);
		runner_free(&r);
	}
	/* What the message says to do works. */
	run_rng(&r, true);
	runner_assert_passed(&r, "rng");
	runner_free(&r);
}
