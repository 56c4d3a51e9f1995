/* SPDX-License-Identifier: BSD-3-Clause */
/* Builders of synthetic kernels and initrds for the loader unit tests. */
#ifndef CVM_TESTS_UNIT_TEST_UTIL_LOADER_H
#define CVM_TESTS_UNIT_TEST_UTIL_LOADER_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "core/mem.h"
#include "util/err.h"

/* A file image being built; tests may edit it before writing it out. */
struct tl_buf {
	uint8_t *data;
	size_t len;
};

void tl_buf_free(struct tl_buf *b);

/* The byte at offset @i of the test pattern number @seed. */
static inline uint8_t tl_pattern(unsigned int seed, uint64_t i)
{
	return (uint8_t)(seed * 31u + i * 7u + (i >> 8));
}

/* A fresh temporary directory (free() the result) and a file name in it. */
char *tl_mkdtemp(void);
char *tl_path(const char *dir, const char *name);
/* Removes @dir and everything in it; harmless on NULL. */
void tl_rmtree(const char *dir);

/* Writes @len bytes (a pattern when @data is NULL) to @path, mode 0644. */
void tl_write_file(const char *path, const void *data, size_t len, unsigned int seed);
void tl_write_buf(const char *path, const struct tl_buf *b);

/*
 * Makes @path unreadable (mode 0; as root also drops CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH from the effective set); skips the test if it cannot.
 */
void tl_make_unreadable(const char *path);

/* rc is @want, and the message names @path and contains @what (if not NULL). */
void tl_expect_err(int rc, int want, const struct cvm_errbuf *e, const char *path,
		   const char *what);
/* Guest bytes [gpa, gpa + len) are tl_pattern(seed), or all @v. */
void tl_expect_pattern(const struct guest_mem *m, uint64_t gpa, uint64_t len, unsigned int seed);
void tl_expect_fill(const struct guest_mem *m, uint64_t gpa, uint64_t len, uint8_t v);

/* One segment for tl_build_elf(): data is tl_pattern(seed) for filesz bytes. */
struct tl_seg {
	uint32_t type;	/* PT_LOAD, PT_NOTE, ... */
	uint32_t flags; /* PF_R | PF_X ... */
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	unsigned int seed;
};

/*
 * An ELF64 x86_64 ET_EXEC image: ehdr, phdrs right after it, then each
 * segment's bytes at a 4 KiB aligned offset. p_vaddr = p_paddr + the usual
 * kernel offset, like vmlinux.
 */
void tl_build_elf(struct tl_buf *b, const struct tl_seg *segs, unsigned int n, uint64_t entry);
Elf64_Ehdr *tl_ehdr(struct tl_buf *b);
Elf64_Phdr *tl_phdr(struct tl_buf *b, unsigned int i);

/* Parameters of a synthetic bzImage. */
struct tl_bz {
	uint8_t setup_sects; /* as written; 0 means 4 */
	uint16_t version;    /* boot protocol, e.g. 0x020f */
	uint16_t xloadflags;
	uint8_t loadflags;
	uint8_t relocatable;
	uint32_t kernel_alignment;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t kernel_info_offset;
	uint32_t syssize;   /* 0: computed from payload_len */
	int hdr_end;	    /* 0: the whole struct setup_header; else 0x202 + jump byte */
	size_t payload_len; /* protected-mode part, tl_pattern(payload_seed) */
	unsigned int payload_seed;
};

/* Defaults: protocol 2.15, XLF_KERNEL_64, LOADED_HIGH, relocatable, 16 MiB pref. */
struct tl_bz tl_bz_default(void);
void tl_build_bzimage(struct tl_buf *b, const struct tl_bz *p);
/* File offset of the protected-mode part. */
size_t tl_bz_payload_off(const struct tl_bz *p);

#endif
