/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control protocol, version 1 (docs/control.md): over AF_UNIX
 * SOCK_SEQPACKET, one request per message ("CVM1 <command>", optionally
 * followed by a newline, at most CTL_MAX_REQUEST bytes), one reply per
 * request ("CVM1 OK <payload>" or "CVM1 ERR <ERRNO_NAME> <message>").
 * Parsing is pure so that it can be tested byte by byte.
 */
#ifndef CVM_CONTROL_PROTOCOL_H
#define CVM_CONTROL_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_PREFIX "CVM1"
#define CTL_MAX_REQUEST 4096
#define CTL_MAX_REPLY 65536

enum ctl_cmd {
	CTL_STOP = 1,
	CTL_SUSPEND,
	CTL_RESUME,
	CTL_STATUS,
	CTL_VERSION,
};

/*
 * ctl_parse() - parse one request of @len bytes (@truncated: the message
 * was longer than the buffer). Returns the command, or a negative errno
 * (-E2BIG, -EINVAL, -EPROTO) with a message in @why.
 */
int ctl_parse(const char *req, size_t len, bool truncated, char *why, size_t why_len);

/* "EINVAL" for -EINVAL and so on, for the errors the protocol uses ("EIO" otherwise). */
const char *ctl_errno_name(int rc);
/* The reverse: -errno for a name, -EIO for an unknown one. */
int ctl_errno_from_name(const char *name, size_t len);

/*
 * ctl_parse_reply() - the client's side: split the NUL-terminated reply
 * @buf into its payload, copied (NUL-terminated, cut to fit) into @reply
 * unless @reply is NULL or @reply_len 0, and a result: 0 for "CVM1 OK
 * [payload]", the -errno named by "CVM1 ERR <NAME> <message>" (the payload
 * is then "<NAME> <message>"), -EPROTO for anything else (the payload is
 * the whole reply), -ENOSPC for an OK whose payload did not fit.
 */
int ctl_parse_reply(const char *buf, char *reply, size_t reply_len);

/*
 * ctl_json_string() - append @s as a JSON string (quoted, escaped) to
 * @buf at *@off; never writes past @size, sets *@off past the end when cut.
 */
void ctl_json_string(char *buf, size_t size, size_t *off, const char *s);

#endif
