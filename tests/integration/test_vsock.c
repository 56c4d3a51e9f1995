// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-vsock through `cvm run --cid 3 --vsock-uds DIR/v.sock`: the guest's
 * vsock_* tests (tests/guest/t_vsock.c) talk to servers and clients run
 * here on threads, in Firecracker's scheme (DIR/v.sock_<port> for guest
 * connections, "CONNECT <port>\n" on DIR/v.sock for host ones). Each data
 * test checks every byte on the host side and reports MB/s on stderr.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

#define VSOCK_TIMEOUT 120
#define TOTAL (1024 * 1024)
#define GOLD 0x9e3779b97f4a7c15ULL

static char *tmpdir;
static char *uds;
/*
 * CIDs are unique per host (cvm locks them), and tests run in parallel:
 * each test (its own Criterion worker process) takes CIDs from its pid.
 */
static char cid_a[16], cid_b[16];

static void setup(void)
{
	snprintf(cid_a, sizeof(cid_a), "%u", 100000u + 2u * (unsigned int)getpid());
	snprintf(cid_b, sizeof(cid_b), "%u", 100001u + 2u * (unsigned int)getpid());
	tmpdir = make_temp_dir();
	cr_assert(tmpdir, "cannot create a temporary directory: %s", strerror(errno));
	cr_assert(asprintf(&uds, "%s/v.sock", tmpdir) > 0);
}

static void teardown(void)
{
	rm_rf(tmpdir);
	free(tmpdir);
	free(uds);
	tmpdir = uds = NULL;
}

TestSuite(vsock, .init = setup, .fini = teardown);

/* Byte @k of the guest's vs_pattern(@seed). */
static uint8_t pattern(uint64_t seed, uint64_t k)
{
	return (uint8_t)((seed ^ ((k / 8) * GOLD)) >> (8 * (k % 8)));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum srv_mode { SRV_ECHO, SRV_HOLD };

struct server {
	char *path;
	enum srv_mode mode;
	int lfd;
	pthread_t th;
	atomic_bool stop;
	/* Results. */
	unsigned int accepted;
	uint64_t bytes;	    /* received (and echoed) */
	uint64_t bad_at;    /* first byte that is not the pattern, or UINT64_MAX */
	double first, last; /* times of the first and last byte */
	bool eof;	    /* the connection ended */
	char err[128];
};

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };

	return poll(&p, 1, ms);
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	static __thread uint8_t buf[65536];
	int c = -1;

	while (!s->stop && c < 0) {
		if (wait_fd(s->lfd, POLLIN, 100) > 0)
			c = accept(s->lfd, NULL, NULL);
	}
	if (c < 0)
		return NULL;
	s->accepted++;
	while (!s->stop) {
		ssize_t n;

		if (s->mode == SRV_HOLD) {
			usleep(20000); /* never reads */
			continue;
		}
		if (wait_fd(c, POLLIN, 100) <= 0)
			continue;
		n = read(c, buf, sizeof(buf));
		if (n <= 0) {
			s->eof = true;
			break;
		}
		if (!s->first)
			s->first = now();
		for (ssize_t i = 0; i < n && s->bad_at == UINT64_MAX; i++)
			if (buf[i] != pattern(1, s->bytes + (uint64_t)i))
				s->bad_at = s->bytes + (uint64_t)i;
		s->bytes += (uint64_t)n;
		s->last = now();
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(c, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				snprintf(s->err, sizeof(s->err), "echo write: %s", strerror(errno));
				goto out;
			}
			off += w;
		}
	}
out:
	close(c);
	return NULL;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", path,
		     strerror(errno));
	cr_assert_eq(listen(fd, 8), 0);
	return fd;
}

static void server_start(struct server *s, int port, enum srv_mode mode)
{
	memset(s, 0, sizeof(*s));
	cr_assert(asprintf(&s->path, "%s_%d", uds, port) > 0);
	s->mode = mode;
	s->bad_at = UINT64_MAX;
	s->lfd = listen_unix(s->path);
	cr_assert_eq(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
	s->stop = true;
	pthread_join(s->th, NULL);
	close(s->lfd);
	free(s->path);
}

static void run_guest(struct runner_result *r, const char *test)
{
	char p[64];
	const char *args[] = { "run", "--cid", cid_a, "--vsock-uds", uds, "-p", p, CVM_GUEST, NULL };
	struct runner_opts o = { .timeout_s = VSOCK_TIMEOUT };

	snprintf(p, sizeof(p), "cvm.test=%s", test);
	cr_assert_eq(runner_run(r, &o, args), 0, "cannot run cvm: %s", r->err);
}

static void expect_pass(const struct runner_result *r, const char *test)
{
	char pass[64];

	snprintf(pass, sizeof(pass), "PASS %s\n", test);
	cr_assert_run(r, r->exited && r->status == 0 && strstr(r->out, pass),
		      "guest test %s did not pass", test);
	cr_assert_run(r, !runner_sanitizer_report(r), "sanitizer report");
}

static void expect_uds_gone(void)
{
	struct stat st;

	cr_assert(lstat(uds, &st) && errno == ENOENT, "%s is still there after the run", uds);
}

Test(vsock, echo_out)
{
	struct runner_result r;
	struct server s;

	REQUIRE_KVM();
	server_start(&s, 5000, SRV_ECHO);
	run_guest(&r, "vsock_echo_out");
	server_stop(&s);
	expect_pass(&r, "vsock_echo_out");
	cr_assert_eq(s.accepted, 1);
	cr_assert_eq(s.bytes, TOTAL, "the echo server got %llu bytes", (unsigned long long)s.bytes);
	cr_assert_eq(s.bad_at, UINT64_MAX, "byte %llu from the guest is wrong",
		     (unsigned long long)s.bad_at);
	cr_assert(s.eof, "the guest's SHUTDOWN did not reach the host socket");
	cr_assert_str_empty(s.err);
	fprintf(stderr, "vsock echo_out: 1 MiB guest->host->guest in %.3f s: %.2f MB/s each way\n",
		s.last - s.first, TOTAL / 1e6 / (s.last - s.first));
	expect_uds_gone();
	runner_free(&r);
}

struct client {
	const char *path;
	int port;
	char ok[64];
	uint64_t sent, got, bad_at;
	double secs;
	char err[160];
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t *data = malloc(TOTAL), *back = malloc(TOTAL);
	char line[64];
	size_t ll = 0;
	double t0, deadline = now() + VSOCK_TIMEOUT;
	int fd = -1;

	c->bad_at = UINT64_MAX;
	if (!data || !back) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		goto out;
	}
	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 11) + 3);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(fd);
		fd = -1;
		if (now() > deadline) {
			snprintf(c->err, sizeof(c->err), "cannot connect to %s", c->path);
			goto out;
		}
		usleep(20000);
	}
	dprintf(fd, "CONNECT %d\n", c->port);
	while (ll < sizeof(line) - 1 && (ll == 0 || line[ll - 1] != '\n')) {
		if (wait_fd(fd, POLLIN, 1000) <= 0 && now() > deadline)
			break;
		if (read(fd, line + ll, 1) != 1)
			break;
		ll++;
	}
	line[ll] = '\0';
	snprintf(c->ok, sizeof(c->ok), "%s", line);
	if (strncmp(line, "OK ", 3)) {
		snprintf(c->err, sizeof(c->err), "no OK line (got '%s')", line);
		goto out;
	}
	t0 = now();
	while (c->got < TOTAL && now() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (c->sent < TOTAL)
			p.events |= POLLOUT;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (p.revents & POLLOUT) {
			size_t len = TOTAL - c->sent < 65536 ? TOTAL - c->sent : 65536;

			n = send(fd, data + c->sent, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				c->sent += (uint64_t)n;
				if (c->sent == TOTAL)
					shutdown(fd, SHUT_WR);
			}
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			n = read(fd, back + c->got, TOTAL - c->got);
			if (n <= 0)
				break;
			c->got += (uint64_t)n;
		}
	}
	c->secs = now() - t0;
	for (uint64_t i = 0; i < c->got && c->bad_at == UINT64_MAX; i++)
		if (back[i] != data[i])
			c->bad_at = i;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	free(back);
	return NULL;
}

Test(vsock, echo_in)
{
	struct runner_result r;
	struct client c = { .path = uds, .port = 6000 };
	pthread_t th;

	REQUIRE_KVM();
	cr_assert_eq(pthread_create(&th, NULL, client_main, &c), 0);
	run_guest(&r, "vsock_echo_in");
	pthread_join(th, NULL);
	expect_pass(&r, "vsock_echo_in");
	cr_assert_str_empty(c.err, "host client: %s", c.err);
	cr_assert(!strncmp(c.ok, "OK 1073741824\n", 14), "OK line '%s'", c.ok);
	cr_assert_eq(c.sent, TOTAL);
	cr_assert_eq(c.got, TOTAL, "%llu bytes came back", (unsigned long long)c.got);
	cr_assert_eq(c.bad_at, UINT64_MAX, "echoed byte %llu differs",
		     (unsigned long long)c.bad_at);
	fprintf(stderr, "vsock echo_in: 1 MiB host->guest->host in %.3f s: %.2f MB/s each way\n",
		c.secs, TOTAL / 1e6 / c.secs);
	expect_uds_gone();
	runner_free(&r);
}

Test(vsock, stall)
{
	struct runner_result r;
	struct server a, b;
	char *line;

	REQUIRE_KVM();
	server_start(&a, 7000, SRV_HOLD);
	server_start(&b, 7001, SRV_ECHO);
	run_guest(&r, "vsock_stall");
	server_stop(&a);
	server_stop(&b);
	expect_pass(&r, "vsock_stall");
	line = find_line(r.out, "VSOCK stall A took ");
	cr_assert_run(&r, line, "no 'VSOCK stall A' line");
	/* More than the socket alone holds: the device buffered up to its credit. */
	cr_assert_run(&r, strtoul(line + 19, NULL, 10) > 256 * 1024, "the device took only %s",
		      line + 19);
	free(line);
	cr_assert_eq(a.accepted, 1);
	cr_assert_eq(b.bytes, 65536);
	cr_assert_eq(b.bad_at, UINT64_MAX, "byte %llu on B is wrong", (unsigned long long)b.bad_at);
	runner_free(&r);
}

static void expect_fail(const char *const *args, const char *what)
{
	struct runner_result r;
	struct runner_opts o = { .timeout_s = 30 };

	cr_assert_eq(runner_run(&r, &o, args), 0);
	cr_assert_run(&r, r.exited && r.status != 0, "cvm run should fail");
	cr_assert_run(&r, strstr(r.err, what), "stderr should say '%s'", what);
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	runner_free(&r);
}

Test(vsock, bad_cid)
{
	const char *c2[] = { "run", "--cid", "2", "--vsock-uds", uds, CVM_GUEST, NULL };
	const char *c0[] = { "run", "--cid", "0", "--vsock-uds", uds, CVM_GUEST, NULL };
	const char *c1[] = { "run", "--cid", "1", CVM_GUEST, NULL };
	/* --cid 0 alone once booted with no vsock device at all. */
	const char *c0_alone[] = { "run", "--cid", "0", CVM_GUEST, NULL };

	expect_fail(c2, "cid 2");
	expect_fail(c0, "cid 0");
	expect_fail(c1, "cid 1");
	expect_fail(c0_alone, "cid 0");
	expect_uds_gone();
}

struct run_job {
	struct runner_result *r;
	struct runner_opts *o;
	const char *const *a;
};

static void *run_job_main(void *p)
{
	struct run_job *j = p;

	runner_run(j->r, j->o, j->a);
	return NULL;
}

/* A second VM on the same socket path fails; a stale socket is replaced. */
Test(vsock, uds_in_use)
{
	char *ctl;
	const char *first[] = { "run", "--cid", cid_a,		 "--vsock-uds", uds, "-s",
				NULL,  "-p",	"cvm.test=spin", CVM_GUEST,	NULL };
	const char *second[] = { "run", "--cid", cid_b, "--vsock-uds", uds, CVM_GUEST, NULL };
	char *uds2;
	const char *same_cid[] = { "run", "--cid", cid_a, "--vsock-uds", NULL, CVM_GUEST, NULL };
	struct runner_result r1, r2;
	struct runner_opts o = { .timeout_s = 60 };
	pthread_t th;
	struct stat st;
	struct run_job job = { &r1, &o, first };

	REQUIRE_KVM();
	cr_assert(asprintf(&ctl, "%s/ctl.sock", tmpdir) > 0);
	first[6] = ctl;
	/* The first VM runs (in a thread) until `cvm stop`. */
	cr_assert_eq(pthread_create(&th, NULL, run_job_main, &job), 0);
	for (int i = 0; i < 500 && (lstat(uds, &st) || lstat(ctl, &st)); i++)
		usleep(20000);
	cr_assert_eq(lstat(uds, &st), 0, "the first VM did not create %s", uds);
	expect_fail(second, "in use");
	/* The same CID on another socket path: refused too. */
	cr_assert(asprintf(&uds2, "%s/other.sock", tmpdir) > 0);
	same_cid[4] = uds2;
	expect_fail(same_cid, "is in use by another VM");
	free(uds2);
	{
		const char *stop[] = { "stop", ctl, NULL };

		cr_assert_eq(runner_run(&r2, &o, stop), 0);
		runner_free(&r2);
	}
	pthread_join(th, NULL);
	cr_assert_run(&r1, r1.exited && r1.status == 0, "the first VM");
	cr_assert(lstat(uds, &st) && errno == ENOENT, "%s is still there", uds);
	runner_free(&r1);

	/* A stale socket (nobody listens) is replaced. */
	close(listen_unix(uds));
	cr_assert_eq(lstat(uds, &st), 0);
	{
		const char *again[] = { "run", "--cid",	       cid_a,	  "--vsock-uds", uds,
					"-p",  "cvm.test=rtc", CVM_GUEST, NULL };

		cr_assert_eq(runner_run(&r2, &o, again), 0);
		expect_pass(&r2, "rtc");
		runner_free(&r2);
	}
	expect_uds_gone();
	free(ctl);
}
