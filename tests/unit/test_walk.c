// SPDX-License-Identifier: BSD-3-Clause
#include <criterion/criterion.h>
#include <errno.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"

Test(walk, boot_identity_tables)
{
	struct guest_mem m;
	struct kvm_sregs s = { .cr0 = 0x80000011, .cr3 = X86_PML4, .cr4 = 0x20, .efer = 0x500 };
	uint64_t gpa;

	cr_assert_eq(gmem_create(&m, 64 * GMEM_MIB, NULL), 0);
	cr_assert_eq(x86_setup_boot_tables(&m, NULL), 0);
	cr_assert_eq(x86_gva_to_gpa(&m, &s, 0x1234567, &gpa), 0);
	cr_assert_eq(gpa, 0x1234567);
	cr_assert_eq(x86_gva_to_gpa(&m, &s, 0xfee00000, &gpa), 0, "hole is mapped too");
	cr_assert_eq(gpa, 0xfee00000);
	cr_assert_eq(x86_gva_to_gpa(&m, &s, 0x100000000ULL, &gpa), -EFAULT, "above 4 GiB");
	cr_assert_eq(x86_gva_to_gpa(&m, &s, 0xffffffff81000000ULL, &gpa), -EFAULT);
	gmem_destroy(&m);
}

Test(walk, four_k_pages_and_bad_tables)
{
	struct guest_mem m;
	struct kvm_sregs s = { .cr0 = 0x80000011, .cr3 = 0x10000, .efer = 0x500 };
	uint64_t gpa, e;

	cr_assert_eq(gmem_create(&m, 16 * GMEM_MIB, NULL), 0);
	/* 0xffffffff80001000 -> 0x345000 through 4-level, 4 KiB pages. */
	e = 0x11000 | 3;
	gmem_write(&m, 0x10000 + 511 * 8, &e, 8);
	e = 0x12000 | 3;
	gmem_write(&m, 0x11000 + 510 * 8, &e, 8);
	e = 0x13000 | 3;
	gmem_write(&m, 0x12000 + 0 * 8, &e, 8);
	e = 0x345000 | 3;
	gmem_write(&m, 0x13000 + 1 * 8, &e, 8);
	cr_assert_eq(x86_gva_to_gpa(&m, &s, 0xffffffff80001abcULL, &gpa), 0);
	cr_assert_eq(gpa, 0x345abc);
	/* A table pointer outside RAM fails cleanly. */
	e = 0x7fff0000000ULL | 3;
	gmem_write(&m, 0x13000 + 2 * 8, &e, 8);
	e = 0x7fff0000000ULL | 3;
	gmem_write(&m, 0x10000 + 1 * 8, &e, 8);
	cr_assert_eq(x86_gva_to_gpa(&m, &s, 0x8000000000ULL, &gpa), -EFAULT);
	/* Paging off: physical = virtual. */
	s.cr0 = 0x11;
	cr_assert_eq(x86_gva_to_gpa(&m, &s, 0xabc, &gpa), 0);
	cr_assert_eq(gpa, 0xabc);
	gmem_destroy(&m);
}
