// SPDX-License-Identifier: BSD-3-Clause
#include <criterion/criterion.h>
#include <errno.h>

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
