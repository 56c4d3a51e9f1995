/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-rng (virtio 1.x section 5.4, device id 4): one queue, "requestq",
 * whose device-writable buffers the device fills with bytes from
 * getrandom(2). No device configuration, no device features.
 *
 * The guest is hostile: a chain's readable buffers are ignored (the spec
 * forbids them; they are never written), and at most RNG_MAX_PER_CHAIN
 * bytes go into one chain however large its writable buffers are, so one
 * kick costs the host at most queue size * RNG_MAX_PER_CHAIN bytes.
 */
#ifndef CVM_VIRTIO_RNG_H
#define CVM_VIRTIO_RNG_H

#include <stddef.h>

#include "virtio/virtio_pci.h"

#define VIRTIO_ID_RNG 4
#define RNG_MAX_PER_CHAIN (64 * 1024)

struct rng_dev {
	struct virtio_pci vp;
	struct vq_chain chain; /* the worker's scratch chain */
};

/*
 * rng_fill() - fill the writable buffers of @c, in order, with random bytes:
 * min(@c->in_len, RNG_MAX_PER_CHAIN) of them, fewer if getrandom(2) fails.
 * Readable buffers are skipped. Returns the bytes written (the used length).
 */
size_t rng_fill(const struct vq_chain *c);

/*
 * rng_serve() - answer every chain available on @q with rng_fill(), using
 * @c as scratch, until the ring is empty with notifications re-enabled.
 * Returns the number of chains returned to the used ring, or -EPROTO with
 * @err set when the ring is malformed.
 */
int rng_serve(struct virtq *q, struct vq_chain *c, struct cvm_errbuf *err);

/* rng_dev_create() - build the virtio-pci function (not yet on a bus). */
int rng_dev_create(struct rng_dev **out, const struct virtio_env *env, struct cvm_errbuf *err);
void rng_dev_destroy(struct rng_dev *r);

#endif
