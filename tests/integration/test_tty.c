// SPDX-License-Identifier: BSD-3-Clause
/*
 * cvm on a terminal: COM1 input puts the terminal in raw mode while the VM
 * runs, and every way out of `cvm run` (guest reset, SIGTERM, an error)
 * gives the terminal back as it was.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

struct tty_run {
	int master, slave;
	pid_t pid;
	char out[4096];
	size_t len;
};

/* Starts cvm with stdin/stdout/stderr on a new pty's slave side. */
static void tty_start(struct tty_run *t, const char *test)
{
	char param[64];
	struct termios tio;

	memset(t, 0, sizeof(*t));
	cr_assert_eq(openpty(&t->master, &t->slave, NULL, NULL, NULL), 0);
	cr_assert_eq(tcgetattr(t->slave, &tio), 0);
	cr_assert(tio.c_lflag & ICANON, "a new pty starts in canonical mode");
	snprintf(param, sizeof(param), "cvm.test=%s", test);
	const char *sb[2];

	runner_sandbox_args(sb);
	t->pid = fork();
	cr_assert_geq(t->pid, 0);
	if (t->pid == 0) {
		setsid();
		dup2(t->slave, 0);
		dup2(t->slave, 1);
		dup2(t->slave, 2);
		close(t->master);
		execl(CVM_BIN, CVM_BIN, "run", sb[0], sb[1], "-m", "32", "-p", param, CVM_GUEST,
		      (char *)NULL);
		_exit(127);
	}
}

/* Reads what the master side has within @ms; false at EOF or when nothing came. */
static bool tty_read(struct tty_run *t, int ms)
{
	struct pollfd p = { .fd = t->master, .events = POLLIN };
	ssize_t n;

	if (t->len + 1 >= sizeof(t->out) || poll(&p, 1, ms) <= 0)
		return false;
	n = read(t->master, t->out + t->len, sizeof(t->out) - 1 - t->len);
	if (n <= 0)
		return false;
	t->len += (size_t)n;
	t->out[t->len] = '\0';
	return true;
}

/* Reads the master side until @want appears or @secs pass. */
static bool tty_wait_for(struct tty_run *t, const char *want, int secs)
{
	for (int i = 0; i < secs * 10 && !strstr(t->out, want); i++)
		tty_read(t, 100);
	return strstr(t->out, want) != NULL;
}

static int tty_finish(struct tty_run *t)
{
	int st = -1;

	for (int i = 0; i < 2000; i++) {
		tty_read(t, 10); /* keep the pty drained */
		if (waitpid(t->pid, &st, WNOHANG) == t->pid) {
			while (tty_read(t, 0))
				;
			return st;
		}
	}
	kill(t->pid, SIGKILL);
	waitpid(t->pid, &st, 0);
	return -1;
}

static bool canonical(int fd)
{
	struct termios tio;

	cr_assert_eq(tcgetattr(fd, &tio), 0);
	return (tio.c_lflag & ICANON) && (tio.c_lflag & ECHO);
}

Test(tty, raw_while_running_restored_on_sigterm)
{
	struct tty_run t;
	int st;

	REQUIRE_KVM();
	tty_start(&t, "spin");
	cr_assert(tty_wait_for(&t, "SPIN", 20), "guest did not start: %s", t.out);
	cr_assert_not(canonical(t.slave), "the terminal is not in raw mode while the VM runs");
	kill(t.pid, SIGTERM);
	st = tty_finish(&t);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x: %s", st, t.out);
	cr_assert(canonical(t.slave), "the terminal was not restored after SIGTERM");
	close(t.master);
	close(t.slave);
}

Test(tty, restored_after_guest_reset)
{
	struct tty_run t;
	int st;

	REQUIRE_KVM();
	tty_start(&t, "reset");
	st = tty_finish(&t);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x: %s", st, t.out);
	cr_assert(strstr(t.out, "PASS reset"), "%s", t.out);
	cr_assert(canonical(t.slave), "the terminal was not restored after the reset");
	close(t.master);
	close(t.slave);
}

Test(tty, restored_after_vm_error)
{
	struct tty_run t;
	int st;

	REQUIRE_KVM();
	tty_start(&t, "int3");
	st = tty_finish(&t);
	cr_assert(st != -1 && WIFEXITED(st), "status 0x%x: %s", st, t.out);
	cr_assert(canonical(t.slave), "the terminal was not restored after %s", t.out);
	close(t.master);
	close(t.slave);
}

Test(tty, input_reaches_the_guest)
{
	struct tty_run t;
	int st;

	REQUIRE_KVM();
	tty_start(&t, "serial_in");
	cr_assert(tty_wait_for(&t, "READY", 20), "%s", t.out);
	/* Raw mode: the line is passed through as typed, '\r' included, no echo by the host. */
	cr_assert_eq(write(t.master, "typed\n", 6), 6);
	st = tty_finish(&t);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x: %s", st, t.out);
	cr_assert(strstr(t.out, "GOT typed"), "%s", t.out);
	cr_assert(canonical(t.slave));
	close(t.master);
	close(t.slave);
}
