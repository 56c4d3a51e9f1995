// SPDX-License-Identifier: BSD-3-Clause
#include "virtio/blk_dev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VIRTIO_ID_BLOCK 2
#define PCI_CLASS_STORAGE_OTHER 0x018000

static void blk_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	struct blk_dev *b = opaque;

	/* The transport checked off + len against config_len = sizeof(config). */
	memcpy(data, (const uint8_t *)&b->config + off, len);
}

static int blk_queue_notify(void *opaque, struct virtio_pci *vp, unsigned int qi)
{
	struct blk_dev *b = opaque;
	struct virtq *q = virtio_pci_queue(vp, qi);
	struct cvm_errbuf err;
	unsigned int done = 0;
	int rc;

	if (!q)
		return 0;
	for (;;) {
		vq_disable_notify(q);
		while ((rc = vq_pop(q, &b->chain, &err)) == 1) {
			uint32_t written = 0;

			blk_handle(&b->disk, &b->chain, &written);
			if (vq_push(q, b->chain.head, written))
				return -EPROTO;
			done++;
		}
		if (rc < 0) {
			log_warn(vp->log, "%s: queue %u: %s", b->name, qi, err.msg);
			return rc;
		}
		vq_enable_notify(q);
		if (!vq_has_work(q))
			break;
	}
	/* No used buffer, no interrupt (a kick can find the ring empty). */
	if (done)
		virtio_pci_queue_done(vp, qi);
	return 0;
}

static void blk_shutdown(void *opaque)
{
	struct blk_dev *b = opaque;

	/* What the guest wrote reaches the disk before the VM is gone. */
	if (!b->disk.read_only && b->disk.fd >= 0 && fdatasync(b->disk.fd))
		log_warn(b->vp.log, "%s: fdatasync: %s", b->name, strerror(errno));
}

static unsigned int blk_keep_fds(void *opaque, int *fds, unsigned int max)
{
	struct blk_dev *b = opaque;

	if (max < 1 || b->disk.fd < 0)
		return 0;
	fds[0] = b->disk.fd;
	return 1;
}

static const struct virtio_dev_ops blk_ops = {
	.keep_fds = blk_keep_fds,
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
	.shutdown = blk_shutdown,
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
	blk_disk_close(&b->disk);
	free(b->path);
	free(b);
}
