// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz target: virtio-net frames and headers. A net_dev is created once
 * over a fake TAP (one end of an AF_UNIX SOCK_SEQPACKET pair: one message
 * per frame, as a TAP reads and writes them); for every input the device
 * is reset and activated with features from the input, its tx and rx
 * queues are rings built from the input, and the transport's queue_notify
 * runs them: transmitted frames come out of the other end of the pair,
 * frames from the input go in and are delivered into the rx ring.
 *
 * Invariants: every frame that reaches the TAP has a header that
 * net_tx_hdr_check() accepts and a length within limits; a header
 * net_rx_hdr_fixup() accepts is consistent with the features;
 * net_config_check() either accepts or gives a message.
 *
 * Input: u64 features, the tx ring (fz_vq_build()), the rx ring
 * (fz_vq_build_at(FZ_VQ2)), u8 frame count (mod 8) and per frame u16
 * length + bytes (header included), then NUL-separated strings host_ip,
 * netmask, mac, tap_name for net_config_check() ("" is NULL).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "virtio/net.h"

#define MAX_FRAMES 8

static struct net_dev *net;
static int peer = -1;
static uint8_t frame[NET_HDR_LEN + NET_MAX_FRAME + 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void setup(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	struct cvm_errbuf err;
	struct tap t = { .owned = true, .name = "fuzztap0" };
	int sv[2];

	FZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
		 "socketpair");
	t.fd = sv[0];
	peer = sv[1];
	FZ_CHECK(net_dev_create(&net, &t, mac, fz_env(), &err) == 0, "net_dev_create: %s", err.msg);
}

static void check_headers(const uint8_t *p, size_t len, uint64_t features)
{
	struct virtio_net_hdr_v1 h;

	if (len < sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	if (!net_tx_hdr_check(&h, features, len - sizeof(h))) {
		FZ_CHECK(!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
				 (uint64_t)h.csum_start + h.csum_offset + 2 <= len - sizeof(h),
			 "checksum at %u+%u outside a %zu-byte frame", h.csum_start, h.csum_offset,
			 len - sizeof(h));
		FZ_CHECK(h.gso_type == VIRTIO_NET_HDR_GSO_NONE || h.gso_size,
			 "GSO type %u with gso_size 0", h.gso_type);
	}
	if (!net_rx_hdr_fixup(&h, features, 3)) {
		FZ_CHECK(h.num_buffers == 3, "num_buffers %u", h.num_buffers);
		if (!(features & (1ULL << VIRTIO_NET_F_GUEST_CSUM)))
			FZ_CHECK(!h.flags && h.gso_type == VIRTIO_NET_HDR_GSO_NONE,
				 "offload flags 0x%x / GSO %u without GUEST_CSUM", h.flags,
				 h.gso_type);
	}
}

/* What the device sent to the TAP (all of it: nothing is left for the next input). */
static void drain_tx(uint64_t features)
{
	ssize_t r;

	while ((r = recv(peer, frame, sizeof(frame), MSG_TRUNC)) >= 0) {
		FZ_CHECK(r >= NET_HDR_LEN + 14 && r <= NET_HDR_LEN + NET_MAX_FRAME,
			 "a %zd-byte frame went to the TAP", r);
		FZ_CHECK(net_tx_hdr_check((const struct virtio_net_hdr_v1 *)frame, features,
					  (uint64_t)r - NET_HDR_LEN) == 0,
			 "a frame with a bad header went to the TAP");
	}
}

static const char *next_string(struct fz *f)
{
	const uint8_t *nul = memchr(f->p, 0, f->n);
	const char *s = (const char *)f->p;

	if (!nul)
		return NULL;
	f->n -= (size_t)(nul - f->p) + 1;
	f->p = nul + 1;
	return *s ? s : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint64_t features = fz_u64(&f);
	const struct virtio_dev_ops *ops;
	struct virtq txq, rxq;
	unsigned int nr;

	if (!net)
		setup();
	ops = net->vp.cfg.ops;
	ops->reset(net);
	features &= net->vp.dev_features;
	if (fz_vq_build(&txq, &f) || fz_vq_build_at(&rxq, &f, FZ_VQ2))
		return 0;

	/* What the transport does at DRIVER_OK, and the guest's kicks. */
	net->vp.q[NET_TXQ].vq = txq;
	net->vp.q[NET_RXQ].vq = rxq;
	net->vp.q[NET_TXQ].enable = net->vp.q[NET_RXQ].enable = 1;
	net->vp.live = true;
	ops->activate(net, features);
	FZ_CHECK(ops->queue_notify(net, &net->vp, NET_TXQ) >= -EPROTO, "tx");
	drain_tx(features);

	nr = fz_u8(&f) % MAX_FRAMES;
	for (unsigned int i = 0; i < nr; i++) {
		size_t len = fz_u16(&f);

		fz_bytes(&f, frame, len);
		check_headers(frame, len, features);
		if (send(peer, frame, len, MSG_NOSIGNAL) < 0)
			FZ_CHECK(errno == EAGAIN, "send: %d", errno);
	}
	FZ_CHECK(ops->queue_notify(net, &net->vp, NET_RXQ) >= -EPROTO, "rx");
	/* The worker's wake-up for the TAP fd (never EPOLLERR: that kills the TAP for good). */
	FZ_CHECK(ops->fd_event(net, &net->vp, 0, EPOLLIN | EPOLLOUT) >= -EPROTO, "fd_event");
	drain_tx(features);
	/* Frames not delivered: gone before the next input. */
	while (recv(net->tap.fd, frame, sizeof(frame), 0) >= 0)
		;
	net->vp.live = false;

	{
		cvm_net_config c = CVM_NET_CONFIG_INIT;
		struct cvm_errbuf err = { "" };
		uint8_t mac[6];
		bool have_mac;

		c.host_ip = next_string(&f);
		c.netmask = next_string(&f);
		c.mac = next_string(&f);
		c.tap_name = next_string(&f);
		if (net_config_check(&c, mac, &have_mac, &err))
			FZ_CHECK(err.msg[0], "net_config_check failed without a message");
		else
			FZ_CHECK(have_mac == !!c.mac && (!have_mac || !(mac[0] & 1)),
				 "MAC %s accepted as %02x:...", c.mac ? c.mac : "(none)", mac[0]);
	}
	return 0;
}
