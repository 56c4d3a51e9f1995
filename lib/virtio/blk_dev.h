/* SPDX-License-Identifier: BSD-3-Clause */
/* A virtio-blk device: the request engine (blk.c) served over virtio-pci. */
#ifndef CVM_VIRTIO_BLK_DEV_H
#define CVM_VIRTIO_BLK_DEV_H

#include <linux/virtio_blk.h>

#include "virtio/blk.h"
#include "virtio/blk_aio.h"
#include "virtio/virtio_pci.h"

struct blk_dev {
	struct blk_disk disk;
	struct virtio_pci vp;
	struct virtio_blk_config config;
	unsigned int nr_queues;
	bool root;
	char *path; /* the image, as given */
	char name[48];
	struct vq_chain chain; /* the worker's scratch chain */
	/* O_DIRECT: requests in flight (aio.efd < 0 when not used). */
	struct blk_aio aio;
	uint32_t stalled; /* queues left with work when every slot was busy */
	uint32_t served;  /* queues with used buffers not yet signalled */
};

/*
 * blk_dev_create() - open @path and build its virtio-pci function (not yet
 * on a bus). @index names it vd<a + index> in messages.
 */
int blk_dev_create(struct blk_dev **out, const char *path, const struct blk_disk_opts *o,
		   unsigned int index, unsigned int nr_queues, const struct virtio_env *env,
		   struct cvm_errbuf *err);
void blk_dev_destroy(struct blk_dev *b);

#endif
