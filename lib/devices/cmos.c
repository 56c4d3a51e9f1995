// SPDX-License-Identifier: BSD-3-Clause
/*
 * CMOS RAM and MC146818 RTC. The clock is the host's: time registers are
 * computed from the clock callback on every read, and guest writes to them
 * are ignored (a guest that sets the time sees the host's time on the next
 * read). Register B's SET bit is stored and read back, but the clock keeps
 * running while it is set: a guest sets SET only around writes to the time
 * registers, which are ignored anyway. No interrupts are generated: register
 * C always reads 0.
 */
#include "devices/cmos.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CMOS_SIZE 128
#define CMOS_INDEX_MASK 0x7f /* bit 7 of the index port is the NMI mask */

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

#define REG_A_UIP 0x80
#define REG_A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define REG_B_SET 0x80
#define REG_B_DM 0x04 /* binary, not BCD */
#define REG_B_24H 0x02
#define REG_B_DEFAULT REG_B_24H
#define REG_D_VRT 0x80 /* valid RAM and time */

#define HOUR_PM 0x80

/* UIP is set for the last 244 us of every second, before the update. */
#define UIP_START_NSEC (1000000000L - 244000L)

/* Memory-size bytes, as SeaBIOS reads them and QEMU/crosvm fill them. */
#define CMOS_BASE_MEM_LO 0x15 /* KiB below 1 MiB, at most 640 */
#define CMOS_BASE_MEM_HI 0x16
#define CMOS_EXT_MEM_LO 0x17 /* KiB from 1 MiB, at most 0xffff */
#define CMOS_EXT_MEM_HI 0x18
#define CMOS_EXT_MEM2_LO 0x30 /* same value again */
#define CMOS_EXT_MEM2_HI 0x31
#define CMOS_MEM_16M_LO 0x34 /* 64 KiB units from 16 MiB to 4 GiB */
#define CMOS_MEM_16M_HI 0x35
#define CMOS_MEM_4G_0 0x5b /* 64 KiB units above 4 GiB, 24 bits */
#define CMOS_MEM_4G_1 0x5c
#define CMOS_MEM_4G_2 0x5d

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

struct cmos {
	pthread_mutex_t lock;
	cmos_clock_fn clock;
	void *ctx;
	uint8_t index;
	uint8_t ram[CMOS_SIZE];
};

static uint8_t cmos_format(uint8_t reg_b, int v)
{
	/* Keep the value in 0..99 whatever the clock says. */
	v = ((v % 100) + 100) % 100;
	if (reg_b & REG_B_DM)
		return v;
	return (v / 10) << 4 | (v % 10);
}

/* 12-hour mode: 1..12 with bit 7 set for PM; midnight is 12 AM, noon 12 PM. */
static uint8_t cmos_format_hour(uint8_t reg_b, int hour)
{
	int h12;

	if (reg_b & REG_B_24H)
		return cmos_format(reg_b, hour);
	h12 = hour % 12;
	if (!h12)
		h12 = 12;
	return cmos_format(reg_b, h12) | (hour >= 12 ? HOUR_PM : 0);
}

static void cmos_now(const struct cmos *c, struct timespec *now)
{
	memset(now, 0, sizeof(*now));
	if (c->clock)
		c->clock(c->ctx, now);
	else
		clock_gettime(CLOCK_REALTIME, now);
}

static uint8_t cmos_read_time(const struct cmos *c, unsigned int reg, const struct timespec *now)
{
	uint8_t b = c->ram[RTC_REG_B];
	time_t secs = now->tv_sec;
	struct tm tm;
	int year;

	if (!gmtime_r(&secs, &tm)) {
		secs = 0; /* out of range for struct tm: report the epoch */
		gmtime_r(&secs, &tm);
	}
	year = tm.tm_year + 1900;
	switch (reg) {
	case RTC_SECONDS:
		return cmos_format(b, tm.tm_sec > 59 ? 59 : tm.tm_sec);
	case RTC_MINUTES:
		return cmos_format(b, tm.tm_min);
	case RTC_HOURS:
		return cmos_format_hour(b, tm.tm_hour);
	case RTC_DAY_OF_WEEK:
		return cmos_format(b, tm.tm_wday + 1); /* 1 = Sunday */
	case RTC_DAY_OF_MONTH:
		return cmos_format(b, tm.tm_mday);
	case RTC_MONTH:
		return cmos_format(b, tm.tm_mon + 1);
	case RTC_YEAR:
		return cmos_format(b, year % 100);
	default: /* RTC_CENTURY */
		return cmos_format(b, year / 100);
	}
}

static bool cmos_is_time_reg(unsigned int reg)
{
	switch (reg) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		return true;
	default:
		return false;
	}
}

static uint8_t cmos_read_reg(const struct cmos *c, unsigned int reg, const struct timespec *now)
{
	uint8_t v;

	if (cmos_is_time_reg(reg))
		return cmos_read_time(c, reg, now);
	switch (reg) {
	case RTC_REG_A:
		v = c->ram[RTC_REG_A] & ~REG_A_UIP;
		/* While SET is set the update cycle is inhibited, so UIP stays clear. */
		if (!(c->ram[RTC_REG_B] & REG_B_SET) && now->tv_nsec >= UIP_START_NSEC)
			v |= REG_A_UIP;
		return v;
	case RTC_REG_C:
		return 0; /* no interrupt flags: nothing is ever pending */
	case RTC_REG_D:
		return REG_D_VRT;
	default:
		return c->ram[reg];
	}
}

static void cmos_write_reg(struct cmos *c, unsigned int reg, uint8_t v)
{
	/* The host owns the clock: time writes are dropped. C and D are read-only. */
	if (cmos_is_time_reg(reg) || reg == RTC_REG_C || reg == RTC_REG_D)
		return;
	if (reg == RTC_REG_A)
		v &= ~REG_A_UIP;
	c->ram[reg] = v;
}

/* Offset 0 is the index port (write-only, reads 0xff), 1 the data port. */
static void cmos_io_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct cmos *c = opaque;
	struct timespec now;

	if (!len)
		return;
	if (offset != 1) {
		memset(data, 0xff, len);
		return;
	}
	memset(data, 0, len);
	cmos_now(c, &now);
	pthread_mutex_lock(&c->lock);
	data[0] = cmos_read_reg(c, c->index, &now);
	pthread_mutex_unlock(&c->lock);
}

static void cmos_io_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct cmos *c = opaque;

	if (!len || offset >= CMOS_NR_PORTS)
		return;
	pthread_mutex_lock(&c->lock);
	if (offset == 0)
		c->index = data[0] & CMOS_INDEX_MASK; /* NMI masking is not emulated */
	else
		cmos_write_reg(c, c->index, data[0]);
	pthread_mutex_unlock(&c->lock);
}

const struct cvm_io_ops cmos_io_ops = {
	.read = cmos_io_read,
	.write = cmos_io_write,
};

static void cmos_set16(struct cmos *c, unsigned int lo, uint64_t v)
{
	c->ram[lo] = v & 0xff;
	c->ram[lo + 1] = (v >> 8) & 0xff;
}

static void cmos_set_mem_size(struct cmos *c, uint64_t below_4g, uint64_t above_4g)
{
	uint64_t v;

	if (below_4g > 4 * GIB)
		below_4g = 4 * GIB;
	v = below_4g / KIB;
	cmos_set16(c, CMOS_BASE_MEM_LO, v > 640 ? 640 : v);

	v = below_4g > MIB ? (below_4g - MIB) / KIB : 0;
	v = v > 0xffff ? 0xffff : v;
	cmos_set16(c, CMOS_EXT_MEM_LO, v);
	cmos_set16(c, CMOS_EXT_MEM2_LO, v);

	v = below_4g > 16 * MIB ? (below_4g - 16 * MIB) / (64 * KIB) : 0;
	cmos_set16(c, CMOS_MEM_16M_LO, v > 0xffff ? 0xffff : v);

	v = above_4g / (64 * KIB);
	v = v > 0xffffff ? 0xffffff : v;
	c->ram[CMOS_MEM_4G_0] = v & 0xff;
	c->ram[CMOS_MEM_4G_1] = (v >> 8) & 0xff;
	c->ram[CMOS_MEM_4G_2] = (v >> 16) & 0xff;
}

struct cmos *cmos_create(cmos_clock_fn clock, void *ctx, uint64_t mem_below_4g,
			 uint64_t mem_above_4g)
{
	struct cmos *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c);
		return NULL;
	}
	c->clock = clock;
	c->ctx = ctx;
	c->ram[RTC_REG_A] = REG_A_DEFAULT;
	c->ram[RTC_REG_B] = REG_B_DEFAULT;
	cmos_set_mem_size(c, mem_below_4g, mem_above_4g);
	return c;
}

void cmos_destroy(struct cmos *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}
