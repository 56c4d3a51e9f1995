// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz target: the virtio-pci transport as a hostile driver drives it
 * through BAR 0: common configuration (features, status, queue registers,
 * DRIVER_OK with rings anywhere), ISR, device configuration, notifications
 * and the MSI-X table. The device behind it is a stand-in that, on every
 * kick, pops and checks every chain of the kicked queue and pushes it back.
 * The transport is made once (an irqfd costs KVM an RCU grace period to
 * take down) and reset by the driver's own means, a write of 0 to the
 * status, before every input; its MSI-X table stays, but MSI-X is never
 * enabled (that is PCI configuration space, not BAR 0), so it is inert.
 *
 * Input: u16 N and N bytes of guest RAM at address 0 (rings, descriptors),
 * then accesses: u8 kind (bit 0 write, bit 1 kick queue (u8) instead,
 * bits 2-3 the access width 1, 2, 4 or 8), u16 offset in the BAR, u64 value.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_util.h"

#define NR_QUEUES 2
#define MAX_OPS 256

static struct virtio_pci vp;
static struct vq_chain chain;
static uint8_t config[16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void f_config_read(void *o, uint32_t off, uint8_t *d, uint32_t len)
{
	(void)o;
	FZ_CHECK(off < sizeof(config) && len <= sizeof(config) - off, "config read %u+%u", off,
		 len);
	memcpy(d, config + off, len);
}

static void f_config_write(void *o, uint32_t off, const uint8_t *d, uint32_t len)
{
	(void)o;
	FZ_CHECK(off < sizeof(config) && len <= sizeof(config) - off, "config write %u+%u", off,
		 len);
	memcpy(config + off, d, len);
}

static int f_notify(void *o, struct virtio_pci *p, unsigned int qi)
{
	struct virtq *q = virtio_pci_queue(p, qi);
	struct cvm_errbuf err;
	int rc;

	(void)o;
	if (!q)
		return 0;
	while ((rc = vq_pop(q, &chain, &err)) == 1) {
		fz_chain_check(q, &chain);
		if (vq_push(q, chain.head, (uint32_t)chain.in_len))
			return -EPROTO;
	}
	if (rc == 0)
		virtio_pci_queue_done(p, qi);
	return rc;
}

static const struct virtio_dev_ops ops = {
	.config_read = f_config_read,
	.config_write = f_config_write,
	.queue_notify = f_notify,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct virtio_pci_config c = {
		.name = "fuzz-virtio",
		.device_id = 4,
		.pci_class = 0x00ff0000,
		.features = 1ULL << 5 | 1ULL << 28 /* INDIRECT_DESC */ | 1ULL << 29 /* EVENT_IDX */,
		.config_len = sizeof(config),
		.nr_queues = NR_QUEUES,
		.queue_max_size = 64,
		.ops = &ops,
	};
	static bool made;
	struct guest_mem *m = fz_mem();
	struct cvm_errbuf err;
	uint8_t zero = 0;
	uint16_t n;

	if (!made) {
		FZ_CHECK(virtio_pci_init(&vp, &c, fz_env(), &err) == 0, "virtio_pci_init: %s",
			 err.msg);
		made = true;
	}
	vp.pci.bars[0].ops->write(vp.pci.bars[0].opaque, VP_COMMON_OFF + 20 /* status */, &zero, 1);
	FZ_CHECK(!vp.live && !vp.status, "the reset did not take");
	memcpy(config, "fuzz-config", sizeof("fuzz-config"));
	memset(m->base, 0, FZ_MEM_SIZE);
	n = fz_u16(&f);
	fz_bytes(&f, m->base, n);

	for (unsigned int i = 0; i < MAX_OPS && f.n; i++) {
		uint8_t kind = fz_u8(&f);
		uint32_t len = 1u << ((kind >> 2) & 3);
		uint64_t off = fz_u16(&f) % (VP_BAR_SIZE - len + 1), v = fz_u64(&f);
		uint8_t buf[8];

		if (kind & 2) {
			/* A kick, as the worker sees it. */
			FZ_CHECK(f_notify(NULL, &vp, (unsigned int)(v % NR_QUEUES)) >= -EPROTO,
				 "notify");
			continue;
		}
		memcpy(buf, &v, sizeof(buf));
		if (kind & 1)
			vp.pci.bars[0].ops->write(vp.pci.bars[0].opaque, off, buf, len);
		else
			vp.pci.bars[0].ops->read(vp.pci.bars[0].opaque, off, buf, len);
		/* The transport's own promises. */
		FZ_CHECK(vp.queue_sel >= NR_QUEUES || vp.q[vp.queue_sel].size <= 64,
			 "queue size %u", vp.q[vp.queue_sel].size);
		for (unsigned int q = 0; q < NR_QUEUES; q++) {
			const struct vp_queue *vq = &vp.q[q];

			FZ_CHECK(vq->msix_vector == 0xffff || vq->msix_vector < vp.msix.nr,
				 "queue %u: MSI-X vector %u of %u", q, vq->msix_vector, vp.msix.nr);
			/*
			 * A queue enabled after DRIVER_OK (against the spec) has no
			 * ring: using it fails, and the worker marks the device broken.
			 */
			if (vp.live && vq->enable && vq->vq.size)
				FZ_CHECK(vq->vq.size == vq->size && vq->vq.mem == m,
					 "queue %u: ring of %u entries, queue size %u", q,
					 vq->vq.size, vq->size);
			else if (vp.live && vq->enable)
				FZ_CHECK(vq_pop(&vp.q[q].vq, &chain, &err) == -EPROTO,
					 "a queue without a ring pops");
		}
	}
	return 0;
}
