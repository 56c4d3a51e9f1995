// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-net through `cvm run --host_ip/--netmask`, `--tap-name` and
 * `--tap-fd`: the guest's net_* tests (tests/guest/t_net.c) talk to the host
 * kernel across the TAP. Every test first moves its own process (Criterion
 * runs each test in a process of its own) into a new network namespace, so
 * nothing reaches any real network, and the namespace, its TAP devices and
 * addresses vanish when the test ends, failed or not. Needs root and
 * /dev/net/tun; skips saying so otherwise.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

#define NET_TIMEOUT 60
#define HOST_IP "10.0.2.2"
#define NETMASK "255.255.255.0"
#define TSO_PAYLOAD 20480
#define MRG_PAYLOAD 6000

TestSuite(net);

static void write_proc(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, v, strlen(v)) < 0) {
			/* IPv6 noise is only noise: the guest skips it. */
		}
		close(fd);
	}
}

/* Skip unless root with /dev/net/tun; then enter a new, private network namespace. */
static void enter_netns(void)
{
	int fd;

	REQUIRE_KVM();
	if (geteuid() != 0)
		cr_skip_test("virtio-net tests need root (TAP devices, network namespaces)");
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("/dev/net/tun: %s", strerror(errno));
	close(fd);
	if (unshare(CLONE_NEWNET))
		cr_skip_test("unshare(CLONE_NEWNET): %s", strerror(errno));
	write_proc("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_proc("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
}

static void run_guest(struct runner_result *r, const char *test, const char *const *net_args)
{
	const char *args[24];
	char p[64];
	size_t n = 0;

	snprintf(p, sizeof(p), "cvm.test=%s", test);
	args[n++] = "run";
	for (size_t i = 0; net_args[i] && n < 18; i++)
		args[n++] = net_args[i];
	args[n++] = "-p";
	args[n++] = p;
	args[n++] = CVM_GUEST;
	args[n] = NULL;
	struct runner_opts o = { .timeout_s = NET_TIMEOUT };

	cr_assert_eq(runner_run(r, &o, args), 0, "cannot start cvm: %s", r->err);
}

static void assert_pass(struct runner_result *r, const char *test)
{
	char pass[64];

	snprintf(pass, sizeof(pass), "PASS %s\n", test);
	cr_assert_run(r, r->exited && r->status == 0, "cvm did not exit 0");
	cr_assert_run(r, strstr(r->out, pass), "no '%s'", test);
	cr_assert_run(r, !runner_sanitizer_report(r), "sanitizer report");
}

static const char *const ip_args[] = { "--host_ip", HOST_IP, "--netmask", NETMASK, NULL };

Test(net, arp_and_ping)
{
	struct runner_result r;

	enter_netns();
	run_guest(&r, "net", ip_args);
	assert_pass(&r, "net");
	cr_assert_run(&r, strstr(r.out, "NET ARP ok"), "no ARP reply");
	cr_assert_run(&r, strstr(r.out, "NET PING ok"), "no ping reply");
	runner_free(&r);
}

Test(net, explicit_mac)
{
	struct runner_result r;
	const char *const args[] = { "--host_ip",	  HOST_IP, "--netmask", NETMASK, "--mac",
				     "02:00:00:AB:cd:01", NULL };

	enter_netns();
	run_guest(&r, "net", args);
	assert_pass(&r, "net");
	cr_assert_run(&r, strstr(r.out, "NET mac 02:00:00:ab:cd:01 "), "MAC not used");
	runner_free(&r);
}

/* A frame the guest sent, as a packet socket on the host sees it. */
static bool is_tso_frame(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *tcp = ip + 20;

	if (len != 14 + 40 + TSO_PAYLOAD || f[12] != 0x08 || f[13] != 0x00 || ip[9] != 6 ||
	    ((tcp[2] << 8) | tcp[3]) != 5555)
		return false;
	for (unsigned int i = 0; i < TSO_PAYLOAD; i++)
		if (tcp[20 + i] != (uint8_t)(i * 7 + 3))
			return false;
	return true;
}

Test(net, tso_frame_reaches_host)
{
	struct runner_result r;
	static uint8_t buf[70000];
	bool found = false;
	unsigned int frames = 0;
	int s;

	enter_netns();
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	cr_assert(s >= 0, "AF_PACKET socket: %s", strerror(errno));
	run_guest(&r, "net_tso", ip_args);
	assert_pass(&r, "net_tso");
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);

		if (n < 0)
			break;
		frames++;
		if (from.sll_pkttype != PACKET_OUTGOING && (size_t)n <= sizeof(buf) &&
		    is_tso_frame(buf, (size_t)n))
			found = true;
	}
	close(s);
	cr_assert_run(&r, found, "the host saw %u frames, none the 20 KiB TCP segment", frames);
	runner_free(&r);
}

/* The host side of net_mrg and net_link: answer (or act on) the guest's UDP hello. */
struct responder {
	int s;
	bool delete_tap; /* net_link: delete the TAP the hello came through */
	bool got_hello;
	char ifname[IF_NAMESIZE];
	char error[256];
};

static void *respond(void *arg)
{
	struct responder *rs = arg;
	char buf[256], cbuf[256];
	struct sockaddr_in from;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_name = &from,
			    .msg_namelen = sizeof(from),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	unsigned int ifindex = 0;
	struct ifreq ifr;
	ssize_t n = recvmsg(rs->s, &m, 0);

	if (n < 0) {
		snprintf(rs->error, sizeof(rs->error), "no UDP hello from the guest: %s",
			 strerror(errno));
		return NULL;
	}
	rs->got_hello = true;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			ifindex = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_ifindex;
	if (!ifindex || !if_indextoname(ifindex, rs->ifname)) {
		snprintf(rs->error, sizeof(rs->error), "no interface for the hello");
		return NULL;
	}
	if (rs->delete_tap) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "ip link del dev %s", rs->ifname);
		if (system(cmd))
			snprintf(rs->error, sizeof(rs->error), "'%s' failed", cmd);
		return NULL;
	}
	/* One 6000-byte datagram in one frame: the TAP's MTU must allow it. */
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", rs->ifname);
	ifr.ifr_mtu = 9000;
	if (ioctl(rs->s, SIOCSIFMTU, &ifr)) {
		snprintf(rs->error, sizeof(rs->error), "SIOCSIFMTU %s: %s", rs->ifname,
			 strerror(errno));
		return NULL;
	}
	static uint8_t big[MRG_PAYLOAD];

	for (unsigned int i = 0; i < MRG_PAYLOAD; i++)
		big[i] = (uint8_t)(i * 13 + 5);
	if (sendto(rs->s, big, sizeof(big), 0, (struct sockaddr *)&from, sizeof(from)) < 0)
		snprintf(rs->error, sizeof(rs->error), "sendto: %s", strerror(errno));
	return NULL;
}

static void start_responder(struct responder *rs, pthread_t *th, bool delete_tap)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7777) };
	struct timeval tv = { .tv_sec = NET_TIMEOUT };
	int one = 1;

	memset(rs, 0, sizeof(*rs));
	rs->delete_tap = delete_tap;
	rs->s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(rs->s >= 0);
	cr_assert(!setsockopt(rs->s, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)));
	cr_assert(!setsockopt(rs->s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	cr_assert(!bind(rs->s, (struct sockaddr *)&a, sizeof(a)), "bind: %s", strerror(errno));
	cr_assert(!pthread_create(th, NULL, respond, rs));
}

static void stop_responder(struct responder *rs, pthread_t th)
{
	shutdown(rs->s, SHUT_RDWR);
	pthread_join(th, NULL);
	close(rs->s);
}

Test(net, mergeable_rx_buffers)
{
	struct runner_result r;
	struct responder rs;
	pthread_t th;

	enter_netns();
	start_responder(&rs, &th, false);
	run_guest(&r, "net_mrg", ip_args);
	stop_responder(&rs, th);
	cr_assert_run(&r, !rs.error[0], "host side: %s", rs.error);
	assert_pass(&r, "net_mrg");
	cr_assert_run(&r, strstr(r.out, "NET MRG ok"), "no MRG line");
	runner_free(&r);
}

Test(net, tap_deleted_while_running)
{
	struct runner_result r;
	struct responder rs;
	pthread_t th;

	enter_netns();
	start_responder(&rs, &th, true);
	run_guest(&r, "net_link", ip_args);
	stop_responder(&rs, th);
	cr_assert_run(&r, !rs.error[0], "host side: %s", rs.error);
	assert_pass(&r, "net_link");
	cr_assert_run(&r, strstr(r.out, "NET LINK down"), "the guest did not see the link go down");
	runner_free(&r);
}

/* A TAP made here: persistent (for --tap-name) or kept open (for --tap-fd). */
static int make_tap(const char *name, bool persist, bool vnet_hdr)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR); /* no O_CLOEXEC: cvm inherits it */

	cr_assert(fd >= 0, "/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	cr_assert(!ioctl(fd, TUNSETIFF, &ifr), "TUNSETIFF: %s", strerror(errno));
	if (persist) {
		cr_assert(!ioctl(fd, TUNSETPERSIST, 1), "TUNSETPERSIST: %s", strerror(errno));
		close(fd);
		fd = -1;
	}
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "ip addr add %s/24 dev %s && ip link set %s up", HOST_IP, name,
		 name);
	cr_assert(!system(cmd), "'%s' failed", cmd);
	return fd;
}

Test(net, tap_name)
{
	struct runner_result r;
	const char *const args[] = { "--tap-name", "cvmtest0", NULL };

	enter_netns();
	make_tap("cvmtest0", true, true);
	run_guest(&r, "net", args);
	assert_pass(&r, "net");
	runner_free(&r);
}

Test(net, tap_fd)
{
	struct runner_result r;
	char fds[16];
	int fd;

	enter_netns();
	fd = make_tap("cvmtest1", false, true);
	snprintf(fds, sizeof(fds), "%d", fd);
	const char *const args[] = { "--tap-fd", fds, NULL };

	run_guest(&r, "net", args);
	assert_pass(&r, "net");
	/* The descriptor is the caller's: still open after the run. */
	cr_assert(fcntl(fd, F_GETFD) >= 0, "cvm closed our TAP descriptor");
	close(fd);
	runner_free(&r);
}

static void expect_status(const char *const *net_args, int status, const char *msg)
{
	struct runner_result r;

	run_guest(&r, "net", net_args);
	cr_assert_run(&r, r.exited && r.status == status, "want exit %d", status);
	cr_assert_run(&r, strstr(r.err, msg), "stderr lacks '%s'", msg);
	cr_assert_run(&r, !strstr(r.out, "PASS"), "the guest ran");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	runner_free(&r);
}

static void expect_error(const char *const *net_args, const char *msg)
{
	expect_status(net_args, 1, msg);
}

Test(net, bad_options)
{
	REQUIRE_KVM();
	expect_error((const char *const[]){ "--host_ip", HOST_IP, NULL }, "needs a netmask");
	expect_error((const char *const[]){ "--netmask", NETMASK, NULL }, "needs a host address");
	expect_error((const char *const[]){ "--host_ip", "10.0.2.300", "--netmask", NETMASK, NULL },
		     "not an IPv4 address");
	expect_error((const char *const[]){ "--host_ip", HOST_IP, "--netmask", "255.0.255.0",
					    NULL },
		     "not an IPv4 netmask");
	expect_error((const char *const[]){ "--host_ip", HOST_IP, "--netmask", NETMASK, "--mac",
					    "52:54:00:12:34", NULL },
		     "bad MAC address");
	expect_error((const char *const[]){ "--host_ip", HOST_IP, "--netmask", NETMASK, "--mac",
					    "01:00:5e:00:00:01", NULL },
		     "bad MAC address");
	expect_error((const char *const[]){ "--host_ip", HOST_IP, "--netmask", NETMASK,
					    "--tap-name", "tap0", NULL },
		     "choose one of");
	expect_error((const char *const[]){ "--mac", "52:54:00:12:34:56", NULL },
		     "virtio-net needs");
	expect_error((const char *const[]){ "--tap-fd", "999", NULL }, "is not open");
	expect_error((const char *const[]){ "--tap-fd", "0", NULL }, "not an attached TAP");
	/* Refused by the command-line parser already: a usage error. */
	expect_status((const char *const[]){ "--tap-fd", "-1", NULL }, 2, "--tap-fd");
}

Test(net, bad_taps)
{
	enter_netns();
	expect_error((const char *const[]){ "--tap-name", "nosuchtap0", NULL },
		     "no network device named");
	/* A TAP without IFF_VNET_HDR cannot carry the virtio header. */
	int fd = make_tap("cvmtest2", false, false);
	char fds[16];

	snprintf(fds, sizeof(fds), "%d", fd);
	expect_error((const char *const[]){ "--tap-fd", fds, NULL }, "IFF_VNET_HDR");
	close(fd);
}

struct flow {
	unsigned int frames;
	uint64_t bytes;
	double first, last;
};

static void flow_add(struct flow *f, size_t len, double ts)
{
	if (!f->frames++)
		f->first = ts;
	f->last = ts;
	f->bytes += len;
}

static void flow_report(const char *what, const struct flow *f)
{
	double secs = f->last - f->first;
	unsigned int n = f->frames > 1 ? f->frames - 1 : 0; /* intervals after the first */
	double per = n ? (double)f->bytes * n / f->frames : 0;

	if (secs <= 0)
		return;
	cr_log_info("virtio-net guest->host %s: %u frames, %.0f frames/s, %.1f MB/s", what,
		    f->frames, n / secs, per / secs / 1e6);
	fprintf(stderr,
		"virtio-net guest->host %s: %u frames in %.3f s: %.0f frames/s, %.1f MB/s\n", what,
		f->frames, secs, n / secs, per / secs / 1e6);
}

/*
 * net_bench: 256 TSO segments of 20 KiB, then 1024 minimum UDP frames, as
 * fast as the (emulated, ring-0) guest can queue them. Counted and timed on
 * a host packet socket; the rates are printed (guest-bound on these hosts).
 */
Test(net, throughput_guest_to_host)
{
	struct runner_result r;
	static uint8_t buf[70000];
	struct flow tso = { 0 }, small = { 0 };
	int s, sz = 64 << 20;

	enter_netns();
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_IP));
	cr_assert(s >= 0, "AF_PACKET socket: %s", strerror(errno));
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	run_guest(&r, "net_bench", ip_args);
	assert_pass(&r, "net_bench");
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);
		struct timespec ts;
		const uint8_t *ip = buf + 14, *l4 = ip + 20;
		double t;

		if (n < 0)
			break;
		if (from.sll_pkttype == PACKET_OUTGOING || n < 14 + 28 || n > (ssize_t)sizeof(buf))
			continue;
		t = ioctl(s, SIOCGSTAMPNS, &ts) ? 0 : ts.tv_sec + ts.tv_nsec / 1e9;
		if (ip[9] == 6 && ((l4[2] << 8) | l4[3]) == 5556 && n == 14 + 40 + TSO_PAYLOAD)
			flow_add(&tso, (size_t)n, t);
		else if (ip[9] == 17 && ((l4[2] << 8) | l4[3]) == 9)
			flow_add(&small, (size_t)n, t);
	}
	close(s);
	cr_assert_run(&r, tso.frames == 256, "the host saw %u of 256 TSO segments", tso.frames);
	cr_assert_run(&r, small.frames == 1024, "the host saw %u of 1024 small frames",
		      small.frames);
	flow_report("20 KiB TSO segments", &tso);
	flow_report("60-byte frames", &small);
	runner_free(&r);
}
