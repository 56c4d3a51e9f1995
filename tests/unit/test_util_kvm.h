/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests that need a KVM VM fd (MSI routes, irqfds, ioeventfds). */
#ifndef CVM_TEST_UTIL_KVM_H
#define CVM_TEST_UTIL_KVM_H

/*
 * tu_kvm_vm() - a new VM with the in-kernel irqchip, or the calling test is
 * skipped, saying why, when /dev/kvm is not usable.
 */
int tu_kvm_vm(void);

#endif
