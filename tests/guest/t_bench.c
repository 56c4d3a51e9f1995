// SPDX-License-Identifier: BSD-3-Clause
/*
 * Exit round-trip benchmarks (bench/exit_rtt.c runs them under cvm and QEMU):
 * N guest accesses that each exit to the VMM, which does nothing with them,
 * timed with the TSC; N from cvm.n= (default 100000, bench_exit_r0 10000).
 *
 *   bench_exit       ring 3 (IOPL 3): `outb %al, $0x80` (the POST port)
 *   bench_exit_mmio  ring 3: a 32-bit read of 0xd0000000, an address with
 *                    no RAM and no device (libcvm's PCI hole, past its BARs)
 *   bench_exit_r0    ring 0 (emulated here): `outb %al, $0x80`
 *
 * Each prints "BENCH <kind> N <n> cycles <c> per_exit <c/n>" and PASS.
 * bench_exit also prints what user_run() costs: "BENCH user_run first <c>
 * next <c>" (the first call includes the set-up).
 *
 * user_mode checks user.h itself: ring 3, the argument, user_exit(), port
 * I/O both ways with USER_IOPL, and PIT interrupts taken in ring 3.
 */
#include "hw.h"
#include "user.h"

#define POST_PORT 0x80
#define UNASSIGNED_MMIO 0xd0000000UL

struct bench {
	unsigned long n;
	uint64_t t0, t1;
};

static unsigned long parse_ulong(const char *s, unsigned long dflt)
{
	unsigned long v = 0;

	if (!*s)
		return dflt;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return dflt;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v ? v : dflt;
}

unsigned long bench_n(const struct boot_params *bp, unsigned long dflt)
{
	char val[32];

	if (cmdline_get(bp, "cvm.n", val, sizeof(val)) < 0)
		return dflt;
	return parse_ulong(val, dflt);
}

static void pio_loop(void *arg)
{
	struct bench *b = arg;
	unsigned long n = b->n;

	b->t0 = rdtsc();
	__asm__ volatile("1: outb %%al, $0x80\n\t"
			 "dec %0\n\t"
			 "jnz 1b"
			 : "+c"(n)
			 : "a"(0)
			 : "memory", "cc");
	b->t1 = rdtsc();
}

static void mmio_loop(void *arg)
{
	struct bench *b = arg;
	unsigned long n = b->n;
	uint32_t v;

	b->t0 = rdtsc();
	__asm__ volatile("1: movl (%2), %1\n\t"
			 "dec %0\n\t"
			 "jnz 1b"
			 : "+c"(n), "=&r"(v)
			 : "r"(UNASSIGNED_MMIO)
			 : "memory", "cc");
	b->t1 = rdtsc();
}

static void nothing(void *arg)
{
	(void)arg;
}

static void report(const char *test, const char *kind, const struct bench *b)
{
	uint64_t c = b->t1 - b->t0;

	printf("BENCH %s N %lu cycles %lu per_exit %lu\n", kind, b->n, (unsigned long)c,
	       (unsigned long)(c / b->n));
	pass(test);
}

void test_bench_exit(const struct boot_params *bp)
{
	struct bench b = { .n = bench_n(bp, 100000) };
	uint64_t t0, t1, t2;

	t0 = rdtsc();
	user_run(nothing, NULL, 0);
	t1 = rdtsc();
	user_run(nothing, NULL, 0);
	t2 = rdtsc();
	printf("BENCH user_run first %lu next %lu\n", (unsigned long)(t1 - t0),
	       (unsigned long)(t2 - t1));
	user_run(pio_loop, &b, USER_IOPL);
	report("bench_exit", "exit", &b);
}

void test_bench_exit_mmio(const struct boot_params *bp)
{
	struct bench b = { .n = bench_n(bp, 100000) };

	user_run(mmio_loop, &b, 0);
	report("bench_exit_mmio", "exit_mmio", &b);
}

void test_bench_exit_r0(const struct boot_params *bp)
{
	struct bench b = { .n = bench_n(bp, 10000) };

	pio_loop(&b);
	report("bench_exit_r0", "exit_r0", &b);
}

struct user_check {
	uint16_t cs;
	unsigned long arg;
	int after_exit;
	uint8_t post, scratch;
	unsigned long spins;
};

static volatile unsigned long user_ticks;

static void user_tick(struct irq_frame *f)
{
	(void)f;
	user_ticks++;
	pic_eoi(0);
}

static void check_cs(void *arg)
{
	struct user_check *c = arg;

	__asm__ volatile("mov %%cs, %0" : "=r"(c->cs));
	c->arg = 0x5eed;
}

static void leave_early(struct user_check *c)
{
	user_exit();
	c->after_exit = 1;
}

static void check_exit(void *arg)
{
	leave_early(arg);
	((struct user_check *)arg)->after_exit = 2;
}

static void check_io(void *arg)
{
	struct user_check *c = arg;

	outb(POST_PORT, 0x42);
	c->post = inb(POST_PORT);
	outb(COM1 + UART_SCR, 0xa5);
	c->scratch = inb(COM1 + UART_SCR);
}

static void wait_ticks(void *arg)
{
	struct user_check *c = arg;

	user_ticks = 0; /* count only the ticks taken in ring 3 */
	while (user_ticks < 3 && c->spins < 4000000000UL)
		c->spins++;
}

void test_user_mode(const struct boot_params *bp)
{
	const char *t = "user_mode";
	struct user_check c = { 0 };
	uint16_t cs;

	(void)bp;
	if (user_run(check_cs, &c, 0) || (c.cs & 3) != 3 || c.arg != 0x5eed) {
		fail(t, "ring 3: CS 0x%x, arg 0x%lx", c.cs, c.arg);
		return;
	}
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	if (cs & 3) {
		fail(t, "back in ring %u, not 0", cs & 3);
		return;
	}
	if (user_run(check_exit, &c, 0) || c.after_exit) {
		fail(t, "user_exit() came back (%d)", c.after_exit);
		return;
	}
	if (user_run(check_io, &c, USER_IOPL) || c.post != 0xff || c.scratch != 0xa5) {
		fail(t, "ring-3 port I/O: POST read 0x%x (want 0xff), scratch 0x%x (want 0xa5)",
		     c.post, c.scratch);
		return;
	}
	idt_install(t);
	idt_set_handler(0x20, user_tick);
	pic_init(1 << 0);
	pit_start(1000);
	sti();
	user_run(wait_ticks, &c, 0);
	cli();
	pit_stop();
	if (user_ticks < 3) {
		fail(t, "%lu PIT ticks in ring 3 after %lu spins", user_ticks, c.spins);
		return;
	}
	pass(t);
}
