// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests of lib/loader: ELF64 vmlinux, bzImage and initrd placement. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "core/mem.h"
#include "loader/loader.h"
#include "test_util_loader.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define KBASE (16 * MIB)

/* Per-test state; every Criterion test runs in its own process. */
static char *dir;
static struct guest_mem mem;

static void setup(void)
{
	struct cvm_errbuf e = { "" };

	dir = tl_mkdtemp();
	cr_assert_eq(gmem_create(&mem, 64 * MIB, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	gmem_destroy(&mem);
	tl_rmtree(dir);
	free(dir);
}

TestSuite(loader_elf, .init = setup, .fini = teardown);
TestSuite(loader_bzimage, .init = setup, .fini = teardown);
TestSuite(loader_initrd, .init = setup, .fini = teardown);

/* Writes @b as @name and loads it as the kernel. */
static int load_buf(const struct guest_mem *m, const struct tl_buf *b, const char *name,
		    struct kernel_image *k, struct cvm_errbuf *e, char **path)
{
	*path = tl_path(dir, name);
	tl_write_buf(*path, b);
	return loader_load_kernel(m, *path, k, e);
}

/* A vmlinux-like image: text, a note, data + BSS. */
static void good_elf(struct tl_buf *b)
{
	const struct tl_seg segs[] = {
		{ PT_LOAD, PF_R | PF_X, KBASE, 0x3000, 0x3000, 1 },
		{ PT_NOTE, PF_R, 0, 0x40, 0x40, 9 },
		{ PT_LOAD, PF_R | PF_W, KBASE + 0x4000, 0x1000, 0x5000, 2 },
	};

	tl_build_elf(b, segs, 3, KBASE + 0x100);
}

/* ---- ELF ---------------------------------------------------------------- */

Test(loader_elf, good)
{
	struct cvm_errbuf e = { "" };
	struct kernel_image k;
	struct tl_buf b;
	char *path;

	good_elf(&b);
	/* Stale bytes where the BSS goes must be cleared. */
	memset(gmem_ptr(&mem, KBASE + 0x4000, 0x5000), 0xaa, 0x5000);
	cr_assert_eq(load_buf(&mem, &b, "vmlinux", &k, &e, &path), 0, "%s", e.msg);
	cr_expect_eq(k.entry, KBASE + 0x100);
	cr_expect_eq(k.load_start, KBASE);
	cr_expect_eq(k.load_end, KBASE + 0x9000);
	cr_expect_not(k.is_bzimage);
	tl_expect_pattern(&mem, KBASE, 0x3000, 1);
	tl_expect_pattern(&mem, KBASE + 0x4000, 0x1000, 2);
	tl_expect_fill(&mem, KBASE + 0x5000, 0x4000, 0);
	tl_expect_fill(&mem, 0, 0x100000, 0); /* the note went nowhere */
	cr_expect_eq(k.hdr.boot_flag, 0xaa55);
	cr_expect_eq(k.hdr.header, 0x53726448);
	cr_expect_eq(k.hdr.version, 0x020f);
	cr_expect_eq(k.hdr.type_of_loader, 0xff);
	cr_expect_eq(k.hdr.loadflags, LOADED_HIGH);
	cr_expect_eq(k.hdr.kernel_alignment, 0x1000000);
	cr_expect_eq(k.hdr.cmdline_size, 2047);
	cr_expect_eq(k.initrd_addr_max, X86_INITRD_ADDR_MAX_DEFAULT);
	cr_expect_eq(k.cmdline_max, 2047);
	tl_buf_free(&b);
	free(path);
}

Test(loader_elf, above_4g_and_hole)
{
	int rc;
	const struct tl_seg hi[] = { { PT_LOAD, PF_R | PF_X, 5 * GIB, 0x2000, 0x3000, 3 } };
	const struct tl_seg hole[] = { { PT_LOAD, PF_R | PF_X, 3 * GIB + MIB, 0x1000, 0x1000, 3 } };
	const struct tl_seg across[] = { { PT_LOAD, PF_R | PF_X, 3 * GIB - 0x1000, 0x1000, 0x2000,
					   3 } };
	struct cvm_errbuf e = { "" };
	struct guest_mem big;
	struct kernel_image k;
	struct tl_buf b;
	char *path;

	cr_assert_eq(gmem_create(&big, 6 * GIB, &e), 0, "%s", e.msg);
	tl_build_elf(&b, hi, 1, 5 * GIB);
	cr_assert_eq(load_buf(&big, &b, "hi", &k, &e, &path), 0, "%s", e.msg);
	cr_expect_eq(k.entry, 5 * GIB);
	cr_expect_eq(k.load_end, 5 * GIB + 0x3000);
	tl_expect_pattern(&big, 5 * GIB, 0x2000, 3);
	tl_expect_fill(&big, 5 * GIB + 0x2000, 0x1000, 0);
	tl_buf_free(&b);
	free(path);

	tl_build_elf(&b, hole, 1, 3 * GIB + MIB);
	rc = load_buf(&big, &b, "hole", &k, &e, &path);
	tl_expect_err(rc, -ENOEXEC, &e, path, "hole");
	tl_buf_free(&b);
	free(path);

	tl_build_elf(&b, across, 1, 3 * GIB - 0x1000);
	rc = load_buf(&big, &b, "across", &k, &e, &path);
	tl_expect_err(rc, -ENOEXEC, &e, path, "hole");
	tl_buf_free(&b);
	free(path);

	/* The same high kernel does not fit in 64 MiB. */
	tl_build_elf(&b, hi, 1, 5 * GIB);
	rc = load_buf(&mem, &b, "hi64", &k, &e, &path);
	tl_expect_err(rc, -EFBIG, &e, path, "64 MiB");
	tl_buf_free(&b);
	free(path);
	gmem_destroy(&big);
}

Test(loader_elf, unreadable_files)
{
	struct cvm_errbuf e = { "" };
	struct kernel_image k;
	char *missing = tl_path(dir, "missing");
	char *empty = tl_path(dir, "empty");
	char *text = tl_path(dir, "text");
	char *tiny = tl_path(dir, "tiny");
	char *locked = tl_path(dir, "locked");

	tl_expect_err(loader_load_kernel(&mem, missing, &k, &e), -ENOENT, &e, missing, NULL);
	tl_expect_err(loader_load_kernel(&mem, dir, &k, &e), -EISDIR, &e, dir, "directory");
	tl_write_file(empty, "", 0, 0);
	tl_expect_err(loader_load_kernel(&mem, empty, &k, &e), -ENOEXEC, &e, empty, "empty");
	tl_write_file(text, NULL, 8192, 4);
	tl_expect_err(loader_load_kernel(&mem, text, &k, &e), -ENOEXEC, &e, text,
		      "is neither an ELF64 vmlinux nor a bzImage");
	tl_write_file(tiny, "MZ", 2, 0);
	tl_expect_err(loader_load_kernel(&mem, tiny, &k, &e), -ENOEXEC, &e, tiny, "neither");
	tl_write_file(locked, NULL, 4096, 1);
	tl_make_unreadable(locked);
	tl_expect_err(loader_load_kernel(&mem, locked, &k, &e), -EACCES, &e, locked, NULL);
	free(missing);
	free(empty);
	free(text);
	free(tiny);
	free(locked);
}

/*
 * Corruptions of good_elf(): segment 0 is the text at KBASE, 1 a note,
 * 2 data + BSS at KBASE + 0x4000.
 */
enum elf_bad {
	EB_TRUNC_IDENT,
	EB_TRUNC_EHDR,
	EB_CLASS32,
	EB_BIG_ENDIAN,
	EB_MACHINE,
	EB_TYPE_DYN,
	EB_NO_PHDRS,
	EB_NO_LOAD,
	EB_ONLY_EMPTY_LOAD,
	EB_PHENTSIZE,
	EB_PHDRS_PAST_EOF,
	EB_PHOFF_WRAPS,
	EB_SEG_PAST_EOF,
	EB_SEG_OFFSET_WRAPS,
	EB_SEG_HUGE,
	EB_FILESZ_GT_MEMSZ,
	EB_PADDR_WRAPS,
	EB_OVERLAP,
	EB_OVERLAP_CONTAINED,
	EB_BELOW_1MIB,
	EB_BEYOND_RAM,
	EB_ENTRY_NOT_EXEC,
	EB_ENTRY_IN_BSS,
	EB_ENTRY_OUTSIDE,
};

struct elf_case {
	int which;
	int rc;
	char what[64]; /* an array: parameters may cross an exec */
};

static void elf_corrupt(struct tl_buf *b, int which)
{
	Elf64_Ehdr *eh = tl_ehdr(b);
	Elf64_Phdr *text = tl_phdr(b, 0), *note = tl_phdr(b, 1), *data = tl_phdr(b, 2);

	switch (which) {
	case EB_TRUNC_IDENT:
		b->len = 10;
		break;
	case EB_TRUNC_EHDR:
		b->len = 40;
		break;
	case EB_CLASS32:
		eh->e_ident[EI_CLASS] = ELFCLASS32;
		break;
	case EB_BIG_ENDIAN:
		eh->e_ident[EI_DATA] = ELFDATA2MSB;
		break;
	case EB_MACHINE:
		eh->e_machine = EM_386;
		break;
	case EB_TYPE_DYN:
		eh->e_type = ET_DYN;
		break;
	case EB_NO_PHDRS:
		eh->e_phnum = 0;
		break;
	case EB_NO_LOAD:
		text->p_type = PT_NOTE;
		data->p_type = PT_GNU_STACK;
		break;
	case EB_ONLY_EMPTY_LOAD:
		text->p_filesz = text->p_memsz = 0;
		data->p_filesz = data->p_memsz = 0;
		break;
	case EB_PHENTSIZE:
		eh->e_phentsize = sizeof(Elf64_Phdr) - 8;
		break;
	case EB_PHDRS_PAST_EOF:
		eh->e_phoff = b->len - sizeof(Elf64_Phdr);
		break;
	case EB_PHOFF_WRAPS:
		eh->e_phoff = UINT64_MAX - 8;
		break;
	case EB_SEG_PAST_EOF:
		data->p_offset = b->len - 0x800;
		break;
	case EB_SEG_OFFSET_WRAPS:
		text->p_offset = UINT64_MAX - 0x10;
		break;
	case EB_SEG_HUGE:
		data->p_filesz = data->p_memsz = UINT64_MAX;
		break;
	case EB_FILESZ_GT_MEMSZ:
		data->p_memsz = data->p_filesz - 1;
		break;
	case EB_PADDR_WRAPS:
		data->p_paddr = UINT64_MAX - 0xfff;
		break;
	case EB_OVERLAP:
		data->p_paddr = text->p_paddr + 0x2000;
		break;
	case EB_OVERLAP_CONTAINED:
		/* The note becomes a load segment inside the BSS of segment 2. */
		note->p_type = PT_LOAD;
		note->p_paddr = data->p_paddr + 0x3000;
		break;
	case EB_BELOW_1MIB:
		text->p_paddr = X86_HIMEM_START - 0x1000;
		eh->e_entry = text->p_paddr;
		break;
	case EB_BEYOND_RAM:
		data->p_paddr = 64 * MIB - 0x1000;
		break;
	case EB_ENTRY_NOT_EXEC:
		eh->e_entry = data->p_paddr;
		break;
	case EB_ENTRY_IN_BSS:
		text->p_memsz = 0x4000;
		eh->e_entry = text->p_paddr + 0x3800;
		break;
	case EB_ENTRY_OUTSIDE:
		eh->e_entry = 0;
		break;
	}
}

ParameterizedTestParameters(loader_elf, corrupt)
{
	static struct elf_case cases[] = {
		{ EB_TRUNC_IDENT, -ENOEXEC, "truncated" },
		{ EB_TRUNC_EHDR, -ENOEXEC, "truncated" },
		{ EB_CLASS32, -ENOEXEC, "not an ELF64" },
		{ EB_BIG_ENDIAN, -ENOEXEC, "little-endian" },
		{ EB_MACHINE, -ENOEXEC, "x86_64" },
		{ EB_TYPE_DYN, -ENOEXEC, "ET_EXEC" },
		{ EB_NO_PHDRS, -ENOEXEC, "no PT_LOAD" },
		{ EB_NO_LOAD, -ENOEXEC, "no PT_LOAD" },
		{ EB_ONLY_EMPTY_LOAD, -ENOEXEC, "no PT_LOAD" },
		{ EB_PHENTSIZE, -ENOEXEC, "entry size" },
		{ EB_PHDRS_PAST_EOF, -ENOEXEC, "program header table" },
		{ EB_PHOFF_WRAPS, -ENOEXEC, "program header table" },
		{ EB_SEG_PAST_EOF, -ENOEXEC, "segment 2" },
		{ EB_SEG_OFFSET_WRAPS, -ENOEXEC, "segment 0" },
		{ EB_SEG_HUGE, -ENOEXEC, "segment 2" },
		{ EB_FILESZ_GT_MEMSZ, -ENOEXEC, "p_filesz" },
		{ EB_PADDR_WRAPS, -ENOEXEC, "wraps" },
		{ EB_OVERLAP, -ENOEXEC, "overlap" },
		{ EB_OVERLAP_CONTAINED, -ENOEXEC, "overlap" },
		{ EB_BELOW_1MIB, -ENOEXEC, "below 1 MiB" },
		{ EB_BEYOND_RAM, -EFBIG, "does not fit in 64 MiB of RAM" },
		{ EB_ENTRY_NOT_EXEC, -ENOEXEC, "entry point" },
		{ EB_ENTRY_IN_BSS, -ENOEXEC, "entry point" },
		{ EB_ENTRY_OUTSIDE, -ENOEXEC, "entry point" },
	};

	return cr_make_param_array(struct elf_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct elf_case *c, loader_elf, corrupt)
{
	int rc;
	struct cvm_errbuf e = { "" };
	struct kernel_image k;
	struct tl_buf b;
	char name[32], *path;

	good_elf(&b);
	elf_corrupt(&b, c->which);
	snprintf(name, sizeof(name), "bad%d", c->which);
	rc = load_buf(&mem, &b, name, &k, &e, &path);
	tl_expect_err(rc, c->rc, &e, path, c->what);
	/* Nothing is copied before the whole file has been checked. */
	tl_expect_fill(&mem, KBASE, 0x9000, 0);
	tl_buf_free(&b);
	free(path);
}

/* ---- bzImage ------------------------------------------------------------ */

Test(loader_bzimage, good)
{
	struct tl_bz p = tl_bz_default();
	struct cvm_errbuf e = { "" };
	struct kernel_image k;
	struct tl_buf b;
	char *path;

	tl_build_bzimage(&b, &p);
	cr_assert_eq(load_buf(&mem, &b, "bzImage", &k, &e, &path), 0, "%s", e.msg);
	cr_expect(k.is_bzimage);
	cr_expect_eq(k.entry, 0x100200);
	cr_expect_eq(k.load_start, X86_HIMEM_START);
	/* Relocatable, 2 MiB aligned: decompresses at pref_address 16 MiB, init_size 8 MiB. */
	cr_expect_eq(k.load_end, 24 * MIB);
	tl_expect_pattern(&mem, X86_HIMEM_START, p.payload_len, p.payload_seed);
	tl_expect_fill(&mem, X86_HIMEM_START + p.payload_len, 0x1000, 0);
	/* The setup header as in the file ... */
	cr_expect_eq(k.hdr.setup_sects, 27);
	cr_expect_eq(k.hdr.boot_flag, 0xaa55);
	cr_expect_eq(k.hdr.header, 0x53726448);
	cr_expect_eq(k.hdr.version, 0x020f);
	cr_expect_eq(k.hdr.syssize, 0x300);
	cr_expect_eq(k.hdr.kernel_alignment, 0x200000);
	cr_expect_eq(k.hdr.xloadflags, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	cr_expect_eq(k.hdr.pref_address, 0x1000000);
	cr_expect_eq(k.hdr.handover_offset, 0x190);
	cr_expect_eq(k.hdr.initrd_addr_max, 0x7fffffff);
	/* ... with what a boot loader fills in. */
	cr_expect_eq(k.hdr.type_of_loader, 0xff);
	cr_expect_eq(k.hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	cr_expect_eq(k.hdr.heap_end_ptr, 0xfe00);
	cr_expect_eq(k.initrd_addr_max, 0x7fffffff);
	cr_expect_eq(k.cmdline_max, 4095);
	tl_buf_free(&b);
	free(path);
}

Test(loader_bzimage, defaults_and_short_header)
{
	struct tl_bz p = tl_bz_default();
	struct cvm_errbuf e = { "" };
	struct kernel_image k;
	struct tl_buf b;
	char *path;

	p.setup_sects = 0;		/* means 4 */
	p.initrd_addr_max = 0;		/* means the default */
	p.cmdline_size = 0x100000;	/* capped by the space we reserve */
	p.kernel_info_offset = 0x12345; /* beyond the header end below */
	p.hdr_end = 0x268;
	p.payload_seed = 7;
	tl_build_bzimage(&b, &p);
	cr_assert_eq(tl_bz_payload_off(&p), 5 * 512);
	cr_assert_eq(load_buf(&mem, &b, "bz-short", &k, &e, &path), 0, "%s", e.msg);
	tl_expect_pattern(&mem, X86_HIMEM_START, p.payload_len, 7);
	cr_expect_eq(k.hdr.init_size, 0x800000);
	cr_expect_eq(k.hdr.kernel_info_offset, 0, "copied past 0x202 + jump: 0x%x",
		     k.hdr.kernel_info_offset);
	cr_expect_eq(k.initrd_addr_max, X86_INITRD_ADDR_MAX_DEFAULT);
	cr_expect_eq(k.cmdline_max, X86_CMDLINE_MAX - 1);
	tl_buf_free(&b);
	free(path);
}

enum bz_bad {
	BB_OLD_PROTOCOL,
	BB_NO_KERNEL_64,
	BB_NOT_LOADED_HIGH,
	BB_SHORT_SETUP,
	BB_NO_PAYLOAD,
	BB_SYSSIZE,
	BB_INIT_SIZE,
	BB_PAYLOAD_TOO_BIG,
};

struct bz_case {
	int which;
	int rc;
	char what[64]; /* an array: parameters may cross an exec */
};

ParameterizedTestParameters(loader_bzimage, corrupt)
{
	static struct bz_case cases[] = {
		{ BB_OLD_PROTOCOL, -ENOEXEC, "boot protocol 2.05 is too old" },
		{ BB_NO_KERNEL_64, -ENOEXEC, "XLF_KERNEL_64" },
		{ BB_NOT_LOADED_HIGH, -ENOEXEC, "LOADED_HIGH" },
		{ BB_SHORT_SETUP, -ENOEXEC, "truncated" },
		{ BB_NO_PAYLOAD, -ENOEXEC, "truncated" },
		{ BB_SYSSIZE, -ENOEXEC, "truncated" },
		{ BB_INIT_SIZE, -EFBIG, "64 MiB" },
		{ BB_PAYLOAD_TOO_BIG, -EFBIG, "does not fit in 4 MiB of RAM" },
	};

	return cr_make_param_array(struct bz_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bz_case *c, loader_bzimage, corrupt)
{
	int rc;
	struct tl_bz p = tl_bz_default();
	struct cvm_errbuf e = { "" };
	struct guest_mem small, *m = &mem;
	struct kernel_image k;
	struct tl_buf b;
	char *path;

	switch (c->which) {
	case BB_OLD_PROTOCOL:
		p.version = 0x0205;
		break;
	case BB_NO_KERNEL_64:
		p.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
		break;
	case BB_NOT_LOADED_HIGH:
		p.loadflags = 0;
		break;
	case BB_SHORT_SETUP:
		p.setup_sects = 60; /* the file ends inside the setup code */
		break;
	case BB_NO_PAYLOAD:
		p.payload_len = 0x200;
		break;
	case BB_SYSSIZE:
		p.syssize = (uint32_t)(p.payload_len / 16 + 2);
		break;
	case BB_INIT_SIZE:
		p.init_size = 60 * MIB;
		break;
	case BB_PAYLOAD_TOO_BIG:
		p.payload_len = 3 * MIB + 0x1000;
		p.init_size = 0;
		p.pref_address = 0;
		cr_assert_eq(gmem_create(&small, 4 * MIB, &e), 0, "%s", e.msg);
		m = &small;
		break;
	}
	tl_build_bzimage(&b, &p);
	if (c->which == BB_SHORT_SETUP)
		b.len = 40 * 512;
	rc = load_buf(m, &b, "bzImage", &k, &e, &path);
	tl_expect_err(rc, c->rc, &e, path, c->what);
	tl_expect_fill(m, X86_HIMEM_START, 0x1000, 0);
	if (m != &mem)
		gmem_destroy(m);
	tl_buf_free(&b);
	free(path);
}

/* ---- initrd ------------------------------------------------------------- */

static struct kernel_image fake_kernel(uint64_t load_end, uint64_t initrd_addr_max)
{
	return (struct kernel_image){
		.entry = KBASE,
		.load_start = KBASE,
		.load_end = load_end,
		.initrd_addr_max = initrd_addr_max,
		.cmdline_max = 2047,
	};
}

static int place(const struct guest_mem *m, const struct kernel_image *k, size_t size,
		 unsigned int seed, uint64_t *addr, uint64_t *got, struct cvm_errbuf *e,
		 char **path)
{
	*path = tl_path(dir, "initrd");
	tl_write_file(*path, NULL, size, seed);
	return loader_load_initrd(m, *path, k, addr, got, e);
}

Test(loader_initrd, top_of_low_ram)
{
	struct cvm_errbuf e = { "" };
	struct kernel_image k;
	struct tl_buf b;
	uint64_t addr, size;
	char *path, *ipath;

	good_elf(&b);
	cr_assert_eq(load_buf(&mem, &b, "vmlinux", &k, &e, &path), 0, "%s", e.msg);
	cr_assert_eq(place(&mem, &k, 10000, 6, &addr, &size, &e, &ipath), 0, "%s", e.msg);
	cr_expect_eq(size, 10000);
	cr_expect_eq(addr % 4096, 0, "addr 0x%llx", (unsigned long long)addr);
	cr_expect_eq(addr, (64 * MIB - 10000) & ~0xfffULL, "addr 0x%llx", (unsigned long long)addr);
	cr_expect_geq(addr, k.load_end);
	tl_expect_pattern(&mem, addr, size, 6);
	tl_buf_free(&b);
	free(path);
	free(ipath);
}

Test(loader_initrd, below_initrd_addr_max)
{
	struct cvm_errbuf e = { "" };
	struct guest_mem big;
	struct kernel_image k = fake_kernel(KBASE + 5 * MIB, 0x1fffffff);
	uint64_t addr, size;
	char *path;

	cr_assert_eq(gmem_create(&big, 6 * GIB, &e), 0, "%s", e.msg);
	cr_assert_eq(place(&big, &k, 3 * MIB + 17, 8, &addr, &size, &e, &path), 0, "%s", e.msg);
	cr_expect_eq(addr % 4096, 0);
	cr_expect_leq(addr + size - 1, 0x1fffffff);
	cr_expect_eq(addr, (0x20000000 - (3 * MIB + 17)) & ~0xfffULL, "addr 0x%llx",
		     (unsigned long long)addr);
	tl_expect_pattern(&big, addr, size, 8);

	/* A kernel that takes 4 GiB: the initrd still stays in low RAM. */
	k.initrd_addr_max = 0xffffffff;
	cr_assert_eq(loader_load_initrd(&big, path, &k, &addr, &size, &e), 0, "%s", e.msg);
	cr_expect_leq(addr + size, 3 * GIB);
	cr_expect_eq(addr, (3 * GIB - size) & ~0xfffULL);
	tl_expect_pattern(&big, addr, size, 8);
	gmem_destroy(&big);
	free(path);
}

Test(loader_initrd, exact_fit_and_too_big)
{
	int rc;
	struct cvm_errbuf e = { "" };
	struct kernel_image k = fake_kernel(60 * MIB + 1, X86_INITRD_ADDR_MAX_DEFAULT);
	uint64_t addr = 1, size = 1;
	char *path;

	/* load_end rounds up to 60 MiB + 4 KiB: exactly that much is left. */
	cr_assert_eq(place(&mem, &k, 4 * MIB - 4096, 2, &addr, &size, &e, &path), 0, "%s", e.msg);
	cr_expect_eq(addr, 60 * MIB + 4096);
	tl_expect_pattern(&mem, addr, size, 2);
	free(path);

	/* One byte more and it would start inside the kernel's last page. */
	rc = place(&mem, &k, 4 * MIB - 4095, 2, &addr, &size, &e, &path);
	tl_expect_err(rc, -EFBIG, &e, path, "4190209 bytes");
	cr_expect_eq(size, 0);
	free(path);

	/* Nor may it go below 1 MiB when the kernel leaves no room above. */
	k = fake_kernel(0, 0x17ffff);
	rc = place(&mem, &k, MIB, 2, &addr, &size, &e, &path);
	tl_expect_err(rc, -EFBIG, &e, path, NULL);
	free(path);
	cr_assert_eq(place(&mem, &k, 0x4000, 2, &addr, &size, &e, &path), 0, "%s", e.msg);
	cr_expect_eq(addr, 0x180000 - 0x4000);
	free(path);
}

Test(loader_initrd, files)
{
	struct cvm_errbuf e = { "" };
	struct kernel_image k = fake_kernel(KBASE + MIB, X86_INITRD_ADDR_MAX_DEFAULT);
	uint64_t addr = 1, size = 1;
	char *missing = tl_path(dir, "missing");
	char *empty = tl_path(dir, "empty");
	char *locked = tl_path(dir, "locked");

	tl_expect_err(loader_load_initrd(&mem, missing, &k, &addr, &size, &e), -ENOENT, &e, missing,
		      NULL);
	tl_expect_err(loader_load_initrd(&mem, dir, &k, &addr, &size, &e), -EISDIR, &e, dir,
		      "directory");
	tl_write_file(empty, "", 0, 0);
	cr_expect_eq(loader_load_initrd(&mem, empty, &k, &addr, &size, &e), 0, "%s", e.msg);
	cr_expect_eq(addr, 0);
	cr_expect_eq(size, 0);
	tl_write_file(locked, NULL, 4096, 1);
	tl_make_unreadable(locked);
	tl_expect_err(loader_load_initrd(&mem, locked, &k, &addr, &size, &e), -EACCES, &e, locked,
		      NULL);
	free(missing);
	free(empty);
	free(locked);
}
