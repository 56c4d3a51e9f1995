// SPDX-License-Identifier: BSD-3-Clause
/*
 * The public device API (<libcvm/device.h>) where it must say no, through
 * the shared library as a host program uses it:
 *
 *  - cvm_vm_add_io_device() and cvm_vm_add_virtio_device() refuse every bad
 *    option with the documented errno and a cvm_vm_last_error() that names
 *    the problem, and a refused device leaves nothing behind;
 *  - the helpers (cvm_virtq_*, cvm_virtio_*_config, cvm_device_*) refuse
 *    NULL, foreign and out-of-range arguments: called from the callbacks of
 *    devices that the test guest drives (custom_pio: port 0x501;
 *    custom_virtio: the echo device, virtio id 60; tests/guest/t_custom.c).
 *    Those devices run with CVM_DEVICE_IN_VMM, so their callbacks run in this
 *    process and record what the helpers returned for the test to check
 *    after cvm_vm_run();
 *  - a virtio device that fails its queue (queue_notify returns -EIO) is
 *    marked DEVICE_NEEDS_RESET and the VM runs on; a push that claims more
 *    bytes than the chain holds is refused with a log line;
 *  - a sandboxed device whose callback makes a system call its policy does
 *    not allow ends the run with CVM_EXIT_ERROR and an error that names the
 *    device, the system call and common_device.policy.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libcvm/cvm.h>
#include <libcvm/device.h>

#ifndef CVM_GUEST
#error "CVM_GUEST must name the test guest"
#endif
#ifndef CVM_POLICY_SRC
#error "CVM_POLICY_SRC must name the source tree's policy directory"
#endif

#define MEM_MIB 64
#define RAM_END ((uint64_t)MEM_MIB << 20)
#define PCI_HOLE 0xc0000000ULL
#define EXIT_PORT 0x501 /* custom_pio's debug-exit device */
#define EXIT_ID 0x4356
#define ECHO_ID 60 /* custom_virtio's echo device */
#define ECHO_MAX 4096
#define RUN_TIMEOUT_S 60

static void need_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("no usable /dev/kvm (%s): KVM tests skipped", strerror(errno));
	close(fd);
}

/* --- log lines, from any thread --------------------------------------------------------------- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char text[65536];
	size_t len;
} logs = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, "", 0 };

static void log_to_buf(void *opaque, enum cvm_log_level level, const char *msg)
{
	size_t room;
	int n;

	(void)opaque;
	pthread_mutex_lock(&logs.lock);
	room = sizeof(logs.text) - logs.len;
	n = snprintf(logs.text + logs.len, room, "[%d] %s\n", (int)level, msg);
	if (n > 0)
		logs.len += (size_t)n < room ? (size_t)n : room - 1;
	pthread_cond_broadcast(&logs.cond);
	pthread_mutex_unlock(&logs.lock);
}

static bool log_has(const char *s)
{
	bool found;

	pthread_mutex_lock(&logs.lock);
	found = strstr(logs.text, s) != NULL;
	pthread_mutex_unlock(&logs.lock);
	return found;
}

/* Wait up to @secs for a log line containing @s. */
static bool log_wait(const char *s, int secs)
{
	struct timespec ts;
	bool found;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	pthread_mutex_lock(&logs.lock);
	while (!(found = strstr(logs.text, s) != NULL))
		if (pthread_cond_timedwait(&logs.cond, &logs.lock, &ts))
			break;
	pthread_mutex_unlock(&logs.lock);
	return found;
}

/* --- VMs and runs ------------------------------------------------------------------------------- */

static cvm_vm *new_vm(bool sandbox)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cvm_vm *vm = NULL;

	cfg.mem_mib = MEM_MIB;
	cfg.seccomp_policy_dir = CVM_POLICY_SRC;
	cfg.disable_sandbox = !sandbox;
	cfg.log_fn = log_to_buf;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), 0, "cvm_vm_create: %s", cvm_last_create_error());
	return vm;
}

static bool has(const char *text, const char *s)
{
	return strstr(text, s) != NULL;
}

/* cvm_vm_last_error(@vm) contains @s. */
#define assert_err(vm, s)                                                                     \
	cr_assert(has(cvm_vm_last_error(vm), (s)), "last error \"%s\" should mention \"%s\"", \
		  cvm_vm_last_error(vm), (s))

struct run {
	cvm_vm *vm;
	int out[2];
	char output[16384];
	size_t len;
	int rc;
	enum cvm_exit_reason reason;
	pthread_t th;
	bool done; /* cvm_vm_run() returned (under logs.lock) */
	bool watchdog;
};

static void *run_main(void *arg)
{
	struct run *r = arg;

	r->rc = cvm_vm_run(r->vm, &r->reason);
	pthread_mutex_lock(&logs.lock);
	r->done = true;
	pthread_mutex_unlock(&logs.lock);
	return NULL;
}

/* Start @r->vm on the test guest with @cmdline, COM1 into a pipe. */
static void run_start(struct run *r, const char *cmdline)
{
	cvm_serial_config com1 = CVM_SERIAL_CONFIG_INIT;

	cr_assert_eq(cvm_vm_set_kernel(r->vm, CVM_GUEST, cmdline), 0, "%s",
		     cvm_vm_last_error(r->vm));
	cr_assert_eq(pipe2(r->out, O_CLOEXEC), 0);
	fcntl(r->out[0], F_SETFL, O_NONBLOCK);
	com1.out_fd = r->out[1];
	cr_assert_eq(cvm_vm_set_serial(r->vm, &com1), 0, "%s", cvm_vm_last_error(r->vm));
	cr_assert_eq(pthread_create(&r->th, NULL, run_main, r), 0);
}

static bool run_done(struct run *r)
{
	bool done;

	pthread_mutex_lock(&logs.lock);
	done = r->done;
	pthread_mutex_unlock(&logs.lock);
	return done;
}

/* Wait for the run to end (stopping it after RUN_TIMEOUT_S), then read COM1. */
static void run_wait(struct run *r)
{
	struct timespec ts;
	ssize_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += RUN_TIMEOUT_S;
	if (pthread_timedjoin_np(r->th, NULL, &ts)) {
		r->watchdog = true;
		cvm_vm_stop(r->vm);
		pthread_join(r->th, NULL);
	}
	while (r->len < sizeof(r->output) - 1 &&
	       (n = read(r->out[0], r->output + r->len, sizeof(r->output) - 1 - r->len)) > 0)
		r->len += (size_t)n;
	r->output[r->len] = '\0';
}

static void run_free(struct run *r)
{
	cvm_vm_destroy(r->vm);
	close(r->out[0]);
	close(r->out[1]);
}

/* --- what the callbacks found --------------------------------------------------------------- */

/*
 * CHECK(call, want): the callbacks record what a helper returned; the test
 * compares after the run (an assertion cannot fail on a vCPU thread).
 */
struct check {
	const char *what;
	long long got, want;
};

static struct check checks[96];
static unsigned int nr_checks;

static void record(const char *what, long long got, long long want)
{
	if (nr_checks < sizeof(checks) / sizeof(checks[0]))
		checks[nr_checks++] = (struct check){ what, got, want };
}

#define CHECK(call, want) record(#call, (long long)(call), (long long)(want))

static void assert_checks(unsigned int at_least)
{
	cr_assert_geq(nr_checks, at_least, "the callbacks ran %u checks, want %u", nr_checks,
		      at_least);
	for (unsigned int i = 0; i < nr_checks; i++)
		cr_expect_eq(checks[i].got, checks[i].want, "%s returned %lld, want %lld",
			     checks[i].what, checks[i].got, checks[i].want);
}

static bool all_are(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* --- a port-I/O device: custom_pio's debug-exit at 0x501 ------------------------------------- */

struct pio_state {
	bool probe; /* run the helper checks on the first read */
	bool probed;
	bool trip; /* sandboxed: socket(2) on the write */
	unsigned int reads, writes;
	uint64_t max_end; /* the largest offset + size a callback saw */
};

static void pio_probe(cvm_device *dev)
{
	uint8_t buf[16], keep[8];
	static uint64_t fake[16];

	/* Guest RAM ends at RAM_END; nothing outside it, nothing copied on failure. */
	memset(buf, 0xa5, sizeof(buf));
	CHECK(cvm_device_read_guest(dev, RAM_END - 4, buf, 8), -EFAULT);
	CHECK(all_are(buf, sizeof(buf), 0xa5), 1);
	CHECK(cvm_device_read_guest(dev, RAM_END, buf, 1), -EFAULT);
	CHECK(cvm_device_read_guest(dev, PCI_HOLE, buf, 4), -EFAULT);
	CHECK(cvm_device_read_guest(dev, UINT64_MAX - 3, buf, 8), -EFAULT);
	CHECK(cvm_device_read_guest(dev, 0x1000, buf, SIZE_MAX), -EFAULT);
	CHECK(all_are(buf, sizeof(buf), 0xa5), 1);
	CHECK(cvm_device_read_guest(dev, 0x1000, NULL, 4), -EINVAL);
	CHECK(cvm_device_read_guest(dev, RAM_END - sizeof(keep), keep, sizeof(keep)), 0);
	CHECK(cvm_device_write_guest(dev, RAM_END - 4, buf, 8), -EFAULT);
	CHECK(cvm_device_write_guest(dev, RAM_END, buf, 1), -EFAULT);
	CHECK(cvm_device_write_guest(dev, UINT64_MAX, buf, 1), -EFAULT);
	CHECK(cvm_device_write_guest(dev, 0x1000, NULL, 1), -EINVAL);
	/* The same bytes back: a write inside RAM works. */
	CHECK(cvm_device_write_guest(dev, RAM_END - sizeof(keep), keep, sizeof(keep)), 0);

	/* MSIs only inside 0xfee00000-0xfeefffff. */
	CHECK(cvm_device_signal_msi(dev, 0, 0x30), -EINVAL);
	CHECK(cvm_device_signal_msi(dev, 0xfec00000, 0x30), -EINVAL);
	CHECK(cvm_device_signal_msi(dev, 0xfedffffc, 0x30), -EINVAL);
	CHECK(cvm_device_signal_msi(dev, 0xfef00000, 0x30), -EINVAL);
	CHECK(cvm_device_signal_msi(dev, 0x1fee00000ULL, 0x30), -EINVAL);

	/* Its line is IRQ 6 (the guest runs with interrupts off: nothing is delivered). */
	CHECK(cvm_device_set_irq(dev, 1), 0);
	CHECK(cvm_device_set_irq(dev, 0), 0);

	/* The virtio helpers refuse a port-I/O device. */
	cvm_virtq_chain *c = (cvm_virtq_chain *)fake;

	CHECK(cvm_virtq_pop(dev, 0, &c), -EINVAL);
	CHECK(cvm_virtq_push(dev, (cvm_virtq_chain *)fake, 0), -EINVAL);
	CHECK(cvm_virtio_set_config(dev, 0, buf, 1, 0), -EINVAL);
	CHECK(cvm_virtio_get_config(dev, 0, buf, 1), -EINVAL);
	cvm_virtq_notify(dev, 0); /* nothing to notify: must not crash */
	cvm_device_log(dev, CVM_LOG_WARN, "probe %d done", 42);
}

static uint64_t pio_read(cvm_device *dev, void *opaque, uint64_t off, unsigned int size)
{
	struct pio_state *s = opaque;

	s->reads++;
	if (off + size > s->max_end)
		s->max_end = off + size;
	if (s->probe && !s->probed) {
		s->probed = true;
		pio_probe(dev);
	}
	return ((uint64_t)EXIT_ID >> (8 * off)) & (size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1);
}

static void pio_write(cvm_device *dev, void *opaque, uint64_t off, unsigned int size,
		      uint64_t value)
{
	struct pio_state *s = opaque;

	s->writes++;
	if (off + size > s->max_end)
		s->max_end = off + size;
	if (s->trip) {
		int fd = socket(AF_INET, SOCK_STREAM, 0); /* not in the policy: never returns */

		if (fd >= 0)
			close(fd);
	}
	cvm_device_exit_vm(dev, (int)value);
}

static const cvm_io_device_ops pio_ops = {
	.struct_size = sizeof(cvm_io_device_ops),
	.read = pio_read,
	.write = pio_write,
};

static cvm_io_device_config pio_config(struct pio_state *s, unsigned int flags)
{
	cvm_io_device_config c = CVM_IO_DEVICE_CONFIG_INIT;

	c.name = "pio-probe";
	c.space = CVM_IO_PIO;
	c.base = EXIT_PORT;
	c.size = 2;
	c.ops = &pio_ops;
	c.opaque = s;
	c.flags = flags;
	return c;
}

/* --- a virtio device: custom_virtio's echo ------------------------------------------------------ */

enum echo_mode { ECHO_PROBE, ECHO_EIO, ECHO_TRIP };

struct echo_state {
	enum echo_mode mode;
	bool probed;
	uint32_t count;
	unsigned int notifies, echoed, rejected;
	bool failed;		    /* ECHO_EIO: returned -EIO */
	unsigned int after_failure; /* ECHO_EIO: calls after that */
};

static void echo_probe(cvm_device *dev, cvm_virtq_chain *c)
{
	uint64_t in = cvm_virtq_chain_len(c, 0), room = cvm_virtq_chain_len(c, 1);
	static uint64_t fake[16];
	cvm_virtq_chain *other = NULL;
	uint8_t b[8] = { 0 };

	/* custom_virtio's first request: 1 readable byte, 1 writable byte. */
	CHECK(in, 1);
	CHECK(room, 1);
	CHECK(cvm_virtq_chain_len(NULL, 0), 0);
	CHECK(cvm_virtq_chain_len(NULL, 1), 0);

	CHECK(cvm_virtq_chain_read(NULL, 0, b, 1), -EINVAL);
	CHECK(cvm_virtq_chain_read(c, 0, NULL, 1), -EINVAL);
	CHECK(cvm_virtq_chain_read(c, in, b, 1), -EINVAL);
	CHECK(cvm_virtq_chain_read(c, 0, b, in + 1), -EINVAL);
	CHECK(cvm_virtq_chain_read(c, in + 1, b, 0), -EINVAL);
	CHECK(cvm_virtq_chain_read(c, UINT64_MAX, b, 1), -EINVAL);
	CHECK(cvm_virtq_chain_read(c, 1, b, SIZE_MAX), -EINVAL);
	CHECK(cvm_virtq_chain_read(c, in, b, 0), 0); /* nothing, at the end: fine */

	CHECK(cvm_virtq_chain_write(NULL, 0, b, 1), -EINVAL);
	CHECK(cvm_virtq_chain_write(c, 0, NULL, 1), -EINVAL);
	CHECK(cvm_virtq_chain_write(c, room, b, 1), -EINVAL);
	CHECK(cvm_virtq_chain_write(c, 0, b, room + 1), -EINVAL);
	CHECK(cvm_virtq_chain_write(c, UINT64_MAX, b, 1), -EINVAL);
	CHECK(cvm_virtq_chain_write(c, 1, b, SIZE_MAX), -EINVAL);

	/* The chain as iovecs: the same bounds. */
	struct iovec iov[4];

	CHECK(cvm_virtq_chain_iov(NULL, 0, 0, 1, iov, 4), -EINVAL);
	CHECK(cvm_virtq_chain_iov(c, 0, in, 1, iov, 4), -EINVAL);
	CHECK(cvm_virtq_chain_iov(c, 0, 0, in + 1, iov, 4), -EINVAL);
	CHECK(cvm_virtq_chain_iov(c, 0, UINT64_MAX, 1, iov, 4), -EINVAL);
	CHECK(cvm_virtq_chain_iov(c, 0, 1, UINT64_MAX, iov, 4), -EINVAL);
	CHECK(cvm_virtq_chain_iov(c, 1, room, 1, iov, 4), -EINVAL);
	CHECK(cvm_virtq_chain_iov(c, 1, 0, room + 1, iov, 4), -EINVAL);
	CHECK(cvm_virtq_chain_iov(c, 0, 0, in, NULL, 1), -EINVAL);
	CHECK(cvm_virtq_chain_iov(c, 0, 0, in, iov, -1), -EINVAL);
	CHECK(cvm_virtq_chain_iov(c, 0, 0, in, NULL, 0), 0);
	CHECK(cvm_virtq_chain_iov(c, 0, 0, in, iov, 4), 1);
	CHECK(iov[0].iov_len, in);
	CHECK(cvm_virtq_chain_iov(c, 1, 0, room, iov, 4), 1);
	CHECK(iov[0].iov_len, room);

	/* Chains this device does not hold. */
	CHECK(cvm_virtq_push(dev, NULL, 0), -EINVAL);
	CHECK(cvm_virtq_push(dev, (cvm_virtq_chain *)fake, 0), -EINVAL);
	CHECK(cvm_virtq_push(dev, (cvm_virtq_chain *)((char *)c + 1), 0), -EINVAL);
	CHECK(cvm_virtq_push(NULL, c, 0), -EINVAL);
	/* More written than the chain has room for: refused, the chain still held. */
	CHECK(cvm_virtq_push(dev, c, (uint32_t)room + 1), -EINVAL);
	CHECK(cvm_virtq_push(dev, c, UINT32_MAX), -EINVAL);

	CHECK(cvm_virtq_pop(dev, 1, &other), -EINVAL); /* one queue only */
	CHECK(cvm_virtq_pop(dev, 16, &other), -EINVAL);
	CHECK(cvm_virtq_pop(dev, 0, NULL), -EINVAL);
	CHECK(cvm_virtq_pop(NULL, 0, &other), -EINVAL);

	/* The configuration space is 4 bytes. */
	CHECK(cvm_virtio_set_config(dev, 4, b, 1, 0), -EINVAL);
	CHECK(cvm_virtio_set_config(dev, 0, b, 5, 0), -EINVAL);
	CHECK(cvm_virtio_set_config(dev, UINT32_MAX, b, 2, 0), -EINVAL);
	CHECK(cvm_virtio_set_config(dev, 0, NULL, 1, 0), -EINVAL);
	CHECK(cvm_virtio_get_config(dev, 3, b, 2), -EINVAL);
	CHECK(cvm_virtio_get_config(dev, UINT32_MAX, b, 2), -EINVAL);
	CHECK(cvm_virtio_get_config(dev, 0, NULL, 1), -EINVAL);
	CHECK(cvm_virtio_get_config(dev, 0, b, 4), 0);
	CHECK(cvm_virtio_get_config(dev, 4, b, 0), 0);

	/* No legacy line; no MSI outside the window; no RAM outside RAM. */
	CHECK(cvm_device_set_irq(dev, 1), -EINVAL);
	CHECK(cvm_device_signal_msi(dev, 0xfed00000, 0), -EINVAL);
	CHECK(cvm_device_read_guest(dev, RAM_END, b, 1), -EFAULT);
	CHECK(cvm_device_write_guest(dev, RAM_END - 1, b, 2), -EFAULT);
	cvm_virtq_notify(dev, 7); /* no such queue: must not crash */
}

/* Answer one request as custom_virtio expects; the used length (0: refused). */
static uint32_t echo_one(cvm_device *dev, struct echo_state *s, cvm_virtq_chain *c)
{
	uint64_t in = cvm_virtq_chain_len(c, 0), room = cvm_virtq_chain_len(c, 1);
	uint8_t buf[ECHO_MAX], out[ECHO_MAX];
	uint32_t le;

	if (in == 0 || in > ECHO_MAX || room < in || cvm_virtq_chain_read(c, 0, buf, in)) {
		s->rejected++;
		return 0;
	}
	for (uint64_t i = 0; i < in; i++) {
		uint8_t ch = buf[in - 1 - i];

		out[i] = ch >= 'a' && ch <= 'z' ? (uint8_t)(ch - 'a' + 'A') : ch;
	}
	if (cvm_virtq_chain_write(c, 0, out, in))
		return 0;
	s->echoed++;
	le = htole32(++s->count);
	cvm_virtio_set_config(dev, 0, &le, sizeof(le), 0);
	return (uint32_t)in;
}

static int echo_notify(cvm_device *dev, void *opaque, unsigned int queue)
{
	struct echo_state *s = opaque;
	cvm_virtq_chain *c;
	int rc;

	s->notifies++;
	if (s->mode == ECHO_EIO) {
		/*
		 * Fail on the first request (queue_notify also runs, with nothing
		 * to do, when the driver sets DRIVER_OK): the chain stays popped.
		 */
		if (s->failed) {
			s->after_failure++;
			return 0;
		}
		rc = cvm_virtq_pop(dev, queue, &c);
		if (rc != 1)
			return rc;
		s->failed = true;
		return -EIO;
	}
	if (s->mode == ECHO_TRIP) {
		int fd = socket(AF_INET, SOCK_STREAM, 0); /* not in the policy: never returns */

		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((rc = cvm_virtq_pop(dev, queue, &c)) == 1) {
		uint32_t used = echo_one(dev, s, c);
		bool first = !s->probed;

		if (first) {
			s->probed = true;
			echo_probe(dev, c);
		}
		rc = cvm_virtq_push(dev, c, used);
		if (first) {
			CHECK(rc, 0);
			CHECK(cvm_virtq_push(dev, c, 0), -EINVAL); /* pushed already */
		}
		if (rc)
			return rc;
	}
	cvm_virtq_notify(dev, queue);
	return rc;
}

static const cvm_virtio_device_ops echo_ops = {
	.struct_size = sizeof(cvm_virtio_device_ops),
	.queue_notify = echo_notify,
};

static const uint8_t echo_initial_config[4];

static cvm_virtio_device_config echo_config(struct echo_state *s, unsigned int flags)
{
	cvm_virtio_device_config c = CVM_VIRTIO_DEVICE_CONFIG_INIT;

	c.name = "echo";
	c.device_id = ECHO_ID;
	c.config = echo_initial_config;
	c.config_len = sizeof(echo_initial_config);
	c.num_queues = 1;
	c.queue_size = 64;
	c.ops = &echo_ops;
	c.opaque = s;
	c.flags = flags;
	return c;
}

/* ================================================================================================
 * cvm_vm_add_io_device()
 */

TestSuite(device_api, .timeout = 120);

Test(device_api, no_vm_needed)
{
	cvm_io_device_config io = pio_config(NULL, 0);
	cvm_virtio_device_config vd = echo_config(NULL, 0);
	uint8_t b[4];

	cr_assert_eq(cvm_vm_add_io_device(NULL, &io), -EINVAL);
	cr_assert_eq(cvm_vm_add_io_device(NULL, NULL), -EINVAL);
	cr_assert_eq(cvm_vm_add_virtio_device(NULL, &vd), -EINVAL);
	cr_assert_eq(cvm_vm_add_virtio_device(NULL, NULL), -EINVAL);
	/* Every helper refuses a NULL device or chain. */
	cr_assert_eq(cvm_virtq_pop(NULL, 0, NULL), -EINVAL);
	cr_assert_eq(cvm_virtq_chain_len(NULL, 0), 0);
	cr_assert_eq(cvm_virtq_chain_read(NULL, 0, b, 1), -EINVAL);
	cr_assert_eq(cvm_virtq_chain_write(NULL, 0, b, 1), -EINVAL);
	cr_assert_eq(cvm_virtq_push(NULL, NULL, 0), -EINVAL);
	cvm_virtq_notify(NULL, 0);
	cr_assert_eq(cvm_virtio_set_config(NULL, 0, b, 1, 1), -EINVAL);
	cr_assert_eq(cvm_virtio_get_config(NULL, 0, b, 1), -EINVAL);
	cr_assert_eq(cvm_device_read_guest(NULL, 0, b, 1), -EINVAL);
	cr_assert_eq(cvm_device_write_guest(NULL, 0, b, 1), -EINVAL);
	cr_assert_eq(cvm_device_set_irq(NULL, 1), -EINVAL);
	cr_assert_eq(cvm_device_signal_msi(NULL, 0xfee00000, 0x30), -EINVAL);
	cvm_device_exit_vm(NULL, 1);
	cvm_device_log(NULL, CVM_LOG_ERROR, "nothing");
	cr_assert_eq(cvm_vm_device_exit_code(NULL), -1);
	cr_assert_str_eq(cvm_exit_reason_name(CVM_EXIT_DEVICE), "device");
}

Test(device_api, io_null_and_struct_sizes)
{
	need_kvm();
	cvm_vm *vm = new_vm(true);
	cvm_io_device_config c = pio_config(NULL, CVM_DEVICE_IN_VMM);
	cvm_io_device_ops ops = pio_ops;
	struct {
		cvm_io_device_config c;
		uint64_t future;
	} big = { .c = c };

	cr_assert_eq(cvm_vm_device_exit_code(vm), -1, "no device ended a run");
	cr_assert_eq(cvm_vm_add_io_device(vm, NULL), -EINVAL);
	cr_assert_neq(cvm_vm_last_error(vm)[0], '\0', "a NULL config: no last error");
	c.ops = NULL;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	assert_err(vm, "ops");
	c.ops = &ops;
	c.name = NULL;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	assert_err(vm, "name");
	c.name = "";
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	assert_err(vm, "name");
	c.name = "pio-probe";

	/* The config's own size: not below the fields every caller has, not above ours. */
	const size_t bad_sizes[] = { 0, 4, offsetof(cvm_io_device_config, irq) - 1,
				     sizeof(cvm_io_device_config) + 1 };

	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		c.struct_size = bad_sizes[i];
		cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL, "struct_size %zu",
			     bad_sizes[i]);
		assert_err(vm, "cvm_io_device_config.struct_size");
	}
	c.struct_size = sizeof(c);
	/* A newer caller's bigger struct: refused whatever its tail holds. */
	big.c.struct_size = sizeof(big);
	big.future = 1;
	cr_assert_eq(cvm_vm_add_io_device(vm, &big.c), -EINVAL);
	assert_err(vm, "struct_size");
	big.future = 0;
	cr_assert_eq(cvm_vm_add_io_device(vm, &big.c), -EINVAL);
	assert_err(vm, "struct_size");

	/* The ops' own size. */
	const size_t bad_ops[] = { 0, 1, sizeof(cvm_io_device_ops) + 8 };

	for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
		ops.struct_size = bad_ops[i];
		cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL, "ops.struct_size %zu",
			     bad_ops[i]);
		assert_err(vm, "cvm_io_device_ops.struct_size");
	}
	/* An ops struct with no callbacks at all: reads are all-ones, writes ignored. */
	ops.struct_size = sizeof(size_t);
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	cvm_vm_destroy(vm);

	/* The smallest config accepted: up to ops and opaque (no IRQ, flags or policy). */
	vm = new_vm(false);
	c = pio_config(NULL, 0);
	c.struct_size = offsetof(cvm_io_device_config, irq);
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	cvm_vm_destroy(vm);
}

Test(device_api, io_flags_and_policy)
{
	need_kvm();
	cvm_vm *vm = new_vm(true);
	cvm_io_device_config c = pio_config(NULL, 0);
	int fds[17] = { 0 };
	struct stat before, after;

	/* Sandboxed (the VM's default) without a policy. */
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	assert_err(vm, "policy");
	assert_err(vm, "pio-probe");

	/* Unknown flags; the refusal must not touch the caller's descriptors (fd 0 here). */
	if (fcntl(0, F_GETFD) < 0)
		cr_assert_eq(open("/dev/null", O_RDONLY), 0);
	cr_assert_eq(fstat(0, &before), 0);
	c.flags = 1u << 1;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	assert_err(vm, "flags");
	c.flags = 0x80000000u | CVM_DEVICE_IN_VMM;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	assert_err(vm, "flags");
	cr_assert_eq(fstat(0, &after), 0, "a refused device closed descriptor 0");
	cr_assert(before.st_dev == after.st_dev && before.st_ino == after.st_ino,
		  "a refused device closed descriptor 0 (now another file)");

	/* Descriptors to keep: at most 16, and an array when any. */
	c.flags = 0;
	c.policy = "";
	c.keep_fds = fds;
	c.nr_keep_fds = 17;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	assert_err(vm, "descriptors");
	c.keep_fds = NULL;
	c.nr_keep_fds = 1;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	c.nr_keep_fds = 0;

	/* With a policy (text or file), or in the VMM, a sandboxed VM takes it. */
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	c = pio_config(NULL, 0);
	c.base = 0x510;
	c.policy_file = CVM_POLICY_SRC "/common_device.policy";
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	c = pio_config(NULL, CVM_DEVICE_IN_VMM);
	c.base = 0x520;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	cvm_vm_destroy(vm);

	/* Without the sandbox no policy is needed. */
	vm = new_vm(false);
	c = pio_config(NULL, 0);
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	cvm_vm_destroy(vm);
}

Test(device_api, io_ranges)
{
	need_kvm();
	cvm_vm *vm = new_vm(false);
	cvm_io_device_config c = pio_config(NULL, 0);
	static const struct {
		enum cvm_io_space space;
		uint64_t base, size;
		const char *err;
	} bad[] = {
		{ CVM_IO_PIO, 0x510, 0, "empty or wrapping" },
		{ CVM_IO_MMIO, 0x100000000ULL, 0, "empty or wrapping" },
		{ CVM_IO_PIO, UINT64_MAX, 2, "empty or wrapping" },
		{ CVM_IO_MMIO, UINT64_MAX - 0xfff, 0x2000, "empty or wrapping" },
		{ CVM_IO_PIO, 0xffff, 2, "0xffff" },
		{ CVM_IO_PIO, 0x10000, 1, "0xffff" },
		{ CVM_IO_PIO, 0, 0x10001, "0xffff" },
		/* Guest RAM: 0 .. 64 MiB. */
		{ CVM_IO_MMIO, 0, 0x1000, "guest RAM" },
		{ CVM_IO_MMIO, 0x100000, 0x1000, "guest RAM" },
		{ CVM_IO_MMIO, RAM_END - 0x1000, 0x2000, "guest RAM" },
		/* The PCI window: 0xc0000000 .. 0xfec00000. */
		{ CVM_IO_MMIO, 0xc0000000ULL, 0x1000, "PCI window" },
		{ CVM_IO_MMIO, 0xbffff000ULL, 0x2000, "PCI window" },
		{ CVM_IO_MMIO, 0xd0000000ULL, 4, "PCI window" },
		{ CVM_IO_MMIO, 0xfebff000ULL, 0x2000, "PCI window" },
		{ CVM_IO_MMIO, RAM_END, 0x100000000ULL, "PCI window" },
		{ (enum cvm_io_space)3, 0x510, 1, "address space" },
		{ (enum cvm_io_space)0, 0x510, 1, "address space" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.space = bad[i].space;
		c.base = bad[i].base;
		c.size = bad[i].size;
		cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL,
			     "space %d base 0x%llx size 0x%llx accepted", (int)c.space,
			     (unsigned long long)c.base, (unsigned long long)c.size);
		assert_err(vm, bad[i].err);
		assert_err(vm, "pio-probe");
	}
	/* Fine: the last ports, MMIO right after RAM, between the window and the IOAPIC, above 4 GiB. */
	c.space = CVM_IO_PIO;
	c.base = 0xfff0;
	c.size = 0x10;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	c.space = CVM_IO_MMIO;
	c.base = RAM_END;
	c.size = 0x1000;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	c.base = 0x100000000ULL;
	c.size = 0x1000;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	cvm_vm_destroy(vm);
}

Test(device_api, io_overlaps)
{
	need_kvm();
	cvm_vm *vm = new_vm(false);
	cvm_io_device_config c = pio_config(NULL, 0);
	static const struct {
		uint64_t base, size;
		const char *what;
	} builtin[] = {
		{ 0x3f8, 1, "COM1" },	     { 0x3f0, 0x10, "COM1, partly" },
		{ 0x2f8, 8, "COM2" },	     { 0x3e8, 1, "COM3" },
		{ 0x2ef, 2, "COM4's last" }, { 0x70, 2, "CMOS" },
		{ 0x60, 1, "i8042 data" },   { 0x64, 1, "i8042 command" },
		{ 0xcf8, 4, "PCI address" }, { 0xcfc, 1, "PCI data" },
		{ 0x600, 1, "ACPI sleep" },  { 0x80, 1, "POST" },
	};

	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		c.base = builtin[i].base;
		c.size = builtin[i].size;
		cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EEXIST, "%s: 0x%llx+%llu accepted",
			     builtin[i].what, (unsigned long long)c.base,
			     (unsigned long long)c.size);
		assert_err(vm, "overlaps");
		assert_err(vm, "pio-probe");
	}
	/* Another custom device's ports; next to them is fine. */
	c.base = 0x510;
	c.size = 4;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	c.name = "second";
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EEXIST);
	assert_err(vm, "second");
	assert_err(vm, "overlaps");
	c.base = 0x513;
	c.size = 1;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EEXIST);
	c.base = 0x50f;
	c.size = 2;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EEXIST);
	c.base = 0x514;
	c.size = 1;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	c.base = 0x50f;
	c.size = 1;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	/* Ports and addresses are separate spaces: MMIO at the same number is no overlap... */
	c.space = CVM_IO_MMIO;
	c.base = 0x100000510ULL;
	c.size = 0x100;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	/* ...but two MMIO devices are. */
	c.base = 0x1000005ffULL;
	c.size = 0x10;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EEXIST);
	cvm_vm_destroy(vm);
}

/*
 * KVM serves the PIC, the PIT (and its speaker port) and the IOAPIC and
 * local APICs itself: a device registered there would never see an access.
 */
Test(device_api, io_in_kernel_ranges)
{
	need_kvm();
	cvm_vm *vm = new_vm(false);
	cvm_io_device_config c = pio_config(NULL, 0);
	static const struct {
		enum cvm_io_space space;
		uint64_t base, size;
		const char *what;
	} kernel[] = {
		{ CVM_IO_PIO, 0x20, 2, "the master PIC" },
		{ CVM_IO_PIO, 0xa0, 2, "the slave PIC" },
		{ CVM_IO_PIO, 0x4d0, 2, "the PIC's ELCR" },
		{ CVM_IO_PIO, 0x40, 4, "the PIT" },
		{ CVM_IO_PIO, 0x61, 1, "the PIT's speaker port" },
		{ CVM_IO_MMIO, 0xfec00000ULL, 0x1000, "the IOAPIC" },
		{ CVM_IO_MMIO, 0xfee00000ULL, 0x1000, "the local APIC" },
	};

	for (size_t i = 0; i < sizeof(kernel) / sizeof(kernel[0]); i++) {
		c.space = kernel[i].space;
		c.base = kernel[i].base;
		c.size = kernel[i].size;
		cr_expect_eq(cvm_vm_add_io_device(vm, &c), -EEXIST,
			     "a device on %s (0x%llx+0x%llx) is accepted", kernel[i].what,
			     (unsigned long long)c.base, (unsigned long long)c.size);
	}
	cvm_vm_destroy(vm);
}

Test(device_api, io_irqs)
{
	need_kvm();
	cvm_vm *vm = new_vm(false);
	cvm_io_device_config c = pio_config(NULL, 0);
	/* 1 i8042, 2 cascade, 3/4 COM, 8 RTC, 9 ACPI SCI, 12 i8042 aux, 16+ not ISA. */
	static const unsigned int taken[] = { 1, 2, 3, 4, 8, 9, 12, 16, 24, 0xffffffffu };
	static const unsigned int free_irqs[] = { 6, 7, 13, 14, 15 };

	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		char want[32];

		c.irq = taken[i];
		cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL, "IRQ %u accepted", taken[i]);
		snprintf(want, sizeof(want), "IRQ %u", taken[i]);
		assert_err(vm, want);
	}
	for (size_t i = 0; i < sizeof(free_irqs) / sizeof(free_irqs[0]); i++) {
		c.irq = free_irqs[i];
		c.base = 0x510 + i;
		c.size = 1;
		cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "IRQ %u: %s", free_irqs[i],
			     cvm_vm_last_error(vm));
	}
	cvm_vm_destroy(vm);
}

Test(device_api, io_sixteen_at_most)
{
	need_kvm();
	cvm_vm *vm = new_vm(false);
	cvm_io_device_config c = pio_config(NULL, 0);

	/* Refused devices take no slot. */
	c.base = 0x3f8;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EEXIST);
	c.base = 0x500;
	c.irq = 4;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	c.irq = 0;
	c.flags = 8;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -EINVAL);
	c.flags = 0;
	for (unsigned int i = 0; i < 16; i++) {
		c.base = 0x500 + 2 * i;
		cr_assert_eq(cvm_vm_add_io_device(vm, &c), 0, "device %u: %s", i,
			     cvm_vm_last_error(vm));
	}
	c.base = 0x580;
	cr_assert_eq(cvm_vm_add_io_device(vm, &c), -ENOSPC);
	assert_err(vm, "16");
	cvm_vm_destroy(vm);
}

Test(device_api, add_after_run)
{
	need_kvm();
	struct run r = { .vm = new_vm(true) };
	cvm_io_device_config io = pio_config(NULL, CVM_DEVICE_IN_VMM);
	cvm_virtio_device_config vd = echo_config(NULL, CVM_DEVICE_IN_VMM);

	run_start(&r, "cvm.test=reset");
	run_wait(&r);
	cr_assert_eq(r.rc, 0, "%s", cvm_vm_last_error(r.vm));
	cr_assert_eq(r.reason, CVM_EXIT_RESET);
	cr_assert_eq(cvm_vm_add_io_device(r.vm, &io), -EBUSY);
	assert_err(r.vm, "already run");
	cr_assert_eq(cvm_vm_add_virtio_device(r.vm, &vd), -EBUSY);
	assert_err(r.vm, "already run");
	cr_assert_eq(cvm_vm_device_exit_code(r.vm), -1, "the guest reset: no device exit code");
	run_free(&r);
}

/* ================================================================================================
 * cvm_vm_add_virtio_device()
 */

Test(device_api, virtio_options)
{
	need_kvm();
	cvm_vm *vm = new_vm(true);
	cvm_virtio_device_ops ops = echo_ops;
	cvm_virtio_device_config c = echo_config(NULL, CVM_DEVICE_IN_VMM), ok;
	static uint8_t big_config[4097];

	c.ops = &ops;
	ok = c;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, NULL), -EINVAL);

	/* The config's size. */
	const size_t bad_sizes[] = { 0, 8, offsetof(cvm_virtio_device_config, flags) - 1,
				     sizeof(cvm_virtio_device_config) + 8 };

	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		c.struct_size = bad_sizes[i];
		cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL, "struct_size %zu",
			     bad_sizes[i]);
		assert_err(vm, "cvm_virtio_device_config.struct_size");
	}
	c = ok;

	/* The ops: a sane size and a queue_notify. */
	c.ops = NULL;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "ops");
	c.ops = &ops;
	const size_t bad_ops[] = { 0, sizeof(size_t), offsetof(cvm_virtio_device_ops, queue_notify),
				   sizeof(cvm_virtio_device_ops) + 8 };

	for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
		ops.struct_size = bad_ops[i];
		cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL, "ops.struct_size %zu",
			     bad_ops[i]);
		assert_err(vm, "ops");
	}
	ops = echo_ops;
	ops.queue_notify = NULL;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "queue_notify");
	ops = echo_ops;

	/* The device type: 1..63. */
	c.device_id = 0;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "device id 0");
	c.device_id = 64;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "device id 64");
	c.device_id = 0xffff;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	c = ok;

	/* Features: the device's bits only; the transport's (24..49) are libcvm's. */
	static const unsigned int transport_bits[] = { 24, 28, 29, 32, 33, 34, 35, 49 };

	for (size_t i = 0; i < sizeof(transport_bits) / sizeof(transport_bits[0]); i++) {
		c.features = 1ULL << transport_bits[i];
		cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL, "feature bit %u accepted",
			     transport_bits[i]);
		assert_err(vm, "transport");
	}
	c.features = 1ULL << 32; /* VERSION_1 */
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "0x100000000");
	c = ok;

	/* The configuration space: at most 4096 bytes, and bytes when a length. */
	c.config = big_config;
	c.config_len = sizeof(big_config);
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "4097");
	c.config = NULL;
	c.config_len = 4;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "configuration");
	c = ok;

	/* Queues: 1..16 of a power of two up to 256. */
	static const unsigned int bad_q[][2] = { { 0, 64 }, { 17, 64 }, { 1, 0 },   { 1, 3 },
						 { 1, 96 }, { 1, 512 }, { 100, 1 }, { 1, 257 } };

	for (size_t i = 0; i < sizeof(bad_q) / sizeof(bad_q[0]); i++) {
		c.num_queues = bad_q[i][0];
		c.queue_size = bad_q[i][1];
		cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL, "%u queues of %u accepted",
			     c.num_queues, c.queue_size);
		assert_err(vm, "queues");
	}
	c = ok;
	c.max_chains = 65;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "max_chains");
	c = ok;

	/* Name and flags. */
	c.name = NULL;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "name");
	c.name = "";
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "name");
	c = ok;
	c.flags = 2;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "flags");
	/* Sandboxed without a policy. */
	c.flags = 0;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -EINVAL);
	assert_err(vm, "policy");
	assert_err(vm, "echo");

	/* The limits themselves are fine. */
	c = ok;
	c.device_id = 1;
	c.features = 0xffffffULL | (0x3fffULL << 50);
	c.config = big_config;
	c.config_len = 4096;
	c.num_queues = 16;
	c.queue_size = 256;
	c.max_chains = 64;
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	c = ok;
	c.device_id = 63;
	c.config_len = 0;
	c.config = NULL;
	c.queue_size = 1;
	c.max_chains = 1;
	c.flags = 0;
	c.policy = "";
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	/* The smallest config struct accepted. */
	c = ok;
	c.struct_size = offsetof(cvm_virtio_device_config, flags);
	cvm_vm_destroy(vm);
	vm = new_vm(false);
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), 0, "%s", cvm_vm_last_error(vm));
	cvm_vm_destroy(vm);
}

Test(device_api, virtio_pci_slots)
{
	need_kvm();
	cvm_vm *vm = new_vm(false);
	cvm_virtio_device_config c = echo_config(NULL, 0);
	unsigned int n = 0;

	/* PCI slots 1..31 (slot 0 is the host bridge). */
	while (n < 40 && cvm_vm_add_virtio_device(vm, &c) == 0)
		n++;
	cr_assert_eq(n, 31, "%u virtio devices fit (%s)", n, cvm_vm_last_error(vm));
	cr_assert_eq(cvm_vm_add_virtio_device(vm, &c), -ENOSPC);
	assert_err(vm, "PCI slot");
	cvm_vm_destroy(vm);
}

/* ================================================================================================
 * The helpers, from devices that a guest drives.
 */

Test(device_api, pio_helpers_refuse_misuse)
{
	need_kvm();
	struct run r = { .vm = new_vm(true) };
	struct pio_state s = { .probe = true };
	cvm_io_device_config c = pio_config(&s, CVM_DEVICE_IN_VMM);

	c.irq = 6;
	cr_assert_eq(cvm_vm_add_io_device(r.vm, &c), 0, "%s", cvm_vm_last_error(r.vm));
	run_start(&r, "cvm.test=custom_pio cvm.exit=7");
	run_wait(&r);
	cr_assert_not(r.watchdog, "the run did not end; COM1:\n%s", r.output);
	cr_assert_eq(r.rc, 0, "%s", cvm_vm_last_error(r.vm));
	cr_assert_eq(r.reason, CVM_EXIT_DEVICE, "reason %s; COM1:\n%s",
		     cvm_exit_reason_name(r.reason), r.output);
	cr_assert_eq(cvm_vm_device_exit_code(r.vm), 7);
	cr_assert(has(r.output, "DEBUG-EXIT ID 0x4356"), "COM1:\n%s", r.output);
	cr_assert_not(has(r.output, "FAIL"), "COM1:\n%s", r.output);
	cr_assert(s.probed && s.reads >= 3 && s.writes >= 1, "reads %u writes %u", s.reads,
		  s.writes);
	cr_assert_leq(s.max_end, 2, "a callback saw offset + size %llu on a 2-port device",
		      (unsigned long long)s.max_end);
	assert_checks(25);
	cr_assert(log_has("pio-probe: probe 42 done"), "log:\n%s", logs.text);
	cr_assert(log_has("does not hold"), "a bad push is logged; log:\n%s", logs.text);
	run_free(&r);
}

Test(device_api, virtio_helpers_refuse_misuse)
{
	need_kvm();
	struct run r = { .vm = new_vm(true) };
	struct echo_state s = { .mode = ECHO_PROBE };
	cvm_virtio_device_config c = echo_config(&s, CVM_DEVICE_IN_VMM);

	cr_assert_eq(cvm_vm_add_virtio_device(r.vm, &c), 0, "%s", cvm_vm_last_error(r.vm));
	run_start(&r, "cvm.test=custom_virtio");
	run_wait(&r);
	cr_assert_not(r.watchdog, "the run did not end; COM1:\n%s", r.output);
	cr_assert_eq(r.rc, 0, "%s", cvm_vm_last_error(r.vm));
	cr_assert_eq(r.reason, CVM_EXIT_RESET);
	/* The misuse changed nothing the guest can see: all its requests were answered. */
	cr_assert(has(r.output, "PASS custom_virtio"), "COM1:\n%s\nlog:\n%s", r.output, logs.text);
	cr_assert(s.probed);
	cr_assert_eq(s.echoed, 4, "echoed %u", s.echoed);
	cr_assert_eq(s.rejected, 2, "rejected %u", s.rejected);
	assert_checks(40);
	cr_assert(log_has("echo: push says 2 bytes written, the chain has room for 1"), "log:\n%s",
		  logs.text);
	cr_assert(log_has("echo: push of a chain the device does not hold"), "log:\n%s", logs.text);
	cr_assert_not(log_has("needs a reset"), "log:\n%s", logs.text);
	run_free(&r);
}

/* ================================================================================================
 * Misbehaving devices.
 */

/* queue_notify fails: the device needs a reset, the VM runs on until stopped. */
static void eio_run(bool sandboxed)
{
	need_kvm();
	struct run r = { .vm = new_vm(true) };
	struct echo_state s = { .mode = ECHO_EIO };
	cvm_virtio_device_config c = echo_config(&s, sandboxed ? 0 : CVM_DEVICE_IN_VMM);
	bool broken, running;

	c.policy = sandboxed ? "" : NULL;
	cr_assert_eq(cvm_vm_add_virtio_device(r.vm, &c), 0, "%s", cvm_vm_last_error(r.vm));
	run_start(&r, "cvm.test=custom_virtio");
	broken = log_wait("echo: the driver broke a virtqueue; the device needs a reset",
			  RUN_TIMEOUT_S);
	running = !run_done(&r);
	cvm_vm_stop(r.vm);
	run_wait(&r);
	cr_assert(broken, "no NEEDS_RESET log line; log:\n%s\nCOM1:\n%s", logs.text, r.output);
	cr_assert(running, "the VM ended after the device failed: %s (%s)",
		  cvm_exit_reason_name(r.reason), cvm_vm_last_error(r.vm));
	cr_assert(log_has("echo: queue 0: the device returned -5"), "log:\n%s", logs.text);
	cr_assert_eq(r.rc, 0, "%s", cvm_vm_last_error(r.vm));
	cr_assert_eq(r.reason, CVM_EXIT_STOPPED, "reason %s; COM1:\n%s\nlog:\n%s",
		     cvm_exit_reason_name(r.reason), r.output, logs.text);
	if (!sandboxed) {
		cr_assert(s.failed);
		cr_assert_eq(s.after_failure, 0, "a broken device was notified again (%u times)",
			     s.after_failure);
	}
	run_free(&r);
}

Test(device_api, virtio_notify_error_needs_reset)
{
	eio_run(false);
}

Test(device_api, virtio_notify_error_needs_reset_sandboxed)
{
	eio_run(true);
}

/* The sandboxed port-I/O device works as it does in the VMM (the control for pio_seccomp). */
Test(device_api, pio_sandboxed_exit)
{
	need_kvm();
	struct run r = { .vm = new_vm(true) };
	struct pio_state s = { 0 };
	cvm_io_device_config c = pio_config(&s, 0);

	c.policy = "# nothing beyond common_device.policy\n";
	cr_assert_eq(cvm_vm_add_io_device(r.vm, &c), 0, "%s", cvm_vm_last_error(r.vm));
	run_start(&r, "cvm.test=custom_pio cvm.exit=9");
	run_wait(&r);
	cr_assert_not(r.watchdog, "the run did not end; COM1:\n%s", r.output);
	cr_assert_eq(r.rc, 0, "%s", cvm_vm_last_error(r.vm));
	cr_assert_eq(r.reason, CVM_EXIT_DEVICE, "reason %s; COM1:\n%s",
		     cvm_exit_reason_name(r.reason), r.output);
	cr_assert_eq(cvm_vm_device_exit_code(r.vm), 9);
	cr_assert_eq(s.reads, 0, "the callbacks ran in the device's process, not here");
	run_free(&r);
}

static void assert_seccomp_error(struct run *r, const char *name)
{
	const char *e = cvm_vm_last_error(r->vm);

	cr_assert_not(r->watchdog, "the run did not end; COM1:\n%s", r->output);
	cr_assert_lt(r->rc, 0, "the run succeeded: %s; COM1:\n%s", cvm_exit_reason_name(r->reason),
		     r->output);
	cr_assert_eq(r->reason, CVM_EXIT_ERROR, "reason %s", cvm_exit_reason_name(r->reason));
	cr_assert(has(e, name), "the error names no device: %s", e);
	cr_assert(has(e, "socket"), "the error names no system call: %s", e);
	cr_assert(has(e, "seccomp"), "%s", e);
	cr_assert(has(e, "common_device.policy"), "%s", e);
}

/* The debug-exit device calls socket(2) on the guest's write: its filter kills it. */
Test(device_api, pio_seccomp_violation)
{
	need_kvm();
	struct run r = { .vm = new_vm(true) };
	struct pio_state s = { .trip = true };
	cvm_io_device_config c = pio_config(&s, 0);

	c.policy = "";
	cr_assert_eq(cvm_vm_add_io_device(r.vm, &c), 0, "%s", cvm_vm_last_error(r.vm));
	run_start(&r, "cvm.test=custom_pio");
	run_wait(&r);
	assert_seccomp_error(&r, "pio-probe");
	cr_assert_eq(cvm_vm_device_exit_code(r.vm), -1);
	run_free(&r);
}

/* The echo device calls socket(2) when the guest kicks its queue. */
Test(device_api, virtio_seccomp_violation)
{
	need_kvm();
	struct run r = { .vm = new_vm(true) };
	struct echo_state s = { .mode = ECHO_TRIP };
	cvm_virtio_device_config c = echo_config(&s, 0);

	c.policy = "";
	cr_assert_eq(cvm_vm_add_virtio_device(r.vm, &c), 0, "%s", cvm_vm_last_error(r.vm));
	run_start(&r, "cvm.test=custom_virtio");
	run_wait(&r);
	assert_seccomp_error(&r, "echo");
	cr_assert_not(has(r.output, "PASS custom_virtio"), "COM1:\n%s", r.output);
	run_free(&r);
}
