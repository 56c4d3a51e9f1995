// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-blk DISCARD and WRITE_ZEROES (lib/virtio/blk.c: fallocate(2)
 * punch hole / zero range, else zeros written by hand), driven by the
 * guest's blk_discard and blk_discard_ro tests (tests/guest/t_blk.c).
 *
 * The images start with the read pattern of test_blk.c: byte i of sector s
 * is byte i of s (32-bit LE) for i < 4, else (s * 31 + i) & 0xff.
 * blk_discard writes its own pattern to sectors 0..255 (word j of sector s
 * is 0xa5a5a5a5a5a5a5a5 ^ (s << 32 | j), little-endian), then zeroes 16..31
 * (WRITE_ZEROES), 32..47 (WRITE_ZEROES with UNMAP) and discards 64..127,
 * and sends bad requests that must change nothing. blk_discard_ro sends
 * the same three to a read-only disk, which must stay as it was.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

#define SECTOR 512
#define DISK_SIZE (1u << 20)
#define DISC_SECTORS 256u
#define DISC_TIMEOUT 90

static char *tmpdir;
static char shmdir[64]; /* rw_tmpfs's directory on /dev/shm */

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
	if (shmdir[0])
		rm_rf(shmdir);
	shmdir[0] = '\0';
}

TestSuite(blk_discard, .init = setup, .fini = teardown);

static uint8_t pattern_byte(uint64_t s, unsigned int i)
{
	if (i < 4)
		return (uint8_t)(s >> (8 * i));
	return (uint8_t)(s * 31 + i);
}

static uint64_t discard_word(uint64_t s, unsigned int j)
{
	return 0xa5a5a5a5a5a5a5a5ULL ^ (s << 32 | j);
}

static uint8_t *pattern(size_t size)
{
	uint8_t *buf = malloc(size);

	cr_assert(buf);
	for (size_t off = 0; off < size; off++)
		buf[off] = pattern_byte(off / SECTOR, (unsigned int)(off % SECTOR));
	return buf;
}

/* A new, fully allocated image @dir/@name holding the read pattern; returns its path. */
static char *make_disk(const char *dir, const char *name)
{
	uint8_t *buf = pattern(DISK_SIZE);
	char *p;
	int fd;

	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	cr_assert_eq(write_file(p, buf, DISK_SIZE), 0, "cannot write %s", p);
	free(buf);
	/* On disk, so that st_blocks counts it (not as delayed allocation). */
	fd = open(p, O_RDWR | O_CLOEXEC);
	cr_assert(fd >= 0 && !fsync(fd), "%s: %s", p, strerror(errno));
	close(fd);
	return p;
}

static struct stat stat_of(const char *path)
{
	struct stat st;

	cr_assert(!stat(path, &st), "stat %s: %s", path, strerror(errno));
	return st;
}

/*
 * Whether the file system of @dir frees blocks on FALLOC_FL_PUNCH_HOLE (as
 * the device's DISCARD does): punch 32 KiB out of a 64 KiB file.
 */
static bool punch_frees_blocks(const char *dir)
{
	static uint8_t buf[64 << 10];
	struct stat a, b;
	bool ok = false;
	char *p;
	int fd;

	cr_assert(asprintf(&p, "%s/punch-probe", dir) > 0);
	memset(buf, 0x5a, sizeof(buf));
	cr_assert_eq(write_file(p, buf, sizeof(buf)), 0, "cannot write %s", p);
	fd = open(p, O_RDWR | O_CLOEXEC);
	cr_assert(fd >= 0 && !fsync(fd) && !fstat(fd, &a), "%s: %s", p, strerror(errno));
	if (!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 32 << 10) &&
	    !fstat(fd, &b))
		ok = b.st_blocks < a.st_blocks;
	close(fd);
	unlink(p);
	free(p);
	return ok;
}

/* Sector @s of @img is all zero. */
static bool sector_zero(const uint8_t *img, unsigned int s)
{
	for (unsigned int i = 0; i < SECTOR; i++)
		if (img[(size_t)s * SECTOR + i])
			return false;
	return true;
}

/* Sector @s of @img holds the guest's pattern; else *@bad is the first word that does not. */
static bool sector_guest(const uint8_t *img, unsigned int s, unsigned int *bad)
{
	for (unsigned int j = 0; j < SECTOR / 8; j++) {
		uint64_t w;

		memcpy(&w, img + (size_t)s * SECTOR + 8 * j, 8);
		if (w != discard_word(s, j)) {
			*bad = j;
			return false;
		}
	}
	return true;
}

/*
 * Runs blk_discard on a 1 MiB image in @dir and checks the image after it:
 * 16..47 zero, the guest's pattern on 0..15, 48..63 and 128..255, the
 * initial pattern from sector 256 on; 64..127 zero and the blocks freed
 * when the file system punches holes, else zero or still the pattern.
 */
static void discard_rw(const char *dir)
{
	char *disk = make_disk(dir, "rw.img");
	const char *extra[] = { "--rwdisk", disk, NULL };
	struct runner_opts o = { .timeout_s = DISC_TIMEOUT };
	bool punch = punch_frees_blocks(dir);
	struct stat before = stat_of(disk), after;
	uint8_t *img, *orig = pattern(DISK_SIZE);
	struct runner_result r;
	char *line;
	size_t len;

	runner_guest(&r, &o, "blk_discard", extra);
	runner_assert_passed(&r, "blk_discard");
	line = find_line(r.out, "BLK discard config ");
	cr_assert_run(&r, line, "no 'BLK discard config' line");
	cr_log_info("%s", line);
	free(line);
	line = find_line(r.out, "BLK discarded 64..127 reads ");
	cr_assert_run(&r, line, "no 'BLK discarded 64..127 reads' line");
	cr_log_info("%s (punching holes %s)", line,
		    punch ? "frees blocks" : "does not free blocks");
	if (punch)
		cr_assert_run(
			&r,
			!strcmp(line,
				"BLK discarded 64..127 reads 64 zero 0 pattern 0 other sectors"),
			"the file system punches holes: the discarded sectors must read zero");
	free(line);

	img = (uint8_t *)read_file(disk, &len);
	cr_assert(img, "cannot read %s back", disk);
	cr_assert_run(&r, len == DISK_SIZE, "the image is now %zu bytes, was %u", len, DISK_SIZE);
	for (unsigned int s = 0; s < DISK_SIZE / SECTOR; s++) {
		unsigned int j = 0;

		if (s >= 16 && s < 48) {
			cr_assert_run(&r, sector_zero(img, s),
				      "image sector %u is not zero after WRITE_ZEROES%s", s,
				      s >= 32 ? " with UNMAP" : "");
		} else if (s >= 64 && s < 128) {
			cr_assert_run(&r,
				      sector_zero(img, s) || (!punch && sector_guest(img, s, &j)),
				      "image sector %u after DISCARD: neither zero%s", s,
				      punch ? "" : " nor the pattern written");
		} else if (s < DISC_SECTORS) {
			cr_assert_run(&r, sector_guest(img, s, &j),
				      "image sector %u word %u is not the pattern the guest wrote",
				      s, j);
		} else {
			cr_assert_run(&r,
				      !memcmp(img + (size_t)s * SECTOR, orig + (size_t)s * SECTOR,
					      SECTOR),
				      "image sector %u changed (the guest never wrote it)", s);
		}
	}
	after = stat_of(disk);
	cr_log_info("st_blocks %lld before, %lld after", (long long)before.st_blocks,
		    (long long)after.st_blocks);
	/* The DISCARD alone frees 64 sectors (32 KiB, 4 KiB-aligned). */
	if (punch)
		cr_assert_run(&r, after.st_blocks + 64 <= before.st_blocks,
			      "st_blocks %lld before, %lld after: the DISCARD punched no hole",
			      (long long)before.st_blocks, (long long)after.st_blocks);
	runner_free(&r);
	free(img);
	free(orig);
	free(disk);
}

Test(blk_discard, rw)
{
	REQUIRE_KVM();
	discard_rw(tmpdir);
}

/*
 * On tmpfs FALLOC_FL_ZERO_RANGE fails with EOPNOTSUPP: the plain
 * WRITE_ZEROES takes the device's write-by-hand fallback.
 */
Test(blk_discard, rw_tmpfs)
{
	char dir[] = "/dev/shm/cvm-discard-XXXXXX";
	struct statfs sf;

	REQUIRE_KVM();
	if (statfs("/dev/shm", &sf) || sf.f_type != TMPFS_MAGIC || !mkdtemp(dir))
		cr_skip_test("no writable tmpfs at /dev/shm");
	snprintf(shmdir, sizeof(shmdir), "%s", dir);
	discard_rw(shmdir);
}

Test(blk_discard, ro)
{
	char *disk = make_disk(tmpdir, "ro.img");
	const char *extra[] = { "-d", disk, NULL };
	struct runner_opts o = { .timeout_s = DISC_TIMEOUT };
	struct stat before = stat_of(disk), after;
	uint8_t *img, *orig = pattern(DISK_SIZE);
	struct runner_result r;
	size_t len;

	REQUIRE_KVM();
	runner_guest(&r, &o, "blk_discard_ro", extra);
	runner_assert_passed(&r, "blk_discard_ro");
	img = (uint8_t *)read_file(disk, &len);
	cr_assert(img, "cannot read %s back", disk);
	cr_assert_run(&r, len == DISK_SIZE, "the image is now %zu bytes, was %u", len, DISK_SIZE);
	for (unsigned int s = 0; s < DISK_SIZE / SECTOR; s++)
		cr_assert_run(&r,
			      !memcmp(img + (size_t)s * SECTOR, orig + (size_t)s * SECTOR, SECTOR),
			      "sector %u of the read-only image changed", s);
	after = stat_of(disk);
	cr_assert_run(&r, after.st_blocks == before.st_blocks,
		      "st_blocks of the read-only image went from %lld to %lld",
		      (long long)before.st_blocks, (long long)after.st_blocks);
	runner_free(&r);
	free(img);
	free(orig);
	free(disk);
}
