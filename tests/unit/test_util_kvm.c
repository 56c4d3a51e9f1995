// SPDX-License-Identifier: BSD-3-Clause
#include "test_util_kvm.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

int tu_kvm_vm(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	if (kvm < 0)
		cr_skip_test("no usable /dev/kvm (%s): this KVM test is skipped", strerror(errno));
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	close(kvm);
	cr_assert_geq(vm, 0, "KVM_CREATE_VM: %s", strerror(errno));
	cr_assert_eq(ioctl(vm, KVM_CREATE_IRQCHIP, 0), 0, "KVM_CREATE_IRQCHIP: %s",
		     strerror(errno));
	return vm;
}
