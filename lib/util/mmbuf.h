/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Buffers straight from mmap(2), for device code that runs after a device
 * process was forked from a VMM that may have other threads: malloc's locks
 * may have been held by one of them at the fork, and nothing resets them in
 * the child (see jail.h). These make system calls only. Page-aligned,
 * zero-filled; the caller remembers the length.
 */
#ifndef CVM_UTIL_MMBUF_H
#define CVM_UTIL_MMBUF_H

#include <stddef.h>
#include <sys/mman.h>

static inline void *mm_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Grow or shrink @p (NULL: a new buffer); NULL on failure, when @p is left as it was. */
static inline void *mm_realloc(void *p, size_t old, size_t len)
{
	if (!p)
		return mm_alloc(len);
	p = mremap(p, old, len, MREMAP_MAYMOVE);
	return p == MAP_FAILED ? NULL : p;
}

static inline void mm_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

#endif
