// SPDX-License-Identifier: BSD-3-Clause
/*
 * custom_virtio: a virtio device of your own, written against
 * <libcvm/device.h>, which libcvm serves to the guest over virtio-pci
 * (PCI 1af4:107c, as device type 60 gives 0x1040 + 60).
 *
 * The "echo" device has one queue. A request is one descriptor chain:
 *
 *   driver-readable bytes (1..ECHO_MAX, in any number of descriptors)
 *   then a device-writable buffer (one or more descriptors)
 *
 * The device writes the readable bytes back into the writable part,
 * reversed and with ASCII a-z upper-cased ("hello" -> "OLLEH"), and gives
 * the chain back with used length = the number of bytes. A request it
 * cannot answer (no readable bytes, more than ECHO_MAX, or a writable part
 * smaller than the readable one) is given back untouched with used length
 * 0; the device stays usable. Its configuration space is 4 bytes:
 *
 *   le32 echo_count    requests answered so far
 *
 *   custom_virtio KERNEL [CMDLINE]
 *
 * COM1 goes to stdout; after the run the program prints "custom_virtio:
 * N requests echoed, M rejected". Exit status 0, or 1 on a failure.
 * Environment, for running from a build tree:
 *   CVM_POLICY_DIR  the seccomp policy directory (default: the installed one)
 *   CVM_NO_SANDBOX  when set and not "0": run devices without the sandbox
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libcvm/cvm.h>
#include <libcvm/device.h>

#define ECHO_DEVICE_ID 60
#define ECHO_MAX 4096

/* The device configuration, as the guest sees it (virtio is little-endian). */
struct echo_config {
	uint32_t echo_count;
};

/*
 * What the device counts. With the sandbox on (the default) the callbacks
 * run in a forked copy of this program, so a plain global would change in
 * that copy only. A MAP_SHARED page mapped before cvm_vm_run() is shared
 * with the device's process: main() reads the counts there after the run.
 * (Nothing else may be allocated in the callbacks: no malloc, as the
 * sandbox's seccomp policy has no brk; stack buffers are fine.)
 */
struct echo_stats {
	uint32_t echoed, rejected;
};

/* Answer one request; returns the used length to push (0: rejected). */
static uint32_t echo_one(cvm_device *dev, struct echo_stats *st, cvm_virtq_chain *c)
{
	uint64_t in = cvm_virtq_chain_len(c, 0), room = cvm_virtq_chain_len(c, 1);
	unsigned char buf[ECHO_MAX], out[ECHO_MAX];
	struct echo_config cfg;

	if (in == 0 || in > ECHO_MAX || room < in) {
		cvm_device_log(dev, CVM_LOG_WARN,
			       "request of %llu bytes with room for %llu: rejected",
			       (unsigned long long)in, (unsigned long long)room);
		st->rejected++;
		return 0;
	}
	/* The helpers check every guest address; they fail rather than go outside RAM. */
	if (cvm_virtq_chain_read(c, 0, buf, in))
		return 0;
	for (uint64_t i = 0; i < in; i++) {
		unsigned char b = buf[in - 1 - i];

		out[i] = b >= 'a' && b <= 'z' ? b - 'a' + 'A' : b;
	}
	if (cvm_virtq_chain_write(c, 0, out, in))
		return 0;
	st->echoed++;
	/* The new count, for the driver to read (no config-change interrupt: it polls). */
	cfg.echo_count = htole32(st->echoed);
	cvm_virtio_set_config(dev, 0, &cfg, sizeof(cfg), 0);
	return (uint32_t)in;
}

/*
 * The queue was kicked: take every chain there is, answer it and give it
 * back. Return a negative errno only when the guest broke the ring.
 */
static int echo_queue_notify(cvm_device *dev, void *opaque, unsigned int queue)
{
	struct echo_stats *st = opaque;
	cvm_virtq_chain *c;
	int rc;

	while ((rc = cvm_virtq_pop(dev, queue, &c)) == 1) {
		uint32_t len = echo_one(dev, st, c);

		if (cvm_virtq_push(dev, c, len))
			return -EPROTO;
	}
	cvm_virtq_notify(dev, queue); /* an interrupt, if the driver wants one */
	return rc;		      /* 0 (queue empty), or -EPROTO from cvm_virtq_pop() */
}

int main(int argc, char **argv)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cvm_serial_config com1 = CVM_SERIAL_CONFIG_INIT;
	cvm_virtio_device_ops ops = CVM_VIRTIO_DEVICE_OPS_INIT;
	cvm_virtio_device_config dev = CVM_VIRTIO_DEVICE_CONFIG_INIT;
	const struct echo_config initial = { .echo_count = 0 };
	enum cvm_exit_reason why = CVM_EXIT_ERROR;
	const char *no_sandbox = getenv("CVM_NO_SANDBOX");
	struct echo_stats *st;
	cvm_vm *vm;
	int rc;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s KERNEL [CMDLINE]\n", argv[0]);
		return 2;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED) {
		perror("custom_virtio: mmap");
		return 1;
	}
	cfg.seccomp_policy_dir = getenv("CVM_POLICY_DIR"); /* NULL: the installed policies */
	cfg.disable_sandbox = no_sandbox && *no_sandbox && strcmp(no_sandbox, "0") != 0;
	rc = cvm_vm_create(&vm, &cfg);
	if (rc < 0) {
		const char *msg = cvm_last_create_error();
		fprintf(stderr, "custom_virtio: %s\n", *msg ? msg : cvm_strerror(rc));
		return 1;
	}

	ops.queue_notify = echo_queue_notify; /* the one callback every device needs */
	dev.name = "echo";
	dev.device_id = ECHO_DEVICE_ID;
	dev.features = 0; /* no device features; libcvm offers VERSION_1 and the ring's */
	dev.config = &initial;
	dev.config_len = sizeof(initial);
	dev.num_queues = 1;
	dev.queue_size = 64;
	dev.ops = &ops;
	dev.opaque = st;
	/* The callbacks only use libcvm's helpers: nothing beyond common_device.policy. */
	dev.policy = "";

	com1.out_fd = STDOUT_FILENO;
	rc = cvm_vm_add_virtio_device(vm, &dev);
	if (rc == 0)
		rc = cvm_vm_set_serial(vm, &com1);
	if (rc == 0)
		rc = cvm_vm_set_kernel(vm, argv[1], argc > 2 ? argv[2] : NULL);
	if (rc == 0)
		rc = cvm_vm_run(vm, &why);
	if (rc < 0)
		fprintf(stderr, "custom_virtio: %s (%s)\n", cvm_vm_last_error(vm),
			cvm_strerror(rc));
	else
		printf("custom_virtio: %u requests echoed, %u rejected (guest stopped: %s)\n",
		       st->echoed, st->rejected, cvm_exit_reason_name(why));
	cvm_vm_destroy(vm);
	munmap(st, sizeof(*st));
	return rc < 0 ? 1 : 0;
}
