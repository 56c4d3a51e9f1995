/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers shared by the libFuzzer targets (see docs/fuzzing.md): a reader
 * over the fuzz input, a quiet logger, a small guest memory, and a split
 * virtqueue whose rings, descriptors and buffers are bytes of the input.
 */
#ifndef CVM_TESTS_FUZZ_FUZZ_UTIL_H
#define CVM_TESTS_FUZZ_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/irq.h"
#include "core/mem.h"
#include "util/log.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtqueue.h"

/* An invariant the code under test broke: report and abort (a crash for libFuzzer). */
#define FZ_CHECK(cond, ...)                                              \
	do {                                                             \
		if (!(cond))                                             \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)
void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/* Reads the input front to back; past its end every read gives zeroes. */
struct fz {
	const uint8_t *p;
	size_t n;
};

uint8_t fz_u8(struct fz *f);
uint16_t fz_u16(struct fz *f);
uint32_t fz_u32(struct fz *f);
uint64_t fz_u64(struct fz *f);
/* Copies up to @len bytes to @dst (zero-filled past the end); returns how many were input. */
size_t fz_bytes(struct fz *f, void *dst, size_t len);

/* A logger that formats every message, debug ones too, and prints none. */
extern const struct cvm_logger fz_log;

/*
 * fz_guard() - inaccessible pages right below and above [@base, +@size)
 * where the address space is free there: ASan does not watch mmap()ed guest
 * RAM, so an access just outside it should at least fault.
 */
void fz_guard(const void *base, size_t size);

/* Guest RAM of FZ_MEM_SIZE bytes, made once per process and zeroed by fz_vq_build(). */
#define FZ_MEM_SIZE (1ULL * GMEM_MIB)
struct guest_mem *fz_mem(void);

/*
 * A virtio_env over fz_mem() for devices: a KVM VM with an in-kernel
 * irqchip (MSI-X vectors need irqfds) that never runs. Needs /dev/kvm.
 */
const struct virtio_env *fz_env(void);

/*
 * Where fz_vq_build() puts the rings: descriptors, avail and used ring of
 * a queue of up to FZ_VQ_MAX entries, then the data area (buffers,
 * indirect tables), all at offsets from a base (0 for fz_vq_build()).
 */
#define FZ_VQ_MAX 128u
#define FZ_DESC 0x1000ULL
#define FZ_AVAIL 0x2000ULL
#define FZ_USED 0x3000ULL
#define FZ_DATA 0x4000ULL
/* The base of a second queue (fz_vq_build_at()), half-way up fz_mem(). */
#define FZ_VQ2 0x80000ULL

/* The flags byte of the ring header. */
#define FZ_VQ_EVENT_IDX 0x01
#define FZ_VQ_INDIRECT 0x02

/*
 * fz_vq_build() - zero fz_mem() and lay out a queue from @f:
 *   u8  log2 of the queue size (mod 8: 1..128 entries)
 *   u8  flags (FZ_VQ_*)
 *   u16 the index both sides start at (last_avail, used_idx, used->idx)
 *   u16 avail->idx, u16 avail->flags
 *   u16 avail->ring[size], u16 used_event
 *   u8[16] descriptor table[size]
 *   u16 data length N, then N bytes at FZ_DATA
 * and vq_init() it. Returns 0, or -1 when vq_init() refuses (a harness bug).
 * Descriptors hold guest-physical addresses: FZ_DATA + x is the data area.
 */
int fz_vq_build(struct virtq *q, struct fz *f);
/* The same without zeroing, with every address above offset by @base. */
int fz_vq_build_at(struct virtq *q, struct fz *f, uint64_t base);

/*
 * fz_chain_check() - the invariants of a chain vq_pop() returned: buffers
 * inside guest RAM at their host address, readable before writable,
 * totals that add up, vq_copy_*() and vq_iov() consistent with the buffers.
 * Writes to the writable buffers (a pattern); reads the readable ones.
 */
void fz_chain_check(const struct virtq *q, const struct vq_chain *c);

#endif
