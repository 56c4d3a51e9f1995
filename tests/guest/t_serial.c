// SPDX-License-Identifier: BSD-3-Clause
/* COM1 tests: output, polled input, end of input, interrupts. */
#include "guest.h"

/*
 * serial_out's block: 64 lines of 64 bytes, "LINE nnn: " then 53 printable
 * characters (33 + (7 * line + 13 * column) % 94) and '\n'. The host test
 * builds the same 4096 bytes and compares.
 */
#define PATTERN_LINES 64
#define PATTERN_COLS 53

/* LSR reads of about 15 us each: 400000 polls is several seconds of waiting. */
#define INPUT_POLLS 400000UL
#define EOF_POLLS 20000UL

void test_serial_out(const struct boot_params *bp)
{
	const char *t = "serial_out";
	char line[PATTERN_COLS + 12];
	int lsr = 0, c;

	(void)bp;
	for (unsigned int i = 0; i < PATTERN_LINES; i++) {
		int n = snprintf(line, sizeof(line), "LINE %03u: ", i);

		for (unsigned int j = 0; j < PATTERN_COLS; j++)
			line[n++] = (char)(33 + (7 * i + 13 * j) % 94);
		line[n++] = '\n';
		line[n] = '\0';
		puts_serial(line);
	}

	for (unsigned int v = 0x5a; v <= 0xa5; v += 0x4b) {
		outb(COM1 + UART_SCR, (uint8_t)v);
		c = inb(COM1 + UART_SCR);
		if (c != (int)v) {
			fail(t, "scratch register: wrote 0x%02x, read 0x%02x", v, c);
			return;
		}
	}

	/* The transmitter must drain: THRE and TEMT both set. */
	for (int i = 0; i < 1000; i++) {
		lsr = inb(COM1 + UART_LSR);
		if ((lsr & (LSR_THRE | LSR_TEMT)) == (LSR_THRE | LSR_TEMT))
			break;
	}
	if ((lsr & (LSR_THRE | LSR_TEMT)) != (LSR_THRE | LSR_TEMT)) {
		fail(t, "LSR 0x%02x: THRE and TEMT never both set after output", lsr);
		return;
	}

	/* Loopback (MCR bit 4): a byte written comes back in RBR, not on the host. */
	outb(COM1 + UART_MCR, 0x10);
	outb(COM1 + UART_THR, 'L');
	c = getc_serial(1000);
	outb(COM1 + UART_MCR, 0x03);
	if (c != 'L') {
		fail(t, "loopback: wrote 'L', read %d", c);
		return;
	}
	pass(t);
}

void test_serial_in(const struct boot_params *bp)
{
	const char *t = "serial_in";
	char line[128];
	size_t n = 0;

	(void)bp;
	printf("READY\n");
	for (;;) {
		int c = getc_serial(INPUT_POLLS);

		if (c < 0) {
			line[n] = '\0';
			fail(t, "no input after %zu bytes (\"%s\")", n, line);
			return;
		}
		if (c == '\n')
			break;
		if (c == '\r')
			continue;
		if (n + 1 < sizeof(line))
			line[n++] = (char)c;
	}
	line[n] = '\0';
	printf("GOT %s\n", line);
	pass(t);
}

void test_serial_eof(const struct boot_params *bp)
{
	int c;

	(void)bp;
	c = getc_serial(EOF_POLLS);
	if (c >= 0)
		fail("serial_eof", "got byte 0x%02x but the host sent nothing", c);
	else
		pass("serial_eof");
}

/* serial_irq: state shared with the interrupt handlers. */
static volatile unsigned int ticks;
static volatile unsigned int com_irqs;
static volatile int rx_byte = -1;
static volatile unsigned int rx_count;
static volatile unsigned int thre_irqs;
static volatile int thre_iir = -1;
static volatile int other_iir = -1;

static void pit_handler(struct irq_frame *f)
{
	(void)f;
	ticks++;
	pic_eoi(0);
}

static void com1_handler(struct irq_frame *f)
{
	(void)f;
	com_irqs++;
	for (int i = 0; i < 16; i++) {
		uint8_t iir = inb(COM1 + UART_IIR);

		if (iir & 0x01)
			break;
		switch (iir & 0x0e) {
		case 0x04: /* received data */
		case 0x0c: /* character timeout */
			while (inb(COM1 + UART_LSR) & LSR_DR) {
				uint8_t c = inb(COM1 + UART_RBR);

				if (rx_byte < 0)
					rx_byte = c;
				rx_count++;
			}
			break;
		case 0x02: /* THR empty: reading IIR cleared it */
			if (thre_iir < 0)
				thre_iir = iir;
			thre_irqs++;
			break;
		case 0x06:
			other_iir = iir;
			inb(COM1 + UART_LSR);
			break;
		default:
			other_iir = iir;
			inb(COM1 + UART_MSR);
			break;
		}
	}
	pic_eoi(4);
}

/* Waits with hlt until *flag is non-zero or @max_ticks PIT ticks (100 Hz) pass. */
static int wait_irq(volatile unsigned int *flag, unsigned int max_ticks)
{
	unsigned int start = ticks;

	while (!*flag && ticks - start < max_ticks)
		sti_hlt();
	cli();
	return *flag != 0;
}

void test_serial_irq(const struct boot_params *bp)
{
	const char *t = "serial_irq";
	unsigned int start;
	uint8_t iir;

	(void)bp;
	idt_install(t);
	idt_set_handler(0x20, pit_handler);
	idt_set_handler(0x24, com1_handler);
	pic_init(1 << 0 | 1 << 4);
	pit_start(100);

	/* The timer must run, or no wait below is bounded. */
	start = ticks;
	for (int i = 0; i < 20 && ticks == start; i++)
		sti_hlt();
	cli();
	if (ticks == start) {
		fail(t, "no PIT interrupt on IRQ 0 (vector 0x20)");
		goto out;
	}

	inb(COM1 + UART_IIR);
	inb(COM1 + UART_MSR);
	outb(COM1 + UART_MCR, 0x0b); /* DTR | RTS | OUT2: interrupts reach the PIC */
	outb(COM1 + UART_IER, 0x01); /* received data available */
	printf("READY\n");
	if (!wait_irq(&rx_count, 1000)) {
		fail(t,
		     "no RX interrupt within 10 s (IRQs %u, other IIR 0x%x; now LSR 0x%02x "
		     "IIR 0x%02x, PIC IRR 0x%04x ISR 0x%04x)",
		     com_irqs, other_iir, inb(COM1 + UART_LSR), inb(COM1 + UART_IIR),
		     pic_read_irr(), pic_read_isr());
		goto out;
	}
	outb(COM1 + UART_IER, 0x00);
	printf("IRQ GOT %c\n", rx_byte);
	iir = inb(COM1 + UART_IIR);
	if (iir != 0x01) {
		fail(t, "IIR 0x%02x after the RX byte was read, want 0x01", iir);
		goto out;
	}

	/* THR is empty, so enabling its interrupt raises one at once. */
	outb(COM1 + UART_IER, 0x02);
	if (!wait_irq(&thre_irqs, 100)) {
		uint16_t irr = pic_read_irr(), isr = pic_read_isr();

		fail(t,
		     "no THRE interrupt within 1 s of IER bit 1 (COM1 IRQs %u, other IIR 0x%x; "
		     "now IER 0x%02x IIR 0x%02x, PIC IRR 0x%04x ISR 0x%04x)",
		     com_irqs, other_iir, inb(COM1 + UART_IER), inb(COM1 + UART_IIR), irr, isr);
		goto out;
	}
	/* Reading IIR cleared it: no second one may follow. */
	start = ticks;
	while (ticks - start < 5)
		sti_hlt();
	cli();
	iir = inb(COM1 + UART_IIR);
	outb(COM1 + UART_IER, 0x00);
	printf("IRQ THRE IIR 0x%02x\n", thre_iir);
	if ((thre_iir & 0x0f) != 0x02) {
		fail(t, "THRE interrupt with IIR 0x%02x, want 0x02", thre_iir);
		goto out;
	}
	if (thre_irqs != 1 || iir != 0x01) {
		fail(t, "%u THRE interrupts, IIR 0x%02x after the first; want 1 and 0x01",
		     thre_irqs, iir);
		goto out;
	}
	pass(t);
out:
	cli();
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_MCR, 0x03);
	pic_init(0);
}
