// SPDX-License-Identifier: BSD-3-Clause
/*
 * Seccomp policies, exhaustively: every syntax form of docs/policy.md and
 * every error path of the parser and the compiler, with the `file:line` the
 * messages promise; policy_prog (build in the parent, install with prctl in
 * a forked child, allowed calls, ERRNO and TRAP defaults); and the real
 * device policies of policy/x86_64: they parse, build, and allow nothing
 * dangerous outright.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/audit.h>

#include "jail/policy.h"
#include "jail/policy_prog.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS */
#endif

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------- */

static struct policy *parse_ok(const char *text)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = NULL;
	int rc = policy_parse_string(&p, text, "f.policy", NULL, &err);

	cr_assert_eq(rc, 0, "parse of \"%s\" failed: %d %s", text, rc, err.msg);
	cr_assert_not_null(p, "\"%s\"", text);
	return p;
}

static const struct policy_rule *rule(const struct policy *p, const char *name)
{
	const struct policy_rule *r = policy_find(p, name);

	cr_assert_not_null(r, "no rule for %s", name);
	return r;
}

/* @text must fail with @want and a message containing @msg; *out is NULL. */
static void parse_fails(const char *text, const char *name, const char *dir, int want,
			const char *msg)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = (struct policy *)1;
	int rc = policy_parse_string(&p, text, name, dir, &err);

	cr_expect_eq(rc, want, "\"%s\": rc %d, want %d (%s)", text, rc, want, err.msg);
	cr_expect_null(p, "\"%s\": *out not cleared on error", text);
	cr_expect(strstr(err.msg, msg), "\"%s\": message \"%s\" lacks \"%s\"", text, err.msg, msg);
	if (rc == 0)
		policy_free(p);
}

/* A single-clause, single-comparison rule for read: check its comparison. */
static void expect_one_cmp(const char *body, unsigned int arg, enum policy_op op, uint64_t val)
{
	char text[512];
	struct policy *p;
	const struct policy_rule *r;

	snprintf(text, sizeof(text), "read: %s", body);
	p = parse_ok(text);
	r = rule(p, "read");
	cr_expect(!r->allow_all, "%s", text);
	cr_expect_eq(r->errno_val, -1, "%s", text);
	cr_assert_eq(r->nr_clauses, 1, "%s", text);
	cr_assert_eq(r->clauses[0].nr, 1, "%s", text);
	cr_expect_eq(r->clauses[0].cmp[0].arg, arg, "%s: arg %u", text, r->clauses[0].cmp[0].arg);
	cr_expect_eq(r->clauses[0].cmp[0].op, op, "%s: op %d", text, r->clauses[0].cmp[0].op);
	cr_expect_eq(r->clauses[0].cmp[0].val, val, "%s: val %#llx, want %#llx", text,
		     (unsigned long long)r->clauses[0].cmp[0].val, (unsigned long long)val);
	policy_free(p);
}

/* A scratch directory for policy files; removed after each test. */
static char tmp[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tmp_setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/cvm-policy-forms-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
}

static void tmp_teardown(void)
{
	if (tmp[0])
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	tmp[0] = '\0';
}

/* Write @len bytes of @text to <tmp>/@name. */
static void put_n(const char *name, const char *text, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "we");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static void put(const char *name, const char *text)
{
	put_n(name, text, strlen(text));
}

static void tpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp, name);
}

/* ---- syntax forms ----------------------------------------------------- */

TestSuite(policy_forms, .timeout = 30);

Test(policy_forms, allow_all_every_spelling)
{
	static const char *const texts[] = {
		"read: 1",    "read:1",	     "read :1",	  "read\t:\t1", "  read: 1  ",
		"\tread:1\t", "read: 1 # c", "read: 1#c", "read: 1\r",	"read:  1  \t\r\n",
	};

	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		struct policy *p = parse_ok(texts[i]);
		const struct policy_rule *r;

		cr_assert_eq(p->nr, 1, "\"%s\"", texts[i]);
		r = &p->rules[0];
		cr_expect_str_eq(r->name, "read");
		cr_expect_eq(r->nr, SYS_read);
		cr_expect(r->allow_all, "\"%s\"", texts[i]);
		cr_expect_eq(r->errno_val, -1);
		cr_expect_eq(r->nr_clauses, 0);
		cr_expect_null(r->clauses);
		cr_expect_eq(r->line, 1);
		cr_expect_str_eq(r->file, "f.policy");
		policy_free(p);
	}
}

Test(policy_forms, syscall_numbers_resolved)
{
	struct policy *p = parse_ok("read: 1\nwrite: 1\nopenat: 1\nexit_group: 1\nmmap: 1\n"
				    "pread64: 1\nclone3: 1\nio_uring_setup: 1\n");

	cr_expect_eq(rule(p, "read")->nr, SYS_read);
	cr_expect_eq(rule(p, "write")->nr, SYS_write);
	cr_expect_eq(rule(p, "openat")->nr, SYS_openat);
	cr_expect_eq(rule(p, "exit_group")->nr, SYS_exit_group);
	cr_expect_eq(rule(p, "mmap")->nr, SYS_mmap);
	cr_expect_eq(rule(p, "pread64")->nr, SYS_pread64);
	cr_expect_eq(rule(p, "clone3")->nr, 435);
	cr_expect_eq(rule(p, "io_uring_setup")->nr, 425);
	cr_expect_null(policy_find(p, "close"));
	cr_expect_null(policy_find(p, "rea"), "no prefix match");
	cr_expect_null(policy_find(p, "reads"));
	policy_free(p);
}

Test(policy_forms, each_operator_and_spacing)
{
	static const struct {
		const char *body;
		unsigned int arg;
		enum policy_op op;
	} cases[] = {
		{ "arg0 == 9", 0, POLICY_OP_EQ },      { "arg1 != 9", 1, POLICY_OP_NE },
		{ "arg2 < 9", 2, POLICY_OP_LT },       { "arg3 <= 9", 3, POLICY_OP_LE },
		{ "arg4 > 9", 4, POLICY_OP_GT },       { "arg5 >= 9", 5, POLICY_OP_GE },
		{ "arg0 & 9", 0, POLICY_OP_AND },      { "arg1 in 9", 1, POLICY_OP_IN },
		{ "arg0==9", 0, POLICY_OP_EQ },	       { "arg1!=9", 1, POLICY_OP_NE },
		{ "arg2<9", 2, POLICY_OP_LT },	       { "arg3<=9", 3, POLICY_OP_LE },
		{ "arg4>9", 4, POLICY_OP_GT },	       { "arg5>=9", 5, POLICY_OP_GE },
		{ "arg0&9", 0, POLICY_OP_AND },	       { "arg1\tin\t9", 1, POLICY_OP_IN },
		{ "arg2 \t==\t 9 ", 2, POLICY_OP_EQ }, { "  arg3   in   9", 3, POLICY_OP_IN },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		expect_one_cmp(cases[i].body, cases[i].arg, cases[i].op, 9);
	/* `in` right before a '~' needs no blank. */
	expect_one_cmp("arg2 in~PROT_EXEC", 2, POLICY_OP_IN, ~(uint64_t)PROT_EXEC);
}

Test(policy_forms, and_binds_tighter_than_or)
{
	struct policy *p =
		parse_ok("read: arg0 == 1 || arg1 == 2 && arg2 == 3 || arg3 == 4\n"
			 "write: arg0==1&&arg1!=2||arg2 in 3\n"
			 "close: arg0 == 0 && arg1 == 1 && arg2 == 2 && arg3 == 3 && arg4 == 4 && "
			 "arg5 == 5");
	const struct policy_rule *r = rule(p, "read");

	cr_assert_eq(r->nr_clauses, 3);
	cr_expect_eq(r->clauses[0].nr, 1);
	cr_expect_eq(r->clauses[1].nr, 2);
	cr_expect_eq(r->clauses[1].cmp[0].arg, 1);
	cr_expect_eq(r->clauses[1].cmp[1].arg, 2);
	cr_expect_eq(r->clauses[1].cmp[1].val, 3);
	cr_expect_eq(r->clauses[2].nr, 1);
	cr_expect_eq(r->clauses[2].cmp[0].arg, 3);

	r = rule(p, "write");
	cr_assert_eq(r->nr_clauses, 2);
	cr_expect_eq(r->clauses[0].nr, 2);
	cr_expect_eq(r->clauses[0].cmp[1].op, POLICY_OP_NE);
	cr_expect_eq(r->clauses[1].cmp[0].op, POLICY_OP_IN);

	r = rule(p, "close");
	cr_assert_eq(r->nr_clauses, 1);
	cr_assert_eq(r->clauses[0].nr, POLICY_MAX_AND, "6 comparisons are allowed");
	for (unsigned int i = 0; i < POLICY_MAX_AND; i++) {
		cr_expect_eq(r->clauses[0].cmp[i].arg, i);
		cr_expect_eq(r->clauses[0].cmp[i].val, i);
	}
	policy_free(p);
}

Test(policy_forms, sixty_four_alternatives_allowed)
{
	char text[4096] = "read: arg0 == 0";
	struct policy *p;

	for (int i = 1; i < POLICY_MAX_OR; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "||arg0 == %d", i);
	p = parse_ok(text);
	cr_assert_eq(rule(p, "read")->nr_clauses, POLICY_MAX_OR);
	cr_expect_eq(rule(p, "read")->clauses[POLICY_MAX_OR - 1].cmp[0].val, POLICY_MAX_OR - 1);
	policy_free(p);
}

Test(policy_forms, or_ed_values_and_negation)
{
	expect_one_cmp("arg0 == 1|2|4", 0, POLICY_OP_EQ, 7);
	expect_one_cmp("arg0 == 1 | 2 |\t4", 0, POLICY_OP_EQ, 7);
	expect_one_cmp("arg0 == O_RDWR|0x80000", 0, POLICY_OP_EQ, O_RDWR | 0x80000);
	expect_one_cmp("arg0 == 3|3", 0, POLICY_OP_EQ, 3);
	expect_one_cmp("arg2 in ~PROT_EXEC", 2, POLICY_OP_IN, ~(uint64_t)PROT_EXEC);
	expect_one_cmp("arg2 in ~ PROT_EXEC", 2, POLICY_OP_IN, ~(uint64_t)PROT_EXEC);
	expect_one_cmp("arg2 in ~PROT_EXEC|PROT_READ", 2, POLICY_OP_IN, ~(uint64_t)PROT_EXEC);
	expect_one_cmp("arg2 in PROT_READ|~PROT_EXEC", 2, POLICY_OP_IN, ~(uint64_t)PROT_EXEC);
	expect_one_cmp("arg0 == ~0", 0, POLICY_OP_EQ, UINT64_MAX);
	expect_one_cmp("arg0 == ~0xffffffff", 0, POLICY_OP_EQ, 0xffffffff00000000ull);
	expect_one_cmp("arg0 == 1|~1", 0, POLICY_OP_EQ, UINT64_MAX);
	expect_one_cmp("arg0 in ~0x7|~0x70", 0, POLICY_OP_IN, UINT64_MAX);

	/* A '|' ends at '||', which starts the next alternative. */
	struct policy *p = parse_ok("read: arg0 == 1|2||arg0 == 4 | 8");
	const struct policy_rule *r = rule(p, "read");

	cr_assert_eq(r->nr_clauses, 2);
	cr_expect_eq(r->clauses[0].cmp[0].val, 3);
	cr_expect_eq(r->clauses[1].cmp[0].val, 12);
	policy_free(p);
}

Test(policy_forms, numbers_in_every_base)
{
	static const struct {
		const char *num;
		uint64_t val;
	} cases[] = {
		{ "0", 0 },
		{ "00", 0 },
		{ "7", 7 },
		{ "42", 42 },
		{ "4294967296", 1ull << 32 },
		{ "18446744073709551615", UINT64_MAX },
		{ "0x0", 0 },
		{ "0x2a", 42 },
		{ "0X2A", 42 },
		{ "0xAbCdEf", 0xabcdef },
		{ "0x00000000000000001", 1 },
		{ "0xffffffffffffffff", UINT64_MAX },
		{ "052", 42 },
		{ "0777", 0777 },
		{ "01777777777777777777777", UINT64_MAX },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char body[64];

		snprintf(body, sizeof(body), "arg1 == %s", cases[i].num);
		expect_one_cmp(body, 1, POLICY_OP_EQ, cases[i].val);
	}
}

/* One constant of each group of docs/policy.md, with the header's value. */
Test(policy_forms, named_constants)
{
	static const struct {
		const char *name;
		uint64_t val;
	} cases[] = {
		{ "O_RDONLY", O_RDONLY },
		{ "O_CLOEXEC", O_CLOEXEC },
		{ "F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC },
		{ "FD_CLOEXEC", FD_CLOEXEC },
		{ "PROT_EXEC", PROT_EXEC },
		{ "MAP_ANONYMOUS", MAP_ANONYMOUS },
		{ "MADV_DONTNEED", MADV_DONTNEED },
		{ "SIGSYS", SIGSYS },
		{ "SIG_SETMASK", SIG_SETMASK },
		{ "WNOHANG", WNOHANG },
		{ "PR_SET_NO_NEW_PRIVS", PR_SET_NO_NEW_PRIVS },
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char body[128];

		snprintf(body, sizeof(body), "arg1 == %s", cases[i].name);
		expect_one_cmp(body, 1, POLICY_OP_EQ, cases[i].val);
		cr_expect_eq(policy_const(cases[i].name, strlen(cases[i].name), &v), 0);
		cr_expect_eq(v, cases[i].val, "%s", cases[i].name);
	}
	/* The name is exactly @len bytes: no prefix or longer match. */
	cr_expect_eq(policy_const("O_RDWRX", 6, &v), 0);
	cr_expect_eq(v, O_RDWR);
	cr_expect_eq(policy_const("O_RDW", 5, &v), -ENOENT);
	cr_expect_eq(policy_const("O_RDWRX", 7, &v), -ENOENT);
	cr_expect_eq(policy_const("o_rdwr", 6, &v), -ENOENT, "names are case-sensitive");
	cr_expect_eq(policy_const("", 0, &v), -ENOENT);
}

/* Every name docs/policy.md's table of constants lists is known to the parser. */
Test(policy_forms, every_documented_constant_is_known)
{
	char path[PATH_MAX], line[4096];
	unsigned int seen = 0;
	bool in_table = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/../../docs/policy.md", CVM_POLICY_SRC);
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "## ", 3)) {
			in_table = !strncmp(line, "## Constants", 12);
			continue;
		}
		if (!in_table || line[0] != '|' || strstr(line, "---"))
			continue;
		/* | group | `A B C` | */
		char *open = strchr(line, '`'), *close = open ? strchr(open + 1, '`') : NULL;

		if (!close)
			continue;
		*close = '\0';
		for (char *save = NULL, *tok = strtok_r(open + 1, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			uint64_t v;

			cr_expect_eq(policy_const(tok, strlen(tok), &v), 0,
				     "docs/policy.md lists %s, the parser does not know it", tok);
			seen++;
		}
	}
	fclose(f);
	cr_expect_gt(seen, 150, "only %u constants found in %s", seen, path);
}

Test(policy_forms, return_errno_by_number_and_name)
{
	static const struct {
		const char *body;
		int val;
	} cases[] = {
		{ "return 0", 0 },
		{ "return 1", 1 },
		{ "return 4095", 4095 },
		{ "return 0x10", 16 },
		{ "return 010", 8 },
		{ "return EPERM", EPERM },
		{ "return ENOSYS", ENOSYS },
		{ "return ENOTTY", ENOTTY },
		{ "return EACCES", EACCES },
		{ "return EHWPOISON", EHWPOISON },
		{ "return\tEINVAL", EINVAL },
		{ "return   ENOENT   # comment", ENOENT },
		{ "return 13\r", 13 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char text[128];
		struct policy *p;
		const struct policy_rule *r;

		snprintf(text, sizeof(text), "getppid:%s", cases[i].body);
		p = parse_ok(text);
		r = rule(p, "getppid");
		cr_expect_eq(r->errno_val, cases[i].val, "\"%s\": %d", text, r->errno_val);
		cr_expect_eq(r->nr_clauses, 0, "\"%s\"", text);
		cr_expect(!r->allow_all, "\"%s\"", text);
		policy_free(p);
	}
}

Test(policy_forms, expr_then_return)
{
	static const char *const texts[] = {
		"read: arg0 == 1; return EPERM",   "read: arg0 == 1 ;return EPERM",
		"read: arg0==1;return 1",	   "read:arg0 == 1\t;\treturn\tEPERM",
		"read: arg0 == 1; return 0x1 # c",
	};

	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		struct policy *p = parse_ok(texts[i]);
		const struct policy_rule *r = rule(p, "read");

		cr_expect_eq(r->errno_val, EPERM, "\"%s\"", texts[i]);
		cr_assert_eq(r->nr_clauses, 1, "\"%s\"", texts[i]);
		cr_expect_eq(r->clauses[0].cmp[0].val, 1);
		cr_expect(!r->allow_all);
		policy_free(p);
	}

	struct policy *p =
		parse_ok("read: arg0 == 1 || arg1 == 2 && arg2 in ~PROT_EXEC ; return ENOENT");
	const struct policy_rule *r = rule(p, "read");

	cr_expect_eq(r->errno_val, ENOENT);
	cr_assert_eq(r->nr_clauses, 2);
	cr_expect_eq(r->clauses[1].nr, 2);
	policy_free(p);
}

Test(policy_forms, comments_blank_lines_and_line_numbers)
{
	struct policy *p;

	p = parse_ok("");
	cr_expect_eq(p->nr, 0);
	policy_free(p);
	p = parse_ok("\n\n \t \n\r\n");
	cr_expect_eq(p->nr, 0);
	policy_free(p);
	p = parse_ok("# only comments\n#\n   # indented\n#read: 1\n");
	cr_expect_eq(p->nr, 0, "a commented rule is no rule");
	policy_free(p);

	p = parse_ok("# header\n\nread: 1\n\t\n  # x\nwrite: arg0 == 1 # || arg0 == 2\r\n"
		     "close: 1");
	cr_assert_eq(p->nr, 3);
	cr_expect_eq(rule(p, "read")->line, 3);
	cr_expect_eq(rule(p, "write")->line, 6);
	cr_expect_eq(rule(p, "write")->nr_clauses, 1, "the comment cut the '||'");
	cr_expect_eq(rule(p, "close")->line, 7, "a last line without newline");
	cr_expect_str_eq(p->rules[0].name, "read", "file order");
	cr_expect_str_eq(p->rules[1].name, "write");
	cr_expect_str_eq(p->rules[2].name, "close");
	policy_free(p);

	/* CRLF line ends everywhere. */
	p = parse_ok("read: 1\r\nwrite: arg0 == 1\r\n\r\nclose: return EPERM\r\n");
	cr_expect_eq(rule(p, "close")->line, 4);
	cr_expect_eq(rule(p, "close")->errno_val, EPERM);
	cr_expect_eq(rule(p, "write")->clauses[0].cmp[0].val, 1);
	policy_free(p);
}

Test(policy_forms, longest_line_and_name)
{
	char *text = malloc(POLICY_LINE_MAX + 64);
	struct policy *p;

	cr_assert_not_null(text);
	/* A line of exactly POLICY_LINE_MAX - 1 bytes is fine. */
	strcpy(text, "read: 1 #");
	memset(text + 9, 'x', POLICY_LINE_MAX - 1 - 9);
	text[POLICY_LINE_MAX - 1] = '\0';
	cr_assert_eq(strlen(text), POLICY_LINE_MAX - 1);
	p = parse_ok(text);
	cr_expect_eq(p->nr, 1);
	policy_free(p);
	/* One more byte is not. */
	strcpy(text + POLICY_LINE_MAX - 1, "x\nwrite: 1");
	parse_fails(text, "f.policy", NULL, -EINVAL, "f.policy:1: line longer than 4095 bytes");
	free(text);

	/* A name of POLICY_NAME_MAX - 1 characters is looked up (and unknown). */
	char name[POLICY_NAME_MAX + 8];

	memset(name, 'a', POLICY_NAME_MAX - 1);
	strcpy(name + POLICY_NAME_MAX - 1, ": 1");
	parse_fails(name, "f.policy", NULL, -EINVAL, "f.policy:1: unknown syscall 'aaaa");
	memset(name, 'a', POLICY_NAME_MAX);
	strcpy(name + POLICY_NAME_MAX, ": 1");
	parse_fails(name, "f.policy", NULL, -EINVAL, "f.policy:1: syscall name too long");
}

Test(policy_forms, default_name_in_messages)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p;

	cr_expect_eq(policy_parse_string(&p, "read: 1\nbogus: 1", NULL, NULL, &err), -EINVAL);
	cr_expect(strstr(err.msg, "<policy>:2: unknown syscall 'bogus'"), "%s", err.msg);
}

Test(policy_forms, frequency_is_ignored)
{
	struct policy *p = parse_ok("@frequency ./x.frequency\nread: 1\n"
				    "  @frequency\t./does/not/exist.frequency   # c\n"
				    "@frequency anything-goes");

	cr_expect_eq(p->nr, 1);
	cr_expect_eq(rule(p, "read")->line, 2);
	policy_free(p);
}

TestSuite(policy_files, .init = tmp_setup, .fini = tmp_teardown, .timeout = 30);

Test(policy_files, include_one_level_in_place)
{
	char top[PATH_MAX], common[PATH_MAX], more[PATH_MAX];
	struct cvm_errbuf err = { { 0 } };
	struct policy *p;
	int rc;

	put("common.policy",
	    "# shared\nwrite: 1\n\nexit_group: arg0 == 0\n@frequency ./common.frequency\n");
	tpath(common, sizeof(common), "common.policy");
	tpath(more, sizeof(more), "sub");
	cr_assert_eq(mkdir(more, 0700), 0);
	put("sub/more.policy", "close: return EBADF");
	tpath(more, sizeof(more), "sub/more.policy");
	put("top.policy",
	    "@include ./common.policy\nread: 1\n\t@include   ./sub/more.policy   # c\n"
	    "getpid: 1\n");
	tpath(top, sizeof(top), "top.policy");
	rc = policy_parse_file(&p, top, &err);
	cr_assert_eq(rc, 0, "%d %s", rc, err.msg);
	cr_assert_eq(p->nr, 5);
	cr_expect_str_eq(p->rules[0].name, "write");
	cr_expect_str_eq(p->rules[0].file, common);
	cr_expect_eq(p->rules[0].line, 2);
	cr_expect_str_eq(p->rules[1].name, "exit_group");
	cr_expect_eq(p->rules[1].line, 4);
	cr_expect_str_eq(p->rules[2].name, "read");
	cr_expect_str_eq(p->rules[2].file, top);
	cr_expect_eq(p->rules[2].line, 2);
	cr_expect_str_eq(p->rules[3].name, "close");
	cr_expect_str_eq(p->rules[3].file, more);
	cr_expect_eq(p->rules[3].line, 1);
	cr_expect_eq(p->rules[3].errno_val, EBADF);
	cr_expect_str_eq(p->rules[4].name, "getpid");
	cr_expect_eq(p->rules[4].line, 4, "lines after an include count on");
	policy_free(p);
}

Test(policy_files, include_from_a_string_with_a_dir)
{
	char common[PATH_MAX];
	struct cvm_errbuf err = { { 0 } };
	struct policy *p;
	int rc;

	put("common.policy", "write: 1\n");
	tpath(common, sizeof(common), "common.policy");
	rc = policy_parse_string(&p, "read: 1\n@include ./common.policy", "s.policy", tmp, &err);
	cr_assert_eq(rc, 0, "%d %s", rc, err.msg);
	cr_assert_eq(p->nr, 2);
	cr_expect_str_eq(rule(p, "write")->file, common);
	cr_expect_str_eq(rule(p, "read")->file, "s.policy");
	policy_free(p);
}

Test(policy_files, relative_top_path)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p;
	int rc;

	put("common.policy", "write: 1\n");
	put("top.policy", "@include ./common.policy\nread: 1\n");
	cr_assert_eq(chdir(tmp), 0);
	rc = policy_parse_file(&p, "top.policy", &err);
	cr_assert_eq(rc, 0, "%d %s", rc, err.msg);
	cr_expect_str_eq(rule(p, "write")->file, "./common.policy");
	cr_expect_str_eq(rule(p, "read")->file, "top.policy");
	policy_free(p);
}

Test(policy_files, empty_file)
{
	char path[PATH_MAX];
	struct cvm_errbuf err = { { 0 } };
	struct policy *p;

	put("empty.policy", "");
	tpath(path, sizeof(path), "empty.policy");
	cr_assert_eq(policy_parse_file(&p, path, &err), 0, "%s", err.msg);
	cr_expect_eq(p->nr, 0);
	policy_free(p);
}

static void file_fails(const char *name, int want, const char *fmt, const char *a1, const char *a2)
{
	char path[PATH_MAX], msg[3 * PATH_MAX];
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = (struct policy *)1;
	int rc;

	tpath(path, sizeof(path), name);
	snprintf(msg, sizeof(msg), fmt, a1, a2);
	rc = policy_parse_file(&p, path, &err);
	cr_expect_eq(rc, want, "%s: rc %d, want %d (%s)", name, rc, want, err.msg);
	cr_expect_null(p, "%s", name);
	cr_expect(strstr(err.msg, msg), "%s: message \"%s\" lacks \"%s\"", name, err.msg, msg);
	if (!rc)
		policy_free(p);
}

Test(policy_files, include_errors_name_file_and_line)
{
	char top[PATH_MAX], a[PATH_MAX], b[PATH_MAX], nope[PATH_MAX], nul[PATH_MAX];
	char common[PATH_MAX], sub[PATH_MAX], longf[PATH_MAX];
	char *longtext = malloc(POLICY_LINE_MAX + 2);

	tpath(top, sizeof(top), "top.policy");
	tpath(a, sizeof(a), "a.policy");
	tpath(b, sizeof(b), "b.policy");
	tpath(nope, sizeof(nope), "nope.policy");
	tpath(nul, sizeof(nul), "nul.policy");
	tpath(common, sizeof(common), "common.policy");
	tpath(sub, sizeof(sub), "sub");
	tpath(longf, sizeof(longf), "long.policy");
	cr_assert_eq(mkdir(sub, 0700), 0);

	/* Nesting: an included file may not include. */
	put("b.policy", "getpid: 1\n");
	put("a.policy", "close: 1\n@include ./b.policy\n");
	put("nest.policy", "read: 1\n@include ./a.policy\n");
	file_fails("nest.policy", -EINVAL,
		   "%s:2: @include in an included file (only one level is allowed)", a, NULL);
	/* Depth is checked after the ./ rule. */
	put("a2.policy", "@include b.policy\n");
	put("nest2.policy", "@include ./a2.policy\n");
	file_fails("nest2.policy", -EINVAL, "a2.policy:1: @include path 'b.policy' must start",
		   NULL, NULL);

	/* A missing file: its path and the including line. */
	put("miss.policy", "read: 1\n\n@include ./nope.policy\n");
	file_fails("miss.policy", -ENOENT, "miss.policy:3: cannot read %s: No such file", nope,
		   NULL);
	/* A directory is no policy file. */
	put("dir.policy", "@include ./sub\n");
	file_fails("dir.policy", -EIO, "dir.policy:1: cannot read %s", sub, NULL);
	/* NUL bytes, in an included file and at the top. */
	put_n("nul.policy", "read: 1\n\0write: 1\n", 18);
	put("incnul.policy", "close: 1\n@include ./nul.policy\n");
	file_fails("incnul.policy", -EINVAL, "incnul.policy:2: %s: NUL byte in policy file", nul,
		   NULL);
	file_fails("nul.policy", -EINVAL, "%s: NUL byte in policy file", nul, NULL);
	/* The top file itself missing. */
	file_fails("none.policy", -ENOENT, "cannot read %s/none.policy: No such file", tmp, NULL);

	/* Rule errors in an included file name that file and its own line. */
	put("bad.policy", "read: 1\n# x\nbogus: 1\n");
	put("incbad.policy", "\n\nwrite: 1\n@include ./bad.policy\n");
	file_fails("incbad.policy", -EINVAL, "%s/bad.policy:3: unknown syscall 'bogus'", tmp, NULL);
	/* A syscall in both files: the second place, and the first. */
	put("common.policy", "# c\nwrite: 1\n");
	put("dup.policy", "write: arg0 == 1\n@include ./common.policy\n");
	file_fails("dup.policy", -EINVAL,
		   "%s:2: syscall 'write' given twice (first at %s/dup.policy:1)", common, tmp);
	/* The same file included twice. */
	put("twice.policy", "@include ./common.policy\n@include ./common.policy\n");
	file_fails("twice.policy", -EINVAL, "%s:2: syscall 'write' given twice (first at %s:2)",
		   common, common);
	/* A too long line in an included file. */
	cr_assert_not_null(longtext);
	memset(longtext, '#', POLICY_LINE_MAX);
	longtext[POLICY_LINE_MAX] = '\0';
	put("long.policy", longtext);
	put("inclong.policy", "@include ./long.policy\n");
	file_fails("inclong.policy", -EINVAL, "%s:1: line longer than 4095 bytes", longf, NULL);
	free(longtext);

	/* From a string with a directory. */
	parse_fails("@include ./nope.policy", "s.policy", tmp, -ENOENT, "s.policy:1: cannot read ");
	parse_fails("@include ./nope.policy", "s.policy", tmp, -ENOENT, nope);
	parse_fails("@include ./a.policy", "s.policy", tmp, -EINVAL,
		    "a.policy:2: @include in an included file");
}

/* ---- parse errors ----------------------------------------------------- */

/*
 * Each error at line 1 of its text, and again after three lines of padding,
 * so both the message and the line count are checked.
 */
struct perr_case {
	const char *text;
	const char *msg; /* after "f.policy:<line>: " */
};

static void run_perr_cases(const struct perr_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char text[1024], msg[1024];

		snprintf(msg, sizeof(msg), "f.policy:1: %s", c[i].msg);
		parse_fails(c[i].text, "f.policy", NULL, -EINVAL, msg);
		snprintf(text, sizeof(text), "# pad\n\ngetpid: 1\n%s", c[i].text);
		snprintf(msg, sizeof(msg), "f.policy:4: %s", c[i].msg);
		parse_fails(text, "f.policy", NULL, -EINVAL, msg);
	}
}

Test(policy_forms, errors_rule_head)
{
	static const struct perr_case cases[] = {
		{ "bogus: 1", "unknown syscall 'bogus'" },
		{ "read_x: 1", "unknown syscall 'read_x'" },
		{ "1read: 1", "unknown syscall '1read'" },
		{ "READ: 1", "unknown syscall 'READ'" },
		{ "read 1", "expected 'syscall: rule'" },
		{ "read", "expected 'syscall: rule'" },
		{ ": 1", "expected 'syscall: rule'" },
		{ "read-x: 1", "expected 'syscall: rule'" },
		{ "read = 1", "expected 'syscall: rule'" },
		{ "read:", "empty rule for 'read'" },
		{ "read:   \t", "empty rule for 'read'" },
		{ "read: # nothing", "empty rule for 'read'" },
	};

	run_perr_cases(cases, ARRAY_LEN(cases));
}

Test(policy_forms, errors_comparison)
{
	static const struct perr_case cases[] = {
		/* Not a comparison where one must start. */
		{ "read: 2", "expected argN at '2'" },
		{ "read: 1 2", "expected argN at '1 2'" },
		{ "read: argx == 1", "expected argN at 'argx == 1'" },
		{ "read: arg == 1", "expected argN at 'arg == 1'" },
		{ "read: arg0x == 1", "expected argN at 'arg0x == 1'" },
		{ "read: (arg0 == 1)", "expected argN at '(arg0 == 1)'" },
		{ "read: ; return EPERM", "expected argN at ''" },
		{ "read: 1; return EPERM", "expected argN at '1'" },
		{ "read: arg0 == 1 &&", "expected argN at ''" },
		{ "read: arg0 == 1 ||", "expected argN at ''" },
		{ "read: arg0 == 1 && || arg1 == 1", "expected argN at '|| arg1 == 1'" },
		{ "read: arg0 == 1 ||| arg0 == 2", "expected argN at '| arg0 == 2'" },
		{ "read: returnEPERM", "expected argN at 'returnEPERM'" },
		/* Argument index. */
		{ "read: arg6 == 1", "argument index in 'arg6' out of range 0..5" },
		{ "read: arg9 == 1", "argument index in 'arg9' out of range 0..5" },
		{ "read: arg10 == 1", "argument index in 'arg10' out of range 0..5" },
		{ "read: arg01 == 1", "argument index in 'arg01' out of range 0..5" },
		/* Operator. */
		{ "read: arg0 = 1", "expected an operator after arg0 at '= 1'" },
		{ "read: arg0 =< 1", "expected an operator after arg0 at '=< 1'" },
		{ "read: arg0 ! 1", "expected an operator after arg0 at '! 1'" },
		{ "read: arg1", "expected an operator after arg1 at ''" },
		{ "read: arg2 in7", "expected an operator after arg2 at 'in7'" },
		{ "read: arg0 && arg1 == 1", "expected an operator after arg0 at '&& arg1 == 1'" },
		/* Value. */
		{ "read: arg0 ==", "expected a number or a constant at ''" },
		{ "read: arg0 === 1", "expected a number or a constant at '= 1'" },
		{ "read: arg0 <> 1", "expected a number or a constant at '> 1'" },
		{ "read: arg0 == ~", "expected a number or a constant at ''" },
		{ "read: arg0 == ~~1", "expected a number or a constant at '~1'" },
		{ "read: arg0 == 1 |", "expected a number or a constant at ''" },
		{ "read: arg0 == 1 | | 2", "expected a number or a constant at '| 2'" },
		{ "read: arg0 == -1", "expected a number or a constant at '-1'" },
		{ "read: arg0 == (1)", "expected a number or a constant at '(1)'" },
		{ "read: arg0 == NOPE", "unknown constant 'NOPE'" },
		{ "read: arg0 == O_RDWR|NOPE", "unknown constant 'NOPE'" },
		{ "read: arg0 in ~NOPE", "unknown constant 'NOPE'" },
		{ "read: arg0 == o_rdwr", "unknown constant 'o_rdwr'" },
		{ "read: arg0 == O_RDWRX", "unknown constant 'O_RDWRX'" },
		{ "read: arg0 == EPERM", "unknown constant 'EPERM'" },
		/* Numbers. */
		{ "read: arg0 == 18446744073709551616",
		  "number '18446744073709551616' does not fit 64 bits" },
		{ "read: arg0 == 99999999999999999999999",
		  "number '99999999999999999999999' does not fit 64 bits" },
		{ "read: arg0 == 0x10000000000000000",
		  "number '0x10000000000000000' does not fit 64 bits" },
		{ "read: arg0 == 02000000000000000000000",
		  "number '02000000000000000000000' does not fit 64 bits" },
		{ "read: arg0 == 0x", "bad hex number '0x'" },
		{ "read: arg0 == 0xg1", "bad hex number '0x'" },
		{ "read: arg0 == 0x_1", "bad hex number '0x'" },
		{ "read: arg0 == 09", "bad number '09'" },
		{ "read: arg0 == 08", "bad number '08'" },
		{ "read: arg0 == 12ab", "bad number '12ab'" },
		{ "read: arg0 == 0x1g", "bad number '0x1g'" },
		{ "read: arg0 == 1_000", "bad number '1_000'" },
		{ "read: arg0 == 0b101", "bad number '0b101'" },
		{ "read: arg0 == 1O_RDWR", "bad number '1O_RDWR'" },
		/* Trailing garbage. */
		{ "read: arg0 == 1 arg1 == 2", "unexpected 'arg1 == 2'" },
		{ "read: arg0 == 1)", "unexpected ')'" },
		{ "read: arg0 == 1 &", "unexpected '&'" },
		{ "read: arg0 == 1 , arg1 == 1", "unexpected ', arg1 == 1'" },
		{ "read: arg0 == 1 and arg1 == 1", "unexpected 'and arg1 == 1'" },
		/* `&` with nothing to test. */
		{ "read: arg0 & 0", "'arg0 & 0' can never hold" },
		{ "read: arg4 & 0x0", "'arg4 & 0' can never hold" },
		{ "read: arg1 & O_RDONLY", "'arg1 & 0' can never hold" },
		{ "read: arg3 & 0|0", "'arg3 & 0' can never hold" },
		{ "read: arg0 == 1 || arg2 & 0", "'arg2 & 0' can never hold" },
		/* Too many comparisons in a chain. */
		{ "read: arg0 == 1 && arg1 == 1 && arg2 == 1 && arg3 == 1 && arg4 == 1 && "
		  "arg5 == 1 && arg0 == 2",
		  "more than 6 '&&' comparisons" },
		{ "read: arg0 == 9 || arg0 == 1 && arg1 == 1 && arg2 == 1 && arg3 == 1 && "
		  "arg4 == 1 && arg5 == 1 && arg0 == 2",
		  "more than 6 '&&' comparisons" },
	};

	run_perr_cases(cases, ARRAY_LEN(cases));
}

Test(policy_forms, errors_too_many_alternatives)
{
	char text[4096] = "read: arg0 == 0", msg[64];

	for (int i = 1; i <= POLICY_MAX_OR; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), " || arg0 == %d", i);
	snprintf(msg, sizeof(msg), "f.policy:1: more than %d '||' alternatives", POLICY_MAX_OR);
	parse_fails(text, "f.policy", NULL, -EINVAL, msg);
}

Test(policy_forms, errors_errno)
{
	static const struct perr_case cases[] = {
		{ "read: return", "expected an errno after 'return'" },
		{ "read: return   ", "expected an errno after 'return'" },
		{ "read: return -1", "expected an errno after 'return'" },
		{ "read: return 4096", "errno 4096 out of range 0..4095" },
		{ "read: return 0x1000", "errno 4096 out of range 0..4095" },
		{ "read: return 18446744073709551615", "errno 18446744073709551615 out of range" },
		{ "read: return 99999999999999999999",
		  "number '99999999999999999999' does not fit 64 bits" },
		{ "read: return 09", "bad number '09'" },
		{ "read: return 0x", "bad hex number '0x'" },
		{ "read: return EBOGUS", "unknown errno 'EBOGUS'" },
		{ "read: return eperm", "unknown errno 'eperm'" },
		{ "read: return EPERM x", "unexpected 'x' after the errno" },
		{ "read: return 1 2", "unexpected '2' after the errno" },
		{ "read: return EPERM; return 1", "unexpected '; return 1' after the errno" },
		{ "read: return EPERM || arg0 == 1", "unexpected '|| arg0 == 1' after the errno" },
		/* `EXPR; return ERRNO` */
		{ "read: arg0 == 1;", "expected 'return ERRNO' at ''" },
		{ "read: arg0 == 1; EPERM", "expected 'return ERRNO' at 'EPERM'" },
		{ "read: arg0 == 1; returnEPERM", "expected 'return ERRNO' at 'returnEPERM'" },
		{ "read: arg0 == 1; ; return 1", "expected 'return ERRNO' at '; return 1'" },
		{ "read: arg0 == 1; return", "expected an errno after 'return'" },
		{ "read: arg0 == 1; return 4096", "errno 4096 out of range 0..4095" },
		{ "read: arg0 == 1; return ENOPE", "unknown errno 'ENOPE'" },
		{ "read: arg0 == 1; return EPERM; return 2",
		  "unexpected '; return 2' after the errno" },
		{ "read: NOPE == 1; return EPERM", "expected argN at 'NOPE == 1'" },
		{ "read: arg0 == NOPE; return EPERM", "unknown constant 'NOPE'" },
	};

	run_perr_cases(cases, ARRAY_LEN(cases));
}

Test(policy_forms, errors_directives)
{
	static const struct perr_case cases[] = {
		{ "@include ./x.policy",
		  "@include is not allowed here (no directory to resolve it in)" },
		{ "  @include\t./x.policy # c", "@include is not allowed here" },
		{ "@include x.policy", "@include path 'x.policy' must start with ./" },
		{ "@include /etc/passwd", "@include path '/etc/passwd' must start with ./" },
		{ "@include ../x.policy", "@include path '../x.policy' must start with ./" },
		{ "@include .x.policy", "@include path '.x.policy' must start with ./" },
		{ "@include", "@include needs a file" },
		{ "@include   # c", "@include needs a file" },
		{ "@include ./a ./b", "unexpected './b'" },
		{ "@frequency", "@frequency needs a file" },
		{ "@frequency ./a b", "unexpected 'b'" },
		{ "@define X 1", "unknown directive '@define'" },
		{ "@", "unknown directive '@'" },
		{ "@ include ./x", "unknown directive '@'" },
		{ "@includes ./x", "unknown directive '@includes'" },
		{ "@INCLUDE ./x", "unknown directive '@INCLUDE'" },
	};

	run_perr_cases(cases, ARRAY_LEN(cases));
}

Test(policy_forms, errors_duplicate_syscall)
{
	parse_fails("read: 1\nread: 1", "f.policy", NULL, -EINVAL,
		    "f.policy:2: syscall 'read' given twice (first at f.policy:1)");
	parse_fails("read: return EPERM\nwrite: 1\n\n read :arg0 == 1", "f.policy", NULL, -EINVAL,
		    "f.policy:4: syscall 'read' given twice (first at f.policy:1)");
	parse_fails("write: 1\nread: arg0 == 1; return EPERM\nread: return 1", "f.policy", NULL,
		    -EINVAL, "f.policy:3: syscall 'read' given twice (first at f.policy:2)");
}

/* ---- compile errors --------------------------------------------------- */

static int compile(const char *text, uint32_t def, struct cvm_errbuf *err)
{
	struct policy *p = parse_ok(text);
	scmp_filter_ctx ctx = (scmp_filter_ctx)1;
	int rc = policy_compile(p, def, &ctx, err);

	if (!rc) {
		cr_expect_not_null(ctx);
		seccomp_release(ctx);
	} else {
		cr_expect_null(ctx, "*out not cleared on error");
	}
	policy_free(p);
	return rc;
}

static void compile_fails(const char *text, int want, const char *msg)
{
	struct cvm_errbuf err = { { 0 } };
	int rc = compile(text, SCMP_ACT_KILL_PROCESS, &err);

	cr_expect_eq(rc, want, "\"%s\": rc %d, want %d (%s)", text, rc, want, err.msg);
	cr_expect(strstr(err.msg, msg), "\"%s\": message \"%s\" lacks \"%s\"", text, err.msg, msg);
}

static void compile_ok(const char *text)
{
	struct cvm_errbuf err = { { 0 } };
	int rc = compile(text, SCMP_ACT_KILL_PROCESS, &err);

	cr_expect_eq(rc, 0, "\"%s\": %d %s", text, rc, err.msg);
}

Test(policy_compile, every_form_compiles)
{
	compile_ok("read: 1\nwrite: arg0 == 1\nclose: arg0 != 1\nfstat: arg0 < 5\n"
		   "lseek: arg0 <= 5\npread64: arg0 > 5\npwrite64: arg0 >= 5\n"
		   "ioctl: arg1 & 0x3\nfcntl: arg1 in 0x3\nmmap: arg2 in ~PROT_EXEC\n"
		   "open: return ENOENT\nopenat: return 0\n"
		   "futex: arg1 == FUTEX_WAIT|FUTEX_PRIVATE_FLAG || arg1 == FUTEX_WAKE\n"
		   "getppid: arg0 == 1 && arg1 == 2; return EPERM\n");
	/* 16 x 16 `&` bits: exactly POLICY_MAX_EXPANSION rules. */
	compile_ok("ioctl: arg0 & 0xffff && arg1 & 0xffff0000");
}

Test(policy_compile, errors_name_rule_file_and_line)
{
	compile_fails("read: 1\n\nwrite: arg0 >= 1 && arg0 <= 2", -EOPNOTSUPP,
		      "f.policy:3: write: arg0 is compared twice in one '&&' chain");
	compile_fails("read: arg0 == 9 || arg3 == 1 && arg1 == 2 && arg3 != 4", -EOPNOTSUPP,
		      "f.policy:1: read: arg3 is compared twice");
	compile_fails("read: 1\nioctl: arg0 & 0x1ffff && arg1 & 0xffff", -E2BIG,
		      "f.policy:2: ioctl: rule expands to more than 256 libseccomp rules");
	compile_fails("ioctl: arg0 <= 4 || arg0 == 9", -EOPNOTSUPP,
		      "f.policy:1: ioctl: range comparisons (< <= > >=) are only supported");
	compile_fails("ioctl: arg0 > 4 && arg1 & 0x3", -EOPNOTSUPP, "f.policy:1: ioctl: range");
	compile_fails("ioctl: arg0 >= 4 && arg1 & 1 || arg2 < 3", -EOPNOTSUPP,
		      "f.policy:1: ioctl: range");
}

/*
 * What libseccomp itself refuses; the parser never produces such rules, so
 * the parsed policy is altered by hand to reach both paths.
 */
Test(policy_compile, libseccomp_rejects_the_rule)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = parse_ok("getpid: 1\n\nread: arg0 == 1");
	scmp_filter_ctx ctx = (scmp_filter_ctx)1;
	int rc;

	p->rules[1].clauses[0].cmp[0].arg = 6; /* a comparison: seccomp_rule_add_array() */
	rc = policy_compile(p, SCMP_ACT_KILL_PROCESS, &ctx, &err);
	cr_expect_eq(rc, -EINVAL);
	cr_expect_null(ctx);
	cr_expect(strstr(err.msg, "f.policy:3: read: libseccomp rejected the rule: "), "%s",
		  err.msg);
	p->rules[1].clauses[0].cmp[0].arg = 0;
	p->rules[0].nr = -1; /* no comparison: seccomp_rule_add() */
	rc = policy_compile(p, SCMP_ACT_KILL_PROCESS, &ctx, &err);
	cr_expect_eq(rc, -EINVAL);
	cr_expect(strstr(err.msg, "f.policy:1: getpid: libseccomp rejected the rule: "), "%s",
		  err.msg);
	policy_free(p);
}

Test(policy_compile, bad_default_action)
{
	struct cvm_errbuf err = { { 0 } };

	cr_expect_eq(compile("read: 1", 0x12345678, &err), -EINVAL);
	cr_expect(strstr(err.msg, "seccomp_init failed (default action 0x12345678)"), "%s",
		  err.msg);
}

Test(policy_compile, at_most_eight_errnos)
{
	struct cvm_errbuf err = { { 0 } };
	static const char *const names[] = { "read",  "write", "close",	 "fstat",  "lseek",
					     "ioctl", "fcntl", "getpid", "getppid" };
	scmp_filter_ctx side[POLICY_MAX_ERRNO_FILTERS];
	struct policy_prog prog;
	char text[1024] = "";
	struct policy *p;
	size_t n = 99;
	int rc;

	/* Eight distinct errnos: eight filters, plus the main one in a prog. */
	for (int i = 0; i < POLICY_MAX_ERRNO_FILTERS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "%s: arg0 == 1; return %d\n", names[i], i + 1);
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "exit: arg0 == 2; return 1\n");
	p = parse_ok(text);
	rc = policy_compile_errno(p, side, &n, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_expect_eq(n, POLICY_MAX_ERRNO_FILTERS);
	for (size_t i = 0; i < n; i++)
		seccomp_release(side[i]);
	rc = policy_prog_build(&prog, p, SCMP_ACT_KILL_PROCESS, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_expect_eq(prog.nr, POLICY_MAX_ERRNO_FILTERS + 1);
	policy_prog_free(&prog);
	policy_free(p);

	/* A ninth: refused, naming its rule. */
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s: arg1 == 1; return 99\n",
		 names[POLICY_MAX_ERRNO_FILTERS]);
	p = parse_ok(text);
	n = 99;
	rc = policy_compile_errno(p, side, &n, &err);
	cr_expect_eq(rc, -E2BIG);
	cr_expect_eq(n, 0);
	cr_expect(strstr(err.msg, "f.policy:10: getppid: more than 8 distinct errnos after "
				  "'EXPR;'"),
		  "%s", err.msg);
	rc = policy_prog_build(&prog, p, SCMP_ACT_KILL_PROCESS, &err);
	cr_expect_eq(rc, -E2BIG);
	cr_expect_eq(prog.nr, 0);
	policy_free(p);
}

/* ---- policy_prog ------------------------------------------------------ */

/* What the children need besides the rule under test (ASan manages memory). */
#define CHILD_EXTRA                                                                   \
	"mmap: 1\nmunmap: 1\nmadvise: 1\nmprotect: 1\nbrk: 1\ngetpid: 1\ngettid: 1\n" \
	"sigaltstack: 1\nfutex: 1\nexit_group: 1\nrt_sigreturn: 1\n"

static void build(struct policy_prog *pp, const char *text, uint32_t def)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = parse_ok(text);
	int rc = policy_prog_build(pp, p, def, &err);

	cr_assert_eq(rc, 0, "\"%s\": %d %s", text, rc, err.msg);
	policy_free(p);
}

Test(policy_prog, build_from_a_string)
{
	struct policy_prog pp;

	build(&pp, "read: 1\nwrite: arg0 == 1", SCMP_ACT_KILL_PROCESS);
	cr_assert_geq(pp.nr, 1);
	cr_expect_eq(pp.nr, 1, "no 'EXPR; return': the main filter only");
	cr_expect_not_null(pp.f[0].filter);
	cr_expect_gt(pp.f[0].len, 0);
	cr_expect_leq(pp.f[0].len, BPF_MAXINSNS);
	policy_prog_free(&pp);
	cr_expect_eq(pp.nr, 0);
	policy_prog_free(&pp); /* twice is fine */

	build(&pp,
	      "read: arg0 == 1; return EPERM\nwrite: arg0 == 1; return EIO\n"
	      "close: arg0 == 1; return EPERM",
	      SCMP_ACT_TRAP);
	cr_expect_eq(pp.nr, 3, "two errno filters, then the main one");
	for (unsigned int i = 0; i < pp.nr; i++) {
		cr_expect_not_null(pp.f[i].filter);
		cr_expect_gt(pp.f[i].len, 0);
	}
	policy_prog_free(&pp);

	/* An empty policy: the default action alone. */
	build(&pp, "", SCMP_ACT_KILL_PROCESS);
	cr_expect_eq(pp.nr, 1);
	policy_prog_free(&pp);
}

Test(policy_prog, build_errors)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy_prog pp;
	struct policy *p = parse_ok("read: 1\nwrite: arg0 >= 1 && arg0 <= 2");
	int rc = policy_prog_build(&pp, p, SCMP_ACT_KILL_PROCESS, &err);

	cr_expect_eq(rc, -EOPNOTSUPP);
	cr_expect_eq(pp.nr, 0);
	cr_expect(strstr(err.msg, "f.policy:2: write: arg0 is compared twice"), "%s", err.msg);
	policy_free(p);

	cr_expect_eq(policy_prog_install(&pp), -EINVAL, "nothing to install");
}

/* A policy that compiles but makes more than BPF_MAXINSNS instructions. */
Test(policy_prog, program_too_big)
{
	static const char *const names[] = { "read", "write", "close", "fstat", "lseek", "ioctl" };
	struct cvm_errbuf err = { { 0 } };
	struct policy_prog pp;
	char text[1024] = "";
	struct policy *p;
	int rc;

	/* 256 libseccomp rules per line, different masks so no BPF block is shared. */
	for (unsigned int i = 0; i < ARRAY_LEN(names); i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "%s: arg0 & %#llx && arg%u & 0xffff\n", names[i], 0xffffull << (3 * i),
			 1 + i % 5);
	p = parse_ok(text);
	rc = policy_prog_build(&pp, p, SCMP_ACT_KILL_PROCESS, &err);
	cr_expect_eq(rc, -E2BIG, "%s", err.msg);
	cr_expect(strstr(err.msg, "the seccomp program has a bad size"), "%s", err.msg);
	cr_expect_eq(pp.nr, 0);
	policy_free(p);
}

TestSuite(policy_prog_file, .init = tmp_setup, .fini = tmp_teardown, .timeout = 30);

Test(policy_prog_file, missing_file)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy_prog pp;
	char want[PATH_MAX + 64];
	int rc;

	pp.nr = 5;
	rc = policy_prog_file(&pp, tmp, "nosuch", SCMP_ACT_KILL_PROCESS, &err);
	cr_expect_eq(rc, -ENOENT);
	cr_expect_eq(pp.nr, 0);
	snprintf(want, sizeof(want), "%s/nosuch_device.policy", tmp);
	cr_expect(strstr(err.msg, want), "message \"%s\" does not name %s", err.msg, want);
	cr_expect(strstr(err.msg, strerror(ENOENT)), "%s", err.msg);

	rc = policy_prog_file(&pp, "/nonexistent-dir", "net", SCMP_ACT_KILL_PROCESS, &err);
	cr_expect_eq(rc, -ENOENT);
	cr_expect(strstr(err.msg, "/nonexistent-dir/net_device.policy"), "%s", err.msg);
}

Test(policy_prog_file, errors_and_success)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy_prog pp;
	char longname[PATH_MAX + 16];
	int rc;

	put("common.policy", "exit_group: 1\n");
	put("good_device.policy", "@include ./common.policy\nread: 1\n");
	rc = policy_prog_file(&pp, tmp, "good", SCMP_ACT_KILL_PROCESS, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_expect_eq(pp.nr, 1);
	policy_prog_free(&pp);

	put("bad_device.policy", "read: 1\nread: 1\n");
	rc = policy_prog_file(&pp, tmp, "bad", SCMP_ACT_KILL_PROCESS, &err);
	cr_expect_eq(rc, -EINVAL);
	cr_expect(strstr(err.msg, "bad_device.policy:2: syscall 'read' given twice"), "%s",
		  err.msg);
	cr_expect_eq(pp.nr, 0);

	put("cbad_device.policy", "ioctl: arg0 < 1 || arg1 == 2\n");
	rc = policy_prog_file(&pp, tmp, "cbad", SCMP_ACT_KILL_PROCESS, &err);
	cr_expect_eq(rc, -EOPNOTSUPP);
	cr_expect(strstr(err.msg, "cbad_device.policy:1: ioctl: range"), "%s", err.msg);

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	rc = policy_prog_file(&pp, tmp, longname, SCMP_ACT_KILL_PROCESS, &err);
	cr_expect_eq(rc, -ENAMETOOLONG);
	cr_expect(strstr(err.msg, "name too long"), "%s", err.msg);
}

/* Fork; the child sets no_new_privs, installs @pp and returns fn()'s value as its status. */
static int run_installed(const struct policy_prog *pp, int (*fn)(void))
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			_exit(250);
		if (policy_prog_install(pp))
			_exit(251);
		_exit(fn());
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

#define CHECK(cond)                                \
	do {                                       \
		if (!(cond))                       \
			return __LINE__ % 200 + 1; \
	} while (0)

static void expect_exit(int status, int code)
{
	cr_expect(WIFEXITED(status), "child died of signal %d", WTERMSIG(status));
	cr_expect_eq(WEXITSTATUS(status), code, "child exited with %d, want %d",
		     WEXITSTATUS(status), code);
}

static int try_errno_default(void)
{
	CHECK(syscall(SYS_getuid) >= 0);
	errno = 0;
	CHECK(syscall(SYS_getppid) == -1 && errno == EPERM);
	CHECK(fcntl(1, F_GETFD) >= 0);
	errno = 0;
	CHECK(fcntl(1, F_GETFL) == -1 && errno == ENOTTY);
	errno = 0;
	CHECK(syscall(SYS_getpgrp) == -1 && errno == ENOSYS);
	return 0;
}

Test(policy_prog, install_errno_default)
{
	struct policy_prog pp;

	build(&pp,
	      CHILD_EXTRA "getuid: 1\nfcntl: arg1 == F_GETFD; return ENOTTY\n"
			  "getpgrp: return ENOSYS\n",
	      SCMP_ACT_ERRNO(EPERM));
	cr_expect_eq(pp.nr, 2);
	expect_exit(run_installed(&pp, try_errno_default), 0);
	policy_prog_free(&pp);
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code != SYS_SECCOMP || si->si_arch != AUDIT_ARCH_X86_64)
		_exit(1);
	_exit(si->si_syscall & 0xff);
}

static int trap_nr;

static int try_trap(void)
{
	CHECK(syscall(SYS_getuid) >= 0);
	syscall(trap_nr, 0, 0, 0, 0, 0, 0);
	return 2; /* the filter did not trap */
}

static void expect_trap(int nr)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	struct policy_prog pp;

	cr_assert_lt(nr, 256);
	cr_assert_gt(nr, 2);
	build(&pp, CHILD_EXTRA "getuid: 1\n", SCMP_ACT_TRAP);
	/* The handler is inherited by the child. */
	cr_assert_eq(sigaction(SIGSYS, &sa, NULL), 0);
	trap_nr = nr;
	expect_exit(run_installed(&pp, try_trap), nr);
	policy_prog_free(&pp);
}

Test(policy_prog, install_trap_default)
{
	expect_trap(SYS_getppid);
	expect_trap(SYS_uname);
	expect_trap(SYS_getpgrp);
}

/* ---- the real device policies ----------------------------------------- */

static size_t device_policies(glob_t *g)
{
	int rc = glob(CVM_POLICY_SRC "/*_device.policy", 0, NULL, g);

	cr_assert_eq(rc, 0, "no %s/*_device.policy (glob %d)", CVM_POLICY_SRC, rc);
	cr_assert_geq(g->gl_pathc, 1);
	return g->gl_pathc;
}

Test(policy_real, every_policy_file_parses)
{
	glob_t g;
	int rc = glob(CVM_POLICY_SRC "/*.policy", 0, NULL, &g);

	cr_assert_eq(rc, 0, "no policies in %s", CVM_POLICY_SRC);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct cvm_errbuf err = { { 0 } };
		struct policy *p;

		rc = policy_parse_file(&p, g.gl_pathv[i], &err);
		cr_expect_eq(rc, 0, "%s: %s", g.gl_pathv[i], err.msg);
		if (!rc) {
			cr_expect_gt(p->nr, 0, "%s has no rules", g.gl_pathv[i]);
			policy_free(p);
		}
	}
	globfree(&g);
}

Test(policy_real, device_policies_build)
{
	static const uint32_t actions[] = { SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP,
					    SCMP_ACT_ERRNO(EPERM) };
	glob_t g;
	size_t n = device_policies(&g);

	for (size_t i = 0; i < n; i++) {
		const char *path = g.gl_pathv[i], *base = strrchr(path, '/') + 1;
		char name[64];
		struct policy_prog pp;
		struct cvm_errbuf err = { { 0 } };
		struct policy *p;
		int rc;

		rc = policy_parse_file(&p, path, &err);
		cr_assert_eq(rc, 0, "%s: %s", path, err.msg);
		for (size_t a = 0; a < ARRAY_LEN(actions); a++) {
			rc = policy_prog_build(&pp, p, actions[a], &err);
			cr_expect_eq(rc, 0, "%s (action %#x): %s", path, actions[a], err.msg);
			cr_expect_geq(pp.nr, 1);
			policy_prog_free(&pp);
		}
		policy_free(p);

		/* As the sandbox finds it: <dir>/<name>_device.policy. */
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(base) - strlen("_device.policy")),
			 base);
		rc = policy_prog_file(&pp, CVM_POLICY_SRC, name, SCMP_ACT_TRAP, &err);
		cr_expect_eq(rc, 0, "%s: %s", name, err.msg);
		cr_expect_geq(pp.nr, 1);
		policy_prog_free(&pp);
	}
	globfree(&g);
}

/*
 * May rule @r allow a call whose argument @arg has PROT_EXEC set? Only a
 * comparison of @arg in every alternative that excludes the bit says no.
 */
static bool may_allow_exec(const struct policy_rule *r, unsigned int arg)
{
	if (r->allow_all)
		return true;
	for (size_t i = 0; i < r->nr_clauses; i++) {
		const struct policy_clause *cl = &r->clauses[i];
		bool excluded = false;

		for (unsigned int j = 0; j < cl->nr; j++) {
			const struct policy_cmp *c = &cl->cmp[j];

			if (c->arg != arg)
				continue;
			switch (c->op) {
			case POLICY_OP_EQ:
			case POLICY_OP_IN:
				excluded |= !(c->val & PROT_EXEC);
				break;
			case POLICY_OP_LT:
				excluded |= c->val <= PROT_EXEC;
				break;
			case POLICY_OP_LE:
				excluded |= c->val < PROT_EXEC;
				break;
			default:
				break;
			}
		}
		if (!excluded)
			return true;
	}
	return false; /* `return ERRNO` only, or every alternative excludes it */
}

/* Syscalls and their prot argument. */
static const struct {
	const char *name;
	unsigned int arg;
} prot_calls[] = { { "mmap", 2 }, { "mprotect", 2 }, { "pkey_mprotect", 2 } };

/* Allowed outright, any of these defeats the sandbox. */
static const char *const no_blanket[] = {
	"ioctl",    "open",  "openat", "openat2", "socket", "connect", "execve",
	"execveat", "clone", "clone3", "fork",	  "vfork",  "ptrace",  "process_vm_writev",
};

/* What is wrong with @p, or NULL. */
static const char *dangerous(const struct policy *p, char *buf, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(no_blanket); i++) {
		const struct policy_rule *r = policy_find(p, no_blanket[i]);

		if (r && r->allow_all) {
			snprintf(buf, len, "%s:%u: '%s: 1'", r->file, r->line, r->name);
			return buf;
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(prot_calls); i++) {
		const struct policy_rule *r = policy_find(p, prot_calls[i].name);

		if (r && may_allow_exec(r, prot_calls[i].arg)) {
			snprintf(buf, len, "%s:%u: %s may map PROT_EXEC", r->file, r->line,
				 r->name);
			return buf;
		}
	}
	return NULL;
}

/* The checker itself: it must see what it looks for. */
Test(policy_real, checker_finds_dangerous_rules)
{
	static const char *const bad[] = {
		"ioctl: 1",
		"openat: 1",
		"clone: 1",
		"execve: 1",
		"mmap: 1",
		"mprotect: 1",
		"mmap: arg3 in ~PROT_EXEC",
		"mmap: arg2 in ~PROT_EXEC || arg0 == 0",
		"mprotect: arg2 & PROT_READ",
		"mprotect: arg2 != PROT_EXEC",
		"mmap: arg2 == PROT_READ|PROT_EXEC",
		"mmap: arg2 <= PROT_EXEC",
		"mmap: arg2 >= 1",
		"mmap: arg0 == 0; return EPERM",
		"pkey_mprotect: arg2 in 7",
	};
	static const char *const good[] = {
		"ioctl: arg1 == FIONBIO",
		"openat: return ENOENT",
		"mmap: arg2 in ~PROT_EXEC",
		"mmap: arg2 in PROT_READ|PROT_WRITE && arg3 == MAP_SHARED",
		"mmap: arg2 == PROT_READ || arg2 == PROT_NONE",
		"mprotect: arg2 < PROT_EXEC",
		"mprotect: arg2 <= 3",
		"mprotect: arg2 in ~PROT_EXEC; return EPERM",
		"mprotect: return EPERM",
		"read: 1",
	};
	char buf[256];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct policy *p = parse_ok(bad[i]);

		cr_expect_not_null(dangerous(p, buf, sizeof(buf)), "\"%s\" not seen", bad[i]);
		policy_free(p);
	}
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		struct policy *p = parse_ok(good[i]);
		const char *why = dangerous(p, buf, sizeof(buf));

		cr_expect_null(why, "\"%s\" taken for dangerous: %s", good[i], why);
		policy_free(p);
	}
}

Test(policy_real, nothing_dangerous_allowed)
{
	glob_t g;
	size_t n = device_policies(&g);
	char buf[PATH_MAX + 128];

	for (size_t i = 0; i < n; i++) {
		struct cvm_errbuf err = { { 0 } };
		struct policy *p;
		const char *why;

		cr_assert_eq(policy_parse_file(&p, g.gl_pathv[i], &err), 0, "%s", err.msg);
		why = dangerous(p, buf, sizeof(buf));
		cr_expect_null(why, "%s: %s", g.gl_pathv[i], why);
		policy_free(p);
	}
	globfree(&g);
}

static int try_rng_device(void)
{
	uint8_t buf[16];
	void *m;

	CHECK(getrandom(buf, sizeof(buf), 0) == sizeof(buf));
	errno = 0;
	CHECK(getrandom(buf, sizeof(buf), GRND_NONBLOCK) == -1 && errno == EPERM);
	errno = 0;
	CHECK(syscall(SYS_getppid) == -1 && errno == EPERM);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED);
	errno = 0;
	CHECK(mprotect(m, 4096, PROT_READ | PROT_EXEC) == -1 && errno == EPERM);
	errno = 0;
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		      MAP_FAILED &&
	      errno == EPERM);
	errno = 0;
	CHECK(syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY) == -1 && errno == EPERM);
	return 0;
}

/* The real rng policy, installed: what it allows and that exec mappings are refused. */
Test(policy_real, rng_device_installed)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy_prog pp;
	int rc = policy_prog_file(&pp, CVM_POLICY_SRC, "rng", SCMP_ACT_ERRNO(EPERM), &err);

	cr_assert_eq(rc, 0, "%s", err.msg);
	expect_exit(run_installed(&pp, try_rng_device), 0);
	policy_prog_free(&pp);
}

/* A rule whose action is the default action is redundant, not an error (libseccomp refuses it). */
Test(policy_forms, rule_equal_to_default_action)
{
	struct cvm_errbuf err = { "" };

	cr_assert_eq(compile("getpid: return EPERM\nread: 1\n", SCMP_ACT_ERRNO(EPERM), &err), 0,
		     "%s", err.msg);
	cr_assert_eq(compile("read: 1\ngetpid: return EPERM\n", SCMP_ACT_ALLOW, &err), 0, "%s",
		     err.msg);
}

/*
 * libseccomp 2.5 loops forever when one `argN != V` reaches two rules of a
 * syscall that then differ (found by tests/fuzz/fuzz_policy): refused with a
 * message, where it used to hang policy_compile() (and so the VMM's start).
 */
Test(policy_compile, shared_not_equal_is_refused, .timeout = 20)
{
	compile_fails("ioctl: arg0!=2&&arg2&~5", -EOPNOTSUPP,
		      "f.policy:1: ioctl: arg0 != 0x2 would be in more than one alternative");
	compile_fails("ioctl: arg0 != 2 && arg2 == 2 || arg0 != 2 && arg2 == 0x100000000",
		      -EOPNOTSUPP, "ioctl: arg0 != 0x2 would be in more than one alternative");
	compile_fails("read: 1\nioctl: arg1 == 1 && arg0 != 7 || arg0 != 7 && arg2 == 3",
		      -EOPNOTSUPP, "f.policy:2: ioctl: arg0 != 0x7");
	/* One `!=` per alternative, or different ones, or `&` of one bit: fine. */
	compile_ok("ioctl: arg0 != 2 && arg2 == 2 || arg0 != 3 && arg2 == 0x100000000");
	compile_ok("ioctl: arg0 == 1 || arg0 == 0x3000 && arg1 != 7 || arg1 in 0xf0");
	compile_ok("ioctl: arg0 != 2 && arg2 & 0x100000000");
}
