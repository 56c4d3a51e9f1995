// SPDX-License-Identifier: BSD-3-Clause
/*
 * 16550A UART. Transmission is immediate (THR and the transmitter are always
 * empty), so only the receive side keeps a FIFO. Register semantics follow
 * the National/TI PC16550D datasheet as far as Linux's 8250 driver looks at
 * them: autoconfig (IER and loopback probes, FIFO detection through IIR bits
 * 7:6), THRE interrupts for transmission, and RX data interrupts.
 */
#include "devices/serial.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/io.h"

/* Register offsets (DLAB = LCR bit 7 selects DLL/DLM at 0/1). */
#define UART_RX 0  /* RBR (read), THR (write), DLL when DLAB */
#define UART_IER 1 /* DLM when DLAB */
#define UART_IIR 2 /* IIR (read), FCR (write) */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI 0x01  /* receive data available */
#define IER_THRI 0x02 /* transmit holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI 0x08  /* modem status */
#define IER_MASK 0x0f

/* IIR interrupt identification, highest priority first. */
#define IIR_NO_INT 0x01
#define IIR_RLSI 0x06
#define IIR_RDI 0x04
#define IIR_THRI 0x02
#define IIR_MSI 0x00
#define IIR_FIFOS_ENABLED 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RCVR 0x02
#define FCR_CLEAR_XMIT 0x04
#define FCR_TRIGGER_MASK 0xc0

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/* How long a transmitted byte may wait for room in out_fd. */

struct serial {
	pthread_mutex_t lock;
	int out_fd;
	const struct serial_host_ops *ops;
	void *ctx;

	uint8_t rx[SERIAL_FIFO_SIZE];
	unsigned int rx_head, rx_count;

	uint8_t ier, fcr, lcr, mcr, msr, scr, dll, dlm;
	bool overrun;	   /* LSR.OE, cleared by reading LSR */
	bool thri_pending; /* THRE interrupt not yet acknowledged */
	uint64_t tx_count;
	bool no_wait; /* the VM stops: drop a byte out_fd has no room for */

	int irq_reported; /* the last level given to ops->set_irq */
};

/* Without FIFOs (FCR bit 0 clear) the 16550 holds one received byte, like a 16450. */
static unsigned int serial_rx_cap(const struct serial *s)
{
	return (s->fcr & FCR_ENABLE) ? SERIAL_FIFO_SIZE : 1;
}

/* Room for host input: none in loopback, where the receiver is fed by THR. */
static unsigned int serial_host_space(const struct serial *s)
{
	if (s->mcr & MCR_LOOP)
		return 0;
	return serial_rx_cap(s) - s->rx_count;
}

static bool serial_rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_count >= serial_rx_cap(s))
		return false;
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = byte;
	s->rx_count++;
	return true;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
	s->rx_count--;
	return byte;
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/* The pending interrupt of highest priority, as IIR bits 3:0 report it. */
static uint8_t serial_iid(const struct serial *s)
{
	if ((s->ier & IER_RLSI) && s->overrun)
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && (s->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

/*
 * Recompute the modem status inputs. Outside loopback DCD, DSR and CTS are
 * asserted (a terminal is always there); in loopback they are wired to the
 * MCR outputs: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2. A change sets the
 * delta bits, and RI sets TERI only on its trailing (1 -> 0) edge.
 */
static void serial_update_msr(struct serial *s)
{
	uint8_t old = s->msr, now, changed;

	if (s->mcr & MCR_LOOP) {
		now = ((s->mcr & MCR_RTS) ? MSR_CTS : 0) | ((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
		      ((s->mcr & MCR_OUT1) ? MSR_RI : 0) | ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
	} else {
		now = MSR_DCD | MSR_DSR | MSR_CTS;
	}
	changed = (old ^ now) & 0xf0;
	s->msr = now | (old & MSR_DELTAS);
	if (changed & MSR_CTS)
		s->msr |= MSR_DCTS;
	if (changed & MSR_DSR)
		s->msr |= MSR_DDSR;
	if (changed & MSR_DCD)
		s->msr |= MSR_DDCD;
	if ((old & MSR_RI) && !(now & MSR_RI))
		s->msr |= MSR_TERI;
}

/*
 * Send a transmitted byte to out_fd, which may be a blocking fd shared with
 * others (a terminal), so its flags are left alone. A reader that is slow
 * holds the guest back, as a UART with flow control would: nothing is lost.
 * poll() waits for room until a signal interrupts it (the vCPU kick that
 * stops the VM), then the byte is dropped. A reader that went away (EPIPE,
 * POLLERR) drops the byte. Called with the lock held, which keeps bytes in order.
 */
static void serial_tx_out(struct serial *s, uint8_t byte)
{
	struct pollfd pfd = { .fd = s->out_fd, .events = POLLOUT };

	if (s->out_fd < 0)
		return;
	if (poll(&pfd, 1, s->no_wait ? 0 : -1) <= 0)
		return;
	/*
	 * SIGPIPE never kills the process; a signal (the VMM's vCPU kick when
	 * the VM stops) interrupts the write and the byte is dropped.
	 */
	io_writev_nosigpipe(s->out_fd, &(struct iovec){ .iov_base = &byte, .iov_len = 1 }, 1);
}

static void serial_write_thr(struct serial *s, uint8_t v)
{
	s->tx_count++;
	if (s->mcr & MCR_LOOP) {
		/* Loopback: the transmitter feeds the receiver, out_fd sees nothing. */
		if (!serial_rx_push(s, v))
			s->overrun = true;
	} else {
		serial_tx_out(s, v);
	}
	/* Writing THR clears THRE; transmission is instant, so it is empty again. */
	s->thri_pending = s->ier & IER_THRI;
}

static void serial_write_ier(struct serial *s, uint8_t v)
{
	v &= IER_MASK;
	/* Enabling THRI while THR is empty (always) raises the THRE interrupt. */
	if ((v & IER_THRI) && !(s->ier & IER_THRI))
		s->thri_pending = true;
	else if (!(v & IER_THRI))
		s->thri_pending = false;
	s->ier = v;
}

static void serial_write_fcr(struct serial *s, uint8_t v)
{
	/* Switching the FIFOs on or off empties them, as does the RCVR reset bit. */
	if (((v ^ s->fcr) & FCR_ENABLE) || (v & FCR_CLEAR_RCVR))
		serial_rx_clear(s);
	/* FCR_CLEAR_XMIT: the transmitter is always empty, nothing to do. */
	s->fcr = v & (FCR_ENABLE | FCR_TRIGGER_MASK);
}

static void serial_write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case UART_RX:
		if (dlab)
			s->dll = v;
		else
			serial_write_thr(s, v);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = v;
		else
			serial_write_ier(s, v);
		break;
	case UART_IIR:
		serial_write_fcr(s, v);
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & MCR_MASK;
		serial_update_msr(s);
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:
		/* LSR and MSR are read-only here (writes are for factory tests). */
		break;
	}
}

static uint8_t serial_read_iir(struct serial *s)
{
	uint8_t iid = serial_iid(s);

	/* Reading IIR acknowledges THRE when that is the source it reports. */
	if (iid == IIR_THRI)
		s->thri_pending = false;
	return iid | ((s->fcr & FCR_ENABLE) ? IIR_FIFOS_ENABLED : 0);
}

static uint8_t serial_read_lsr(struct serial *s)
{
	uint8_t v = LSR_THRE | LSR_TEMT;

	if (s->rx_count)
		v |= LSR_DR;
	if (s->overrun)
		v |= LSR_OE;
	s->overrun = false;
	return v;
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case UART_RX:
		return dlab ? s->dll : serial_rx_pop(s);
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		return serial_read_iir(s);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return serial_read_lsr(s);
	case UART_MSR:
		v = s->msr;
		s->msr &= ~MSR_DELTAS;
		return v;
	case UART_SCR:
		return s->scr;
	default:
		return 0xff;
	}
}

/*
 * Release the lock, first telling the host about a change of the interrupt
 * output. set_irq is called with the lock held, so that every change reaches
 * the host, in order: the PIC is edge-triggered, and a fall and rise merged
 * into "no change" would lose an interrupt. Lock order: device lock, then
 * whatever set_irq takes (the VM's IRQ lock); set_irq never calls back into
 * the device.
 */
static void serial_unlock(struct serial *s)
{
	int level = serial_iid(s) != IIR_NO_INT;

	if (level != s->irq_reported) {
		s->irq_reported = level;
		if (s->ops && s->ops->set_irq)
			s->ops->set_irq(s->ctx, level);
	}
	pthread_mutex_unlock(&s->lock);
}

/* After a guest access: tell the host if it may offer input again. */
static void serial_notify_space(struct serial *s, bool was_full, bool now_free)
{
	if (was_full && now_free && s->ops && s->ops->rx_space)
		s->ops->rx_space(s->ctx);
}

/* Accesses wider than a byte act on the low byte; reads zero the others. */
static void serial_io_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct serial *s = opaque;
	bool was_full, now_free;

	if (!len)
		return;
	if (offset >= SERIAL_NR_REGS) {
		memset(data, 0xff, len);
		return;
	}
	memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	was_full = !serial_host_space(s);
	data[0] = serial_read_reg(s, offset);
	now_free = serial_host_space(s);
	serial_unlock(s);
	serial_notify_space(s, was_full, now_free);
}

static void serial_io_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct serial *s = opaque;
	bool was_full, now_free;

	if (!len || offset >= SERIAL_NR_REGS)
		return;
	pthread_mutex_lock(&s->lock);
	was_full = !serial_host_space(s);
	serial_write_reg(s, offset, data[0]);
	now_free = serial_host_space(s);
	serial_unlock(s);
	/* FIFO resets and leaving loopback make room too. */
	serial_notify_space(s, was_full, now_free);
}

const struct cvm_io_ops serial_io_ops = {
	.read = serial_io_read,
	.write = serial_io_write,
};

struct serial *serial_create(int out_fd, const struct serial_host_ops *ops, void *ctx)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	s->out_fd = out_fd;
	s->ops = ops;
	s->ctx = ctx;
	s->dll = 0x0c; /* 9600 baud, as after a BIOS */
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t i, room;

	if (!s || !buf)
		return 0;
	pthread_mutex_lock(&s->lock);
	room = serial_host_space(s);
	if (n > room)
		n = room;
	for (i = 0; i < n; i++)
		serial_rx_push(s, buf[i]);
	serial_unlock(s);
	return n;
}

size_t serial_rx_space(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = serial_host_space(s);
	pthread_mutex_unlock(&s->lock);
	return room;
}

void serial_stop_waiting(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	s->no_wait = true;
	pthread_mutex_unlock(&s->lock);
}

uint64_t serial_tx_count(struct serial *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->tx_count;
	pthread_mutex_unlock(&s->lock);
	return n;
}
