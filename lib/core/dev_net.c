// SPDX-License-Identifier: BSD-3-Clause
/* virtio-net in a VM. (Being implemented: issue 4.) */
#include "core/vm.h"

#include <errno.h>

int cvm_vm_add_net(cvm_vm *vm, const cvm_net_config *cfg)
{
	(void)cfg;
	if (!vm)
		return -EINVAL;
	return vm_error(vm, -ENOSYS, "virtio-net is not implemented yet");
}
