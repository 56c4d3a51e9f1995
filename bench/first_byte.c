// SPDX-License-Identifier: BSD-3-Clause
/*
 * first_byte: time from starting `cvm run` to the guest's first serial byte
 * on cvm's standard output, over N runs; prints every sample and the median.
 *
 *   first_byte [-n RUNS] -- CVM_BINARY run [options] KERNEL
 */
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

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One run: returns ms to the first byte, or -1. The child runs to its end. */
static double one_run(char **argv, double *total_ms)
{
	int out[2];
	double t0 = now_ms(), first = -1;
	pid_t pid;
	char buf[4096];

	if (pipe(out))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", 0);

		dup2(null, 0);
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };

		if (poll(&p, 1, 60000) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		ssize_t n = read(out[0], buf, sizeof(buf));

		if (n <= 0)
			break;
		if (first < 0)
			first = now_ms() - t0;
	}
	close(out[0]);
	int st;

	waitpid(pid, &st, 0);
	*total_ms = now_ms() - t0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return first;
}

int main(int argc, char **argv)
{
	int runs = 20, i = 1;

	if (i + 1 < argc && !strcmp(argv[i], "-n")) {
		runs = atoi(argv[i + 1]);
		i += 2;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc || runs <= 0) {
		fprintf(stderr, "usage: first_byte [-n RUNS] -- CVM run [options] KERNEL\n");
		return 2;
	}

	double *s = calloc(runs, sizeof(*s)), *tot = calloc(runs, sizeof(*tot));

	for (int r = 0; r < runs; r++) {
		s[r] = one_run(&argv[i], &tot[r]);
		if (s[r] < 0) {
			fprintf(stderr, "first_byte: run %d failed\n", r + 1);
			return 1;
		}
		printf("run %2d: first byte %.2f ms, exit %.2f ms\n", r + 1, s[r], tot[r]);
	}
	qsort(s, runs, sizeof(*s), cmp_double);
	qsort(tot, runs, sizeof(*tot), cmp_double);
	printf("median of %d runs: first serial byte %.2f ms, process exit %.2f ms\n", runs,
	       runs % 2 ? s[runs / 2] : (s[runs / 2 - 1] + s[runs / 2]) / 2,
	       runs % 2 ? tot[runs / 2] : (tot[runs / 2 - 1] + tot[runs / 2]) / 2);
	free(s);
	free(tot);
	return 0;
}
