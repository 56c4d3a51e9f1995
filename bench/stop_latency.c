// SPDX-License-Identifier: BSD-3-Clause
/*
 * stop_latency: time from sending "stop" on the control socket to the exit
 * of `cvm run`, over N runs of a guest that halts forever; prints every
 * sample and the median.
 *
 *   stop_latency [-n RUNS] CVM_BINARY GUEST_ELF
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libcvm/control.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One run: start the VM, wait for "SPIN", stop it; returns ms or -1. */
static double one_run(const char *cvm, const char *guest, const char *sock)
{
	int out[2], st;
	char buf[256];
	size_t len = 0;
	pid_t pid;
	double t0, t;

	if (pipe(out))
		return -1;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(out[1], 1);
		dup2(null, 2);
		execl(cvm, cvm, "run", "-m", "64", "-s", sock, "-p", "cvm.test=spin", guest,
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	buf[0] = '\0';
	while (!strstr(buf, "SPIN\n")) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0 ||
		    (n = read(out[0], buf + len, sizeof(buf) - 1 - len)) <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			close(out[0]);
			return -1;
		}
		len += (size_t)n;
		buf[len] = '\0';
	}
	t0 = now_ms();
	if (cvm_control_stop(sock)) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		close(out[0]);
		return -1;
	}
	waitpid(pid, &st, 0);
	t = now_ms() - t0;
	close(out[0]);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t : -1;
}

int main(int argc, char **argv)
{
	int runs = 50, i = 1;
	char dir[] = "/tmp/cvm-stop-XXXXXX", sock[64];

	if (i + 1 < argc && !strcmp(argv[i], "-n")) {
		runs = atoi(argv[i + 1]);
		i += 2;
	}
	if (argc - i != 2 || runs <= 0) {
		fprintf(stderr, "usage: stop_latency [-n RUNS] CVM_BINARY GUEST_ELF\n");
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);

	double *s = calloc((size_t)runs, sizeof(*s));

	for (int r = 0; r < runs; r++) {
		s[r] = one_run(argv[i], argv[i + 1], sock);
		if (s[r] < 0) {
			fprintf(stderr, "stop_latency: run %d failed\n", r + 1);
			return 1;
		}
		printf("run %2d: %.2f ms\n", r + 1, s[r]);
	}
	qsort(s, (size_t)runs, sizeof(*s), cmp);
	printf("median of %d runs: stop request to cvm exit %.2f ms (min %.2f, max %.2f)\n", runs,
	       runs % 2 ? s[runs / 2] : (s[runs / 2 - 1] + s[runs / 2]) / 2, s[0], s[runs - 1]);
	free(s);
	rmdir(dir);
	return 0;
}
