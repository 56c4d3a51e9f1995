// SPDX-License-Identifier: BSD-3-Clause
/* A background `cvm run` and /proc; see cvmproc.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cvmproc.h"

static pid_t live; /* the cvm a test started, for fproc_cleanup() */

double fproc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fproc_start(struct fproc *p, const char *const *args)
{
	fproc_start_hook(p, args, NULL, NULL);
}

void fproc_start_hook(struct fproc *p, const char *const *args, fproc_hook_fn hook, const void *arg)
{
	const char *argv[48];
	size_t n = 0;
	int ip[2], op[2], ep[2];

	memset(p, 0, sizeof(*p));
	argv[n++] = CVM_BIN;
	argv[n++] = "run";
	runner_sandbox_args(argv + n);
	n += 2;
	for (; *args && n < 47; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(pipe2(ip, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(op, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(ep, O_CLOEXEC), 0);
	signal(SIGPIPE, SIG_IGN);
	p->t0 = fproc_now();
	p->pid = fork();
	cr_assert_geq(p->pid, 0, "fork: %s", strerror(errno));
	if (p->pid == 0) {
		setpgid(0, 0);
		if (dup2(ip[0], 0) < 0 || dup2(op[1], 1) < 0 || dup2(ep[1], 2) < 0)
			_exit(126);
		if (hook)
			hook(arg);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(p->pid, p->pid);
	live = p->pid;
	close(ip[0]);
	close(op[1]);
	close(ep[1]);
	p->in = ip[1];
	p->fd[0] = op[0];
	p->fd[1] = ep[0];
	for (int i = 0; i < 2; i++) {
		fcntl(p->fd[i], F_SETFL, O_NONBLOCK);
		p->buf[i] = calloc(1, 1);
		cr_assert(p->buf[i]);
	}
}

void fproc_pump(struct fproc *p, int ms)
{
	struct pollfd pfd[2];
	nfds_t n = 0;
	char tmp[4096];

	for (int i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			pfd[n++] = (struct pollfd){ .fd = p->fd[i], .events = POLLIN };
	if (n)
		poll(pfd, n, ms);
	else
		usleep((useconds_t)ms * 1000);
	for (int i = 0; i < 2; i++) {
		while (p->fd[i] >= 0) {
			ssize_t r = read(p->fd[i], tmp, sizeof(tmp));

			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (r <= 0) {
				close(p->fd[i]);
				p->fd[i] = -1;
				break;
			}
			p->buf[i] = realloc(p->buf[i], p->len[i] + (size_t)r + 1);
			cr_assert(p->buf[i]);
			memcpy(p->buf[i] + p->len[i], tmp, (size_t)r);
			p->len[i] += (size_t)r;
			p->buf[i][p->len[i]] = '\0';
		}
	}
	if (!p->reaped && waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
		p->reaped = true;
		live = 0;
	}
}

bool fproc_wait(struct fproc *p, const char *needle, double secs)
{
	double deadline = fproc_now() + secs;

	while (!strstr(p->buf[0], needle)) {
		if (fproc_now() > deadline || (p->reaped && p->fd[0] < 0))
			return false;
		fproc_pump(p, 20);
	}
	return true;
}

void fproc_send(struct fproc *p, const char *s)
{
	cr_assert_eq(write(p->in, s, strlen(s)), (ssize_t)strlen(s), "write to cvm's stdin: %s",
		     strerror(errno));
}

void fproc_finish(struct fproc *p, struct runner_result *r, double secs)
{
	double deadline = fproc_now() + secs;

	memset(r, 0, sizeof(*r));
	while (!p->reaped && fproc_now() < deadline)
		fproc_pump(p, 20);
	if (!p->reaped) {
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &p->status, 0);
		r->timed_out = p->reaped = true;
		live = 0;
	}
	for (int i = 0; i < 50 && (p->fd[0] >= 0 || p->fd[1] >= 0); i++)
		fproc_pump(p, 20);
	r->exited = WIFEXITED(p->status);
	r->status = r->exited ? WEXITSTATUS(p->status) : 0;
	r->signaled = WIFSIGNALED(p->status);
	r->sig = r->signaled ? WTERMSIG(p->status) : 0;
	r->out = p->buf[0];
	r->out_len = p->len[0];
	r->err = p->buf[1];
	r->err_len = p->len[1];
	r->secs = fproc_now() - p->t0;
	for (int i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	if (p->in >= 0)
		close(p->in);
	p->in = p->fd[0] = p->fd[1] = -1;
}

void fproc_cleanup(void)
{
	if (live > 0) {
		kill(-live, SIGKILL);
		kill(live, SIGKILL);
		waitpid(live, NULL, 0);
		live = 0;
	}
}

/* State, parent, user and system ticks of @pid from /proc/@pid/stat; false if it is gone. */
static bool stat_fields(pid_t pid, char *state, unsigned long long *utime,
			unsigned long long *stime, int *ppid)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return false;
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
	return sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", state, ppid,
		      utime, stime) == 4;
}

unsigned int proc_children(pid_t pid, pid_t *kids, unsigned int max)
{
	unsigned int n = 0;
	struct dirent *e;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		pid_t k = (pid_t)atoi(e->d_name);
		unsigned long long u, s;
		char st;
		int pp;

		if (k > 0 && stat_fields(k, &st, &u, &s, &pp) && pp == (int)pid)
			kids[n++] = k;
	}
	closedir(d);
	return n;
}

pid_t proc_child_named(pid_t pid, const char *prefix)
{
	pid_t kids[32];
	unsigned int n = proc_children(pid, kids, 32);

	for (unsigned int i = 0; i < n; i++) {
		char path[64], name[64] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)kids[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = '\0';
		fclose(f);
		if (!strncmp(name, prefix, strlen(prefix)))
			return kids[i];
	}
	return -1;
}

double proc_cpu(pid_t pid)
{
	unsigned long long u, s;
	char st;
	int pp;

	if (!stat_fields(pid, &st, &u, &s, &pp))
		return -1;
	return (double)(u + s) / (double)sysconf(_SC_CLK_TCK);
}

bool proc_gone(pid_t pid, double secs)
{
	double deadline = fproc_now() + secs;

	for (;;) {
		unsigned long long u, s;
		char st = 0;
		int pp;

		errno = 0;
		if (kill(pid, 0) && errno == ESRCH)
			return true;
		/* A zombie is dead; its new parent reaps it. */
		if (stat_fields(pid, &st, &u, &s, &pp) && st == 'Z')
			return true;
		if (fproc_now() > deadline)
			return false;
		usleep(10000);
	}
}

long last_number(const char *text, const char *prefix)
{
	size_t pl = strlen(prefix);
	long v = -1;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char *end;
		long x;

		if (strncmp(l, prefix, pl))
			continue;
		x = strtol(l + pl, &end, 10);
		if (end != l + pl && (*end == '\n' || *end == '\0'))
			v = x;
	}
	return v;
}
