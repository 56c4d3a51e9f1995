// SPDX-License-Identifier: BSD-3-Clause
/* virtio-net's pure parts: MAC addresses, option checks, header handling. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/if_tun.h>

#include "net/tap.h"
#include "virtio/net.h"

#define BIT(n) (1ULL << (n))

Test(net_mac, parses_good_addresses)
{
	uint8_t m[6];
	const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

	cr_assert_eq(net_mac_parse("52:54:00:ab:cd:ef", m), 0);
	cr_assert_arr_eq(m, want, 6);
	cr_assert_eq(net_mac_parse("52-54-00-AB-CD-EF", m), 0);
	cr_assert_arr_eq(m, want, 6);
	cr_assert_eq(net_mac_parse("02:00:00:00:00:01", m), 0);
}

Test(net_mac, rejects_bad_addresses)
{
	static const char *const bad[] = {
		"",
		"52:54:00:12:34",
		"52:54:00:12:34:56:78",
		"52:54:00:12:34:5",
		"52:54:00:12:34:5g",
		"52:54:00:12:34:56 ",
		"5:254:00:12:34:56",
		"52:54-00:12:34:56",
		"52545:00:12:34:56",
		"01:00:5e:00:00:01", /* multicast */
		"ff:ff:ff:ff:ff:ff", /* broadcast */
		"00:00:00:00:00:00",
	};
	uint8_t m[6] = { 1, 2, 3, 4, 5, 6 };
	const uint8_t keep[6] = { 1, 2, 3, 4, 5, 6 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(net_mac_parse(bad[i], m), -EINVAL, "'%s' accepted", bad[i]);
	cr_assert_eq(net_mac_parse(NULL, m), -EINVAL);
	cr_assert_arr_eq(m, keep, 6, "a refused address changed the output");
}

Test(net_mac, derived_is_stable_local_unicast)
{
	uint8_t a[6], b[6], c[6];

	net_mac_derive("10.0.2.2", a);
	net_mac_derive("10.0.2.2", b);
	net_mac_derive("10.0.3.2", c);
	cr_assert_arr_eq(a, b, 6);
	cr_assert(memcmp(a, c, 6), "different seeds, same MAC");
	cr_assert_eq(a[0] & 1, 0, "multicast");
	cr_assert_eq(a[0] & 2, 2, "not locally administered");
	net_mac_derive(NULL, a);
	cr_assert_eq(a[0] & 3, 2);
}

Test(net_ip, addresses_and_netmasks)
{
	uint32_t a;

	cr_assert_eq(net_parse_ipv4("10.0.2.2", &a), 0);
	cr_assert_eq(ntohl(a), 0x0a000202);
	cr_assert_eq(net_parse_ipv4("10.0.2.256", &a), -EINVAL);
	cr_assert_eq(net_parse_ipv4("10.0.2", &a), -EINVAL);
	cr_assert_eq(net_parse_ipv4("fe80::1", &a), -EINVAL);
	cr_assert_eq(net_parse_netmask("255.255.255.0", &a), 0);
	cr_assert_eq(net_parse_netmask("255.255.255.255", &a), 0);
	cr_assert_eq(net_parse_netmask("255.255.128.0", &a), 0);
	cr_assert_eq(net_parse_netmask("255.0.255.0", &a), -EINVAL);
	cr_assert_eq(net_parse_netmask("0.255.255.255", &a), -EINVAL);
	cr_assert_eq(net_parse_netmask("255.255.255.1", &a), -EINVAL);
}

static int check(const char *ip, const char *mask, const char *name, int fd, const char *mac,
		 struct cvm_errbuf *err)
{
	cvm_net_config c = CVM_NET_CONFIG_INIT;
	uint8_t m[6];
	bool have;

	c.host_ip = ip;
	c.netmask = mask;
	c.tap_name = name;
	c.tap_fd = fd;
	c.mac = mac;
	return net_config_check(&c, m, &have, err);
}

Test(net_config, exactly_one_backend)
{
	struct cvm_errbuf e;

	cr_assert_eq(check("10.0.2.2", "255.255.255.0", NULL, -1, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(check(NULL, NULL, "tap0", -1, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(check(NULL, NULL, NULL, 3, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(check(NULL, NULL, NULL, -1, NULL, &e), -EINVAL);
	cr_assert(strstr(e.msg, "needs"), "%s", e.msg);
	cr_assert_eq(check("10.0.2.2", "255.255.255.0", "tap0", -1, NULL, &e), -EINVAL);
	cr_assert(strstr(e.msg, "choose one"), "%s", e.msg);
	cr_assert_eq(check(NULL, NULL, "tap0", 3, NULL, &e), -EINVAL);
	cr_assert_eq(check("10.0.2.2", NULL, NULL, 3, NULL, &e), -EINVAL);
	cr_assert_eq(check("10.0.2.2", NULL, NULL, -1, NULL, &e), -EINVAL);
	cr_assert(strstr(e.msg, "needs a netmask"), "%s", e.msg);
	cr_assert_eq(check(NULL, "255.255.255.0", NULL, -1, NULL, &e), -EINVAL);
	cr_assert(strstr(e.msg, "needs a host address"), "%s", e.msg);
	cr_assert_eq(check(NULL, NULL, NULL, -2, NULL, &e), -EINVAL);
}

Test(net_config, values_checked)
{
	struct cvm_errbuf e;
	cvm_net_config c = CVM_NET_CONFIG_INIT;
	uint8_t m[6];
	bool have = true;

	cr_assert_eq(check("10.0.2.x", "255.255.255.0", NULL, -1, NULL, &e), -EINVAL);
	cr_assert_eq(check("10.0.2.2", "255.255.0.255", NULL, -1, NULL, &e), -EINVAL);
	cr_assert_eq(check(NULL, NULL, "", -1, NULL, &e), -EINVAL);
	cr_assert_eq(check(NULL, NULL, "a/b", -1, NULL, &e), -EINVAL);
	cr_assert_eq(check(NULL, NULL, "tap%d", -1, NULL, &e), -EINVAL);
	cr_assert_eq(check(NULL, NULL, "a-name-much-too-long", -1, NULL, &e), -EINVAL);
	cr_assert_eq(check(NULL, NULL, "tap0", -1, "52:54:00:12:34", &e), -EINVAL);
	cr_assert(strstr(e.msg, "bad MAC"), "%s", e.msg);
	c.tap_name = "tap0";
	cr_assert_eq(net_config_check(&c, m, &have, &e), 0);
	cr_assert(!have);
	c.mac = "52:54:00:12:34:56";
	cr_assert_eq(net_config_check(&c, m, &have, &e), 0);
	cr_assert(have);
	cr_assert_eq(m[5], 0x56);
}

Test(net_hdr, tun_offloads_follow_features)
{
	cr_assert_eq(net_tun_offloads(0), 0);
	cr_assert_eq(net_tun_offloads(BIT(VIRTIO_NET_F_GUEST_TSO4)), 0, "TSO without CSUM");
	cr_assert_eq(net_tun_offloads(BIT(VIRTIO_NET_F_GUEST_CSUM)), TUN_F_CSUM);
	cr_assert_eq(net_tun_offloads(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
				      BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) |
				      BIT(VIRTIO_NET_F_GUEST_UFO)),
		     TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO);
	cr_assert_eq(net_tun_offloads(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_ECN)),
		     TUN_F_CSUM, "ECN without TSO");
}

Test(net_hdr, tx_headers_checked_against_features)
{
	uint64_t all = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
		       BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_UFO) |
		       BIT(VIRTIO_NET_F_HOST_ECN);
	struct virtio_net_hdr_v1 h;

	memset(&h, 0, sizeof(h));
	cr_assert_eq(net_tx_hdr_check(&h, 0, 60), 0);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 34;
	h.csum_offset = 16;
	cr_assert_eq(net_tx_hdr_check(&h, 0, 100), -EINVAL, "NEEDS_CSUM without CSUM");
	cr_assert_eq(net_tx_hdr_check(&h, all, 100), 0);
	cr_assert_eq(net_tx_hdr_check(&h, all, 51), -EINVAL, "checksum past the end");
	cr_assert_eq(net_tx_hdr_check(&h, all, 52), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	cr_assert_eq(net_tx_hdr_check(&h, all, 20000), -EINVAL, "GSO without gso_size");
	h.gso_size = 1448;
	cr_assert_eq(net_tx_hdr_check(&h, all, 20000), 0);
	cr_assert_eq(net_tx_hdr_check(&h, BIT(VIRTIO_NET_F_CSUM), 20000), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	cr_assert_eq(net_tx_hdr_check(&h, all & ~BIT(VIRTIO_NET_F_HOST_TSO6), 20000), -EINVAL);
	cr_assert_eq(net_tx_hdr_check(&h, all, 20000), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	cr_assert_eq(net_tx_hdr_check(&h, all, 20000), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	cr_assert_eq(net_tx_hdr_check(&h, all, 20000), 0);
	cr_assert_eq(net_tx_hdr_check(&h, all & ~BIT(VIRTIO_NET_F_HOST_ECN), 20000), -EINVAL);
	h.gso_type = 2; /* not a GSO type */
	cr_assert_eq(net_tx_hdr_check(&h, all, 20000), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.flags = 0;
	cr_assert_eq(net_tx_hdr_check(&h, all, 20000), -EINVAL, "GSO without NEEDS_CSUM");
	h.flags = 0x80;
	h.gso_type = 0;
	cr_assert_eq(net_tx_hdr_check(&h, all, 100), -EINVAL, "unknown flag");
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_ECN;
	cr_assert_eq(net_tx_hdr_check(&h, all, 100), -EINVAL, "ECN alone");
}

Test(net_hdr, rx_headers_fixed_up)
{
	struct virtio_net_hdr_v1 h;
	uint64_t csum = BIT(VIRTIO_NET_F_GUEST_CSUM);

	memset(&h, 0xee, sizeof(h));
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	cr_assert_eq(net_rx_hdr_fixup(&h, 0, 1), 0);
	cr_assert_eq(h.flags, 0, "flags kept without GUEST_CSUM");
	cr_assert_eq(h.csum_start, 0);
	cr_assert_eq(le16toh(h.num_buffers), 1);

	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	cr_assert_eq(net_rx_hdr_fixup(&h, csum, 3), 0);
	cr_assert_eq(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	cr_assert_eq(le16toh(h.num_buffers), 3);

	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	cr_assert_eq(net_rx_hdr_fixup(&h, 0, 1), -EINVAL);
	cr_assert_eq(net_rx_hdr_fixup(&h, csum, 1), -EINVAL);
	cr_assert_eq(net_rx_hdr_fixup(&h, csum | BIT(VIRTIO_NET_F_GUEST_TSO4), 1), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	cr_assert_eq(net_rx_hdr_fixup(&h, csum | BIT(VIRTIO_NET_F_GUEST_TSO6), 1), -EINVAL);
	cr_assert_eq(net_rx_hdr_fixup(
			     &h, csum | BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN),
			     1),
		     0);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	cr_assert_eq(net_rx_hdr_fixup(&h, csum, 1), -EINVAL);
	cr_assert_eq(net_rx_hdr_fixup(&h, csum | BIT(VIRTIO_NET_F_GUEST_UFO), 1), 0);
}
