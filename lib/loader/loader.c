// SPDX-License-Identifier: BSD-3-Clause
/* Kernel format dispatch and the file helpers the loaders share. */
#include "loader/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader/loader_internal.h"

/* The bzImage magic "HdrS" sits at this file offset. */
#define BZ_MAGIC_OFF 0x202

int loader_file_open(struct loader_file *f, const char *path, const char *what,
		     struct cvm_errbuf *err)
{
	struct stat st;
	int rc;

	f->fd = -1;
	f->size = 0;
	f->path = path;
	if (!path || !*path)
		return errf(err, -ENOENT, "no %s file given", what);

	/* O_NONBLOCK: a FIFO must not hang us before fstat() rejects it. */
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (f->fd < 0) {
		rc = -errno;
		return errf(err, rc, "cannot open %s %s: %s", what, path, strerror(-rc));
	}
	if (fstat(f->fd, &st) < 0) {
		rc = -errno;
		loader_file_close(f);
		return errf(err, rc, "cannot stat %s %s: %s", what, path, strerror(-rc));
	}
	if (S_ISDIR(st.st_mode)) {
		loader_file_close(f);
		return errf(err, -EISDIR, "%s %s is a directory", what, path);
	}
	if (!S_ISREG(st.st_mode)) {
		loader_file_close(f);
		return errf(err, -EINVAL, "%s %s is not a regular file", what, path);
	}
	f->size = (uint64_t)st.st_size;
	return 0;
}

void loader_file_close(struct loader_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int loader_file_read(const struct loader_file *f, uint64_t off, void *buf, uint64_t len,
		     struct cvm_errbuf *err)
{
	uint8_t *p = buf;

	while (len) {
		size_t chunk = len > (1U << 30) ? (1U << 30) : (size_t)len;
		ssize_t n = pread(f->fd, p, chunk, (off_t)off);

		if (n < 0) {
			int rc = -errno;

			if (rc == -EINTR)
				continue;
			return errf(err, rc, "cannot read %s at offset %llu: %s", f->path,
				    (unsigned long long)off, strerror(-rc));
		}
		if (n == 0)
			return errf(err, -EIO,
				    "%s: unexpected end of file at offset %llu "
				    "(did it change while being read?)",
				    f->path, (unsigned long long)off);
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

uint64_t loader_ram_top(const struct guest_mem *m)
{
	uint64_t top = 0;

	for (unsigned int i = 0; i < m->nr_regions; i++) {
		uint64_t end = m->regions[i].gpa + m->regions[i].size;

		if (end > top)
			top = end;
	}
	return top;
}

int loader_load_kernel(const struct guest_mem *m, const char *path, struct kernel_image *k,
		       struct cvm_errbuf *err)
{
	struct loader_file f;
	uint8_t magic[4];
	int rc;

	memset(k, 0, sizeof(*k));
	rc = loader_file_open(&f, path, "kernel", err);
	if (rc)
		return rc;

	if (f.size == 0) {
		rc = errf(err, -ENOEXEC, "kernel %s is empty", path);
		goto out;
	}
	if (f.size >= sizeof(magic)) {
		rc = loader_file_read(&f, 0, magic, sizeof(magic), err);
		if (rc)
			goto out;
		if (!memcmp(magic, "\177ELF", sizeof(magic))) {
			rc = loader_load_elf(m, &f, k, err);
			goto out;
		}
	}
	if (f.size >= BZ_MAGIC_OFF + sizeof(magic)) {
		rc = loader_file_read(&f, BZ_MAGIC_OFF, magic, sizeof(magic), err);
		if (rc)
			goto out;
		if (!memcmp(magic, "HdrS", sizeof(magic))) {
			rc = loader_load_bzimage(m, &f, k, err);
			goto out;
		}
	}
	rc = errf(err, -ENOEXEC, "kernel %s is neither an ELF64 vmlinux nor a bzImage", path);
out:
	loader_file_close(&f);
	if (rc)
		memset(k, 0, sizeof(*k));
	return rc;
}
