/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging through a VM's log callback. */
#ifndef CVM_UTIL_LOG_H
#define CVM_UTIL_LOG_H

#include <libcvm/cvm.h>

struct cvm_logger {
	enum cvm_log_level level;
	cvm_log_fn fn; /* NULL: stderr */
	void *opaque;
};

void cvm_logf(const struct cvm_logger *lg, enum cvm_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(lg, ...) cvm_logf((lg), CVM_LOG_ERROR, __VA_ARGS__)
#define log_warn(lg, ...) cvm_logf((lg), CVM_LOG_WARN, __VA_ARGS__)
#define log_info(lg, ...) cvm_logf((lg), CVM_LOG_INFO, __VA_ARGS__)
#define log_debug(lg, ...)                                          \
	do {                                                        \
		if ((lg)->level >= CVM_LOG_DEBUG)                   \
			cvm_logf((lg), CVM_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
