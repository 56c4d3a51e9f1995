// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio-pci transport's registers, where the device lives (in the VMM
 * or in the device's process): the common configuration with its status
 * machine and feature negotiation, the ISR, the device configuration, and
 * the interrupts they raise (MSI-X vectors, or INTx through the VMM).
 */
#include "virtio/virtio_pci.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

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
void vp_update_intx(struct virtio_pci *vp)
{
	if (atomic_exchange(&vp->sh->isr_set, vp->isr != 0) == (vp->isr != 0))
		return;
	if (vp->in_child)
		vp_child_intx(vp);
	else
		vp_intx_sync(vp);
}

/* Interrupt the guest for queue @q (vector from the queue) or the config (q < 0). */
void vp_interrupt(struct virtio_pci *vp, int q)
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
void vp_mark_broken(struct virtio_pci *vp, const char *why)
{
	vp_warn_guest(vp, "%s: %s; the device needs a reset", vp->cfg.name, why);
	vp->live = false;
	vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	vp->config_gen++;
	vp_interrupt(vp, -1);
}

void vp_reset(struct virtio_pci *vp)
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
		/* Queues are set up at DRIVER_OK: one enabled later would be used unset. */
		if (!(vp->status & VIRTIO_CONFIG_S_DRIVER_OK))
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
