// SPDX-License-Identifier: BSD-3-Clause
/*
 * The malicious-guest suite (tests/guest/t_evil*.c): the guest breaks the
 * virtio and bus rules on purpose. Each run must end well (exit 0, no
 * sanitizer report, the guest's PASS line: every broken device went to
 * DEVICE_NEEDS_RESET or answered with an error, and worked again after a
 * reset), and nothing may be written outside the guest's own disk: vda
 * holds exactly the host's pattern plus what the guest wrote on purpose,
 * vdb (writable, never written) exactly the pattern, both at their size.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"

#define SECTOR 512
#define DISK_SIZE (1u << 20)
#define EVIL_TIMEOUT 90
#define USE_SECTOR 64	 /* tests/guest/t_evil.h EV_USE_SECTOR */
#define RESET_SECTOR 256 /* EV_RESET_SECTOR: evil_reset writes 256 sectors from here */

static char *tmpdir;

static void setup(void)
{
	tmpdir = make_temp_dir();
	cr_assert(tmpdir, "cannot create a temporary directory: %s", strerror(errno));
}

static void teardown(void)
{
	rm_rf(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

TestSuite(evil, .init = setup, .fini = teardown);

/* tests/guest/t_evil.h ev_pattern() and ev_byte(). */
static uint8_t pattern_byte(uint64_t s, unsigned int i)
{
	return (uint8_t)(s * 31 + i * 7 + 0x11);
}

static uint8_t evil_byte(uint64_t s, unsigned int i)
{
	return (uint8_t)(s * 5 + i * 11 + 0x3c);
}

static char *make_disk(const char *name)
{
	uint8_t *buf = malloc(DISK_SIZE);
	char *p;

	cr_assert(buf && asprintf(&p, "%s/%s", tmpdir, name) > 0);
	for (size_t off = 0; off < DISK_SIZE; off++)
		buf[off] = pattern_byte(off / SECTOR, (unsigned int)(off % SECTOR));
	cr_assert_eq(write_file(p, buf, DISK_SIZE), 0, "cannot write %s", p);
	free(buf);
	return p;
}

/* Sectors [@lo, @hi) hold evil_byte(), the rest the pattern; the size is unchanged. */
static void check_disk(const struct runner_result *r, const char *path, uint64_t lo, uint64_t hi,
		       bool use_sector)
{
	size_t len;
	uint8_t *got = (uint8_t *)read_file(path, &len);

	cr_assert_run(r, got, "cannot read %s back", path);
	cr_assert_run(r, len == DISK_SIZE, "%s is %zu bytes, want %u", path, len, DISK_SIZE);
	for (size_t off = 0; off < len; off++) {
		uint64_t s = off / SECTOR;
		unsigned int i = off % SECTOR;
		bool ours = (s >= lo && s < hi) || (use_sector && s == USE_SECTOR);
		uint8_t want = ours ? evil_byte(s, i) : pattern_byte(s, i);

		cr_assert_run(r, got[off] == want,
			      "%s: byte %zu (sector %llu) is 0x%02x, want 0x%02x", path, off,
			      (unsigned long long)s, got[off], want);
	}
	free(got);
}

/*
 * A guest that breaks and resets its devices in a loop must not flood the
 * host's log: per device, at most 10 warnings per 5 s (util/log.h), so at
 * most 10 per window the run lasted, plus the "suppressed" reports.
 */
static void check_warning_flood(const struct runner_result *r)
{
	static const char *const devs[] = { "virtio-blk vda", "virtio-blk vdb", "virtio-rng",
					    "virtio-vsock", "virtio-net" };
	unsigned int windows = (unsigned int)(r->secs / 5.0) + 1;

	for (size_t d = 0; d < sizeof(devs) / sizeof(devs[0]); d++) {
		unsigned int n = 0;

		for (const char *p = r->err; (p = strstr(p, devs[d])) != NULL; p++) {
			const char *eol = strchr(p, '\n');
			size_t len = eol ? (size_t)(eol - p) : strlen(p);

			if (memmem(p, len, "suppressed", 10) == NULL)
				n++;
		}
		cr_assert_run(r, n <= 10 * windows,
			      "%u warnings about %s in %.1f s: the guest can flood the log", n,
			      devs[d], r->secs);
	}
}

/*
 * Runs guest test @test with -m 256, vda (@a_opts appended to its path), vdb
 * and vsock; then checks the run and both disks: vda sectors [@lo, @hi) and
 * (@use_sector) USE_SECTOR were written by the guest.
 */
static void evil_run(const char *test, const char *a_opts, const char *const *more, uint64_t lo,
		     uint64_t hi, bool use_sector)
{
	char *a = make_disk("a.img"), *b = make_disk("b.img"), *aspec;
	const char *extra[16] = { "-m", "256", "--rwdisk", NULL, "--rwdisk", b, "--cid", NULL };
	struct runner_opts o = { .timeout_s = EVIL_TIMEOUT };
	struct runner_result r;
	size_t n = 8;
	char cid[16];

	REQUIRE_KVM();
	/* A CID of this test process's own (test_vsock.c's are 100000 + 2 * pid and + 1). */
	snprintf(cid, sizeof(cid), "%u", 0x40000000u + (unsigned int)getpid());
	extra[7] = cid;
	cr_assert(asprintf(&aspec, "%s%s", a, a_opts) > 0);
	extra[3] = aspec;
	for (size_t i = 0; more && more[i] && n < 15; i++)
		extra[n++] = more[i];
	extra[n] = NULL;
	runner_guest(&r, &o, test, extra);
	runner_assert_passed(&r, test);
	check_warning_flood(&r);
	check_disk(&r, a, lo, hi, use_sector);
	check_disk(&r, b, 0, 0, false);
	runner_free(&r);
	free(aspec);
	free(a);
	free(b);
}

Test(evil, vq_blk)
{
	evil_run("evil_vq_blk", "", NULL, 0, 0, true);
}

Test(evil, vq_rng)
{
	evil_run("evil_vq_rng", "", NULL, 0, 0, true);
}

Test(evil, vq_vsock)
{
	evil_run("evil_vq_vsock", "", NULL, 0, 0, true);
}

/* virtio-net needs a TAP: root, /dev/net/tun, and a network namespace of our own. */
Test(evil, vq_net)
{
	static const char *const net[] = { "--host_ip", "10.0.2.2", "--netmask", "255.255.255.0",
					   NULL };
	int fd;

	REQUIRE_KVM();
	if (geteuid() != 0)
		cr_skip_test("virtio-net needs root (TAP devices, network namespaces)");
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("/dev/net/tun: %s", strerror(errno));
	close(fd);
	if (unshare(CLONE_NEWNET))
		cr_skip_test("unshare(CLONE_NEWNET): %s", strerror(errno));
	evil_run("evil_vq_net", "", net, 0, 0, true);
}

Test(evil, regs)
{
	evil_run("evil_regs", "", NULL, 0, 0, true);
}

Test(evil, msix)
{
	evil_run("evil_msix", "", NULL, 0, 0, false);
}

Test(evil, reset)
{
	evil_run("evil_reset", "", NULL, RESET_SECTOR, RESET_SECTOR + 256, false);
}

/* The same on an O_DIRECT disk: up to 128 requests in flight in Linux AIO at the reset. */
Test(evil, reset_direct)
{
	evil_run("evil_reset", ",o_direct=true", NULL, RESET_SECTOR, RESET_SECTOR + 256, false);
}

Test(evil, ports)
{
	evil_run("evil_ports", "", NULL, 0, 0, true);
}

Test(evil, mmio_lo)
{
	evil_run("evil_mmio_lo", "", NULL, 0, 0, true);
}

Test(evil, mmio_hi)
{
	evil_run("evil_mmio_hi", "", NULL, 0, 0, true);
}
