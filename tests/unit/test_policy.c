// SPDX-License-Identifier: BSD-3-Clause
/*
 * Seccomp policy files: every syntax form and every error of the parser,
 * what the compiler refuses, and filters loaded in forked children (allowed
 * calls, filtered arguments, `return ERRNO`, `EXPR; return ERRNO`, SIGSYS).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "jail/policy.h"

/* tests/unit/policy, found from this file's path. */
static void fixture(char *buf, size_t len, const char *name)
{
	const char *slash = strrchr(__FILE__, '/');

	cr_assert_not_null(slash, "__FILE__ has no directory: %s", __FILE__);
	snprintf(buf, len, "%.*s/policy/%s", (int)(slash - __FILE__), __FILE__, name);
}

static struct policy *parse_ok(const char *text)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = NULL;
	int rc = policy_parse_string(&p, text, "t.policy", NULL, &err);

	cr_assert_eq(rc, 0, "parse of \"%s\" failed: %d %s", text, rc, err.msg);
	cr_assert_not_null(p);
	return p;
}

static const struct policy_rule *rule(const struct policy *p, const char *name)
{
	const struct policy_rule *r = policy_find(p, name);

	cr_assert_not_null(r, "no rule for %s", name);
	return r;
}

/* One rule of one clause with one comparison: check it. */
static void expect_cmp(const char *text, unsigned int arg, enum policy_op op, uint64_t val)
{
	struct policy *p = parse_ok(text);
	const struct policy_rule *r = rule(p, "ioctl");

	cr_expect_eq(r->nr_clauses, 1, "%s", text);
	cr_expect_eq(r->clauses[0].nr, 1, "%s", text);
	cr_expect_eq(r->clauses[0].cmp[0].arg, arg, "%s", text);
	cr_expect_eq(r->clauses[0].cmp[0].op, op, "%s", text);
	cr_expect_eq(r->clauses[0].cmp[0].val, val, "%s: got %#llx", text,
		     (unsigned long long)r->clauses[0].cmp[0].val);
	cr_expect_eq(r->errno_val, -1);
	cr_expect(!r->allow_all);
	policy_free(p);
}

Test(policy, allow_comments_blank_lines)
{
	struct policy *p = parse_ok("# a comment\n\n   \nread: 1\n\t# indented comment\n"
				    "write:1   # trailing\nclose : 1");
	const struct policy_rule *r;

	cr_assert_eq(p->nr, 3);
	r = rule(p, "read");
	cr_expect(r->allow_all);
	cr_expect_eq(r->nr, SYS_read);
	cr_expect_eq(r->line, 4);
	cr_expect_str_eq(r->file, "t.policy");
	cr_expect_eq(r->errno_val, -1);
	cr_expect(rule(p, "write")->allow_all);
	cr_expect_eq(rule(p, "write")->line, 6);
	cr_expect_eq(rule(p, "close")->nr, SYS_close);
	cr_expect_null(policy_find(p, "open"));
	policy_free(p);
}

Test(policy, each_operator)
{
	expect_cmp("ioctl: arg1 == 5", 1, POLICY_OP_EQ, 5);
	expect_cmp("ioctl: arg1 != 5", 1, POLICY_OP_NE, 5);
	expect_cmp("ioctl: arg2 < 5", 2, POLICY_OP_LT, 5);
	expect_cmp("ioctl: arg3 <= 5", 3, POLICY_OP_LE, 5);
	expect_cmp("ioctl: arg4 > 5", 4, POLICY_OP_GT, 5);
	expect_cmp("ioctl: arg5 >= 5", 5, POLICY_OP_GE, 5);
	expect_cmp("ioctl: arg0 & 6", 0, POLICY_OP_AND, 6);
	expect_cmp("ioctl: arg0 in 6", 0, POLICY_OP_IN, 6);
	expect_cmp("ioctl: arg0==6", 0, POLICY_OP_EQ, 6);
	expect_cmp("ioctl: arg0&6", 0, POLICY_OP_AND, 6);
}

Test(policy, number_bases_and_constants)
{
	expect_cmp("ioctl: arg1 == 0x54cf", 1, POLICY_OP_EQ, 0x54cf);
	expect_cmp("ioctl: arg1 == 0XABCdef", 1, POLICY_OP_EQ, 0xabcdef);
	expect_cmp("ioctl: arg1 == 0755", 1, POLICY_OP_EQ, 0755);
	expect_cmp("ioctl: arg1 == 0", 1, POLICY_OP_EQ, 0);
	expect_cmp("ioctl: arg1 == 18446744073709551615", 1, POLICY_OP_EQ, UINT64_MAX);
	expect_cmp("ioctl: arg1 == 0xffffffffffffffff", 1, POLICY_OP_EQ, UINT64_MAX);
	expect_cmp("ioctl: arg1 == 01777777777777777777777", 1, POLICY_OP_EQ, UINT64_MAX);
	expect_cmp("ioctl: arg1 == TUNSETOFFLOAD", 1, POLICY_OP_EQ, 0x400454d0);
	expect_cmp("ioctl: arg1 == TUNSETVNETHDRSZ", 1, POLICY_OP_EQ, 0x400454d8);
	expect_cmp("ioctl: arg1 == FIONBIO", 1, POLICY_OP_EQ, 0x5421);
	expect_cmp("ioctl: arg1 == TCGETS", 1, POLICY_OP_EQ, 0x5401);
	expect_cmp("ioctl: arg1 == F_DUPFD_CLOEXEC", 1, POLICY_OP_EQ, 1030);
	expect_cmp("ioctl: arg2 in O_RDWR|O_CLOEXEC", 2, POLICY_OP_IN, 02000002);
	expect_cmp("ioctl: arg2 in O_RDWR | O_CLOEXEC | 0x10", 2, POLICY_OP_IN, 02000022);
	expect_cmp("ioctl: arg2 == PROT_READ|PROT_WRITE", 2, POLICY_OP_EQ, 3);
	expect_cmp("ioctl: arg2 in ~PROT_EXEC", 2, POLICY_OP_IN, ~(uint64_t)PROT_EXEC);
	expect_cmp("ioctl: arg2 in ~ 0x4|1", 2, POLICY_OP_IN, ~(uint64_t)4);
	expect_cmp("ioctl: arg1 == FUTEX_WAIT|FUTEX_PRIVATE_FLAG", 1, POLICY_OP_EQ, 128);
	expect_cmp("ioctl: arg0 == AF_UNIX", 0, POLICY_OP_EQ, 1);
	expect_cmp("ioctl: arg1 & SOCK_CLOEXEC|SOCK_NONBLOCK", 1, POLICY_OP_AND, 02004000);
	expect_cmp("ioctl: arg3 == MSG_NOSIGNAL", 3, POLICY_OP_EQ, 0x4000);
	expect_cmp("ioctl: arg1 == EPOLL_CTL_MOD", 1, POLICY_OP_EQ, 3);
	expect_cmp("ioctl: arg1 == FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE", 1, POLICY_OP_EQ, 3);
	expect_cmp("ioctl: arg0 == SIG_SETMASK", 0, POLICY_OP_EQ, 2);
	expect_cmp("ioctl: arg3 == MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE", 3, POLICY_OP_EQ,
		   0x4021);
}

Test(policy, and_or)
{
	struct policy *p = parse_ok(
		"ioctl: arg1 == 1 && arg0 != 2 || arg1 == 3 ||arg2 in 7&&arg3 & 1&&arg4>9");
	const struct policy_rule *r = rule(p, "ioctl");

	cr_assert_eq(r->nr_clauses, 3);
	cr_expect_eq(r->clauses[0].nr, 2);
	cr_expect_eq(r->clauses[0].cmp[1].op, POLICY_OP_NE);
	cr_expect_eq(r->clauses[0].cmp[1].arg, 0);
	cr_expect_eq(r->clauses[1].nr, 1);
	cr_expect_eq(r->clauses[1].cmp[0].val, 3);
	cr_expect_eq(r->clauses[2].nr, 3);
	cr_expect_eq(r->clauses[2].cmp[0].op, POLICY_OP_IN);
	cr_expect_eq(r->clauses[2].cmp[1].op, POLICY_OP_AND);
	cr_expect_eq(r->clauses[2].cmp[1].val, 1);
	cr_expect_eq(r->clauses[2].cmp[2].op, POLICY_OP_GT);
	cr_expect_eq(r->clauses[2].cmp[2].arg, 4);
	policy_free(p);
}

Test(policy, return_errno)
{
	struct policy *p = parse_ok("open: return ENOENT\nopenat: return 13\n"
				    "fcntl: arg1 == F_GETFD || arg1 == F_SETFD; return EPERM\n"
				    "ioctl: arg1 == FIONBIO ;return 25");
	const struct policy_rule *r;

	r = rule(p, "open");
	cr_expect_eq(r->errno_val, ENOENT);
	cr_expect_eq(r->nr_clauses, 0);
	cr_expect(!r->allow_all);
	cr_expect_eq(rule(p, "openat")->errno_val, 13);
	r = rule(p, "fcntl");
	cr_expect_eq(r->errno_val, EPERM);
	cr_expect_eq(r->nr_clauses, 2);
	cr_expect_eq(r->clauses[1].cmp[0].val, F_SETFD);
	r = rule(p, "ioctl");
	cr_expect_eq(r->errno_val, ENOTTY);
	cr_expect_eq(r->nr_clauses, 1);
	policy_free(p);
}

Test(policy, include_one_level)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = NULL;
	char path[PATH_MAX], common[PATH_MAX];
	const struct policy_rule *r;
	int rc;

	fixture(path, sizeof(path), "main.policy");
	fixture(common, sizeof(common), "common.policy");
	rc = policy_parse_file(&p, path, &err);
	cr_assert_eq(rc, 0, "%d %s", rc, err.msg);
	cr_assert_eq(p->nr, 3);
	r = rule(p, "write");
	cr_expect(r->allow_all);
	cr_expect_str_eq(r->file, common);
	cr_expect_eq(r->line, 2);
	r = rule(p, "exit_group");
	cr_expect_eq(r->nr_clauses, 1);
	cr_expect_eq(r->line, 3);
	r = rule(p, "read");
	cr_expect_str_eq(r->file, path);
	cr_expect_eq(r->line, 5);
	cr_expect_eq(&p->rules[2], r, "rules keep file order, includes in place");
	policy_free(p);
}

static void expect_file_err(const char *name, int want, const char *msg_part)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = (struct policy *)1;
	char path[PATH_MAX];
	int rc;

	fixture(path, sizeof(path), name);
	rc = policy_parse_file(&p, path, &err);
	cr_expect_eq(rc, want, "%s: rc %d (%s)", name, rc, err.msg);
	cr_expect_null(p);
	cr_expect(strstr(err.msg, msg_part), "%s: message \"%s\" lacks \"%s\"", name, err.msg,
		  msg_part);
}

Test(policy, include_errors)
{
	expect_file_err("nested.policy", -EINVAL, "nested2.policy:3: @include in an included");
	expect_file_err("missing.policy", -ENOENT, "missing.policy:2: cannot read ");
	expect_file_err("missing.policy", -ENOENT, "does_not_exist.policy");
	expect_file_err("dup.policy", -EINVAL, "common.policy:2: syscall 'write' given twice");
	expect_file_err("dup.policy", -EINVAL, "(first at ");
	expect_file_err("no_such_top.policy", -ENOENT, "cannot read ");
}

/* Parse errors: each message must name t.policy and the line. */
Test(policy, parse_errors)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "read: 1\nbogus_call: 1", "t.policy:2: unknown syscall 'bogus_call'" },
		{ "read 1", "t.policy:1: expected 'syscall: rule'" },
		{ ": 1", "t.policy:1: expected 'syscall: rule'" },
		{ "read:", "t.policy:1: empty rule" },
		{ "read: 2", "t.policy:1: expected argN" },
		{ "read: arg6 == 1", "t.policy:1: argument index in 'arg6' out of range" },
		{ "read: arg10 == 1", "t.policy:1: argument index in 'arg10' out of range" },
		{ "read: argx == 1", "t.policy:1: expected argN" },
		{ "read: arg0 =< 1", "t.policy:1: expected an operator" },
		{ "read: arg0 = 1", "t.policy:1: expected an operator" },
		{ "read: arg0 ==", "t.policy:1: expected a number or a constant" },
		{ "read: arg0 == NOT_A_CONST", "t.policy:1: unknown constant 'NOT_A_CONST'" },
		{ "read: arg0 == O_RDWR|NOPE", "t.policy:1: unknown constant 'NOPE'" },
		{ "read: arg0 == 18446744073709551616", "t.policy:1: number '18446744073709551616' "
							"does not fit 64 bits" },
		{ "read: arg0 == 0x10000000000000000", "does not fit 64 bits" },
		{ "read: arg0 == 02000000000000000000000", "does not fit 64 bits" },
		{ "read: arg0 == 0x", "t.policy:1: bad hex number" },
		{ "read: arg0 == 09", "t.policy:1: bad number '09'" },
		{ "read: arg0 == 12ab", "t.policy:1: bad number '12ab'" },
		{ "read: arg0 == 1 &&", "t.policy:1: expected argN" },
		{ "read: arg0 == 1 || ", "t.policy:1: expected argN" },
		{ "read: arg0 == 1 arg1 == 2", "t.policy:1: unexpected 'arg1 == 2'" },
		{ "read: arg0 & 0", "t.policy:1: 'arg0 & 0' can never hold" },
		{ "read: return", "t.policy:1: expected an errno" },
		{ "read: return EBOGUS", "t.policy:1: unknown errno 'EBOGUS'" },
		{ "read: return 4096", "t.policy:1: errno 4096 out of range" },
		{ "read: return EPERM x", "t.policy:1: unexpected 'x' after the errno" },
		{ "read: arg0 == 1; EPERM", "t.policy:1: expected 'return ERRNO'" },
		{ "read: arg0 == 1;", "t.policy:1: expected 'return ERRNO'" },
		{ "read: 1\nwrite: 1\nread: 1", "t.policy:3: syscall 'read' given twice "
						"(first at t.policy:1)" },
		{ "\n\n@include ./x.policy", "t.policy:3: @include is not allowed here" },
		{ "@include x.policy", "t.policy:1: @include path 'x.policy' must start with ./" },
		{ "@include /etc/x.policy", "t.policy:1: @include path '/etc/x.policy' must" },
		{ "@include ../x.policy", "must start with ./" },
		{ "@include", "t.policy:1: @include needs a file" },
		{ "@include ./a ./b", "t.policy:1: unexpected './b'" },
		{ "@frequency", "t.policy:1: @frequency needs a file" },
		{ "@define X 1", "t.policy:1: unknown directive '@define'" },
		{ "read: arg0 == 1 && arg1 == 1 && arg2 == 1 && arg3 == 1 && arg4 == 1 && "
		  "arg5 == 1 && arg0 == 2",
		  "t.policy:1: more than 6 '&&' comparisons" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cvm_errbuf err = { { 0 } };
		struct policy *p = (struct policy *)1;
		int rc = policy_parse_string(&p, cases[i].text, "t.policy", NULL, &err);

		cr_expect_eq(rc, -EINVAL, "\"%s\": rc %d (%s)", cases[i].text, rc, err.msg);
		cr_expect_null(p, "\"%s\"", cases[i].text);
		cr_expect(strstr(err.msg, cases[i].msg), "\"%s\": message \"%s\" lacks \"%s\"",
			  cases[i].text, err.msg, cases[i].msg);
	}
}

Test(policy, too_many_alternatives)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p;
	char text[4096] = "read: arg0 == 0";
	int rc;

	for (int i = 1; i <= POLICY_MAX_OR; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), " || arg0 == %d", i);
	rc = policy_parse_string(&p, text, "t.policy", NULL, &err);
	cr_expect_eq(rc, -EINVAL);
	cr_expect(strstr(err.msg, "t.policy:1: more than 64 '||'"), "%s", err.msg);
}

Test(policy, long_line)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p;
	char *text = malloc(POLICY_LINE_MAX + 16);
	int rc;

	cr_assert_not_null(text);
	strcpy(text, "read: 1\n#");
	memset(text + 9, 'x', POLICY_LINE_MAX);
	text[9 + POLICY_LINE_MAX] = '\0';
	rc = policy_parse_string(&p, text, "t.policy", NULL, &err);
	free(text);
	cr_expect_eq(rc, -EINVAL);
	cr_expect(strstr(err.msg, "t.policy:2: line longer than"), "%s", err.msg);
}

static int compile(const char *text, struct cvm_errbuf *err)
{
	struct policy *p = parse_ok(text);
	scmp_filter_ctx ctx = NULL;
	int rc = policy_compile(p, SCMP_ACT_KILL_PROCESS, &ctx, err);

	if (!rc) {
		cr_expect_not_null(ctx);
		seccomp_release(ctx);
	} else {
		cr_expect_null(ctx);
	}
	policy_free(p);
	return rc;
}

Test(policy, compile_ok_and_errors)
{
	struct cvm_errbuf err = { { 0 } };
	scmp_filter_ctx side[POLICY_MAX_ERRNO_FILTERS];
	struct policy *p;
	size_t n = 99;
	int rc;

	rc = compile("read: 1\nwrite: arg0 == 1 || arg0 == 2\nopen: return ENOENT\n"
		     "mmap: arg2 in PROT_READ|PROT_WRITE && arg3 & MAP_SHARED|MAP_PRIVATE\n"
		     "fcntl: arg1 == F_GETFD; return EPERM\nioctl: arg1 >= 5 && arg0 < 3",
		     &err);
	cr_expect_eq(rc, 0, "%s", err.msg);
	rc = compile("read: 1\nwrite: arg0 >= 1 && arg0 <= 2", &err);
	cr_expect_eq(rc, -EOPNOTSUPP);
	cr_expect(strstr(err.msg, "t.policy:2: write: arg0 is compared twice"), "%s", err.msg);
	rc = compile("ioctl: arg0 & 0xffffffffffffffff && arg1 & 0x1f", &err);
	cr_expect_eq(rc, -E2BIG);
	cr_expect(strstr(err.msg, "t.policy:1: ioctl: rule expands to more than"), "%s", err.msg);
	rc = compile("ioctl: arg0 & 0xffffffff && arg1 & 0xff", &err);
	cr_expect_eq(rc, 0, "%s", err.msg);
	rc = compile("ioctl: arg0 <= 4 && arg1 == 1 || arg0 > 0xfffffffff", &err);
	cr_expect_eq(rc, -EOPNOTSUPP);
	cr_expect(strstr(err.msg, "t.policy:1: ioctl: range comparisons"), "%s", err.msg);
	rc = compile("ioctl: arg0 < 4 && arg1 & 3", &err);
	cr_expect_eq(rc, -EOPNOTSUPP, "a multi-bit '&' makes several alternatives");
	rc = compile("ioctl: arg0 < 4 && arg1 & 2", &err);
	cr_expect_eq(rc, 0, "%s", err.msg);

	p = parse_ok("read: 1\nwrite: arg0 == 1; return EPERM\nopen: return ENOENT\n"
		     "close: arg0 == 1; return EBADF\nfcntl: arg1 == 1; return EPERM");
	rc = policy_compile_errno(p, side, &n, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_expect_eq(n, 2, "one filter per distinct errno");
	for (size_t i = 0; i < n; i++)
		seccomp_release(side[i]);
	policy_free(p);

	p = parse_ok("read: 1\nopen: return ENOENT");
	rc = policy_compile_errno(p, side, &n, &err);
	cr_expect_eq(rc, 0);
	cr_expect_eq(n, 0);
	policy_free(p);

	p = parse_ok("read: 1");
	rc = policy_compile(p, 0x12345678, &(scmp_filter_ctx){ NULL }, &err);
	cr_expect_eq(rc, -EINVAL, "a bad default action is refused");
	policy_free(p);
}

/*
 * Behaviour: a forked child loads the policy and runs @fn, whose return value
 * becomes its exit status (0 = all checks held, else the failing line).
 */
#define CHECK(cond)                                \
	do {                                       \
		if (!(cond))                       \
			return __LINE__ % 255 + 1; \
	} while (0)

/*
 * What the children's policies add so that policy_load() can free its
 * filters and ASan can manage its memory after the filter is in place.
 */
#define CHILD_EXTRA                                                                     \
	"\nmmap: 1\nmunmap: 1\nmadvise: 1\nmprotect: 1\nbrk: 1\ngetpid: 1\ngettid: 1\n" \
	"sigaltstack: 1\nfutex: 1\n"

static struct policy *parse_child(const char *text)
{
	struct policy *p;
	char *full;

	cr_assert_geq(asprintf(&full, "%s%s", text, CHILD_EXTRA), 0);
	p = parse_ok(full);
	free(full);
	return p;
}

static int run_child(const char *text, uint32_t def, int (*fn)(void))
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = parse_child(text);
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (policy_load(p, def, &err))
			_exit(254);
		_exit(fn());
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	policy_free(p);
	return status;
}

static void expect_exit0(int status)
{
	cr_expect(WIFEXITED(status), "child died of signal %d", WTERMSIG(status));
	cr_expect_eq(WEXITSTATUS(status), 0, "child check failed (code %d)", WEXITSTATUS(status));
}

/* syscall(2) with raw arguments; getppid ignores them but the filter sees them. */
static long ppid(unsigned long a0, unsigned long a1)
{
	return syscall(SYS_getppid, a0, a1, 0, 0, 0, 0);
}

static int try_allowed(void)
{
	CHECK(syscall(SYS_getuid) >= 0);
	errno = 0;
	CHECK(ppid(0, 0) == -1 && errno == EPERM);
	return 0;
}

Test(policy_run, allowed_call_succeeds)
{
	expect_exit0(run_child("getuid: 1\nexit_group: 1", SCMP_ACT_ERRNO(EPERM), try_allowed));
}

static int try_fcntl(void)
{
	CHECK(fcntl(1, F_GETFD) >= 0);
	errno = 0;
	CHECK(fcntl(1, F_GETFL) == -1 && errno == EPERM);
	return 0;
}

Test(policy_run, filtered_argument)
{
	expect_exit0(run_child("fcntl: arg1 == F_GETFD\nexit_group: 1", SCMP_ACT_ERRNO(EPERM),
			       try_fcntl));
}

static int try_enosys(void)
{
	errno = 0;
	CHECK(ppid(0, 0) == -1 && errno == ENOSYS);
	errno = 0;
	CHECK(syscall(SYS_getuid) == -1 && errno == EPERM);
	return 0;
}

Test(policy_run, return_errno)
{
	expect_exit0(run_child("getppid: return ENOSYS\nexit_group: 1", SCMP_ACT_ERRNO(EPERM),
			       try_enosys));
}

static int try_kill(void)
{
	CHECK(syscall(SYS_getuid) >= 0);
	ppid(0, 0);
	return 0; /* not reached if the filter works */
}

Test(policy_run, disallowed_call_kills)
{
	int status =
		run_child("getuid: 1\nexit_group: 1\nwrite: 1", SCMP_ACT_KILL_PROCESS, try_kill);

	cr_expect(WIFSIGNALED(status), "child exited with %d", WEXITSTATUS(status));
	cr_expect_eq(WTERMSIG(status), SIGSYS);
}

/* getppid(2) calls with raw arguments and whether the filter must allow them. */
struct probe {
	unsigned long a0, a1;
	bool ok;
};

static void run_probes(const char *text, const struct probe *pr, size_t n)
{
	struct cvm_errbuf err = { { 0 } };
	struct policy *p = parse_child(text);
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (policy_load(p, SCMP_ACT_ERRNO(EPERM), &err))
			_exit(254);
		for (size_t i = 0; i < n; i++) {
			long r;

			errno = 0;
			r = ppid(pr[i].a0, pr[i].a1);
			if (pr[i].ok ? r <= 0 : (r != -1 || errno != EPERM))
				_exit(i + 1);
		}
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	policy_free(p);
	cr_expect(WIFEXITED(status), "%s: child died of signal %d", text, WTERMSIG(status));
	cr_expect_eq(WEXITSTATUS(status), 0, "%s: probe %d (0-based) got the wrong answer", text,
		     WEXITSTATUS(status) - 1);
}

#define PROBES(text, ...)                                                                       \
	do {                                                                                    \
		static const struct probe pr_[] = { __VA_ARGS__ };                              \
		run_probes("exit_group: 1\ngetppid: " text, pr_, sizeof(pr_) / sizeof(pr_[0])); \
	} while (0)

Test(policy_run, operators)
{
	PROBES("arg0 == 7", { 7, 0, true }, { 6, 0, false }, { 7 | 1ull << 32, 0, false });
	PROBES("arg1 != 7", { 0, 6, true }, { 0, 7, false }, { 0, 7 | 1ull << 32, true });
	PROBES("arg0 < 4", { 3, 0, true }, { 0, 0, true }, { 4, 0, false },
	       { 1ull << 40, 0, false });
	PROBES("arg0 <= 4 && arg1 == 1", { 4, 1, true }, { 4, 2, false }, { 5, 1, false });
	PROBES("arg0 > 0xfffffffff", { 0x1000000000, 0, true }, { 0xfffffffff, 0, false });
	PROBES("arg0 >= 5 && arg1 != 7", { 5, 0, true }, { 4, 0, false }, { 9, 7, false });
	PROBES("arg0 in 0x1f0", { 0x100, 0, true }, { 0, 0, true }, { 0x101, 0, false },
	       { 0x1f0 | 1ull << 63, 0, false });
	PROBES("arg0 in ~PROT_EXEC", { 3, 0, true }, { 4, 0, false }, { 7, 0, false });
	PROBES("arg0 & 0xc00 && arg1 == 5", { 0x800, 5, true }, { 0x400, 5, true },
	       { 0xfff, 5, true }, { 0x3ff, 5, false }, { 0x800, 4, false });
	PROBES("arg0 & 1", { 0, 0, false }, { 3, 0, true }, { 2, 0, false });
	PROBES("arg0 == 1 || arg0 == 0x3000 && arg1 != 7 || arg1 in 0xf0", { 1, 99, true },
	       { 0x3000, 6, true }, { 0x3000, 7, false }, { 2, 0x10, true }, { 2, 0x11, false });
}

static int try_expr_return(void)
{
	CHECK(fcntl(1, F_GETFD) >= 0);
	CHECK(fcntl(1, F_SETFD, FD_CLOEXEC) == 0);
	errno = 0;
	CHECK(fcntl(1, F_GETFL) == -1 && errno == ENOTTY);
	errno = 0;
	CHECK(ppid(0, 0) == -1 && errno == ENOENT);
	CHECK(ppid(1, 0) > 0);
	CHECK(ppid(0, 9) > 0);
	errno = 0;
	CHECK(ppid(2, 9) == -1 && errno == ENOENT);
	errno = 0;
	CHECK(syscall(SYS_getuid) == -1 && errno == EPERM);
	return 0;
}

Test(policy_run, expr_then_return)
{
	expect_exit0(run_child("fcntl: arg1 == F_GETFD || arg1 == F_SETFD; return ENOTTY\n"
			       "getppid: arg0 == 1 || arg0 == 0 && arg1 == 9; return ENOENT\n"
			       "exit_group: 1",
			       SCMP_ACT_ERRNO(EPERM), try_expr_return));
}

static int try_expr_return_kill(void)
{
	errno = 0;
	CHECK(fcntl(1, F_GETFL) == -1 && errno == ENOTTY);
	CHECK(fcntl(1, F_GETFD) >= 0);
	syscall(SYS_getuid);
	return 0; /* not reached */
}

Test(policy_run, expr_then_return_under_kill)
{
	int status = run_child("fcntl: arg1 == F_GETFD; return ENOTTY\nexit_group: 1\n"
			       "write: 1",
			       SCMP_ACT_KILL_PROCESS, try_expr_return_kill);

	cr_expect(WIFSIGNALED(status), "child exited with %d", WEXITSTATUS(status));
	cr_expect_eq(WTERMSIG(status), SIGSYS);
}
