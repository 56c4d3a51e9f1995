/* SPDX-License-Identifier: BSD-3-Clause */
/* boot_params ("zero page"), e820 map and command line for Linux. */
#ifndef CVM_ARCH_X86_64_BOOTPARAMS_H
#define CVM_ARCH_X86_64_BOOTPARAMS_H

#include <stdint.h>

#include <asm/bootparam.h>

#include "core/mem.h"
#include "loader/loader.h"
#include "util/err.h"

/* e820 entry types (boot protocol ABI; <asm/e820.h> is not in every uapi). */
#define X86_E820_RAM 1
#define X86_E820_RESERVED 2

/*
 * x86_build_e820() - the e820 map of @m: RAM [0, 0x9fc00), reserved
 * [0x9fc00, 1 MiB), RAM [1 MiB, low end), and RAM [4 GiB, ...) if any.
 * The RAM and reserved entries together cover exactly m->total bytes.
 * Returns the number of entries written (at most @max), or -ENOSPC.
 */
int x86_build_e820(const struct guest_mem *m, struct boot_e820_entry *tab, unsigned int max);

/*
 * x86_setup_boot_params() - write the command line at X86_CMDLINE and
 * boot_params at X86_ZERO_PAGE: setup header from @k, cmd_line_ptr,
 * ramdisk_image/size (+ ext_ fields for addresses above 4 GiB), e820.
 * Returns 0, -E2BIG for a command line longer than k->cmdline_max.
 */
int x86_setup_boot_params(const struct guest_mem *m, const struct kernel_image *k,
			  const char *cmdline, uint64_t initrd_addr, uint64_t initrd_size,
			  struct cvm_errbuf *err);

#endif
