/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net (device id 1) over a TAP device: queue 0 receives, queue 1
 * transmits. The TAP carries the same 12-byte virtio_net_hdr_v1 as the
 * rings, so frames pass through unchanged except num_buffers on receive.
 * The TAP descriptor is served on the device's worker thread: watched for
 * EPOLLIN only while the guest has receive buffers, for EPOLLOUT only while
 * a transmit is waiting for room.
 */
#ifndef CVM_VIRTIO_NET_H
#define CVM_VIRTIO_NET_H

#include <linux/virtio_net.h>

#include <libcvm/cvm.h>

#include "net/tap.h"
#include "virtio/virtio_pci.h"

#define NET_RXQ 0
#define NET_TXQ 1
#define NET_MAX_FRAME 65550 /* largest frame read from the TAP, without the header */
#define NET_HDR_LEN TAP_VNET_HDR_LEN

struct net_stats {
	uint64_t tx_frames, tx_bytes, tx_errors, tx_dropped;
	uint64_t rx_frames, rx_bytes, rx_errors, rx_dropped;
};

struct net_dev {
	struct virtio_pci vp;
	struct tap tap;
	struct virtio_net_config config;
	char name[48];
	uint64_t features;	       /* negotiated; 0 while not active */
	bool active;		       /* DRIVER_OK and not reset since */
	bool link_up;		       /* config.status LINK_UP */
	bool gone;		       /* the TAP device was deleted: the fd is dead */
	bool tx_blocked;	       /* a transmit got EAGAIN: wait for EPOLLOUT */
	bool rx_starved;	       /* a frame waits for receive buffers */
	bool watched;		       /* the fd is in the worker's epoll set */
	uint32_t events;	       /* what the worker watches it for */
	uint8_t *rxbuf;		       /* NET_HDR_LEN + NET_MAX_FRAME bytes */
	size_t rx_len;		       /* a frame read but not delivered yet (0: none) */
	struct vq_chain chain, chain0; /* the worker's scratch chains */
	uint16_t heads[VIRTIO_PCI_QUEUE_MAX_SIZE];
	uint32_t lens[VIRTIO_PCI_QUEUE_MAX_SIZE];
	struct net_stats st;
	bool stats_logged;
};

/*
 * net_dev_create() - build the virtio-pci function of a virtio-net device
 * over @tap (taken over: closed by net_dev_destroy(), on failure too) with
 * guest MAC @mac. Not yet on a bus.
 */
int net_dev_create(struct net_dev **out, struct tap *tap, const uint8_t mac[6],
		   const struct virtio_env *env, struct cvm_errbuf *err);
void net_dev_destroy(struct net_dev *n);

/*
 * The pure parts, for the unit tests.
 *
 * net_config_check() - exactly one of host_ip + netmask, tap_name, tap_fd;
 * addresses, the name and the MAC well formed. Sets *@have_mac and @mac
 * when cfg->mac is given. Returns 0 or -EINVAL with a message.
 */
int net_config_check(const cvm_net_config *c, uint8_t mac[6], bool *have_mac,
		     struct cvm_errbuf *err);

/* net_tun_offloads() - the TUN_F_* flags matching negotiated @features. */
unsigned int net_tun_offloads(uint64_t features);

/*
 * net_tx_hdr_check() - may a transmit header with a frame of @frame_len
 * bytes go to the TAP under @features? 0, or -EINVAL (flags or GSO type
 * not negotiated, checksum offsets outside the frame, no gso_size).
 */
int net_tx_hdr_check(const struct virtio_net_hdr_v1 *h, uint64_t features, uint64_t frame_len);

/*
 * net_rx_hdr_fixup() - make a header the TAP gave fit what the driver
 * negotiated and set num_buffers. Returns 0, or -EINVAL when the frame
 * must be dropped (a GSO type the driver cannot take).
 */
int net_rx_hdr_fixup(struct virtio_net_hdr_v1 *h, uint64_t features, uint16_t num_buffers);

#endif
