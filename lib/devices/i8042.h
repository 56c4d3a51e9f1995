/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The i8042 keyboard controller, only as much as Linux needs: status and
 * command port 0x64, data port 0x60, the controller configuration byte,
 * self-test (0xAA -> 0x55), interface tests, output port reads, and the
 * reset pulse (command 0xFE, or 0xD1 with bit 0 of the output port clear)
 * that stops the VM as a guest reset. No keyboard or mouse is attached:
 * Linux's probe finds none and moves on.
 *
 * Bytes written to 0x60 without a pending command (for the keyboard), and
 * those after 0xD4 (for the mouse), get no reply: a PS/2 command times out
 * as with an empty socket. 0xD2/0xD3 put their data byte in the output
 * buffer as if from the keyboard/aux (status bit 5 set for aux). 0xF0..0xFF
 * with bit 0 clear (0xFE included) pulse reset, as on real controllers. The
 * configuration byte starts as 0x30 (both ports disabled, interrupts off);
 * self-test sets its SYS bit, which the status register mirrors. There is
 * no interrupt line.
 */
#ifndef CVM_DEVICES_I8042_H
#define CVM_DEVICES_I8042_H

#include "core/bus.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64

struct i8042;

/* @reset is called (on the vCPU thread) when the guest pulses reset. */
struct i8042 *i8042_create(void (*reset)(void *ctx), void *ctx);
void i8042_destroy(struct i8042 *k);

/* Register i8042_data_ops at 0x60 (len 1) and i8042_cmd_ops at 0x64 (len 1). */
extern const struct cvm_io_ops i8042_data_ops;
extern const struct cvm_io_ops i8042_cmd_ops;

#endif
