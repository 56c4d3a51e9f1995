/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared between the ELF, bzImage and initrd loaders; not part of any public API. */
#ifndef CVM_LOADER_LOADER_INTERNAL_H
#define CVM_LOADER_LOADER_INTERNAL_H

#include <stdint.h>

#include "core/mem.h"
#include "loader/loader.h"
#include "util/err.h"

#define LOADER_PAGE_SIZE 0x1000ULL

/* An open, regular, read-only input file. */
struct loader_file {
	int fd;
	uint64_t size;
	const char *path;
};

/*
 * loader_file_open() - open @path for reading and check that it is a regular
 * file. @what names the file in messages ("kernel", "initrd").
 * Returns 0; -ENOENT, -EACCES, -EISDIR or another -errno from open(2);
 * -EINVAL for something that is not a regular file (a FIFO, a device).
 */
int loader_file_open(struct loader_file *f, const char *path, const char *what,
		     struct cvm_errbuf *err);
void loader_file_close(struct loader_file *f);

/*
 * loader_file_read() - read exactly @len bytes at @off into @buf.
 * The caller has checked that [off, off + len) lies inside the file; a short
 * read means the file shrank meanwhile and gives -EIO.
 */
int loader_file_read(const struct loader_file *f, uint64_t off, void *buf, uint64_t len,
		     struct cvm_errbuf *err);

/* One past the highest guest-physical RAM address. */
uint64_t loader_ram_top(const struct guest_mem *m);

/* Checked a + b; false when it wraps. */
static inline bool loader_add(uint64_t a, uint64_t b, uint64_t *sum)
{
	return !__builtin_add_overflow(a, b, sum);
}

int loader_load_elf(const struct guest_mem *m, const struct loader_file *f, struct kernel_image *k,
		    struct cvm_errbuf *err);
int loader_load_bzimage(const struct guest_mem *m, const struct loader_file *f,
			struct kernel_image *k, struct cvm_errbuf *err);

#endif
