// SPDX-License-Identifier: BSD-3-Clause
/*
 * The control socket through the public API only: a VM made with
 * <libcvm/cvm.h> serves cvm_vm_set_control_socket() while cvm_vm_run() runs
 * in another thread, and this program drives it with <libcvm/control.h>.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libcvm/control.h>
#include <libcvm/cvm.h>

#ifndef CVM_GUEST
#error "CVM_GUEST must name the test guest"
#endif

static void need_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("no usable /dev/kvm (%s): KVM tests skipped", strerror(errno));
	close(fd);
}

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cvm-ctlapi-XXXXXX");
	cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

/* Every test removes what it made in @dir; a failed one may leave a file or two. */
static void teardown(void)
{
	char p[128];
	static const char *const names[] = { "vm.sock", "stale.sock", "file", "live.sock" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

TestSuite(control_api, .init = setup, .fini = teardown, .timeout = 120);

static char *path_in_dir(const char *name)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* A VM running the spin guest, COM1 into a pipe, its control socket at @sock. */
struct ctl_vm {
	cvm_vm *vm;
	int out[2];
	pthread_t thread;
	int rc;
	enum cvm_exit_reason reason;
	int running;
};

static void *run_thread(void *arg)
{
	struct ctl_vm *c = arg;

	c->rc = cvm_vm_run(c->vm, &c->reason);
	return NULL;
}

static void ctl_vm_create(struct ctl_vm *c, const char *sock)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cfg.seccomp_policy_dir = CVM_POLICY_SRC;
	cvm_serial_config com1 = CVM_SERIAL_CONFIG_INIT;

	memset(c, 0, sizeof(*c));
	cfg.mem_mib = 32;
	cr_assert_eq(cvm_vm_create(&c->vm, &cfg), 0, "%s", cvm_last_create_error());
	cr_assert_eq(cvm_vm_set_kernel(c->vm, CVM_GUEST, "cvm.test=spin"), 0, "%s",
		     cvm_vm_last_error(c->vm));
	cr_assert_eq(pipe2(c->out, O_CLOEXEC), 0);
	com1.out_fd = c->out[1];
	cr_assert_eq(cvm_vm_set_serial(c->vm, &com1), 0);
	if (sock)
		cr_assert_eq(cvm_vm_set_control_socket(c->vm, sock), 0, "%s",
			     cvm_vm_last_error(c->vm));
}

/* Starts the run thread and waits for the guest's "SPIN". */
static void ctl_vm_start(struct ctl_vm *c)
{
	char buf[256];
	size_t len = 0;
	struct timespec t0, t;

	cr_assert_eq(pthread_create(&c->thread, NULL, run_thread, c), 0);
	c->running = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	buf[0] = '\0';
	while (!strstr(buf, "SPIN\n")) {
		struct pollfd pfd = { .fd = c->out[0], .events = POLLIN };
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		cr_assert_lt(t.tv_sec - t0.tv_sec, 30, "no SPIN from the guest in 30 s: '%s'", buf);
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(c->out[0], buf + len, sizeof(buf) - 1 - len);
		cr_assert_gt(n, 0);
		len += (size_t)n;
		buf[len] = '\0';
	}
}

/* Joins the run thread within 30 s (stopping the VM ourselves after that). */
static int ctl_vm_join(struct ctl_vm *c)
{
	struct timespec deadline;
	int rc;

	if (!c->running)
		return 0;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 30;
	rc = pthread_timedjoin_np(c->thread, NULL, &deadline);
	if (rc) {
		cvm_vm_stop(c->vm);
		pthread_join(c->thread, NULL);
	}
	c->running = 0;
	return rc;
}

static void ctl_vm_destroy(struct ctl_vm *c)
{
	if (c->running) {
		cvm_vm_stop(c->vm);
		ctl_vm_join(c);
	}
	cvm_vm_destroy(c->vm);
	close(c->out[0]);
	close(c->out[1]);
	c->vm = NULL;
}

static int is_socket(const char *path, mode_t *mode)
{
	struct stat st;

	if (lstat(path, &st))
		return 0;
	if (mode)
		*mode = st.st_mode & 07777;
	return S_ISSOCK(st.st_mode);
}

Test(control_api, lifecycle)
{
	need_kvm();
	char *sock = path_in_dir("vm.sock");
	char json[4096], small[16], reply[512];
	struct ctl_vm c;
	mode_t mode = 0;

	ctl_vm_create(&c, sock);
	cr_assert_str_eq(cvm_vm_control_socket(c.vm), sock);
	cr_assert(is_socket(sock, &mode), "no socket at %s after cvm_vm_set_control_socket()",
		  sock);
	cr_assert_eq(mode, 0600, "mode %03o", (unsigned int)mode);
	cr_assert_eq(cvm_vm_set_control_socket(c.vm, sock), -EBUSY, "a second socket");
	ctl_vm_start(&c);

	cr_assert_eq(cvm_control_status(json, sizeof(json), sock), 0);
	cr_assert(strstr(json, "\"state\":\"running\""), "%s", json);
	cr_assert(strstr(json, "\"memory_mib\":32"), "%s", json);
	cr_assert(strstr(json, "\"vcpus\":1"), "%s", json);
	cr_assert(json[0] == '{' && json[strlen(json) - 1] == '}', "not one object: %s", json);

	cr_assert_eq(cvm_control_suspend(sock), 0);
	cr_assert_eq(cvm_control_suspend(sock), -EALREADY);
	cr_assert_eq(cvm_control_status(json, sizeof(json), sock), 0);
	cr_assert(strstr(json, "\"state\":\"suspended\""), "%s", json);
	cr_assert_eq(cvm_control_resume(sock), 0);
	cr_assert_eq(cvm_control_resume(sock), -EALREADY);
	cr_assert_eq(cvm_control_status(json, sizeof(json), sock), 0);
	cr_assert(strstr(json, "\"state\":\"running\""), "%s", json);

	/* Raw requests: the payload of an OK reply, the name and message of an ERR. */
	cr_assert_eq(cvm_control_request(reply, sizeof(reply), sock, "version"), 0);
	cr_assert(strstr(reply, "\"protocol\":1"), "%s", reply);
	cr_assert(strstr(reply, "\"library\":\"" CVM_VERSION_STRING "\""), "%s", reply);
	cr_assert_eq(cvm_control_request(reply, sizeof(reply), sock, "frobnicate"), -EINVAL);
	cr_assert(!strncmp(reply, "EINVAL ", 7), "error reply '%s'", reply);
	cr_assert_eq(cvm_control_request(NULL, 0, sock, "status"), 0);

	/* Too small a buffer: -ENOSPC, a cut copy, nothing written past it. */
	memset(small, 'Z', sizeof(small));
	cr_assert_eq(cvm_control_status(small, 8, sock), -ENOSPC);
	cr_assert(memchr(small, '\0', 8), "not NUL-terminated within 8 bytes");
	for (size_t i = 8; i < sizeof(small); i++)
		cr_assert_eq(small[i], 'Z', "byte %zu written past the buffer", i);

	cr_assert_eq(cvm_control_stop(sock), 0);
	cr_assert_eq(ctl_vm_join(&c), 0, "cvm_vm_run() still runs 30 s after cvm_control_stop()");
	cr_assert_eq(c.rc, 0, "cvm_vm_run: %s", cvm_vm_last_error(c.vm));
	cr_assert_eq(c.reason, CVM_EXIT_STOPPED, "reason %s", cvm_exit_reason_name(c.reason));
	cr_assert(!is_socket(sock, NULL), "the socket is still there after the run");
	cr_assert_eq(cvm_control_status(json, sizeof(json), sock), -ENOENT);
	ctl_vm_destroy(&c);
	free(sock);
}

/* A socket file nobody listens on: the client says so; a new VM replaces it. */
Test(control_api, stale_and_missing)
{
	need_kvm();
	char *sock = path_in_dir("stale.sock");
	char *file = path_in_dir("file");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_vm c;
	int fd;

	cr_assert_eq(cvm_control_stop(sock), -ENOENT);
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	cr_assert_eq(cvm_control_suspend(sock), -ECONNREFUSED);

	ctl_vm_create(&c, sock);
	cr_assert(is_socket(sock, NULL));
	ctl_vm_start(&c);
	cr_assert_eq(cvm_control_suspend(sock), 0);
	cr_assert_eq(cvm_control_stop(sock), 0, "stop while suspended");
	cr_assert_eq(ctl_vm_join(&c), 0);
	cr_assert_eq(c.reason, CVM_EXIT_STOPPED);
	ctl_vm_destroy(&c);

	/* A path that is not a socket: refused, left alone. */
	cr_assert_eq(close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), 0);
	ctl_vm_create(&c, NULL);
	cr_assert_eq(cvm_vm_set_control_socket(c.vm, file), -EEXIST);
	cr_assert(strstr(cvm_vm_last_error(c.vm), file), "'%s'", cvm_vm_last_error(c.vm));
	cr_assert_null(cvm_vm_control_socket(c.vm));
	ctl_vm_destroy(&c);
	cr_assert_eq(access(file, F_OK), 0, "%s was removed", file);
	unlink(file);
	free(sock);
	free(file);
}

/* A live VM's socket is not taken; a directory gets cvm.<pid>.sock; destroy removes it. */
Test(control_api, live_and_directory)
{
	need_kvm();
	char *sock = path_in_dir("live.sock");
	char json[4096], want[128];
	struct ctl_vm a, b;

	ctl_vm_create(&a, sock);
	ctl_vm_start(&a);
	ctl_vm_create(&b, NULL);
	cr_assert_eq(cvm_vm_set_control_socket(b.vm, sock), -EADDRINUSE);
	cr_assert_eq(cvm_control_status(json, sizeof(json), sock), 0, "A no longer answers");

	cr_assert_eq(cvm_vm_set_control_socket(b.vm, dir), 0, "%s", cvm_vm_last_error(b.vm));
	snprintf(want, sizeof(want), "%s/cvm.%d.sock", dir, (int)getpid());
	cr_assert_str_eq(cvm_vm_control_socket(b.vm), want);
	cr_assert(is_socket(want, NULL));
	ctl_vm_destroy(&b); /* never ran: destroy removes its socket */
	cr_assert(!is_socket(want, NULL), "%s is still there after cvm_vm_destroy()", want);

	cr_assert_eq(cvm_control_stop(sock), 0);
	cr_assert_eq(ctl_vm_join(&a), 0);
	ctl_vm_destroy(&a);
	cr_assert(!is_socket(sock, NULL));
	free(sock);
}
