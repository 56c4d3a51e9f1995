// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-blk through `cvm run -r/-d/--rwdisk`: the guest's blk_* tests
 * (tests/guest/t_blk.c) drive each disk with their own virtio-pci driver.
 * The images are made here: the read pattern is byte i of sector s =
 * byte i of s (32-bit LE) for i < 4, else (s * 31 + i) & 0xff; blk_write
 * writes (s * 7 + i * 3 + 0x5a) & 0xff to sectors 10..17.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

#define SECTOR 512
#define BLK_TIMEOUT 90

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

TestSuite(blk, .init = setup, .fini = teardown);

static char *tmp_path(const char *name)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", tmpdir, name) > 0);
	return p;
}

static uint8_t pattern_byte(uint64_t s, unsigned int i)
{
	if (i < 4)
		return (uint8_t)(s >> (8 * i));
	return (uint8_t)(s * 31 + i);
}

static uint8_t write_byte(uint64_t s, unsigned int i)
{
	return (uint8_t)(s * 7 + i * 3 + 0x5a);
}

static uint8_t *pattern(size_t size)
{
	uint8_t *buf = malloc(size);

	cr_assert(buf);
	for (size_t off = 0; off < size; off++)
		buf[off] = pattern_byte(off / SECTOR, (unsigned int)(off % SECTOR));
	return buf;
}

/* A new image @name of @size bytes holding the read pattern; returns its path. */
static char *make_disk(const char *name, size_t size)
{
	char *p = tmp_path(name);
	uint8_t *buf = pattern(size);

	cr_assert_eq(write_file(p, buf, size), 0, "cannot write %s", p);
	free(buf);
	return p;
}

/* Runs the guest's test @test with @extra options (NULL-terminated) before the kernel. */
static void run_guest(struct runner_result *r, const char *test, const char *const *extra)
{
	struct runner_opts o = { .timeout_s = BLK_TIMEOUT };

	runner_guest(r, &o, test, extra);
}

static void assert_line(const struct runner_result *r, const char *want)
{
	char prefix[64];
	char *line;

	snprintf(prefix, sizeof(prefix), "%.*s", (int)(strrchr(want, ' ') - want + 1), want);
	line = find_line(r->out, prefix);
	cr_assert_run(r, line && !strcmp(line, want), "want the line '%s'", want);
	free(line);
}

/* Feature bits (virtio 1.x; <linux/virtio_blk.h> numbering). */
#define F(bit) (1ULL << (bit))
#define F_SIZE_MAX F(1)
#define F_SEG_MAX F(2)
#define F_RO F(5)
#define F_BLK_SIZE F(6)
#define F_FLUSH F(9)
#define F_MQ F(12)
#define F_DISCARD F(13)
#define F_WRITE_ZEROES F(14)
#define F_VERSION_1 F(32)
/* MQ is offered only with more than one queue (num_queues defaults to one per vCPU). */
#define F_ALWAYS (F_VERSION_1 | F_SEG_MAX | F_SIZE_MAX | F_BLK_SIZE | F_FLUSH)

/* The first disk's offered features (the guest's "VIRTIO ... features offered" line). */
static void assert_features(const struct runner_result *r, unsigned long long need,
			    unsigned long long refuse)
{
	unsigned int slot, fn;
	unsigned long long offered = 0, accepted = 0;
	char *line = find_line(r->out, "VIRTIO ");

	cr_assert_run(r,
		      line && sscanf(line, "VIRTIO %x.%x features offered 0x%llx accepted 0x%llx",
				     &slot, &fn, &offered, &accepted) == 4,
		      "no 'VIRTIO slot.fn features offered X accepted Y' line");
	free(line);
	cr_assert_run(r, (offered & need) == need, "offered features 0x%llx lack 0x%llx", offered,
		      need & ~offered);
	cr_assert_run(r, !(offered & refuse), "offered features 0x%llx include 0x%llx", offered,
		      offered & refuse);
}

static void blk_read(const char *opt, size_t size)
{
	char *disk = make_disk("disk.img", size);
	const char *extra[] = { opt, disk, NULL };
	struct runner_result r;
	char want[64];

	REQUIRE_KVM();
	run_guest(&r, "blk_read", extra);
	runner_assert_passed(&r, "blk_read");
	if (!strcmp(opt, "-d"))
		assert_features(&r, F_ALWAYS | F_RO, F_DISCARD | F_WRITE_ZEROES);
	else
		assert_features(&r, F_ALWAYS | F_DISCARD | F_WRITE_ZEROES, F_RO);
	snprintf(want, sizeof(want), "BLK capacity %zu", size / SECTOR);
	assert_line(&r, want);
	runner_free(&r);
	free(disk);
}

Test(blk, read_root_1m)
{
	blk_read("-r", 1 << 20);
}

Test(blk, read_ro_4m)
{
	blk_read("-d", 4 << 20);
}

Test(blk, read_rw_1m)
{
	blk_read("--rwdisk", 1 << 20);
}

Test(blk, write)
{
	const size_t size = 1 << 20;
	char *disk = make_disk("rw.img", size);
	const char *extra[] = { "--rwdisk", disk, NULL };
	struct runner_result r;
	uint8_t *got, *want = pattern(size);
	size_t len;

	REQUIRE_KVM();
	run_guest(&r, "blk_write", extra);
	runner_assert_passed(&r, "blk_write");
	for (unsigned int s = 10; s < 18; s++)
		for (unsigned int i = 0; i < SECTOR; i++)
			want[s * SECTOR + i] = write_byte(s, i);
	got = (uint8_t *)read_file(disk, &len);
	cr_assert(got, "cannot read %s back", disk);
	cr_assert_run(&r, len == size, "the image is now %zu bytes, was %zu", len, size);
	for (size_t off = 0; off < size; off++) {
		if (got[off] != want[off])
			cr_assert_run(
				&r, false,
				"image byte %zu (sector %zu, byte %zu) is 0x%02x, want 0x%02x", off,
				off / SECTOR, off % SECTOR, got[off], want[off]);
	}
	runner_free(&r);
	free(got);
	free(want);
	free(disk);
}

Test(blk, errors)
{
	const size_t size = 1 << 20;
	char *disk = make_disk("ro.img", size);
	const char *extra[] = { "-d", disk, NULL };
	struct runner_result r;
	uint8_t *got, *want = pattern(size);
	size_t len;
	char *line;

	REQUIRE_KVM();
	run_guest(&r, "blk_errors", extra);
	runner_assert_passed(&r, "blk_errors");
	line = find_line(r.out, "BLK id ");
	cr_assert_run(&r, line, "no 'BLK id' line");
	cr_log_info("GET_ID: %s", line);
	cr_assert_run(&r, strlen(line) > strlen("BLK id "), "GET_ID returned an empty serial");
	free(line);
	got = (uint8_t *)read_file(disk, &len);
	cr_assert(got, "cannot read %s back", disk);
	cr_assert_run(&r, len == size && !memcmp(got, want, size), "the read-only image changed");
	runner_free(&r);
	free(got);
	free(want);
	free(disk);
}

/* num_queues defaults to one per vCPU: -c 2 gives two. */
Test(blk, mq)
{
	char *disk = make_disk("mq.img", 1 << 20);
	const char *extra[] = { "-c", "2", "-d", disk, NULL };
	struct runner_result r;
	unsigned int used = 0, total = 0;
	char *line;

	REQUIRE_KVM();
	run_guest(&r, "blk_mq", extra);
	runner_assert_passed(&r, "blk_mq");
	line = find_line(r.out, "BLK queues ");
	cr_assert_run(&r, line && sscanf(line, "BLK queues %u of %u", &used, &total) == 2,
		      "no 'BLK queues n of m' line");
	free(line);
	cr_assert_run(&r, total >= 2, "%u queues with -c 2, want one per vCPU", total);
	cr_assert_run(&r, used == (total < 8 ? total : 8), "the guest used %u of %u queues", used,
		      total);
	runner_free(&r);
	free(disk);
}

Test(blk, multi)
{
	char *d[3];
	const char *extra[] = { "-d", NULL, "--rwdisk", NULL, "-d", NULL, NULL };
	struct runner_result r;

	REQUIRE_KVM();
	for (int k = 0; k < 3; k++) {
		char name[16], sig[8];
		size_t size = (size_t)(64 << 10) * (k + 1);
		uint8_t *buf = pattern(size);

		snprintf(name, sizeof(name), "d%d.img", k);
		snprintf(sig, sizeof(sig), "DISK%d", k);
		memcpy(buf, sig, 5);
		d[k] = tmp_path(name);
		cr_assert_eq(write_file(d[k], buf, size), 0);
		free(buf);
	}
	extra[1] = d[0];
	extra[3] = d[1];
	extra[5] = d[2];
	run_guest(&r, "blk_multi", extra);
	runner_assert_passed(&r, "blk_multi");
	for (int k = 0; k < 3; k++) {
		char prefix[32], want[32];
		char *line;
		unsigned int slot;
		unsigned long long cap;

		snprintf(prefix, sizeof(prefix), "BLK disk %d ", k);
		snprintf(want, sizeof(want), "DISK%d", k);
		line = find_line(r.out, prefix);
		cr_assert_run(&r, line, "no '%s' line", prefix);
		cr_assert_run(&r,
			      sscanf(line + strlen(prefix), "slot %u DISK%*d capacity %llu", &slot,
				     &cap) == 2 &&
				      strstr(line, want),
			      "bad line '%s'", line);
		cr_assert_run(&r, cap == (unsigned long long)(128 * (k + 1)),
			      "disk %d: capacity %llu, want %d", k, cap, 128 * (k + 1));
		free(line);
		free(d[k]);
	}
	runner_free(&r);
}

static void blk_variant(const char *test)
{
	char *disk = make_disk("v.img", 1 << 20);
	const char *extra[] = { "-d", disk, NULL };
	struct runner_result r;

	REQUIRE_KVM();
	run_guest(&r, test, extra);
	runner_assert_passed(&r, test);
	runner_free(&r);
	free(disk);
}

Test(blk, msix)
{
	blk_variant("blk_msix");
}

Test(blk, intx)
{
	blk_variant("blk_intx");
}

Test(blk, event_idx)
{
	blk_variant("blk_event_idx");
}

Test(blk, indirect)
{
	blk_variant("blk_indirect");
}

/*
 * A full queue of requests at once (tests/guest/t_blk_deep.c): 256 writes
 * with a FLUSH among them, then 256 reads. With O_DIRECT (@opts
 * ",o_direct=true") they go through asynchronous I/O, more than the device
 * keeps in flight. The image must hold exactly what the guest wrote.
 */
static void blk_deep(const char *opts)
{
	const size_t size = 1 << 20, n = 256;
	char *disk = tmp_path("deep.img"), *spec;
	uint8_t *img = malloc(size), *got;
	const char *extra[] = { "--rwdisk", NULL, NULL };
	struct runner_result r;
	size_t len;

	REQUIRE_KVM();
	cr_assert(img);
	memset(img, 0xa5, size);
	cr_assert_eq(write_file(disk, img, size), 0, "cannot write %s", disk);
	cr_assert(asprintf(&spec, "%s%s", disk, opts) > 0);
	extra[1] = spec;
	run_guest(&r, "blk_deep", extra);
	runner_assert_passed(&r, "blk_deep");
	assert_line(&r, "BLK deep 256 requests, 2 notifications");
	for (uint32_t i = 0; i < n; i++) {
		if (i == n / 2) /* the FLUSH's slot */
			continue;
		for (uint32_t w = 0; w < SECTOR / 4; w++) {
			uint32_t v = 0xd0000000u | i << 12 | w;

			memcpy(img + i * SECTOR + w * 4, &v, 4);
		}
	}
	got = (uint8_t *)read_file(disk, &len);
	cr_assert(got, "cannot read %s back", disk);
	cr_assert_run(&r, len == size, "the image is now %zu bytes, was %zu", len, size);
	for (size_t off = 0; off < size; off++) {
		if (got[off] != img[off])
			cr_assert_run(&r, false,
				      "image byte %zu (sector %zu) is 0x%02x, want 0x%02x", off,
				      off / SECTOR, got[off], img[off]);
	}
	runner_free(&r);
	free(got);
	free(img);
	free(spec);
	free(disk);
}

Test(blk, deep)
{
	blk_deep("");
}

Test(blk, deep_direct)
{
	blk_deep(",o_direct=true");
}

/* The read tests' requests one at a time, on an O_DIRECT disk. */
Test(blk, read_direct)
{
	char *disk = make_disk("v.img", 1 << 20), *spec;
	const char *extra[] = { "-d", NULL, NULL };
	struct runner_result r;

	REQUIRE_KVM();
	cr_assert(asprintf(&spec, "%s,o_direct=true", disk) > 0);
	extra[1] = spec;
	run_guest(&r, "blk_indirect", extra);
	runner_assert_passed(&r, "blk_indirect");
	runner_free(&r);
	free(spec);
	free(disk);
}

/* root=/dev/vdX names the -r disk by its position among all disks. */
static void root_cmdline(const char *const *extra, const char *want)
{
	struct runner_result r;
	char *line;

	run_guest(&r, "bootparams", extra);
	line = find_line(r.out, "CMDLINE ");
	cr_assert_run(&r, line && strstr(line, want), "the command line lacks '%s'", want);
	cr_assert_run(&r, strstr(line, "cvm.test=bootparams"), "the -p part is gone");
	cr_assert_run(&r, !strstr(strstr(line, "root=") + 1, "root="),
		      "root= appears more than once");
	free(line);
	runner_assert_passed(&r, "bootparams");
	runner_free(&r);
}

Test(blk, root_is_vda)
{
	char *disk = make_disk("root.img", 64 << 10);
	const char *extra[] = { "-r", disk, NULL };

	REQUIRE_KVM();
	root_cmdline(extra, "root=/dev/vda");
	free(disk);
}

Test(blk, root_is_vdb)
{
	char *a = make_disk("a.img", 64 << 10), *b = make_disk("b.img", 64 << 10);
	const char *extra[] = { "-d", a, "-r", b, NULL };

	REQUIRE_KVM();
	root_cmdline(extra, "root=/dev/vdb");
	free(a);
	free(b);
}

/* Bad disks: non-zero exit, a message on stderr naming the path, the guest never runs. */
static void expect_disk_failure(const char *const *extra, const char *path)
{
	struct runner_opts o = { .timeout_s = 30 };
	const char *args[16];
	struct runner_result r;
	size_t n = 0;

	args[n++] = "run";
	args[n++] = "-p";
	args[n++] = "cvm.test=reset";
	for (; *extra && n < 14; extra++)
		args[n++] = *extra;
	args[n++] = CVM_GUEST;
	args[n] = NULL;
	cr_assert_eq(runner_run(&r, &o, args), 0, "cannot run %s: %s", CVM_BIN, r.err);
	cr_log_info("%s: %.*s", runner_how(&r), (int)strcspn(r.err, "\n"), r.err);
	cr_assert_run(&r, !r.timed_out, "cvm hung");
	cr_assert_run(&r, !r.signaled, "cvm crashed");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	cr_assert_run(&r, r.exited && r.status != 0, "cvm did not fail");
	cr_assert_run(&r, strstr(r.err, "cvm"), "no error message on stderr");
	cr_assert_run(&r, strstr(r.err, path), "stderr does not name '%s'", path);
	cr_assert_run(&r, !strstr(r.out, "PASS reset"), "the guest ran");
	runner_free(&r);
}

Test(blk, bad_missing)
{
	char *p = tmp_path("no-such.img");
	const char *extra[] = { "-d", p, NULL };

	REQUIRE_KVM();
	expect_disk_failure(extra, p);
	free(p);
}

Test(blk, bad_directory)
{
	const char *extra[] = { "-d", tmpdir, NULL };

	REQUIRE_KVM();
	expect_disk_failure(extra, tmpdir);
}

Test(blk, bad_size_not_sector_multiple)
{
	char *p = tmp_path("1000.img");
	const char *extra[] = { "-d", p, NULL };
	char buf[1000] = { 0 };

	REQUIRE_KVM();
	cr_assert_eq(write_file(p, buf, sizeof(buf)), 0);
	expect_disk_failure(extra, p);
	free(p);
}

Test(blk, bad_rwdisk_readonly_file)
{
	char *p = make_disk("ro-file.img", 64 << 10);
	const char *extra[] = { "--rwdisk", p, NULL };
	int fd;

	REQUIRE_KVM();
	cr_assert_eq(chmod(p, 0444), 0);
	fd = open(p, O_RDWR);
	if (fd >= 0) {
		close(fd);
		free(p);
		cr_skip_test("a mode 0444 file still opens read-write here (running as root "
			     "or with CAP_DAC_OVERRIDE)");
	}
	expect_disk_failure(extra, p);
	free(p);
}

Test(blk, bad_rwdisk_twice)
{
	char *p = make_disk("twice.img", 64 << 10);
	const char *extra[] = { "--rwdisk", p, "--rwdisk", p, NULL };

	REQUIRE_KVM();
	expect_disk_failure(extra, p);
	free(p);
}
