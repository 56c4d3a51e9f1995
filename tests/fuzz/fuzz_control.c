// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz target: the control protocol (lib/control/protocol.h): requests as
 * the server parses them, replies as the client parses them, and the JSON
 * string writer of the status reply, each into buffers of exactly the size
 * they are given (so that ASan sees one byte too many).
 *
 * Input: u8 flags (bit 0: the request was truncated), u8 why_len, u8
 * reply_len, u16 JSON buffer size, then the message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/protocol.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t flags = fz_u8(&f);
	size_t why_len = fz_u8(&f), reply_len = fz_u8(&f), json_size = fz_u16(&f) % 8192;
	char *req = malloc(f.n ? f.n : 1), *str = malloc(f.n + 1), *why = malloc(why_len + 1);
	char *reply = malloc(reply_len + 1), *json = malloc(json_size + 1);
	size_t len = f.n, off = 0, plain;
	int rc;

	FZ_CHECK(req && str && why && reply && json, "malloc");
	memcpy(req, f.p, len);
	memcpy(str, f.p, len);
	str[len] = 0;

	/* The server's side: exactly @len bytes, no NUL after them. */
	rc = ctl_parse(req, len, flags & 1, why_len ? why : NULL, why_len);
	FZ_CHECK((rc >= CTL_STOP && rc <= CTL_VERSION) || rc == -E2BIG || rc == -EINVAL ||
			 rc == -EPROTO,
		 "ctl_parse: %d", rc);
	if (rc < 0 && why_len)
		FZ_CHECK(memchr(why, 0, why_len), "the message is not NUL-terminated");
	FZ_CHECK(strlen(ctl_errno_name(rc)) > 0, "no errno name");
	FZ_CHECK(ctl_errno_from_name(ctl_errno_name(rc), strlen(ctl_errno_name(rc))) ==
			 (rc < 0 && strcmp(ctl_errno_name(rc), "EIO") ? rc : -EIO),
		 "errno names do not round-trip for %d", rc);
	(void)ctl_errno_from_name(req, len);

	/* The client's side: the reply as a string. */
	rc = ctl_parse_reply(str, reply_len ? reply : NULL, reply_len);
	FZ_CHECK(rc <= 0, "ctl_parse_reply: %d", rc);
	if (reply_len)
		FZ_CHECK(memchr(reply, 0, reply_len), "the reply is not NUL-terminated");

	/* JSON: the same length whatever the buffer, NUL-terminated within it. */
	ctl_json_string(json, json_size, &off, str);
	plain = off;
	off = 0;
	ctl_json_string(NULL, 0, &off, str);
	FZ_CHECK(off == plain, "JSON length %zu, without a buffer %zu", plain, off);
	if (json_size) {
		FZ_CHECK(memchr(json, 0, json_size), "the JSON string is not NUL-terminated");
		if (plain < json_size)
			FZ_CHECK(strlen(json) == plain && json[0] == '"' && json[plain - 1] == '"',
				 "the JSON string is cut although it fits");
	}
	free(req);
	free(str);
	free(why);
	free(reply);
	free(json);
	return 0;
}
