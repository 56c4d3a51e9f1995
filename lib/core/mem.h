/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest RAM: one memfd, mapped once in the VMM, exposed to the guest as up
 * to two regions: [0, min(size, 3 GiB)) and, for the rest, [4 GiB, ...).
 * The 1 GiB between 3 and 4 GiB is the hole for PCI MMIO, the IOAPIC and
 * the LAPIC.
 */
#ifndef CVM_CORE_MEM_H
#define CVM_CORE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define GMEM_MIB (1ULL << 20)
#define GMEM_GIB (1ULL << 30)
#define GMEM_HOLE_START (3 * GMEM_GIB)
#define GMEM_HOLE_END (4 * GMEM_GIB)
#define GMEM_MAX_REGIONS 2

struct gmem_region {
	uint64_t gpa;	    /* guest-physical start */
	uint64_t size;	    /* bytes */
	uint64_t memfd_off; /* offset of this region in the memfd */
	uint8_t *host;	    /* host address of gpa */
};

struct guest_mem {
	int memfd;
	uint8_t *base;	/* host mapping of the whole memfd */
	uint64_t total; /* bytes of RAM */
	unsigned int nr_regions;
	struct gmem_region regions[GMEM_MAX_REGIONS];
};

/* Creates the memfd and mapping for @size bytes (a multiple of 1 MiB). */
int gmem_create(struct guest_mem *m, uint64_t size, struct cvm_errbuf *err);
void gmem_destroy(struct guest_mem *m);

/*
 * gmem_ptr() - host pointer for [gpa, gpa + len), or NULL when any part of
 * the range lies outside RAM or it wraps. A range never spans two regions.
 */
void *gmem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copy into or out of guest RAM; -EFAULT when the range is not all RAM. */
int gmem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
int gmem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);

/*
 * gmem_zero() - zero [gpa, gpa + len): whole pages by punching a hole in the
 * memfd (no page is touched, untouched pages stay unallocated), the partial
 * pages at either end with memset. -EFAULT when the range is not all RAM.
 */
int gmem_zero(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Top of the low region (end of RAM below 3 GiB). */
uint64_t gmem_low_end(const struct guest_mem *m);

#endif
