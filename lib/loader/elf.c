// SPDX-License-Identifier: BSD-3-Clause
/*
 * ELF64 vmlinux loader: every PT_LOAD segment goes to its p_paddr, the BSS
 * part is zeroed, and the entry point is e_entry (the 64-bit boot protocol
 * entry, startup_64, which vmlinux links at its physical address).
 *
 * The whole file is validated before anything is copied into guest RAM.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "loader/loader_internal.h"

/* What the 64-bit boot protocol needs in the setup header for a vmlinux. */
#define ELF_BOOT_FLAG 0xaa55
#define ELF_HDR_MAGIC 0x53726448 /* "HdrS" */
#define ELF_BOOT_PROTOCOL 0x020f
#define ELF_KERNEL_ALIGNMENT 0x1000000
#define ELF_CMDLINE_SIZE 2047

struct elf_seg {
	unsigned int idx; /* index in the program header table, for messages */
	uint64_t offset;
	uint64_t filesz;
	uint64_t memsz;
	uint64_t paddr;
	uint64_t end; /* paddr + memsz, checked */
	uint32_t flags;
};

static int seg_cmp(const void *a, const void *b)
{
	const struct elf_seg *x = a, *y = b;

	if (x->paddr != y->paddr)
		return x->paddr < y->paddr ? -1 : 1;
	return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static int check_ehdr(const struct loader_file *f, const Elf64_Ehdr *eh, struct cvm_errbuf *err)
{
	const char *path = f->path;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return errf(err, -ENOEXEC, "kernel %s is not an ELF64 file (ELF class %u)", path,
			    eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return errf(err, -ENOEXEC, "kernel %s is not a little-endian ELF file", path);
	if (f->size < sizeof(*eh))
		return errf(err, -ENOEXEC,
			    "kernel %s: ELF header truncated (file is %llu bytes, the header %zu)",
			    path, (unsigned long long)f->size, sizeof(*eh));
	if (eh->e_machine != EM_X86_64)
		return errf(err, -ENOEXEC,
			    "kernel %s is an ELF file for machine %u, not x86_64 (%u)", path,
			    eh->e_machine, EM_X86_64);
	if (eh->e_type != ET_EXEC)
		return errf(err, -ENOEXEC, "kernel %s has ELF type %u, not an executable (ET_EXEC)",
			    path, eh->e_type);
	if (eh->e_phnum == 0)
		return errf(err, -ENOEXEC, "kernel %s has no PT_LOAD segment (no program headers)",
			    path);
	if (eh->e_phnum == PN_XNUM)
		return errf(err, -ENOEXEC,
			    "kernel %s uses extended program header numbering, "
			    "which a kernel never needs",
			    path);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return errf(err, -ENOEXEC, "kernel %s: program header entry size %u, expected %zu",
			    path, eh->e_phentsize, sizeof(Elf64_Phdr));
	return 0;
}

/* Reads the program header table and keeps the PT_LOAD segments with memory. */
static int read_segments(const struct loader_file *f, const Elf64_Ehdr *eh,
			 struct elf_seg **segs_out, unsigned int *nseg_out, struct cvm_errbuf *err)
{
	const char *path = f->path;
	uint64_t tab_size = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	uint64_t tab_end;
	Elf64_Phdr *ph;
	struct elf_seg *segs;
	unsigned int nseg = 0, nload = 0;
	int rc;

	if (!loader_add(eh->e_phoff, tab_size, &tab_end) || tab_end > f->size)
		return errf(err, -ENOEXEC,
			    "kernel %s: program header table (offset %llu, %llu "
			    "bytes) extends past the end of the file (%llu bytes)",
			    path, (unsigned long long)eh->e_phoff, (unsigned long long)tab_size,
			    (unsigned long long)f->size);

	ph = calloc(eh->e_phnum, sizeof(*ph));
	segs = calloc(eh->e_phnum, sizeof(*segs));
	if (!ph || !segs) {
		rc = errf(err, -ENOMEM, "kernel %s: out of memory for %u program headers", path,
			  eh->e_phnum);
		goto fail;
	}
	rc = loader_file_read(f, eh->e_phoff, ph, tab_size, err);
	if (rc)
		goto fail;

	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		uint64_t file_end, mem_end;

		if (p->p_type != PT_LOAD)
			continue;
		nload++;
		if (p->p_filesz > p->p_memsz) {
			rc = errf(err, -ENOEXEC,
				  "kernel %s: segment %u has p_filesz %llu larger "
				  "than p_memsz %llu",
				  path, i, (unsigned long long)p->p_filesz,
				  (unsigned long long)p->p_memsz);
			goto fail;
		}
		if (!loader_add(p->p_offset, p->p_filesz, &file_end) || file_end > f->size) {
			rc = errf(err, -ENOEXEC,
				  "kernel %s: segment %u (offset %llu, %llu bytes) "
				  "extends past the end of the file (%llu bytes)",
				  path, i, (unsigned long long)p->p_offset,
				  (unsigned long long)p->p_filesz, (unsigned long long)f->size);
			goto fail;
		}
		if (!loader_add(p->p_paddr, p->p_memsz, &mem_end)) {
			rc = errf(err, -ENOEXEC,
				  "kernel %s: segment %u at 0x%llx with %llu bytes "
				  "wraps around the address space",
				  path, i, (unsigned long long)p->p_paddr,
				  (unsigned long long)p->p_memsz);
			goto fail;
		}
		if (p->p_memsz == 0)
			continue;
		segs[nseg++] = (struct elf_seg){
			.idx = i,
			.offset = p->p_offset,
			.filesz = p->p_filesz,
			.memsz = p->p_memsz,
			.paddr = p->p_paddr,
			.end = mem_end,
			.flags = p->p_flags,
		};
	}
	if (nseg == 0) {
		rc = errf(err, -ENOEXEC, "kernel %s has no PT_LOAD segment%s", path,
			  nload ? " with a non-zero size" : "");
		goto fail;
	}
	free(ph);
	*segs_out = segs;
	*nseg_out = nseg;
	return 0;
fail:
	free(ph);
	free(segs);
	return rc;
}

/* Segments must not overlap each other, the boot area, the RAM hole or the end of RAM. */
static int check_placement(const struct guest_mem *m, const char *path, struct elf_seg *segs,
			   unsigned int nseg, struct cvm_errbuf *err)
{
	uint64_t top = loader_ram_top(m);

	qsort(segs, nseg, sizeof(*segs), seg_cmp);
	for (unsigned int i = 0; i < nseg; i++) {
		const struct elf_seg *s = &segs[i];

		if (i > 0 && s->paddr < segs[i - 1].end)
			return errf(err, -ENOEXEC,
				    "kernel %s: segments %u [0x%llx, 0x%llx) and %u "
				    "[0x%llx, 0x%llx) overlap",
				    path, segs[i - 1].idx, (unsigned long long)segs[i - 1].paddr,
				    (unsigned long long)segs[i - 1].end, s->idx,
				    (unsigned long long)s->paddr, (unsigned long long)s->end);
		if (s->paddr < X86_HIMEM_START)
			return errf(err, -ENOEXEC,
				    "kernel %s: segment %u [0x%llx, 0x%llx) overlaps "
				    "the boot area below 1 MiB",
				    path, s->idx, (unsigned long long)s->paddr,
				    (unsigned long long)s->end);
		if (s->end > top)
			return errf(err, -EFBIG,
				    "kernel %s: segment %u [0x%llx, 0x%llx) does not "
				    "fit in %llu MiB of RAM",
				    path, s->idx, (unsigned long long)s->paddr,
				    (unsigned long long)s->end,
				    (unsigned long long)(m->total / GMEM_MIB));
		if (!gmem_ptr(m, s->paddr, s->memsz))
			return errf(err, -ENOEXEC,
				    "kernel %s: segment %u [0x%llx, 0x%llx) is not "
				    "all RAM (it reaches into the hole at 3-4 GiB)",
				    path, s->idx, (unsigned long long)s->paddr,
				    (unsigned long long)s->end);
	}
	return 0;
}

/* The entry point must be loaded code: inside the file-backed part of a PF_X segment. */
static bool entry_ok(const struct elf_seg *segs, unsigned int nseg, uint64_t entry)
{
	for (unsigned int i = 0; i < nseg; i++) {
		if (!(segs[i].flags & PF_X))
			continue;
		if (entry >= segs[i].paddr && entry - segs[i].paddr < segs[i].filesz)
			return true;
	}
	return false;
}

static void fill_vmlinux_hdr(struct kernel_image *k)
{
	struct setup_header *h = &k->hdr;

	memset(h, 0, sizeof(*h));
	h->boot_flag = ELF_BOOT_FLAG;
	h->header = ELF_HDR_MAGIC;
	h->version = ELF_BOOT_PROTOCOL;
	h->type_of_loader = 0xff;
	h->loadflags = LOADED_HIGH;
	h->kernel_alignment = ELF_KERNEL_ALIGNMENT;
	h->cmdline_size = ELF_CMDLINE_SIZE;
	h->initrd_addr_max = (uint32_t)X86_INITRD_ADDR_MAX_DEFAULT;
	k->initrd_addr_max = X86_INITRD_ADDR_MAX_DEFAULT;
	k->cmdline_max = ELF_CMDLINE_SIZE;
}

int loader_load_elf(const struct guest_mem *m, const struct loader_file *f, struct kernel_image *k,
		    struct cvm_errbuf *err)
{
	const char *path = f->path;
	Elf64_Ehdr eh;
	struct elf_seg *segs = NULL;
	unsigned int nseg = 0;
	int rc;

	memset(&eh, 0, sizeof(eh));
	if (f->size < EI_NIDENT)
		return errf(err, -ENOEXEC,
			    "kernel %s: ELF header truncated (file is %llu bytes, the header %zu)",
			    path, (unsigned long long)f->size, sizeof(eh));
	rc = loader_file_read(f, 0, &eh, f->size < sizeof(eh) ? f->size : sizeof(eh), err);
	if (rc)
		return rc;
	rc = check_ehdr(f, &eh, err);
	if (rc)
		return rc;
	rc = read_segments(f, &eh, &segs, &nseg, err);
	if (rc)
		return rc;
	rc = check_placement(m, path, segs, nseg, err);
	if (rc)
		goto out;
	if (!entry_ok(segs, nseg, eh.e_entry)) {
		rc = errf(err, -ENOEXEC,
			  "kernel %s: entry point 0x%llx is not inside a loaded executable segment",
			  path, (unsigned long long)eh.e_entry);
		goto out;
	}

	for (unsigned int i = 0; i < nseg; i++) {
		const struct elf_seg *s = &segs[i];
		uint8_t *dst = gmem_ptr(m, s->paddr, s->memsz); /* checked above */

		rc = loader_file_read(f, s->offset, dst, s->filesz, err);
		if (rc)
			goto out;
		/* BSS: fresh guest RAM pages stay unallocated until the guest uses them. */
		gmem_zero(m, s->paddr + s->filesz, s->memsz - s->filesz);
	}

	/* Sorted by address: the first starts lowest; the ends need a max. */
	k->load_start = segs[0].paddr;
	k->load_end = 0;
	for (unsigned int i = 0; i < nseg; i++)
		if (segs[i].end > k->load_end)
			k->load_end = segs[i].end;
	k->entry = eh.e_entry;
	k->is_bzimage = false;
	fill_vmlinux_hdr(k);
out:
	free(segs);
	return rc;
}
