/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Seccomp policy files in minijail syntax (the format crosvm's device
 * policies use): a parser into struct policy and a compiler to libseccomp
 * filters for x86_64. docs/policy.md describes the syntax and how each rule
 * compiles.
 */
#ifndef CVM_JAIL_POLICY_H
#define CVM_JAIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

#include "util/err.h"

/* Comparisons one `&&` chain may hold. */
#define POLICY_MAX_AND 6
/* Alternatives (`||`) one rule may hold. */
#define POLICY_MAX_OR 64
/* libseccomp rules one policy line may compile to (after `&` expansion). */
#define POLICY_MAX_EXPANSION 256
/* Filters policy_compile_errno() may produce (one per distinct errno). */
#define POLICY_MAX_ERRNO_FILTERS 8
/* Longest policy line, syscall name and file name accepted. */
#define POLICY_LINE_MAX 4096
#define POLICY_NAME_MAX 64

enum policy_op {
	POLICY_OP_EQ,  /* argN == v */
	POLICY_OP_NE,  /* argN != v */
	POLICY_OP_LT,  /* argN < v */
	POLICY_OP_LE,  /* argN <= v */
	POLICY_OP_GT,  /* argN > v */
	POLICY_OP_GE,  /* argN >= v */
	POLICY_OP_AND, /* argN & v: (argN & v) != 0 */
	POLICY_OP_IN,  /* argN in v: (argN & ~v) == 0 */
};

/* One comparison of a 64-bit syscall argument (unsigned). */
struct policy_cmp {
	unsigned int arg; /* 0..5 */
	enum policy_op op;
	uint64_t val;
};

/* Comparisons joined by `&&`: all must hold. */
struct policy_clause {
	unsigned int nr;
	struct policy_cmp cmp[POLICY_MAX_AND];
};

/*
 * One `syscall: ...` line. Exactly one of these forms:
 *   allow_all          `name: 1`
 *   nr_clauses > 0     `name: EXPR` or `name: EXPR; return ERRNO` (errno >= 0)
 *   nr_clauses == 0    `name: return ERRNO` (errno >= 0)
 * The clauses are OR-ed (`||`).
 */
struct policy_rule {
	char name[POLICY_NAME_MAX];
	int nr;	    /* x86_64 syscall number */
	char *file; /* where the rule was written, for messages */
	unsigned int line;
	bool allow_all;
	int errno_val; /* -1: none; else what the syscall returns when not allowed */
	size_t nr_clauses;
	struct policy_clause *clauses;
};

/* A parsed policy: its rules in file order, included files' in place. */
struct policy {
	size_t nr, cap;
	struct policy_rule *rules;
};

/*
 * policy_parse_file() - parse the policy file at @path into a new *@out.
 * `@include ./x.policy` is resolved relative to the directory of @path.
 * Returns 0, or -errno with a message naming file and line in @err.
 */
int policy_parse_file(struct policy **out, const char *path, struct cvm_errbuf *err);

/*
 * policy_parse_string() - parse policy text @text; @name names it in
 * messages. @dir is the directory `@include ./x` is relative to; when NULL,
 * any @include is an error. Returns 0 or -errno with a message in @err.
 */
int policy_parse_string(struct policy **out, const char *text, const char *name, const char *dir,
			struct cvm_errbuf *err);

/* policy_const() - the value of constant @name (@len bytes) in *@val; 0, or -ENOENT. */
int policy_const(const char *name, size_t len, uint64_t *val);

/* policy_find() - the rule for syscall @name, or NULL. */
const struct policy_rule *policy_find(const struct policy *p, const char *name);

/*
 * policy_compile() - build the main libseccomp filter of @p (x86_64 only,
 * no_new_privs attribute set) into *@out; the caller seccomp_release()s it.
 * @default_action is what every syscall not allowed gets: SCMP_ACT_KILL_PROCESS,
 * SCMP_ACT_TRAP or SCMP_ACT_ERRNO(x).
 *
 * A rule `name: EXPR; return ERRNO` is allowed unconditionally in this filter:
 * libseccomp has no per-syscall "else" action, so its ERRNO part lives in the
 * filters of policy_compile_errno(), which must be loaded too (before this
 * one). policy_load() does both. Returns 0 or -errno with a message in @err.
 */
int policy_compile(const struct policy *p, uint32_t default_action, scmp_filter_ctx *out,
		   struct cvm_errbuf *err);

/*
 * policy_compile_errno() - the filters for `EXPR; return ERRNO` rules, one
 * per distinct errno E: default action ERRNO(E), every other x86_64 syscall
 * allowed, and the syscalls of those rules allowed when EXPR holds. Stores
 * up to POLICY_MAX_ERRNO_FILTERS contexts in @out and their count in *@nr
 * (0 when the policy has no such rule). Returns 0 or -errno.
 */
int policy_compile_errno(const struct policy *p, scmp_filter_ctx out[POLICY_MAX_ERRNO_FILTERS],
			 size_t *nr, struct cvm_errbuf *err);

/*
 * policy_load() - compile @p and install it on the calling thread: the
 * policy_compile_errno() filters first, then the main filter. no_new_privs
 * is set through the libseccomp attribute. Returns 0 or -errno.
 */
int policy_load(const struct policy *p, uint32_t default_action, struct cvm_errbuf *err);

/* policy_free() - free @p (NULL is fine). */
void policy_free(struct policy *p);

#endif
