// SPDX-License-Identifier: BSD-3-Clause
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

int errf(struct cvm_errbuf *e, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return rc;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return rc;
}
