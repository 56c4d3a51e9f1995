// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz target: the kernel loaders (ELF64 vmlinux and bzImage) and the
 * initrd loader. The input is the kernel file (a memfd, opened by path as
 * loader_load_kernel() opens any file), loaded into 32 MiB of guest RAM;
 * what loads is then also placed as an initrd after itself.
 *
 * Invariants: the result is 0 or one of the documented errors; on success
 * the kernel lies inside guest RAM and the entry point is in RAM; on
 * failure the kernel_image is all zero.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "loader/loader.h"

#define RAM (32ULL * GMEM_MIB)

static struct guest_mem ram;
static int memfd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvm_errbuf err = { "" };
	struct kernel_image k;
	uint64_t addr, len;
	int rc;

	if (memfd < 0) {
		FZ_CHECK(gmem_create(&ram, RAM, &err) == 0, "gmem_create: %s", err.msg);
		fz_guard(ram.base, RAM);
		memfd = memfd_create("fuzz-kernel", MFD_CLOEXEC);
		FZ_CHECK(memfd >= 0, "memfd_create");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	FZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
	FZ_CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite");

	rc = loader_load_kernel(&ram, path, &k, &err);
	FZ_CHECK(rc == 0 || rc == -ENOEXEC || rc == -EFBIG, "loader_load_kernel: %d (%s)", rc,
		 err.msg);
	if (rc && getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_loader: %s\n", err.msg);
	if (rc) {
		FZ_CHECK(err.msg[0], "error %d without a message", rc);
		FZ_CHECK(all_zero(&k, sizeof(k)), "a failed load left a kernel_image");
		return 0;
	}
	FZ_CHECK(k.load_start < k.load_end && k.load_end <= RAM, "kernel at [0x%llx, 0x%llx)",
		 (unsigned long long)k.load_start, (unsigned long long)k.load_end);
	FZ_CHECK(gmem_ptr(&ram, k.entry, 1), "entry 0x%llx is not in RAM",
		 (unsigned long long)k.entry);

	rc = loader_load_initrd(&ram, path, &k, &addr, &len, &err);
	FZ_CHECK(rc == 0 || rc == -EFBIG, "loader_load_initrd: %d (%s)", rc, err.msg);
	if (!rc && len) {
		FZ_CHECK(len == size && gmem_ptr(&ram, addr, len), "initrd [0x%llx, +0x%llx)",
			 (unsigned long long)addr, (unsigned long long)len);
		FZ_CHECK(addr >= k.load_end && addr % 4096 == 0 &&
				 addr + len - 1 <= k.initrd_addr_max,
			 "initrd at 0x%llx overlaps the kernel or is above its limit",
			 (unsigned long long)addr);
		FZ_CHECK(!memcmp(gmem_ptr(&ram, addr, len), data, len), "the initrd differs");
	}
	return 0;
}
