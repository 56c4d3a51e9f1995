/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging through a VM's log callback. */
#ifndef CVM_UTIL_LOG_H
#define CVM_UTIL_LOG_H

#include <libcvm/cvm.h>
#include <stdbool.h>
#include <stdint.h>

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

/*
 * Messages a guest can cause at will (a broken queue, then a reset, in a
 * loop) must not flood the host's log: at most LOG_RL_BURST of them per
 * LOG_RL_INTERVAL_MS and source, as Linux's printk_ratelimit(); the next
 * window starts with how many were dropped.
 */
#define LOG_RL_BURST 10u
#define LOG_RL_INTERVAL_MS 5000

struct log_ratelimit {
	int64_t start_ms; /* 0: no window yet */
	unsigned int printed, missed;
};

/*
 * log_ratelimit_ok() - may one more message of @rl go out now? Reports on
 * @lg what an ended window dropped ("@who: N similar messages suppressed").
 */
bool log_ratelimit_ok(struct log_ratelimit *rl, const struct cvm_logger *lg, const char *who);

#define log_warn_rl(rl, lg, who, ...)                              \
	do {                                                       \
		if (log_ratelimit_ok((rl), (lg), (who)))           \
			cvm_logf((lg), CVM_LOG_WARN, __VA_ARGS__); \
	} while (0)

#endif
