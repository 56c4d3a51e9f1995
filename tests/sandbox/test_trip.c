// SPDX-License-Identifier: BSD-3-Clause
/*
 * A device that breaks its seccomp policy (issue 5): the test guest's
 * sandbox_trip (tests/guest/t_sandbox.c) writes a pattern to vda and
 * flushes it, then has the test-only virtio-trip device (trip_dev.c) call
 * socket(2), which rng_device.policy does not allow. The VM must stop with
 * an error naming the device, the system call and seccomp, leave no process
 * behind, and the disk must hold what the guest wrote.
 *
 * The same guest run with a command the policy allows (the device works
 * sandboxed), and with the sandbox off (the socket(2) simply succeeds).
 * Every run has a watchdog that stops the VM after WATCHDOG_S seconds.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libcvm/cvm.h>

#include "trip_dev.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif
#ifndef CVM_POLICY_SRC
#error "CVM_POLICY_SRC (the source tree's policy directory) must be defined"
#endif

#define WATCHDOG_S 30
#define DISK_SIZE (1024 * 1024)
#define TRIP_LEN (64 * 1024) /* what the guest writes at sector 0 */
#define TRIP_SEED 0x5eed5eedu

/* A failed assertion leaves the test early without freeing: no leak reports for that. */
const char *__asan_default_options(void);

const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

/* Byte @k of the guest's trip_pattern(). */
static uint8_t trip_pattern(uint32_t k)
{
	uint32_t w = (k / 4) * 0x9e3779b1u + TRIP_SEED;

	w ^= w >> 15;
	return (uint8_t)(w >> (8 * (k % 4)));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char tmpdir[] = "/tmp/cvm-trip-XXXXXX";
static char disk[64], serial[64];

static void setup(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("no usable /dev/kvm: %s", strerror(errno));
	close(fd);
	cr_assert(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	snprintf(disk, sizeof(disk), "%s/disk.img", tmpdir);
	snprintf(serial, sizeof(serial), "%s/com1.txt", tmpdir);
}

static void teardown(void)
{
	if (strcmp(tmpdir + strlen(tmpdir) - 6, "XXXXXX")) {
		unlink(disk);
		unlink(serial);
		rmdir(tmpdir);
	}
}

TestSuite(trip, .init = setup, .fini = teardown, .timeout = WATCHDOG_S + 60);

struct watchdog {
	cvm_vm *vm;
	int efd; /* written when the run is over */
	bool fired;
	pthread_t th;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	struct pollfd pfd = { .fd = w->efd, .events = POLLIN };

	if (poll(&pfd, 1, WATCHDOG_S * 1000) == 0) {
		w->fired = true;
		cvm_vm_stop(w->vm);
	}
	return NULL;
}

struct run {
	int rc;
	enum cvm_exit_reason reason;
	char error[1024]; /* cvm_vm_last_error() */
	char *out;	  /* COM1 */
	double secs;
	bool watchdog_fired;
};

/* Runs sandbox_trip with @params (after cvm.test=...), a 1 MiB zeroed vda and virtio-trip. */
static void trip_run(struct run *r, bool sandbox, const char *params)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cvm_serial_config com1 = CVM_SERIAL_CONFIG_INIT;
	struct watchdog w = { .efd = -1 };
	char cmdline[256];
	uint64_t one = 1;
	double t0;
	int fd, out;

	memset(r, 0, sizeof(*r));
	fd = open(disk, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", disk, strerror(errno));
	cr_assert_eq(ftruncate(fd, DISK_SIZE), 0, "ftruncate: %s", strerror(errno));
	close(fd);
	out = open(serial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(out, 0, "%s: %s", serial, strerror(errno));

	cfg.mem_mib = 64;
	cfg.log_level = CVM_LOG_WARN;
	cfg.disable_sandbox = !sandbox;
	cfg.seccomp_policy_dir = CVM_POLICY_SRC;
	cr_assert_eq(cvm_vm_create(&w.vm, &cfg), 0, "cvm_vm_create: %s", cvm_last_create_error());
	snprintf(cmdline, sizeof(cmdline), "cvm.test=sandbox_trip %s", params);
	cr_assert_eq(cvm_vm_set_kernel(w.vm, CVM_GUEST, cmdline), 0, "%s", cvm_vm_last_error(w.vm));
	com1.out_fd = out;
	cr_assert_eq(cvm_vm_set_serial(w.vm, &com1), 0, "%s", cvm_vm_last_error(w.vm));
	cr_assert_eq(cvm_vm_add_virtio_blk(w.vm, disk, 0), 0, "%s", cvm_vm_last_error(w.vm));
	cr_assert_eq(trip_dev_add(w.vm), 0, "%s", cvm_vm_last_error(w.vm));

	w.efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(w.efd, 0, "eventfd: %s", strerror(errno));
	cr_assert_eq(pthread_create(&w.th, NULL, watchdog_main, &w), 0);
	t0 = now_s();
	r->rc = cvm_vm_run(w.vm, &r->reason);
	r->secs = now_s() - t0;
	if (write(w.efd, &one, sizeof(one)) != sizeof(one))
		cr_log_warn("cannot wake the watchdog: %s", strerror(errno));
	pthread_join(w.th, NULL);
	r->watchdog_fired = w.fired;
	snprintf(r->error, sizeof(r->error), "%s", cvm_vm_last_error(w.vm));
	cvm_vm_destroy(w.vm);
	close(w.efd);
	close(out);

	fd = open(serial, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	r->out = calloc(1, 65536);
	cr_assert(r->out);
	for (size_t len = 0; len < 65535;) {
		ssize_t n = read(fd, r->out + len, 65535 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	cr_log_info("sandbox_trip %s (%s): rc %d, %s after %.2f s; %s", params,
		    sandbox ? "sandboxed" : "threads", r->rc, cvm_exit_reason_name(r->reason),
		    r->secs, r->error);
}

#define RUN_FMT "\nrc %d, exit %s after %.2f s%s; error: %s\n----- COM1 -----\n%s"
#define RUN_ARGS(r)                                            \
	(r)->rc, cvm_exit_reason_name((r)->reason), (r)->secs, \
		(r)->watchdog_fired ? " (stopped by the watchdog)" : "", (r)->error, (r)->out
#define cr_assert_run(r, cond, fmt, ...) cr_assert((cond), fmt RUN_FMT, ##__VA_ARGS__, RUN_ARGS(r))

/* The disk holds the guest's pattern in its first TRIP_LEN bytes and zeros after. */
static void assert_disk_intact(void)
{
	uint8_t *buf = malloc(DISK_SIZE);
	ssize_t n;
	int fd = open(disk, O_RDONLY | O_CLOEXEC);

	cr_assert(buf);
	cr_assert_geq(fd, 0, "%s: %s", disk, strerror(errno));
	n = pread(fd, buf, DISK_SIZE, 0);
	close(fd);
	cr_assert_eq(n, DISK_SIZE, "the disk image is %zd bytes, want %d", n, DISK_SIZE);
	for (uint32_t k = 0; k < DISK_SIZE; k++) {
		uint8_t want = k < TRIP_LEN ? trip_pattern(k) : 0;

		cr_assert_eq(buf[k], want, "disk byte %u is 0x%02x, want 0x%02x", k, buf[k], want);
	}
	free(buf);
}

/* Every device process was reaped: this process has no child at all, not even a zombie. */
static void assert_no_child_left(void)
{
	pid_t p;

	errno = 0;
	p = waitpid(-1, NULL, WNOHANG);
	cr_assert(p == -1 && errno == ECHILD, "waitpid(-1): %d (%s): a child was left behind",
		  (int)p, strerror(errno));
}

Test(trip, forbidden_syscall_stops_the_vm)
{
	struct run r;

	trip_run(&r, true, "cvm.trip_cmd=1");
	cr_assert_run(&r, !r.watchdog_fired, "the VM did not stop by itself");
	cr_assert_run(&r, strstr(r.out, "WROTE 65536\n"), "the guest did not write its pattern");
	cr_assert_run(&r, strstr(r.out, "TRIP command 1\n"), "the guest did not send command 1");
	cr_assert_run(&r, !strstr(r.out, "TRIP answer"), "the device answered command 1");
	cr_assert_run(&r, !strstr(r.out, "PASS ") && !strstr(r.out, "FAIL "),
		      "the guest finished its test: the VM was not stopped");
	cr_assert_run(&r, r.rc < 0, "cvm_vm_run() did not fail");
	cr_assert_run(&r, r.reason == CVM_EXIT_ERROR, "exit reason is not 'error'");
	cr_assert_run(&r, strstr(r.error, TRIP_NAME ": "), "the error does not name the device");
	cr_assert_run(&r, strstr(r.error, "seccomp"), "the error does not say seccomp");
	cr_assert_run(&r, strstr(r.error, "(socket)"), "the error does not name the syscall");
	cr_assert_run(&r, strstr(r.error, "rng_device.policy"),
		      "the error does not name the policy");
	assert_no_child_left();
	assert_disk_intact();
	free(r.out);
}

/*
 * The guest resets right after its command: the device's death must still
 * end the run as an error, not as the guest's reset (a success).
 */
Test(trip, forbidden_syscall_then_reset)
{
	struct run r;

	trip_run(&r, true, "cvm.trip_cmd=1 cvm.trip_expect=reset");
	cr_assert_run(&r, strstr(r.out, "TRIP command 1\n"), "the guest did not send its command");
	cr_assert_run(&r, r.rc < 0, "cvm_vm_run() did not fail");
	cr_assert_run(&r, r.reason == CVM_EXIT_ERROR, "exit reason is not 'error'");
	cr_assert_run(&r, strstr(r.error, "(socket)"), "the error does not name the syscall");
	assert_no_child_left();
	assert_disk_intact();
	free(r.out);
}

/* The same device, sandboxed, with a command its policy allows: the guest passes. */
Test(trip, allowed_command_works_sandboxed)
{
	struct run r;

	trip_run(&r, true, "cvm.trip_cmd=2 cvm.trip_expect=answer");
	cr_assert_run(&r, !r.watchdog_fired, "the VM did not stop by itself");
	cr_assert_run(&r, r.rc == 0 && r.reason == CVM_EXIT_RESET, "the guest did not reset");
	cr_assert_run(&r, !strstr(r.out, "FAIL "), "the guest failed");
	cr_assert_run(&r, strstr(r.out, "TRIP answer 0 "), "no answer 0 to command 2");
	cr_assert_run(&r, strstr(r.out, "PASS sandbox_trip\n"), "no PASS line");
	assert_no_child_left();
	assert_disk_intact();
	free(r.out);
}

/* Without the sandbox the forbidden call just works: the difference the sandbox makes. */
Test(trip, forbidden_syscall_succeeds_without_sandbox)
{
	struct run r;

	trip_run(&r, false, "cvm.trip_cmd=1 cvm.trip_expect=answer");
	cr_assert_run(&r, !r.watchdog_fired, "the VM did not stop by itself");
	cr_assert_run(&r, r.rc == 0 && r.reason == CVM_EXIT_RESET, "the guest did not reset");
	cr_assert_run(&r, !strstr(r.out, "FAIL "), "the guest failed");
	cr_assert_run(&r, strstr(r.out, "TRIP answer 0 "), "socket(2) did not succeed (result 0)");
	cr_assert_run(&r, strstr(r.out, "PASS sandbox_trip\n"), "no PASS line");
	assert_no_child_left();
	assert_disk_intact();
	free(r.out);
}
