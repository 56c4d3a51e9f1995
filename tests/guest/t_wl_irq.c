// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio-wayland tests (wl.h) driven by MSI-X interrupts instead of
 * polling only.
 *
 *   wl_msix: the same roundtrip driven by MSI-X interrupts (in queue 0x40,
 *	out queue 0x42), the guest asleep in hlt meanwhile.
 *   wl_spurious: with MSI-X, no interrupt at DRIVER_OK, and the out queue's
 *	vector once per answer, not for in-queue traffic.
 */
#include "wl.h"

static volatile unsigned int irq_in, irq_out, irq_ticks;
static volatile uint16_t *irq_in_used; /* the in queue's used->idx */
static volatile uint16_t irq_in_seen;  /* its value at the last in-queue interrupt */

static void wl_in_irq(struct irq_frame *f)
{
	(void)f;
	if (irq_in_used)
		irq_in_seen = *irq_in_used;
	irq_in++;
	lapic_write(LAPIC_EOI, 0);
}

static void wl_out_irq(struct irq_frame *f)
{
	(void)f;
	irq_out++;
	lapic_write(LAPIC_EOI, 0);
}

static void wl_timer_irq(struct irq_frame *f)
{
	(void)f;
	irq_ticks++;
	lapic_write(LAPIC_EOI, 0);
}

/* The handlers above on their vectors, the 8259s masked, the LAPIC on; MSI-X for wl_open(). */
static void irq_setup(const char *t)
{
	idt_install(t);
	idt_set_handler(WL_VEC_IN, wl_in_irq);
	idt_set_handler(WL_VEC_OUT, wl_out_irq);
	idt_set_handler(WL_VEC_TIMER, wl_timer_irq);
	pic_init(0);
	lapic_write(LAPIC_SVR, 0x1ff);
	wl_msix = true;
}

#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0

/* Sleeps in hlt until @count moves past @from or ~@max_ticks LAPIC timer ticks passed. */
static void wait_irq(volatile unsigned int *count, unsigned int from, unsigned int max_ticks)
{
	unsigned int start = irq_ticks;

	lapic_write(LAPIC_TIMER_DIV, 0x3);		      /* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, 0x20000 | WL_VEC_TIMER); /* periodic */
	lapic_write(LAPIC_TIMER_INIT, 200000);
	while (*count == from && irq_ticks - start < max_ticks)
		sti_hlt();
	cli();
	lapic_write(LAPIC_LVT_TIMER, 0x10000 | WL_VEC_TIMER); /* masked */
	lapic_write(LAPIC_TIMER_INIT, 0);
}

/*
 * Interrupts instead of polling: MSI-X vector 0x40 for the in queue, 0x42
 * for the out queue. The guest sleeps in hlt until the in-queue interrupt
 * says the compositor's answer is there (used->idx already moved when it
 * comes); commands are answered with an out-queue interrupt.
 */
void test_wl_msix(const struct boot_params *bp)
{
	const char *t = "wl_msix";
	struct wl *w = &wl0;
	struct wlctx *c;
	struct wbuf b;
	unsigned int before, rounds = 0;

	(void)bp;
	irq_setup(t);
	if (wl_open(t, w))
		return;
	irq_in_used = (volatile uint16_t *)&w->in->used->idx;
	sti();
	delay_loops(2000);
	cli();
	printf("WL interrupts before any command: in %u out %u\n", irq_in, irq_out);
	before = irq_out;
	if (!(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	wait_irq(&irq_out, before, 500);
	if (irq_out == before) {
		fail(t, "no out-queue MSI-X interrupt for VFD_NEW_CTX's response");
		return;
	}
	send_begin(&b, c->vfd, NULL, 0);
	req_registries(&b, c, OBJ_REG, 1);
	req_sync(&b, c, OBJ_CB1);
	w->hold = true; /* the in queue is read after its interrupt, not by wl_cmd() */
	if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND get_registry+sync"))
		return;
	while (!ctx_settled(c, OBJ_CB1) && rounds++ < 50) {
		before = irq_in;
		if (!vq_used_ready(w->in))
			wait_irq(&irq_in, before, 500);
		if (irq_in == before && !vq_used_ready(w->in))
			break;
		if (irq_in != before && !irq_in_seen) {
			fail(t, "the in-queue interrupt came while its used->idx was still 0");
			return;
		}
		in_pump(w);
	}
	/* Take what is still pending (the answer may have come while we were busy). */
	sti();
	delay_loops(2000);
	cli();
	printf("WL interrupts: in %u out %u, %u timer ticks, %u VFD_RECVs\n", irq_in, irq_out,
	       irq_ticks, w->recvs);
	if (ctx_ok(t, c, OBJ_CB1, "registry roundtrip by interrupts"))
		return;
	if (!irq_in) {
		fail(t, "the compositor's answer came without an in-queue MSI-X interrupt");
		return;
	}
	if (!irq_in_seen) {
		fail(t, "the in-queue interrupt came while its used->idx was still 0");
		return;
	}
	/* Two commands so far: more out-queue interrupts are spurious (noted, not failed). */
	printf("WL out-queue interrupts %u for %u answers\n", irq_out, w->out->last_used);
	w->hold = false;
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	pass(t);
}

/*
 * No interrupt without a used entry: with MSI-X, the out queue's vector
 * must fire once per answer, not at DRIVER_OK and not for the compositor's
 * bytes arriving on the in queue (blk_msix holds virtio-blk to the same).
 */
void test_wl_spurious(const struct boot_params *bp)
{
	const char *t = "wl_spurious";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off;
	unsigned int early;

	(void)bp;
	irq_setup(t);
	if (wl_open(t, w))
		return;
	sti();
	delay_loops(5000);
	cli();
	early = irq_out + irq_in;
	irq_out = irq_in = 0;
	/* Interrupts on while we poll: each is taken (and counted) as it comes. */
	sti();
	for (unsigned int i = 0; i < 4; i++)
		if (shm_new(t, w, 10 + i, 4096, &off) ||
		    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 10 + i), WL_RESP_OK, "VFD_CLOSE"))
			return;
	if (!(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	if (ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return;
	delay_loops(5000);
	cli();
	printf("WL interrupts: %u before any command; out queue %u for %u answers; in queue %u "
	       "for %u messages\n",
	       early, irq_out, w->out->last_used, irq_in, w->in->last_used);
	if (early) {
		fail(t, "%u interrupt(s) before any command (at DRIVER_OK?)", early);
		return;
	}
	if (irq_out > w->out->last_used) {
		fail(t, "%u out-queue interrupts for %u answers: %u without a used entry", irq_out,
		     w->out->last_used, irq_out - w->out->last_used);
		return;
	}
	pass(t);
}
