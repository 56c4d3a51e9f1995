// SPDX-License-Identifier: BSD-3-Clause
/*
 * PVH boot (qemu -kernel): turn struct hvm_start_info into the struct
 * boot_params that the tests read, so they run unchanged under QEMU.
 * boot_flag and the "HdrS" signature are left zero: no Linux boot loader
 * wrote them, and the bootparams test says so.
 */
#include "guest.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;	 /* version >= 1 */
	uint32_t memmap_entries; /* version >= 1 */
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

static struct boot_params pvh_bp;

struct boot_params *pvh_boot_params(uint32_t start_info);

struct boot_params *pvh_boot_params(uint32_t start_info)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)start_info;
	struct boot_params *bp = &pvh_bp;

	if (!si || si->magic != HVM_START_MAGIC) {
		puts_serial("FAIL pvh: no hvm_start_info at EBX\n");
		reset();
	}
	bp->hdr.cmd_line_ptr = (uint32_t)si->cmdline_paddr;
	bp->ext_cmd_line_ptr = (uint32_t)(si->cmdline_paddr >> 32);
	if (si->nr_modules && si->modlist_paddr) {
		const struct hvm_modlist_entry *m = (const void *)(uintptr_t)si->modlist_paddr;

		bp->hdr.ramdisk_image = (uint32_t)m->paddr;
		bp->ext_ramdisk_image = (uint32_t)(m->paddr >> 32);
		bp->hdr.ramdisk_size = (uint32_t)m->size;
		bp->ext_ramdisk_size = (uint32_t)(m->size >> 32);
	}
	if (si->version >= 1 && si->memmap_paddr) {
		const struct hvm_memmap_table_entry *e = (const void *)(uintptr_t)si->memmap_paddr;
		unsigned int n = si->memmap_entries;

		if (n > ARRAY_SIZE(bp->e820_table))
			n = ARRAY_SIZE(bp->e820_table);
		for (unsigned int i = 0; i < n; i++) {
			bp->e820_table[i].addr = e[i].addr;
			bp->e820_table[i].size = e[i].size;
			bp->e820_table[i].type = e[i].type;
		}
		bp->e820_entries = (uint8_t)n;
	}
	return bp;
}
