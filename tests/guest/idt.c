// SPDX-License-Identifier: BSD-3-Clause
/* IDT, 8259 PIC and PIT for the tests that take interrupts. */
#include "guest.h"

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type; /* 0x8e: present, DPL 0, 64-bit interrupt gate */
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

struct idt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern const char isr_stubs[];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static irq_handler_fn handlers[256];
static const char *idt_test = "?";

void isr_dispatch(struct irq_frame *f);

void isr_dispatch(struct irq_frame *f)
{
	unsigned int v = (unsigned int)f->vector;

	if (v < 256 && handlers[v]) {
		handlers[v](f);
		return;
	}
	if (v >= 0x20 && v < 0x30) {
		/* An IRQ nobody asked for (or a spurious IRQ 7/15): acknowledge it. */
		pic_eoi(v - 0x20);
		return;
	}
	fail(idt_test, "unexpected exception or interrupt %u (error 0x%lx) at RIP 0x%lx", v,
	     f->error, f->rip);
	reset();
}

void idt_install(const char *test)
{
	struct idt_ptr p = { .limit = sizeof(idt) - 1, .base = (uintptr_t)idt };
	uint16_t cs;

	idt_test = test;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (unsigned int v = 0; v < 256; v++) {
		uint64_t a = (uintptr_t)isr_stubs + 16 * v;

		idt[v] = (struct idt_gate){
			.off_lo = (uint16_t)a,
			.sel = cs,
			.type = 0x8e,
			.off_mid = (uint16_t)(a >> 16),
			.off_hi = (uint32_t)(a >> 32),
		};
	}
	__asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

void idt_set_handler(unsigned int vector, irq_handler_fn fn)
{
	if (vector < 256)
		handlers[vector] = fn;
}

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

void pic_init(uint16_t unmask)
{
	outb(PIC1_CMD, 0x11); /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, 0x20); /* ICW2: vector base */
	outb(PIC2_DATA, 0x28);
	outb(PIC1_DATA, 0x04); /* ICW3: slave on IRQ 2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01); /* ICW4: 8086 mode */
	outb(PIC2_DATA, 0x01);
	if (unmask & 0xff00)
		unmask |= 1 << 2; /* the cascade */
	outb(PIC1_DATA, (uint8_t)~unmask);
	outb(PIC2_DATA, (uint8_t) ~(unmask >> 8));
}

void pic_eoi(unsigned int irq)
{
	if (irq >= 8)
		outb(PIC2_CMD, 0x20);
	outb(PIC1_CMD, 0x20);
}

uint16_t pic_read_irr(void)
{
	outb(PIC1_CMD, 0x0a); /* OCW3: read IRR */
	outb(PIC2_CMD, 0x0a);
	return (uint16_t)(inb(PIC1_CMD) | inb(PIC2_CMD) << 8);
}

uint16_t pic_read_isr(void)
{
	outb(PIC1_CMD, 0x0b); /* OCW3: read ISR */
	outb(PIC2_CMD, 0x0b);
	return (uint16_t)(inb(PIC1_CMD) | inb(PIC2_CMD) << 8);
}

void pit_start(unsigned int hz)
{
	unsigned int div = 1193182 / hz;

	outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2 (rate generator) */
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
}

void pit_stop(void)
{
	outb(PIC1_DATA, inb(PIC1_DATA) | 0x01);
}
