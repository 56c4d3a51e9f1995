// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio-wayland integration tests' shared part (wllib.h): weston on a
 * private XDG_RUNTIME_DIR, a host client's registry roundtrip to check it
 * still serves, guest runs against it, the fake compositors' socket.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cvmproc.h"
#include "wllib.h"

#define WESTON_WAIT_S 10.0
#define WESTON_STOP_S 5.0

char *wdir;
char *wsock;
char *wlog;
pid_t weston = -1;
int weston_status;
bool weston_reaped;

/* The weston binary on $PATH (malloc'ed), or NULL. */
static char *find_weston(void)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *res = NULL;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = strdup(path);
	cr_assert(copy);
	for (char *d = strtok_r(copy, ":", &save); d && !res; d = strtok_r(NULL, ":", &save)) {
		char *p;

		cr_assert(asprintf(&p, "%s/weston", *d ? d : ".") > 0);
		if (access(p, X_OK) == 0)
			res = p;
		else
			free(p);
	}
	free(copy);
	return res;
}

/* The end of weston's log (a static buffer, for failure messages). */
const char *weston_log(void)
{
	static char tail[6001];
	size_t len = 0;
	char *s = wlog ? read_file(wlog, &len) : NULL;

	if (!s)
		return "(no log)";
	snprintf(tail, sizeof(tail), "%s", len > 6000 ? s + len - 6000 : s);
	free(s);
	return tail;
}

bool weston_alive(void)
{
	if (weston < 0 || weston_reaped)
		return false;
	if (waitpid(weston, &weston_status, WNOHANG) == weston) {
		weston_reaped = true;
		return false;
	}
	return true;
}

/* Can a client connect to @path? */
static bool sock_connects(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

void weston_start_shell(const char *name, bool desktop)
{
	char *bin = find_weston();
	struct stat st;
	double t0;

	if (!bin)
		cr_skip_test("!!! weston is not installed: the virtio-wayland tests need a "
			     "compositor (scripts/deps installs Debian's weston) !!!");
	wdir = make_temp_dir();
	cr_assert(wdir, "cannot create a temporary directory: %s", strerror(errno));
	cr_assert_eq(stat(wdir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "runtime dir mode %o", st.st_mode & 0777);
	cr_assert(asprintf(&wsock, "%s/%s", wdir, name) > 0);
	cr_assert(asprintf(&wlog, "%s.weston.log", wdir) > 0);
	weston_reaped = false;
	weston = fork();
	cr_assert_geq(weston, 0, "fork: %s", strerror(errno));
	if (weston == 0) {
		char sockarg[128];
		int fd = open(wlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		setpgid(0, 0);
		snprintf(sockarg, sizeof(sockarg), "--socket=%s", name);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(126);
		setenv("XDG_RUNTIME_DIR", wdir, 1);
		unsetenv("WAYLAND_DISPLAY");
		unsetenv("WAYLAND_SOCKET");
		unsetenv("DISPLAY");
		if (desktop) /* repaints, fullscreen toplevels, screenshots (wl_shot) */
			execl(bin, "weston", "--backend=headless-backend.so", "--use-pixman",
			      "--width=320", "--height=240", "--debug", sockarg, "--idle-time=0",
			      "--no-config", "--shell=desktop-shell.so", (char *)NULL);
		else
			execl(bin, "weston", "--backend=headless-backend.so", sockarg,
			      "--idle-time=0", "--no-config", "--shell=kiosk-shell.so",
			      (char *)NULL);
		dprintf(2, "cannot execute %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	setpgid(weston, weston);
	free(bin);
	t0 = fproc_now();
	while (!sock_connects(wsock)) {
		if (!weston_alive()) {
			const char *log = weston_log();

			cr_assert_fail(
				"weston exited (status 0x%x) before %s accepted clients:\n%s",
				weston_status, wsock, log);
		}
		if (fproc_now() - t0 > WESTON_WAIT_S) {
			const char *log = weston_log();

			cr_assert_fail(
				"weston's socket %s did not accept clients within %.0f s:\n%s",
				wsock, WESTON_WAIT_S, log);
		}
		usleep(50000);
	}
	cr_log_info("weston pid %d up on %s after %.2f s", (int)weston, wsock, fproc_now() - t0);
}

void weston_start(const char *name)
{
	weston_start_shell(name, false);
}

void weston_stop(void)
{
	fproc_cleanup();
	if (weston > 0) {
		double t0 = fproc_now();

		kill(-weston, SIGTERM);
		while (weston_alive() && fproc_now() - t0 < WESTON_STOP_S)
			usleep(20000);
		if (weston_alive()) {
			kill(-weston, SIGKILL);
			waitpid(weston, &weston_status, 0);
		}
		/* Whatever else of its group is left (helpers it spawned). */
		kill(-weston, SIGKILL);
	}
	weston = -1;
	rm_rf(wdir);
	if (wlog)
		unlink(wlog);
	free(wdir);
	free(wsock);
	free(wlog);
	wdir = wsock = wlog = NULL;
}

/*
 * A host client's registry roundtrip on @path: connect, get_registry(2),
 * sync(3), read until wl_callback(3).done. Returns the number of globals,
 * or -1 with @why filled.
 */
static int host_roundtrip(const char *path, bool *has_shm, char *why, size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const uint32_t req[] = { 1, 12u << 16 | 1, 2, 1, 12u << 16 | 0, 3 };
	static uint8_t buf[65536];
	size_t len = 0;
	int fd, globals = 0;
	double t0 = fproc_now();

	*has_shm = false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(why, whylen, "connect %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req)) {
		snprintf(why, whylen, "write: %s", strerror(errno));
		close(fd);
		return -1;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		size_t off = 0;
		ssize_t n;

		if (fproc_now() - t0 > 10 || poll(&p, 1, 1000) < 0) {
			snprintf(why, whylen, "no wl_callback.done within 10 s");
			break;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0) {
			snprintf(why, whylen, "the compositor closed the connection (%s)",
				 n ? strerror(errno) : "EOF");
			break;
		}
		len += (size_t)n;
		while (len - off >= 8) {
			uint32_t h[2], size;

			memcpy(h, buf + off, 8);
			size = h[1] >> 16;
			if (size < 8 || len - off < size)
				break;
			if (h[0] == 2 && (h[1] & 0xffff) == 0 && size >= 16) {
				uint32_t slen;

				memcpy(&slen, buf + off + 12, 4);
				globals++;
				if (slen == 7 && size >= 16 + 7 &&
				    !memcmp(buf + off + 16, "wl_shm", 7))
					*has_shm = true;
			}
			if (h[0] == 3 && (h[1] & 0xffff) == 0) {
				close(fd);
				return globals;
			}
			if (h[0] == 1 && (h[1] & 0xffff) == 0) {
				snprintf(why, whylen, "wl_display.error");
				close(fd);
				return -1;
			}
			off += size;
		}
		memmove(buf, buf + off, len - off);
		len -= off;
		if (len == sizeof(buf)) {
			snprintf(why, whylen, "a 64 KiB event");
			break;
		}
	}
	close(fd);
	return -1;
}

/* Weston still runs and still serves a client that is not the guest. */
void assert_weston_fine(const struct runner_result *r)
{
	char why[160] = "";
	bool shm;
	int n;

	if (!weston_alive()) {
		const char *log = weston_log();

		cr_assert_fail(
			"weston died (status 0x%x) during the guest run\n%s\n----- weston -----\n"
			"%s",
			weston_status, r ? r->out : "", log);
	}
	n = host_roundtrip(wsock, &shm, why, sizeof(why));
	cr_assert(n > 0 && shm, "weston no longer serves a host client: %s (%d globals, wl_shm %s)",
		  why, n, shm ? "yes" : "no");
}

void run_wl(struct runner_result *r, const char *test, const char *const *extra)
{
	struct runner_opts o = { .timeout_s = WL_TIMEOUT };

	runner_guest(r, &o, test, extra);
	cr_assert_run(r, !r->timed_out, "cvm run did not end within %d s", WL_TIMEOUT);
}

/* The guest printed "WL global <name> <iface> <version>" for @iface. */
bool has_global(const char *out, const char *iface)
{
	char pat[64];

	snprintf(pat, sizeof(pat), " %s ", iface);
	for (const char *l = strstr(out, "WL global "); l; l = strstr(l + 1, "WL global ")) {
		const char *end = strchr(l, '\n');
		const char *hit = strstr(l, pat);

		if (hit && (!end || hit < end))
			return true;
	}
	return false;
}

/* Runs guest test @test against a fresh weston through --wayland-sock. */
void wl_guest_test_shell(const char *test, struct runner_result *r, bool desktop)
{
	const char *extra[3] = { "--wayland-sock", NULL, NULL };

	REQUIRE_KVM();
	weston_start_shell("wayland-cvm", desktop);
	extra[1] = wsock;
	/* Only the explicit socket: nothing from the environment. */
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("WAYLAND_DISPLAY");
	run_wl(r, test, extra);
	runner_assert_passed(r, test);
	assert_weston_fine(r);
}

void wl_guest_test(const char *test, struct runner_result *r)
{
	wl_guest_test_shell(test, r, false);
}

int fake_wait(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms);
}

/* Reads @fd until EOF (or @stop seen), at most @size - 1 bytes, for up to 60 s. */
void fake_read(int fd, char *buf, size_t size, const char *stop)
{
	size_t len = 0;
	double t0 = fproc_now();

	while (len + 1 < size && fproc_now() - t0 < 60) {
		ssize_t n;

		if (fake_wait(fd, 200) <= 0)
			continue;
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (stop && strstr(buf, stop))
			break;
	}
	buf[len] = '\0';
}

int fake_listen(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	wdir = make_temp_dir();
	cr_assert(wdir);
	cr_assert(asprintf(&wsock, "%s/%s", wdir, name) > 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", wsock);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", wsock,
		     strerror(errno));
	cr_assert_eq(listen(fd, 4), 0);
	return fd;
}
