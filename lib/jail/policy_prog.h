/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Seccomp programs built ahead of time: the VMM compiles a device's policy
 * (it can read the policy files and may allocate), the device's process
 * installs the result with nothing but prctl(2), after it lost its file
 * system and before it runs any device code.
 */
#ifndef CVM_JAIL_POLICY_PROG_H
#define CVM_JAIL_POLICY_PROG_H

#include <linux/filter.h>

#include "jail/policy.h"

struct policy_prog {
	unsigned int nr; /* filters, in installation order */
	struct sock_fprog f[POLICY_MAX_ERRNO_FILTERS + 1];
};

/*
 * policy_prog_build() - compile @p (see policy_compile()) into BPF programs
 * in @out: the errno filters, then the main one. Returns 0 or -errno with a
 * message in @err; free with policy_prog_free().
 */
int policy_prog_build(struct policy_prog *out, const struct policy *p, uint32_t default_action,
		      struct cvm_errbuf *err);

/*
 * policy_prog_file() - parse <@dir>/<@name>_device.policy and build it.
 * A missing file is -ENOENT with a message that names it.
 */
int policy_prog_file(struct policy_prog *out, const char *dir, const char *name,
		     uint32_t default_action, struct cvm_errbuf *err);

/*
 * policy_prog_custom() - a custom device's policy: <@dir>/common_device.policy
 * (what libcvm's own device loop needs) followed by the device's rules, given
 * as @text (its @includes relative to @dir) or as the file @file (relative
 * to the file's directory). A syscall the device's rules name again is an
 * error unless both allow it outright (`name: 1`), then it is dropped.
 */
int policy_prog_custom(struct policy_prog *out, const char *dir, const char *text, const char *file,
		       uint32_t default_action, struct cvm_errbuf *err);

/*
 * policy_prog_install() - install the filters on the calling thread. Needs
 * no_new_privs (or CAP_SYS_ADMIN). Async-signal-safe: no allocation.
 * Returns 0 or -errno.
 */
int policy_prog_install(const struct policy_prog *pp);

void policy_prog_free(struct policy_prog *pp);

#endif
