// SPDX-License-Identifier: BSD-3-Clause
/*
 * initrd placement: as high as the kernel allows, like GRUB and QEMU do, so
 * that the memory between the kernel and the initrd stays one free block.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "loader/loader_internal.h"

int loader_load_initrd(const struct guest_mem *m, const char *path, const struct kernel_image *k,
		       uint64_t *addr, uint64_t *size, struct cvm_errbuf *err)
{
	struct loader_file f;
	uint64_t limit, floor, start = 0;
	uint8_t *dst;
	int rc;

	*addr = 0;
	*size = 0;
	rc = loader_file_open(&f, path, "initrd", err);
	if (rc)
		return rc;
	if (f.size == 0)
		goto out; /* an empty initrd is no initrd: addr 0, size 0 */

	/* The initrd must end at or below initrd_addr_max, and in low RAM. */
	limit = gmem_low_end(m);
	if (k->initrd_addr_max < limit)
		limit = k->initrd_addr_max + 1;
	/* ... and start above the kernel and the boot area. */
	if (!loader_add(k->load_end, LOADER_PAGE_SIZE - 1, &floor))
		floor = UINT64_MAX & ~(LOADER_PAGE_SIZE - 1);
	floor &= ~(LOADER_PAGE_SIZE - 1);
	if (floor < X86_HIMEM_START)
		floor = X86_HIMEM_START;

	if (limit > floor && f.size <= limit - floor)
		start = (limit - f.size) & ~(LOADER_PAGE_SIZE - 1);
	if (start < floor || !(dst = gmem_ptr(m, start, f.size))) {
		uint64_t room = limit > floor ? limit - floor : 0;

		rc = errf(err, -EFBIG,
			  "initrd %s is %llu bytes (%llu MiB), but only %llu bytes "
			  "(%llu MiB) are free for it between the kernel end 0x%llx and 0x%llx "
			  "(initrd_addr_max 0x%llx, %llu MiB of RAM)",
			  path, (unsigned long long)f.size, (unsigned long long)(f.size / GMEM_MIB),
			  (unsigned long long)room, (unsigned long long)(room / GMEM_MIB),
			  (unsigned long long)floor, (unsigned long long)limit,
			  (unsigned long long)k->initrd_addr_max,
			  (unsigned long long)(m->total / GMEM_MIB));
		goto out;
	}
	rc = loader_file_read(&f, 0, dst, f.size, err);
	if (rc)
		goto out;
	*addr = start;
	*size = f.size;
out:
	loader_file_close(&f);
	return rc;
}
