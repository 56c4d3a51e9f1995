/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 16550A UART, as Linux's 8250 driver expects it: 16-byte FIFOs,
 * IER/IIR/FCR/LCR/MCR/LSR/MSR/SCR, divisor latch, loopback, THRE and RX
 * interrupts. Eight registers at offsets 0..7 of its I/O range.
 *
 * Thread safety: every entry point locks the device. set_irq is called with
 * the lock held (every level change reaches the host, in order) and must not
 * call back into the device; rx_space is called without it.
 */
#ifndef CVM_DEVICES_SERIAL_H
#define CVM_DEVICES_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"

#define SERIAL_NR_REGS 8
#define SERIAL_FIFO_SIZE 16

struct serial;

struct serial_host_ops {
	/* The interrupt output changed to @level (0 or 1); called with the device locked. */
	void (*set_irq)(void *ctx, int level);
	/* The guest read from a full RX FIFO: serial_receive() can take more. */
	void (*rx_space)(void *ctx);
};

/*
 * serial_create() - a UART whose transmitted bytes are written to @out_fd
 * (-1: dropped). @ops and @ctx may be NULL. Returns NULL on ENOMEM.
 * @out_fd is not closed by serial_destroy() and its flags are not changed:
 * a byte waits for room in it for as long as it takes (a slow reader slows
 * the guest, nothing is lost) unless a signal interrupts the wait, which
 * drops the byte; EPIPE never raises SIGPIPE on the process.
 */
struct serial *serial_create(int out_fd, const struct serial_host_ops *ops, void *ctx);
void serial_destroy(struct serial *s);

/* The ops to register on the bus with the struct serial as opaque. */
extern const struct cvm_io_ops serial_io_ops;

/*
 * serial_receive() - offer input bytes from the host. Returns how many were
 * put in the RX FIFO (0 when it is full or the UART is in loopback). With
 * the FIFOs disabled (FCR bit 0 clear, the state after creation) the
 * receiver holds a single byte, as a real 16550 does.
 */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n);

/*
 * Free bytes in the RX FIFO: what serial_receive() would take now (0 in
 * loopback). ops->rx_space is called whenever a guest access turns 0 into
 * more (a read from a full FIFO, a FIFO reset, leaving loopback).
 */
size_t serial_rx_space(struct serial *s);

/*
 * serial_stop_waiting() - from now on a transmitted byte that out_fd has no
 * room for is dropped at once (the VM stops; its last bytes are written
 * if they can be).
 */
void serial_stop_waiting(struct serial *s);

/*
 * Bytes the guest has transmitted since creation (for tests and metrics),
 * counting bytes dropped or looped back too.
 */
uint64_t serial_tx_count(struct serial *s);

#endif
