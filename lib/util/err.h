/* SPDX-License-Identifier: BSD-3-Clause */
/* Error messages carried next to -errno return codes. */
#ifndef CVM_UTIL_ERR_H
#define CVM_UTIL_ERR_H

#include <stddef.h>

struct cvm_errbuf {
	char msg[512];
};

/*
 * errf() - record a message in @e (may be NULL) and return @rc, so that
 * `return errf(e, -EINVAL, "bad thing %d", x);` reads naturally.
 */
int errf(struct cvm_errbuf *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
