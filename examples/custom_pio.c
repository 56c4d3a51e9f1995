// SPDX-License-Identifier: BSD-3-Clause
/*
 * custom_pio: a port-I/O device of your own, written against
 * <libcvm/device.h>. It boots a kernel with a "debug-exit" device at ports
 * 0x501-0x502, like QEMU's isa-debug-exit (same ports, iosize 2) except that
 * the value is not mangled:
 *
 *   - a guest write of V (outb or outw to 0x501) ends the run, and this
 *     program exits with status V (V & 0xff: an exit status is one byte);
 *   - a read (inw 0x501) returns 0x4356, "CV", so a guest can check that the
 *     device is there before it writes.
 *
 *   custom_pio KERNEL [CMDLINE]
 *
 * COM1 goes to stdout. Exit status: V when the guest wrote V; 0 when the
 * guest stopped without writing (reset, power-off); 1 on a failure, with
 * the reason on stderr (the line "custom_pio: guest wrote V" tells 1 from a
 * failure). Environment, for running from a build tree:
 *   CVM_POLICY_DIR  the seccomp policy directory (default: the installed one)
 *   CVM_NO_SANDBOX  when set and not "0": run devices without the sandbox
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libcvm/cvm.h>
#include <libcvm/device.h>

#define DEBUG_EXIT_PORT 0x501
#define DEBUG_EXIT_ID 0x4356 /* "CV", little-endian: 'V' << 8 | 'C' */

/*
 * A read of @size bytes at @offset from the device's base. libcvm checked
 * that offset + size <= 2, so an inb at 0x502 gets the ID's high byte.
 */
static uint64_t debug_exit_read(cvm_device *dev, void *opaque, uint64_t offset, unsigned int size)
{
	(void)dev;
	(void)opaque;
	(void)size; /* the caller keeps only the low @size bytes */
	return (uint64_t)DEBUG_EXIT_ID >> (8 * offset);
}

/*
 * A write ends the run. With the sandbox on this runs in the device's own
 * process, a forked copy of this program: setting a variable here would not
 * be seen by main(), so the value travels back through cvm_device_exit_vm()
 * and main() reads it with cvm_vm_device_exit_code().
 */
static void debug_exit_write(cvm_device *dev, void *opaque, uint64_t offset, unsigned int size,
			     uint64_t value)
{
	(void)opaque;
	(void)size;
	if (offset != 0)
		return; /* only the first port ends the run */
	cvm_device_log(dev, CVM_LOG_INFO, "the guest wrote %llu", (unsigned long long)value);
	cvm_device_exit_vm(dev, (int)(value & 0xffff));
}

int main(int argc, char **argv)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cvm_serial_config com1 = CVM_SERIAL_CONFIG_INIT;
	/* Both structs are copied by cvm_vm_add_io_device(): locals are fine. */
	cvm_io_device_ops ops = CVM_IO_DEVICE_OPS_INIT;
	cvm_io_device_config dev = CVM_IO_DEVICE_CONFIG_INIT;
	enum cvm_exit_reason why = CVM_EXIT_ERROR;
	const char *no_sandbox = getenv("CVM_NO_SANDBOX");
	cvm_vm *vm;
	int rc, code;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s KERNEL [CMDLINE]\n", argv[0]);
		return 2;
	}
	cfg.seccomp_policy_dir = getenv("CVM_POLICY_DIR"); /* NULL: the installed policies */
	cfg.disable_sandbox = no_sandbox && *no_sandbox && strcmp(no_sandbox, "0") != 0;
	rc = cvm_vm_create(&vm, &cfg);
	if (rc < 0) {
		const char *msg = cvm_last_create_error();
		fprintf(stderr, "custom_pio: %s\n", *msg ? msg : cvm_strerror(rc));
		return 1;
	}

	ops.read = debug_exit_read;
	ops.write = debug_exit_write;
	dev.name = "debug-exit";
	dev.space = CVM_IO_PIO;
	dev.base = DEBUG_EXIT_PORT;
	dev.size = 2; /* 0x501 and 0x502: a 16-bit port */
	dev.ops = &ops;
	/*
	 * Sandboxed, the callbacks run under a seccomp filter: common_device.policy
	 * (what libcvm's device loop needs) plus this text. Ours make no system
	 * call of their own (cvm_device_log() and cvm_device_exit_vm() send
	 * messages, which the common policy allows), so it adds nothing.
	 */
	dev.policy = "# no system calls beyond common_device.policy\n";

	com1.out_fd = STDOUT_FILENO;
	rc = cvm_vm_add_io_device(vm, &dev);
	if (rc == 0)
		rc = cvm_vm_set_serial(vm, &com1);
	if (rc == 0)
		rc = cvm_vm_set_kernel(vm, argv[1], argc > 2 ? argv[2] : NULL);
	if (rc == 0)
		rc = cvm_vm_run(vm, &why);
	if (rc < 0) {
		fprintf(stderr, "custom_pio: %s (%s)\n", cvm_vm_last_error(vm), cvm_strerror(rc));
		cvm_vm_destroy(vm);
		return 1;
	}
	code = cvm_vm_device_exit_code(vm); /* -1 unless a device ended the run */
	cvm_vm_destroy(vm);
	if (why != CVM_EXIT_DEVICE || code < 0) {
		fprintf(stderr, "custom_pio: the guest stopped (%s) without writing to port 0x%x\n",
			cvm_exit_reason_name(why), DEBUG_EXIT_PORT);
		return 0;
	}
	fprintf(stderr, "custom_pio: guest wrote %d\n", code);
	return code & 0xff;
}
