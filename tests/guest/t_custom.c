// SPDX-License-Identifier: BSD-3-Clause
/*
 * The custom devices of examples/custom_pio.c and examples/custom_virtio.c
 * (include/libcvm/device.h), driven from the guest.
 *
 *   custom_pio: reads the debug-exit device's ID at port 0x501 (inw: 0x4356,
 *	"CV"; inb 0x501 and 0x502: its two bytes), prints "DEBUG-EXIT ID
 *	0x4356", then writes cvm.exit=N (default 42) with outw to 0x501 and
 *	prints "DEBUG-EXIT write N" before it. The run must end at that write:
 *	if the guest still runs after PIO_SPIN further reads of the port (each
 *	one a VM exit, so a sandboxed device's posted write has long been
 *	served), it prints FAIL.
 *   custom_virtio: the echo device, 1af4:107c (virtio device id 60): one
 *	queue; a request is readable bytes then a writable buffer, answered
 *	with the bytes reversed and a-z upper-cased, used length = their
 *	number. Three requests of 1, 100 and 3000 bytes (the last split over
 *	two readable and two writable descriptors), each checked byte by byte
 *	with a canary after the reply; the le32 config field echo_count must
 *	then read 3. Two malformed requests (no writable buffer; a writable
 *	buffer smaller than the data) must come back with used length 0 and
 *	the buffer untouched, without DEVICE_NEEDS_RESET, and a last good
 *	request must still be echoed (echo_count 4). Prints "ECHO <len> used
 *	<used>" per request and "ECHO count <n>".
 */
#include "hw.h"

#define DEBUG_EXIT_PORT 0x501
#define DEBUG_EXIT_ID 0x4356
#define PIO_SPIN 20000

#define ECHO_PCI_DEVICE 0x107c /* 0x1040 + 60 */
#define ECHO_MAX 4096
#define ECHO_BUF 3072
#define CANARY 0x5c
#define CANARY_LEN 64

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

void test_custom_pio(const struct boot_params *bp)
{
	const char *t = "custom_pio";
	char val[16] = "";
	unsigned int code;
	uint16_t id;
	uint8_t lo, hi;

	id = inw(DEBUG_EXIT_PORT);
	lo = inb(DEBUG_EXIT_PORT);
	hi = inb(DEBUG_EXIT_PORT + 1);
	printf("DEBUG-EXIT ID 0x%04x\n", id);
	if (id != DEBUG_EXIT_ID) {
		fail(t, "inw 0x%x read 0x%04x, want 0x%04x", DEBUG_EXIT_PORT, id, DEBUG_EXIT_ID);
		return;
	}
	if (lo != (DEBUG_EXIT_ID & 0xff) || hi != DEBUG_EXIT_ID >> 8) {
		fail(t, "inb 0x%x / 0x%x read 0x%02x 0x%02x, want 0x%02x 0x%02x", DEBUG_EXIT_PORT,
		     DEBUG_EXIT_PORT + 1, lo, hi, DEBUG_EXIT_ID & 0xff, DEBUG_EXIT_ID >> 8);
		return;
	}
	cmdline_get(bp, "cvm.exit", val, sizeof(val));
	code = parse_uint(val, 42);
	printf("DEBUG-EXIT write %u\n", code);
	outw(DEBUG_EXIT_PORT, (uint16_t)code);
	/* Nothing may run after the write: this line must never reach COM1. */
	printf("AFTER-EXIT\n");
	/* The VM ends at the write; bounded, every read below is a VM exit. */
	for (unsigned int i = 0; i < PIO_SPIN; i++)
		(void)inw(DEBUG_EXIT_PORT);
	fail(t, "still running after writing %u to port 0x%x and %u more port reads", code,
	     DEBUG_EXIT_PORT, PIO_SPIN);
}

static struct vdev echo;
static uint8_t echo_in[ECHO_BUF] __attribute__((aligned(64)));
static uint8_t echo_out[ECHO_BUF + CANARY_LEN] __attribute__((aligned(64)));

/*
 * A good request of @len bytes, split into @split readable and @split
 * writable descriptors (1 or 2): the reply is checked byte by byte.
 */
static int echo_good(const char *t, struct vq *q, uint32_t len, unsigned int split, uint8_t seed)
{
	struct vq_buf v[4];
	unsigned int n = 0;
	uint32_t used, half = len / 2;

	for (uint32_t i = 0; i < len; i++)
		echo_in[i] = (uint8_t)('a' + (i + seed) % 26);
	memset(echo_out, CANARY, sizeof(echo_out));
	if (split == 2) {
		v[n++] = (struct vq_buf){ echo_in, half, false };
		v[n++] = (struct vq_buf){ echo_in + half, len - half, false };
		v[n++] = (struct vq_buf){ echo_out, half + 7, true };
		v[n++] = (struct vq_buf){ echo_out + half + 7, len - half - 7, true };
	} else {
		v[n++] = (struct vq_buf){ echo_in, len, false };
		v[n++] = (struct vq_buf){ echo_out, len, true };
	}
	if (vq_request(t, q, v, n, &used))
		return -1;
	printf("ECHO %u used %u\n", len, used);
	if (used != len) {
		fail(t, "a request of %u bytes: used length %u", len, used);
		return -1;
	}
	for (uint32_t i = 0; i < len; i++) {
		uint8_t want = (uint8_t)(echo_in[len - 1 - i] - 'a' + 'A');

		if (echo_out[i] != want) {
			fail(t, "a request of %u bytes: reply byte %u is 0x%02x, want 0x%02x", len,
			     i, echo_out[i], want);
			return -1;
		}
	}
	if (!mem_all(echo_out + len, CANARY_LEN, CANARY)) {
		fail(t, "a request of %u bytes: the device wrote past the reply", len);
		return -1;
	}
	return 0;
}

/* A request the device must refuse: used length 0, nothing written, the device fine. */
static int echo_bad(const char *t, struct vq *q, uint32_t len, uint32_t room, const char *what)
{
	struct vq_buf v[2] = { { echo_in, len, false }, { echo_out, room, true } };
	uint32_t used;
	uint8_t s;

	memset(echo_in, 'x', len);
	memset(echo_out, CANARY, sizeof(echo_out));
	if (vq_request(t, q, v, room ? 2 : 1, &used))
		return -1;
	printf("ECHO %u used %u (%s)\n", len, used, what);
	if (used != 0) {
		fail(t, "%s: used length %u, want 0", what, used);
		return -1;
	}
	if (!mem_all(echo_out, sizeof(echo_out), CANARY)) {
		fail(t, "%s: the device wrote into the buffer", what);
		return -1;
	}
	s = vdev_status(q->dev);
	if (s & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) {
		fail(t, "%s: device status 0x%02x", what, s);
		return -1;
	}
	return 0;
}

static int echo_count(const char *t, struct vdev *d, uint32_t want)
{
	uint32_t n = vdev_cfg32(d, 0);

	printf("ECHO count %u\n", n);
	if (n != want) {
		fail(t, "config echo_count %u, want %u", n, want);
		return -1;
	}
	return 0;
}

void test_custom_virtio(const struct boot_params *bp)
{
	const char *t = "custom_virtio";
	struct vdev *d = &echo;
	struct vq *q;
	uint32_t bdf;

	(void)bp;
	if (!pci_find(0x1af4, ECHO_PCI_DEVICE, &bdf, 1)) {
		fail(t, "no echo device (PCI 1af4:%04x) on bus 0", ECHO_PCI_DEVICE);
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
		fail(t, "%u queues, want 1", d->num_queues);
		return;
	}
	if (!d->devcfg || d->devcfg_len < 4) {
		fail(t, "no 4-byte DEVICE_CFG capability (length %u)", d->devcfg_len);
		return;
	}
	q = &d->vqs[0];
	if (echo_count(t, d, 0) || echo_good(t, q, 1, 1, 0) || echo_good(t, q, 100, 1, 3) ||
	    echo_good(t, q, 3000, 2, 11) || echo_count(t, d, 3) ||
	    echo_bad(t, q, 16, 0, "no writable buffer") ||
	    echo_bad(t, q, 100, 50, "50 writable bytes for 100") || echo_good(t, q, 26, 1, 5) ||
	    echo_count(t, d, 4))
		return;
	vdev_reset(d);
	pass(t);
}
