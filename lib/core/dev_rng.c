// SPDX-License-Identifier: BSD-3-Clause
/* virtio-rng in a VM: on by default, added at run start after the user's devices. */
#include "core/vm.h"

#include <errno.h>

#include "virtio/rng.h"

int cvm_vm_set_rng(cvm_vm *vm, int enabled)
{
	if (!vm)
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	vm->rng_disabled = !enabled;
	return 0;
}

static void rng_destroy_cb(void *dev)
{
	rng_dev_destroy(dev);
}

static int setup_rng(struct cvm_vm *vm)
{
	struct cvm_errbuf err = { "" };
	struct virtio_env env;
	struct rng_dev *r;
	int rc;

	if (vm->rng_disabled || vm->rng)
		return 0;
	if (vm->nr_vdevs == CVM_MAX_VIRTIO_DEVS)
		return vm_error(vm, -ENOSPC,
				"virtio-rng: no PCI slot left (cvm_vm_set_rng(vm, 0), --no-rng: "
				"turn it off)");
	vm_virtio_env(vm, &env);
	rc = rng_dev_create(&r, &env, &err);
	if (rc)
		return vm_error(vm, rc, "virtio-rng: %s", err.msg);
	rc = vm_add_virtio_dev(vm, &r->vp, r, rng_destroy_cb);
	if (rc)
		return rc;
	vm->rng = r;
	log_debug(&vm->log, "virtio-rng: PCI slot %u", r->vp.pci.slot);
	return 0;
}

int vm_setup_default_devices(struct cvm_vm *vm)
{
	return setup_rng(vm);
}
