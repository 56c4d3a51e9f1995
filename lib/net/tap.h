/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TAP devices for virtio-net: open /dev/net/tun (IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, a 12-byte virtio_net_hdr_v1 in front of every frame,
 * non-blocking), give the host side an IPv4 address, set the offloads the
 * guest negotiated; and the MAC address helpers.
 */
#ifndef CVM_NET_TAP_H
#define CVM_NET_TAP_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define TAP_VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1 (with num_buffers) */

struct tap {
	int fd;
	bool owned; /* we opened fd and close it */
	char name[IFNAMSIZ];
};

/*
 * tap_open() - open a TAP device: the existing @name, or a new one
 * ("cvmtap%d") when @name is NULL. Returns 0, -ENODEV (no /dev/net/tun, no
 * such TAP), -EPERM (needs CAP_NET_ADMIN) or -errno, with a message.
 */
int tap_open(struct tap *t, const char *name, struct cvm_errbuf *err);

/*
 * tap_attach_fd() - use the caller's open TAP descriptor @fd (not closed by
 * tap_close()). It must be a TAP opened with IFF_NO_PI | IFF_VNET_HDR.
 * Returns 0 or -EINVAL/-EBADF with a message.
 */
int tap_attach_fd(struct tap *t, int fd, struct cvm_errbuf *err);

/*
 * tap_set_ipv4() - give @t's host side address @ip with @netmask and bring
 * it up. Returns 0, -EPERM (needs CAP_NET_ADMIN) or -errno with a message.
 */
int tap_set_ipv4(const struct tap *t, const char *ip, const char *netmask, struct cvm_errbuf *err);

/* tap_set_offload() - TUNSETOFFLOAD with TUN_F_* @flags; 0 or -errno. */
int tap_set_offload(const struct tap *t, unsigned int flags);

void tap_close(struct tap *t);

/*
 * net_mac_parse() - "52:54:00:12:34:56" (six hex pairs separated by ':' or
 * '-') into @mac. Returns 0, or -EINVAL for bad syntax, a multicast or
 * broadcast address or all zeroes.
 */
int net_mac_parse(const char *s, uint8_t mac[6]);

/*
 * net_mac_derive() - a stable locally administered unicast MAC made from
 * @seed (the same seed gives the same address): 52:54:00 replaced by a
 * hash with bit 1 of the first byte set and bit 0 clear.
 */
void net_mac_derive(const char *seed, uint8_t mac[6]);

/* net_parse_ipv4() - dotted quad to a network-order address; 0 or -EINVAL. */
int net_parse_ipv4(const char *s, uint32_t *addr);
/* net_parse_netmask() - the same, and the mask must be contiguous ones. */
int net_parse_netmask(const char *s, uint32_t *mask);

#endif
