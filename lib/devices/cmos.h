/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CMOS RAM and the MC146818 real-time clock behind ports 0x70 (index, bit 7
 * is the NMI mask) and 0x71 (data): seconds..year and century in BCD or
 * binary (register B bit 2), 12 or 24 hour (register B bit 1, PM in bit 7 of
 * the hour), the update-in-progress bit of register A, register D's valid
 * bit, and the NVRAM bytes 0x0e..0x7f readable and writable. The memory-size
 * bytes (0x15/0x16, 0x17/0x18, 0x30/0x31, 0x34/0x35, 0x5b..0x5d) are set as
 * a BIOS would set them.
 *
 * The clock is the host's: guest writes to the time registers are ignored,
 * and register B's SET bit is stored but does not stop the clock (reads keep
 * returning live time; UIP reads 0 while SET is set). No RTC interrupts:
 * register C reads 0. Reads of the index port return 0xff.
 */
#ifndef CVM_DEVICES_CMOS_H
#define CVM_DEVICES_CMOS_H

#include <stdint.h>
#include <time.h>

#include "core/bus.h"

#define CMOS_NR_PORTS 2

struct cmos;

/* The clock source: returns the current time as struct timespec (UTC). */
typedef void (*cmos_clock_fn)(void *ctx, struct timespec *now);

/*
 * cmos_create() - @clock may be NULL for clock_gettime(CLOCK_REALTIME).
 * @mem_below_4g and @mem_above_4g are the guest RAM sizes in bytes.
 */
struct cmos *cmos_create(cmos_clock_fn clock, void *ctx, uint64_t mem_below_4g,
			 uint64_t mem_above_4g);
void cmos_destroy(struct cmos *c);

extern const struct cvm_io_ops cmos_io_ops;

#endif
