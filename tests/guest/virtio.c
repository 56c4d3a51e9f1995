// SPDX-License-Identifier: BSD-3-Clause
/*
 * A polled virtio-pci *modern* driver (virtio 1.x, 4.1), following the steps
 * of Linux's virtio_pci_modern: capabilities -> BARs, reset, ACKNOWLEDGE,
 * DRIVER, features, FEATURES_OK, queues, DRIVER_OK; split rings in static
 * memory; notifications by a 16-bit write to the notify region; completions
 * by polling used->idx, or by MSI-X when a test asks for it.
 */
#include "hw.h"

#include <stddef.h>

char virtio_err[256];

__attribute__((format(printf, 1, 2))) static int verr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(virtio_err, sizeof(virtio_err), fmt, ap);
	va_end(ap);
	return -1;
}

#define ERR(...) verr(__VA_ARGS__)

#define CC(f) offsetof(struct virtio_pci_common_cfg, f)

/* Ring pages: one 4 KiB page per queue, handed out in order. */
#define RING_PAGES 32
#define RING_AVAIL_OFF 256
#define RING_USED_OFF 512
#define RING_INDIRECT_OFF 1024
#define RING_SCRATCH_OFF 2048

static uint8_t ring_pages[RING_PAGES][4096] __attribute__((aligned(4096)));
static unsigned int ring_next;

/* Bounded polls of used->idx (each an emulated pause: about 1-2 us). */
#define VQ_POLL_MAX 3000000UL
#define STATUS_POLL_MAX 10000

static uint8_t c8(struct vdev *d, size_t off)
{
	return mmio_read8(d->common + off);
}

static uint16_t c16(struct vdev *d, size_t off)
{
	return mmio_read16(d->common + off);
}

static uint32_t c32(struct vdev *d, size_t off)
{
	return mmio_read32(d->common + off);
}

static void w8(struct vdev *d, size_t off, uint8_t v)
{
	mmio_write8(d->common + off, v);
}

static void w16(struct vdev *d, size_t off, uint16_t v)
{
	mmio_write16(d->common + off, v);
}

static void w32(struct vdev *d, size_t off, uint32_t v)
{
	mmio_write32(d->common + off, v);
}

/* Linux's vp_iowrite64_twopart(): low half first. */
static void w64(struct vdev *d, size_t lo, size_t hi, uint64_t v)
{
	w32(d, lo, (uint32_t)v);
	w32(d, hi, (uint32_t)(v >> 32));
}

static int map_cap(struct vdev *d, uint8_t bar, uint32_t off, uint32_t len, uintptr_t *out,
		   const char *what)
{
	char why[128];
	uint64_t base = pci_bar_addr(d->bdf, bar, why, sizeof(why));

	if (!base)
		return ERR("%02x:%02x.%x %s capability: %s", d->bdf >> 8, (d->bdf >> 3) & 31,
			   d->bdf & 7, what, why);
	if (base + off + len > 0x100000000ULL || base + off + len < base)
		return ERR("%02x:%02x.%x %s capability: BAR%u at 0x%llx + 0x%x (len 0x%x) is "
			   "above 4 GiB, which this guest does not map",
			   d->bdf >> 8, (d->bdf >> 3) & 31, d->bdf & 7, what, bar,
			   (unsigned long long)base, off, len);
	*out = (uintptr_t)(base + off);
	return 0;
}

int vdev_probe(struct vdev *d, uint32_t bdf)
{
	static const char *const names[] = { "?", "COMMON", "NOTIFY", "ISR", "DEVICE" };
	uint16_t cmd, status;
	unsigned int ptr, n = 0;

	memset(d, 0, sizeof(*d));
	d->bdf = bdf;
	d->device_id = pci_read16(bdf, 0x02);
	cmd = pci_read16(bdf, 0x04);
	pci_write16(bdf, 0x04, cmd | 0x6); /* memory space, bus master */
	status = pci_read16(bdf, 0x06);
	if (!(status & 0x10))
		return ERR("%02x.%x: status 0x%04x has no capabilities list", (bdf >> 3) & 31,
			   bdf & 7, status);
	ptr = pci_read8(bdf, 0x34) & 0xfc;
	while (ptr && n++ < 48) {
		uint32_t h = pci_read32(bdf, ptr);
		uint8_t id = (uint8_t)h, next = (uint8_t)(h >> 8), clen = (uint8_t)(h >> 16);

		if (id == 0x09 && clen >= 16) { /* vendor: virtio_pci_cap */
			uint8_t type = (uint8_t)(h >> 24);
			uint8_t bar = (uint8_t)pci_read32(bdf, ptr + 4);
			uint32_t off = pci_read32(bdf, ptr + 8), len = pci_read32(bdf, ptr + 12);
			uintptr_t *dst = NULL;

			switch (type) {
			case VIRTIO_PCI_CAP_COMMON_CFG:
				dst = &d->common;
				if (len < sizeof(struct virtio_pci_common_cfg))
					return ERR("COMMON capability of %u bytes", len);
				break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				dst = &d->notify_base;
				break;
			case VIRTIO_PCI_CAP_ISR_CFG:
				dst = &d->isr;
				break;
			case VIRTIO_PCI_CAP_DEVICE_CFG:
				dst = &d->devcfg;
				break;
			}
			/* The first capability of each type is the one to use (4.1.4). */
			if (dst && !*dst) {
				if (map_cap(d, bar, off, len, dst, names[type]))
					return -1;
				if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
					if (clen < 20)
						return ERR("NOTIFY capability of %u bytes", clen);
					d->notify_mult = pci_read32(bdf, ptr + 16);
					d->notify_len = len;
				}
				if (type == VIRTIO_PCI_CAP_DEVICE_CFG)
					d->devcfg_len = len;
			}
		} else if (id == 0x11 && !d->msix_cap) { /* MSI-X */
			uint32_t tbl = pci_read32(bdf, ptr + 4);
			char why[128];
			uint64_t base = pci_bar_addr(bdf, tbl & 7, why, sizeof(why));

			d->msix_cap = (uint8_t)ptr;
			d->msix_size = (uint16_t)((h >> 16 & 0x7ff) + 1);
			if (base && base + (tbl & ~7u) + 16u * d->msix_size <= 0x100000000ULL)
				d->msix_table = (uintptr_t)(base + (tbl & ~7u));
		}
		ptr = next & 0xfc;
	}
	if (!d->common)
		return ERR("no COMMON_CFG capability");
	if (!d->notify_base)
		return ERR("no NOTIFY_CFG capability");
	if (!d->isr)
		return ERR("no ISR_CFG capability");
	/* DEVICE_CFG is optional: a device without configuration (rng) has none. */
	return 0;
}

uint8_t vdev_status(struct vdev *d)
{
	return c8(d, CC(device_status));
}

void vdev_reset(struct vdev *d)
{
	w8(d, CC(device_status), 0);
}

static int set_status(struct vdev *d, uint8_t bits)
{
	uint8_t s = vdev_status(d);

	w8(d, CC(device_status), s | bits);
	return 0;
}

int vdev_negotiate(struct vdev *d, uint64_t want, uint64_t need)
{
	uint32_t lo, hi;
	int i;
	uint8_t s;

	need |= 1ULL << VIRTIO_F_VERSION_1;
	vdev_reset(d);
	for (i = 0; i < STATUS_POLL_MAX && vdev_status(d); i++)
		cpu_relax();
	if (i == STATUS_POLL_MAX)
		return ERR("device_status still 0x%02x after the reset", vdev_status(d));
	set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(d, VIRTIO_CONFIG_S_DRIVER);
	w32(d, CC(device_feature_select), 0);
	lo = c32(d, CC(device_feature));
	w32(d, CC(device_feature_select), 1);
	hi = c32(d, CC(device_feature));
	d->dev_features = (uint64_t)hi << 32 | lo;
	if ((d->dev_features & need) != need)
		return ERR("device features 0x%llx lack 0x%llx",
			   (unsigned long long)d->dev_features,
			   (unsigned long long)(need & ~d->dev_features));
	d->features = (want | need) & d->dev_features;
	w32(d, CC(guest_feature_select), 0);
	w32(d, CC(guest_feature), (uint32_t)d->features);
	w32(d, CC(guest_feature_select), 1);
	w32(d, CC(guest_feature), (uint32_t)(d->features >> 32));
	set_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	s = vdev_status(d);
	if (!(s & VIRTIO_CONFIG_S_FEATURES_OK))
		return ERR("device cleared FEATURES_OK (status 0x%02x) for features 0x%llx", s,
			   (unsigned long long)d->features);
	w16(d, CC(msix_config), VIRTIO_MSI_NO_VECTOR);
	d->num_queues = c16(d, CC(num_queues));
	return 0;
}

int vdev_msix_enable(struct vdev *d, unsigned int entry, uint8_t vector)
{
	uint16_t ctrl, cmd;
	uintptr_t e;

	if (!d->msix_cap)
		return ERR("no MSI-X capability");
	if (!d->msix_table)
		return ERR("MSI-X table not in a mapped memory BAR");
	if (entry >= d->msix_size)
		return ERR("MSI-X entry %u of a %u-entry table", entry, d->msix_size);
	ctrl = pci_read16(d->bdf, d->msix_cap + 2);
	/* Enabled but function-masked while the entry is written, as Linux does. */
	pci_write16(d->bdf, d->msix_cap + 2, ctrl | 0xc000);
	e = d->msix_table + 16 * entry;
	mmio_write32(e + 0, 0xfee00000u); /* destination APIC id 0, physical */
	mmio_write32(e + 4, 0);
	mmio_write32(e + 8, vector); /* fixed, edge */
	mmio_write32(e + 12, 0);     /* unmasked */
	pci_write16(d->bdf, d->msix_cap + 2, (uint16_t)((ctrl | 0x8000) & ~0x4000));
	cmd = pci_read16(d->bdf, 0x04);
	pci_write16(d->bdf, 0x04, cmd | 0x400); /* INTx off */
	return 0;
}

uint16_t vdev_queue_size(struct vdev *d, unsigned int index, uint16_t max)
{
	uint16_t size, n;

	w16(d, CC(queue_select), (uint16_t)index);
	size = c16(d, CC(queue_size));
	n = size < max ? size : max;
	while (n & (n - 1))
		n &= (uint16_t)(n - 1);
	if (n && n != size)
		w16(d, CC(queue_size), n);
	return n;
}

int vdev_queue_program(struct vdev *d, unsigned int index, const void *desc, const void *avail,
		       const void *used, uint16_t msix, uintptr_t *notify)
{
	uint16_t off;

	w16(d, CC(queue_select), (uint16_t)index);
	w64(d, CC(queue_desc_lo), CC(queue_desc_hi), (uintptr_t)desc);
	w64(d, CC(queue_avail_lo), CC(queue_avail_hi), (uintptr_t)avail);
	w64(d, CC(queue_used_lo), CC(queue_used_hi), (uintptr_t)used);
	w16(d, CC(queue_msix_vector), msix);
	if (msix != VIRTIO_MSI_NO_VECTOR) {
		uint16_t got = c16(d, CC(queue_msix_vector));

		if (got != msix)
			return ERR("queue %u: queue_msix_vector reads 0x%04x after writing %u "
				   "(the device refused the vector)",
				   index, got, msix);
	}
	off = c16(d, CC(queue_notify_off));
	if ((uint64_t)off * d->notify_mult + 2 > d->notify_len)
		return ERR("queue %u: notify offset %u * multiplier %u is outside the %u-byte "
			   "notify region",
			   index, off, d->notify_mult, d->notify_len);
	*notify = d->notify_base + (uintptr_t)off * d->notify_mult;
	return 0;
}

int vdev_setup_vq(struct vdev *d, unsigned int index, uint16_t msix)
{
	struct vq *q;
	uint16_t n;
	uint8_t *page;

	if (index >= VDEV_MAX_VQ || d->nvqs != index)
		return ERR("queue %u set up out of order", index);
	if (ring_next >= RING_PAGES)
		return ERR("out of ring pages");
	w16(d, CC(queue_select), (uint16_t)index);
	if (!c16(d, CC(queue_size)))
		return ERR("queue %u: queue_size 0 (no such queue)", index);
	if (c16(d, CC(queue_enable)))
		return ERR("queue %u: already enabled after reset", index);
	n = vdev_queue_size(d, index, VQ_RING);

	page = ring_pages[ring_next++];
	memset(page, 0, 4096);
	q = &d->vqs[index];
	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = (uint16_t)index;
	q->size = n;
	q->desc = (struct vring_desc *)page;
	q->avail = (struct vring_avail *)(page + RING_AVAIL_OFF);
	q->used = (struct vring_used *)(page + RING_USED_OFF);
	q->indirect = (struct vring_desc *)(page + RING_INDIRECT_OFF);
	q->scratch = page + RING_SCRATCH_OFF;
	if (vdev_queue_program(d, index, q->desc, q->avail, q->used, msix, &q->notify))
		return -1;
	q->msix_vector = msix;
	w16(d, CC(queue_enable), 1);
	d->nvqs++;
	return 0;
}

int vdev_driver_ok(struct vdev *d)
{
	uint8_t s;

	set_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
	s = vdev_status(d);
	if ((s & (VIRTIO_CONFIG_S_FAILED | VIRTIO_CONFIG_S_NEEDS_RESET)) ||
	    !(s & VIRTIO_CONFIG_S_DRIVER_OK))
		return ERR("device status 0x%02x after DRIVER_OK", s);
	return 0;
}

/* Device configuration space, with the config_generation loop of 4.1.4.3. */
#define CFG_READ(width, off)                                                  \
	({                                                                    \
		uint##width##_t v__;                                          \
		uint8_t g__;                                                  \
		int n__ = 0;                                                  \
		do {                                                          \
			g__ = c8(d, CC(config_generation));                   \
			v__ = mmio_read##width(d->devcfg + (off));            \
		} while (g__ != c8(d, CC(config_generation)) && ++n__ < 100); \
		v__;                                                          \
	})

uint8_t vdev_cfg8(struct vdev *d, unsigned int off)
{
	return CFG_READ(8, off);
}

uint16_t vdev_cfg16(struct vdev *d, unsigned int off)
{
	return CFG_READ(16, off);
}

uint32_t vdev_cfg32(struct vdev *d, unsigned int off)
{
	return CFG_READ(32, off);
}

uint64_t vdev_cfg64(struct vdev *d, unsigned int off)
{
	uint32_t lo, hi;
	uint8_t g;
	int n = 0;

	do {
		g = c8(d, CC(config_generation));
		lo = mmio_read32(d->devcfg + off);
		hi = mmio_read32(d->devcfg + off + 4);
	} while (g != c8(d, CC(config_generation)) && ++n < 100);
	return (uint64_t)hi << 32 | lo;
}

static volatile uint16_t *avail_event(struct vq *q)
{
	return vq_avail_event(q);
}

static volatile uint16_t *used_event(struct vq *q)
{
	return (volatile uint16_t *)((uintptr_t)q->avail + 4 + 2 * q->size);
}

void vq_kick(struct vq *q, uint16_t old_idx)
{
	mb(); /* the avail->idx store before the avail_event / flags load */
	if (vdev_has(q->dev, VIRTIO_RING_F_EVENT_IDX)) {
		if (!vring_need_event(*avail_event(q), q->avail_idx, old_idx)) {
			q->notifies_skipped++;
			return;
		}
	} else if (*(volatile uint16_t *)&q->used->flags & VRING_USED_F_NO_NOTIFY) {
		q->notifies_skipped++;
		return;
	}
	mmio_write16(q->notify, q->index);
	q->notifies++;
}

int vq_add(struct vq *q, const struct vq_buf *b, unsigned int n, bool indirect, bool nonotify)
{
	uint16_t head = q->next_desc, old = q->avail_idx;

	if (!n || n > q->size || (indirect && n > VQ_RING)) {
		ERR("chain of %u buffers on a queue of %u", n, q->size);
		return -1;
	}
	if (indirect) {
		for (unsigned int i = 0; i < n; i++) {
			q->indirect[i] = (struct vring_desc){
				.addr = (uintptr_t)b[i].addr,
				.len = b[i].len,
				.flags = (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) |
						    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
				.next = (uint16_t)(i + 1 < n ? i + 1 : 0),
			};
		}
		q->desc[head] = (struct vring_desc){
			.addr = (uintptr_t)q->indirect,
			.len = (uint32_t)(n * sizeof(struct vring_desc)),
			.flags = VRING_DESC_F_INDIRECT,
		};
		q->next_desc = (uint16_t)((head + 1) % q->size);
	} else {
		for (unsigned int i = 0; i < n; i++) {
			uint16_t idx = (uint16_t)((head + i) % q->size);
			uint16_t nx = (uint16_t)((head + i + 1) % q->size);

			q->desc[idx] = (struct vring_desc){
				.addr = (uintptr_t)b[i].addr,
				.len = b[i].len,
				.flags = (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) |
						    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
				.next = (uint16_t)(i + 1 < n ? nx : 0),
			};
		}
		q->next_desc = (uint16_t)((head + n) % q->size);
	}
	q->avail->ring[q->avail_idx % q->size] = head;
	barrier(); /* x86: stores are not reordered with stores */
	q->avail_idx++;
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
	if (!nonotify)
		vq_kick(q, old);
	return head;
}

int vq_poll(struct vq *q, uint32_t *id, uint32_t *len)
{
	for (unsigned long i = 0; i < VQ_POLL_MAX; i++) {
		if (vq_used_ready(q)) {
			const volatile struct vring_used_elem *e;

			barrier();
			e = &q->used->ring[q->last_used % q->size];
			*id = e->id;
			*len = e->len;
			q->last_used++;
			if (vdev_has(q->dev, VIRTIO_RING_F_EVENT_IDX))
				*used_event(q) = q->last_used;
			return 0;
		}
		cpu_relax();
	}
	return ERR("queue %u: no used entry after %lu polls (used->idx %u, avail->idx %u, "
		   "device status 0x%02x)",
		   q->index, VQ_POLL_MAX, *(volatile uint16_t *)&q->used->idx, q->avail_idx,
		   vdev_status(q->dev));
}

int vq_request(const char *t, struct vq *q, const struct vq_buf *v, unsigned int n, uint32_t *used)
{
	uint32_t id;
	int head = vq_add(q, v, n, false, false);

	if (head < 0 || vq_poll(q, &id, used)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	if ((int)id != head) {
		fail(t, "used id %u, want head %d", id, head);
		return -1;
	}
	return 0;
}
