/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Running `cvm run ...` as a user would, for the integration tests: fork and
 * exec with stdout and stderr captured, optional input on stdin, and a hard
 * deadline after which the whole process group is killed.
 */
#ifndef CVM_TESTS_RUNNER_H
#define CVM_TESTS_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef CVM_BIN
#error "CVM_BIN (path of the cvm binary) must be defined"
#endif

enum runner_stdin {
	RUNNER_STDIN_NULL = 0, /* /dev/null */
	RUNNER_STDIN_CLOSED,   /* a pipe whose write end is closed at once */
	RUNNER_STDIN_PIPE,     /* a pipe kept open until the child exits */
};

struct runner_opts {
	enum runner_stdin stdin_mode;
	/* RUNNER_STDIN_PIPE: bytes to write, once @send_after appeared on stdout (NULL: at once). */
	const char *input;
	const char *send_after;
	/* Deadline in seconds; 0 means RUNNER_DEFAULT_TIMEOUT. */
	int timeout_s;
};

#define RUNNER_DEFAULT_TIMEOUT 60

struct runner_result {
	bool exited; /* exited normally; then status is its exit status */
	int status;
	bool signaled; /* killed by a signal (sig) */
	int sig;
	bool timed_out; /* the deadline passed and the group was killed */
	char *out;	/* NUL-terminated stdout (may contain other NULs) */
	size_t out_len;
	char *err; /* NUL-terminated stderr */
	size_t err_len;
	double secs; /* wall time */
};

/*
 * runner_run() - run CVM_BIN with @args (NULL-terminated, without argv[0]).
 * Returns 0, or -errno when the child could not be started (then @r->err
 * holds the reason).
 */
int runner_run(struct runner_result *r, const struct runner_opts *o, const char *const *args);
/*
 * runner_run() puts `--seccomp-policy-dir CVM_POLICY_SRC` after `run`, or
 * `--disable-sandbox` when runner_sandboxed() is false: the guest tests run
 * twice, with CVM_TEST_NO_SANDBOX=1 the second time.
 */
bool runner_sandboxed(void);
/* The two arguments runner_run() adds after `run`, for tests that exec cvm themselves. */
void runner_sandbox_args(const char *out[2]);
/* runner_exec() - the same for any program: @argv[0] is its path. */
int runner_exec(struct runner_result *r, const struct runner_opts *o, const char *const *argv);
void runner_free(struct runner_result *r);

/* A description of how the run ended ("exit 1", "signal 11", "timed out after 60 s"). */
const char *runner_how(const struct runner_result *r);

/*
 * runner_kvm_error() - NULL when /dev/kvm opens O_RDWR, else strerror of
 * the failure (for cr_skip_test).
 */
const char *runner_kvm_error(void);

/* True when stderr holds a sanitizer report. */
bool runner_sanitizer_report(const struct runner_result *r);

/* Writes @len bytes to a new file at @path; returns 0 or -errno. */
int write_file(const char *path, const void *buf, size_t len);
/* Reads a whole file (malloc'ed, NUL-terminated); NULL on error. */
char *read_file(const char *path, size_t *len);
/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp), removed by rm_rf(). */
char *make_temp_dir(void);
void rm_rf(const char *path);

/*
 * runner_guest() - run the test guest (CVM_GUEST) through cvm: `cvm run -p
 * cvm.test=@test @extra... CVM_GUEST` (@test NULL: no cvm.test, the
 * greeting). Fails the test if cvm could not be started.
 */
void runner_guest(struct runner_result *r, const struct runner_opts *o, const char *test,
		  const char *const *extra);

/*
 * runner_assert_passed() - the guest run ended well: exit 0, no sanitizer
 * report, no "FAIL " line, a line exactly "PASS @name". A "SKIP @name: why"
 * line (the guest found a feature missing on purpose) skips the test.
 */
void runner_assert_passed(const struct runner_result *r, const char *name);

/* zlib's CRC-32. */
uint32_t crc32_buf(uint32_t crc, const void *buf, size_t len);

/* The line of @text that starts with @prefix (malloc'ed, without '\n'), or NULL. */
char *find_line(const char *text, const char *prefix);

/* Criterion helpers: skip without KVM; dump the run's output in a failure message. */
#define REQUIRE_KVM()                                                      \
	do {                                                               \
		const char *kvm_err__ = runner_kvm_error();                \
		if (kvm_err__)                                             \
			cr_skip_test("no usable /dev/kvm: %s", kvm_err__); \
	} while (0)

#define RUN_FMT "%s\n----- stdout (%zu bytes) -----\n%.8000s\n----- stderr -----\n%.8000s"
#define RUN_ARGS(r) runner_how(r), (r)->out_len, (r)->out, (r)->err

/* Assert @cond about run @r, printing what happened when it is false. */
#define cr_assert_run(r, cond, fmt, ...) \
	cr_assert((cond), fmt "\n" RUN_FMT, ##__VA_ARGS__, RUN_ARGS(r))

#endif
