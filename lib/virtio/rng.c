// SPDX-License-Identifier: BSD-3-Clause
/* virtio-rng: requestq buffers filled from getrandom(2). */
#include "virtio/rng.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/random.h>

#define PCI_CLASS_OTHERS 0xff0000u /* class 0xff: "device does not fit any class" */

/* Fills [p, p + len) from getrandom(2); returns the bytes written (short on failure). */
static size_t fill_buf(uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = getrandom(p + off, len - off, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	return off;
}

size_t rng_fill(const struct vq_chain *c)
{
	unsigned int nr = c->nr < VQ_MAX_BUFS ? c->nr : VQ_MAX_BUFS;
	size_t done = 0;

	for (unsigned int i = 0; i < nr && done < RNG_MAX_PER_CHAIN; i++) {
		const struct vq_buf *b = &c->bufs[i];
		size_t want = b->len, got;

		/* Driver-readable buffers are not ours to write (5.4.6.1): skip them. */
		if (!b->write || !b->host)
			continue;
		if (want > RNG_MAX_PER_CHAIN - done)
			want = RNG_MAX_PER_CHAIN - done;
		got = fill_buf(b->host, want);
		done += got;
		if (got < want)
			break;
	}
	return done;
}

int rng_serve(struct virtq *q, struct vq_chain *c, struct cvm_errbuf *err)
{
	int done = 0, rc;

	for (;;) {
		vq_disable_notify(q);
		while ((rc = vq_pop(q, c, err)) == 1) {
			if (vq_push(q, c->head, (uint32_t)rng_fill(c)))
				return errf(err, -EPROTO, "cannot return chain %u", c->head);
			if (done < INT_MAX)
				done++;
		}
		if (rc < 0)
			return rc;
		vq_enable_notify(q);
		if (!vq_has_work(q))
			break;
	}
	return done;
}

static int rng_queue_notify(void *opaque, struct virtio_pci *vp, unsigned int qi)
{
	struct rng_dev *r = opaque;
	struct virtq *q = virtio_pci_queue(vp, qi);
	struct cvm_errbuf err = { "" };
	int rc;

	if (!q)
		return 0;
	rc = rng_serve(q, &r->chain, &err);
	if (rc < 0) {
		log_warn(vp->log, "%s: queue %u: %s", vp->cfg.name, qi, err.msg);
		return rc;
	}
	/* No used buffer, no interrupt (a kick can find the ring empty). */
	if (rc)
		virtio_pci_queue_done(vp, qi);
	return 0;
}

static const struct virtio_dev_ops rng_ops = {
	.queue_notify = rng_queue_notify,
};

int rng_dev_create(struct rng_dev **out, const struct virtio_env *env, struct cvm_errbuf *err)
{
	struct rng_dev *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r)
		return errf(err, -ENOMEM, "out of memory");

	struct virtio_pci_config c = {
		.name = "virtio-rng",
		.device_id = VIRTIO_ID_RNG,
		.pci_class = PCI_CLASS_OTHERS << 8,
		.features = 0,
		.config_len = 0,
		.nr_queues = 1,
		.queue_max_size = VIRTIO_PCI_QUEUE_MAX_SIZE,
		.ops = &rng_ops,
		.policy = "rng",
		.opaque = r,
	};

	rc = virtio_pci_init(&r->vp, &c, env, err);
	if (rc) {
		rng_dev_destroy(r);
		return rc;
	}
	*out = r;
	return 0;
}

void rng_dev_destroy(struct rng_dev *r)
{
	if (!r)
		return;
	virtio_pci_destroy(&r->vp);
	free(r);
}
