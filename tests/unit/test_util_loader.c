// SPDX-License-Identifier: BSD-3-Clause
/* Builders of synthetic kernels and initrds for the loader unit tests. */
#include "test_util_loader.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#define TL_SEG_ALIGN 0x1000
#define TL_KERNEL_VOFF 0xffffffff80000000ULL
#define TL_BZ_HDR_OFF 0x1f1

void tl_buf_free(struct tl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

char *tl_mkdtemp(void)
{
	char *dir = strdup("/tmp/cvm-loader-test-XXXXXX");

	cr_assert_not_null(dir);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	return dir;
}

char *tl_path(const char *dir, const char *name)
{
	char *p;

	cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void tl_rmtree(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

void tl_write_file(const char *path, const void *data, size_t len, unsigned int seed)
{
	uint8_t *pat = NULL;
	FILE *f;

	if (!data && len) {
		pat = malloc(len);
		cr_assert_not_null(pat);
		for (size_t i = 0; i < len; i++)
			pat[i] = tl_pattern(seed, i);
		data = pat;
	}
	f = fopen(path, "wb");
	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	free(pat);
}

void tl_write_buf(const char *path, const struct tl_buf *b)
{
	tl_write_file(path, b->data, b->len, 0);
}

/* Drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the effective set. */
static bool drop_dac_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return false;
	data[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
	return syscall(SYS_capset, &hdr, data) == 0;
}

void tl_expect_err(int rc, int want, const struct cvm_errbuf *e, const char *path, const char *what)
{
	cr_assert_eq(rc, want, "rc %d (%s), expected %d (%s); message: %s", rc, strerror(-rc), want,
		     strerror(-want), e->msg);
	cr_assert_not_null(strstr(e->msg, path), "message \"%s\" does not name %s", e->msg, path);
	if (what)
		cr_assert_not_null(strstr(e->msg, what), "message \"%s\" does not say \"%s\"",
				   e->msg, what);
}

void tl_expect_pattern(const struct guest_mem *m, uint64_t gpa, uint64_t len, unsigned int seed)
{
	const uint8_t *p = gmem_ptr(m, gpa, len);

	cr_assert_not_null(p);
	for (uint64_t i = 0; i < len; i++)
		cr_assert_eq(p[i], tl_pattern(seed, i),
			     "byte %llu at 0x%llx: 0x%02x, expected 0x%02x", (unsigned long long)i,
			     (unsigned long long)(gpa + i), p[i], tl_pattern(seed, i));
}

void tl_expect_fill(const struct guest_mem *m, uint64_t gpa, uint64_t len, uint8_t v)
{
	const uint8_t *p = gmem_ptr(m, gpa, len);

	cr_assert_not_null(p);
	for (uint64_t i = 0; i < len; i++)
		cr_assert_eq(p[i], v, "byte at 0x%llx is 0x%02x, expected 0x%02x",
			     (unsigned long long)(gpa + i), p[i], v);
}

void tl_make_unreadable(const char *path)
{
	int fd;

	cr_assert_eq(chmod(path, 0), 0);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	close(fd);
	if (!drop_dac_caps())
		cr_skip_test("running as root and cannot drop CAP_DAC_OVERRIDE");
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		close(fd);
		cr_skip_test("cannot make a file unreadable here");
	}
}

static void buf_grow(struct tl_buf *b, size_t len)
{
	if (len <= b->len)
		return;
	b->data = realloc(b->data, len);
	cr_assert_not_null(b->data);
	memset(b->data + b->len, 0, len - b->len);
	b->len = len;
}

Elf64_Ehdr *tl_ehdr(struct tl_buf *b)
{
	return (Elf64_Ehdr *)b->data;
}

Elf64_Phdr *tl_phdr(struct tl_buf *b, unsigned int i)
{
	return (Elf64_Phdr *)(b->data + sizeof(Elf64_Ehdr)) + i;
}

void tl_build_elf(struct tl_buf *b, const struct tl_seg *segs, unsigned int n, uint64_t entry)
{
	size_t off = sizeof(Elf64_Ehdr) + n * sizeof(Elf64_Phdr);
	Elf64_Ehdr *eh;

	b->data = NULL;
	b->len = 0;
	buf_grow(b, off);
	off = (off + TL_SEG_ALIGN - 1) & ~(size_t)(TL_SEG_ALIGN - 1);
	for (unsigned int i = 0; i < n; i++) {
		Elf64_Phdr *ph;

		buf_grow(b, off + segs[i].filesz);
		for (uint64_t j = 0; j < segs[i].filesz; j++)
			b->data[off + j] = tl_pattern(segs[i].seed, j);
		ph = tl_phdr(b, i);
		*ph = (Elf64_Phdr){
			.p_type = segs[i].type,
			.p_flags = segs[i].flags,
			.p_offset = off,
			.p_vaddr = segs[i].paddr + TL_KERNEL_VOFF,
			.p_paddr = segs[i].paddr,
			.p_filesz = segs[i].filesz,
			.p_memsz = segs[i].memsz,
			.p_align = TL_SEG_ALIGN,
		};
		off += (segs[i].filesz + TL_SEG_ALIGN - 1) & ~(uint64_t)(TL_SEG_ALIGN - 1);
	}
	eh = tl_ehdr(b);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)n;
}

struct tl_bz tl_bz_default(void)
{
	return (struct tl_bz){
		.setup_sects = 27,
		.version = 0x020f,
		.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
		.loadflags = LOADED_HIGH,
		.relocatable = 1,
		.kernel_alignment = 0x200000,
		.initrd_addr_max = 0x7fffffff,
		.cmdline_size = 4095,
		.pref_address = 0x1000000,
		.init_size = 0x800000,
		.payload_len = 0x3000,
		.payload_seed = 5,
	};
}

size_t tl_bz_payload_off(const struct tl_bz *p)
{
	return ((size_t)(p->setup_sects ? p->setup_sects : 4) + 1) * 512;
}

void tl_build_bzimage(struct tl_buf *b, const struct tl_bz *p)
{
	size_t off = tl_bz_payload_off(p);
	struct setup_header h;
	int hdr_end = p->hdr_end ? p->hdr_end : (int)(TL_BZ_HDR_OFF + sizeof(h));

	b->data = NULL;
	b->len = 0;
	buf_grow(b, off + p->payload_len);
	/* Garbage in the setup code, so that stray reads of it show. */
	for (size_t i = 0; i < TL_BZ_HDR_OFF; i++)
		b->data[i] = 0xcc;
	for (size_t i = 0x26c; i < off; i++)
		b->data[i] = 0xcc;
	memset(&h, 0, sizeof(h));
	h.setup_sects = p->setup_sects;
	h.syssize = p->syssize ? p->syssize : (uint32_t)((p->payload_len + 15) / 16);
	h.boot_flag = 0xaa55;
	h.jump = (uint16_t)(0xeb | ((hdr_end - 0x202) << 8));
	h.header = 0x53726448;
	h.version = p->version;
	h.loadflags = p->loadflags;
	h.code32_start = 0x100000;
	h.initrd_addr_max = p->initrd_addr_max;
	h.kernel_alignment = p->kernel_alignment;
	h.relocatable_kernel = p->relocatable;
	h.min_alignment = 21;
	h.xloadflags = p->xloadflags;
	h.cmdline_size = p->cmdline_size;
	h.pref_address = p->pref_address;
	h.init_size = p->init_size;
	h.handover_offset = 0x190;
	h.kernel_info_offset = p->kernel_info_offset;
	memcpy(b->data + TL_BZ_HDR_OFF, &h, sizeof(h));
	for (size_t i = 0; i < p->payload_len; i++)
		b->data[off + i] = tl_pattern(p->payload_seed, i);
}
