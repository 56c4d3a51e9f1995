// SPDX-License-Identifier: BSD-3-Clause
/* virtio-wl: the message parser and encoders (wl_msg.c), no device. */
#include <criterion/criterion.h>
#include <string.h>

#include "test_util_wl.h"

static uint32_t parse(const uint8_t *b, size_t len, struct wl_cmd *c)
{
	return wl_parse_cmd(b, len < WL_CMD_MAX ? len : WL_CMD_MAX, len, c);
}

Test(wl_msg, truncated_header)
{
	uint8_t b[8] = { 0x04, 0x01, 0, 0, 0, 0, 0, 0 }; /* VFD_NEW_CTX */
	struct wl_cmd c;

	for (size_t n = 0; n < 8; n++)
		cr_assert_eq(wl_parse_cmd(b, n, n, &c), WL_RESP_ERR, "a %zu-byte header parsed", n);
	/* More bytes said to be there than the chain has. */
	cr_assert_eq(wl_parse_cmd(b, 8, 7, &c), WL_RESP_ERR);
}

Test(wl_msg, truncated_commands)
{
	uint8_t b[WL_CMD_MAX];
	struct wl_cmd c;

	twl_mk_new(b, WL_CMD_VFD_NEW, 5, WL_VFD_WRITE, 0x12345);
	for (size_t n = 8; n < 28; n++)
		cr_assert_eq(parse(b, n, &c), WL_RESP_ERR, "VFD_NEW of %zu bytes", n);
	cr_assert_eq(parse(b, 28, &c), 0);
	cr_assert_eq(c.type, WL_CMD_VFD_NEW);
	cr_assert_eq(c.id, 5);
	cr_assert_eq(c.flags, WL_VFD_WRITE);
	cr_assert_eq(c.size, 0x12345);

	twl_mk_new(b, WL_CMD_VFD_NEW_PIPE, 6, WL_VFD_READ, 0);
	for (size_t n = 8; n < 28; n++)
		cr_assert_eq(parse(b, n, &c), WL_RESP_ERR, "VFD_NEW_PIPE of %zu bytes", n);
	cr_assert_eq(parse(b, 28, &c), 0);
	cr_assert_eq(c.flags, WL_VFD_READ);

	twl_mk_vfd(b, WL_CMD_VFD_NEW_CTX, 7);
	for (size_t n = 8; n < 12; n++)
		cr_assert_eq(parse(b, n, &c), WL_RESP_ERR, "VFD_NEW_CTX of %zu bytes", n);
	cr_assert_eq(parse(b, 12, &c), 0);
	cr_assert_eq(c.id, 7);
	twl_mk_vfd(b, WL_CMD_VFD_CLOSE, 8);
	cr_assert_eq(parse(b, 11, &c), WL_RESP_ERR);
	cr_assert_eq(parse(b, 12, &c), 0);

	/* NAMED: the 32-byte name must be all there, and comes out terminated. */
	twl_mk_named(b, 9, "abcdefghijklmnopqrstuvwxyz012345");
	for (size_t n = 8; n < 60; n++)
		cr_assert_eq(parse(b, n, &c), WL_RESP_ERR, "VFD_NEW_CTX_NAMED of %zu bytes", n);
	cr_assert_eq(parse(b, 60, &c), 0);
	cr_assert_eq(c.id, 9);
	cr_assert_str_eq(c.name, "abcdefghijklmnopqrstuvwxyz012345");
	twl_mk_named(b, 9, "");
	cr_assert_eq(parse(b, 60, &c), 0);
	cr_assert_str_eq(c.name, "");
}

Test(wl_msg, send_counts)
{
	uint8_t b[WL_CMD_MAX + 64];
	uint32_t ids[WL_SEND_MAX_VFDS];
	struct wl_cmd c;
	size_t n;

	for (uint32_t i = 0; i < WL_SEND_MAX_VFDS; i++)
		ids[i] = 100 + i;
	/* 28 ids: the most there may be; data after them. */
	n = twl_mk_send(b, 3, ids, WL_SEND_MAX_VFDS, "xyz", 3);
	cr_assert_eq(n, 16 + 4 * 28 + 3);
	cr_assert_eq(parse(b, n, &c), 0);
	cr_assert_eq(c.nr_ids, 28);
	cr_assert_eq(c.id, 3);
	cr_assert_eq(c.data_off, 16 + 4 * 28);
	for (uint32_t i = 0; i < 28; i++)
		cr_assert_eq(c.ids[i], 100 + i);
	/* 29: INVALID_CMD, however long the chain. */
	twl_put32(b + 12, 29);
	cr_assert_eq(parse(b, sizeof(b), &c), WL_RESP_INVALID_CMD);
	twl_put32(b + 12, 0xffffffff);
	cr_assert_eq(parse(b, sizeof(b), &c), WL_RESP_INVALID_CMD);
	/* Ids cut off: 3 announced, 2 there; the header itself cut. */
	n = twl_mk_send(b, 3, ids, 3, NULL, 0);
	cr_assert_eq(parse(b, n - 1, &c), WL_RESP_ERR);
	cr_assert_eq(parse(b, n - 4, &c), WL_RESP_ERR);
	cr_assert_eq(parse(b, n, &c), 0);
	cr_assert_eq(c.data_off, n);
	for (size_t k = 8; k < 16; k++)
		cr_assert_eq(parse(b, k, &c), WL_RESP_ERR, "VFD_SEND of %zu bytes", k);
	/* Host ids are fine in SEND and CLOSE (the guest got them from VFD_NEW). */
	ids[0] = WL_HOST_ID_BIT | 5;
	n = twl_mk_send(b, WL_HOST_ID_BIT | 1, ids, 1, NULL, 0);
	cr_assert_eq(parse(b, n, &c), 0);
	cr_assert_eq(c.id, WL_HOST_ID_BIT | 1);
	twl_mk_vfd(b, WL_CMD_VFD_CLOSE, WL_HOST_ID_BIT | 7);
	cr_assert_eq(parse(b, 12, &c), 0);
}

Test(wl_msg, bad_types_and_ids)
{
	static const uint32_t bad[] = {
		0,
		1,
		0xff,
		WL_CMD_VFD_RECV,
		WL_CMD_VFD_HUP,
		WL_CMD_VFD_NEW_DMABUF,
		WL_CMD_VFD_DMABUF_SYNC,
		WL_CMD_VFD_SEND_FOREIGN_ID,
		WL_CMD_VFD_NEW_CTX_NAMED + 1,
		WL_RESP_OK,
		WL_RESP_VFD_NEW,
		WL_RESP_ERR,
		0xffffffff,
	};
	uint8_t b[WL_CMD_MAX] = { 0 };
	struct wl_cmd c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		twl_put32(b, bad[i]);
		cr_assert_eq(parse(b, sizeof(b), &c), WL_RESP_INVALID_CMD, "type 0x%x", bad[i]);
		cr_assert_eq(parse(b, 8, &c), WL_RESP_INVALID_CMD, "type 0x%x, 8 bytes", bad[i]);
	}
	/* A guest that makes a VFD may not use the device's id space. */
	twl_mk_new(b, WL_CMD_VFD_NEW, WL_HOST_ID_BIT, 0, 4096);
	cr_assert_eq(parse(b, 28, &c), WL_RESP_INVALID_ID);
	twl_mk_new(b, WL_CMD_VFD_NEW_PIPE, WL_HOST_ID_BIT | 3, WL_VFD_READ, 0);
	cr_assert_eq(parse(b, 28, &c), WL_RESP_INVALID_ID);
	twl_mk_vfd(b, WL_CMD_VFD_NEW_CTX, 0xffffffff);
	cr_assert_eq(parse(b, 12, &c), WL_RESP_INVALID_ID);
	twl_mk_named(b, WL_HOST_ID_BIT, "");
	cr_assert_eq(parse(b, 60, &c), WL_RESP_INVALID_ID);
	twl_mk_vfd(b, WL_CMD_VFD_NEW_CTX, WL_HOST_ID_BIT - 1);
	cr_assert_eq(parse(b, 12, &c), 0);
}

Test(wl_msg, encoders)
{
	uint8_t b[WL_MSG_MAX + 64];
	uint32_t ids[WL_SEND_MAX_VFDS + 2];
	uint8_t data[WL_RECV_DATA_MAX + 10];

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(wl_enc_new(b, WL_CMD_VFD_NEW, 0x40000001, 0x3, 0x1122334455667788ULL, 8192),
		     64);
	cr_assert_eq(twl_get32(b), WL_CMD_VFD_NEW);
	cr_assert_eq(twl_get32(b + 4), 0, "hdr.flags");
	cr_assert_eq(twl_get32(b + 8), 0x40000001);
	cr_assert_eq(twl_get32(b + 12), 3);
	cr_assert_eq(twl_get64(b + 16), 0x1122334455667788ULL);
	cr_assert_eq(twl_get32(b + 24), 8192);
	for (int i = 28; i < 64; i++)
		cr_assert_eq(b[i], 0, "VFD_NEW byte %d", i);
	cr_assert_eq(b[64], 0xee, "VFD_NEW wrote past 64 bytes");
	/* Byte order spelled out: little endian whatever the host. */
	cr_assert_eq(b[8], 0x01);
	cr_assert_eq(b[11], 0x40);
	cr_assert_eq(b[16], 0x88);
	cr_assert_eq(b[23], 0x11);

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(wl_enc_hup(b, 0x01020304), 12);
	cr_assert_eq(twl_get32(b), WL_CMD_VFD_HUP);
	cr_assert_eq(twl_get32(b + 4), 0);
	cr_assert_eq(twl_get32(b + 8), 0x01020304);
	cr_assert_eq(b[12], 0xee);

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(wl_enc_resp(b, WL_RESP_INVALID_FLAGS), 8);
	cr_assert_eq(twl_get32(b), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(twl_get32(b + 4), 0);
	cr_assert_eq(b[8], 0xee);

	memset(b, 0xee, sizeof(b));
	ids[0] = 0x40000005;
	ids[1] = 0x40000006;
	cr_assert_eq(wl_enc_recv(b, 7, ids, 2, "hello", 5), 16 + 8 + 5);
	cr_assert_eq(twl_get32(b), WL_CMD_VFD_RECV);
	cr_assert_eq(twl_get32(b + 4), 0);
	cr_assert_eq(twl_get32(b + 8), 7);
	cr_assert_eq(twl_get32(b + 12), 2);
	cr_assert_eq(twl_get32(b + 16), 0x40000005);
	cr_assert_eq(twl_get32(b + 20), 0x40000006);
	cr_assert(!memcmp(b + 24, "hello", 5));
	cr_assert_eq(b[29], 0xee);
	cr_assert_eq(wl_enc_recv(b, 7, NULL, 0, NULL, 0), 16);
	cr_assert_eq(twl_get32(b + 12), 0);

	/* Clamped to what fits in WL_MSG_MAX. */
	for (uint32_t i = 0; i < WL_SEND_MAX_VFDS + 2; i++)
		ids[i] = i;
	memset(data, 0x5a, sizeof(data));
	memset(b, 0xee, sizeof(b));
	cr_assert_eq(wl_enc_recv(b, 1, ids, WL_SEND_MAX_VFDS + 2, data, sizeof(data)), WL_MSG_MAX);
	cr_assert_eq(twl_get32(b + 12), WL_SEND_MAX_VFDS);
	cr_assert_eq(b[WL_MSG_MAX], 0xee);
}
