// SPDX-License-Identifier: BSD-3-Clause
/* PCI and virtio devices of a VM: the bus, disks, their worker threads. */
#include "core/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/plugin.h"
#include "virtio/blk_dev.h"

static void pci_set_intx(void *ctx, unsigned int gsi, int level)
{
	struct pci_intx *x = ctx;

	vm_set_irq(x->vm, gsi, x->source, level);
}

int vm_setup_pci(struct cvm_vm *vm, struct cvm_errbuf *err)
{
	int rc;

	irq_router_init(&vm->router, vm->vm_fd);
	pci_bus_init(&vm->pci, &vm->mmio, CVM_PCI_MMIO_START, CVM_PCI_MMIO_END);
	rc = bus_register(&vm->pio, PCI_CONFIG_ADDR_PORT, 4, &pci_config_addr_ops, &vm->pci,
			  "pci-addr");
	if (!rc)
		rc = bus_register(&vm->pio, PCI_CONFIG_DATA_PORT, 4, &pci_config_data_ops, &vm->pci,
				  "pci-data");
	vm->pci_ready = true;
	if (rc)
		return errf(err, rc, "cannot register the PCI configuration ports");
	return 0;
}

void vm_virtio_env(struct cvm_vm *vm, struct virtio_env *env)
{
	struct pci_intx *intx = &vm->intx[vm->nr_vdevs % CVM_MAX_VIRTIO_DEVS];

	*intx = (struct pci_intx){ .vm = vm, .source = IRQ_SRC_PCI(vm->nr_vdevs) };
	*env = (struct virtio_env){
		.mem = &vm->mem,
		.log = &vm->log,
		.vm_fd = vm->vm_fd,
		.router = &vm->router,
		.set_intx = pci_set_intx,
		.intx_ctx = intx,
	};
}

int vm_add_virtio_dev(struct cvm_vm *vm, struct virtio_pci *vp, void *dev,
		      void (*destroy)(void *dev))
{
	struct cvm_errbuf err = { "" };
	int rc;

	if (vm->nr_vdevs == CVM_MAX_VIRTIO_DEVS) {
		destroy(dev);
		return vm_error(vm, -ENOSPC, "no PCI slot left for %s", vp->cfg.name);
	}
	rc = virtio_pci_plug(vp, &vm->pci, &err);
	if (rc) {
		destroy(dev);
		return vm_error(vm, rc, "%s", err.msg);
	}
	vm->vdevs[vm->nr_vdevs++] = (struct vm_virtio_dev){ vp, dev, destroy };
	return 0;
}

static void blk_destroy_cb(void *dev)
{
	blk_dev_destroy(dev);
}

int cvm_vm_add_disk(cvm_vm *vm, const cvm_blk_config *ucfg)
{
	cvm_blk_config c = CVM_BLK_CONFIG_INIT;
	struct cvm_errbuf err = { "" };
	struct blk_dev *b;
	int rc;

	if (!vm || !ucfg)
		return -EINVAL;
	if (VM_TAKE_OPTS(vm, &c, ucfg, flags, "cvm_blk_config"))
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	if (!c.path)
		return vm_error(vm, -EINVAL, "a disk needs a path");
	if (c.flags & ~(unsigned int)(CVM_BLK_READ_ONLY | CVM_BLK_ROOT))
		return vm_error(vm, -EINVAL, "%s: unknown disk flags 0x%x", c.path, c.flags);
	if ((c.flags & CVM_BLK_ROOT) && vm->root_disk >= 0)
		return vm_error(vm, -EEXIST, "%s: there is already a root disk", c.path);
	if (vm->nr_disks == CVM_MAX_DISKS)
		return vm_error(vm, -ENOSPC, "%s: at most %d disks", c.path, CVM_MAX_DISKS);

	struct blk_disk_opts o = {
		.read_only = c.flags & CVM_BLK_READ_ONLY,
		.direct = c.direct,
		.serial = c.serial,
	};
	unsigned int queues = c.num_queues ? c.num_queues : vm->nr_vcpus;
	struct virtio_env env;

	if (vm->nr_vdevs == CVM_MAX_VIRTIO_DEVS)
		return vm_error(vm, -ENOSPC, "%s: no PCI slot left", c.path);
	vm_virtio_env(vm, &env);
	rc = blk_dev_create(&b, c.path, &o, vm->nr_disks, queues, &env, &err);
	if (rc)
		return vm_error(vm, rc, "%s", err.msg);
	rc = vm_add_virtio_dev(vm, &b->vp, b, blk_destroy_cb);
	if (rc)
		return rc;
	if (c.flags & CVM_BLK_ROOT)
		vm->root_disk = (int)vm->nr_disks;
	vm->disks[vm->nr_disks++] = b;
	log_debug(&vm->log, "%s: %s, %llu bytes%s", b->name, c.path,
		  (unsigned long long)b->disk.size, b->disk.read_only ? ", read-only" : "");
	return 0;
}

int cvm_vm_add_virtio_blk(cvm_vm *vm, const char *path, unsigned int flags)
{
	cvm_blk_config c = CVM_BLK_CONFIG_INIT;

	c.path = path;
	c.flags = flags;
	return cvm_vm_add_disk(vm, &c);
}

char *vm_full_cmdline(struct cvm_vm *vm)
{
	char *s;
	const char *base = vm->cmdline ? vm->cmdline : "";

	if (vm->root_disk < 0)
		return strdup(base);
	if (asprintf(&s, "%s%sroot=/dev/vd%c", base, *base ? " " : "", 'a' + vm->root_disk) < 0)
		return NULL;
	return s;
}

int vm_start_devices(struct cvm_vm *vm)
{
	struct cvm_errbuf err = { "" };
	const struct vp_sandbox sb = {
		.policy_dir = vm->policy_dir,
		.new_userns = true,
		.stopping = &vm->stopping,
		.failed = vm_device_failed,
		.failed_ctx = vm,
	};

	if (vm->sproc && vm_serial_proc_start(vm, &err))
		return vm_error(vm, -EIO, "%s", err.msg);
	if (plugin_io_start(vm, &err))
		return vm_error(vm, -EIO, "%s", err.msg);
	for (unsigned int i = 0; i < vm->nr_vdevs; i++) {
		struct virtio_pci *vp = vm->vdevs[i].vp;
		int rc = virtio_pci_start(vp, vm->sandbox && !vp->cfg.in_vmm ? &sb : NULL, &err);

		if (rc)
			return vm_error(vm, rc, "%s", err.msg);
	}
	return 0;
}

void vm_stop_devices(struct cvm_vm *vm)
{
	vm_serial_proc_stop(vm);
	plugin_io_stop(vm);
	for (unsigned int i = 0; i < vm->nr_vdevs; i++)
		virtio_pci_stop(vm->vdevs[i].vp);
}

void vm_destroy_devices(struct cvm_vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vdevs; i++)
		vm->vdevs[i].destroy(vm->vdevs[i].dev);
	vm->nr_vdevs = 0;
	vm->nr_disks = 0;
	if (vm->pci_ready) {
		pci_bus_destroy(&vm->pci);
		irq_router_destroy(&vm->router);
		vm->pci_ready = false;
	}
}
