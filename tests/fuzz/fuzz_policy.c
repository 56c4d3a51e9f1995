// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz target: the seccomp policy parser and compiler. The input is policy
 * text; what parses is compiled into libseccomp contexts (the main filter
 * and the errno filters), which are then released: nothing is loaded.
 *
 * `@include ./x` resolves in a private copy of policy/x86_64/ (made at
 * start), and inputs that name ".." are skipped, so that an include never
 * reads anything else (the policy directory is the operator's, not the
 * guest's: an include of /dev/zero would only hang the fuzzer).
 */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "jail/policy.h"

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/*
 * libseccomp 2.5.4 itself leaks some rule nodes when rules of one syscall
 * with `!=` are merged: `ioctl: arg1 == 4 || arg1 != 0 && arg5 == 5 ||
 * arg5 != 5` loses 192 bytes even in a program that only calls
 * seccomp_rule_add_array() and seccomp_release(). Not ours to fix, and a
 * few bytes once per device at start-up, so LeakSanitizer ignores leaks
 * allocated inside libseccomp (ours are still reported).
 */
const char *__lsan_default_suppressions(void)
{
	return "leak:libseccomp.so\n";
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "fuzz_policy: cannot remove %s\n", dir);
}

/* A private copy of the project's policy files, for @include. */
static void setup(void)
{
	char cmd[512];

	snprintf(dir, sizeof(dir), "/tmp/cvm-fuzz-policy-XXXXXX");
	FZ_CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(cmd, sizeof(cmd), "cp '%s'/*.policy '%s'/", CVM_POLICY_SRC, dir);
	FZ_CHECK(system(cmd) == 0, "%s", cmd);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	scmp_filter_ctx ctx = NULL, errs[POLICY_MAX_ERRNO_FILTERS];
	struct cvm_errbuf err = { "" };
	struct policy *p = NULL;
	size_t nr = 0;
	char *text;
	int rc;

	if (!dir[0])
		setup();
	if (memmem(data, size, "..", 2))
		return 0;
	text = malloc(size + 1);
	FZ_CHECK(text, "malloc");
	memcpy(text, data, size);
	text[size] = 0;

	rc = policy_parse_string(&p, text, "fuzz.policy", dir, &err);
	FZ_CHECK(rc <= 0, "policy_parse_string: %d", rc);
	FZ_CHECK((rc == 0) == (p != NULL), "rc %d with policy %p", rc, (void *)p);
	FZ_CHECK(rc == 0 || err.msg[0], "error %d without a message", rc);
	if (p) {
		for (size_t i = 0; i < p->nr; i++) {
			const struct policy_rule *r = &p->rules[i];

			FZ_CHECK(policy_find(p, r->name) == r, "rule %s is not found", r->name);
			FZ_CHECK(r->nr >= 0, "rule %s: syscall %d", r->name, r->nr);
			for (size_t j = 0; j < r->nr_clauses; j++) {
				FZ_CHECK(r->clauses[j].nr <= POLICY_MAX_AND, "%u comparisons",
					 r->clauses[j].nr);
				for (unsigned int k = 0; k < r->clauses[j].nr; k++)
					FZ_CHECK(r->clauses[j].cmp[k].arg < 6, "arg%u",
						 r->clauses[j].cmp[k].arg);
			}
		}
		err.msg[0] = 0;
		rc = policy_compile(p, SCMP_ACT_KILL_PROCESS, &ctx, &err);
		FZ_CHECK(rc <= 0 && (rc == 0) == (ctx != NULL), "policy_compile: %d", rc);
		if (ctx)
			seccomp_release(ctx);
		rc = policy_compile_errno(p, errs, &nr, &err);
		FZ_CHECK(rc <= 0 && nr <= POLICY_MAX_ERRNO_FILTERS, "policy_compile_errno: %d, %zu",
			 rc, nr);
		if (rc == 0)
			for (size_t i = 0; i < nr; i++)
				seccomp_release(errs[i]);
	}
	policy_free(p);
	free(text);
	return 0;
}
