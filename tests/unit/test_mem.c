// SPDX-License-Identifier: BSD-3-Clause
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/mem.h"

Test(mem, low_only)
{
	struct guest_mem m;

	cr_assert_eq(gmem_create(&m, 64 * GMEM_MIB, NULL), 0);
	cr_assert_eq(m.nr_regions, 1);
	cr_assert_eq(gmem_low_end(&m), 64 * GMEM_MIB);
	cr_assert_not_null(gmem_ptr(&m, 0, 64 * GMEM_MIB));
	cr_assert_null(gmem_ptr(&m, 0, 64 * GMEM_MIB + 1));
	cr_assert_null(gmem_ptr(&m, 64 * GMEM_MIB, 1));
	cr_assert_null(gmem_ptr(&m, UINT64_MAX, 2));
	cr_assert_null(gmem_ptr(&m, 4096, UINT64_MAX));
	gmem_destroy(&m);
}

Test(mem, hole_and_high_region)
{
	struct guest_mem m;
	uint32_t v = 0x12345678, r = 0;

	cr_assert_eq(gmem_create(&m, 6 * GMEM_GIB, NULL), 0);
	cr_assert_eq(m.nr_regions, 2);
	cr_assert_eq(m.regions[0].size, 3 * GMEM_GIB);
	cr_assert_eq(m.regions[1].gpa, 4 * GMEM_GIB);
	cr_assert_eq(m.regions[1].size, 3 * GMEM_GIB);
	/* The hole is not RAM; nothing may straddle it. */
	cr_assert_null(gmem_ptr(&m, 3 * GMEM_GIB, 1));
	cr_assert_null(gmem_ptr(&m, 3 * GMEM_GIB - 2, 4));
	cr_assert_eq(gmem_write(&m, 3 * GMEM_GIB + 4096, &v, 4), -EFAULT);
	cr_assert_eq(gmem_write(&m, 5 * GMEM_GIB, &v, 4), 0);
	cr_assert_eq(gmem_read(&m, 5 * GMEM_GIB, &r, 4), 0);
	cr_assert_eq(r, v);
	/* 5 GiB guest-physical is 4 GiB into the memfd. */
	cr_assert_eq(*(uint32_t *)(m.base + 4 * GMEM_GIB), v);
	cr_assert_null(gmem_ptr(&m, 7 * GMEM_GIB, 1));
	gmem_destroy(&m);
}

Test(mem, bad_sizes)
{
	struct guest_mem m;
	struct cvm_errbuf e = { "" };

	cr_assert_eq(gmem_create(&m, 0, &e), -EINVAL);
	cr_assert_eq(gmem_create(&m, GMEM_MIB + 1, &e), -EINVAL);
	cr_assert(strstr(e.msg, "1 MiB") != NULL, "%s", e.msg);
}

Test(mem, zero_punches_whole_pages_and_clears_edges)
{
	struct guest_mem m;

	cr_assert_eq(gmem_create(&m, 16 * GMEM_MIB, NULL), 0);
	memset(m.base, 0xaa, 3 * 4096 * 4);
	/* From the middle of page 1 to the middle of page 6. */
	cr_assert_eq(gmem_zero(&m, 4096 + 100, 5 * 4096), 0);
	cr_assert_eq(m.base[4096 + 99], 0xaa, "byte before the range kept");
	for (uint64_t i = 4096 + 100; i < 6 * 4096 + 100; i++)
		cr_assert_eq(m.base[i], 0, "byte %llu not zeroed", (unsigned long long)i);
	cr_assert_eq(m.base[6 * 4096 + 100], 0xaa, "byte after the range kept");
	/* Small ranges inside one page. */
	cr_assert_eq(gmem_zero(&m, 8 * 4096 + 5, 10), 0);
	cr_assert_eq(m.base[8 * 4096 + 4], 0xaa);
	cr_assert_eq(m.base[8 * 4096 + 5], 0);
	cr_assert_eq(m.base[8 * 4096 + 15], 0xaa);
	cr_assert_eq(gmem_zero(&m, 16 * GMEM_MIB - 10, 20), -EFAULT);
	gmem_destroy(&m);
}
