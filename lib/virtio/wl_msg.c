// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wl messages: parsing what the guest sends (every length, count
 * and id checked) and encoding what the device sends. No state: the unit
 * tests and the fuzzer call these directly.
 */
#include "virtio/wl.h"

#include <endian.h>
#include <string.h>

uint32_t wl_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* Bytes each command must have: through `size` for the vfd_new family. */
#define LEN_VFD 12	/* virtio_wl_ctrl_vfd */
#define LEN_NEW 28	/* virtio_wl_ctrl_vfd_new up to its union */
#define LEN_NAMED 60	/* ... and the 32-byte name */
#define LEN_SEND_HDR 16 /* virtio_wl_ctrl_vfd_send */

uint32_t wl_parse_cmd(const uint8_t *buf, size_t len, uint64_t total, struct wl_cmd *c)
{
	memset(c, 0, sizeof(*c));
	if (len > total || len < 8)
		return WL_RESP_ERR;
	c->type = wl_get32(buf);
	switch (c->type) {
	case WL_CMD_VFD_NEW:
	case WL_CMD_VFD_NEW_PIPE:
		if (len < LEN_NEW)
			return WL_RESP_ERR;
		c->flags = wl_get32(buf + 12);
		c->size = wl_get32(buf + 24);
		break;
	case WL_CMD_VFD_NEW_CTX:
	case WL_CMD_VFD_CLOSE:
		if (len < LEN_VFD)
			return WL_RESP_ERR;
		break;
	case WL_CMD_VFD_NEW_CTX_NAMED:
		if (len < LEN_NAMED)
			return WL_RESP_ERR;
		memcpy(c->name, buf + 28, WL_NAME_LEN);
		c->name[WL_NAME_LEN] = 0;
		break;
	case WL_CMD_VFD_SEND:
		if (len < LEN_SEND_HDR)
			return WL_RESP_ERR;
		c->nr_ids = wl_get32(buf + 12);
		if (c->nr_ids > WL_SEND_MAX_VFDS)
			return WL_RESP_INVALID_CMD;
		c->data_off = LEN_SEND_HDR + 4ULL * c->nr_ids;
		if (len < c->data_off)
			return WL_RESP_ERR;
		for (uint32_t i = 0; i < c->nr_ids; i++)
			c->ids[i] = wl_get32(buf + LEN_SEND_HDR + 4 * i);
		break;
	default:
		/* DMABUF (no GPU allocator here), foreign ids, and anything else. */
		return WL_RESP_INVALID_CMD;
	}
	c->id = wl_get32(buf + 8);
	if (c->type != WL_CMD_VFD_SEND && c->type != WL_CMD_VFD_CLOSE && c->id >= WL_HOST_ID_BIT)
		return WL_RESP_INVALID_ID;
	return 0;
}

size_t wl_enc_new(uint8_t *buf, uint32_t type, uint32_t id, uint32_t flags, uint64_t pfn,
		  uint32_t size)
{
	memset(buf, 0, WL_NEW_LEN);
	put32(buf, type);
	put32(buf + 8, id);
	put32(buf + 12, flags);
	put64(buf + 16, pfn);
	put32(buf + 24, size);
	return WL_NEW_LEN;
}

size_t wl_enc_hup(uint8_t *buf, uint32_t id)
{
	memset(buf, 0, 12);
	put32(buf, WL_CMD_VFD_HUP);
	put32(buf + 8, id);
	return 12;
}

size_t wl_enc_resp(uint8_t *buf, uint32_t code)
{
	memset(buf, 0, 8);
	put32(buf, code);
	return 8;
}

size_t wl_enc_recv(uint8_t *buf, uint32_t id, const uint32_t *ids, uint32_t nr, const void *data,
		   size_t len)
{
	size_t off = WL_RECV_HDR;

	if (nr > WL_SEND_MAX_VFDS)
		nr = WL_SEND_MAX_VFDS;
	if (len > WL_RECV_DATA_MAX)
		len = WL_RECV_DATA_MAX;
	memset(buf, 0, WL_RECV_HDR);
	put32(buf, WL_CMD_VFD_RECV);
	put32(buf + 8, id);
	put32(buf + 12, nr);
	for (uint32_t i = 0; i < nr; i++, off += 4)
		put32(buf + off, ids[i]);
	if (len)
		memcpy(buf + off, data, len);
	return off + len;
}
