// SPDX-License-Identifier: BSD-3-Clause
/* The virtio-pci modern transport: registers, feature negotiation, queues, worker. */
#include "virtio/virtio_pci.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "kvm/kvm.h"

#define PCI_VENDOR_VIRTIO 0x1af4
#define PCI_DEVICE_VIRTIO_BASE 0x1040
#define PCI_CAP_ID_VNDR 0x09
#define STOP_TAG 0xffffffffu
#define DEV_TAG_BASE 0x10000000u /* device descriptors: DEV_TAG_BASE + tag */

/* Features the transport itself offers. */
#define VP_TRANSPORT_FEATURES                                               \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
	 (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

static void add_vendor_cap(struct pci_dev *d, uint8_t type, uint32_t off, uint32_t len,
			   uint32_t extra)
{
	uint8_t cap_len = type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 20 : 16;
	uint8_t c = pci_add_cap(d, PCI_CAP_ID_VNDR, cap_len);

	d->cfg[c + 2] = cap_len;
	d->cfg[c + 3] = type;
	d->cfg[c + 4] = 0; /* BAR 0 */
	pci_cfg_set(d, c + 8, 4, off);
	pci_cfg_set(d, c + 12, 4, len);
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		pci_cfg_set(d, c + 16, 4, extra);
}

#define PCI_COMMAND_INTX_DISABLE 0x400

/*
 * Drive INTx from the shared state: asserted while the ISR is non-zero,
 * MSI-X is off and the guest did not disable INTx. Runs in the VMM only.
 */
void vp_intx_sync(struct virtio_pci *vp)
{
	if (!vp->env.set_intx || !vp->pci.slot || vp->in_child)
		return;
	pthread_mutex_lock(&vp->intx_lock);
	vp->env.set_intx(vp->env.intx_ctx, pci_intx_gsi(vp->pci.slot),
			 atomic_load(&vp->sh->isr_set) && !atomic_load(&vp->sh->intx_off) &&
				 !msix_enabled(&vp->msix));
	pthread_mutex_unlock(&vp->intx_lock);
}

/* The ISR changed: publish it, and have the VMM drive the line. */
static void vp_update_intx(struct virtio_pci *vp)
{
	if (atomic_exchange(&vp->sh->isr_set, vp->isr != 0) == (vp->isr != 0))
		return;
	if (vp->in_child)
		vp_child_intx(vp);
	else
		vp_intx_sync(vp);
}

/* Interrupt the guest for queue @q (vector from the queue) or the config (q < 0). */
static void vp_interrupt(struct virtio_pci *vp, int q)
{
	uint16_t vec = q < 0 ? vp->msix_config : vp->q[q].msix_vector;

	vp->isr |= q < 0 ? VIRTIO_PCI_ISR_CONFIG : 1;
	if (msix_enabled(&vp->msix)) {
		if (vec != VIRTIO_MSI_NO_VECTOR)
			msix_notify(&vp->msix, vec);
		return;
	}
	vp_update_intx(vp);
}

/* The guest broke the device: stop using it until it resets (the lock is held). */
static void vp_mark_broken(struct virtio_pci *vp, const char *why)
{
	log_warn(vp->log, "%s: %s; the device needs a reset", vp->cfg.name, why);
	vp->live = false;
	vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	vp->config_gen++;
	vp_interrupt(vp, -1);
}

static void vp_reset(struct virtio_pci *vp)
{
	if (vp->cfg.ops->reset)
		vp->cfg.ops->reset(vp->cfg.opaque);
	vp->live = false;
	vp->status = 0;
	vp->isr = 0;
	vp_update_intx(vp);
	vp->drv_features = 0;
	vp->dev_feat_sel = vp->drv_feat_sel = 0;
	vp->msix_config = VIRTIO_MSI_NO_VECTOR;
	vp->queue_sel = 0;
	for (unsigned int i = 0; i < vp->cfg.nr_queues; i++) {
		struct vp_queue *q = &vp->q[i];

		q->size = vp->cfg.queue_max_size;
		q->msix_vector = VIRTIO_MSI_NO_VECTOR;
		q->enable = 0;
		q->desc = q->driver = q->device = 0;
		memset(&q->vq, 0, sizeof(q->vq));
	}
}

static void vp_driver_ok(struct virtio_pci *vp)
{
	bool event_idx = vp->drv_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	bool indirect = vp->drv_features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	struct cvm_errbuf err;

	for (unsigned int i = 0; i < vp->cfg.nr_queues; i++) {
		struct vp_queue *q = &vp->q[i];

		if (!q->enable)
			continue;
		if (vq_init(&q->vq, vp->mem, q->size, q->desc, q->driver, q->device, event_idx,
			    indirect, &err)) {
			char why[600];

			snprintf(why, sizeof(why), "queue %u: %s", i, err.msg);
			vp_mark_broken(vp, why);
			return;
		}
	}
	if (vp->cfg.ops->activate)
		vp->cfg.ops->activate(vp->cfg.opaque, vp->drv_features);
	vp->live = true;
	/* Buffers made available before DRIVER_OK: look at every queue once. */
	for (unsigned int i = 0; i < vp->cfg.nr_queues; i++) {
		uint64_t one = 1;

		if (vp->q[i].enable && write(vp->q[i].kick_efd, &one, sizeof(one)) < 0)
			log_warn(vp->log, "%s: kick: %s", vp->cfg.name, strerror(errno));
	}
}

static void vp_write_status(struct virtio_pci *vp, uint8_t v)
{
	uint8_t old = vp->status;

	if (v == 0) {
		vp_reset(vp);
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* Accept only a subset of what we offered, with VERSION_1. */
		if ((vp->drv_features & ~vp->dev_features) ||
		    !(vp->drv_features & (1ULL << VIRTIO_F_VERSION_1)))
			v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	vp->status = (uint8_t)(v | (old & VIRTIO_CONFIG_S_NEEDS_RESET));
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    (v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_NEEDS_RESET))
		vp_driver_ok(vp);
}

static uint32_t common_read(struct virtio_pci *vp, uint32_t off)
{
	struct vp_queue *q = vp->queue_sel < vp->cfg.nr_queues ? &vp->q[vp->queue_sel] : NULL;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return vp->dev_feat_sel;
	case VIRTIO_PCI_COMMON_DF:
		return vp->dev_feat_sel < 2 ?
			       (uint32_t)(vp->dev_features >> (32 * vp->dev_feat_sel)) :
			       0;
	case VIRTIO_PCI_COMMON_GFSELECT:
		return vp->drv_feat_sel;
	case VIRTIO_PCI_COMMON_GF:
		return vp->drv_feat_sel < 2 ?
			       (uint32_t)(vp->drv_features >> (32 * vp->drv_feat_sel)) :
			       0;
	case VIRTIO_PCI_COMMON_MSIX:
		return vp->msix_config;
	case VIRTIO_PCI_COMMON_NUMQ:
		return vp->cfg.nr_queues;
	case VIRTIO_PCI_COMMON_STATUS:
		return vp->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return vp->config_gen;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return vp->queue_sel;
	}
	if (!q)
		return 0;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return q->size;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return q->msix_vector;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return q->enable;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return vp->queue_sel;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		return (uint32_t)q->desc;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		return (uint32_t)(q->desc >> 32);
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		return (uint32_t)q->driver;
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		return (uint32_t)(q->driver >> 32);
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		return (uint32_t)q->device;
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return (uint32_t)(q->device >> 32);
	}
	return 0;
}

static void set_lo(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffULL) | v;
}

static void set_hi(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffULL) | (uint64_t)v << 32;
}

static uint16_t checked_vector(struct virtio_pci *vp, uint32_t v)
{
	return v < vp->msix.nr ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static void common_write(struct virtio_pci *vp, uint32_t off, uint32_t v)
{
	struct vp_queue *q = vp->queue_sel < vp->cfg.nr_queues ? &vp->q[vp->queue_sel] : NULL;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vp->dev_feat_sel = v;
		return;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vp->drv_feat_sel = v;
		return;
	case VIRTIO_PCI_COMMON_GF:
		if (vp->drv_feat_sel < 2 && !(vp->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			if (vp->drv_feat_sel)
				set_hi(&vp->drv_features, v);
			else
				set_lo(&vp->drv_features, v);
		}
		return;
	case VIRTIO_PCI_COMMON_MSIX:
		vp->msix_config = checked_vector(vp, v);
		return;
	case VIRTIO_PCI_COMMON_STATUS:
		vp_write_status(vp, (uint8_t)v);
		return;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vp->queue_sel = (uint16_t)v;
		return;
	}
	/* A queue's registers are frozen once it is enabled. */
	if (!q || (q->enable && off != VIRTIO_PCI_COMMON_Q_MSIX))
		return;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		/* A power of two up to the maximum; anything else is ignored. */
		if (v && v <= vp->cfg.queue_max_size && !(v & (v - 1)))
			q->size = (uint16_t)v;
		return;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		q->msix_vector = checked_vector(vp, v);
		return;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		q->enable = v == 1;
		return;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		set_lo(&q->desc, v);
		return;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		set_hi(&q->desc, v);
		return;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		set_lo(&q->driver, v);
		return;
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		set_hi(&q->driver, v);
		return;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		set_lo(&q->device, v);
		return;
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		set_hi(&q->device, v);
		return;
	}
}

/* Field widths of the common configuration: accesses must match them exactly. */
static uint32_t common_width(uint32_t off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return 1;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return 2;
	default:
		return off < 0x38 && off % 4 == 0 ? 4 : 0;
	}
}

/* Common, ISR and device configuration reads, where the device lives. */
void vp_regs_read(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len)
{
	uint32_t v = 0;

	memset(data, 0, len);
	pthread_mutex_lock(&vp->lock);
	if (off < VP_COMMON_LEN && common_width((uint32_t)off) == len) {
		v = common_read(vp, (uint32_t)off);
	} else if (off == VP_ISR_OFF && len == 1) {
		v = vp->isr; /* reading acknowledges, and lowers INTx */
		vp->isr = 0;
		vp_update_intx(vp);
	} else if (off >= VP_DEVICE_OFF && off < VP_DEVICE_OFF + vp->cfg.config_len &&
		   off + len <= VP_DEVICE_OFF + vp->cfg.config_len) {
		vp->cfg.ops->config_read(vp->cfg.opaque, (uint32_t)(off - VP_DEVICE_OFF), data,
					 len);
	}
	pthread_mutex_unlock(&vp->lock);
	for (uint32_t i = 0; i < len && i < 4 && v; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

void vp_regs_write(struct virtio_pci *vp, uint64_t off, const uint8_t *data, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	pthread_mutex_lock(&vp->lock);
	if (off < VP_COMMON_LEN && common_width((uint32_t)off) == len)
		common_write(vp, (uint32_t)off, v);
	else if (off >= VP_DEVICE_OFF && off < VP_DEVICE_OFF + vp->cfg.config_len &&
		 off + len <= VP_DEVICE_OFF + vp->cfg.config_len && vp->cfg.ops->config_write)
		vp->cfg.ops->config_write(vp->cfg.opaque, (uint32_t)(off - VP_DEVICE_OFF), data,
					  len);
	pthread_mutex_unlock(&vp->lock);
}

/*
 * BAR 0 as the vCPUs see it: the MSI-X table and PBA and stray kicks are
 * served here, in the VMM; the rest goes to the device, in this process
 * or over the proxy to its own.
 */
static void bar_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;

	if (off >= VP_MSIX_TABLE_OFF && off < VP_MSIX_PBA_OFF) {
		msix_table_read(&vp->msix, off - VP_MSIX_TABLE_OFF, data, len);
	} else if (off >= VP_MSIX_PBA_OFF && off < VP_BAR_SIZE) {
		msix_pba_read(&vp->msix, off - VP_MSIX_PBA_OFF, data, len);
	} else if (vp->proc) {
		vp_proxy_access(vp, false, off, data, len);
		vp_intx_sync(vp);
	} else {
		vp_regs_read(vp, off, data, len);
	}
}

static void bar_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;

	if (off >= VP_MSIX_TABLE_OFF && off < VP_MSIX_PBA_OFF) {
		msix_table_write(&vp->msix, off - VP_MSIX_TABLE_OFF, data, len);
	} else if (off >= VP_NOTIFY_OFF &&
		   off < VP_NOTIFY_OFF + VP_NOTIFY_MULT * vp->cfg.nr_queues) {
		/* A kick that KVM did not catch (another width): pass it to the worker. */
		uint64_t one = 1;
		unsigned int q = (unsigned int)((off - VP_NOTIFY_OFF) / VP_NOTIFY_MULT);

		if (write(vp->q[q].kick_efd, &one, sizeof(one)) < 0)
			log_warn(vp->log, "%s: kick: %s", vp->cfg.name, strerror(errno));
	} else if (vp->proc) {
		vp_proxy_access(vp, true, off, (uint8_t *)data, len);
		vp_intx_sync(vp);
	} else {
		vp_regs_write(vp, off, data, len);
	}
}

static const struct cvm_io_ops bar_ops = { .read = bar_read, .write = bar_write };

/* Register (or move) the queues' ioeventfds at the BAR's notification area. */
static void vp_bar_moved(struct pci_dev *d, unsigned int bar, uint64_t old, uint64_t new)
{
	struct virtio_pci *vp = d->opaque;

	(void)old;
	if (bar != 0)
		return;
	for (unsigned int i = 0; i < vp->cfg.nr_queues; i++) {
		struct vp_queue *q = &vp->q[i];
		struct kvm_ioeventfd io = { .len = 2, .fd = q->kick_efd };

		if (q->kick_addr) {
			io.addr = q->kick_addr;
			io.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
			kvm_ioctl(vp->vm_fd, KVM_IOEVENTFD, &io);
			q->kick_addr = 0;
		}
		if (!new)
			continue;
		io.addr = new + VP_NOTIFY_OFF + (uint64_t)i *VP_NOTIFY_MULT;
		io.flags = 0;
		int rc = kvm_ioctl(vp->vm_fd, KVM_IOEVENTFD, &io);

		if (rc)
			log_warn(vp->log, "%s: KVM_IOEVENTFD: %s (kicks take the slow path)",
				 vp->cfg.name, strerror(-rc));
		else
			q->kick_addr = io.addr;
	}
}

static void vp_cfg_written(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct virtio_pci *vp = d->opaque;

	msix_cfg_written(&vp->msix, off, len);
	/* INTX_DISABLE or the MSI-X enable bit may have changed. */
	atomic_store(&vp->sh->intx_off, pci_cfg_read(&vp->pci, 0x04, 2) & PCI_COMMAND_INTX_DISABLE);
	vp_intx_sync(vp);
}

static const struct pci_dev_ops vp_pci_ops = {
	.cfg_written = vp_cfg_written,
	.bar_moved = vp_bar_moved,
};

struct virtq *virtio_pci_queue(struct virtio_pci *vp, unsigned int q)
{
	if (!vp->live || q >= vp->cfg.nr_queues || !vp->q[q].enable)
		return NULL;
	return &vp->q[q].vq;
}

void virtio_pci_queue_done(struct virtio_pci *vp, unsigned int q)
{
	if (q < vp->cfg.nr_queues && vq_should_signal(&vp->q[q].vq))
		vp_interrupt(vp, (int)q);
}

int virtio_pci_watch_fd(struct virtio_pci *vp, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = DEV_TAG_BASE + tag };

	if (tag >= VP_MAX_DEV_TAG)
		return -EINVAL;
	if (epoll_ctl(vp->ep_fd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	return epoll_ctl(vp->ep_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

void virtio_pci_unwatch_fd(struct virtio_pci *vp, int fd)
{
	epoll_ctl(vp->ep_fd, EPOLL_CTL_DEL, fd, NULL);
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	vp->config_gen++;
	if (vp->status & VIRTIO_CONFIG_S_DRIVER_OK)
		vp_interrupt(vp, -1);
}

void vp_serve(struct virtio_pci *vp)
{
	for (;;) {
		struct epoll_event ev[VIRTIO_PCI_MAX_QUEUES + 1];
		int n = epoll_wait(vp->ep_fd, ev, VIRTIO_PCI_MAX_QUEUES + 1, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err(vp->log, "%s: epoll_wait: %s", vp->cfg.name, strerror(errno));
			return;
		}
		for (int i = 0; i < n; i++) {
			uint32_t q = ev[i].data.u32;
			uint64_t cnt;

			if (q == STOP_TAG)
				return;
			if (q == VP_CTL_TAG) {
				if (vp_child_ctl(vp) < 0)
					return; /* the VMM is gone */
				continue;
			}
			if (q >= DEV_TAG_BASE) {
				pthread_mutex_lock(&vp->lock);
				if (vp->cfg.ops->fd_event &&
				    vp->cfg.ops->fd_event(vp->cfg.opaque, vp, q - DEV_TAG_BASE,
							  ev[i].events) < 0)
					vp_mark_broken(vp, "the driver broke a virtqueue");
				pthread_mutex_unlock(&vp->lock);
				continue;
			}
			if (q >= vp->cfg.nr_queues)
				continue;
			if (read(vp->q[q].kick_efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
				continue;
			pthread_mutex_lock(&vp->lock);
			if (virtio_pci_queue(vp, q)) {
				int rc = vp->cfg.ops->queue_notify(vp->cfg.opaque, vp, q);

				if (rc < 0)
					vp_mark_broken(vp, "the driver broke a virtqueue");
			}
			pthread_mutex_unlock(&vp->lock);
		}
	}
}

static void *vp_worker(void *arg)
{
	vp_serve(arg);
	return NULL;
}

int virtio_pci_init(struct virtio_pci *vp, const struct virtio_pci_config *c,
		    const struct virtio_env *env, struct cvm_errbuf *err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	memset(vp, 0, sizeof(*vp));
	vp->ep_fd = vp->stop_efd = -1;
	for (unsigned int i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
		vp->q[i].kick_efd = -1;
	pthread_mutex_init(&vp->lock, NULL);
	pthread_mutex_init(&vp->intx_lock, NULL);
	vp->inited = true;
	vp->sh = mmap(NULL, sizeof(*vp->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		      0);
	if (vp->sh == MAP_FAILED) {
		vp->sh = NULL;
		return errf(err, -errno, "%s: mmap: %s", c->name, strerror(errno));
	}
	if (!c->nr_queues || c->nr_queues > VIRTIO_PCI_MAX_QUEUES || !c->queue_max_size ||
	    c->queue_max_size > VIRTIO_PCI_QUEUE_MAX_SIZE ||
	    (c->queue_max_size & (c->queue_max_size - 1)) || c->config_len > VP_DEVICE_LEN)
		return errf(err, -EINVAL, "%s: bad virtio device parameters", c->name);
	vp->cfg = *c;
	vp->env = *env;
	vp->mem = env->mem;
	vp->log = env->log;
	vp->vm_fd = env->vm_fd;
	vp->dev_features = c->features | VP_TRANSPORT_FEATURES;

	pci_dev_init(&vp->pci, PCI_VENDOR_VIRTIO, PCI_DEVICE_VIRTIO_BASE + c->device_id,
		     c->pci_class | 1 /* revision 1: modern */, PCI_VENDOR_VIRTIO,
		     PCI_DEVICE_VIRTIO_BASE + c->device_id);
	vp->pci.name = c->name;
	vp->pci.ops = &vp_pci_ops;
	vp->pci.opaque = vp;
	if (env->set_intx)
		vp->pci.cfg[0x3d] = 1; /* INTA#; the bus fills in the line */
	rc = pci_dev_set_bar(&vp->pci, 0, VP_BAR_SIZE, true, &bar_ops, vp);
	if (rc)
		return errf(err, rc, "%s: BAR setup failed", c->name);
	add_vendor_cap(&vp->pci, VIRTIO_PCI_CAP_COMMON_CFG, VP_COMMON_OFF, VP_COMMON_LEN, 0);
	add_vendor_cap(&vp->pci, VIRTIO_PCI_CAP_NOTIFY_CFG, VP_NOTIFY_OFF,
		       VP_NOTIFY_MULT * c->nr_queues, VP_NOTIFY_MULT);
	add_vendor_cap(&vp->pci, VIRTIO_PCI_CAP_ISR_CFG, VP_ISR_OFF, 1, 0);
	if (c->config_len)
		add_vendor_cap(&vp->pci, VIRTIO_PCI_CAP_DEVICE_CFG, VP_DEVICE_OFF, c->config_len,
			       0);
	/* One vector per queue and one for configuration changes. */
	rc = msix_init(&vp->msix, &vp->pci, env->router, c->nr_queues + 1, 0, VP_MSIX_TABLE_OFF,
		       VP_MSIX_PBA_OFF);
	if (rc)
		return errf(err, rc, "%s: MSI-X setup failed: %s", c->name, strerror(-rc));

	vp->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	vp->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vp->ep_fd < 0 || vp->stop_efd < 0)
		return errf(err, -errno, "%s: %s", c->name, strerror(errno));
	ev.data.u32 = STOP_TAG;
	if (epoll_ctl(vp->ep_fd, EPOLL_CTL_ADD, vp->stop_efd, &ev))
		return errf(err, -errno, "%s: epoll_ctl: %s", c->name, strerror(errno));
	for (unsigned int i = 0; i < c->nr_queues; i++) {
		vp->q[i].kick_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ev.data.u32 = i;
		if (vp->q[i].kick_efd < 0 ||
		    epoll_ctl(vp->ep_fd, EPOLL_CTL_ADD, vp->q[i].kick_efd, &ev))
			return errf(err, -errno, "%s: queue eventfd: %s", c->name, strerror(errno));
	}
	vp_reset(vp);
	return 0;
}

int virtio_pci_plug(struct virtio_pci *vp, struct pci_bus *bus, struct cvm_errbuf *err)
{
	int rc = pci_add_device(bus, &vp->pci);

	if (rc)
		return errf(err, rc, "%s: no room on the PCI bus", vp->cfg.name);
	return 0;
}

int virtio_pci_start(struct virtio_pci *vp, const struct vp_sandbox *sb, struct cvm_errbuf *err)
{
	if (sb)
		return vp_proc_start(vp, sb, err);

	int rc = pthread_create(&vp->worker, NULL, vp_worker, vp);

	if (rc)
		return errf(err, -rc, "%s: cannot start its thread: %s", vp->cfg.name,
			    strerror(rc));
	vp->worker_started = true;
	return 0;
}

void virtio_pci_stop(struct virtio_pci *vp)
{
	uint64_t one = 1;

	if (vp->proc) {
		vp_proc_stop(vp);
		return; /* the device flushed in its own process */
	}
	if (vp->worker_started) {
		if (write(vp->stop_efd, &one, sizeof(one)) < 0)
			log_err(vp->log, "%s: cannot stop its thread", vp->cfg.name);
		pthread_join(vp->worker, NULL);
		vp->worker_started = false;
	}
	pthread_mutex_lock(&vp->lock);
	if (vp->cfg.ops && vp->cfg.ops->shutdown)
		vp->cfg.ops->shutdown(vp->cfg.opaque);
	pthread_mutex_unlock(&vp->lock);
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp->inited)
		return;
	virtio_pci_stop(vp);
	for (unsigned int i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++) {
		if (vp->q[i].kick_addr)
			vp_bar_moved(&vp->pci, 0, vp->q[i].kick_addr, 0);
		if (vp->q[i].kick_efd >= 0)
			close(vp->q[i].kick_efd);
	}
	msix_destroy(&vp->msix);
	if (vp->sh)
		munmap(vp->sh, sizeof(*vp->sh));
	vp->sh = NULL;
	if (vp->ep_fd >= 0)
		close(vp->ep_fd);
	if (vp->stop_efd >= 0)
		close(vp->stop_efd);
	pthread_mutex_destroy(&vp->lock);
	pthread_mutex_destroy(&vp->intx_lock);
	vp->inited = false;
}
