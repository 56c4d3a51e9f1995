/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kernel and initrd loading (x86_64 Linux boot protocol).
 *
 * Everything read from the files is untrusted: sizes, offsets and counts are
 * checked against the file size and against guest RAM before any copy.
 */
#ifndef CVM_LOADER_LOADER_H
#define CVM_LOADER_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "core/mem.h"
#include "util/err.h"

struct kernel_image {
	uint64_t entry;	     /* guest-physical address of the 64-bit entry point */
	uint64_t load_start; /* lowest guest-physical byte the kernel occupies */
	uint64_t load_end;   /* one past the highest */
	bool is_bzimage;
	/*
	 * The setup header to put in boot_params. For a bzImage it is copied
	 * from the file (bytes 0x1f1 up to 0x202 + the byte at 0x201); for a
	 * vmlinux it is filled with what the 64-bit protocol needs
	 * (boot_flag, header "HdrS", version, type_of_loader 0xff, ...).
	 */
	struct setup_header hdr;
	uint64_t initrd_addr_max; /* highest address the initrd may end at, inclusive */
	uint32_t cmdline_max;	  /* longest command line, without the NUL */
};

/*
 * loader_load_kernel() - load an ELF64 vmlinux (PT_LOAD segments at their
 * p_paddr) or a bzImage (protected-mode part at 1 MiB, entry at +0x200,
 * needs boot protocol 2.06+ and XLF_KERNEL_64).
 * Returns 0; -ENOENT, -EACCES, -EISDIR for files that cannot be read;
 * -ENOEXEC for a file that is neither, truncated or corrupt; -EFBIG when a
 * segment does not fit in RAM. @err gets a message naming the file and the
 * problem.
 */
int loader_load_kernel(const struct guest_mem *m, const char *path, struct kernel_image *k,
		       struct cvm_errbuf *err);

/*
 * loader_load_initrd() - place the initrd at the highest page-aligned
 * address below min(k->initrd_addr_max + 1, end of low RAM) that does not
 * overlap the kernel, the boot structures (below 1 MiB) or the command line.
 * Returns 0 and sets *addr and *size; -ENOENT/-EACCES/-EISDIR; -EFBIG.
 * The initrd starts at or above k->load_end (rounded up to a page) and 1 MiB.
 * An empty file is accepted as "no initrd": 0 with *addr = 0, *size = 0,
 * which is what boot_params says when there is none.
 * Both loaders return -EINVAL for a path that is not a regular file.
 */
int loader_load_initrd(const struct guest_mem *m, const char *path, const struct kernel_image *k,
		       uint64_t *addr, uint64_t *size, struct cvm_errbuf *err);

#endif
