// SPDX-License-Identifier: BSD-3-Clause
/* What the VMM put in boot_params: command line, e820 map, initrd. */
#include "guest.h"

extern const char __guest_start[], __guest_end[];

void test_bootparams(const struct boot_params *bp)
{
	const char *t = "bootparams";
	uint64_t total = 0, ram = 0, prev_end = 0;
	unsigned int n = bp->e820_entries;
	int bad = 0, guest_in_ram = 0;

	puts_serial("CMDLINE ");
	puts_serial(cmdline(bp));
	puts_serial("\n");

	if (n == 0 || n > ARRAY_SIZE(bp->e820_table)) {
		fail(t, "e820_entries is %u", n);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct boot_e820_entry *e = &bp->e820_table[i];

		printf("E820 0x%016llx 0x%016llx %u\n", (unsigned long long)e->addr,
		       (unsigned long long)e->size, e->type);
		total += e->size;
		if (e->type == 1)
			ram += e->size;
		if (e->size == 0 || e->addr < prev_end || e->addr + e->size < e->addr)
			bad = 1;
		prev_end = e->addr + e->size;
		if (e->type == 1 && e->addr <= (uintptr_t)__guest_start &&
		    e->addr + e->size >= (uintptr_t)__guest_end)
			guest_in_ram = 1;
	}
	printf("E820 TOTAL %llu\n", (unsigned long long)total);
	printf("E820 RAM %llu\n", (unsigned long long)ram);

	if (bp->hdr.boot_flag != 0xaa55)
		fail(t, "boot_flag 0x%04x, want 0xaa55", bp->hdr.boot_flag);
	else if (bp->hdr.header != 0x53726448)
		fail(t, "header 0x%08x, want \"HdrS\" (0x53726448)", bp->hdr.header);
	else if (bad)
		fail(t, "e820 entries are empty, unsorted or overlap");
	else if (!guest_in_ram)
		fail(t, "this program (0x%lx..0x%lx) is not inside one e820 RAM entry",
		     (unsigned long)(uintptr_t)__guest_start,
		     (unsigned long)(uintptr_t)__guest_end);
	else
		pass(t);
}

static uint32_t crc_table[256];

uint32_t crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	if (!crc_table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			crc_table[i] = c;
		}
	}
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

void test_initrd(const struct boot_params *bp)
{
	const char *t = "initrd";
	uint64_t addr = bp->hdr.ramdisk_image | (uint64_t)bp->ext_ramdisk_image << 32;
	uint64_t size = bp->hdr.ramdisk_size | (uint64_t)bp->ext_ramdisk_size << 32;

	if (!addr || !size) {
		fail(t, "no initrd in boot_params (addr 0x%llx, size %llu)",
		     (unsigned long long)addr, (unsigned long long)size);
		return;
	}
	/* Only 0..4 GiB is mapped, and the CRC loop is emulated: keep it small. */
	if (addr + size > 0x100000000ULL || size > (16u << 20)) {
		fail(t, "initrd at 0x%llx size %llu is beyond what this test reads",
		     (unsigned long long)addr, (unsigned long long)size);
		return;
	}
	printf("INITRD 0x%llx %llu %08x\n", (unsigned long long)addr, (unsigned long long)size,
	       crc32(0, (const uint8_t *)(uintptr_t)addr, size));
	pass(t);
}
