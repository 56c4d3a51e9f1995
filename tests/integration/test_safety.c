// SPDX-License-Identifier: BSD-3-Clause
/*
 * Data safety: the guest (tests/guest/t_fault.c fault_flushed) writes
 * numbered 4 KiB blocks, FLUSHes after every batch of four and prints
 * "FLUSHED <n>". The run is ended at a point that differs from run to run
 * by `cvm stop`, SIGTERM, the guest's own reset, or SIGKILL of the
 * virtio-blk device process; afterwards every block below the last
 * FLUSHED count the host saw must be in the image. Each with and without
 * O_DIRECT; ctest runs the suite with the sandbox and without it.
 *
 * The crash variants also check how the run ends: promptly, non-zero, with
 * an error naming the device, and no process of cvm's left.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cvmproc.h"

#define IMG_SIZE (8 << 20)
#define BLOCK 4096
#define BATCH 4
#define START_TIMEOUT 30
#define STOP_TIMEOUT 10
#define MAX_KIDS 16

/* On /dev/shm (tmpfs takes O_DIRECT); made by the test (Criterion runs .init for disabled tests too, not .fini). */
static char dir[64];

static void teardown(void)
{
	fproc_cleanup();
	if (dir[0])
		rm_rf(dir);
}

TestSuite(safety, .fini = teardown);

enum end_by { END_STOP, END_SIGTERM, END_RESET, END_CRASH };

static const char *const end_names[] = { "cvm stop", "SIGTERM", "guest reset", "device SIGKILL" };

/* Qword @q of block @b (tests/guest/t_fault.c flushed_word()). */
static uint64_t flushed_word(uint64_t b, uint64_t q)
{
	return 0x5afe000000000000ull | b << 16 | q;
}

/* A number in [lo, lo + span) that differs from run to run. */
static unsigned int randomish(unsigned int lo, unsigned int span)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return lo +
	       (unsigned int)(((unsigned long)getpid() * 2654435761u ^ (unsigned long)ts.tv_nsec) %
			      span);
}

/* Every block below @n holds its pattern. */
static void check_blocks(const struct runner_result *r, const char *img, long n)
{
	size_t len;
	uint64_t *data = (uint64_t *)read_file(img, &len);

	cr_assert(data && len == IMG_SIZE, "%s: %zu bytes", img, len);
	for (long b = 0; b < n; b++) {
		const uint64_t *p = data + (size_t)b * (BLOCK / 8);

		for (uint64_t q = 0; q < BLOCK / 8; q++)
			cr_assert_run(
				r, p[q] == flushed_word((uint64_t)b, q),
				"block %ld (of %ld flushed) qword %llu is 0x%llx, want 0x%llx", b,
				n, (unsigned long long)q, (unsigned long long)p[q],
				(unsigned long long)flushed_word((uint64_t)b, q));
	}
	free(data);
}

/* Waits until the guest reports @want flushed blocks; false if it never did. */
static bool wait_flushed(struct fproc *p, long want)
{
	double deadline = fproc_now() + START_TIMEOUT;

	while (last_number(p->buf[0], "FLUSHED ") < want) {
		if (fproc_now() > deadline || p->reaped)
			return false;
		fproc_pump(p, 10);
	}
	return true;
}

static void safety(enum end_by how, bool direct)
{
	char img[128], disk[160], sock[128], params[64] = "cvm.test=fault_flushed";
	pid_t kids[MAX_KIDS], blk = -1;
	unsigned int nkids = 0, batches = randomish(2, 12);
	long want = (long)batches * BATCH, n;
	struct runner_result r;
	struct fproc p;
	double killed_at = 0;
	int fd;

	REQUIRE_KVM();
	if (how == END_CRASH && !runner_sandboxed())
		cr_skip_test("devices run as threads with --disable-sandbox: no process to kill");
	snprintf(dir, sizeof(dir), "/dev/shm/cvm-safety-XXXXXX");
	cr_assert(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, IMG_SIZE), 0);
	close(fd);
	snprintf(disk, sizeof(disk), "%s%s", img, direct ? ",o_direct=true" : "");
	if (how == END_RESET)
		snprintf(params, sizeof(params), "cvm.test=fault_flushed cvm.arg=reset%u", batches);

	const char *args[] = { "--rwdisk", disk, "-s", sock, "-p", params, CVM_GUEST, NULL };

	fproc_start(&p, args);
	if (how != END_RESET && wait_flushed(&p, want)) {
		if (how == END_STOP) {
			struct runner_result s;
			const char *argv[] = { CVM_BIN, "stop", sock, NULL };

			cr_assert_eq(runner_exec(&s, NULL, argv), 0);
			cr_assert_run(&s, s.exited && s.status == 0, "cvm stop failed");
			runner_free(&s);
		} else if (how == END_SIGTERM) {
			kill(p.pid, SIGTERM);
		} else {
			nkids = proc_children(p.pid, kids, MAX_KIDS);
			blk = proc_child_named(p.pid, "virtio-blk");
			cr_assert_gt(blk, 0, "no virtio-blk device process among cvm's %u children",
				     nkids);
			killed_at = fproc_now();
			kill(blk, SIGKILL);
		}
	}
	fproc_finish(&p, &r, how == END_RESET ? START_TIMEOUT : STOP_TIMEOUT);
	n = last_number(r.out, "FLUSHED ");
	cr_log_info("safety: %s%s after %ld blocks flushed (%.2f s)", end_names[how],
		    direct ? " (O_DIRECT)" : "", n, r.secs);
	cr_assert_run(&r, !r.timed_out, "cvm did not end");
	cr_assert_run(&r, n >= want, "the guest flushed %ld blocks, want %ld", n, want);
	cr_assert_run(&r, !strstr(r.out, "FAIL "), "the guest failed");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	if (how == END_CRASH) {
		double took = fproc_now() - killed_at;

		cr_assert_run(&r, r.exited && r.status != 0, "cvm did not exit non-zero");
		cr_assert_run(&r, strstr(r.err, "virtio-blk") && strstr(r.err, "signal 9"),
			      "no error naming the killed device");
		cr_assert_run(&r, took < 3, "cvm took %.2f s to end after the device died", took);
		for (unsigned int i = 0; i < nkids; i++)
			cr_assert_run(&r, proc_gone(kids[i], 2), "process %d is still there",
				      (int)kids[i]);
	} else {
		cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0");
	}
	if (how == END_RESET)
		cr_assert_run(&r, n == want, "the guest reset after %ld blocks, want %ld", n, want);
	check_blocks(&r, img, n);
	runner_free(&r);
}

Test(safety, stop)
{
	safety(END_STOP, false);
}

Test(safety, stop_direct)
{
	safety(END_STOP, true);
}

Test(safety, sigterm)
{
	safety(END_SIGTERM, false);
}

Test(safety, sigterm_direct)
{
	safety(END_SIGTERM, true);
}

Test(safety, reset)
{
	safety(END_RESET, false);
}

Test(safety, reset_direct)
{
	safety(END_RESET, true);
}

Test(safety, crash)
{
	safety(END_CRASH, false);
}

Test(safety, crash_direct)
{
	safety(END_CRASH, true);
}
