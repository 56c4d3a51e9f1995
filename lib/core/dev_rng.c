// SPDX-License-Identifier: BSD-3-Clause
/* virtio-rng in a VM: on by default. (Being implemented: issue 4.) */
#include "core/vm.h"

#include <errno.h>

int cvm_vm_set_rng(cvm_vm *vm, int enabled)
{
	if (!vm)
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	vm->rng_disabled = !enabled;
	return 0;
}

int vm_setup_default_devices(struct cvm_vm *vm)
{
	(void)vm;
	return 0;
}
