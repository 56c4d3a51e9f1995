// SPDX-License-Identifier: BSD-3-Clause
/* The virtio-pci modern transport: the PCI function, BAR 0, queues, worker, start and stop. */
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
	if (bar == VP_SHM_BAR && vp->cfg.shm_size) {
		vp_shm_bar_moved(vp, new);
		return;
	}
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
	if (c->shm_size) {
		rc = vp_shm_init(vp, err);
		if (rc)
			return rc;
	}
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
	vp_shm_destroy(vp);
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
