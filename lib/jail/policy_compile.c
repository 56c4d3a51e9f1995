// SPDX-License-Identifier: BSD-3-Clause
/*
 * The policy compiler: struct policy to libseccomp filters for x86_64.
 *
 * Each `&&` chain becomes one seccomp_rule_add_array() call, each `||`
 * alternative another rule for the same syscall. `argN in M` is
 * MASKED_EQ(~M, 0). `argN & V` ((argN & V) != 0) has no libseccomp
 * comparison, so it becomes one alternative per set bit b of V,
 * MASKED_EQ(b, b), multiplied out with the rest of its chain.
 *
 * `name: EXPR; return E` needs an "else" action per syscall, which libseccomp
 * cannot express in one filter (an unconditional rule overrides conditional
 * ones, and negating EXPR usually compares one argument twice in a rule).
 * So the main filter allows the syscall outright, and a second filter per
 * distinct E (default ERRNO(E), all other syscalls allowed) allows it only
 * when EXPR holds; the kernel runs every filter and keeps the most
 * restrictive verdict.
 */
#include "jail/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The highest x86_64 syscall number the errno filters enumerate. */
#define POLICY_NR_MAX 1024

struct emit {
	scmp_filter_ctx ctx;
	uint32_t action;
	const struct policy_rule *r;
	const struct policy_clause *cl;
	struct scmp_arg_cmp a[POLICY_MAX_AND];
	unsigned int count;
	struct cvm_errbuf *err;
};

#define rerr(r, rc, fmt, ...) \
	errf(err, rc, "%s:%u: %s: " fmt, (r)->file, (r)->line, (r)->name, ##__VA_ARGS__)

/* emit_from() - fill comparisons k.. of the chain, one rule per `&` bit choice. */
static int emit_from(struct emit *e, unsigned int k)
{
	const struct policy_cmp *c = &e->cl->cmp[k];
	struct cvm_errbuf *err = e->err;
	static const enum scmp_compare ops[] = {
		[POLICY_OP_EQ] = SCMP_CMP_EQ, [POLICY_OP_NE] = SCMP_CMP_NE,
		[POLICY_OP_LT] = SCMP_CMP_LT, [POLICY_OP_LE] = SCMP_CMP_LE,
		[POLICY_OP_GT] = SCMP_CMP_GT, [POLICY_OP_GE] = SCMP_CMP_GE,
	};
	int rc;

	if (k == e->cl->nr) {
		if (++e->count > POLICY_MAX_EXPANSION)
			return rerr(e->r, -E2BIG, "rule expands to more than %d libseccomp rules",
				    POLICY_MAX_EXPANSION);
		rc = seccomp_rule_add_array(e->ctx, e->action, e->r->nr, e->cl->nr, e->a);
		if (rc)
			return rerr(e->r, rc, "libseccomp rejected the rule: %s", strerror(-rc));
		return 0;
	}
	e->a[k] = (struct scmp_arg_cmp){ .arg = c->arg };
	switch (c->op) {
	case POLICY_OP_IN:
		e->a[k].op = SCMP_CMP_MASKED_EQ;
		e->a[k].datum_a = ~c->val;
		e->a[k].datum_b = 0;
		return emit_from(e, k + 1);
	case POLICY_OP_AND:
		e->a[k].op = SCMP_CMP_MASKED_EQ;
		for (unsigned int b = 0; b < 64; b++) {
			if (!(c->val & (1ull << b)))
				continue;
			e->a[k].datum_a = 1ull << b;
			e->a[k].datum_b = 1ull << b;
			rc = emit_from(e, k + 1);
			if (rc)
				return rc;
		}
		return 0;
	default:
		e->a[k].op = ops[c->op];
		e->a[k].datum_a = c->val;
		return emit_from(e, k + 1);
	}
}

/* add_expr() - the rules allowing @r's syscall when its EXPR holds. */
static int add_expr(scmp_filter_ctx ctx, const struct policy_rule *r, struct cvm_errbuf *err)
{
	struct emit e = { .ctx = ctx, .action = SCMP_ACT_ALLOW, .r = r, .err = err };
	bool range = false, several = r->nr_clauses > 1;

	for (size_t i = 0; i < r->nr_clauses; i++) {
		for (unsigned int j = 0; j < r->clauses[i].nr; j++) {
			enum policy_op op = r->clauses[i].cmp[j].op;
			uint64_t v = r->clauses[i].cmp[j].val;

			range |= op >= POLICY_OP_LT && op <= POLICY_OP_GE;
			several |= op == POLICY_OP_AND && (v & (v - 1));
		}
	}
	/*
	 * libseccomp 2.5 miscompiles range comparisons (< <= > >=) merged with
	 * other alternatives of the same syscall (seen: `arg0 <= 4 && arg1 == 1 ||
	 * arg0 > 0xfffffffff` allowing arg0 == 4, arg1 == 100), so refuse them.
	 */
	if (range && several)
		return rerr(r, -EOPNOTSUPP,
			    "range comparisons (< <= > >=) are only supported in a rule with a "
			    "single alternative (libseccomp miscompiles them otherwise)");
	/*
	 * libseccomp 2.5 can loop forever adding rules of one syscall that share
	 * the same `argN != V` and then differ (seen: `arg0 != 2 && arg2 == 2 ||
	 * arg0 != 2 && arg2 == 0x100000000`, and `arg0 != 2 && arg2 & ~5`, whose
	 * `&` bits multiply the `!=` out), so refuse an `!=` that would reach
	 * more than one libseccomp rule.
	 */
	for (size_t i = 0; i < r->nr_clauses; i++) {
		const struct policy_clause *cl = &r->clauses[i];

		for (unsigned int j = 0; j < cl->nr; j++) {
			const struct policy_cmp *ne = &cl->cmp[j];
			bool shared = false;

			if (ne->op != POLICY_OP_NE)
				continue;
			for (unsigned int k = 0; k < cl->nr; k++)
				shared |= cl->cmp[k].op == POLICY_OP_AND &&
					  (cl->cmp[k].val & (cl->cmp[k].val - 1));
			for (size_t i2 = i + 1; i2 < r->nr_clauses; i2++)
				for (unsigned int k = 0; k < r->clauses[i2].nr; k++) {
					const struct policy_cmp *o = &r->clauses[i2].cmp[k];

					shared |= o->op == POLICY_OP_NE && o->arg == ne->arg &&
						  o->val == ne->val;
				}
			if (shared)
				return rerr(
					r, -EOPNOTSUPP,
					"arg%u != 0x%llx would be in more than one alternative "
					"(after `&` expansion), which libseccomp cannot compile",
					ne->arg, (unsigned long long)ne->val);
		}
	}

	for (size_t i = 0; i < r->nr_clauses; i++) {
		const struct policy_clause *cl = &r->clauses[i];
		int rc;

		for (unsigned int j = 0; j < cl->nr; j++)
			for (unsigned int k = j + 1; k < cl->nr; k++)
				if (cl->cmp[j].arg == cl->cmp[k].arg)
					return rerr(r, -EOPNOTSUPP,
						    "arg%u is compared twice in one '&&' chain, "
						    "which libseccomp cannot express",
						    cl->cmp[j].arg);
		e.cl = cl;
		rc = emit_from(&e, 0);
		if (rc)
			return rc;
	}
	return 0;
}

static int new_ctx(uint32_t default_action, scmp_filter_ctx *out, struct cvm_errbuf *err)
{
	scmp_filter_ctx ctx;

	if (seccomp_arch_native() != SCMP_ARCH_X86_64)
		return errf(err, -EOPNOTSUPP, "seccomp policies are for x86_64 only");
	ctx = seccomp_init(default_action);
	if (!ctx)
		return errf(err, -EINVAL, "seccomp_init failed (default action %#x)",
			    default_action);
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) {
		seccomp_release(ctx);
		return errf(err, -EINVAL, "cannot set the no_new_privs attribute");
	}
	*out = ctx;
	return 0;
}

int policy_compile(const struct policy *p, uint32_t default_action, scmp_filter_ctx *out,
		   struct cvm_errbuf *err)
{
	scmp_filter_ctx ctx;
	int rc;

	*out = NULL;
	rc = new_ctx(default_action, &ctx, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < p->nr; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (r->nr_clauses && r->errno_val < 0) {
			rc = add_expr(ctx, r, err);
		} else {
			uint32_t act = SCMP_ACT_ALLOW;

			if (!r->allow_all && !r->nr_clauses)
				act = SCMP_ACT_ERRNO(r->errno_val);
			/* The default does it already; libseccomp refuses such a rule (-EACCES). */
			if (act == default_action)
				continue;
			rc = seccomp_rule_add(ctx, act, r->nr, 0);
			if (rc)
				rc = rerr(r, rc, "libseccomp rejected the rule: %s", strerror(-rc));
		}
		if (rc) {
			seccomp_release(ctx);
			return rc;
		}
	}
	*out = ctx;
	return 0;
}

static bool in_group(const struct policy *p, int nr, int e)
{
	for (size_t i = 0; i < p->nr; i++)
		if (p->rules[i].nr == nr && p->rules[i].nr_clauses && p->rules[i].errno_val == e)
			return true;
	return false;
}

/* errno_filter() - default ERRNO(@e), everything but @e's rules allowed outright. */
static int errno_filter(const struct policy *p, int e, scmp_filter_ctx *out, struct cvm_errbuf *err)
{
	scmp_filter_ctx ctx;
	int rc;

	rc = new_ctx(SCMP_ACT_ERRNO(e), &ctx, err);
	if (rc)
		return rc;
	/* A binary tree over ~450 syscalls; older libseccomp lacks it, which is fine. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (int nr = 0; nr < POLICY_NR_MAX; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);

		if (!name)
			continue;
		free(name);
		if (in_group(p, nr, e))
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc) {
			seccomp_release(ctx);
			return errf(err, rc, "errno filter: cannot allow syscall %d: %s", nr,
				    strerror(-rc));
		}
	}
	for (size_t i = 0; i < p->nr; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (!r->nr_clauses || r->errno_val != e)
			continue;
		rc = add_expr(ctx, r, err);
		if (rc) {
			seccomp_release(ctx);
			return rc;
		}
	}
	*out = ctx;
	return 0;
}

int policy_compile_errno(const struct policy *p, scmp_filter_ctx out[POLICY_MAX_ERRNO_FILTERS],
			 size_t *nr, struct cvm_errbuf *err)
{
	int seen[POLICY_MAX_ERRNO_FILTERS];
	size_t n = 0;
	int rc;

	*nr = 0;
	for (size_t i = 0; i < p->nr; i++) {
		const struct policy_rule *r = &p->rules[i];
		size_t j;

		if (!r->nr_clauses || r->errno_val < 0)
			continue;
		for (j = 0; j < n && seen[j] != r->errno_val; j++)
			;
		if (j < n)
			continue;
		if (n == POLICY_MAX_ERRNO_FILTERS)
			return rerr(r, -E2BIG, "more than %d distinct errnos after 'EXPR;'",
				    POLICY_MAX_ERRNO_FILTERS);
		seen[n++] = r->errno_val;
	}
	for (size_t i = 0; i < n; i++) {
		rc = errno_filter(p, seen[i], &out[i], err);
		if (rc) {
			while (i--)
				seccomp_release(out[i]);
			return rc;
		}
	}
	*nr = n;
	return 0;
}

int policy_load(const struct policy *p, uint32_t default_action, struct cvm_errbuf *err)
{
	scmp_filter_ctx side[POLICY_MAX_ERRNO_FILTERS], ctx;
	size_t n, i;
	int rc;

	rc = policy_compile(p, default_action, &ctx, err);
	if (rc)
		return rc;
	rc = policy_compile_errno(p, side, &n, err);
	if (rc) {
		seccomp_release(ctx);
		return rc;
	}
	/* The errno filters first: on equal actions the newest filter's data wins. */
	for (i = 0; i < n && !rc; i++) {
		rc = seccomp_load(side[i]);
		if (rc)
			errf(err, rc, "seccomp_load (errno filter %zu): %s", i, strerror(-rc));
	}
	if (!rc) {
		rc = seccomp_load(ctx);
		if (rc)
			errf(err, rc, "seccomp_load: %s", strerror(-rc));
	}
	for (i = 0; i < n; i++)
		seccomp_release(side[i]);
	seccomp_release(ctx);
	return rc;
}
