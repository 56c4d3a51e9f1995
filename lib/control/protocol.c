// SPDX-License-Identifier: BSD-3-Clause
#include "control/protocol.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	enum ctl_cmd cmd;
} commands[] = {
	{ "stop", CTL_STOP },	  { "suspend", CTL_SUSPEND }, { "resume", CTL_RESUME },
	{ "status", CTL_STATUS }, { "version", CTL_VERSION },
};

int ctl_parse(const char *req, size_t len, bool truncated, char *why, size_t why_len)
{
	const size_t plen = strlen(CTL_PREFIX);

	if (truncated || len > CTL_MAX_REQUEST) {
		snprintf(why, why_len, "request longer than %d bytes", CTL_MAX_REQUEST);
		return -E2BIG;
	}
	if (len && req[len - 1] == '\n')
		len--;
	if (len == 0) {
		snprintf(why, why_len, "empty request");
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (req[i] < 0x20 || req[i] > 0x7e) {
			snprintf(why, why_len, "byte 0x%02x at %zu is not printable ASCII",
				 (unsigned char)req[i], i);
			return -EINVAL;
		}
	}
	if (len < plen || memcmp(req, CTL_PREFIX, plen) || (len > plen && req[plen] != ' ')) {
		snprintf(why, why_len, "requests start with \"" CTL_PREFIX " \" (protocol 1)");
		return -EPROTO;
	}
	const char *cmd = req + plen + 1;
	size_t clen = len > plen ? len - plen - 1 : 0;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strlen(commands[i].name) == clen && !memcmp(commands[i].name, cmd, clen))
			return commands[i].cmd;
	}
	if (clen == 0)
		snprintf(why, why_len, "no command");
	else
		snprintf(why, why_len, "unknown command \"%.*s\"", clen > 64 ? 64 : (int)clen, cmd);
	return -EINVAL;
}

static const struct {
	int rc;
	const char *name;
} errnames[] = {
	{ -EINVAL, "EINVAL" },	   { -EPROTO, "EPROTO" }, { -E2BIG, "E2BIG" },
	{ -EALREADY, "EALREADY" }, { -EBUSY, "EBUSY" },	  { -ENOTSUP, "ENOTSUP" },
	{ -EIO, "EIO" },	   { -ENOSPC, "ENOSPC" },
};

const char *ctl_errno_name(int rc)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
		if (errnames[i].rc == rc)
			return errnames[i].name;
	}
	return "EIO";
}

int ctl_errno_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
		if (strlen(errnames[i].name) == len && !memcmp(errnames[i].name, name, len))
			return errnames[i].rc;
	}
	return -EIO;
}

int ctl_parse_reply(const char *buf, char *reply, size_t reply_len)
{
	const char *ok = CTL_PREFIX " OK", *err = CTL_PREFIX " ERR ";
	const char *payload = "";
	int rc = 0;

	if (!strncmp(buf, ok, strlen(ok)) && (buf[strlen(ok)] == ' ' || !buf[strlen(ok)])) {
		payload = buf[strlen(ok)] ? buf + strlen(ok) + 1 : "";
	} else if (!strncmp(buf, err, strlen(err))) {
		const char *name = buf + strlen(err);

		payload = name;
		rc = ctl_errno_from_name(name, strcspn(name, " "));
	} else {
		payload = buf;
		rc = -EPROTO; /* not a protocol-1 reply */
	}
	if (reply && reply_len) {
		snprintf(reply, reply_len, "%s", payload);
		if (!rc && strlen(payload) >= reply_len)
			rc = -ENOSPC;
	}
	return rc;
}

static void put(char *buf, size_t size, size_t *off, char c)
{
	if (*off + 1 < size)
		buf[*off] = c;
	(*off)++;
}

void ctl_json_string(char *buf, size_t size, size_t *off, const char *s)
{
	put(buf, size, off, '"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			put(buf, size, off, '\\');
			put(buf, size, off, (char)c);
		} else if (c < 0x20) {
			char esc[8];

			snprintf(esc, sizeof(esc), "\\u%04x", c);
			for (char *e = esc; *e; e++)
				put(buf, size, off, *e);
		} else {
			put(buf, size, off, (char)c);
		}
	}
	put(buf, size, off, '"');
	if (size)
		buf[*off < size ? *off : size - 1] = '\0';
}
