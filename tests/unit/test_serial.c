// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests of the 16550A UART, through its bus ops as a guest sees it. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/serial.h"

#define RBR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

struct fake_host {
	int irq_calls;
	int levels[64];
	int space_calls;
	int bad_sequence; /* set_irq called with the level it already had */
};

static struct serial *s;
static struct fake_host host;
static int pipefd[2] = { -1, -1 };

static void fake_set_irq(void *ctx, int level)
{
	struct fake_host *h = ctx;
	int prev = h->irq_calls ? h->levels[(h->irq_calls - 1) % 64] : 0;

	if (level == prev)
		h->bad_sequence++;
	h->levels[h->irq_calls % 64] = level;
	h->irq_calls++;
}

static void fake_rx_space(void *ctx)
{
	struct fake_host *h = ctx;

	h->space_calls++;
}

static const struct serial_host_ops fake_ops = {
	.set_irq = fake_set_irq,
	.rx_space = fake_rx_space,
};

static void setup(void)
{
	memset(&host, 0, sizeof(host));
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	/* The test reads the pipe without blocking. */
	cr_assert_eq(fcntl(pipefd[0], F_SETFL, O_NONBLOCK), 0);
	s = serial_create(pipefd[1], &fake_ops, &host);
	cr_assert_not_null(s);
}

static void teardown(void)
{
	serial_destroy(s);
	s = NULL;
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	close(pipefd[1]);
}

static void wr(uint64_t reg, uint8_t v)
{
	serial_io_ops.write(s, reg, &v, 1);
}

static uint8_t rd(uint64_t reg)
{
	uint8_t v = 0x5a;

	serial_io_ops.read(s, reg, &v, 1);
	return v;
}

static ssize_t drain_pipe(char *buf, size_t n)
{
	ssize_t r = read(pipefd[0], buf, n);

	return r < 0 && errno == EAGAIN ? 0 : r;
}

static void fill_rx(size_t n)
{
	uint8_t buf[32];
	size_t i;

	for (i = 0; i < n && i < sizeof(buf); i++)
		buf[i] = 'a' + i;
	cr_assert_eq(serial_receive(s, buf, n), n);
}

TestSuite(serial, .init = setup, .fini = teardown);

Test(serial, reset_values)
{
	cr_assert_eq(rd(IER), 0x00);
	cr_assert_eq(rd(IIR), 0x01);
	cr_assert_eq(rd(LCR), 0x00);
	cr_assert_eq(rd(MCR), 0x00);
	cr_assert_eq(rd(LSR), 0x60);
	cr_assert_eq(rd(MSR), 0xb0);
	cr_assert_eq(host.irq_calls, 0);
	cr_assert_eq(serial_tx_count(s), 0);
}

Test(serial, divisor_latch)
{
	char buf[4];

	wr(LCR, 0x83);
	wr(0, 0x01);
	wr(1, 0x02);
	cr_assert_eq(rd(0), 0x01);
	cr_assert_eq(rd(1), 0x02);
	cr_assert_eq(rd(LCR), 0x83);
	wr(LCR, 0x03);
	/* DLAB off: offset 1 is IER again, and the divisor writes sent nothing. */
	cr_assert_eq(rd(IER), 0x00);
	cr_assert_eq(serial_tx_count(s), 0);
	cr_assert_eq(drain_pipe(buf, sizeof(buf)), 0);
	wr(LCR, 0x80);
	cr_assert_eq(rd(0), 0x01);
	cr_assert_eq(rd(1), 0x02);
}

Test(serial, scratch)
{
	wr(SCR, 0xa5);
	cr_assert_eq(rd(SCR), 0xa5);
	wr(SCR, 0x5a);
	cr_assert_eq(rd(SCR), 0x5a);
}

Test(serial, ier_keeps_low_nibble)
{
	wr(IER, 0xff);
	cr_assert_eq(rd(IER), 0x0f);
}

Test(serial, transmit_to_fd)
{
	char buf[8];

	wr(RBR, 'h');
	wr(RBR, 'i');
	cr_assert_eq(drain_pipe(buf, sizeof(buf)), 2);
	cr_assert_eq(memcmp(buf, "hi", 2), 0);
	cr_assert_eq(serial_tx_count(s), 2);
	cr_assert_eq(rd(LSR) & 0x60, 0x60);
}

Test(serial, transmit_to_closed_pipe_survives)
{
	sigset_t pending;

	close(pipefd[0]);
	pipefd[0] = -1;
	wr(RBR, 'x');
	wr(RBR, 'y');
	cr_assert_eq(serial_tx_count(s), 2);
	sigpending(&pending);
	cr_assert_not(sigismember(&pending, SIGPIPE));
}

static void fill_pipe(void)
{
	char junk[4096];
	int fl = fcntl(pipefd[1], F_GETFL);

	memset(junk, 'j', sizeof(junk));
	fcntl(pipefd[1], F_SETPIPE_SZ, 4096);
	fcntl(pipefd[1], F_SETFL, fl | O_NONBLOCK);
	while (write(pipefd[1], junk, sizeof(junk)) > 0)
		;
	fcntl(pipefd[1], F_SETFL, fl);
}

struct tx_thread {
	pthread_t t;
	int n;
	volatile bool done;
};

static void *transmit_z(void *arg)
{
	struct tx_thread *x = arg;

	for (int i = 0; i < x->n; i++)
		wr(RBR, 'z');
	x->done = true;
	return NULL;
}

/* A slow reader holds the guest back; nothing is dropped. */
Test(serial, full_pipe_waits_for_reader)
{
	struct tx_thread x = { .n = 20 };
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	char buf[4096];
	int zs = 0;
	ssize_t n;

	fill_pipe();
	pthread_create(&x.t, NULL, transmit_z, &x);
	nanosleep(&ts, NULL);
	cr_assert_not(x.done, "the transmitter did not wait for room");
	for (;;) {
		bool finished = x.done; /* read before draining: no byte can slip past */

		n = drain_pipe(buf, sizeof(buf));
		for (ssize_t i = 0; i < n; i++)
			zs += buf[i] == 'z';
		if (n <= 0 && finished)
			break;
	}
	pthread_join(x.t, NULL);
	cr_assert_eq(zs, 20, "%d of 20 bytes arrived", zs);
	cr_assert_eq(serial_tx_count(s), 20);
}

static void on_kick(int sig)
{
	(void)sig;
}

/* The VMM stops a vCPU stuck on a full output with a signal: the byte is dropped. */
Test(serial, signal_releases_blocked_transmitter)
{
	struct sigaction sa = { .sa_handler = on_kick }; /* no SA_RESTART */
	struct tx_thread x = { .n = 1 };
	struct timespec ts = { 0, 50 * 1000 * 1000 }, until;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	fill_pipe();
	pthread_create(&x.t, NULL, transmit_z, &x);
	nanosleep(&ts, NULL);
	cr_assert_not(x.done);
	pthread_kill(x.t, SIGUSR1);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	cr_assert_eq(pthread_timedjoin_np(x.t, NULL, &until), 0, "still blocked after a signal");
	cr_assert(x.done);
}

/* A stopping VM's UART writes what fits and drops the rest, never waiting for room. */
Test(serial, stop_waiting_drops_instead_of_blocking)
{
	struct tx_thread x = { .n = 3 };
	struct timespec until;

	fill_pipe();
	serial_stop_waiting(s);
	pthread_create(&x.t, NULL, transmit_z, &x);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	cr_assert_eq(pthread_timedjoin_np(x.t, NULL, &until), 0, "blocked on a full output");
	cr_assert(x.done);
	cr_assert_eq(serial_tx_count(s), 3);
}

Test(serial, fifo_fill_and_overflow)
{
	uint8_t in[20];
	int i;

	for (i = 0; i < 20; i++)
		in[i] = i;
	wr(FCR, 0x01);
	cr_assert_eq(serial_rx_space(s), 16);
	cr_assert_eq(serial_receive(s, in, 20), 16);
	cr_assert_eq(serial_rx_space(s), 0);
	cr_assert_eq(serial_receive(s, in, 1), 0);
	for (i = 0; i < 16; i++) {
		cr_assert_eq(rd(LSR) & 0x01, 0x01);
		cr_assert_eq(rd(RBR), i);
	}
	cr_assert_eq(rd(LSR), 0x60);
	cr_assert_eq(serial_rx_space(s), 16);
}

Test(serial, no_fifo_holds_one_byte)
{
	fill_rx(1);
	cr_assert_eq(serial_receive(s, (const uint8_t *)"bc", 2), 0);
	cr_assert_eq(rd(RBR), 'a');
	cr_assert_eq(host.space_calls, 1);
}

Test(serial, rx_space_after_full_fifo)
{
	wr(FCR, 0x01);
	fill_rx(5);
	rd(RBR);
	cr_assert_eq(host.space_calls, 0);
	fill_rx(12);
	cr_assert_eq(serial_rx_space(s), 0);
	cr_assert_eq(rd(RBR), 'b');
	cr_assert_eq(host.space_calls, 1);
	rd(RBR);
	cr_assert_eq(host.space_calls, 1);
	/* Emptying a full FIFO by a reset also makes room. */
	fill_rx(2);
	wr(FCR, 0x03);
	cr_assert_eq(host.space_calls, 2);
	cr_assert_eq(serial_rx_space(s), 16);
}

Test(serial, iir_priorities)
{
	int i;

	wr(FCR, 0x01);
	wr(MCR, 0x10); /* loopback: DCD/DSR/CTS drop, deltas set */
	wr(IER, 0x0f);
	for (i = 0; i < 17; i++)
		wr(RBR, 0x40 + i);
	/* Overrun, data, THRE and modem status are all pending. */
	cr_assert_eq(rd(IIR), 0xc6);
	cr_assert_eq(rd(LSR), 0x63);
	cr_assert_eq(rd(IIR), 0xc4);
	for (i = 0; i < 16; i++)
		cr_assert_eq(rd(RBR), 0x40 + i);
	cr_assert_eq(rd(IIR), 0xc2);
	/* That read acknowledged THRE. */
	cr_assert_eq(rd(IIR), 0xc0);
	cr_assert_eq(rd(MSR), 0x0b);
	cr_assert_eq(rd(IIR), 0xc1);
	cr_assert_eq(rd(MSR), 0x00);
}

Test(serial, thre_interrupt_rules)
{
	wr(IER, 0x02);
	cr_assert_eq(host.irq_calls, 1);
	cr_assert_eq(host.levels[0], 1);
	cr_assert_eq(rd(IIR), 0x02);
	cr_assert_eq(host.irq_calls, 2);
	cr_assert_eq(host.levels[1], 0);
	cr_assert_eq(rd(IIR), 0x01);
	/* A transmitted byte empties THR again: THRE comes back. */
	wr(RBR, 'x');
	cr_assert_eq(rd(IIR), 0x02);
	cr_assert_eq(rd(IIR), 0x01);
	/* Re-enabling raises it; disabling drops it. */
	wr(IER, 0x00);
	wr(IER, 0x02);
	wr(IER, 0x00);
	cr_assert_eq(rd(IIR), 0x01);
	wr(IER, 0x02);
	/* IIR reporting a higher source does not acknowledge THRE. */
	wr(IER, 0x03);
	fill_rx(1);
	cr_assert_eq(rd(IIR), 0x04);
	rd(RBR);
	cr_assert_eq(rd(IIR), 0x02);
	cr_assert_eq(rd(IIR), 0x01);
	cr_assert_eq(host.bad_sequence, 0);
}

Test(serial, irq_changes_reported_once)
{
	wr(FCR, 0x01);
	wr(IER, 0x01);
	cr_assert_eq(host.irq_calls, 0);
	fill_rx(2);
	cr_assert_eq(host.irq_calls, 1);
	fill_rx(1);
	rd(LSR);
	rd(IIR);
	rd(RBR);
	rd(RBR);
	cr_assert_eq(host.irq_calls, 1);
	rd(RBR);
	cr_assert_eq(host.irq_calls, 2);
	cr_assert_eq(host.levels[0], 1);
	cr_assert_eq(host.levels[1], 0);
	/* Masking the source drops the line too. */
	fill_rx(1);
	wr(IER, 0x00);
	cr_assert_eq(host.irq_calls, 4);
	cr_assert_eq(host.levels[3], 0);
	cr_assert_eq(host.bad_sequence, 0);
}

Test(serial, loopback)
{
	char buf[4];

	wr(FCR, 0x01);
	/* Linux's 8250 probe: LOOP|OUT2|RTS must read back DCD|CTS. */
	wr(MCR, 0x1a);
	cr_assert_eq(rd(MSR) & 0xf0, 0x90);
	wr(MCR, 0x1f);
	cr_assert_eq(rd(MSR) & 0xf0, 0xf0);
	wr(RBR, 'A');
	cr_assert_eq(drain_pipe(buf, sizeof(buf)), 0);
	cr_assert_eq(rd(LSR), 0x61);
	cr_assert_eq(rd(RBR), 'A');
	cr_assert_eq(serial_receive(s, (const uint8_t *)"q", 1), 0);
	cr_assert_eq(serial_rx_space(s), 0);
	/* RI falling (OUT1 cleared) sets TERI. */
	wr(MCR, 0x1b);
	cr_assert_eq(rd(MSR), 0xb4);
	/* Leaving loopback: inputs asserted again, host may send again. */
	wr(MCR, 0x03);
	cr_assert_eq(rd(MSR) & 0xf0, 0xb0);
	cr_assert_eq(host.space_calls, 1);
	cr_assert_eq(serial_receive(s, (const uint8_t *)"q", 1), 1);
	wr(RBR, 'B');
	cr_assert_eq(drain_pipe(buf, sizeof(buf)), 1);
	cr_assert_eq(buf[0], 'B');
}

Test(serial, fcr_resets_and_fifo_bits)
{
	cr_assert_eq(rd(IIR) & 0xc0, 0x00);
	wr(FCR, 0x01);
	cr_assert_eq(rd(IIR), 0xc1);
	fill_rx(5);
	wr(FCR, 0x05); /* TX reset: RX untouched */
	cr_assert_eq(rd(LSR) & 0x01, 0x01);
	wr(FCR, 0x03);
	cr_assert_eq(rd(LSR) & 0x01, 0x00);
	cr_assert_eq(serial_rx_space(s), 16);
	fill_rx(3);
	/* Turning the FIFOs off empties them. */
	wr(FCR, 0x00);
	cr_assert_eq(rd(LSR) & 0x01, 0x00);
	cr_assert_eq(rd(IIR), 0x01);
	cr_assert_eq(serial_rx_space(s), 1);
}

Test(serial, odd_lengths_and_offsets)
{
	uint8_t v[4] = { 0x11, 0x22, 0x33, 0x44 };
	uint8_t out[4] = { 1, 2, 3, 4 };

	serial_io_ops.write(s, SCR, v, 2);
	serial_io_ops.read(s, SCR, out, 4);
	cr_assert_eq(out[0], 0x11);
	cr_assert_eq(out[1], 0x00);
	cr_assert_eq(out[3], 0x00);
	serial_io_ops.read(s, 8, out, 4);
	cr_assert_eq(out[0], 0xff);
	cr_assert_eq(out[3], 0xff);
	serial_io_ops.write(s, 8, v, 1);
	serial_io_ops.write(s, UINT64_MAX, v, 4);
	serial_io_ops.write(s, SCR, v, 0);
	cr_assert_eq(rd(SCR), 0x11);
	cr_assert_eq(serial_tx_count(s), 0);
}

static void *rx_thread(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 20000; i++)
		serial_receive(s, (const uint8_t *)"r", 1);
	return NULL;
}

/* Concurrent changes: set_irq still alternates and ends at the true level. */
Test(serial, concurrent_irq_reports)
{
	pthread_t t;
	int i;

	wr(FCR, 0x01);
	wr(IER, 0x01);
	cr_assert_eq(pthread_create(&t, NULL, rx_thread, NULL), 0);
	for (i = 0; i < 20000; i++)
		rd(RBR);
	pthread_join(t, NULL);
	cr_assert_eq(host.bad_sequence, 0);
	cr_assert_gt(host.irq_calls, 0);
	cr_assert_eq(host.levels[(host.irq_calls - 1) % 64], !(rd(IIR) & 0x01));
	while (rd(LSR) & 0x01)
		rd(RBR);
	cr_assert_eq(host.levels[(host.irq_calls - 1) % 64], 0);
}

Test(serial, null_callbacks)
{
	struct serial *n = serial_create(-1, NULL, NULL);
	uint8_t v = 0x02;

	cr_assert_not_null(n);
	serial_io_ops.write(n, IER, &v, 1);
	v = 'x';
	serial_io_ops.write(n, RBR, &v, 1);
	serial_io_ops.read(n, IIR, &v, 1);
	cr_assert_eq(v, 0x02);
	cr_assert_eq(serial_tx_count(n), 1);
	serial_destroy(n);
	serial_destroy(NULL);
}

/*
 * Regression: a guest access that lowers and raises the interrupt while the
 * host thread is still reporting the previous rise must still give the host
 * both changes. Merging them would hide the second rising edge from the
 * edge-triggered PIC (a THRE interrupt was lost that way under load).
 */
struct edge_ctx {
	struct fake_host *h;
	pthread_t guest;
	bool started;
};

static void *guest_ack_then_thri(void *arg)
{
	(void)arg;
	rd(RBR);       /* take the byte: RX interrupt goes away */
	wr(IER, 0x03); /* enable THRI: THRE interrupt comes */
	return NULL;
}

static struct edge_ctx edge;

static void slow_set_irq(void *ctx, int level)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	fake_set_irq(ctx, level);
	if (!edge.started) {
		/* While the host reports the rise, the guest acts on another thread. */
		edge.started = true;
		pthread_create(&edge.guest, NULL, guest_ack_then_thri, NULL);
		nanosleep(&ts, NULL);
	}
}

static const struct serial_host_ops slow_ops = { .set_irq = slow_set_irq };

Test(serial_race, concurrent_edges_are_not_merged)
{
	int p[2];
	uint8_t b = 'x';

	memset(&host, 0, sizeof(host));
	memset(&edge, 0, sizeof(edge));
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	s = serial_create(p[1], &slow_ops, &host);
	wr(FCR, 0x01);
	wr(IER, 0x01);
	cr_assert_eq(serial_receive(s, &b, 1), 1);
	pthread_join(edge.guest, NULL);
	cr_assert_eq(host.irq_calls, 3, "levels reported: %d", host.irq_calls);
	cr_assert_eq(host.levels[0], 1);
	cr_assert_eq(host.levels[1], 0);
	cr_assert_eq(host.levels[2], 1);
	serial_destroy(s);
	s = NULL;
	close(p[0]);
	close(p[1]);
}
