// SPDX-License-Identifier: BSD-3-Clause
/* virtio-net over a TAP device: the rx/tx engine served by virtio-pci. */
#include "virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>

#define VIRTIO_ID_NET 1
#define PCI_CLASS_NETWORK_ETHERNET 0x020000
#define NET_TAG 0
#define ETH_HLEN 14
#define NET_RX_BUDGET 64 /* frames per TAP event before the worker looks elsewhere */

#define BIT(n) (1ULL << (n))

/* Offloads whose TUN_F_* flag the TAP accepted (probed at creation). */
#define NET_GUEST_OFFLOADS                                             \
	(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) | \
	 BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_GUEST_UFO))
#define NET_HOST_OFFLOADS                                                                     \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) | \
	 BIT(VIRTIO_NET_F_HOST_ECN) | BIT(VIRTIO_NET_F_HOST_UFO))

static bool has(uint64_t features, unsigned int bit)
{
	return features & BIT(bit);
}

unsigned int net_tun_offloads(uint64_t f)
{
	unsigned int fl = 0;

	/* Every segmentation offload needs checksum offload (virtio 1.x 5.1.3.1). */
	if (!has(f, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	fl |= TUN_F_CSUM;
	if (has(f, VIRTIO_NET_F_GUEST_TSO4))
		fl |= TUN_F_TSO4;
	if (has(f, VIRTIO_NET_F_GUEST_TSO6))
		fl |= TUN_F_TSO6;
	if ((fl & (TUN_F_TSO4 | TUN_F_TSO6)) && has(f, VIRTIO_NET_F_GUEST_ECN))
		fl |= TUN_F_TSO_ECN;
	if (has(f, VIRTIO_NET_F_GUEST_UFO))
		fl |= TUN_F_UFO;
	return fl;
}

int net_tx_hdr_check(const struct virtio_net_hdr_v1 *h, uint64_t f, uint64_t frame_len)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint64_t start = le16toh(h->csum_start), off = le16toh(h->csum_offset);

		if (!has(f, VIRTIO_NET_F_CSUM) || start + off + 2 > frame_len)
			return -EINVAL;
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return h->gso_type & VIRTIO_NET_HDR_GSO_ECN ? -EINVAL : 0;
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !le16toh(h->gso_size))
		return -EINVAL;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(f, VIRTIO_NET_F_HOST_ECN))
		return -EINVAL;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return has(f, VIRTIO_NET_F_HOST_TSO4) ? 0 : -EINVAL;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return has(f, VIRTIO_NET_F_HOST_TSO6) ? 0 : -EINVAL;
	case VIRTIO_NET_HDR_GSO_UDP:
		return has(f, VIRTIO_NET_F_HOST_UFO) ? 0 : -EINVAL;
	}
	return -EINVAL;
}

int net_rx_hdr_fixup(struct virtio_net_hdr_v1 *h, uint64_t f, uint16_t num_buffers)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	bool ok;

	h->num_buffers = htole16(num_buffers);
	if (!has(f, VIRTIO_NET_F_GUEST_CSUM)) {
		/* The TAP checksummed everything (no TUN_F_CSUM); say nothing more. */
		if (gso != VIRTIO_NET_HDR_GSO_NONE)
			return -EINVAL;
		h->flags = 0;
		h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
		h->hdr_len = h->gso_size = h->csum_start = h->csum_offset = 0;
		return 0;
	}
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		ok = true;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		ok = has(f, VIRTIO_NET_F_GUEST_TSO4);
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		ok = has(f, VIRTIO_NET_F_GUEST_TSO6);
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		ok = has(f, VIRTIO_NET_F_GUEST_UFO);
		break;
	default:
		ok = false;
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(f, VIRTIO_NET_F_GUEST_ECN))
		ok = false;
	return ok ? 0 : -EINVAL;
}

int net_config_check(const cvm_net_config *c, uint8_t mac[6], bool *have_mac,
		     struct cvm_errbuf *err)
{
	bool ip = c->host_ip || c->netmask;
	int modes = ip + !!c->tap_name + (c->tap_fd != -1);
	uint32_t a;

	*have_mac = false;
	if (c->tap_fd < -1)
		return errf(err, -EINVAL, "virtio-net: bad TAP descriptor %d", c->tap_fd);
	if (modes == 0)
		return errf(err, -EINVAL,
			    "virtio-net needs a host address and netmask, a TAP name or a TAP "
			    "descriptor");
	if (modes > 1)
		return errf(err, -EINVAL,
			    "virtio-net: choose one of a host address and netmask, a TAP name "
			    "or a TAP descriptor");
	if (ip && !c->netmask)
		return errf(err, -EINVAL, "virtio-net: host address %s needs a netmask",
			    c->host_ip);
	if (ip && !c->host_ip)
		return errf(err, -EINVAL, "virtio-net: netmask %s needs a host address",
			    c->netmask);
	if (ip && net_parse_ipv4(c->host_ip, &a))
		return errf(err, -EINVAL, "virtio-net: '%s' is not an IPv4 address", c->host_ip);
	if (ip && net_parse_netmask(c->netmask, &a))
		return errf(err, -EINVAL, "virtio-net: '%s' is not an IPv4 netmask", c->netmask);
	if (c->tap_name && (!*c->tap_name || strlen(c->tap_name) >= IFNAMSIZ ||
			    strchr(c->tap_name, '/') || strchr(c->tap_name, '%')))
		return errf(err, -EINVAL, "virtio-net: '%s' is not a valid TAP device name",
			    c->tap_name);
	if (c->mac) {
		if (net_mac_parse(c->mac, mac))
			return errf(err, -EINVAL,
				    "virtio-net: bad MAC address '%s' (want six hex pairs like "
				    "52:54:00:12:34:56, unicast, not all zero)",
				    c->mac);
		*have_mac = true;
	}
	return 0;
}

/* Watch the TAP for @events (0: only its errors); a dead TAP is not watched at all. */
static void net_watch(struct net_dev *n, uint32_t events)
{
	int rc;

	if (n->gone) {
		if (n->watched)
			virtio_pci_unwatch_fd(&n->vp, n->tap.fd);
		n->watched = false;
		return;
	}
	if (n->watched && n->events == events)
		return;
	rc = virtio_pci_watch_fd(&n->vp, n->tap.fd, events, NET_TAG);
	if (rc) {
		log_warn(n->vp.log, "%s: cannot watch TAP %s: %s", n->name, n->tap.name,
			 strerror(-rc));
		return;
	}
	n->watched = true;
	n->events = events;
}

static void net_update_watch(struct net_dev *n)
{
	uint32_t ev = 0;

	if (n->active && !n->rx_starved)
		ev |= EPOLLIN;
	if (n->active && n->tx_blocked)
		ev |= EPOLLOUT;
	net_watch(n, ev);
}

static void net_set_link(struct net_dev *n, bool up, const char *why)
{
	if (n->link_up == up)
		return;
	n->link_up = up;
	if (up)
		n->config.status |= htole16(VIRTIO_NET_S_LINK_UP);
	else
		n->config.status &= htole16((uint16_t)~VIRTIO_NET_S_LINK_UP);
	log_info(n->vp.log, "%s: link %s (TAP %s%s%s)", n->name, up ? "up" : "down", n->tap.name,
		 why ? ": " : "", why ? why : "");
	virtio_pci_config_changed(&n->vp);
}

/* The TAP device went away (deleted): stop serving it, for good. */
static void net_tap_gone(struct net_dev *n, const char *why)
{
	if (n->gone)
		return;
	n->gone = true;
	n->rx_len = 0;
	n->rx_starved = false;
	n->tx_blocked = false;
	net_watch(n, 0);
	net_set_link(n, false, why);
}

static bool tap_dead_errno(int e)
{
	return e == EBADFD || e == ENXIO || e == ENODEV || e == EPIPE;
}

/*
 * Deliver the frame in rxbuf. Returns 1 when it is gone (delivered or
 * dropped), 0 when it waits for more receive buffers, -EPROTO for a broken ring.
 */
static int net_rx_deliver(struct net_dev *n, struct virtq *q)
{
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)n->rxbuf;
	bool mrg = has(n->features, VIRTIO_NET_F_MRG_RXBUF);
	size_t len = n->rx_len, copied;
	struct cvm_errbuf err;
	unsigned int nb = 1;
	uint16_t nb16;
	int rc;

	if (net_rx_hdr_fixup(h, n->features, 1)) {
		n->st.rx_dropped++;
		log_debug(n->vp.log, "%s: rx: dropped a frame with GSO type %u", n->name,
			  h->gso_type);
		return 1;
	}
	rc = vq_pop(q, &n->chain0, &err);
	if (rc <= 0) {
		if (rc < 0)
			vp_warn_guest(&n->vp, "%s: rx queue: %s", n->name, err.msg);
		return rc < 0 ? -EPROTO : 0;
	}
	if (n->chain0.in_len < NET_HDR_LEN || (!mrg && n->chain0.in_len < len)) {
		/* It can never fit: drop the frame, keep the buffer. */
		vq_unpop(q, 1);
		n->st.rx_dropped++;
		log_debug(n->vp.log, "%s: rx: dropped a %zu-byte frame (buffer of %llu bytes)",
			  n->name, len, (unsigned long long)n->chain0.in_len);
		return 1;
	}
	copied = vq_copy_to(&n->chain0, 0, n->rxbuf, len);
	n->heads[0] = n->chain0.head;
	n->lens[0] = (uint32_t)copied;
	while (copied < len) {
		size_t got;

		if (nb == q->size) {
			/* Every buffer of the ring is not enough. */
			vq_unpop(q, nb);
			n->st.rx_dropped++;
			log_debug(n->vp.log, "%s: rx: dropped a %zu-byte frame (ring too small)",
				  n->name, len);
			return 1;
		}
		rc = vq_pop(q, &n->chain, &err);
		if (rc <= 0) {
			vq_unpop(q, nb);
			if (rc < 0)
				vp_warn_guest(&n->vp, "%s: rx queue: %s", n->name, err.msg);
			return rc < 0 ? -EPROTO : 0;
		}
		got = vq_copy_to(&n->chain, 0, n->rxbuf + copied, len - copied);
		n->heads[nb] = n->chain.head;
		n->lens[nb] = (uint32_t)got;
		nb++;
		copied += got;
	}
	if (nb > 1) {
		nb16 = htole16((uint16_t)nb);
		vq_copy_to(&n->chain0, offsetof(struct virtio_net_hdr_v1, num_buffers), &nb16,
			   sizeof(nb16));
	}
	for (unsigned int i = 0; i < nb; i++)
		if (vq_push(q, n->heads[i], n->lens[i]))
			return -EPROTO;
	n->st.rx_frames++;
	n->st.rx_bytes += len - NET_HDR_LEN;
	return 1;
}

/* Move frames from the TAP into receive buffers while both have some. */
static int net_rx(struct net_dev *n, struct virtio_pci *vp)
{
	struct virtq *q = virtio_pci_queue(vp, NET_RXQ);
	unsigned int done = 0;
	int rc = 0;

	if (!q || n->gone || !n->active)
		goto out;
	n->rx_starved = false;
	for (unsigned int budget = NET_RX_BUDGET; budget; budget--) {
		if (!n->rx_len) {
			ssize_t r = read(n->tap.fd, n->rxbuf, NET_HDR_LEN + NET_MAX_FRAME);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				break;
			if (r < 0 && tap_dead_errno(errno)) {
				net_tap_gone(n, strerror(errno));
				goto out;
			}
			if (r < 0) {
				n->st.rx_errors++;
				log_debug(vp->log, "%s: TAP read: %s", n->name, strerror(errno));
				break;
			}
			net_set_link(n, true, NULL);
			if (r < NET_HDR_LEN + ETH_HLEN) {
				n->st.rx_errors++;
				continue;
			}
			n->rx_len = (size_t)r;
		}
		rc = net_rx_deliver(n, q);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			n->rx_len = 0;
			done++;
			continue;
		}
		/* No buffers: wait for a kick (and close the race with one added meanwhile). */
		vq_enable_notify(q);
		if (vq_has_work(q))
			continue;
		n->rx_starved = true;
		break;
	}
	rc = 0;
out:
	if (done)
		virtio_pci_queue_done(vp, NET_RXQ);
	net_update_watch(n);
	return rc;
}

/* Send one chain to the TAP: 0 (sent or dropped), or -EAGAIN to retry it later. */
static int net_tx_one(struct net_dev *n)
{
	struct vq_chain *c = &n->chain;
	struct virtio_net_hdr_v1 h;
	struct iovec iov[VQ_MAX_BUFS];
	ssize_t r;

	if (n->gone) {
		n->st.tx_dropped++;
		return 0;
	}
	if (c->out_len < NET_HDR_LEN + ETH_HLEN || c->out_len > NET_HDR_LEN + NET_MAX_FRAME) {
		n->st.tx_errors++;
		log_debug(n->vp.log, "%s: tx: bad packet of %llu bytes", n->name,
			  (unsigned long long)c->out_len);
		return 0;
	}
	vq_copy_from(c, 0, &h, sizeof(h));
	if (net_tx_hdr_check(&h, n->features, c->out_len - NET_HDR_LEN)) {
		n->st.tx_errors++;
		log_debug(n->vp.log, "%s: tx: bad header (flags 0x%x, gso_type 0x%x)", n->name,
			  h.flags, h.gso_type);
		return 0;
	}
	for (unsigned int i = 0; i < c->nr_out; i++)
		iov[i] = (struct iovec){ .iov_base = c->bufs[i].host, .iov_len = c->bufs[i].len };
	do
		r = writev(n->tap.fd, iov, (int)c->nr_out);
	while (r < 0 && errno == EINTR);
	if (r >= 0) {
		n->st.tx_frames++;
		n->st.tx_bytes += c->out_len - NET_HDR_LEN;
		net_set_link(n, true, NULL);
		return 0;
	}
	if (errno == EAGAIN)
		return -EAGAIN;
	if (tap_dead_errno(errno)) {
		net_tap_gone(n, strerror(errno));
		n->st.tx_dropped++;
		return 0;
	}
	if (errno == EIO) /* the TAP is down on the host side */
		net_set_link(n, false, "the TAP device is down");
	n->st.tx_dropped++;
	log_debug(n->vp.log, "%s: tx: TAP write: %s", n->name, strerror(errno));
	return 0;
}

static int net_tx(struct net_dev *n, struct virtio_pci *vp)
{
	struct virtq *q = virtio_pci_queue(vp, NET_TXQ);
	struct cvm_errbuf err;
	unsigned int done = 0;
	int rc;

	if (!q || !n->active)
		return 0;
	n->tx_blocked = false;
	for (;;) {
		vq_disable_notify(q);
		while ((rc = vq_pop(q, &n->chain, &err)) == 1) {
			if (net_tx_one(n) == -EAGAIN) {
				/* Keep the chain for when the TAP has room. */
				vq_unpop(q, 1);
				n->tx_blocked = true;
				rc = 0;
				goto out;
			}
			if (vq_push(q, n->chain.head, 0)) {
				rc = -EPROTO;
				goto out;
			}
			done++;
		}
		if (rc < 0) {
			vp_warn_guest(vp, "%s: tx queue: %s", n->name, err.msg);
			goto out;
		}
		vq_enable_notify(q);
		if (!vq_has_work(q))
			break;
	}
out:
	if (done)
		virtio_pci_queue_done(vp, NET_TXQ);
	net_update_watch(n);
	return rc;
}

static void net_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	struct net_dev *n = opaque;

	memcpy(data, (const uint8_t *)&n->config + off, len);
}

static void net_activate(void *opaque, uint64_t features)
{
	struct net_dev *n = opaque;
	unsigned int fl = net_tun_offloads(features);
	int rc;

	n->features = features;
	n->active = true;
	n->rx_len = 0;
	n->rx_starved = n->tx_blocked = false;
	if (!n->gone) {
		rc = tap_set_offload(&n->tap, fl);
		if (rc)
			log_warn(n->vp.log, "%s: TUNSETOFFLOAD 0x%x: %s", n->name, fl,
				 strerror(-rc));
	}
	log_debug(n->vp.log, "%s: features 0x%llx, TAP offloads 0x%x", n->name,
		  (unsigned long long)features, fl);
	/* The transport kicks both queues now: queue_notify arms the TAP. */
}

static int net_queue_notify(void *opaque, struct virtio_pci *vp, unsigned int q)
{
	struct net_dev *n = opaque;

	if (q == NET_RXQ)
		return net_rx(n, vp);
	if (q == NET_TXQ)
		return net_tx(n, vp);
	return 0;
}

static int net_fd_event(void *opaque, struct virtio_pci *vp, uint32_t tag, uint32_t events)
{
	struct net_dev *n = opaque;
	int rc = 0;

	(void)tag;
	if (events & (EPOLLERR | EPOLLHUP)) {
		net_tap_gone(n, "the TAP device is gone");
		return 0;
	}
	if (!n->active || !virtio_pci_queue(vp, NET_RXQ)) {
		net_watch(n, 0);
		return 0;
	}
	if ((events & EPOLLOUT) && n->tx_blocked)
		rc = net_tx(n, vp);
	if (!rc && (events & EPOLLIN))
		rc = net_rx(n, vp);
	return rc;
}

static void net_reset(void *opaque)
{
	struct net_dev *n = opaque;

	n->active = false;
	n->features = 0;
	n->rx_len = 0;
	n->rx_starved = n->tx_blocked = false;
	if (n->tap.fd >= 0 && !n->gone) {
		net_watch(n, 0);
		tap_set_offload(&n->tap, 0);
	}
}

static void net_shutdown(void *opaque)
{
	struct net_dev *n = opaque;
	const struct net_stats *s = &n->st;

	/* The transport calls this when the VM stops and again when it is destroyed. */
	if (n->stats_logged)
		return;
	n->stats_logged = true;
	log_debug(n->vp.log,
		  "%s: tx %llu frames %llu bytes (%llu errors, %llu dropped), rx %llu frames "
		  "%llu bytes (%llu errors, %llu dropped)",
		  n->name, (unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
		  (unsigned long long)s->tx_errors, (unsigned long long)s->tx_dropped,
		  (unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
		  (unsigned long long)s->rx_errors, (unsigned long long)s->rx_dropped);
}

static unsigned int net_keep_fds(void *opaque, int *fds, unsigned int max)
{
	struct net_dev *n = opaque;

	if (max < 1 || n->tap.fd < 0)
		return 0;
	fds[0] = n->tap.fd;
	return 1;
}

static const struct virtio_dev_ops net_ops = {
	.keep_fds = net_keep_fds,
	.config_read = net_config_read,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.fd_event = net_fd_event,
	.reset = net_reset,
	.shutdown = net_shutdown,
};

/* Which guest offloads the TAP can take: try them, then turn them off again. */
static uint64_t net_probe_offloads(const struct tap *t)
{
	uint64_t f = 0;

	if (tap_set_offload(t, TUN_F_CSUM))
		return 0;
	f |= BIT(VIRTIO_NET_F_GUEST_CSUM);
	if (!tap_set_offload(t, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN))
		f |= BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
		     BIT(VIRTIO_NET_F_GUEST_ECN);
	if (!tap_set_offload(t, TUN_F_CSUM | TUN_F_UFO))
		f |= BIT(VIRTIO_NET_F_GUEST_UFO);
	tap_set_offload(t, 0);
	return f & NET_GUEST_OFFLOADS;
}

int net_dev_create(struct net_dev **out, struct tap *tap, const uint8_t mac[6],
		   const struct virtio_env *env, struct cvm_errbuf *err)
{
	struct net_dev *n = calloc(1, sizeof(*n));
	uint64_t features;
	int rc;

	*out = NULL;
	if (!n) {
		tap_close(tap);
		return errf(err, -ENOMEM, "out of memory");
	}
	n->tap = *tap;
	tap->fd = -1;
	tap->owned = false;
	snprintf(n->name, sizeof(n->name), "virtio-net %s", n->tap.name);
	n->rxbuf = malloc(NET_HDR_LEN + NET_MAX_FRAME);
	if (!n->rxbuf) {
		rc = errf(err, -ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(n->config.mac, mac, 6);
	n->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->config.max_virtqueue_pairs = htole16(1);
	n->config.mtu = htole16(1500);
	n->link_up = true;
	features = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
		   NET_HOST_OFFLOADS | net_probe_offloads(&n->tap);

	struct virtio_pci_config c = {
		.name = n->name,
		.device_id = VIRTIO_ID_NET,
		.pci_class = PCI_CLASS_NETWORK_ETHERNET << 8,
		.features = features,
		.config_len = offsetof(struct virtio_net_config, speed),
		.nr_queues = 2,
		.queue_max_size = VIRTIO_PCI_QUEUE_MAX_SIZE,
		.ops = &net_ops,
		.policy = "net",
		.opaque = n,
	};

	rc = virtio_pci_init(&n->vp, &c, env, err);
	if (rc)
		goto fail;
	/* Registered from the start with no events: a deleted TAP still shows as EPOLLERR. */
	net_watch(n, 0);
	*out = n;
	return 0;
fail:
	net_dev_destroy(n);
	return rc;
}

void net_dev_destroy(struct net_dev *n)
{
	if (!n)
		return;
	virtio_pci_destroy(&n->vp);
	tap_close(&n->tap);
	free(n->rxbuf);
	free(n);
}
