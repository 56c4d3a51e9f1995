// SPDX-License-Identifier: BSD-3-Clause
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
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
