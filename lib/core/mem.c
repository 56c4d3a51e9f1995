// SPDX-License-Identifier: BSD-3-Clause
#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int gmem_create(struct guest_mem *m, uint64_t size, struct cvm_errbuf *err)
{
	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	if (size == 0 || size % GMEM_MIB)
		return errf(err, -EINVAL, "guest memory size %llu is not a multiple of 1 MiB",
			    (unsigned long long)size);

	m->memfd = memfd_create("cvm-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (m->memfd < 0)
		return errf(err, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(m->memfd, (off_t)size) < 0) {
		int rc = -errno;

		close(m->memfd);
		m->memfd = -1;
		return errf(err, rc, "cannot size guest memory to %llu MiB: %s",
			    (unsigned long long)(size / GMEM_MIB), strerror(-rc));
	}
	/* The size is fixed from now on; device processes rely on it. */
	fcntl(m->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);

	m->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->memfd, 0);
	if (m->base == MAP_FAILED) {
		int rc = -errno;

		m->base = NULL;
		close(m->memfd);
		m->memfd = -1;
		return errf(err, rc, "cannot map %llu MiB of guest memory: %s",
			    (unsigned long long)(size / GMEM_MIB), strerror(-rc));
	}
	madvise(m->base, size, MADV_DONTDUMP);
	m->total = size;

	uint64_t low = size < GMEM_HOLE_START ? size : GMEM_HOLE_START;

	m->regions[0] =
		(struct gmem_region){ .gpa = 0, .size = low, .memfd_off = 0, .host = m->base };
	m->nr_regions = 1;
	if (size > low) {
		m->regions[1] = (struct gmem_region){
			.gpa = GMEM_HOLE_END,
			.size = size - low,
			.memfd_off = low,
			.host = m->base + low,
		};
		m->nr_regions = 2;
	}
	return 0;
}

void gmem_destroy(struct guest_mem *m)
{
	if (m->base)
		munmap(m->base, m->total);
	if (m->memfd >= 0)
		close(m->memfd);
	memset(m, 0, sizeof(*m));
	m->memfd = -1;
}

void *gmem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->regions[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int gmem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int gmem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gmem_zero(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gmem_ptr(m, gpa, len);
	const uint64_t page = 4096;

	if (!p)
		return -EFAULT;
	if (len == 0)
		return 0;

	uint64_t off = (uint64_t)(p - m->base); /* the same offset in the memfd */
	uint64_t start = (off + page - 1) & ~(page - 1), end = (off + len) & ~(page - 1);

	if (start >= end || fallocate(m->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)start, (off_t)(end - start))) {
		memset(p, 0, len); /* small, or no hole punching: plain writes */
		return 0;
	}
	memset(p, 0, start - off);
	memset(m->base + end, 0, off + len - end);
	return 0;
}

uint64_t gmem_low_end(const struct guest_mem *m)
{
	return m->nr_regions ? m->regions[0].size : 0;
}
