// SPDX-License-Identifier: BSD-3-Clause
/* vm_set_irq(): a legacy line is the OR of its sources, for every source a VM can have. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <unistd.h>

#include "core/vm.h"

Test(irq_sources, every_source_bit)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cvm_vm *vm;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("/dev/kvm is not usable here");
	close(fd);
	cfg.mem_mib = 16;
	cfg.disable_sandbox = 1;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), 0, "%s", cvm_last_create_error());
	/* The last PCI slot's INTx and the custom devices' lines are above bit 31. */
	const unsigned int sources[] = {
		0, 3, IRQ_SRC_PCI(0), IRQ_SRC_PCI(30), IRQ_SRC_CUSTOM(0), IRQ_SRC_CUSTOM(15)
	};

	for (unsigned int i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		vm_set_irq(vm, 10, sources[i], 1);
		cr_assert(vm->irq_sources[10] & (1ULL << sources[i]), "source %u not recorded",
			  sources[i]);
	}
	for (unsigned int i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		cr_assert_neq(vm->irq_sources[10], 0);
		vm_set_irq(vm, 10, sources[i], 0);
	}
	cr_assert_eq(vm->irq_sources[10], 0);
	cvm_vm_destroy(vm);
}
