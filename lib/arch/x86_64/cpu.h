/* SPDX-License-Identifier: BSD-3-Clause */
/* x86_64 vCPU boot state for the Linux 64-bit boot protocol. */
#ifndef CVM_ARCH_X86_64_CPU_H
#define CVM_ARCH_X86_64_CPU_H

#include <stdint.h>

#include <linux/kvm.h>

#include "core/mem.h"
#include "util/err.h"

/*
 * x86_setup_boot_tables() - write the GDT, the empty IDT and identity page
 * tables for 0..4 GiB (2 MiB pages) into guest memory.
 */
int x86_setup_boot_tables(const struct guest_mem *m, struct cvm_errbuf *err);

/*
 * x86_setup_vcpu_boot() - put the boot vCPU in 64-bit mode at @entry with
 * RSI = boot_params: registers, segments, control registers, FPU, MSRs and
 * the LAPIC's LINT0 (ExtINT) and LINT1 (NMI).
 */
int x86_setup_vcpu_boot(int vcpu_fd, uint64_t entry, uint64_t boot_params, struct cvm_errbuf *err);

/*
 * x86_gva_to_gpa() - translate a guest-virtual address with the guest's
 * page tables (4-level, or none when paging is off). -EFAULT when unmapped.
 */
int x86_gva_to_gpa(const struct guest_mem *m, const struct kvm_sregs *s, uint64_t gva,
		   uint64_t *gpa);

#endif
