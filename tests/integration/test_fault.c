// SPDX-License-Identifier: BSD-3-Clause
/*
 * Faults injected from the host while a guest runs (the guest halves are
 * tests/guest/t_fault.c, t_net.c net_gone, t_vsock.c vsock_reset):
 *
 *   full_fs*:	the disk image is a sparse file on a 2 MiB tmpfs (mounted in
 *		a private mount namespace); the guest's flushed writes
 *		succeed, later ones fail with IOERR, the VM runs on and the
 *		flushed data is in the image.
 *   eio*:	the disk is a loop device whose backing file loses its
 *		second half mid-run: reads there fail with IOERR (the loop
 *		driver's EIO), the rest of the disk works.
 *   tap_gone:	the TAP is deleted (`ip link del`) while the guest uses it:
 *		the link goes down with a log line, the disk still works,
 *		cvm does not spin (CPU time over one second), SIGTERM ends
 *		the run normally.
 *   vsock_peer_gone: host Unix sockets closed mid-stream, both ways: the
 *		guest sees RST or SHUTDOWN and opens new connections.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cvmproc.h"

#define RUN_TIMEOUT 60
#define SECTOR 512

static char *tmpdir;

/* Made by each test: Criterion runs .init for disabled tests too, and not .fini. */
static void make_tmpdir(void)
{
	tmpdir = make_temp_dir();
	cr_assert(tmpdir, "cannot create a temporary directory: %s", strerror(errno));
}

static void teardown(void)
{
	char mnt[512];

	fproc_cleanup();
	if (!tmpdir)
		return;
	snprintf(mnt, sizeof(mnt), "%s/mnt", tmpdir);
	umount2(mnt, MNT_DETACH);
	rm_rf(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

TestSuite(fault, .fini = teardown);

static void require_root(const char *what)
{
	REQUIRE_KVM();
	if (geteuid() != 0)
		cr_skip_test("%s needs root", what);
	make_tmpdir();
}

static void assert_passed(const struct runner_result *r, const char *test)
{
	char pass[64];

	snprintf(pass, sizeof(pass), "PASS %s\n", test);
	cr_assert_run(r, strstr(r->out, pass), "no '%s'", test);
	cr_assert_run(r, !strstr(r->out, "FAIL "), "the guest failed");
	cr_assert_run(r, r->exited && r->status == 0, "cvm did not exit 0");
	cr_assert_run(r, !runner_sanitizer_report(r), "sanitizer report");
}

/* ---- a disk image on a full file system ---------------------------------------------- */

static uint64_t fill_word(uint64_t q)
{
	return 0xf111000000000000ull ^ (q * 0x9e3779b97f4a7c15ull);
}

static void full_fs(bool direct)
{
	char mnt[512], img[600], disk[640];
	struct runner_result r;
	uint64_t *data;
	char *line;
	size_t len;
	int fd;

	require_root("mounting a small tmpfs");
	if (unshare(CLONE_NEWNS))
		cr_skip_test("unshare(CLONE_NEWNS): %s", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0, "making / private: %s",
		     strerror(errno));
	snprintf(mnt, sizeof(mnt), "%s/mnt", tmpdir);
	cr_assert_eq(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m,mode=0700"))
		cr_skip_test("mounting a 2 MiB tmpfs: %s", strerror(errno));
	/* 16 MiB, sparse, on 2 MiB of space. */
	snprintf(img, sizeof(img), "%s/disk.img", mnt);
	fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", img, strerror(errno));
	cr_assert_eq(ftruncate(fd, 16 << 20), 0);
	close(fd);
	snprintf(disk, sizeof(disk), "%s%s", img, direct ? ",o_direct=true" : "");

	const char *extra[] = { "--rwdisk", disk, NULL };
	struct runner_opts o = { .timeout_s = RUN_TIMEOUT };

	runner_guest(&r, &o, "fault_fill", extra);
	assert_passed(&r, "fault_fill");
	cr_assert_run(&r, strstr(r.out, "FILL flushed 64\n"), "no FILL flushed line");
	cr_assert_run(&r, strstr(r.out, "FILL ioerr at sector "), "no IOERR");
	cr_assert_run(&r, strstr(r.out, "FILL readback ok\n"), "no readback");
	data = (uint64_t *)read_file(img, &len);
	cr_assert(data && len == 16 << 20, "%s: %zu bytes", img, len);
	for (size_t q = 0; q < 64 * SECTOR / 8; q++)
		cr_assert_eq(data[q], fill_word(q), "image qword %zu: 0x%llx, want 0x%llx", q,
			     (unsigned long long)data[q], (unsigned long long)fill_word(q));
	line = find_line(r.out, "FILL ioerr");
	cr_log_info("full_fs%s: %s", direct ? " (O_DIRECT)" : "", line);
	free(line);
	free(data);
	runner_free(&r);
}

Test(fault, full_fs)
{
	full_fs(false);
}

Test(fault, full_fs_direct)
{
	full_fs(true);
}

/* ---- EIO from a loop device whose backing file shrank --------------------------------- */

/* A loop device on @backing (autoclear); its fd, the path in @dev. */
static int loop_attach(const char *backing, char *dev, size_t devsz)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC), bfd, lfd = -1;

	if (ctl < 0)
		cr_skip_test("/dev/loop-control: %s", strerror(errno));
	bfd = open(backing, O_RDWR | O_CLOEXEC);
	cr_assert_geq(bfd, 0);
	for (int tries = 0; tries < 20 && lfd < 0; tries++) {
		struct loop_config c = { .fd = (uint32_t)bfd };
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0)
			cr_skip_test("LOOP_CTL_GET_FREE: %s", strerror(errno));
		snprintf(dev, devsz, "/dev/loop%d", n);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			cr_skip_test("%s: %s", dev, strerror(errno));
		c.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(lfd, LOOP_CONFIGURE, &c)) {
			int e = errno;

			close(lfd);
			lfd = -1;
			if (e != EBUSY) /* another test took it: try the next one */
				cr_skip_test("LOOP_CONFIGURE %s: %s", dev, strerror(e));
		}
	}
	close(bfd);
	close(ctl);
	cr_assert_geq(lfd, 0, "no free loop device");
	return lfd;
}

static void eio(bool direct)
{
	char backing[512], dev[64], disk[96];
	struct runner_result r;
	struct fproc p;
	int lfd, fd;

	require_root("a loop device");
	snprintf(backing, sizeof(backing), "%s/backing.img", tmpdir);
	fd = open(backing, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	lfd = loop_attach(backing, dev, sizeof(dev));
	snprintf(disk, sizeof(disk), "%s%s", dev, direct ? ",o_direct=true" : "");

	const char *args[] = { "--rwdisk", disk, "-p", "cvm.test=fault_eio", CVM_GUEST, NULL };

	fproc_start(&p, args);
	if (fproc_wait(&p, "EIO ready\n", 30)) {
		/* Sectors 1024.. are gone; drop what the page cache holds of them. */
		cr_assert_eq(truncate(backing, 512 << 10), 0, "truncate: %s", strerror(errno));
		cr_assert_eq(ioctl(lfd, BLKFLSBUF, 0), 0, "BLKFLSBUF: %s", strerror(errno));
		fproc_send(&p, "g");
	}
	fproc_finish(&p, &r, RUN_TIMEOUT);
	ioctl(lfd, LOOP_CLR_FD, 0);
	close(lfd);
	assert_passed(&r, "fault_eio");
	cr_assert_run(&r, strstr(r.out, "EIO read 1536 status 1\n"), "no IOERR line");
	runner_free(&r);
}

Test(fault, eio)
{
	eio(false);
}

Test(fault, eio_direct)
{
	eio(true);
}

/* ---- a TAP deleted under a running guest ---------------------------------------------- */

static void write_proc(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, v, strlen(v)) < 0) {
			/* IPv6 noise is only noise. */
		}
		close(fd);
	}
}

/* CPU seconds of cvm and its device processes. */
static double tree_cpu(pid_t pid)
{
	pid_t kids[32];
	unsigned int n = proc_children(pid, kids, 32);
	double t = proc_cpu(pid);

	for (unsigned int i = 0; i < n; i++)
		t += proc_cpu(kids[i]);
	return t;
}

/* CPU seconds cvm and its devices use in one second (the wall time in *@secs). */
static double busy_cpu(pid_t pid, double *secs)
{
	double t0 = fproc_now(), cpu0 = tree_cpu(pid), cpu1;

	usleep(1000000);
	cpu1 = tree_cpu(pid);
	*secs = fproc_now() - t0;
	return cpu1 - cpu0;
}

Test(fault, tap_gone)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7777) };
	char img[600], ifname[IF_NAMESIZE] = "", cmd[128], buf[256], cbuf[256];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct pollfd pfd;
	struct runner_result r;
	struct fproc p;
	double cpu, secs, t0;
	int one = 1, s, fd;

	require_root("TAP devices and network namespaces");
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("/dev/net/tun: %s", strerror(errno));
	close(fd);
	if (unshare(CLONE_NEWNET))
		cr_skip_test("unshare(CLONE_NEWNET): %s", strerror(errno));
	write_proc("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_proc("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	snprintf(img, sizeof(img), "%s/disk.img", tmpdir);
	fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s, 0);
	cr_assert(!setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)));
	cr_assert(!bind(s, (struct sockaddr *)&a, sizeof(a)), "bind: %s", strerror(errno));

	const char *args[] = { "--host_ip", "10.0.2.2", "--netmask", "255.255.255.0",
			       "--rwdisk",  img,	"-p",	     "cvm.test=net_gone",
			       CVM_GUEST,   NULL };

	fproc_start(&p, args);
	/* The guest's hello names the TAP; delete it. */
	for (t0 = fproc_now(); !ifname[0] && fproc_now() < t0 + 30 && !p.reaped;) {
		pfd = (struct pollfd){ .fd = s, .events = POLLIN };
		fproc_pump(&p, 0);
		if (poll(&pfd, 1, 100) <= 0 || recvmsg(s, &m, MSG_DONTWAIT) < 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
				if_indextoname(((struct in_pktinfo *)CMSG_DATA(c))->ipi_ifindex,
					       ifname);
	}
	close(s);
	if (ifname[0]) {
		snprintf(cmd, sizeof(cmd), "ip link del dev %s", ifname);
		cr_assert_eq(system(cmd), 0, "'%s' failed", cmd);
	}
	if (fproc_wait(&p, "NET GONE idle\n", 30)) {
		/* The guest halts; a device that spins on the dead TAP would show here. */
		fproc_pump(&p, 100);
		cpu = busy_cpu(p.pid, &secs);
		cr_log_info("tap_gone: cvm and its devices used %.3f s CPU in %.3f s", cpu, secs);
		cr_assert_lt(cpu, 0.2 * secs,
			     "cvm used %.3f s of CPU in %.3f s with the TAP gone and the guest "
			     "halted",
			     cpu, secs);
		kill(p.pid, SIGTERM);
	}
	fproc_finish(&p, &r, 20);
	cr_assert_run(&r, ifname[0], "no UDP hello from the guest");
	assert_passed(&r, "net_gone");
	cr_assert_run(&r, strstr(r.out, "BLK ok\n"), "the disk did not work after the TAP went");
	cr_assert_run(&r, strstr(r.err, "link down"), "no log line about the TAP");
	runner_free(&r);
}

/* ---- vsock host peers that go away ----------------------------------------------------- */

struct peer {
	int lfd;
	bool echo; /* else: read PEER_READ bytes, then close */
	pthread_t th;
	atomic_bool stop;
	uint64_t got;
	char err[128];
};

#define PEER_READ (100 * 1024)

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };

	return poll(&p, 1, ms);
}

static void *peer_main(void *arg)
{
	struct peer *s = arg;
	static __thread uint8_t buf[65536];
	int c = -1;

	while (!s->stop && c < 0)
		if (wait_fd(s->lfd, POLLIN, 50) > 0)
			c = accept(s->lfd, NULL, NULL);
	while (c >= 0 && !s->stop) {
		size_t want = s->echo ? sizeof(buf) : PEER_READ - s->got;
		ssize_t n;

		if (!s->echo && s->got >= PEER_READ)
			break; /* close in the middle of the guest's stream */
		if (wait_fd(c, POLLIN, 50) <= 0)
			continue;
		n = read(c, buf, want < sizeof(buf) ? want : sizeof(buf));
		if (n <= 0)
			break;
		s->got += (uint64_t)n;
		if (s->echo && write(c, buf, (size_t)n) != n) {
			snprintf(s->err, sizeof(s->err), "echo write: %s", strerror(errno));
			break;
		}
	}
	if (c >= 0)
		close(c);
	return NULL;
}

static void peer_start(struct peer *s, const char *uds, int port, bool echo)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	s->echo = echo;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%d", uds, port);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->lfd, 0);
	cr_assert_eq(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s",
		     sa.sun_path, strerror(errno));
	cr_assert_eq(listen(s->lfd, 4), 0);
	cr_assert_eq(pthread_create(&s->th, NULL, peer_main, s), 0);
}

static void peer_stop(struct peer *s)
{
	s->stop = true;
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* Asks for guest port @port through @uds; the socket, or -1 with @why. */
static int connect_line(const char *uds, int port, char *why, size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(why, whylen, "connect %s: %s", uds, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	dprintf(fd, "CONNECT %d\n", port);
	return fd;
}

/* Connects to guest port 6001 through @uds; the socket, or -1 with @why. */
static int connect_guest(const char *uds, char *why, size_t whylen)
{
	char line[64];
	size_t ll = 0;
	int fd = connect_line(uds, 6001, why, whylen);

	if (fd < 0)
		return -1;
	while (ll < sizeof(line) - 1 && (!ll || line[ll - 1] != '\n')) {
		if (wait_fd(fd, POLLIN, 10000) <= 0 || read(fd, line + ll, 1) != 1)
			break;
		ll++;
	}
	line[ll] = '\0';
	if (strncmp(line, "OK ", 3)) {
		snprintf(why, whylen, "no OK line (got '%s')", line);
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Sends up to @total bytes, until none went for @ms; returns what went. */
static size_t send_some(int fd, size_t total, int ms)
{
	static uint8_t data[16384];
	size_t sent = 0;

	memset(data, 0x3c, sizeof(data));
	while (sent < total && wait_fd(fd, POLLOUT, ms) > 0) {
		size_t n = total - sent < sizeof(data) ? total - sent : sizeof(data);
		ssize_t w = send(fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	return sent;
}

Test(fault, vsock_peer_gone)
{
	char uds[600], cid[16], why[160] = "", want[64];
	struct runner_result r;
	struct peer cut, echo;
	struct fproc p;
	size_t sent1 = 0, sent2 = 0;
	double cpu = -1, secs = 0;
	char *out_line, *in_line;
	int fd;

	REQUIRE_KVM();
	make_tmpdir();
	/* CIDs are unique per host: by pid, away from test_vsock.c's and test_sandbox.c's. */
	snprintf(cid, sizeof(cid), "%u", 20000000u + (unsigned int)getpid());
	snprintf(uds, sizeof(uds), "%s/v.sock", tmpdir);
	peer_start(&cut, uds, 8000, false);
	peer_start(&echo, uds, 8001, true);

	const char *args[] = { "--cid",	  cid, "--vsock-uds", uds, "-p", "cvm.test=vsock_reset",
			       CVM_GUEST, NULL };

	fproc_start(&p, args);
	/*
	 * Host -> guest, closed in the middle while the guest idles: more than
	 * its credit (the device holds the rest), and a connection closed
	 * before the guest could answer its REQUEST. Neither may make the
	 * device spin on the hung-up socket.
	 */
	if (fproc_wait(&p, "VSOCK listen 1\n", 30) &&
	    (fd = connect_guest(uds, why, sizeof(why))) >= 0) {
		if (fproc_wait(&p, "VSOCK idle\n", 10)) {
			int fd2;

			sent1 = send_some(fd, 1 << 20, 100);
			close(fd);
			fd2 = connect_line(uds, 6002, why, sizeof(why));
			usleep(100000);
			if (fd2 >= 0)
				close(fd2);
			usleep(100000);
			cpu = busy_cpu(p.pid, &secs);
		} else {
			close(fd);
		}
	}
	if (!why[0] && fproc_wait(&p, "VSOCK listen 2\n", 30) &&
	    (fd = connect_guest(uds, why, sizeof(why))) >= 0) {
		char b;

		sent2 = send_some(fd, 64 * 1024, 5000);
		shutdown(fd, SHUT_WR);
		/* The guest answers the SHUTDOWN; then the device closes the socket. */
		if (wait_fd(fd, POLLIN, 10000) <= 0 || read(fd, &b, 1) != 0)
			snprintf(why, sizeof(why), "the second connection did not end");
		close(fd);
	}
	fproc_finish(&p, &r, RUN_TIMEOUT);
	peer_stop(&cut);
	peer_stop(&echo);
	cr_assert_run(&r, !why[0], "host side: %s", why);
	assert_passed(&r, "vsock_reset");
	out_line = find_line(r.out, "VSOCK out reset");
	in_line = find_line(r.out, "VSOCK in 1");
	cr_log_info("vsock_peer_gone: %s; %s; host sent %zu; %.3f s CPU in %.3f s while idle",
		    out_line, in_line, sent1, cpu, secs);
	free(out_line);
	free(in_line);
	cr_assert_run(&r, cut.got == PEER_READ, "port 8000 got %llu bytes",
		      (unsigned long long)cut.got);
	cr_assert_run(&r, echo.got == 64 * 1024 && !echo.err[0], "port 8001 echoed %llu bytes %s",
		      (unsigned long long)echo.got, echo.err);
	cr_assert_run(&r, cpu >= 0, "no CPU time measured");
	cr_assert_run(&r, cpu < 0.2 * secs,
		      "cvm used %.3f s of CPU in %.3f s while the guest idled and the host "
		      "sockets were closed",
		      cpu, secs);
	cr_assert_run(&r, sent1 > 128 * 1024, "the host sent only %zu bytes on port 6001", sent1);
	cr_assert_eq(sent2, 64 * 1024);
	snprintf(want, sizeof(want), "VSOCK in 2 ended after %zu op 4\n", sent2);
	cr_assert_run(&r, strstr(r.out, want), "no '%s'", want);
	runner_free(&r);
}
