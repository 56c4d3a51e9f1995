// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests of the CMOS RAM and RTC, through ports 0x70/0x71 as offsets 0/1. */
#include <criterion/criterion.h>

#include <string.h>
#include <time.h>

#include "devices/cmos.h"

#define MIB (1024ULL * 1024)
#define GIB (1024 * MIB)

static struct timespec fake_now;
static int clock_calls;
static struct cmos *c;

static void fake_clock(void *ctx, struct timespec *now)
{
	cr_assert_eq(ctx, &fake_now);
	*now = fake_now;
	clock_calls++;
}

/* Set the fake clock to a UTC date and time. */
static void set_time(int year, int mon, int mday, int hour, int min, int sec, long nsec)
{
	struct tm tm = {
		.tm_year = year - 1900,
		.tm_mon = mon - 1,
		.tm_mday = mday,
		.tm_hour = hour,
		.tm_min = min,
		.tm_sec = sec,
	};

	fake_now.tv_sec = timegm(&tm);
	fake_now.tv_nsec = nsec;
}

static void setup(void)
{
	clock_calls = 0;
	set_time(2024, 2, 29, 13, 45, 56, 0); /* a Thursday */
	c = cmos_create(fake_clock, &fake_now, 256 * MIB, 0);
	cr_assert_not_null(c);
}

static void teardown(void)
{
	cmos_destroy(c);
	c = NULL;
}

static uint8_t rd_on(struct cmos *dev, uint8_t index)
{
	uint8_t v = 0x5a;

	cmos_io_ops.write(dev, 0, &index, 1);
	cmos_io_ops.read(dev, 1, &v, 1);
	return v;
}

static uint8_t rd(uint8_t index)
{
	return rd_on(c, index);
}

static void wr(uint8_t index, uint8_t v)
{
	cmos_io_ops.write(c, 0, &index, 1);
	cmos_io_ops.write(c, 1, &v, 1);
}

TestSuite(cmos, .init = setup, .fini = teardown);

Test(cmos, defaults)
{
	cr_assert_eq(rd(0x0a), 0x26);
	cr_assert_eq(rd(0x0b), 0x02);
	cr_assert_eq(rd(0x0c), 0x00);
	cr_assert_eq(rd(0x0d), 0x80);
}

Test(cmos, bcd_24h)
{
	cr_assert_eq(rd(0x00), 0x56);
	cr_assert_eq(rd(0x02), 0x45);
	cr_assert_eq(rd(0x04), 0x13);
	cr_assert_eq(rd(0x06), 0x05); /* Thursday, Sunday = 1 */
	cr_assert_eq(rd(0x07), 0x29);
	cr_assert_eq(rd(0x08), 0x02);
	cr_assert_eq(rd(0x09), 0x24);
	cr_assert_eq(rd(0x32), 0x20);
	cr_assert_gt(clock_calls, 0);
}

Test(cmos, binary_24h)
{
	wr(0x0b, 0x06);
	cr_assert_eq(rd(0x0b), 0x06);
	cr_assert_eq(rd(0x00), 56);
	cr_assert_eq(rd(0x02), 45);
	cr_assert_eq(rd(0x04), 13);
	cr_assert_eq(rd(0x06), 5);
	cr_assert_eq(rd(0x07), 29);
	cr_assert_eq(rd(0x08), 2);
	cr_assert_eq(rd(0x09), 24);
	cr_assert_eq(rd(0x32), 20);
}

Test(cmos, bcd_12h)
{
	wr(0x0b, 0x00);
	cr_assert_eq(rd(0x04), 0x81); /* 13:xx = 1 PM */
	set_time(2024, 3, 1, 0, 5, 0, 0);
	cr_assert_eq(rd(0x04), 0x12); /* midnight = 12 AM */
	set_time(2024, 3, 1, 12, 0, 0, 0);
	cr_assert_eq(rd(0x04), 0x92); /* noon = 12 PM */
	set_time(2024, 3, 1, 11, 59, 59, 0);
	cr_assert_eq(rd(0x04), 0x11);
	set_time(2024, 3, 1, 23, 0, 0, 0);
	cr_assert_eq(rd(0x04), 0x91);
}

Test(cmos, binary_12h)
{
	wr(0x0b, 0x04);
	cr_assert_eq(rd(0x04), 0x81);
	set_time(2024, 3, 1, 0, 0, 0, 0);
	cr_assert_eq(rd(0x04), 12);
	set_time(2024, 3, 1, 12, 30, 0, 0);
	cr_assert_eq(rd(0x04), 0x80 | 12);
	set_time(2024, 3, 1, 22, 0, 0, 0);
	cr_assert_eq(rd(0x04), 0x80 | 10);
}

Test(cmos, century_and_day_of_week)
{
	set_time(1999, 12, 31, 23, 59, 59, 0); /* a Friday */
	cr_assert_eq(rd(0x09), 0x99);
	cr_assert_eq(rd(0x32), 0x19);
	cr_assert_eq(rd(0x06), 0x06);
	set_time(2100, 1, 1, 0, 0, 0, 0); /* a Friday too */
	cr_assert_eq(rd(0x09), 0x00);
	cr_assert_eq(rd(0x32), 0x21);
	set_time(2023, 1, 1, 0, 0, 0, 0); /* a Sunday */
	cr_assert_eq(rd(0x06), 0x01);
	set_time(2022, 12, 31, 0, 0, 0, 0); /* a Saturday */
	cr_assert_eq(rd(0x06), 0x07);
	cr_assert_eq(rd(0x08), 0x12);
	cr_assert_eq(rd(0x07), 0x31);
}

Test(cmos, uip_window)
{
	fake_now.tv_nsec = 999756000;
	cr_assert_eq(rd(0x0a), 0xa6);
	fake_now.tv_nsec = 999999999;
	cr_assert_eq(rd(0x0a), 0xa6);
	fake_now.tv_nsec = 999755999;
	cr_assert_eq(rd(0x0a), 0x26);
	fake_now.tv_nsec = 0;
	cr_assert_eq(rd(0x0a), 0x26);
	/* UIP is read-only; the other bits of register A are the guest's. */
	wr(0x0a, 0xff);
	cr_assert_eq(rd(0x0a), 0x7f);
	/* With SET, the update cycle is inhibited. */
	fake_now.tv_nsec = 999900000;
	cr_assert_eq(rd(0x0a), 0xff);
	wr(0x0b, 0x82);
	cr_assert_eq(rd(0x0a), 0x7f);
}

Test(cmos, set_bit_keeps_live_time_and_ignores_writes)
{
	wr(0x0b, 0x82);
	wr(0x00, 0x11);
	wr(0x04, 0x01);
	wr(0x32, 0x19);
	cr_assert_eq(rd(0x00), 0x56);
	fake_now.tv_sec++;
	cr_assert_eq(rd(0x00), 0x57);
	wr(0x0b, 0x02);
	cr_assert_eq(rd(0x04), 0x13);
	cr_assert_eq(rd(0x32), 0x20);
}

Test(cmos, nmi_bit_masked)
{
	cr_assert_eq(rd(0x80 | 0x0b), 0x02);
	cr_assert_eq(rd(0x80 | 0x00), 0x56);
	wr(0x80 | 0x40, 0x42);
	cr_assert_eq(rd(0x40), 0x42);
	cr_assert_eq(rd(0xc0), 0x42);
}

Test(cmos, read_only_registers)
{
	wr(0x0c, 0xff);
	wr(0x0d, 0x00);
	cr_assert_eq(rd(0x0c), 0x00);
	cr_assert_eq(rd(0x0d), 0x80);
}

Test(cmos, nvram_and_alarms)
{
	unsigned int i;

	wr(0x01, 0x30);
	wr(0x03, 0x31);
	wr(0x05, 0x32);
	cr_assert_eq(rd(0x01), 0x30);
	cr_assert_eq(rd(0x03), 0x31);
	cr_assert_eq(rd(0x05), 0x32);
	for (i = 0x0e; i < 0x80; i++)
		wr(i, i ^ 0xa5);
	for (i = 0x0e; i < 0x80; i++) {
		if (i == 0x32)
			cr_assert_eq(rd(i), 0x20, "century is the clock's");
		else
			cr_assert_eq(rd(i), i ^ 0xa5, "NVRAM byte 0x%x", i);
	}
}

Test(cmos, mem_size_256m)
{
	cr_assert_eq(rd(0x15), 0x80); /* 640 KiB */
	cr_assert_eq(rd(0x16), 0x02);
	cr_assert_eq(rd(0x17), 0xff); /* 255 MiB in KiB, capped */
	cr_assert_eq(rd(0x18), 0xff);
	cr_assert_eq(rd(0x30), 0xff);
	cr_assert_eq(rd(0x31), 0xff);
	cr_assert_eq(rd(0x34), 0x00); /* 240 MiB / 64 KiB = 0x0f00 */
	cr_assert_eq(rd(0x35), 0x0f);
	cr_assert_eq(rd(0x5b), 0x00);
	cr_assert_eq(rd(0x5c), 0x00);
	cr_assert_eq(rd(0x5d), 0x00);
}

Test(cmos, mem_size_6g)
{
	struct cmos *big = cmos_create(fake_clock, &fake_now, 3 * GIB, 3 * GIB);

	cr_assert_not_null(big);
	cr_assert_eq(rd_on(big, 0x15), 0x80);
	cr_assert_eq(rd_on(big, 0x16), 0x02);
	cr_assert_eq(rd_on(big, 0x17), 0xff);
	cr_assert_eq(rd_on(big, 0x18), 0xff);
	cr_assert_eq(rd_on(big, 0x34), 0x00); /* (3 GiB - 16 MiB) / 64 KiB = 0xbf00 */
	cr_assert_eq(rd_on(big, 0x35), 0xbf);
	cr_assert_eq(rd_on(big, 0x5b), 0x00); /* 3 GiB / 64 KiB = 0x00c000 */
	cr_assert_eq(rd_on(big, 0x5c), 0xc0);
	cr_assert_eq(rd_on(big, 0x5d), 0x00);
	cmos_destroy(big);
}

Test(cmos, mem_size_small_and_huge)
{
	struct cmos *d = cmos_create(fake_clock, &fake_now, 8 * MIB, 2048 * GIB);

	cr_assert_not_null(d);
	cr_assert_eq(rd_on(d, 0x15), 0x80);
	cr_assert_eq(rd_on(d, 0x16), 0x02);
	cr_assert_eq(rd_on(d, 0x17), 0x00); /* 7 MiB = 7168 KiB = 0x1c00 */
	cr_assert_eq(rd_on(d, 0x18), 0x1c);
	cr_assert_eq(rd_on(d, 0x34), 0x00);
	cr_assert_eq(rd_on(d, 0x35), 0x00);
	cr_assert_eq(rd_on(d, 0x5b), 0xff); /* capped at 24 bits */
	cr_assert_eq(rd_on(d, 0x5c), 0xff);
	cr_assert_eq(rd_on(d, 0x5d), 0xff);
	cmos_destroy(d);

	d = cmos_create(fake_clock, &fake_now, 512 * 1024, 0);
	cr_assert_not_null(d);
	cr_assert_eq(rd_on(d, 0x15), 0x00); /* 512 KiB */
	cr_assert_eq(rd_on(d, 0x16), 0x02);
	cr_assert_eq(rd_on(d, 0x17), 0x00);
	cr_assert_eq(rd_on(d, 0x18), 0x00);
	cmos_destroy(d);
}

Test(cmos, odd_ports_and_lengths)
{
	uint8_t v[4] = { 0x0b, 0x77, 0x88, 0x99 };
	uint8_t out[4] = { 1, 2, 3, 4 };

	cmos_io_ops.read(c, 0, out, 2);
	cr_assert_eq(out[0], 0xff);
	cr_assert_eq(out[1], 0xff);
	cmos_io_ops.write(c, 0, v, 2);
	cmos_io_ops.read(c, 1, out, 4);
	cr_assert_eq(out[0], 0x02);
	cr_assert_eq(out[1], 0x00);
	cr_assert_eq(out[3], 0x00);
	cmos_io_ops.write(c, 2, &v[1], 1);
	cmos_io_ops.write(c, UINT64_MAX, &v[1], 1);
	cmos_io_ops.read(c, 7, out, 1);
	cr_assert_eq(out[0], 0xff);
	cr_assert_eq(rd(0x0b), 0x02);
}

Test(cmos, host_clock)
{
	struct cmos *h = cmos_create(NULL, NULL, 256 * MIB, 0);
	uint8_t century;

	cr_assert_not_null(h);
	century = rd_on(h, 0x32);
	cr_assert(century == 0x20 || century == 0x21, "century 0x%x", century);
	cr_assert_leq(rd_on(h, 0x08), 0x12);
	cr_assert_eq(rd_on(h, 0x0d), 0x80);
	cmos_destroy(h);
}
