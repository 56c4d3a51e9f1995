// SPDX-License-Identifier: BSD-3-Clause
/*
 * bzImage loader (Documentation/arch/x86/boot.rst): the real-mode setup
 * sectors are only read for their setup header; the protected-mode part goes
 * to 1 MiB and the VMM enters it at its 64-bit entry point, +0x200.
 *
 * The image is always loaded at 1 MiB, like a classic boot loader does, and
 * not at pref_address: the decompressor moves itself to
 * max(align_up(load address, kernel_alignment), LOAD_PHYSICAL_ADDR) for a
 * relocatable kernel, or to LOAD_PHYSICAL_ADDR (= pref_address) otherwise,
 * and needs init_size bytes there. load_end covers that area too (protocol
 * 2.10+), so that the initrd is never placed where the kernel decompresses.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "loader/loader_internal.h"

#define BZ_HDR_OFF 0x1f1      /* struct setup_header in the file and in boot_params */
#define BZ_JUMP_OFF 0x201     /* the byte after the short jump at 0x200 */
#define BZ_HDR_END_BASE 0x202 /* the header ends at 0x202 + the byte at 0x201 */
#define BZ_SECTOR 512
#define BZ_DEFAULT_SETUP_SECTS 4
#define BZ_MIN_PROTOCOL 0x0206
#define BZ_PROTOCOL_PREF_ADDRESS 0x020a /* pref_address and init_size exist from 2.10 */
#define BZ_ENTRY64_OFF 0x200
#define BZ_HEAP_END 0xfe00

/* Copies the setup header bytes the file has into k->hdr, the rest stays zero. */
static int copy_setup_header(const struct loader_file *f, struct kernel_image *k,
			     struct cvm_errbuf *err)
{
	uint8_t jump;
	uint64_t len;
	int rc;

	rc = loader_file_read(f, BZ_JUMP_OFF, &jump, 1, err);
	if (rc)
		return rc;
	len = BZ_HDR_END_BASE + (uint64_t)jump - BZ_HDR_OFF;
	if (len > sizeof(k->hdr))
		len = sizeof(k->hdr);
	/* The caller checked that the setup sectors, and so the header, are in the file. */
	memset(&k->hdr, 0, sizeof(k->hdr));
	return loader_file_read(f, BZ_HDR_OFF, &k->hdr, len, err);
}

/*
 * Where the decompressor will run: the area [*run, *run_end) that it needs,
 * per arch/x86/boot/compressed/head_64.S. Only known from protocol 2.10 on.
 */
static int decompress_area(const struct guest_mem *m, const char *path,
			   const struct setup_header *h, uint64_t *run_end, struct cvm_errbuf *err)
{
	uint64_t align = h->kernel_alignment;
	uint64_t run = h->pref_address;

	*run_end = 0;
	if (h->version < BZ_PROTOCOL_PREF_ADDRESS)
		return 0;
	if (h->relocatable_kernel && align && !(align & (align - 1))) {
		/* align <= 2^31, so this cannot wrap. */
		uint64_t aligned = (X86_HIMEM_START + align - 1) & ~(align - 1);

		if (aligned >= run)
			run = aligned;
	}
	if (!loader_add(run, h->init_size, run_end) || *run_end > gmem_low_end(m))
		return errf(err, -EFBIG,
			    "kernel %s needs [0x%llx, 0x%llx) to decompress itself "
			    "(init_size %u), which does not fit in %llu MiB of RAM",
			    path, (unsigned long long)run, (unsigned long long)run + h->init_size,
			    h->init_size, (unsigned long long)(m->total / GMEM_MIB));
	return 0;
}

int loader_load_bzimage(const struct guest_mem *m, const struct loader_file *f,
			struct kernel_image *k, struct cvm_errbuf *err)
{
	const char *path = f->path;
	struct setup_header *h = &k->hdr;
	uint8_t setup_sects;
	uint64_t setup_size, payload_size, payload_end, run_end, sys_bytes;
	uint8_t *dst;
	int rc;

	rc = loader_file_read(f, BZ_HDR_OFF, &setup_sects, 1, err);
	if (rc)
		return rc;
	if (setup_sects == 0)
		setup_sects = BZ_DEFAULT_SETUP_SECTS;
	setup_size = ((uint64_t)setup_sects + 1) * BZ_SECTOR;
	if (f->size < setup_size)
		return errf(err, -ENOEXEC,
			    "kernel %s: bzImage truncated: the setup code is %llu "
			    "bytes but the file has only %llu",
			    path, (unsigned long long)setup_size, (unsigned long long)f->size);

	rc = copy_setup_header(f, k, err);
	if (rc)
		return rc;
	if (h->version < BZ_MIN_PROTOCOL)
		return errf(err, -ENOEXEC,
			    "kernel %s: boot protocol %u.%02u is too old "
			    "(%u.%02u or newer is needed)",
			    path, h->version >> 8, h->version & 0xff, BZ_MIN_PROTOCOL >> 8,
			    BZ_MIN_PROTOCOL & 0xff);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return errf(err, -ENOEXEC,
			    "kernel %s has no 64-bit entry point (XLF_KERNEL_64 is "
			    "not set in xloadflags 0x%x)",
			    path, h->xloadflags);
	if (!(h->loadflags & LOADED_HIGH))
		return errf(err, -ENOEXEC,
			    "kernel %s is a zImage (LOADED_HIGH not set), which "
			    "cannot be loaded at 1 MiB",
			    path);

	payload_size = f->size - setup_size;
	if (payload_size <= BZ_ENTRY64_OFF)
		return errf(err, -ENOEXEC,
			    "kernel %s: bzImage truncated: %llu bytes of "
			    "protected-mode code after the %u setup sectors cannot hold the 64-bit "
			    "entry at +0x%x",
			    path, (unsigned long long)payload_size, setup_sects, BZ_ENTRY64_OFF);
	/* syssize counts 16-byte paragraphs; the file may be padded, not short. */
	sys_bytes = (uint64_t)h->syssize * 16;
	if (sys_bytes > ((payload_size + 15) & ~15ULL))
		return errf(err, -ENOEXEC,
			    "kernel %s: bzImage truncated: syssize says %llu bytes "
			    "of protected-mode code but the file has only %llu",
			    path, (unsigned long long)sys_bytes, (unsigned long long)payload_size);
	if (!loader_add(X86_HIMEM_START, payload_size, &payload_end) ||
	    !(dst = gmem_ptr(m, X86_HIMEM_START, payload_size)))
		return errf(err, -EFBIG,
			    "kernel %s: the protected-mode part (%llu bytes at 1 MiB) "
			    "does not fit in %llu MiB of RAM",
			    path, (unsigned long long)payload_size,
			    (unsigned long long)(m->total / GMEM_MIB));
	rc = decompress_area(m, path, h, &run_end, err);
	if (rc)
		return rc;

	rc = loader_file_read(f, setup_size, dst, payload_size, err);
	if (rc)
		return rc;

	h->type_of_loader = 0xff;
	h->loadflags |= CAN_USE_HEAP;
	h->heap_end_ptr = BZ_HEAP_END;

	k->is_bzimage = true;
	k->entry = X86_HIMEM_START + BZ_ENTRY64_OFF;
	k->load_start = X86_HIMEM_START;
	k->load_end = payload_end > run_end ? payload_end : run_end;
	k->initrd_addr_max = h->initrd_addr_max ? h->initrd_addr_max : X86_INITRD_ADDR_MAX_DEFAULT;
	k->cmdline_max = h->cmdline_size < X86_CMDLINE_MAX - 1 ? h->cmdline_size :
								 (uint32_t)(X86_CMDLINE_MAX - 1);
	return 0;
}
