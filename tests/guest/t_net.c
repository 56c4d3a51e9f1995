// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-net through the virtio-pci driver of virtio.c, against the host
 * kernel on the other side of the TAP (tests/integration/test_net.c runs
 * `cvm run --host_ip 10.0.2.2 --netmask 255.255.255.0` in a network
 * namespace of its own). The guest is 10.0.2.15.
 *
 *   net:	ARP request for the host -> "NET ARP ok"; ICMP echo -> "NET PING ok".
 *   net_tso:	one 20 KiB TCP segment with GSO type TCPV4 (HOST_TSO4); the
 *		host test sees it whole on a packet socket.
 *   net_mrg:	MRG_RXBUF with 512-byte buffers: a UDP "hello" to host port
 *		7777, the host answers with a 6000-byte datagram (TAP MTU 9000),
 *		received across several buffers and checked byte by byte.
 *   net_link:	"NET LINK up", a UDP hello; the host deletes the TAP; the
 *		guest sees LINK_UP clear (config generation moved) -> "NET LINK down".
 */
#include "hw.h"

#include <linux/virtio_net.h>

#define RXQ 0
#define TXQ 1
#define HDR 12
#define ETH_HLEN 14
#define RX_BUF 2048
#define RX_SMALL 512
#define TSO_PAYLOAD 20480
#define MRG_PAYLOAD 6000
#define RX_WAIT 4000000UL /* polls of used->idx (~1-2 us each) */

struct net {
	struct vdev d;
	uint8_t mac[6], host_mac[6];
	uint32_t buf_len;
	unsigned int rx_frames;
};

static const uint8_t guest_ip[4] = { 10, 0, 2, 15 };
static const uint8_t host_ip[4] = { 10, 0, 2, 2 };

static uint8_t rxbufs[VQ_RING][RX_BUF] __attribute__((aligned(4096)));
static uint8_t txbuf[HDR + ETH_HLEN + 40 + TSO_PAYLOAD] __attribute__((aligned(4096)));
static uint8_t frame[HDR + 9000] __attribute__((aligned(64)));
static struct net nt;

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += be16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void mac_str(const uint8_t *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int rx_post(struct net *n, uint8_t *buf, bool kick)
{
	struct vq_buf b = { buf, n->buf_len, true };

	return vq_add(&n->d.vqs[RXQ], &b, 1, false, !kick) < 0 ? -1 : 0;
}

static int net_open(const char *t, struct net *n, uint64_t want, uint32_t buf_len)
{
	struct vdev *d = &n->d;
	uint32_t bdf;
	char m[18];

	memset(n, 0, sizeof(*n));
	n->buf_len = buf_len;
	if (pci_find(0x1af4, 0x1041, &bdf, 1) < 1) {
		fail(t, "no virtio-net PCI function (1af4:1041) on bus 0");
		return -1;
	}
	if (vdev_probe(d, bdf) ||
	    vdev_negotiate(d, want | 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS,
			   1ULL << VIRTIO_NET_F_MAC)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	for (unsigned int i = 0; i < 6; i++)
		n->mac[i] = vdev_cfg8(d, offsetof(struct virtio_net_config, mac) + i);
	mac_str(n->mac, m);
	printf("NET mac %s features 0x%llx\n", m, (unsigned long long)d->features);
	if (n->mac[0] & 1) {
		fail(t, "multicast MAC %s in the configuration", m);
		return -1;
	}
	if (vdev_setup_vq(d, RXQ, VIRTIO_MSI_NO_VECTOR) ||
	    vdev_setup_vq(d, TXQ, VIRTIO_MSI_NO_VECTOR) || vdev_driver_ok(d)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	for (unsigned int i = 0; i < d->vqs[RXQ].size; i++)
		if (rx_post(n, rxbufs[i], i + 1 == d->vqs[RXQ].size)) {
			fail(t, "rx buffers: %s", virtio_err);
			return -1;
		}
	return 0;
}

/* Send @len bytes of frame (after the header, which is zeroed here unless @keep_hdr). */
static int net_send(const char *t, struct net *n, uint8_t *buf, size_t len, bool keep_hdr)
{
	struct vq *q = &n->d.vqs[TXQ];
	struct vq_buf b = { buf, (uint32_t)(HDR + len), false };
	uint32_t id, ulen;

	if (!keep_hdr)
		memset(buf, 0, HDR);
	if (vq_add(q, &b, 1, false, false) < 0 || vq_poll(q, &id, &ulen)) {
		fail(t, "tx: %s", virtio_err);
		return -1;
	}
	return 0;
}

/*
 * Receive the next frame (all its buffers) into frame[]; returns its length
 * without the header, or -1 on timeout. Buffers go back to the ring.
 */
static int net_recv(struct net *n, unsigned int *nbufs)
{
	struct vq *q = &n->d.vqs[RXQ];
	uint32_t id, len, total = 0;
	unsigned int nb = 1;

	for (unsigned int i = 0; i < nb; i++) {
		uint8_t *buf;

		if (vq_poll(q, &id, &len))
			return -1;
		if (id >= q->size || len > n->buf_len) {
			snprintf(virtio_err, sizeof(virtio_err), "used id %u len %u", id, len);
			return -1;
		}
		buf = (uint8_t *)(uintptr_t)q->desc[id].addr;
		if (i == 0) {
			const struct virtio_net_hdr_v1 *h = (const void *)buf;

			if (len < HDR) {
				snprintf(virtio_err, sizeof(virtio_err), "used len %u", len);
				return -1;
			}
			nb = vdev_has(&n->d, VIRTIO_NET_F_MRG_RXBUF) ? h->num_buffers : 1;
			if (!nb || nb > q->size) {
				snprintf(virtio_err, sizeof(virtio_err), "num_buffers %u", nb);
				return -1;
			}
		}
		if (total + len <= sizeof(frame))
			memcpy(frame + total, buf, len);
		total += len;
		rx_post(n, buf, true);
	}
	n->rx_frames++;
	*nbufs = nb;
	if (total > sizeof(frame)) {
		snprintf(virtio_err, sizeof(virtio_err), "a frame of %u bytes", total);
		return -1;
	}
	return (int)(total - HDR);
}

static uint8_t *eth_start(uint8_t *buf, const uint8_t *dst, const struct net *n, uint16_t type)
{
	uint8_t *e = buf + HDR;

	memcpy(e, dst, 6);
	memcpy(e + 6, n->mac, 6);
	put16(e + 12, type);
	return e + ETH_HLEN;
}

static int arp_resolve(const char *t, struct net *n)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *a = eth_start(txbuf, bcast, n, 0x0806);
	unsigned int nb;
	char m[18];

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, n->mac, 6);
	memcpy(a + 14, guest_ip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, host_ip, 4);
	if (net_send(t, n, txbuf, ETH_HLEN + 28, false))
		return -1;
	for (int i = 0; i < 32; i++) {
		int len = net_recv(n, &nb);
		const uint8_t *e = frame + HDR, *r = e + ETH_HLEN;

		if (len < 0) {
			fail(t, "no ARP reply: %s", virtio_err);
			return -1;
		}
		if (len < ETH_HLEN + 28 || be16(e + 12) != 0x0806 || be16(r + 6) != 2 ||
		    memcmp(r + 14, host_ip, 4) || memcmp(r + 24, guest_ip, 4))
			continue;
		if (memcmp(e, n->mac, 6)) {
			fail(t, "ARP reply not addressed to our MAC");
			return -1;
		}
		memcpy(n->host_mac, r + 8, 6);
		mac_str(n->host_mac, m);
		printf("NET ARP ok host %s\n", m);
		return 0;
	}
	fail(t, "32 frames and no ARP reply");
	return -1;
}

/* An IPv4 header at @ip for @payload bytes of protocol @proto. */
static void ip_header(uint8_t *ip, uint8_t proto, size_t payload, uint16_t id)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + payload));
	put16(ip + 4, id);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, guest_ip, 4);
	memcpy(ip + 16, host_ip, 4);
	put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, 20)));
}

static int ping(const char *t, struct net *n)
{
	uint8_t *ip = eth_start(txbuf, n->host_mac, n, 0x0800), *ic = ip + 20;
	unsigned int nb;

	ip_header(ip, 1, 8 + 32, 0x4242);
	memset(ic, 0, 8);
	ic[0] = 8;
	put16(ic + 4, 0x1234);
	put16(ic + 6, 1);
	for (int i = 0; i < 32; i++)
		ic[8 + i] = (uint8_t)('a' + i);
	put16(ic + 2, (uint16_t)~csum_fold(csum_add(0, ic, 40)));
	if (net_send(t, n, txbuf, ETH_HLEN + 20 + 40, false))
		return -1;
	for (int i = 0; i < 32; i++) {
		int len = net_recv(n, &nb);
		const uint8_t *e = frame + HDR, *r = e + ETH_HLEN, *icr = r + 20;

		if (len < 0) {
			fail(t, "no ICMP echo reply: %s", virtio_err);
			return -1;
		}
		if (len < ETH_HLEN + 20 + 40 || be16(e + 12) != 0x0800 || r[9] != 1 ||
		    memcmp(r + 12, host_ip, 4) || icr[0] != 0 || be16(icr + 4) != 0x1234)
			continue;
		if (memcmp(icr + 8, ic + 8, 32)) {
			fail(t, "echo reply payload differs");
			return -1;
		}
		if (csum_fold(csum_add(0, icr, 40)) != 0xffff) {
			fail(t, "echo reply checksum is wrong");
			return -1;
		}
		printf("NET PING ok\n");
		return 0;
	}
	fail(t, "32 frames and no ICMP echo reply");
	return -1;
}

void test_net(const struct boot_params *bp)
{
	const char *t = "net";

	(void)bp;
	if (net_open(t, &nt, 0, RX_BUF) || arp_resolve(t, &nt) || ping(t, &nt))
		return;
	pass(t);
}

static uint8_t tso_byte(unsigned int i)
{
	return (uint8_t)(i * 7 + 3);
}

/* A 20 KiB TCP segment to host port @port with a TCPV4 GSO header, in txbuf. */
static void build_tso(struct net *n, uint16_t port)
{
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)txbuf;
	uint8_t *ip = eth_start(txbuf, n->host_mac, n, 0x0800), *tcp = ip + 20, pseudo[12];

	ip_header(ip, 6, 20 + TSO_PAYLOAD, 0x5151);
	memset(tcp, 0, 20);
	put16(tcp, 40000);
	put16(tcp + 2, port);
	put32(tcp + 4, 1000);
	put32(tcp + 8, 1);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18; /* PSH | ACK */
	put16(tcp + 14, 65535);
	for (unsigned int i = 0; i < TSO_PAYLOAD; i++)
		tcp[20 + i] = tso_byte(i);
	/* The pseudo-header sum, not inverted: the host finishes it (NEEDS_CSUM). */
	memcpy(pseudo, guest_ip, 4);
	memcpy(pseudo + 4, host_ip, 4);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, 20 + TSO_PAYLOAD);
	put16(tcp + 16, csum_fold(csum_add(0, pseudo, 12)));
	memset(h, 0, HDR);
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr_len = ETH_HLEN + 40;
	h->gso_size = 1448;
	h->csum_start = ETH_HLEN + 20;
	h->csum_offset = 16;
}

#define TSO_WANT (1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_HOST_TSO4)

void test_net_tso(const struct boot_params *bp)
{
	const char *t = "net_tso";

	(void)bp;
	if (net_open(t, &nt, TSO_WANT, RX_BUF) || arp_resolve(t, &nt))
		return;
	if ((nt.d.features & TSO_WANT) != TSO_WANT) {
		fail(t, "CSUM and HOST_TSO4 not offered (features 0x%llx)",
		     (unsigned long long)nt.d.features);
		return;
	}
	build_tso(&nt, 5555);
	if (net_send(t, &nt, txbuf, ETH_HLEN + 40 + TSO_PAYLOAD, true))
		return;
	printf("NET TSO sent %u bytes\n", ETH_HLEN + 40 + TSO_PAYLOAD);
	pass(t);
}

/* Send the frame in @buf @count times, up to 8 chains per kick. */
static int send_many(const char *t, struct net *n, uint8_t *buf, size_t len, unsigned int count)
{
	struct vq *q = &n->d.vqs[TXQ];
	struct vq_buf b = { buf, (uint32_t)(HDR + len), false };
	unsigned int sent = 0, done = 0;
	uint32_t id, ulen;

	while (done < count) {
		uint16_t old = q->avail_idx;
		unsigned int batch = 0;

		while (sent < count && sent - done < q->size && batch < 8) {
			if (vq_add(q, &b, 1, false, true) < 0) {
				fail(t, "tx: %s", virtio_err);
				return -1;
			}
			sent++;
			batch++;
		}
		if (batch)
			vq_kick(q, old);
		if (vq_poll(q, &id, &ulen)) {
			fail(t, "tx: %s", virtio_err);
			return -1;
		}
		done++;
		while (vq_used_ready(q) && !vq_poll(q, &id, &ulen))
			done++;
	}
	return 0;
}

/* net_bench: 256 TSO segments to port 5556, then 1024 small UDP frames to port 9. */
void test_net_bench(const struct boot_params *bp)
{
	const char *t = "net_bench";
	uint8_t *ip, *u;

	(void)bp;
	if (net_open(t, &nt, TSO_WANT, RX_BUF) || arp_resolve(t, &nt))
		return;
	if ((nt.d.features & TSO_WANT) != TSO_WANT) {
		fail(t, "CSUM and HOST_TSO4 not offered");
		return;
	}
	build_tso(&nt, 5556);
	if (send_many(t, &nt, txbuf, ETH_HLEN + 40 + TSO_PAYLOAD, 256))
		return;
	printf("NET BENCH tso 256\n");
	ip = eth_start(txbuf, nt.host_mac, &nt, 0x0800);
	u = ip + 20;
	memset(txbuf, 0, HDR);
	ip_header(ip, 17, 8 + 18, 0x7171);
	put16(u, 7778);
	put16(u + 2, 9);
	put16(u + 4, 8 + 18);
	put16(u + 6, 0);
	memset(u + 8, 'x', 18);
	if (send_many(t, &nt, txbuf, ETH_HLEN + 20 + 8 + 18, 1024))
		return;
	printf("NET BENCH small 1024\n");
	pass(t);
}

/* A UDP datagram from guest port 7778 to host port 7777 with @text. */
static int udp_hello(const char *t, struct net *n, const char *text)
{
	uint8_t *ip = eth_start(txbuf, n->host_mac, n, 0x0800), *u = ip + 20;
	size_t len = strlen(text);

	ip_header(ip, 17, 8 + len, 0x6161);
	put16(u, 7778);
	put16(u + 2, 7777);
	put16(u + 4, (uint16_t)(8 + len));
	put16(u + 6, 0); /* no checksum */
	memcpy(u + 8, text, len);
	return net_send(t, n, txbuf, ETH_HLEN + 20 + 8 + len, false);
}

void test_net_mrg(const struct boot_params *bp)
{
	const char *t = "net_mrg";
	unsigned int nb;

	(void)bp;
	if (net_open(t, &nt, 1ULL << VIRTIO_NET_F_MRG_RXBUF, RX_SMALL) || arp_resolve(t, &nt))
		return;
	if (!vdev_has(&nt.d, VIRTIO_NET_F_MRG_RXBUF)) {
		fail(t, "MRG_RXBUF not offered");
		return;
	}
	if (udp_hello(t, &nt, "hello mrg"))
		return;
	for (int i = 0; i < 32; i++) {
		int len = net_recv(&nt, &nb);
		const uint8_t *e = frame + HDR, *r = e + ETH_HLEN, *u = r + 20;

		if (len < 0) {
			fail(t, "no big datagram: %s", virtio_err);
			return;
		}
		if (len < ETH_HLEN + 28 || be16(e + 12) != 0x0800 || r[9] != 17 ||
		    be16(u) != 7777 || be16(u + 2) != 7778)
			continue;
		if (be16(u + 4) != 8 + MRG_PAYLOAD || len != ETH_HLEN + 28 + MRG_PAYLOAD) {
			fail(t, "datagram of %u bytes in a %d-byte frame, want %u", be16(u + 4) - 8,
			     len, MRG_PAYLOAD);
			return;
		}
		for (unsigned int k = 0; k < MRG_PAYLOAD; k++) {
			if (u[8 + k] != (uint8_t)(k * 13 + 5)) {
				fail(t, "byte %u is 0x%02x, want 0x%02x", k, u[8 + k],
				     (uint8_t)(k * 13 + 5));
				return;
			}
		}
		if (nb < 2) {
			fail(t, "a %d-byte frame in %u buffer(s) of %u bytes", len, nb, RX_SMALL);
			return;
		}
		printf("NET MRG ok %d bytes in %u buffers\n", len, nb);
		pass(t);
		return;
	}
	fail(t, "32 frames and no big datagram");
}

void test_net_link(const struct boot_params *bp)
{
	const char *t = "net_link";
	unsigned int off = offsetof(struct virtio_net_config, status);
	uint8_t gen;

	(void)bp;
	if (net_open(t, &nt, 0, RX_BUF))
		return;
	if (!vdev_has(&nt.d, VIRTIO_NET_F_STATUS)) {
		fail(t, "STATUS not offered");
		return;
	}
	if (!(vdev_cfg16(&nt.d, off) & VIRTIO_NET_S_LINK_UP)) {
		fail(t, "link down at start");
		return;
	}
	gen = mmio_read8(nt.d.common + offsetof(struct virtio_pci_common_cfg, config_generation));
	printf("NET LINK up\n");
	if (arp_resolve(t, &nt) || udp_hello(t, &nt, "delete the tap"))
		return;
	/* The host deletes the TAP now; poll the status about every 20 ms for ~20 s. */
	for (int i = 0; i < 1000; i++) {
		if (!(vdev_cfg16(&nt.d, off) & VIRTIO_NET_S_LINK_UP)) {
			uint8_t g = mmio_read8(nt.d.common + offsetof(struct virtio_pci_common_cfg,
								      config_generation));

			if (g == gen) {
				fail(t, "link down but config_generation still %u", g);
				return;
			}
			printf("NET LINK down\n");
			/* Sending still works (the frame is dropped), and nothing hangs. */
			if (udp_hello(t, &nt, "into the void"))
				return;
			pass(t);
			return;
		}
		delay_loops(20000);
	}
	fail(t, "the link stayed up");
}

/*
 * net_gone: as net_link, then, with the TAP gone: sends a frame (dropped),
 * checks that the disk (vda) still reads and writes, prints "NET GONE
 * idle", passes and halts with interrupts off, so that the host can
 * measure what cvm burns with a dead TAP, and stop it.
 */
void test_net_gone(const struct boot_params *bp)
{
	const char *t = "net_gone";
	unsigned int off = offsetof(struct virtio_net_config, status);

	(void)bp;
	if (net_open(t, &nt, 0, RX_BUF))
		return;
	if (!vdev_has(&nt.d, VIRTIO_NET_F_STATUS)) {
		fail(t, "STATUS not offered");
		return;
	}
	printf("NET LINK up\n");
	if (arp_resolve(t, &nt) || udp_hello(t, &nt, "delete the tap"))
		return;
	for (int i = 0;; i++) {
		if (!(vdev_cfg16(&nt.d, off) & VIRTIO_NET_S_LINK_UP))
			break;
		if (i == 1000) {
			fail(t, "the link stayed up");
			return;
		}
		delay_loops(20000);
	}
	printf("NET LINK down\n");
	if (udp_hello(t, &nt, "into the void") || fault_blk_check(t))
		return;
	printf("NET GONE idle\n");
	pass(t);
	cli();
	for (;;)
		__asm__ volatile("hlt");
}
