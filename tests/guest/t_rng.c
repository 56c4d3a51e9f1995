// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-rng (1af4:1044) through the virtio-pci driver of virtio.c.
 *
 *   rng: four requests of 64 bytes, each printed as "RNG <hex of its first
 *	16 bytes>"; none may be all zero, no two may be equal, and the device
 *	must write exactly the 64 bytes offered. A last request carries a
 *	driver-readable buffer first (the spec forbids it): the device must
 *	leave it alone and stay usable.
 *   rng_absent: passes when there is no virtio-rng function (cvm --no-rng).
 */
#include "hw.h"

#define RNG_REQS 4
#define RNG_LEN 64
#define CANARY 0x5c /* the bytes around a request's buffer, which the device must not touch */

static uint8_t rng_bufs[RNG_REQS + 1][2 * RNG_LEN] __attribute__((aligned(64)));
static struct vdev rng;

void test_rng(const struct boot_params *bp)
{
	const char *t = "rng";
	static const char hex[] = "0123456789abcdef";
	struct vdev *d = &rng;
	struct vq *q;
	uint32_t bdf, len;

	(void)bp;
	if (!pci_find(0x1af4, 0x1044, &bdf, 1)) {
		fail(t, "no virtio-rng PCI function (1af4:1044) on bus 0");
		return;
	}
	if (vdev_probe(d, bdf) == 0 && d->devcfg) {
		fail(t, "a DEVICE_CFG capability, but virtio-rng has no configuration");
		return;
	}
	if (vdev_probe(d, bdf) || vdev_negotiate(d, 0, 0) ||
	    vdev_setup_vq(d, 0, VIRTIO_MSI_NO_VECTOR) || vdev_driver_ok(d)) {
		fail(t, "%s", virtio_err);
		return;
	}
	printf("VIRTIO %02x.%x features offered 0x%llx accepted 0x%llx queues %u\n",
	       (bdf >> 3) & 31, bdf & 7, (unsigned long long)d->dev_features,
	       (unsigned long long)d->features, d->num_queues);
	if (d->num_queues != 1) {
		fail(t, "%u queues, want 1 (requestq)", d->num_queues);
		return;
	}
	q = &d->vqs[0];
	for (unsigned int k = 0; k < RNG_REQS; k++) {
		uint8_t *b = rng_bufs[k];
		struct vq_buf v = { b, RNG_LEN, true };
		char line[33];

		memset(b, 0, RNG_LEN);
		memset(b + RNG_LEN, CANARY, RNG_LEN);
		if (vq_request(t, q, &v, 1, &len))
			return;
		for (unsigned int i = 0; i < 16; i++) {
			line[2 * i] = hex[b[i] >> 4];
			line[2 * i + 1] = hex[b[i] & 15];
		}
		line[32] = '\0';
		printf("RNG %s\n", line);
		if (len != RNG_LEN) {
			fail(t, "request %u: the device wrote %u bytes, want %u", k, len, RNG_LEN);
			return;
		}
		if (mem_all(b, RNG_LEN, 0)) {
			fail(t, "request %u: 64 zero bytes", k);
			return;
		}
		if (!mem_all(b + RNG_LEN, RNG_LEN, CANARY)) {
			fail(t, "request %u: the device wrote past the 64-byte buffer", k);
			return;
		}
		for (unsigned int j = 0; j < k; j++) {
			if (!memcmp(rng_bufs[j], b, RNG_LEN)) {
				fail(t, "requests %u and %u got the same 64 bytes", j, k);
				return;
			}
		}
	}

	/* A readable buffer first: ignored, the writable one filled, the device still fine. */
	{
		uint8_t *b = rng_bufs[RNG_REQS];
		struct vq_buf v[2] = { { b, 16, false }, { b + RNG_LEN, 32, true } };

		memset(b, CANARY, 2 * RNG_LEN);
		if (vq_request(t, q, v, 2, &len))
			return;
		printf("RNG readable+writable: %u bytes\n", len);
		if (!mem_all(b, RNG_LEN, CANARY)) {
			fail(t, "the device wrote into a driver-readable buffer");
			return;
		}
		if (len > 32 || mem_all(b + RNG_LEN, 32, CANARY) ||
		    !mem_all(b + RNG_LEN + 32, RNG_LEN - 32, CANARY)) {
			fail(t, "readable + 32 writable bytes: used length %u", len);
			return;
		}
		if (vdev_status(d) & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) {
			fail(t, "device status 0x%02x after a readable buffer", vdev_status(d));
			return;
		}
	}
	pass(t);
}

void test_rng_absent(const struct boot_params *bp)
{
	const char *t = "rng_absent";
	uint32_t bdf;

	(void)bp;
	if (pci_find(0x1af4, 0x1044, &bdf, 1)) {
		fail(t, "a virtio-rng PCI function (1af4:1044) is at %02x.%x", (bdf >> 3) & 31,
		     bdf & 7);
		return;
	}
	pass(t);
}
