// SPDX-License-Identifier: BSD-3-Clause
/* Rate-limited warnings (util/log.h): what a guest can cause must not flood the host's log. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

struct captured {
	unsigned int n;
	char last[256];
};

static void capture(void *opaque, enum cvm_log_level level, const char *msg)
{
	struct captured *c = opaque;

	(void)level;
	c->n++;
	snprintf(c->last, sizeof(c->last), "%s", msg);
}

Test(log_rl, burst_then_suppressed_then_reported)
{
	struct captured c = { 0 };
	struct cvm_logger lg = { .level = CVM_LOG_INFO, .fn = capture, .opaque = &c };
	struct log_ratelimit rl = { 0 };
	unsigned int ok = 0;

	for (int i = 0; i < 25; i++) {
		if (log_ratelimit_ok(&rl, &lg, "virtio-x"))
			ok++;
	}
	cr_assert_eq(ok, LOG_RL_BURST, "%u let through, want %u", ok, LOG_RL_BURST);
	cr_assert_eq(c.n, 0, "nothing reported yet");
	rl.start_ms -= LOG_RL_INTERVAL_MS; /* the window is over */
	cr_assert(log_ratelimit_ok(&rl, &lg, "virtio-x"));
	cr_assert_eq(c.n, 1);
	cr_assert(strstr(c.last, "virtio-x: 15 similar messages suppressed"), "got '%s'", c.last);
	for (unsigned int i = 1; i < LOG_RL_BURST; i++)
		cr_assert(log_ratelimit_ok(&rl, &lg, "virtio-x"));
	cr_assert(!log_ratelimit_ok(&rl, &lg, "virtio-x"));
}

Test(log_rl, macro_prints_only_the_burst)
{
	struct captured c = { 0 };
	struct cvm_logger lg = { .level = CVM_LOG_INFO, .fn = capture, .opaque = &c };
	struct log_ratelimit rl = { 0 };

	for (int i = 0; i < 100; i++)
		log_warn_rl(&rl, &lg, "dev", "dev: queue 0: broken %d", i);
	cr_assert_eq(c.n, LOG_RL_BURST);
	cr_assert_str_eq(c.last, "dev: queue 0: broken 9");
}
