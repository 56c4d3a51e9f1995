/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CPUID as the guest sees it: KVM's supported table, filtered the way a VMM
 * should (hypervisor bit, topology for the vCPU count, APIC ids, no PMU),
 * minus the feature bits the user names (a CPU template, as Firecracker's).
 */
#ifndef CVM_ARCH_X86_64_CPUID_H
#define CVM_ARCH_X86_64_CPUID_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "util/err.h"

#define X86_CPUID_MAX_DISABLE 64

struct x86_cpuid_bit {
	uint32_t leaf, subleaf;
	uint8_t reg; /* 0 eax, 1 ebx, 2 ecx, 3 edx */
	uint8_t bit;
};

struct x86_cpuid_disable {
	unsigned int nr;
	struct x86_cpuid_bit bits[X86_CPUID_MAX_DISABLE];
};

/*
 * x86_cpuid_parse_disable() - parse "cx16,xsave,avx" (NULL or "" = none).
 * Returns 0 or -EINVAL naming the unknown feature.
 */
int x86_cpuid_parse_disable(struct x86_cpuid_disable *out, const char *list,
			    struct cvm_errbuf *err);

/* The feature names x86_cpuid_parse_disable() knows, comma-separated, into @buf. */
void x86_cpuid_feature_names(char *buf, size_t len);

/*
 * x86_cpuid_filter() - adjust @c in place for vCPU @vcpu_id of @nr_vcpus:
 * hypervisor bit on, APIC id and logical-processor count in leaf 1,
 * leaf 0xb (x2APIC topology) and leaf 4 core counts, PMU leaf 0xa cleared,
 * then every bit in @dis cleared.
 */
void x86_cpuid_filter(struct kvm_cpuid2 *c, unsigned int vcpu_id, unsigned int nr_vcpus,
		      const struct x86_cpuid_disable *dis);

#endif
