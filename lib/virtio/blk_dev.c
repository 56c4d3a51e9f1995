// SPDX-License-Identifier: BSD-3-Clause
#include "virtio/blk_dev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define VIRTIO_ID_BLOCK 2
#define PCI_CLASS_STORAGE_OTHER 0x018000

static void blk_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	struct blk_dev *b = opaque;

	/* The transport checked off + len against config_len = sizeof(config). */
	memcpy(data, (const uint8_t *)&b->config + off, len);
}

#define BLK_TAG_AIO 1

/* A request in flight finished: answer it on its queue. */
static void aio_done(void *opaque, struct blk_aio_slot *s, int64_t res)
{
	struct blk_dev *b = opaque;
	struct virtq *q = virtio_pci_queue(&b->vp, s->queue);
	uint32_t written = 0;

	blk_rw_finish(&b->disk, &s->io, res, &written);
	/* The queue is gone only after a reset, which drains first. */
	if (q && !vq_push(q, s->head, written))
		b->served |= 1u << s->queue;
}

/* Interrupt the guest for every queue that got used buffers. */
static void signal_served(struct blk_dev *b)
{
	for (unsigned int qi = 0; b->served; qi++) {
		if (b->served & (1u << qi)) {
			b->served &= ~(1u << qi);
			virtio_pci_queue_done(&b->vp, qi);
		}
	}
}

/*
 * Takes the chains of queue @qi. With asynchronous I/O, reads and writes
 * stay in flight; anything else (FLUSH, DISCARD, GET_ID, a malformed or
 * unaligned request) waits until everything before it has completed, so
 * that a FLUSH covers every write the guest submitted before it.
 */
static int blk_serve(struct blk_dev *b, unsigned int qi)
{
	struct virtq *q = virtio_pci_queue(&b->vp, qi);
	bool aio = b->aio.efd >= 0 && blk_aio_ready(&b->aio);
	struct cvm_errbuf err;
	int rc;

	if (!q)
		return 0;
	b->stalled &= ~(1u << qi);
	for (;;) {
		vq_disable_notify(q);
		while ((rc = vq_pop(q, &b->chain, &err)) == 1) {
			struct blk_aio_slot *s = NULL;
			uint32_t written = 0;

			if (aio && !(s = blk_aio_get(&b->aio))) {
				/* All busy: the next completion serves the rest. */
				vq_unpop(q, 1);
				b->stalled |= 1u << qi;
				goto out;
			}
			if (s && blk_rw_prepare(&b->disk, &b->chain, &s->io)) {
				s->head = b->chain.head;
				s->queue = (uint16_t)qi;
				blk_aio_queue(&b->aio, s, b->disk.fd);
				continue;
			}
			if (s) {
				blk_aio_put(&b->aio, s);
				blk_aio_submit(&b->aio, aio_done, b);
				blk_aio_reap(&b->aio, true, aio_done, b);
			}
			blk_handle(&b->disk, &b->chain, &written);
			if (vq_push(q, b->chain.head, written)) {
				rc = -EPROTO;
				goto out;
			}
			b->served |= 1u << qi;
		}
		if (rc < 0) {
			vp_warn_guest(&b->vp, "%s: queue %u: %s", b->name, qi, err.msg);
			goto out;
		}
		vq_enable_notify(q);
		if (!vq_has_work(q))
			break;
	}
out:
	if (aio)
		blk_aio_submit(&b->aio, aio_done, b);
	/* No used buffer, no interrupt (a kick can find the ring empty). */
	signal_served(b);
	return rc < 0 ? rc : 0;
}

static int blk_queue_notify(void *opaque, struct virtio_pci *vp, unsigned int qi)
{
	(void)vp;
	return blk_serve(opaque, qi);
}

/* The completion eventfd fired. */
static int blk_fd_event(void *opaque, struct virtio_pci *vp, uint32_t tag, uint32_t events)
{
	struct blk_dev *b = opaque;
	int rc = 0;

	(void)vp;
	(void)events;
	if (tag != BLK_TAG_AIO || !b->aio.ctx)
		return 0;
	blk_aio_reap(&b->aio, false, aio_done, b);
	signal_served(b);
	/* Slots are free again: serve what waited for them, and what the
	 * guest queued meanwhile (saves it a notification). */
	for (unsigned int qi = 0; qi < b->nr_queues; qi++) {
		struct virtq *q = virtio_pci_queue(&b->vp, qi);

		if (!(b->stalled & (1u << qi)) && (!q || !vq_has_work(q)))
			continue;
		rc = blk_serve(b, qi);
		if (rc)
			break;
	}
	return rc;
}

/* Wait for what is in flight and drop the results: the rings are gone (reset, stop). */
static void blk_drain(struct blk_dev *b)
{
	if (!b->aio.ctx)
		return;
	blk_aio_submit(&b->aio, aio_done, b);
	blk_aio_reap(&b->aio, true, NULL, NULL);
	b->stalled = 0;
}

static void blk_reset(void *opaque)
{
	/* The driver gave the rings up: nothing goes back to them. */
	blk_drain(opaque);
}

static void blk_shutdown(void *opaque)
{
	struct blk_dev *b = opaque;

	blk_drain(b);
	/* What the guest wrote reaches the disk before the VM is gone. */
	if (!b->disk.read_only && b->disk.fd >= 0 && fdatasync(b->disk.fd))
		log_warn(b->vp.log, "%s: fdatasync: %s", b->name, strerror(errno));
}

static unsigned int blk_keep_fds(void *opaque, int *fds, unsigned int max)
{
	struct blk_dev *b = opaque;
	unsigned int n = 0;

	if (n < max && b->disk.fd >= 0)
		fds[n++] = b->disk.fd;
	if (n < max && b->aio.efd >= 0)
		fds[n++] = b->aio.efd;
	return n;
}

static const struct virtio_dev_ops blk_ops = {
	.keep_fds = blk_keep_fds,
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
	.shutdown = blk_shutdown,
	.fd_event = blk_fd_event,
};

int blk_dev_create(struct blk_dev **out, const char *path, const struct blk_disk_opts *o,
		   unsigned int index, unsigned int nr_queues, const struct virtio_env *env,
		   struct cvm_errbuf *err)
{
	struct blk_dev *b = calloc(1, sizeof(*b));
	int rc;

	*out = NULL;
	if (!b)
		return errf(err, -ENOMEM, "out of memory");
	b->disk.fd = -1;
	b->aio.efd = -1;
	if (nr_queues == 0)
		nr_queues = 1;
	if (nr_queues > VIRTIO_PCI_MAX_QUEUES)
		nr_queues = VIRTIO_PCI_MAX_QUEUES;
	b->nr_queues = nr_queues;
	snprintf(b->name, sizeof(b->name), "virtio-blk vd%c", 'a' + (char)(index % 26));
	b->path = strdup(path);
	if (!b->path) {
		rc = errf(err, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = blk_disk_open(&b->disk, path, o, err);
	if (rc)
		goto fail;
	blk_config(&b->disk, nr_queues, &b->config);

	struct virtio_pci_config c = {
		.name = b->name,
		.device_id = VIRTIO_ID_BLOCK,
		.pci_class = PCI_CLASS_STORAGE_OTHER << 8,
		.features = blk_features(&b->disk, nr_queues),
		.config_len = sizeof(b->config),
		.nr_queues = nr_queues,
		.queue_max_size = VIRTIO_PCI_QUEUE_MAX_SIZE,
		.ops = &blk_ops,
		.policy = "block",
		.opaque = b,
	};

	rc = virtio_pci_init(&b->vp, &c, env, err);
	if (rc)
		goto fail;
	/* O_DIRECT: keep requests in flight (see blk_aio.h). */
	if (b->disk.direct) {
		rc = blk_aio_init(&b->aio);
		if (!rc)
			rc = virtio_pci_watch_fd(&b->vp, b->aio.efd, EPOLLIN, BLK_TAG_AIO);
		if (rc) {
			rc = errf(err, rc, "%s: asynchronous I/O: %s", b->name, strerror(-rc));
			goto fail;
		}
	}
	*out = b;
	return 0;
fail:
	blk_dev_destroy(b);
	return rc;
}

void blk_dev_destroy(struct blk_dev *b)
{
	if (!b)
		return;
	virtio_pci_destroy(&b->vp);
	blk_aio_fini(&b->aio);
	blk_disk_close(&b->disk);
	free(b->path);
	free(b);
}
