// SPDX-License-Identifier: BSD-3-Clause
/* virtio-vsock in a VM. (Being implemented: issue 4.) */
#include "core/vm.h"

#include <errno.h>

int cvm_vm_set_vsock(cvm_vm *vm, const cvm_vsock_config *cfg)
{
	(void)cfg;
	if (!vm)
		return -EINVAL;
	return vm_error(vm, -ENOSYS, "virtio-vsock is not implemented yet");
}
