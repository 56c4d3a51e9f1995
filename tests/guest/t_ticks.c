// SPDX-License-Identifier: BSD-3-Clause
/*
 * ticks: a guest that keeps running and shows it, for the control-socket
 * tests (suspend, resume). The PIT interrupts at 100 Hz on IRQ 0 (8259
 * remapped to 0x20); the handler counts, and the main loop prints
 * "TICK <n>" every 10 ticks (about ten lines a second) from a `sti; hlt`
 * loop, forever: the host stops the VM.
 */
#include "guest.h"

#define TICK_HZ 100
#define TICKS_PER_LINE 10

static volatile unsigned long ticks;

static void tick_handler(struct irq_frame *f)
{
	(void)f;
	ticks++;
	pic_eoi(0);
}

void test_ticks(const struct boot_params *bp)
{
	unsigned long next = TICKS_PER_LINE;

	(void)bp;
	idt_install("ticks");
	idt_set_handler(0x20, tick_handler);
	pic_init(1 << 0);
	pit_start(TICK_HZ); /* divisor 1193182 / 100 */
	puts_serial("TICKS\n");
	for (;;) {
		unsigned long now;

		sti_hlt();
		cli();
		now = ticks;
		if (now >= next) {
			/* Interrupts off while printing: the ticks keep pending in the PIC. */
			printf("TICK %lu\n", now);
			next = now - now % TICKS_PER_LINE + TICKS_PER_LINE;
		}
	}
}
