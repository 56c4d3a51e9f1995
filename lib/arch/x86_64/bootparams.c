// SPDX-License-Identifier: BSD-3-Clause
/* boot_params ("zero page"), e820 map and command line for a Linux guest. */
#include "arch/x86_64/bootparams.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"

static void e820_add(struct boot_e820_entry *tab, unsigned int *n, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	tab[*n] = (struct boot_e820_entry){ .addr = addr, .size = size, .type = type };
	(*n)++;
}

int x86_build_e820(const struct guest_mem *m, struct boot_e820_entry *tab, unsigned int max)
{
	uint64_t low_end = gmem_low_end(m);
	uint64_t ram0_end = low_end < X86_EBDA_START ? low_end : X86_EBDA_START;
	uint64_t rsvd_end = low_end < X86_HIMEM_START ? low_end : X86_HIMEM_START;
	unsigned int need = 0, n = 0;

	/* Count first, so that a short table is left untouched. */
	need += ram0_end > 0;
	need += rsvd_end > ram0_end;
	need += low_end > X86_HIMEM_START;
	for (unsigned int i = 1; i < m->nr_regions; i++)
		need += m->regions[i].size > 0;
	if (need > max)
		return -ENOSPC;

	if (ram0_end > 0)
		e820_add(tab, &n, 0, ram0_end, X86_E820_RAM);
	if (rsvd_end > ram0_end)
		e820_add(tab, &n, ram0_end, rsvd_end - ram0_end, X86_E820_RESERVED);
	if (low_end > X86_HIMEM_START)
		e820_add(tab, &n, X86_HIMEM_START, low_end - X86_HIMEM_START, X86_E820_RAM);
	for (unsigned int i = 1; i < m->nr_regions; i++)
		if (m->regions[i].size > 0)
			e820_add(tab, &n, m->regions[i].gpa, m->regions[i].size, X86_E820_RAM);
	return (int)n;
}

int x86_setup_boot_params(const struct guest_mem *m, const struct kernel_image *k,
			  const char *cmdline, uint64_t initrd_addr, uint64_t initrd_size,
			  struct cvm_errbuf *err)
{
	struct boot_params bp;
	size_t len;
	uint64_t initrd_end;
	int n;

	if (!cmdline)
		cmdline = "";
	len = strlen(cmdline);
	if (len > k->cmdline_max)
		return errf(err, -E2BIG,
			    "kernel command line is %zu bytes, longer than the "
			    "kernel's limit of %u",
			    len, k->cmdline_max);
	if (len >= X86_CMDLINE_MAX)
		return errf(err, -E2BIG,
			    "kernel command line is %zu bytes, longer than the "
			    "%llu bytes reserved for it",
			    len, X86_CMDLINE_MAX - 1);
	if (initrd_size && (__builtin_add_overflow(initrd_addr, initrd_size, &initrd_end) ||
			    !gmem_ptr(m, initrd_addr, initrd_size)))
		return errf(err, -EINVAL, "initrd at 0x%llx with %llu bytes is not in guest RAM",
			    (unsigned long long)initrd_addr, (unsigned long long)initrd_size);

	memset(&bp, 0, sizeof(bp));
	bp.hdr = k->hdr;
	bp.hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE;
	bp.ext_cmd_line_ptr = 0;
	bp.hdr.ramdisk_image = (uint32_t)initrd_addr;
	bp.ext_ramdisk_image = (uint32_t)(initrd_addr >> 32);
	bp.hdr.ramdisk_size = (uint32_t)initrd_size;
	bp.ext_ramdisk_size = (uint32_t)(initrd_size >> 32);

	n = x86_build_e820(m, bp.e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	if (n < 0)
		return errf(err, n, "e820 map does not fit in boot_params");
	bp.e820_entries = (uint8_t)n;

	if (gmem_write(m, X86_CMDLINE, cmdline, len + 1))
		return errf(err, -EFAULT, "no guest RAM for the command line at 0x%llx",
			    X86_CMDLINE);
	if (gmem_write(m, X86_ZERO_PAGE, &bp, sizeof(bp)))
		return errf(err, -EFAULT, "no guest RAM for boot_params at 0x%llx", X86_ZERO_PAGE);
	return 0;
}
