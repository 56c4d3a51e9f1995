// SPDX-License-Identifier: BSD-3-Clause
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/bus.h"

struct rec {
	uint64_t off;
	uint32_t len;
	uint8_t last[8];
	int reads, writes;
};

static void rec_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct rec *r = opaque;

	r->reads++;
	r->off = off;
	r->len = len;
	memset(data, 0x5a, len);
}

static void rec_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct rec *r = opaque;

	r->writes++;
	r->off = off;
	r->len = len;
	memcpy(r->last, data, len);
}

static const struct cvm_io_ops rec_ops = { .read = rec_read, .write = rec_write };

Test(bus, dispatch_with_offsets)
{
	struct cvm_bus bus;
	struct rec a = { 0 }, b = { 0 };
	uint8_t buf[4];

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &rec_ops, &a, "a"), 0);
	cr_assert_eq(bus_register(&bus, 0x70, 2, &rec_ops, &b, "b"), 0);
	cr_assert_eq(bus_read(&bus, 0x3fd, buf, 1), 0);
	cr_assert_eq(a.reads, 1);
	cr_assert_eq(a.off, 5);
	cr_assert_eq(buf[0], 0x5a);
	buf[0] = 0x80;
	cr_assert_eq(bus_write(&bus, 0x70, buf, 1), 0);
	cr_assert_eq(b.writes, 1);
	cr_assert_eq(b.off, 0);
	cr_assert_eq(b.last[0], 0x80);
	bus_destroy(&bus);
}

Test(bus, unhandled_reads_all_ones)
{
	struct cvm_bus bus;
	struct rec a = { 0 };
	uint8_t buf[4] = { 0 };

	bus_init(&bus);
	bus_register(&bus, 0x100, 4, &rec_ops, &a, "a");
	cr_assert_eq(bus_read(&bus, 0x200, buf, 4), -ENOENT);
	cr_assert_eq(buf[0], 0xff);
	cr_assert_eq(buf[3], 0xff);
	/* An access that straddles the end of a range is not the device's. */
	cr_assert_eq(bus_read(&bus, 0x102, buf, 4), -ENOENT);
	cr_assert_eq(bus_write(&bus, 0xff, buf, 2), -ENOENT);
	cr_assert_eq(a.reads + a.writes, 0);
	bus_destroy(&bus);
}

Test(bus, overlaps_refused)
{
	struct cvm_bus bus;
	struct rec a = { 0 };

	bus_init(&bus);
	cr_assert_eq(bus_register(&bus, 0x60, 1, &rec_ops, &a, "a"), 0);
	cr_assert_eq(bus_register(&bus, 0x64, 1, &rec_ops, &a, "a"), 0);
	cr_assert_eq(bus_register(&bus, 0x5f, 2, &rec_ops, &a, "x"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x61, 3, &rec_ops, &a, "x"), 0);
	cr_assert_eq(bus_register(&bus, 0, 0, &rec_ops, &a, "x"), -EINVAL);
	cr_assert_eq(bus_register(&bus, UINT64_MAX - 1, 4, &rec_ops, &a, "x"), -EINVAL);
	bus_destroy(&bus);
}

Test(bus, many_ranges_stay_sorted)
{
	struct cvm_bus bus;
	struct rec r[40] = { 0 };
	uint8_t b;

	bus_init(&bus);
	/* Register in a scrambled order; binary search must still find each one. */
	for (int i = 0; i < 40; i++) {
		int k = (i * 17) % 40;

		cr_assert_eq(bus_register(&bus, 0x1000 + k * 0x10, 8, &rec_ops, &r[k], "r"), 0);
	}
	for (int k = 0; k < 40; k++) {
		cr_assert_eq(bus_read(&bus, 0x1000 + k * 0x10 + 7, &b, 1), 0);
		cr_assert_eq(r[k].reads, 1, "range %d", k);
		cr_assert_eq(bus_read(&bus, 0x1000 + k * 0x10 + 8, &b, 1), -ENOENT);
	}
	bus_destroy(&bus);
}

Test(bus, unregister_frees_the_range)
{
	struct cvm_bus bus;
	struct rec a = { 0 }, b = { 0 };
	uint8_t v;

	bus_init(&bus);
	cr_assert_eq(bus_register(&bus, 0xc0000000, 0x1000, &rec_ops, &a, "bar"), 0);
	cr_assert_eq(bus_register(&bus, 0xc0002000, 0x1000, &rec_ops, &b, "bar2"), 0);
	cr_assert_eq(bus_unregister(&bus, 0xc0000000, &b), -ENOENT, "wrong owner");
	cr_assert_eq(bus_unregister(&bus, 0xc0000000, &a), 0);
	cr_assert_eq(bus_read(&bus, 0xc0000010, &v, 1), -ENOENT);
	cr_assert_eq(bus_read(&bus, 0xc0002010, &v, 1), 0, "the other range stays");
	cr_assert_eq(bus_register(&bus, 0xc0000000, 0x2000, &rec_ops, &a, "moved"), 0);
	cr_assert_eq(bus_read(&bus, 0xc0001000, &v, 1), 0);
	cr_assert_eq(a.reads, 1);
	bus_destroy(&bus);
}
