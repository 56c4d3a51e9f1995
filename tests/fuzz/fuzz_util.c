// SPDX-License-Identifier: BSD-3-Clause
/* Helpers shared by the libFuzzer targets. */
#include "fuzz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: invariant broken: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

size_t fz_bytes(struct fz *f, void *dst, size_t len)
{
	size_t n = len < f->n ? len : f->n;

	memcpy(dst, f->p, n);
	memset((uint8_t *)dst + n, 0, len - n);
	f->p += n;
	f->n -= n;
	return n;
}

uint8_t fz_u8(struct fz *f)
{
	uint8_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

uint16_t fz_u16(struct fz *f)
{
	uint16_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

uint32_t fz_u32(struct fz *f)
{
	uint32_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

uint64_t fz_u64(struct fz *f)
{
	uint64_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

static char fz_sink[1024];

static void fz_log_fn(void *opaque, enum cvm_log_level level, const char *msg)
{
	(void)opaque;
	(void)level;
	/* Touch the whole message, so that ASan sees a bad one. */
	snprintf(fz_sink, sizeof(fz_sink), "%s", msg);
}

const struct cvm_logger fz_log = { .level = CVM_LOG_DEBUG, .fn = fz_log_fn };

void fz_guard(const void *base, size_t size)
{
	const size_t page = 4096;
	uint8_t *lo = (uint8_t *)base - page, *hi = (uint8_t *)base + size;
	void *a =
		mmap(lo, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	void *b =
		mmap(hi, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	/* Taken already (by a neighbour mapping): then that side has no guard. */
	if (a != lo && a != MAP_FAILED)
		munmap(a, page);
	if (b != hi && b != MAP_FAILED)
		munmap(b, page);
}

struct guest_mem *fz_mem(void)
{
	static struct guest_mem m;
	static bool made;
	struct cvm_errbuf err;

	if (!made) {
		if (gmem_create(&m, FZ_MEM_SIZE, &err))
			fz_fail(__FILE__, __LINE__, "gmem_create", "%s", err.msg);
		fz_guard(m.base, FZ_MEM_SIZE);
		made = true;
	}
	return &m;
}

const struct virtio_env *fz_env(void)
{
	static struct irq_router router;
	static struct virtio_env env;

	if (!env.mem) {
		int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

		FZ_CHECK(kvm >= 0, "/dev/kvm: %s", strerror(errno));
		vm = ioctl(kvm, KVM_CREATE_VM, 0);
		close(kvm);
		FZ_CHECK(vm >= 0, "KVM_CREATE_VM: %s", strerror(errno));
		FZ_CHECK(ioctl(vm, KVM_CREATE_IRQCHIP, 0) == 0, "KVM_CREATE_IRQCHIP: %s",
			 strerror(errno));
		irq_router_init(&router, vm);
		env = (struct virtio_env){
			.mem = fz_mem(), .log = &fz_log, .vm_fd = vm, .router = &router
		};
	}
	return &env;
}

static void put16(struct guest_mem *m, uint64_t gpa, uint16_t v)
{
	memcpy(gmem_ptr(m, gpa, 2), &v, 2);
}

int fz_vq_build_at(struct virtq *q, struct fz *f, uint64_t base)
{
	struct guest_mem *m = fz_mem();
	uint16_t size = (uint16_t)(1u << (fz_u8(f) % 8));
	uint8_t flags = fz_u8(f);
	uint16_t start = fz_u16(f), n;
	struct cvm_errbuf err;

	put16(m, base + FZ_AVAIL + 2, fz_u16(f));
	put16(m, base + FZ_AVAIL, fz_u16(f));
	fz_bytes(f, gmem_ptr(m, base + FZ_AVAIL + 4, 2ULL * size + 2), 2ULL * size + 2);
	fz_bytes(f, gmem_ptr(m, base + FZ_DESC, 16ULL * size), 16ULL * size);
	n = fz_u16(f);
	fz_bytes(f, gmem_ptr(m, base + FZ_DATA, n), n);
	put16(m, base + FZ_USED + 2, start);
	if (vq_init(q, m, size, base + FZ_DESC, base + FZ_AVAIL, base + FZ_USED,
		    flags & FZ_VQ_EVENT_IDX, flags & FZ_VQ_INDIRECT, &err))
		return -1;
	q->last_avail = start;
	q->used_idx = start;
	return 0;
}

int fz_vq_build(struct virtq *q, struct fz *f)
{
	memset(fz_mem()->base, 0, FZ_MEM_SIZE);
	return fz_vq_build_at(q, f, 0);
}

void fz_chain_check(const struct virtq *q, const struct vq_chain *c)
{
	static uint8_t buf[2 * 65536];
	struct iovec iov[VQ_MAX_BUFS];
	uint64_t out = 0, in = 0, n, sum;
	int cnt;

	FZ_CHECK(c->head < q->size, "head %u, size %u", c->head, q->size);
	FZ_CHECK(c->nr >= 1 && c->nr <= VQ_MAX_BUFS, "nr %u", c->nr);
	FZ_CHECK(c->nr_out <= c->nr, "nr_out %u > nr %u", c->nr_out, c->nr);
	for (unsigned int i = 0; i < c->nr; i++) {
		const struct vq_buf *b = &c->bufs[i];

		FZ_CHECK(b->len > 0, "buffer %u is empty", i);
		FZ_CHECK(b->host && b->host == gmem_ptr(q->mem, b->gpa, b->len),
			 "buffer %u [0x%llx, +0x%x) has a bad host address", i,
			 (unsigned long long)b->gpa, b->len);
		FZ_CHECK(b->write == (i >= c->nr_out), "buffer %u: write %d, nr_out %u", i,
			 b->write, c->nr_out);
		if (b->write)
			in += b->len;
		else
			out += b->len;
	}
	FZ_CHECK(out == c->out_len && in == c->in_len, "totals %llu/%llu, want %llu/%llu",
		 (unsigned long long)c->out_len, (unsigned long long)c->in_len,
		 (unsigned long long)out, (unsigned long long)in);

	/* The readable stream through vq_copy_from() and through vq_iov() is the same. */
	for (unsigned int k = 0; k < 2; k++) {
		bool rd = k == 0;
		uint64_t total = rd ? out : in, off = total / 3, len = total - off + 7;

		if (len > sizeof(buf))
			len = sizeof(buf);
		cnt = vq_iov(c, rd, off, len, iov, VQ_MAX_BUFS);
		FZ_CHECK(cnt >= 0 && cnt <= (int)VQ_MAX_BUFS, "vq_iov: %d", cnt);
		sum = 0;
		for (int i = 0; i < cnt; i++) {
			FZ_CHECK(gmem_ptr(q->mem,
					  (uint64_t)((uint8_t *)iov[i].iov_base - q->mem->base),
					  iov[i].iov_len) == iov[i].iov_base,
				 "iov %d is outside guest RAM", i);
			sum += iov[i].iov_len;
		}
		FZ_CHECK(sum == (total - off < len ? total - off : len),
			 "vq_iov gave %llu bytes of [%llu, +%llu) of a %llu-byte stream",
			 (unsigned long long)sum, (unsigned long long)off, (unsigned long long)len,
			 (unsigned long long)total);
		if (rd) {
			n = vq_copy_from(c, off, buf, len);
			FZ_CHECK(n == sum, "vq_copy_from %llu, vq_iov %llu", (unsigned long long)n,
				 (unsigned long long)sum);
			for (int i = 0, pos = 0; i < cnt; pos += (int)iov[i].iov_len, i++)
				FZ_CHECK(!memcmp(buf + pos, iov[i].iov_base, iov[i].iov_len),
					 "vq_copy_from and vq_iov differ in iov %d", i);
		} else {
			for (uint64_t i = 0; i < len; i++)
				buf[i] = (uint8_t)(i * 7 + 1);
			n = vq_copy_to(c, off, buf, len);
			FZ_CHECK(n == sum, "vq_copy_to %llu, vq_iov %llu", (unsigned long long)n,
				 (unsigned long long)sum);
		}
	}
	/* Past the end: nothing. */
	FZ_CHECK(vq_copy_from(c, out, buf, 1) == 0, "vq_copy_from past the end");
	FZ_CHECK(vq_copy_to(c, in, buf, 1) == 0, "vq_copy_to past the end");
}
