// SPDX-License-Identifier: BSD-3-Clause
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void cvm_logf(const struct cvm_logger *lg, enum cvm_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!lg || level > lg->level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lg->fn) {
		lg->fn(lg->opaque, level, msg);
		return;
	}

	/* One write(2) per line so that lines from several threads never mix. */
	char line[1100];
	unsigned int l = (unsigned int)level <= CVM_LOG_DEBUG ? (unsigned int)level : CVM_LOG_DEBUG;
	int n = snprintf(line, sizeof(line), "cvm: %s: %s\n", level_names[l], msg);

	if (n > (int)sizeof(line) - 1) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool log_ratelimit_ok(struct log_ratelimit *rl, const struct cvm_logger *lg, const char *who)
{
	int64_t now = mono_ms();

	if (!rl->start_ms || now - rl->start_ms >= LOG_RL_INTERVAL_MS) {
		if (rl->missed)
			cvm_logf(lg, CVM_LOG_WARN, "%s: %u similar messages suppressed", who,
				 rl->missed);
		rl->start_ms = now ? now : 1;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed < LOG_RL_BURST) {
		rl->printed++;
		return true;
	}
	rl->missed++;
	return false;
}
