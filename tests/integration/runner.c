// SPDX-License-Identifier: BSD-3-Clause
/* Spawning `cvm` for the integration tests; see runner.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "runner.h"

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/*
 * With CVM_SANITIZE=ON this test program is built with ASan too. A failed
 * Criterion assertion leaves its test early, so what the test allocated is
 * not freed: do not report that. `cvm` itself keeps leak detection (this
 * symbol is only in the test program), and its reports fail the tests.
 */
const char *__asan_default_options(void);

const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads what is there; returns 1 at EOF (fd closed and set to -1), else 0. */
static int drain(int *fd, struct buf *b)
{
	char tmp[65536];
	ssize_t n = read(*fd, tmp, sizeof(tmp));

	if (n > 0) {
		buf_add(b, tmp, (size_t)n);
		return 0;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	close(*fd);
	*fd = -1;
	return 1;
}

static void finish(struct runner_result *r, struct buf *out, struct buf *err)
{
	if (!out->p)
		buf_add(out, "", 0);
	if (!err->p)
		buf_add(err, "", 0);
	r->out = out->p;
	r->out_len = out->len;
	r->err = err->p;
	r->err_len = err->len;
}

static void record_status(struct runner_result *r, int ws)
{
	if (WIFEXITED(ws)) {
		r->exited = true;
		r->status = WEXITSTATUS(ws);
	} else if (WIFSIGNALED(ws)) {
		r->signaled = true;
		r->sig = WTERMSIG(ws);
	}
}

int runner_run(struct runner_result *r, const struct runner_opts *o, const char *const *args)
{
	const char *argv[64];
	size_t argc = 0;

	argv[argc++] = CVM_BIN;
	if (args && args[0] && strcmp(args[0], "run") == 0) {
		/* The policies of this source tree; or the threads mode of the second run. */
		argv[argc++] = *args++;
		runner_sandbox_args(argv + argc);
		argc += 2;
	}
	for (; args && *args && argc < sizeof(argv) / sizeof(argv[0]) - 1; args++)
		argv[argc++] = *args;
	argv[argc] = NULL;
	return runner_exec(r, o, argv);
}

void runner_sandbox_args(const char *out[2])
{
	out[0] = runner_sandboxed() ? "--seccomp-policy-dir" : "--disable-sandbox";
	out[1] = runner_sandboxed() ? CVM_POLICY_SRC : "--disable-sandbox";
}

bool runner_sandboxed(void)
{
	const char *e = getenv("CVM_TEST_NO_SANDBOX");

	return !e || !*e || strcmp(e, "0") == 0;
}

int runner_exec(struct runner_result *r, const struct runner_opts *o, const char *const *argv)
{
	static const struct runner_opts defaults = { 0 };
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, inp[2] = { -1, -1 };
	struct buf out = { 0 }, err = { 0 };
	size_t sent = 0, input_len;
	double start, deadline, reaped_at = 0;
	bool reaped = false;
	pid_t pid;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!o)
		o = &defaults;
	input_len = o->input ? strlen(o->input) : 0;
	if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) ||
	    (o->stdin_mode != RUNNER_STDIN_NULL && pipe2(inp, O_CLOEXEC))) {
		rc = -errno;
		buf_printf(&err, "runner: pipe: %s\n", strerror(errno));
		goto fail;
	}
	signal(SIGPIPE, SIG_IGN);
	start = now_s();
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		buf_printf(&err, "runner: fork: %s\n", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		int in = inp[0];

		setpgid(0, 0);
		if (o->stdin_mode == RUNNER_STDIN_NULL)
			in = open("/dev/null", O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "runner: cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	if (inp[0] >= 0) {
		close(inp[0]);
		inp[0] = -1;
	}
	if (o->stdin_mode == RUNNER_STDIN_CLOSED) {
		close(inp[1]);
		inp[1] = -1;
	} else if (inp[1] >= 0) {
		fcntl(inp[1], F_SETFL, O_NONBLOCK);
	}
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);

	deadline = start + (o->timeout_s > 0 ? o->timeout_s : RUNNER_DEFAULT_TIMEOUT);
	for (;;) {
		struct pollfd pfd[2];
		nfds_t n = 0;
		double now = now_s();
		int ws;

		if (inp[1] >= 0 && sent < input_len &&
		    (!o->send_after || (out.p && strstr(out.p, o->send_after)))) {
			ssize_t w = write(inp[1], o->input + sent, input_len - sent);

			if (w > 0)
				sent += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				sent = input_len; /* the child closed its stdin */
		}
		if (outp[0] >= 0)
			pfd[n++] = (struct pollfd){ .fd = outp[0], .events = POLLIN };
		if (errp[0] >= 0)
			pfd[n++] = (struct pollfd){ .fd = errp[0], .events = POLLIN };
		if (!reaped && waitpid(pid, &ws, WNOHANG) == pid) {
			record_status(r, ws);
			reaped = true;
			reaped_at = now;
		}
		if (reaped && n == 0)
			break;
		if (reaped && now - reaped_at > 2.0) {
			/* Something in its process group still holds the pipes. */
			kill(-pid, SIGKILL);
			buf_printf(&err, "\nrunner: output pipes still open 2 s after exit\n");
			break;
		}
		if (now > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			r->timed_out = true;
			if (!reaped && waitpid(pid, &ws, 0) == pid)
				record_status(r, ws);
			reaped = true;
			while (outp[0] >= 0 && !drain(&outp[0], &out))
				;
			while (errp[0] >= 0 && !drain(&errp[0], &err))
				;
			break;
		}
		if (n && poll(pfd, n, 50) > 0) {
			for (nfds_t i = 0; i < n; i++) {
				if (!pfd[i].revents)
					continue;
				if (pfd[i].fd == outp[0])
					drain(&outp[0], &out);
				else
					drain(&errp[0], &err);
			}
		} else if (!n) {
			usleep(10000);
		}
	}
	r->secs = now_s() - start;
	rc = 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (inp[i] >= 0)
			close(inp[i]);
	}
	finish(r, &out, &err);
	return rc;
}

void runner_free(struct runner_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

const char *runner_how(const struct runner_result *r)
{
	static __thread char how[128];

	if (r->timed_out)
		snprintf(how, sizeof(how), "timed out after %.1f s (killed)", r->secs);
	else if (r->signaled)
		snprintf(how, sizeof(how), "killed by signal %d (%s) after %.2f s", r->sig,
			 strsignal(r->sig), r->secs);
	else if (r->exited)
		snprintf(how, sizeof(how), "exit status %d after %.2f s", r->status, r->secs);
	else
		snprintf(how, sizeof(how), "did not run");
	return how;
}

const char *runner_kvm_error(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return strerror(errno);
	close(fd);
	return NULL;
}

bool runner_sanitizer_report(const struct runner_result *r)
{
	return r->err &&
	       (strstr(r->err, "AddressSanitizer") || strstr(r->err, "LeakSanitizer") ||
		strstr(r->err, "UndefinedBehaviorSanitizer") || strstr(r->err, "runtime error:"));
}

int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *p = buf;

	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(fd);
			return -e;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd) ? -errno : 0;
}

char *read_file(const char *path, size_t *len)
{
	struct buf b = { 0 };
	char tmp[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(&b, tmp, (size_t)n);
	close(fd);
	if (n < 0) {
		free(b.p);
		return NULL;
	}
	if (!b.p)
		buf_add(&b, "", 0);
	if (len)
		*len = b.len;
	return b.p;
}

char *make_temp_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (asprintf(&path, "%s/cvm-test-XXXXXX", tmp) < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void rm_rf(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint32_t crc32_buf(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = buf;

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

char *find_line(const char *text, const char *prefix)
{
	size_t plen = strlen(prefix);

	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t n = end ? (size_t)(end - l) : strlen(l);

		if (n >= plen && !strncmp(l, prefix, plen)) {
			if (n && l[n - 1] == '\r')
				n--;
			return strndup(l, n);
		}
		l = end ? end + 1 : NULL;
	}
	return NULL;
}

#ifdef CVM_GUEST
void runner_guest(struct runner_result *r, const struct runner_opts *o, const char *test,
		  const char *const *extra)
{
	const char *args[64];
	char param[128];
	size_t n = 0;

	args[n++] = "run";
	if (test) {
		snprintf(param, sizeof(param), "cvm.test=%s", test);
		args[n++] = "-p";
		args[n++] = param;
	}
	for (; extra && *extra && n < 60; extra++)
		args[n++] = *extra;
	args[n++] = CVM_GUEST;
	args[n] = NULL;
	cr_assert_eq(runner_run(r, o, args), 0, "cannot run %s: %s", CVM_BIN, r->err);
	cr_log_info("cvm run %s: %s", test ? test : "(hello)", runner_how(r));
}
#endif

void runner_assert_passed(const struct runner_result *r, const char *name)
{
	char want[128];
	char *line;

	cr_assert_run(r, !runner_sanitizer_report(r), "sanitizer report");
	cr_assert_run(r, !strstr(r->out, "FAIL "), "the guest reported a failure");
	cr_assert_run(r, r->exited && r->status == 0, "cvm did not exit 0");
	snprintf(want, sizeof(want), "SKIP %s: ", name);
	line = find_line(r->out, want);
	if (line) {
		char why[256];

		snprintf(why, sizeof(why), "%s", line + strlen(want));
		free(line);
		cr_skip_test("%s", why);
	}
	snprintf(want, sizeof(want), "PASS %s", name);
	line = find_line(r->out, want);
	cr_assert_run(r, line && !strcmp(line, want), "no '%s' line", want);
	free(line);
}
