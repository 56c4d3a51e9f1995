// SPDX-License-Identifier: BSD-3-Clause
/*
 * Stopping `cvm run` from outside: SIGTERM and SIGINT stop the VM in order
 * and cvm exits 0, even while the vCPU sleeps inside KVM_RUN (the guest
 * halts with interrupts off).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits up to the deadline for @pid; SIGKILLs it after that. Returns the status or -1. */
static int wait_bounded(pid_t pid, double deadline)
{
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10000);
	}
	return st;
}

/* Starts the spin guest, waits for "SPIN", sends @sig; returns the wait status. */
static int stop_with(int sig, char *out, size_t outsz)
{
	int p[2];
	size_t len = 0;
	pid_t pid;
	int st;
	double deadline = now_s() + 30;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	const char *sb[2];

	runner_sandbox_args(sb);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(p[1], 1);
		execl(CVM_BIN, CVM_BIN, "run", sb[0], sb[1], "-m", "32", "-p", "cvm.test=spin",
		      CVM_GUEST, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	out[0] = '\0';
	while (!strstr(out, "SPIN\n") && now_s() < deadline) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 1000) <= 0)
			continue;
		n = read(p[0], out + len, outsz - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		out[len] = '\0';
	}
	if (strstr(out, "SPIN\n"))
		kill(pid, sig);
	/* Bounded wait: SIGKILL after the deadline so the test never hangs. */
	st = wait_bounded(pid, deadline);
	close(p[0]);
	return st;
}

Test(stop, sigterm)
{
	char out[256];
	int st;

	REQUIRE_KVM();
	st = stop_with(SIGTERM, out, sizeof(out));
	cr_assert(strstr(out, "SPIN"), "the guest did not start: %s", out);
	cr_assert(st != -1, "cvm did not stop within 30 s of SIGTERM");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
}

Test(stop, sigint)
{
	char out[256];
	int st;

	REQUIRE_KVM();
	st = stop_with(SIGINT, out, sizeof(out));
	cr_assert(st != -1, "cvm did not stop within 30 s of SIGINT");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
}

/*
 * Nobody reads cvm's output: the guest's vCPU waits for room in the pipe
 * (nothing is dropped). SIGTERM must still stop it.
 */
Test(stop, sigterm_while_output_is_blocked)
{
	int p[2], st;
	pid_t pid;
	char buf[64];
	struct timespec ts = { 2, 0 };

	REQUIRE_KVM();
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	const char *sb[2];

	runner_sandbox_args(sb);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		execl(CVM_BIN, CVM_BIN, "run", sb[0], sb[1], "-m", "32", "-p", "cvm.test=flood",
		      CVM_GUEST, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	nanosleep(&ts, NULL); /* long enough to fill the 64 KiB pipe */
	cr_assert_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	kill(pid, SIGTERM);
	st = wait_bounded(pid, now_s() + 20);
	cr_assert(st != -1, "cvm did not stop within 20 s of SIGTERM with its output blocked");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
	cr_assert_gt(read(p[0], buf, sizeof(buf)), 0, "the guest printed nothing");
	close(p[0]);
}
