// SPDX-License-Identifier: BSD-3-Clause
/*
 * A virtio device in its own process (docs/sandbox.md), on top of
 * jail/devproc.h: the VMM keeps the PCI function (configuration space, BAR
 * placement, MSI-X table); the transport's registers, the queues and the
 * device run in the child, forked with the state they had. A vCPU's access
 * to those registers is one devproc request; the device's INTx changes come
 * back as events. Queue kicks (ioeventfds), interrupts (irqfds, MSI-X state
 * in shared memory) and guest RAM (the inherited shared mapping) never
 * cross the VMM.
 */
#include "virtio/virtio_pci.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "jail/devproc.h"

#define VP_DEV_MAX_FDS 8 /* descriptors a device may hand to its process */

enum { VP_REQ_READ = 1, VP_REQ_WRITE = 2 };
enum { VP_EVT_INTX = DEVPROC_EVT_DEVICE };

/* --- the device's process ------------------------------------------------------------------ */

static void child_run(void *opaque, struct devproc *dp)
{
	struct virtio_pci *vp = opaque;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = VP_CTL_TAG };

	vp->in_child = true;
	vp->log = devproc_child_logger(dp);
	if (epoll_ctl(vp->ep_fd, EPOLL_CTL_ADD, devproc_child_ctl_fd(dp), &ev)) {
		log_err(vp->log, "%s: epoll_ctl: %s", vp->cfg.name, strerror(errno));
		return;
	}
	vp_serve(vp);
	devproc_child_drain(dp); /* register writes posted before the stop */
	pthread_mutex_lock(&vp->lock);
	if (vp->cfg.ops->shutdown)
		vp->cfg.ops->shutdown(vp->cfg.opaque);
	pthread_mutex_unlock(&vp->lock);
}

static void child_request(void *opaque, const struct devproc_req *r, struct devproc_rep *rep)
{
	struct virtio_pci *vp = opaque;

	if (!r->len || r->len > 8)
		rep->status = -EINVAL;
	else if (r->op == VP_REQ_READ)
		vp_regs_read(vp, r->off, rep->data, r->len);
	else if (r->op == VP_REQ_WRITE)
		vp_regs_write(vp, r->off, r->data, r->len);
	else
		rep->status = -EINVAL;
}

int vp_child_ctl(struct virtio_pci *vp)
{
	return devproc_child_serve(vp->proc);
}

void vp_child_intx(struct virtio_pci *vp)
{
	/* Dropped only when events are queued already: each makes the VMM re-read the state. */
	devproc_child_event(vp->proc, VP_EVT_INTX, 0, 0);
}

int virtio_pci_broker_connect(struct virtio_pci *vp, uint32_t arg)
{
	if (vp->in_child)
		return devproc_child_connect(vp->proc, arg);
	if (!vp->cfg.ops->broker_connect)
		return -ENOSYS;
	return vp->cfg.ops->broker_connect(vp->cfg.opaque, arg);
}

/* --- the VMM's side ------------------------------------------------------------------------ */

void vp_proxy_access(struct virtio_pci *vp, bool write, uint64_t off, uint8_t *data, uint32_t len)
{
	struct devproc_req r = { .op = write ? VP_REQ_WRITE : VP_REQ_READ,
				 .len = (uint8_t)len,
				 .off = off };
	struct devproc_rep rep;
	int rc = -EINVAL;

	if (len && len <= 8) {
		if (write)
			memcpy(r.data, data, len);
		/* Writes are posted: the device serves requests in order. */
		rc = write ? devproc_post(vp->proc, &r) : devproc_call(vp->proc, &r, &rep);
	}
	if (!write) {
		memset(data, 0xff, len); /* what a missing device reads */
		if (rc == 0)
			memcpy(data, rep.data, len);
	}
}

static void vmm_event(void *opaque, const struct devproc_evt *e)
{
	struct virtio_pci *vp = opaque;

	if (e->op == VP_EVT_INTX)
		vp_intx_sync(vp);
	else if (e->op >= VP_EVT_DEVICE && vp->cfg.ops->vmm_event)
		vp->cfg.ops->vmm_event(vp->cfg.opaque, e->op, e->idx, e->arg, e->text);
}

static int vmm_connect(void *opaque, uint32_t arg)
{
	struct virtio_pci *vp = opaque;

	return vp->cfg.ops->broker_connect ? vp->cfg.ops->broker_connect(vp->cfg.opaque, arg) :
					     -ENOSYS;
}

static int vmm_call(void *opaque, uint16_t op, uint32_t arg, uint64_t val, int fd, uint64_t *out)
{
	return vp_shm_call(opaque, op, arg, val, fd, out);
}

static const struct devproc_ops vp_devproc_ops = {
	.call = vmm_call,
	.child_run = child_run,
	.child_request = child_request,
	.event = vmm_event,
	.connect = vmm_connect,
};

int vp_proc_start(struct virtio_pci *vp, const struct vp_sandbox *sb, struct cvm_errbuf *err)
{
	int fds[2 + 2 * VIRTIO_PCI_MAX_QUEUES + MSIX_MAX_VECTORS + VP_DEV_MAX_FDS];
	unsigned int n = 0;

	if (!vp->cfg.policy && !vp->cfg.policy_text && !vp->cfg.policy_file)
		return errf(err, -EINVAL, "%s: no seccomp policy for this device", vp->cfg.name);
	fds[n++] = vp->ep_fd;
	fds[n++] = vp->stop_efd;
	for (unsigned int i = 0; i < vp->cfg.nr_queues; i++)
		fds[n++] = vp->q[i].kick_efd;
	for (unsigned int i = 0; i < vp->msix.nr; i++)
		fds[n++] = vp->msix.v[i].efd;
	if (vp->cfg.ops->keep_fds)
		n += vp->cfg.ops->keep_fds(vp->cfg.opaque, fds + n, VP_DEV_MAX_FDS);

	const struct devproc_config c = {
		.name = vp->cfg.name,
		.policy = vp->cfg.policy,
		.policy_text = vp->cfg.policy_text,
		.policy_file = vp->cfg.policy_file,
		.policy_dir = sb->policy_dir,
		.new_userns = sb->new_userns,
		.keep_fds = fds,
		.nr_keep_fds = n,
		.extra_fds = vp->cfg.max_fds,
		.stop_efd = vp->stop_efd,
		.stopping = sb->stopping,
		.log = vp->log,
		.failed = sb->failed,
		.failed_ctx = sb->failed_ctx,
		.ops = &vp_devproc_ops,
		.opaque = vp,
	};

	return devproc_start(&vp->proc, &c, err);
}

void vp_proc_stop(struct virtio_pci *vp)
{
	devproc_stop(vp->proc);
	vp->proc = NULL;
}
