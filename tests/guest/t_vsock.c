// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-vsock through a minimal polled guest stack. The host test
 * (tests/integration/test_vsock.c) runs the servers:
 *
 *   vsock_echo_out: host port 5000 echoes; the guest sends 1 MiB of
 *	vs_pattern(1) and checks what comes back.
 *   vsock_echo_in: the host connects to guest port 6000 and sends 1 MiB;
 *	the guest echoes every packet back from its own rx buffer (no copy).
 *   vsock_stall: host port 7000 accepts and never reads; the guest fills
 *	that connection up to its credit, then 64 KiB still echo on port 7001.
 *
 * Ring 0 is emulated here (~2M instructions/s): data moves with rep movsb,
 * is checked with repe cmpsq, and the pattern is written a qword at a time.
 * Byte k of vs_pattern(seed) is byte k % 8 (LE) of seed ^ ((k / 8) * GOLD).
 */
#include "hw.h"

#include <linux/virtio_vsock.h>

#define VS_DEVICE 0x1053 /* 0x1040 + 19 */
#define VS_HOST_CID 2
#define VS_HDR 44
#define VS_RXBUF (64 * 1024)
#define VS_BUF_ALLOC (128 * 1024) /* our credit for the host */
#define VS_CHUNK (32 * 1024)
#define VS_TOTAL (1024 * 1024)
#define VS_NCONN 4
#define VS_POLLS 1000000UL
#define GOLD 0x9e3779b97f4a7c15ULL

struct vconn {
	bool used, open;
	bool peer_shut; /* the host sent SHUTDOWN */
	uint32_t lport, pport;
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	uint32_t fwd_cnt, fwd_sent;
};

struct vs {
	struct vdev d;
	struct vq *rx, *tx;
	uint64_t cid;
	uint16_t rx_kicked; /* rx avail_idx at the last kick */
	bool tx_busy[VQ_RING / 2];
	int tx_lent[VQ_RING / 2]; /* the rx buffer a tx slot carries, or -1 */
	unsigned int tx_next;
	struct vconn c[VS_NCONN];
	unsigned int packets;
};

static uint8_t rxbufs[VQ_RING][VS_RXBUF] __attribute__((aligned(4096)));
static struct virtio_vsock_hdr txhdr[VQ_RING / 2] __attribute__((aligned(64)));
static uint64_t src[VS_TOTAL / 8] __attribute__((aligned(4096)));
static uint64_t dst[VS_TOTAL / 8] __attribute__((aligned(4096)));
static struct vs vs0;

static void vs_fill(uint64_t *q, size_t nq, uint64_t seed)
{
	uint64_t x = 0;

	for (size_t i = 0; i < nq; i++, x += GOLD)
		q[i] = seed ^ x;
}

static void copy_bytes(void *d, const void *s, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

/* Index of the first differing qword, or nq. */
static size_t cmp_qwords(const uint64_t *a, const uint64_t *b, size_t nq)
{
	const uint64_t *pa = a, *pb = b;
	size_t n = nq;
	uint8_t ne;

	if (!nq)
		return 0;
	__asm__ volatile("repe cmpsq; setne %3"
			 : "+S"(pa), "+D"(pb), "+c"(n), "=r"(ne)
			 :
			 : "memory", "cc");
	return ne ? (size_t)(pa - a) - 1 : nq;
}

static void rx_post(struct vs *s, unsigned int i)
{
	struct vq *q = s->rx;

	q->avail->ring[q->avail_idx % q->size] = (uint16_t)i;
	barrier();
	q->avail_idx++;
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
}

static void rx_kick(struct vs *s)
{
	if (s->rx->avail_idx != s->rx_kicked) {
		vq_kick(s->rx, s->rx_kicked);
		s->rx_kicked = s->rx->avail_idx;
	}
}

static void tx_reap(struct vs *s)
{
	struct vq *q = s->tx;

	while (vq_used_ready(q)) {
		uint32_t id = q->used->ring[q->last_used % q->size].id / 2;

		q->last_used++;
		if (id >= VQ_RING / 2)
			continue;
		s->tx_busy[id] = false;
		if (s->tx_lent[id] >= 0)
			rx_post(s, (unsigned int)s->tx_lent[id]);
		s->tx_lent[id] = -1;
	}
}

static bool tx_slot_free(struct vs *s)
{
	tx_reap(s);
	return !s->tx_busy[s->tx_next];
}

static uint32_t credit(const struct vconn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static void hdr_fill(struct vs *s, struct vconn *c, struct virtio_vsock_hdr *h, uint16_t op,
		     uint32_t flags, uint32_t len)
{
	h->src_cid = s->cid;
	h->dst_cid = VS_HOST_CID;
	h->src_port = c->lport;
	h->dst_port = c->pport;
	h->len = len;
	h->type = VIRTIO_VSOCK_TYPE_STREAM;
	h->op = op;
	h->flags = flags;
	h->buf_alloc = VS_BUF_ALLOC;
	h->fwd_cnt = c->fwd_cnt;
	c->fwd_sent = c->fwd_cnt;
	c->tx_cnt += len;
}

/*
 * Send a packet: @data (@len bytes) after a header of our own, or, with
 * @lent >= 0, rx buffer @lent whose header is rewritten in place. Waits
 * (bounded) for a free tx slot. Returns 0 or -1.
 */
static int tx_send(struct vs *s, struct vconn *c, uint16_t op, uint32_t flags, const void *data,
		   uint32_t len, int lent)
{
	struct vq *q = s->tx;
	unsigned int j;
	uint16_t old = q->avail_idx, d0;

	for (unsigned long i = 0; !tx_slot_free(s); i++) {
		if (i == VS_POLLS) {
			snprintf(virtio_err, sizeof(virtio_err), "no tx slot came back");
			return -1;
		}
		cpu_relax();
	}
	j = s->tx_next;
	s->tx_next = (j + 1) % (VQ_RING / 2);
	d0 = (uint16_t)(2 * j);
	if (lent >= 0) {
		struct virtio_vsock_hdr *h = (struct virtio_vsock_hdr *)rxbufs[lent];

		hdr_fill(s, c, h, op, flags, len);
		q->desc[d0] = (struct vring_desc){ (uintptr_t)h, VS_HDR + len, 0, 0 };
	} else {
		hdr_fill(s, c, &txhdr[j], op, flags, len);
		q->desc[d0] = (struct vring_desc){ (uintptr_t)&txhdr[j], VS_HDR,
						   len ? VRING_DESC_F_NEXT : 0, d0 + 1 };
		q->desc[d0 + 1] = (struct vring_desc){ (uintptr_t)data, len, 0, 0 };
	}
	s->tx_busy[j] = true;
	s->tx_lent[j] = lent;
	q->avail->ring[q->avail_idx % q->size] = d0;
	barrier();
	q->avail_idx++;
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
	vq_kick(q, old);
	return 0;
}

static int vs_open(const char *t, struct vs *s)
{
	uint32_t bdf;

	memset(s, 0, sizeof(*s));
	for (unsigned int j = 0; j < VQ_RING / 2; j++)
		s->tx_lent[j] = -1;
	if (pci_find(0x1af4, VS_DEVICE, &bdf, 1) != 1) {
		fail(t, "no virtio-vsock PCI function (1af4:%04x)", VS_DEVICE);
		return -1;
	}
	if (vdev_probe(&s->d, bdf) || vdev_negotiate(&s->d, 1ULL << 0, 0) ||
	    vdev_setup_vq(&s->d, 0, VIRTIO_MSI_NO_VECTOR) ||
	    vdev_setup_vq(&s->d, 1, VIRTIO_MSI_NO_VECTOR) ||
	    vdev_setup_vq(&s->d, 2, VIRTIO_MSI_NO_VECTOR) || vdev_driver_ok(&s->d)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	s->cid = vdev_cfg64(&s->d, 0);
	s->rx = &s->d.vqs[0];
	s->tx = &s->d.vqs[1];
	if (s->rx->size != VQ_RING || s->tx->size != VQ_RING) {
		fail(t, "queue sizes %u/%u, want %u", s->rx->size, s->tx->size, VQ_RING);
		return -1;
	}
	for (unsigned int i = 0; i < VQ_RING; i++)
		s->rx->desc[i] = (struct vring_desc){ (uintptr_t)rxbufs[i], VS_RXBUF,
						      VRING_DESC_F_WRITE, 0 };
	for (unsigned int i = 0; i < VQ_RING; i++)
		rx_post(s, i);
	rx_kick(s);
	printf("VSOCK cid %llu features 0x%llx\n", (unsigned long long)s->cid,
	       (unsigned long long)s->d.features);
	return 0;
}

/*
 * The next rx packet within @polls: its buffer index, header and
 * connection (NULL: none matches); credit is taken from the header.
 * Returns 0, or -1 on timeout or a malformed packet (@why says which).
 */
static int vs_recv(struct vs *s, unsigned long polls, unsigned int *idx,
		   struct virtio_vsock_hdr **hp, struct vconn **cp, char *why, size_t whylen)
{
	struct vq *q = s->rx;
	struct virtio_vsock_hdr *h;
	uint32_t id, len;

	rx_kick(s);
	for (unsigned long i = 0;; i++) {
		if (vq_used_ready(q))
			break;
		if (i == polls) {
			snprintf(why, whylen, "timeout");
			return -1;
		}
		tx_reap(s);
		rx_kick(s);
		cpu_relax();
	}
	barrier();
	id = q->used->ring[q->last_used % q->size].id;
	len = q->used->ring[q->last_used % q->size].len;
	q->last_used++;
	if (id >= VQ_RING || len < VS_HDR || len > VS_RXBUF) {
		snprintf(why, whylen, "rx used id %u len %u", id, len);
		return -1;
	}
	h = (struct virtio_vsock_hdr *)rxbufs[id];
	if (h->src_cid != VS_HOST_CID || h->dst_cid != s->cid || h->len != len - VS_HDR ||
	    h->type != VIRTIO_VSOCK_TYPE_STREAM) {
		snprintf(why, whylen, "bad header: cid %llu -> %llu len %u (used %u) type %u op %u",
			 (unsigned long long)h->src_cid, (unsigned long long)h->dst_cid, h->len,
			 len, h->type, h->op);
		return -1;
	}
	*idx = id;
	*hp = h;
	*cp = NULL;
	s->packets++;
	for (unsigned int k = 0; k < VS_NCONN; k++) {
		struct vconn *c = &s->c[k];

		if (c->used && c->lport == h->dst_port && c->pport == h->src_port) {
			c->peer_buf_alloc = h->buf_alloc;
			c->peer_fwd_cnt = h->fwd_cnt;
			*cp = c;
			break;
		}
	}
	return 0;
}

/*
 * Handle a packet the caller did not consume: credit traffic, RSTs and
 * SHUTDOWNs are noted; the buffer goes back to the rx ring. Returns -1
 * when the packet is an error for an open connection.
 */
static int vs_default(struct vs *s, unsigned int idx, struct virtio_vsock_hdr *h, struct vconn *c,
		      char *why, size_t whylen)
{
	int rc = 0;

	if (c && h->op == VIRTIO_VSOCK_OP_CREDIT_REQUEST &&
	    tx_send(s, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, -1))
		rc = -1;
	if (c && h->op == VIRTIO_VSOCK_OP_RST) {
		snprintf(why, whylen, "RST on port %u -> %u", c->lport, c->pport);
		c->open = false;
		rc = -1;
	}
	if (c && h->op == VIRTIO_VSOCK_OP_SHUTDOWN)
		c->peer_shut = true;
	rx_post(s, idx);
	return rc;
}

/* Count @n consumed bytes; tell the host when a quarter of our credit came back. */
static int consumed(struct vs *s, struct vconn *c, uint32_t n)
{
	c->fwd_cnt += n;
	if (c->fwd_cnt - c->fwd_sent >= VS_BUF_ALLOC / 4)
		return tx_send(s, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, -1);
	return 0;
}

static struct vconn *vs_connect(const char *t, struct vs *s, uint32_t lport, uint32_t pport)
{
	struct vconn *c = NULL;
	char why[160];

	for (unsigned int k = 0; k < VS_NCONN && !c; k++)
		if (!s->c[k].used)
			c = &s->c[k];
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->lport = lport;
	c->pport = pport;
	if (tx_send(s, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0, -1)) {
		fail(t, "REQUEST to port %u: %s", pport, virtio_err);
		return NULL;
	}
	for (;;) {
		struct virtio_vsock_hdr *h;
		struct vconn *pc;
		unsigned int idx;

		if (vs_recv(s, VS_POLLS, &idx, &h, &pc, why, sizeof(why))) {
			fail(t, "connect to host port %u: %s", pport, why);
			return NULL;
		}
		if (pc == c && h->op == VIRTIO_VSOCK_OP_RESPONSE) {
			c->open = true;
			rx_post(s, idx);
			return c;
		}
		if (pc == c && h->op == VIRTIO_VSOCK_OP_RST) {
			fail(t, "connect to host port %u: RST (is the host listening on _%u?)",
			     pport, pport);
			return NULL;
		}
		if (vs_default(s, idx, h, pc, why, sizeof(why))) {
			fail(t, "while connecting to port %u: %s", pport, why);
			return NULL;
		}
	}
}

/* Send src[0, total) on @c and expect it back into dst. Returns 0 or -1 (failed). */
static int echo_out(const char *t, struct vs *s, struct vconn *c, uint32_t total)
{
	const uint8_t *sp = (const uint8_t *)src;
	uint8_t *dp = (uint8_t *)dst;
	uint32_t sent = 0, got = 0;
	char why[160];
	size_t bad;

	while (got < total) {
		struct virtio_vsock_hdr *h;
		struct vconn *pc;
		unsigned int idx;

		while (sent < total && credit(c) && tx_slot_free(s)) {
			uint32_t n = total - sent < VS_CHUNK ? total - sent : VS_CHUNK;

			if (n > credit(c))
				n = credit(c);
			if (tx_send(s, c, VIRTIO_VSOCK_OP_RW, 0, sp + sent, n, -1)) {
				fail(t, "send at %u: %s", sent, virtio_err);
				return -1;
			}
			sent += n;
		}
		if (vs_recv(s, VS_POLLS, &idx, &h, &pc, why, sizeof(why))) {
			fail(t, "sent %u, received %u of %u, credit %u: %s", sent, got, total,
			     credit(c), why);
			return -1;
		}
		if (pc == c && h->op == VIRTIO_VSOCK_OP_RW) {
			if (h->len > total - got) {
				fail(t, "%u bytes came back after %u of %u", h->len, got, total);
				return -1;
			}
			copy_bytes(dp + got, rxbufs[idx] + VS_HDR, h->len);
			got += h->len;
			rx_post(s, idx);
			if (consumed(s, c, h->len)) {
				fail(t, "credit update: %s", virtio_err);
				return -1;
			}
			continue;
		}
		if (vs_default(s, idx, h, pc, why, sizeof(why)) || (pc == c && c->peer_shut)) {
			fail(t, "sent %u, received %u of %u: %s", sent, got, total,
			     c->peer_shut ? "SHUTDOWN from the host" : why);
			return -1;
		}
	}
	bad = cmp_qwords(src, dst, total / 8);
	if (bad != total / 8) {
		fail(t, "echoed data differ at qword %zu: 0x%llx, want 0x%llx", bad,
		     (unsigned long long)dst[bad], (unsigned long long)src[bad]);
		return -1;
	}
	return 0;
}

/* SHUTDOWN both ways; the device answers RST. */
static void vs_close(struct vs *s, struct vconn *c)
{
	char why[160];

	if (tx_send(s, c, VIRTIO_VSOCK_OP_SHUTDOWN,
		    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0, -1))
		return;
	for (int k = 0; k < 64; k++) {
		struct virtio_vsock_hdr *h;
		struct vconn *pc;
		unsigned int idx;

		if (vs_recv(s, VS_POLLS / 4, &idx, &h, &pc, why, sizeof(why)))
			break;
		vs_default(s, idx, h, pc, why, sizeof(why));
		if (pc == c && h->op == VIRTIO_VSOCK_OP_RST)
			break;
	}
	c->used = c->open = false;
}

void test_vsock_echo_out(const struct boot_params *bp)
{
	const char *t = "vsock_echo_out";
	struct vs *s = &vs0;
	struct vconn *c;

	(void)bp;
	vs_fill(src, VS_TOTAL / 8, 1);
	if (vs_open(t, s))
		return;
	c = vs_connect(t, s, 1024, 5000);
	if (!c || echo_out(t, s, c, VS_TOTAL))
		return;
	vs_close(s, c);
	printf("VSOCK echo_out %u bytes, %u rx packets\n", VS_TOTAL, s->packets);
	pass(t);
}

void test_vsock_echo_in(const struct boot_params *bp)
{
	const char *t = "vsock_echo_in";
	struct vs *s = &vs0;
	struct vconn *c = &s->c[0];
	int pend[VQ_RING]; /* rx buffers waiting for credit, in order */
	unsigned int npend = 0;
	uint32_t echoed = 0;
	char why[160];

	(void)bp;
	if (vs_open(t, s))
		return;
	for (;;) {
		struct virtio_vsock_hdr *h;
		struct vconn *pc;
		unsigned int idx;

		/* Echo what credit allows, oldest first. */
		while (npend && c->open) {
			struct virtio_vsock_hdr *ph = (struct virtio_vsock_hdr *)rxbufs[pend[0]];
			uint32_t n = ph->len;

			if (credit(c) < n || !tx_slot_free(s))
				break;
			c->fwd_cnt += n;
			if (tx_send(s, c, VIRTIO_VSOCK_OP_RW, 0, NULL, n, pend[0])) {
				fail(t, "echo: %s", virtio_err);
				return;
			}
			echoed += n;
			for (unsigned int k = 1; k < npend; k++)
				pend[k - 1] = pend[k];
			npend--;
		}
		if (c->open && c->peer_shut && !npend)
			break;
		if (vs_recv(s, VS_POLLS, &idx, &h, &pc, why, sizeof(why))) {
			fail(t, "echoed %u bytes, %u packets waiting (credit %u): %s", echoed,
			     npend, c->used ? credit(c) : 0, why);
			return;
		}
		if (!c->used && h->op == VIRTIO_VSOCK_OP_REQUEST) {
			if (h->dst_port != 6000) {
				fail(t, "REQUEST for port %u, want 6000", h->dst_port);
				return;
			}
			*c = (struct vconn){ .used = true,
					     .open = true,
					     .lport = h->dst_port,
					     .pport = h->src_port,
					     .peer_buf_alloc = h->buf_alloc,
					     .peer_fwd_cnt = h->fwd_cnt };
			printf("VSOCK request from host port %u\n", c->pport);
			rx_post(s, idx);
			if (tx_send(s, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0, -1)) {
				fail(t, "RESPONSE: %s", virtio_err);
				return;
			}
			continue;
		}
		if (pc == c && h->op == VIRTIO_VSOCK_OP_RW && h->len) {
			pend[npend++] = (int)idx; /* at most VQ_RING buffers exist */
			continue;
		}
		if (vs_default(s, idx, h, pc, why, sizeof(why))) {
			fail(t, "echoed %u: %s", echoed, why);
			return;
		}
	}
	/* Let the echo reach the device before the SHUTDOWN that ends it. */
	vs_close(s, c);
	printf("VSOCK echo_in %u bytes, %u rx packets\n", echoed, s->packets);
	if (echoed != VS_TOTAL) {
		fail(t, "echoed %u bytes, want %u", echoed, VS_TOTAL);
		return;
	}
	pass(t);
}

void test_vsock_stall(const struct boot_params *bp)
{
	const char *t = "vsock_stall";
	struct vs *s = &vs0;
	struct vconn *a, *b;
	uint32_t sent = 0;
	char why[160];

	(void)bp;
	vs_fill(src, VS_TOTAL / 8, 1);
	if (vs_open(t, s))
		return;
	a = vs_connect(t, s, 1030, 7000);
	if (!a)
		return;
	b = vs_connect(t, s, 1031, 7001);
	if (!b)
		return;
	/* Fill A until the device's credit runs out and stays out. */
	for (;;) {
		struct virtio_vsock_hdr *h;
		struct vconn *pc;
		unsigned int idx;

		while (credit(a) && tx_slot_free(s) && sent < VS_TOTAL) {
			uint32_t n = credit(a) < VS_CHUNK ? credit(a) : VS_CHUNK;

			if (n > VS_TOTAL - sent)
				n = VS_TOTAL - sent;
			if (tx_send(s, a, VIRTIO_VSOCK_OP_RW, 0, (const uint8_t *)src + sent, n,
				    -1)) {
				fail(t, "send on A: %s", virtio_err);
				return;
			}
			sent += n;
		}
		if (sent == VS_TOTAL) {
			fail(t, "the device took all %u bytes for a socket that never reads", sent);
			return;
		}
		if (vs_recv(s, 50000, &idx, &h, &pc, why, sizeof(why)))
			break; /* quiet: A is stalled */
		if (vs_default(s, idx, h, pc, why, sizeof(why))) {
			fail(t, "A after %u bytes: %s", sent, why);
			return;
		}
	}
	printf("VSOCK stall A took %u bytes, credit %u\n", sent, credit(a));
	if (echo_out(t, s, b, 64 * 1024))
		return;
	vs_close(s, b);
	printf("VSOCK stall B echoed 65536 bytes\n");
	pass(t);
}

/*
 * vsock_reset: host peers that go away mid-stream (the host half is
 * tests/integration/test_fault.c):
 *   1. host port 8000 reads a little and closes its socket; the guest sends
 *	until the connection ends: "VSOCK out reset after <n> op <op>";
 *   2. a new connection to host port 8001 echoes 64 KiB;
 *   3. "VSOCK listen 1": the host connects to guest port 6001; the guest
 *	accepts, prints "VSOCK idle" and halts for 3 s (PIT at 20 Hz) without
 *	reading, while the host sends more than the guest's credit and
 *	closes, and connects to guest port 6002 and closes before the guest
 *	could answer; then the guest takes what came on 6001 until the end:
 *	"VSOCK in 1 ended after <n> op <op>";
 *   4. "VSOCK listen 2": again, and the host sends 64 KiB and shuts down:
 *	"VSOCK in 2 ended after 65536 op <op>".
 */

/* The connection ended: RST, or SHUTDOWN answered with our own SHUTDOWN. */
static void vs_ended(struct vs *s, struct vconn *c, uint16_t op)
{
	if (op == VIRTIO_VSOCK_OP_SHUTDOWN)
		vs_close(s, c);
	c->used = c->open = false;
}

/* Sends until the peer ends @c; returns the op that ended it, or -1 (failed). */
static int send_until_reset(const char *t, struct vs *s, struct vconn *c, uint32_t *sentp)
{
	const uint8_t *sp = (const uint8_t *)src;
	uint32_t sent = 0;
	char why[160];

	for (;;) {
		struct virtio_vsock_hdr *h;
		struct vconn *pc;
		unsigned int idx;
		uint16_t op;

		while (credit(c) && tx_slot_free(s) && sent < 16 * VS_TOTAL) {
			uint32_t n = credit(c) < VS_CHUNK ? credit(c) : VS_CHUNK;

			if (tx_send(s, c, VIRTIO_VSOCK_OP_RW, 0, sp + sent % VS_TOTAL, n, -1)) {
				fail(t, "send at %u: %s", sent, virtio_err);
				return -1;
			}
			sent += n;
		}
		*sentp = sent;
		if (vs_recv(s, VS_POLLS, &idx, &h, &pc, why, sizeof(why))) {
			fail(t, "sent %u bytes (credit %u) and the host's close never came: %s",
			     sent, credit(c), why);
			return -1;
		}
		op = h->op;
		vs_default(s, idx, h, pc, why, sizeof(why));
		if (pc == c && (op == VIRTIO_VSOCK_OP_RST || op == VIRTIO_VSOCK_OP_SHUTDOWN))
			return op;
	}
}

static volatile unsigned int idle_ticks;

static void idle_tick(struct irq_frame *f)
{
	(void)f;
	idle_ticks++;
	pic_eoi(0);
}

/* Halts for about @n 50 ms PIT ticks: a guest that does nothing. */
static void idle(const char *t, unsigned int n)
{
	idt_install(t);
	idt_set_handler(0x20, idle_tick);
	pic_init(1 << 0);
	pit_start(20);
	idle_ticks = 0;
	while (idle_ticks < n)
		sti_hlt();
	cli();
	pit_stop();
	pic_init(0);
}

/*
 * Waits for the host to connect to guest port @port, takes everything it
 * sends until it ends the connection; returns that op, or -1 (failed).
 * With @idle_after_accept, the guest idles (see idle()) once it accepted.
 */
static int accept_drain(const char *t, struct vs *s, uint32_t port, uint32_t *got,
			bool idle_after_accept)
{
	struct vconn *c = &s->c[0];
	unsigned int quiet = 0;
	char why[160];

	*got = 0;
	for (;;) {
		struct virtio_vsock_hdr *h;
		struct vconn *pc;
		unsigned int idx;
		uint16_t op;

		if (vs_recv(s, VS_POLLS, &idx, &h, &pc, why, sizeof(why))) {
			if (++quiet < 10)
				continue;
			fail(t, "port %u: got %u bytes, then: %s", port, *got, why);
			return -1;
		}
		quiet = 0;
		op = h->op;
		if (!c->used && op == VIRTIO_VSOCK_OP_REQUEST && h->dst_port == port) {
			*c = (struct vconn){ .used = true,
					     .open = true,
					     .lport = h->dst_port,
					     .pport = h->src_port,
					     .peer_buf_alloc = h->buf_alloc,
					     .peer_fwd_cnt = h->fwd_cnt };
			rx_post(s, idx);
			if (tx_send(s, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0, -1)) {
				fail(t, "RESPONSE: %s", virtio_err);
				return -1;
			}
			if (idle_after_accept) {
				printf("VSOCK idle\n");
				idle(t, 60);
			}
			continue;
		}
		if (pc == c && op == VIRTIO_VSOCK_OP_RW) {
			*got += h->len;
			rx_post(s, idx);
			if (consumed(s, c, h->len)) {
				fail(t, "credit update: %s", virtio_err);
				return -1;
			}
			continue;
		}
		vs_default(s, idx, h, pc, why, sizeof(why));
		if (pc == c && (op == VIRTIO_VSOCK_OP_RST || op == VIRTIO_VSOCK_OP_SHUTDOWN)) {
			vs_ended(s, c, op);
			return op;
		}
	}
}

void test_vsock_reset(const struct boot_params *bp)
{
	const char *t = "vsock_reset";
	struct vs *s = &vs0;
	struct vconn *c;
	uint32_t n;
	int op;

	(void)bp;
	vs_fill(src, VS_TOTAL / 8, 1);
	if (vs_open(t, s))
		return;
	c = vs_connect(t, s, 1040, 8000);
	if (!c || (op = send_until_reset(t, s, c, &n)) < 0)
		return;
	printf("VSOCK out reset after %u op %d\n", n, op);
	vs_ended(s, c, (uint16_t)op);
	c = vs_connect(t, s, 1041, 8001);
	if (!c || echo_out(t, s, c, 64 * 1024))
		return;
	vs_close(s, c);
	printf("VSOCK echo 65536 ok\n");
	for (unsigned int round = 1; round <= 2; round++) {
		printf("VSOCK listen %u\n", round);
		if ((op = accept_drain(t, s, 6001, &n, round == 1)) < 0)
			return;
		printf("VSOCK in %u ended after %u op %d\n", round, n, op);
	}
	pass(t);
}
