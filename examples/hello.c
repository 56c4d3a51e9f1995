// SPDX-License-Identifier: BSD-3-Clause
/* hello: boot a kernel with libcvm, with COM1 on this program's stdout. */
#include <stdio.h>
#include <unistd.h>

#include <libcvm/cvm.h>

int main(int argc, char **argv)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cvm_serial_config com1 = CVM_SERIAL_CONFIG_INIT;
	enum cvm_exit_reason why = CVM_EXIT_ERROR;
	cvm_vm *vm;
	int rc;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s KERNEL [CMDLINE]\n", argv[0]);
		return 2;
	}
	rc = cvm_vm_create(&vm, &cfg);
	if (rc < 0) {
		const char *msg = cvm_last_create_error();
		fprintf(stderr, "hello: %s\n", *msg ? msg : cvm_strerror(rc));
		return 1;
	}
	com1.out_fd = STDOUT_FILENO; /* COM1 output to stdout, no input */
	rc = cvm_vm_set_serial(vm, &com1);
	if (rc == 0)
		rc = cvm_vm_set_kernel(vm, argv[1], argc > 2 ? argv[2] : NULL);
	if (rc == 0)
		rc = cvm_vm_run(vm, &why); /* returns when the guest stops */
	if (rc < 0)
		fprintf(stderr, "hello: %s (%s)\n", cvm_vm_last_error(vm), cvm_strerror(rc));
	else
		fprintf(stderr, "hello: guest stopped: %s\n", cvm_exit_reason_name(why));
	cvm_vm_destroy(vm);
	return rc < 0 ? 1 : 0;
}
