// SPDX-License-Identifier: BSD-3-Clause
/*
 * The sandbox's forbidden-syscall test (tests/sandbox): a test-only virtio
 * device, "trip" (1af4:107f, virtio device id 63), answers a request of one
 * u32 command (device-readable) with one u32 result (device-writable).
 * Command 1 makes it call socket(2), which its seccomp policy forbids;
 * command 2 does nothing. The result is 0, or the errno of the call.
 *
 *   sandbox_trip: writes TRIP_LEN bytes of trip_pattern() to sectors 0.. of
 *	vda, flushes, prints "WROTE <bytes>", then sends command cvm.trip_cmd
 *	(default 1) and waits for the answer. Sandboxed, command 1 must never
 *	be answered: the VMM stops the VM when the device's filter kills it.
 *	With cvm.trip_expect=answer (command 2, or no sandbox) the answer is
 *	printed as "TRIP answer <result>" and the test passes.
 */
#include "hw.h"

#define SECTOR 512
#define TRIP_PCI_DEVICE 0x107f /* 0x1040 + 63 */
#define TRIP_LEN (64 * 1024)
#define TRIP_SEED 0x5eed5eedu
#define TRIP_WAITS 4 /* vq_poll()s of a few seconds each */

static uint8_t trip_buf[TRIP_LEN] __attribute__((aligned(4096)));
static uint32_t trip_req[2] __attribute__((aligned(64))); /* command, result */
static struct vdev blk, trip;

/* Byte @k of the pattern; tests/sandbox/test_trip.c computes the same. */
static uint8_t trip_pattern(uint32_t k)
{
	uint32_t w = (k / 4) * 0x9e3779b1u + TRIP_SEED;

	w ^= w >> 15;
	return (uint8_t)(w >> (8 * (k % 4)));
}

static unsigned int parse_uint(const char *s, unsigned int dflt)
{
	unsigned int v = 0;

	if (!*s)
		return dflt;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return dflt;
		v = v * 10 + (unsigned int)(*s - '0');
	}
	return v;
}

static int dev_open(const char *t, struct vdev *d, uint16_t pci_device, uint64_t need)
{
	uint32_t bdf;

	if (!pci_find(0x1af4, pci_device, &bdf, 1)) {
		fail(t, "no PCI function 1af4:%04x on bus 0", pci_device);
		return -1;
	}
	if (vdev_probe(d, bdf) || vdev_negotiate(d, need, need) ||
	    vdev_setup_vq(d, 0, VIRTIO_MSI_NO_VECTOR) || vdev_driver_ok(d)) {
		fail(t, "1af4:%04x: %s", pci_device, virtio_err);
		return -1;
	}
	return 0;
}

/* One virtio-blk request on queue 0 (polled); its status byte, or -1 (FAIL printed). */
static int blk_rw(const char *t, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	struct vq *q = &blk.vqs[0];
	struct virtio_blk_outhdr *h = (struct virtio_blk_outhdr *)q->scratch;
	uint8_t *status = q->scratch + 64;
	struct vq_buf v[3];
	unsigned int n = 0;
	uint32_t id, used;
	int head;

	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	*status = 0xee;
	v[n++] = (struct vq_buf){ h, sizeof(*h), false };
	if (len)
		v[n++] = (struct vq_buf){ buf, len, false };
	v[n++] = (struct vq_buf){ status, 1, true };
	head = vq_add(q, v, n, false, false);
	if (head < 0 || vq_poll(q, &id, &used)) {
		fail(t, "virtio-blk request type %u: %s", type, virtio_err);
		return -1;
	}
	if ((int)id != head) {
		fail(t, "virtio-blk: used id %u, want head %d", id, head);
		return -1;
	}
	return *status;
}

void test_sandbox_trip(const struct boot_params *bp)
{
	const char *t = "sandbox_trip";
	char val[16];
	unsigned int cmd = 1;
	bool expect_answer = false, then_reset = false;
	uint32_t id, len;
	int head, st;

	if (cmdline_get(bp, "cvm.trip_cmd", val, sizeof(val)) >= 0)
		cmd = parse_uint(val, 1);
	if (cmdline_get(bp, "cvm.trip_expect", val, sizeof(val)) >= 0)
		expect_answer = !strcmp(val, "answer"), then_reset = !strcmp(val, "reset");

	if (dev_open(t, &blk, 0x1042, 1ULL << VIRTIO_BLK_F_FLUSH))
		return;
	for (uint32_t k = 0; k < TRIP_LEN; k++)
		trip_buf[k] = trip_pattern(k);
	st = blk_rw(t, VIRTIO_BLK_T_OUT, 0, trip_buf, TRIP_LEN);
	if (st != VIRTIO_BLK_S_OK) {
		if (st >= 0)
			fail(t, "write of %u bytes at sector 0: status 0x%x", TRIP_LEN, st);
		return;
	}
	st = blk_rw(t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	if (st != VIRTIO_BLK_S_OK) {
		if (st >= 0)
			fail(t, "flush: status 0x%x", st);
		return;
	}
	printf("WROTE %u\n", TRIP_LEN);

	if (dev_open(t, &trip, TRIP_PCI_DEVICE, 0))
		return;
	trip_req[0] = cmd;
	trip_req[1] = 0xdeadbeef;
	{
		struct vq_buf v[2] = { { &trip_req[0], 4, false }, { &trip_req[1], 4, true } };

		printf("TRIP command %u\n", cmd);
		head = vq_add(&trip.vqs[0], v, 2, false, false);
	}
	if (head < 0) {
		fail(t, "cannot queue the command: %s", virtio_err);
		return;
	}
	/* cvm.trip_expect=reset: reset at once, racing the device's death. */
	if (then_reset)
		return; /* main() resets: no output first, it would give the device time */
	for (unsigned int i = 0; i < TRIP_WAITS; i++) {
		if (vq_poll(&trip.vqs[0], &id, &len))
			continue;
		printf("TRIP answer %u (used length %u)\n", trip_req[1], len);
		if (!expect_answer) {
			fail(t, "command %u was answered (result %u): the device is not confined",
			     cmd, trip_req[1]);
			return;
		}
		if ((int)id != head || len != 4) {
			fail(t, "used id %u length %u, want head %d length 4", id, len, head);
			return;
		}
		pass(t);
		return;
	}
	if (expect_answer)
		fail(t, "command %u: no answer: %s", cmd, virtio_err);
	else
		fail(t, "command %u: no answer, yet the VM still runs", cmd);
}
