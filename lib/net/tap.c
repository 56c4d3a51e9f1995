// SPDX-License-Identifier: BSD-3-Clause
/* TAP devices: open, attach, IPv4 configuration, offloads; MAC helpers. */
#include "net/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <netinet/in.h>

static const char *perm_hint(int e)
{
	return e == EPERM || e == EACCES ? " (needs CAP_NET_ADMIN)" : "";
}

/* The vnet header length, little-endian headers and non-blocking I/O. */
static int tap_prepare(struct tap *t, struct cvm_errbuf *err)
{
	int hdr = TAP_VNET_HDR_LEN, le = 1, fl;

	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr))
		return errf(err, -errno, "TAP %s: TUNSETVNETHDRSZ: %s", t->name, strerror(errno));
	/* x86 is little-endian anyway; older kernels lack the ioctl. */
	(void)ioctl(t->fd, TUNSETVNETLE, &le);
	fl = fcntl(t->fd, F_GETFL);
	if (fl < 0 || fcntl(t->fd, F_SETFL, fl | O_NONBLOCK))
		return errf(err, -errno, "TAP %s: O_NONBLOCK: %s", t->name, strerror(errno));
	return 0;
}

int tap_open(struct tap *t, const char *name, struct cvm_errbuf *err)
{
	struct ifreq ifr;
	int rc;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (name && (!*name || strlen(name) >= IFNAMSIZ || strchr(name, '/') || strchr(name, '%')))
		return errf(err, -EINVAL, "bad TAP device name '%s'", name);
	if (name && !if_nametoindex(name))
		return errf(err, -ENODEV, "no network device named '%s'", name);
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		return errf(err, rc == -ENOENT ? -ENODEV : rc, "/dev/net/tun: %s%s",
			    strerror(errno), perm_hint(errno));
	}
	t->owned = true;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name ? name : "cvmtap%d");
	if (ioctl(t->fd, TUNSETIFF, &ifr)) {
		rc = -errno;
		if (rc == -EINVAL && name)
			errf(err, rc, "%s is not a TAP device usable with IFF_VNET_HDR", name);
		else
			errf(err, rc, "TAP %s: TUNSETIFF: %s%s", name ? name : "(new)",
			     strerror(errno), perm_hint(errno));
		tap_close(t);
		return rc;
	}
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	rc = tap_prepare(t, err);
	if (rc)
		tap_close(t);
	return rc;
}

int tap_attach_fd(struct tap *t, int fd, struct cvm_errbuf *err)
{
	struct ifreq ifr;
	int rc;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return errf(err, -EBADF, "TAP descriptor %d is not open", fd);
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr))
		return errf(err, -EINVAL, "descriptor %d is not an attached TAP device: %s", fd,
			    strerror(errno));
	if ((ifr.ifr_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP)
		return errf(err, -EINVAL, "descriptor %d is a TUN device, not a TAP", fd);
	if (!(ifr.ifr_flags & IFF_NO_PI) || !(ifr.ifr_flags & IFF_VNET_HDR))
		return errf(err, -EINVAL,
			    "TAP descriptor %d (%.*s) must be opened with IFF_NO_PI | IFF_VNET_HDR",
			    fd, IFNAMSIZ, ifr.ifr_name);
	t->fd = fd;
	t->owned = false;
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	rc = tap_prepare(t, err);
	if (rc)
		t->fd = -1;
	return rc;
}

static int set_addr(int s, unsigned long req, const char *ifname, uint32_t a)
{
	struct ifreq ifr;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = a };

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ioctl(s, req, &ifr) ? -errno : 0;
}

int tap_set_ipv4(const struct tap *t, const char *ip, const char *netmask, struct cvm_errbuf *err)
{
	struct ifreq ifr;
	uint32_t a, m;
	int s, rc;

	if (net_parse_ipv4(ip, &a))
		return errf(err, -EINVAL, "'%s' is not an IPv4 address", ip);
	if (net_parse_netmask(netmask, &m))
		return errf(err, -EINVAL, "'%s' is not an IPv4 netmask", netmask);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errf(err, -errno, "socket(AF_INET): %s", strerror(errno));
	rc = set_addr(s, SIOCSIFADDR, t->name, a);
	if (rc) {
		errf(err, rc, "TAP %s: cannot set address %s: %s%s", t->name, ip, strerror(-rc),
		     perm_hint(-rc));
		goto out;
	}
	rc = set_addr(s, SIOCSIFNETMASK, t->name, m);
	if (rc) {
		errf(err, rc, "TAP %s: cannot set netmask %s: %s%s", t->name, netmask,
		     strerror(-rc), perm_hint(-rc));
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", t->name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) == 0)
			goto out;
	}
	rc = -errno;
	errf(err, rc, "TAP %s: cannot bring it up: %s%s", t->name, strerror(errno),
	     perm_hint(errno));
out:
	close(s);
	return rc;
}

int tap_set_offload(const struct tap *t, unsigned int flags)
{
	return ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)flags) ? -errno : 0;
}

void tap_close(struct tap *t)
{
	if (t->owned && t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->owned = false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int net_mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[6], any = 0;
	char sep = 0;

	if (!s)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (lo < 0)
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
		any |= m[i];
		s += 2;
		if (i == 5)
			break;
		if (*s != ':' && *s != '-')
			return -EINVAL;
		if (sep && *s != sep)
			return -EINVAL;
		sep = *s++;
	}
	if (*s || (m[0] & 1) || !any)
		return -EINVAL;
	memcpy(mac, m, 6);
	return 0;
}

void net_mac_derive(const char *seed, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (const char *p = seed ? seed : ""; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
	/* 0x52: bit 1 (locally administered) set, bit 0 (multicast) clear. */
}

int net_parse_ipv4(const char *s, uint32_t *addr)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr = a.s_addr;
	return 0;
}

int net_parse_netmask(const char *s, uint32_t *mask)
{
	uint32_t m, h;

	if (net_parse_ipv4(s, &m))
		return -EINVAL;
	h = ntohl(m);
	/* Contiguous ones from the top: ~h + 1 is a power of two (or 0 for /32... /0). */
	if (h & (~h >> 1))
		return -EINVAL;
	*mask = m;
	return 0;
}
