// SPDX-License-Identifier: BSD-3-Clause
/* The control protocol's request parser and JSON string escaping. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "control/protocol.h"

static int parse(const char *s)
{
	char why[256];

	return ctl_parse(s, strlen(s), false, why, sizeof(why));
}

Test(control, commands)
{
	cr_assert_eq(parse("CVM1 stop"), CTL_STOP);
	cr_assert_eq(parse("CVM1 stop\n"), CTL_STOP, "one trailing newline is allowed");
	cr_assert_eq(parse("CVM1 suspend"), CTL_SUSPEND);
	cr_assert_eq(parse("CVM1 resume"), CTL_RESUME);
	cr_assert_eq(parse("CVM1 status"), CTL_STATUS);
	cr_assert_eq(parse("CVM1 version"), CTL_VERSION);
}

Test(control, malformed)
{
	char why[256] = "";
	char big[CTL_MAX_REQUEST + 10];

	cr_assert_eq(parse(""), -EINVAL);
	cr_assert_eq(parse("\n"), -EINVAL);
	cr_assert_eq(parse("CVM1"), -EINVAL, "no command");
	cr_assert_eq(parse("CVM1 "), -EINVAL);
	cr_assert_eq(parse("CVM1 sto"), -EINVAL, "truncated command");
	cr_assert_eq(parse("CVM1 stopp"), -EINVAL);
	cr_assert_eq(parse("CVM1  stop"), -EINVAL, "two spaces");
	cr_assert_eq(parse("CVM1 stop\n\n"), -EINVAL);
	cr_assert_eq(parse("CVM1 STOP"), -EINVAL, "commands are lower case");
	cr_assert_eq(parse("CVM2 stop"), -EPROTO);
	cr_assert_eq(parse("stop"), -EPROTO);
	cr_assert_eq(parse("CVM1stop"), -EPROTO);
	cr_assert_eq(ctl_parse("CVM1 st\0p", 9, false, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "0x00"), "%s", why);
	cr_assert_eq(parse("CVM1 stop\r"), -EINVAL);
	cr_assert_eq(parse("CVM1 \xff"), -EINVAL);
	cr_assert_eq(ctl_parse("CVM1 stop", 9, true, why, sizeof(why)), -E2BIG, "truncated");
	memset(big, 'a', sizeof(big));
	cr_assert_eq(ctl_parse(big, sizeof(big), false, why, sizeof(why)), -E2BIG);
	cr_assert_eq(ctl_parse("CVM1 frobnicate", 15, false, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "\"frobnicate\""), "%s", why);
}

Test(control, errno_names)
{
	cr_assert_str_eq(ctl_errno_name(-EALREADY), "EALREADY");
	cr_assert_str_eq(ctl_errno_name(-E2BIG), "E2BIG");
	cr_assert_str_eq(ctl_errno_name(-12345), "EIO");
	cr_assert_eq(ctl_errno_from_name("EPROTO trailing", 6), -EPROTO);
	cr_assert_eq(ctl_errno_from_name("EWHATEVER", 9), -EIO);
}

Test(control, json_strings)
{
	char buf[64];
	size_t off = 0;

	ctl_json_string(buf, sizeof(buf), &off, "a\"b\\c\nd");
	cr_assert_str_eq(buf, "\"a\\\"b\\\\c\\u000ad\"");
	cr_assert_eq(off, strlen(buf));
	/* Never past the buffer; the offset says how much was needed. */
	char small[6];

	off = 0;
	ctl_json_string(small, sizeof(small), &off, "abcdefgh");
	cr_assert_eq(off, 10);
	cr_assert_eq(strlen(small), 5);
}

Test(control, replies)
{
	char r[16];

	cr_assert_eq(ctl_parse_reply("CVM1 OK", r, sizeof(r)), 0);
	cr_assert_str_eq(r, "");
	cr_assert_eq(ctl_parse_reply("CVM1 OK {\"a\":1}", r, sizeof(r)), 0);
	cr_assert_str_eq(r, "{\"a\":1}");
	cr_assert_eq(ctl_parse_reply("CVM1 OK 0123456789abcdef", r, sizeof(r)), -ENOSPC);
	cr_assert_str_eq(r, "0123456789abcde");
	cr_assert_eq(ctl_parse_reply("CVM1 ERR EALREADY not now", r, sizeof(r)), -EALREADY);
	cr_assert_str_eq(r, "EALREADY not no");
	cr_assert_eq(ctl_parse_reply("CVM1 ERR EWHAT x", NULL, 0), -EIO);
	cr_assert_eq(ctl_parse_reply("CVM1 OKAY", r, sizeof(r)), -EPROTO);
	cr_assert_str_eq(r, "CVM1 OKAY");
	cr_assert_eq(ctl_parse_reply("", r, sizeof(r)), -EPROTO);
}
