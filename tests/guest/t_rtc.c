// SPDX-License-Identifier: BSD-3-Clause
/* The CMOS clock, read the way Linux's mc146818_get_time() reads it. */
#include "guest.h"

#define RTC_SEC 0x00
#define RTC_MIN 0x02
#define RTC_HOUR 0x04
#define RTC_DAY 0x07
#define RTC_MON 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

#define RTC_UIP 0x80 /* register A */
#define RTC_24H 0x02 /* register B */
#define RTC_BIN 0x04 /* register B: binary, not BCD */
#define RTC_VRT 0x80 /* register D: valid RAM and time */
#define RTC_PM 0x80  /* hour, in 12-hour mode */

struct rtc_raw {
	uint8_t sec, min, hour, day, mon, year, century;
};

struct rtc_time {
	unsigned int year, mon, day, hour, min, sec;
};

static uint8_t cmos_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	outb(0x70, reg);
	outb(0x71, v);
}

static int wait_uip_clear(void)
{
	for (int i = 0; i < 2000; i++) {
		if (!(cmos_read(RTC_REG_A) & RTC_UIP))
			return 0;
	}
	return -1;
}

static void read_raw_once(struct rtc_raw *r)
{
	r->sec = cmos_read(RTC_SEC);
	r->min = cmos_read(RTC_MIN);
	r->hour = cmos_read(RTC_HOUR);
	r->day = cmos_read(RTC_DAY);
	r->mon = cmos_read(RTC_MON);
	r->year = cmos_read(RTC_YEAR);
	r->century = cmos_read(RTC_CENTURY);
}

/* Waits for UIP clear, reads, and reads again until two reads agree. */
static int read_raw(struct rtc_raw *r)
{
	for (int tries = 0; tries < 20; tries++) {
		struct rtc_raw again;

		if (wait_uip_clear())
			return -1;
		read_raw_once(r);
		if (cmos_read(RTC_REG_A) & RTC_UIP)
			continue;
		read_raw_once(&again);
		if (!memcmp(r, &again, sizeof(again)))
			return 0;
	}
	return -1;
}

static int bcd_ok(uint8_t v)
{
	return (v & 0x0f) <= 9 && (v >> 4) <= 9;
}

static unsigned int from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

/* Decodes @r as register B @b says; returns 0, or -1 with @why set. */
static int decode(const struct rtc_raw *r, uint8_t b, struct rtc_time *tm, const char **why)
{
	uint8_t hour = r->hour & (b & RTC_24H ? 0xff : 0x7f);
	int pm = !(b & RTC_24H) && (r->hour & RTC_PM);
	unsigned int cent;

	if (!(b & RTC_BIN)) {
		if (!bcd_ok(r->sec) || !bcd_ok(r->min) || !bcd_ok(hour) || !bcd_ok(r->day) ||
		    !bcd_ok(r->mon) || !bcd_ok(r->year)) {
			*why = "a field is not valid BCD";
			return -1;
		}
		tm->sec = from_bcd(r->sec);
		tm->min = from_bcd(r->min);
		tm->hour = from_bcd(hour);
		tm->day = from_bcd(r->day);
		tm->mon = from_bcd(r->mon);
		tm->year = from_bcd(r->year);
		cent = bcd_ok(r->century) ? from_bcd(r->century) : 0;
	} else {
		tm->sec = r->sec;
		tm->min = r->min;
		tm->hour = hour;
		tm->day = r->day;
		tm->mon = r->mon;
		tm->year = r->year;
		cent = r->century;
	}
	if (!(b & RTC_24H)) {
		if (tm->hour < 1 || tm->hour > 12) {
			*why = "12-hour mode hour outside 1..12";
			return -1;
		}
		tm->hour = tm->hour % 12 + (pm ? 12 : 0);
	}
	/* Like Linux without an ACPI century register: trust 0x32 only if sane. */
	if (cent >= 19 && cent <= 21)
		tm->year += cent * 100;
	else
		tm->year += tm->year < 70 ? 2000 : 1900;
	if (tm->sec > 59 || tm->min > 59 || tm->hour > 23 || tm->day < 1 || tm->day > 31 ||
	    tm->mon < 1 || tm->mon > 12 || tm->year < 1970 || tm->year > 2199) {
		*why = "a field is out of range";
		return -1;
	}
	return 0;
}

static int read_time(uint8_t b, struct rtc_time *tm, struct rtc_raw *raw, const char **why)
{
	if (read_raw(raw)) {
		*why = "the clock never read the same twice with UIP clear";
		return -1;
	}
	return decode(raw, b, tm, why);
}

static void print_time(const char *mode, const struct rtc_time *tm)
{
	printf("RTC %s %04u-%02u-%02u %02u:%02u:%02u\n", mode, tm->year, tm->mon, tm->day, tm->hour,
	       tm->min, tm->sec);
}

void test_rtc(const struct boot_params *bp)
{
	const char *t = "rtc";
	struct rtc_time tm, before, after;
	struct rtc_raw raw;
	const char *why = "";
	uint8_t b0, b, d, h12;
	unsigned int hour12;
	int pm;

	(void)bp;
	b0 = cmos_read(RTC_REG_B);
	d = cmos_read(RTC_REG_D);
	printf("RTC REG_B 0x%02x REG_D 0x%02x\n", b0, d);
	if (!(d & RTC_VRT)) {
		fail(t, "register D 0x%02x: valid-RAM-and-time bit 7 clear", d);
		return;
	}
	if (b0 & RTC_BIN) {
		fail(t, "register B 0x%02x: binary mode at boot, a PC RTC starts in BCD", b0);
		return;
	}

	/* The mode the VMM gives at boot: BCD (24 or 12 hour, as register B says). */
	if (read_time(b0, &tm, &raw, &why)) {
		fail(t, "BCD mode: %s (raw %02x:%02x:%02x %02x-%02x-%02x)", why, raw.hour, raw.min,
		     raw.sec, raw.year, raw.mon, raw.day);
		return;
	}
	print_time("BCD", &tm);

	/* Binary, 24 hour. */
	b = (b0 | RTC_BIN | RTC_24H);
	cmos_write(RTC_REG_B, b);
	if (cmos_read(RTC_REG_B) != b) {
		fail(t, "register B: wrote 0x%02x, read 0x%02x", b, cmos_read(RTC_REG_B));
		goto out;
	}
	if (read_time(b, &before, &raw, &why)) {
		fail(t, "binary mode: %s (raw %u:%u:%u %u-%u-%u)", why, raw.hour, raw.min, raw.sec,
		     raw.year, raw.mon, raw.day);
		goto out;
	}
	print_time("BIN", &before);

	/* BCD, 12 hour: the hour carries the PM bit. */
	cmos_write(RTC_REG_B, b0 & ~(RTC_BIN | RTC_24H));
	if (wait_uip_clear()) {
		fail(t, "UIP never clear in 12-hour mode");
		goto out;
	}
	h12 = cmos_read(RTC_HOUR);
	cmos_write(RTC_REG_B, b);
	if (read_time(b, &after, &raw, &why)) {
		fail(t, "binary mode again: %s", why);
		goto out;
	}
	pm = !!(h12 & RTC_PM);
	hour12 = bcd_ok(h12 & 0x7f) ? from_bcd(h12 & 0x7f) : 99;
	printf("RTC H12 %u %s\n", hour12, pm ? "PM" : "AM");
	if (hour12 < 1 || hour12 > 12) {
		fail(t, "12-hour mode hour byte 0x%02x", h12);
		goto out;
	}
	if (hour12 % 12 + (pm ? 12u : 0u) != before.hour &&
	    hour12 % 12 + (pm ? 12u : 0u) != after.hour) {
		fail(t, "12-hour mode reads %u %s, 24-hour mode %u then %u", hour12,
		     pm ? "PM" : "AM", before.hour, after.hour);
		goto out;
	}
	pass(t);
out:
	cmos_write(RTC_REG_B, b0);
}
