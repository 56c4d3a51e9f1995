// SPDX-License-Identifier: BSD-3-Clause
/*
 * MSI-X delivery (lib/devices/msix.c): msix_notify() on live, masked and
 * function-masked vectors, delivery on unmask, MSI-X off, vectors out of
 * range, and the delivery state shared with a forked process (a sandboxed
 * device notifies from its own process).
 *
 * KVM's irqfd consumes the eventfd counter as soon as it is written, so
 * the tests detach each vector's irqfd after msix_init(): the eventfd then
 * keeps what msix_notify() wrote and the test reads it back. The routes are
 * still pushed to a real VM, so /dev/kvm is needed (skipped without).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "core/irq.h"
#include "devices/msix.h"
#include "devices/pci.h"
#include "test_util_kvm.h"

#define CTRL_ENABLE 0x8000
#define CTRL_MASKALL 0x4000

static int vmfd = -1;
static struct irq_router router;
static struct pci_dev dev;
static struct msix x;
static bool have_msix;

/* A VM, a router and an MSI-X function of @nr vectors, all masked, MSI-X off. */
static void setup_msix(unsigned int nr)
{
	vmfd = tu_kvm_vm(); /* skips the test without /dev/kvm */
	cr_assert_eq(irq_router_init(&router, vmfd), 0);
	pci_dev_init(&dev, 0x1af4, 0x1042, 0x01800001, 0x1af4, 0x1042);
	dev.name = "msix-test";
	cr_assert_eq(msix_init(&x, &dev, &router, nr, 0, 0x4000, 0x5000), 0);
	have_msix = true;
	for (unsigned int i = 0; i < nr; i++)
		cr_assert_eq(irq_irqfd(&router, x.v[i].gsi, x.v[i].efd, false), 0,
			     "detach irqfd of vector %u", i);
}

static void teardown(void)
{
	if (have_msix) {
		msix_destroy(&x);
		irq_router_destroy(&router);
		have_msix = false;
	}
	if (vmfd >= 0)
		close(vmfd);
	vmfd = -1;
}

TestSuite(msix, .fini = teardown, .timeout = 60);

static void tw(uint64_t off, uint32_t v)
{
	msix_table_write(&x, off, (const uint8_t *)&v, 4);
}

/* Vector @i: a valid LAPIC message, masked or not. */
static void program(unsigned int i, bool masked)
{
	tw(16 * i, 0xfee00000);
	tw(16 * i + 4, 0);
	tw(16 * i + 8, 0x40 + i);
	tw(16 * i + 12, masked);
}

static void set_mask(unsigned int i, bool masked)
{
	tw(16 * i + 12, masked);
}

/* The guest writes the Message Control register. */
static void control(bool enable, bool maskall)
{
	pci_cfg_set(&dev, x.cap + 2, 2,
		    (enable ? CTRL_ENABLE : 0) | (maskall ? CTRL_MASKALL : 0) | (x.nr - 1));
	msix_cfg_written(&x, x.cap + 2, 2);
}

/* What vector @i's eventfd holds (0 when nothing), drained. */
static uint64_t signals(unsigned int i)
{
	uint64_t v = 0;
	ssize_t n = read(x.v[i].efd, &v, sizeof(v));

	if (n < 0) {
		cr_assert_eq(errno, EAGAIN, "read eventfd %u: %s", i, strerror(errno));
		return 0;
	}
	cr_assert_eq(n, (ssize_t)sizeof(v));
	return v;
}

/* The whole pending-bit array, through the guest's view of it. */
static uint64_t pba(void)
{
	uint8_t b[8];
	uint64_t v = 0;

	msix_pba_read(&x, 0, b, sizeof(b));
	for (unsigned int i = 0; i < sizeof(b); i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

Test(msix, live_vector_signals_its_eventfd)
{
	setup_msix(4);
	program(0, false);
	program(2, false);
	program(1, true);
	control(true, false);
	cr_assert(msix_enabled(&x));

	cr_expect(msix_notify(&x, 0));
	cr_expect_eq(signals(0), 1);
	cr_expect_eq(signals(0), 0, "drained");
	cr_expect_eq(signals(1), 0);
	cr_expect_eq(signals(2), 0, "only the notified vector");
	cr_expect_eq(pba(), 0, "a live vector is not pending");

	cr_expect(msix_notify(&x, 2));
	cr_expect(msix_notify(&x, 2));
	cr_expect_eq(signals(2), 2, "each notify is one write");
	cr_expect_eq(signals(0), 0);
	cr_expect_eq(pba(), 0);
}

Test(msix, masked_vector_pends_without_signal)
{
	setup_msix(4);
	program(0, false);
	program(1, true);
	control(true, false);

	cr_expect(msix_notify(&x, 1), "a masked vector is still a valid notify");
	cr_expect_eq(signals(1), 0, "masked: no signal");
	cr_expect_eq(pba(), 0x2);
	cr_expect(msix_notify(&x, 1));
	cr_expect_eq(signals(1), 0);
	cr_expect_eq(pba(), 0x2, "one pending bit, however many notifies");
	/* A vector never programmed (masked since init) pends the same. */
	cr_expect(msix_notify(&x, 3));
	cr_expect_eq(signals(3), 0);
	cr_expect_eq(pba(), 0xa);
	/* The live one is not disturbed. */
	cr_expect(msix_notify(&x, 0));
	cr_expect_eq(signals(0), 1);
	cr_expect_eq(pba(), 0xa);
}

Test(msix, unmask_delivers_once_and_clears_pending)
{
	setup_msix(4);
	program(1, true);
	control(true, false);
	cr_expect(msix_notify(&x, 1));
	cr_expect(msix_notify(&x, 1));
	cr_expect(msix_notify(&x, 1));
	cr_expect_eq(pba(), 0x2);

	set_mask(1, false);
	cr_expect_eq(signals(1), 1, "delivered exactly once on unmask");
	cr_expect_eq(pba(), 0, "no longer pending");
	/* Unmasking again (a rewrite of the control word) delivers nothing more. */
	set_mask(1, false);
	cr_expect_eq(signals(1), 0);
	cr_expect_eq(pba(), 0);

	/* Live now: straight to the eventfd. */
	cr_expect(msix_notify(&x, 1));
	cr_expect_eq(signals(1), 1);
	cr_expect_eq(pba(), 0);

	/* Mask, unmask with nothing pending: nothing. */
	set_mask(1, true);
	set_mask(1, false);
	cr_expect_eq(signals(1), 0);

	/* Mask again: pends again, delivered again on unmask. */
	set_mask(1, true);
	cr_expect(msix_notify(&x, 1));
	cr_expect_eq(signals(1), 0);
	cr_expect_eq(pba(), 0x2);
	set_mask(1, false);
	cr_expect_eq(signals(1), 1);
	cr_expect_eq(pba(), 0);
}

Test(msix, function_mask_holds_every_vector)
{
	setup_msix(4);
	program(0, false);
	program(1, false);
	program(2, true);
	control(true, true);
	cr_assert(msix_enabled(&x), "MASKALL does not disable MSI-X");

	cr_expect(msix_notify(&x, 0));
	cr_expect(msix_notify(&x, 1));
	cr_expect(msix_notify(&x, 1));
	cr_expect(msix_notify(&x, 2));
	for (unsigned int i = 0; i < 4; i++)
		cr_expect_eq(signals(i), 0, "vector %u signalled under MASKALL", i);
	cr_expect_eq(pba(), 0x7);

	/* Unmasking the function delivers each unmasked vector once. */
	control(true, false);
	cr_expect_eq(signals(0), 1);
	cr_expect_eq(signals(1), 1);
	cr_expect_eq(signals(2), 0, "still masked on its own");
	cr_expect_eq(pba(), 0x4);
	set_mask(2, false);
	cr_expect_eq(signals(2), 1);
	cr_expect_eq(pba(), 0);

	/* MASKALL over live vectors; an individual unmask does not beat it. */
	control(true, true);
	cr_expect(msix_notify(&x, 0));
	set_mask(0, false);
	cr_expect_eq(signals(0), 0);
	cr_expect_eq(pba(), 0x1);
	control(true, false);
	cr_expect_eq(signals(0), 1);
	cr_expect_eq(pba(), 0);
}

Test(msix, disabled_returns_false)
{
	setup_msix(4);
	program(0, false);
	program(1, true);
	cr_expect_not(msix_enabled(&x));
	cr_expect_not(msix_notify(&x, 0), "MSI-X off after init");
	cr_expect_not(msix_notify(&x, 1));
	cr_expect_eq(signals(0), 0);
	cr_expect_eq(pba(), 0, "nothing recorded while off");

	/* MASKALL alone does not enable. */
	control(false, true);
	cr_expect_not(msix_enabled(&x));
	cr_expect_not(msix_notify(&x, 0));

	control(true, false);
	cr_expect(msix_enabled(&x));
	cr_expect(msix_notify(&x, 0));
	cr_expect_eq(signals(0), 1);

	control(false, false);
	cr_expect_not(msix_enabled(&x));
	cr_expect_not(msix_notify(&x, 0), "MSI-X off again");
	cr_expect_not(msix_notify(&x, 1));
	cr_expect_eq(signals(0), 0);
	cr_expect_eq(signals(1), 0);
	cr_expect_eq(pba(), 0);
}

Test(msix, out_of_range_vector)
{
	setup_msix(4);
	for (unsigned int i = 0; i < 4; i++)
		program(i, false);
	control(true, false);
	cr_expect_not(msix_notify(&x, 4));
	cr_expect_not(msix_notify(&x, 5));
	cr_expect_not(msix_notify(&x, MSIX_MAX_VECTORS - 1));
	for (unsigned int i = 0; i < 4; i++)
		cr_expect_eq(signals(i), 0);
	cr_expect_eq(pba(), 0);
	/* The last valid vector works. */
	cr_expect(msix_notify(&x, 3));
	cr_expect_eq(signals(3), 1);
}

/* Vectors at and beyond 64 (as wide as the bitmaps): refused, no shift past 63. */
Test(msix, vector_beyond_the_bitmap)
{
	setup_msix(4);
	program(0, false);
	control(true, false);
	cr_expect_not(msix_notify(&x, MSIX_MAX_VECTORS));
	cr_expect_not(msix_notify(&x, 65));
	cr_expect_not(msix_notify(&x, MSIX_NO_VECTOR));
	cr_expect_not(msix_notify(&x, UINT_MAX));
	cr_expect_eq(signals(0), 0);
	cr_expect_eq(pba(), 0);
}

Test(msix, all_sixty_four_vectors)
{
	setup_msix(MSIX_MAX_VECTORS);
	for (unsigned int i = 0; i < MSIX_MAX_VECTORS; i++)
		program(i, true);
	control(true, false);
	for (unsigned int i = 0; i < MSIX_MAX_VECTORS; i++)
		cr_expect(msix_notify(&x, i));
	cr_expect_eq(pba(), UINT64_MAX);

	uint8_t b[2] = { 0, 0 };

	msix_pba_read(&x, 7, b, 1);
	cr_expect_eq(b[0], 0xff, "the last PBA byte: vectors 56..63");
	set_mask(MSIX_MAX_VECTORS - 1, false);
	cr_expect_eq(signals(MSIX_MAX_VECTORS - 1), 1);
	cr_expect_eq(pba(), UINT64_MAX >> 1);
	msix_pba_read(&x, 7, b, 2);
	cr_expect_eq(b[0], 0x7f);
	cr_expect_eq(b[1], 0, "past the PBA: no vectors");
	cr_expect(msix_notify(&x, MSIX_MAX_VECTORS - 1));
	cr_expect_eq(signals(MSIX_MAX_VECTORS - 1), 1);
}

/* Only vectors below nr show in the PBA. */
Test(msix, pba_shows_only_existing_vectors)
{
	uint8_t b[4];

	setup_msix(3);
	control(true, false);
	for (unsigned int i = 0; i < 3; i++)
		cr_expect(msix_notify(&x, i));
	msix_pba_read(&x, 0, b, sizeof(b));
	cr_expect_eq(b[0], 0x7);
	cr_expect_eq(b[1], 0);
	cr_expect_eq(b[2], 0);
	cr_expect_eq(b[3], 0);
}

/* ---- shared across fork() ------------------------------------------- */

static pid_t spawn(int (*fn)(int rd, int wr), int *to_child, int *from_child)
{
	int down[2], up[2];
	pid_t pid;

	cr_assert_eq(pipe(down), 0);
	cr_assert_eq(pipe(up), 0);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		_exit(fn(down[0], up[1]));
	}
	close(down[0]);
	close(up[1]);
	*to_child = down[1];
	*from_child = up[0];
	return pid;
}

static int reap(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status), "child died of signal %d", WTERMSIG(status));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One byte each way; the child reports its msix_notify() results. */
static char xfer(int wr, int rd, char c)
{
	char r = 0;

	cr_assert_eq(write(wr, &c, 1), 1);
	cr_assert_eq(read(rd, &r, 1), 1);
	return r;
}

static int wait_byte(int rd)
{
	char c;

	return read(rd, &c, 1) == 1 ? c : -1;
}

static int reply(int wr, bool ok)
{
	char c = ok ? 'y' : 'n';

	return write(wr, &c, 1) == 1 ? 0 : 1;
}

/* Notify vector 0 (live) and 1 (masked), then exit. */
static int child_notifies(int rd, int wr)
{
	bool ok;

	if (wait_byte(rd) != 'g')
		return 2;
	ok = msix_notify(&x, 0) && msix_notify(&x, 1);
	return reply(wr, ok);
}

Test(msix, forked_child_signals_the_parent)
{
	int to, from;
	pid_t pid;

	setup_msix(4);
	program(0, false);
	program(1, true);
	control(true, false);
	pid = spawn(child_notifies, &to, &from);
	cr_expect_eq(xfer(to, from, 'g'), 'y', "msix_notify in the child");
	cr_expect_eq(reap(pid), 0);
	close(to);
	close(from);

	cr_expect_eq(signals(0), 1, "the child's notify reached the parent's eventfd");
	cr_expect_eq(signals(1), 0);
	cr_expect_eq(pba(), 0x2, "the child's pending bit is in the parent's PBA");
	set_mask(1, false);
	cr_expect_eq(signals(1), 1, "the parent delivers what the child left pending");
	cr_expect_eq(pba(), 0);
}

/*
 * The other way: the child forked while vector 0 was live and MSI-X on; the
 * parent then masks, unmasks, turns MSI-X off. The child's copy of struct
 * msix is stale, its view of the delivery state is not.
 */
static int child_follows_the_parent(int rd, int wr)
{
	for (;;) {
		int c = wait_byte(rd);

		switch (c) {
		case 'n': /* notify vector 0, report the result */
			if (reply(wr, msix_notify(&x, 0)))
				return 3;
			break;
		case 'q':
			return 0;
		default:
			return 4;
		}
	}
}

Test(msix, forked_child_sees_the_parents_changes)
{
	int to, from;
	pid_t pid;

	setup_msix(4);
	program(0, false);
	control(true, false);
	pid = spawn(child_follows_the_parent, &to, &from);

	cr_expect_eq(xfer(to, from, 'n'), 'y');
	cr_expect_eq(signals(0), 1, "live: signalled");

	set_mask(0, true);
	cr_expect_eq(xfer(to, from, 'n'), 'y');
	cr_expect_eq(signals(0), 0, "masked in the parent: the child does not signal");
	cr_expect_eq(pba(), 0x1, "but leaves it pending");
	set_mask(0, false);
	cr_expect_eq(signals(0), 1, "delivered on the parent's unmask");
	cr_expect_eq(pba(), 0);

	control(true, true);
	cr_expect_eq(xfer(to, from, 'n'), 'y');
	cr_expect_eq(signals(0), 0, "function-masked in the parent");
	cr_expect_eq(pba(), 0x1);
	control(true, false);
	cr_expect_eq(signals(0), 1);

	control(false, false);
	cr_expect_eq(xfer(to, from, 'n'), 'n', "MSI-X off in the parent: false in the child");
	cr_expect_eq(signals(0), 0);
	cr_expect_eq(pba(), 0);

	control(true, false);
	cr_expect_eq(xfer(to, from, 'n'), 'y', "on again");
	cr_expect_eq(signals(0), 1);

	cr_assert_eq(write(to, "q", 1), 1);
	cr_expect_eq(reap(pid), 0);
	close(to);
	close(from);
}

/*
 * A child notifies in a loop while the parent masks and unmasks: nothing
 * wedges, and once the vector stays live and the child is done, nothing is
 * left pending that a notify would not flush.
 */
#define STORM_NOTIFIES 200000

static int child_storm(int rd, int wr)
{
	if (wait_byte(rd) != 'g')
		return 2;
	for (int i = 0; i < STORM_NOTIFIES; i++)
		if (!msix_notify(&x, 0))
			return 5;
	return reply(wr, true);
}

Test(msix, notify_storm_against_mask_toggles)
{
	uint64_t total = 0;
	int to, from;
	char c = 0;
	pid_t pid;

	setup_msix(2);
	program(0, false);
	control(true, false);
	pid = spawn(child_storm, &to, &from);
	cr_assert_eq(write(to, "g", 1), 1);
	for (int i = 0; i < 100; i++) {
		set_mask(0, true);
		total += signals(0);
		set_mask(0, false);
		total += signals(0);
	}
	cr_expect_eq(read(from, &c, 1), 1);
	cr_expect_eq(c, 'y');
	cr_expect_eq(reap(pid), 0);
	close(to);
	close(from);

	total += signals(0);
	cr_expect_gt(total, 0);
	cr_expect_leq(total, STORM_NOTIFIES + 100, "at most one extra per unmask");
	/* Live and quiet: one more notify leaves nothing pending. */
	cr_expect(msix_notify(&x, 0));
	cr_expect_geq(signals(0), 1);
	cr_expect_eq(pba(), 0);
}
