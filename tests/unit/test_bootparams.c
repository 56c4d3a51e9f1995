// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests of lib/arch/x86_64/bootparams.c: e820 map, zero page, command line. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/bootparams.h"
#include "arch/x86_64/layout.h"
#include "core/mem.h"
#include "loader/loader.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static void make_mem(struct guest_mem *m, uint64_t size)
{
	struct cvm_errbuf e = { "" };

	cr_assert_eq(gmem_create(m, size, &e), 0, "%s", e.msg);
}

static void expect_entry(const struct boot_e820_entry *t, uint64_t addr, uint64_t size,
			 uint32_t type)
{
	cr_expect_eq(t->addr, addr, "addr 0x%llx, expected 0x%llx", (unsigned long long)t->addr,
		     (unsigned long long)addr);
	cr_expect_eq(t->size, size, "size 0x%llx, expected 0x%llx", (unsigned long long)t->size,
		     (unsigned long long)size);
	cr_expect_eq(t->type, type, "type %u, expected %u", t->type, type);
}

static uint64_t e820_total(const struct boot_e820_entry *t, int n)
{
	uint64_t sum = 0;

	for (int i = 0; i < n; i++) {
		cr_assert(t[i].type == X86_E820_RAM || t[i].type == X86_E820_RESERVED);
		if (i > 0)
			cr_expect_leq(t[i - 1].addr + t[i - 1].size, t[i].addr, "entries %d, %d",
				      i - 1, i);
		sum += t[i].size;
	}
	return sum;
}

static void check_e820(uint64_t ram, int want_n)
{
	struct boot_e820_entry t[8];
	struct guest_mem m;
	int n;

	make_mem(&m, ram);
	memset(t, 0xee, sizeof(t));
	n = x86_build_e820(&m, t, 8);
	cr_assert_eq(n, want_n, "%d entries for %llu MiB", n, (unsigned long long)(ram / MIB));
	expect_entry(&t[0], 0, X86_EBDA_START, X86_E820_RAM);
	expect_entry(&t[1], X86_EBDA_START, X86_HIMEM_START - X86_EBDA_START, X86_E820_RESERVED);
	expect_entry(&t[2], X86_HIMEM_START, (ram < 3 * GIB ? ram : 3 * GIB) - X86_HIMEM_START,
		     X86_E820_RAM);
	if (want_n > 3)
		expect_entry(&t[3], 4 * GIB, ram - 3 * GIB, X86_E820_RAM);
	cr_expect_eq(t[want_n].type, 0xeeeeeeee, "wrote past the last entry");
	cr_expect_eq(e820_total(t, n), ram);
	gmem_destroy(&m);
}

Test(bootparams, e820_64mib)
{
	check_e820(64 * MIB, 3);
}

Test(bootparams, e820_3gib)
{
	check_e820(3 * GIB, 3);
}

Test(bootparams, e820_6gib)
{
	check_e820(6 * GIB, 4);
}

Test(bootparams, e820_no_space)
{
	struct boot_e820_entry t[4];
	struct guest_mem m;

	make_mem(&m, 6 * GIB);
	memset(t, 0xee, sizeof(t));
	cr_expect_eq(x86_build_e820(&m, t, 3), -ENOSPC);
	cr_expect_eq(t[0].type, 0xeeeeeeee, "a short table was written to");
	cr_expect_eq(x86_build_e820(&m, t, 4), 4);
	gmem_destroy(&m);
}

/* What loader_load_kernel() gives for a bzImage, without needing one. */
static struct kernel_image bz_kernel(void)
{
	struct kernel_image k = {
		.entry = 0x100200,
		.load_start = X86_HIMEM_START,
		.load_end = 24 * MIB,
		.is_bzimage = true,
		.initrd_addr_max = 0x7fffffff,
		.cmdline_max = 2047,
	};

	k.hdr.setup_sects = 27;
	k.hdr.boot_flag = 0xaa55;
	k.hdr.header = 0x53726448;
	k.hdr.version = 0x020f;
	k.hdr.type_of_loader = 0xff;
	k.hdr.loadflags = LOADED_HIGH | CAN_USE_HEAP;
	k.hdr.heap_end_ptr = 0xfe00;
	k.hdr.kernel_alignment = 0x200000;
	k.hdr.xloadflags = XLF_KERNEL_64;
	k.hdr.cmdline_size = 2047;
	k.hdr.init_size = 0x800000;
	return k;
}

static void read_bp(const struct guest_mem *m, struct boot_params *bp)
{
	cr_assert_eq(gmem_read(m, X86_ZERO_PAGE, bp, sizeof(*bp)), 0);
}

Test(bootparams, zero_page)
{
	static const char cmdline[] = "console=ttyS0 cvm.test=virtio_blk root=/dev/vda";
	struct kernel_image k = bz_kernel();
	struct cvm_errbuf e = { "" };
	struct boot_e820_entry want[8];
	struct boot_params bp;
	struct guest_mem m;
	const uint8_t *raw;
	int n;

	make_mem(&m, 64 * MIB);
	/* Garbage where boot_params and the command line go. */
	memset(gmem_ptr(&m, X86_ZERO_PAGE, sizeof(bp)), 0xff, sizeof(bp));
	memset(gmem_ptr(&m, X86_CMDLINE, 4096), 'x', 4096);
	cr_assert_eq(x86_setup_boot_params(&m, &k, cmdline, 60 * MIB, 0x123456, &e), 0, "%s",
		     e.msg);
	read_bp(&m, &bp);
	cr_expect_eq(memcmp(gmem_ptr(&m, X86_CMDLINE, sizeof(cmdline)), cmdline, sizeof(cmdline)),
		     0, "command line not at X86_CMDLINE or not NUL-terminated");
	cr_expect_eq(bp.hdr.cmd_line_ptr, X86_CMDLINE);
	cr_expect_eq(bp.ext_cmd_line_ptr, 0);
	cr_expect_eq(bp.hdr.ramdisk_image, 60 * MIB);
	cr_expect_eq(bp.hdr.ramdisk_size, 0x123456);
	cr_expect_eq(bp.ext_ramdisk_image, 0);
	cr_expect_eq(bp.ext_ramdisk_size, 0);
	cr_expect_eq(bp.hdr.boot_flag, 0xaa55);
	cr_expect_eq(bp.hdr.header, 0x53726448);
	cr_expect_eq(bp.hdr.version, 0x020f);
	cr_expect_eq(bp.hdr.type_of_loader, 0xff);
	cr_expect_eq(bp.hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	cr_expect_eq(bp.hdr.heap_end_ptr, 0xfe00);
	cr_expect_eq(bp.hdr.kernel_alignment, 0x200000);
	cr_expect_eq(bp.hdr.init_size, 0x800000);
	cr_expect_eq(bp.sentinel, 0);
	n = x86_build_e820(&m, want, 8);
	cr_assert_eq(n, 3);
	cr_expect_eq(bp.e820_entries, 3);
	cr_expect_eq(memcmp(bp.e820_table, want, n * sizeof(want[0])), 0, "e820 table differs");
	/* Everything outside the header and e820 is zero, not the old garbage. */
	raw = (const uint8_t *)&bp;
	for (size_t i = 0; i < offsetof(struct boot_params, e820_entries); i++)
		cr_assert_eq(raw[i], 0, "boot_params byte 0x%zx is 0x%02x", i, raw[i]);
	for (size_t i = offsetof(struct boot_params, e820_table) + n * sizeof(want[0]);
	     i < sizeof(bp); i++)
		cr_assert_eq(raw[i], 0, "boot_params byte 0x%zx is 0x%02x", i, raw[i]);
	gmem_destroy(&m);
}

Test(bootparams, initrd_above_4g_and_null_cmdline)
{
	struct kernel_image k = bz_kernel();
	struct cvm_errbuf e = { "" };
	struct boot_params bp;
	struct guest_mem m;

	make_mem(&m, 6 * GIB);
	memset(gmem_ptr(&m, X86_CMDLINE, 16), 'x', 16);
	cr_assert_eq(x86_setup_boot_params(&m, &k, NULL, 5 * GIB + 0x3000, 0x2000, &e), 0, "%s",
		     e.msg);
	read_bp(&m, &bp);
	cr_expect_eq(*(const char *)gmem_ptr(&m, X86_CMDLINE, 1), '\0');
	cr_expect_eq(*(const char *)gmem_ptr(&m, X86_CMDLINE + 1, 1), 'x');
	cr_expect_eq(bp.hdr.ramdisk_image, (uint32_t)(5 * GIB + 0x3000));
	cr_expect_eq(bp.ext_ramdisk_image, 1);
	cr_expect_eq(bp.hdr.ramdisk_size, 0x2000);
	cr_expect_eq(bp.ext_ramdisk_size, 0);
	cr_expect_eq(bp.e820_entries, 4);
	cr_expect_eq(bp.e820_table[3].addr, 4 * GIB);
	cr_expect_eq(bp.e820_table[3].size, 3 * GIB);

	/* An initrd that is not in RAM (here: in the hole) is refused. */
	cr_expect_eq(x86_setup_boot_params(&m, &k, "", 3 * GIB + 0x1000, 0x1000, &e), -EINVAL);
	gmem_destroy(&m);
}

Test(bootparams, cmdline_limit)
{
	struct kernel_image k = bz_kernel();
	struct cvm_errbuf e = { "" };
	struct guest_mem m;
	char *line = malloc(X86_CMDLINE_MAX + 1);

	cr_assert_not_null(line);
	make_mem(&m, 64 * MIB);
	memset(line, 'a', 2047);
	line[2047] = '\0';
	cr_expect_eq(x86_setup_boot_params(&m, &k, line, 0, 0, &e), 0, "%s", e.msg);
	cr_expect_eq(strlen(gmem_ptr(&m, X86_CMDLINE, 2048)), 2047);

	line[2047] = 'a';
	line[2048] = '\0';
	memset(gmem_ptr(&m, X86_ZERO_PAGE, 4096), 0x5a, 4096);
	cr_expect_eq(x86_setup_boot_params(&m, &k, line, 0, 0, &e), -E2BIG);
	cr_expect_not_null(strstr(e.msg, "2048"), "message: %s", e.msg);
	cr_expect_not_null(strstr(e.msg, "2047"), "message: %s", e.msg);
	cr_expect_eq(*(uint8_t *)gmem_ptr(&m, X86_ZERO_PAGE, 1), 0x5a, "wrote boot_params anyway");

	/* Even a kernel that claims more cannot have more than we reserve. */
	k.cmdline_max = UINT32_MAX;
	memset(line, 'a', X86_CMDLINE_MAX);
	line[X86_CMDLINE_MAX] = '\0';
	cr_expect_eq(x86_setup_boot_params(&m, &k, line, 0, 0, &e), -E2BIG, "%s", e.msg);
	gmem_destroy(&m);
	free(line);
}
