// SPDX-License-Identifier: BSD-3-Clause
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "arch/x86_64/cpuid.h"

static struct kvm_cpuid2 *table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 6 * sizeof(struct kvm_cpuid_entry2));

	c->nent = 6;
	c->entries[0] = (struct kvm_cpuid_entry2){
		.function = 1, .ecx = 0x7ffaf3ff, .edx = 0x0fabfbff, .ebx = 0x12340800
	};
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 7,
						   .index = 0,
						   .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
						   .ebx = 0xffffffff };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 7,
						   .index = 1,
						   .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
						   .ebx = 0xffffffff };
	c->entries[3] =
		(struct kvm_cpuid_entry2){ .function = 0xa, .eax = 0x7300403, .edx = 0x603 };
	c->entries[4] = (struct kvm_cpuid_entry2){ .function = 0xb,
						   .index = 1,
						   .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
	c->entries[5] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .edx = 0xffffffff };
	return c;
}

Test(cpuid, filter_basics)
{
	struct kvm_cpuid2 *c = table();

	x86_cpuid_filter(c, 1, 2, NULL);
	cr_assert(c->entries[0].ecx & (1u << 31), "hypervisor bit");
	cr_assert_eq(c->entries[0].ebx >> 24, 1, "APIC id");
	cr_assert_eq((c->entries[0].ebx >> 16) & 0xff, 2, "logical count");
	cr_assert_eq(c->entries[0].ebx & 0xffff, 0x0800, "low bits kept");
	cr_assert_eq(c->entries[3].eax, 0, "no PMU");
	cr_assert_eq(c->entries[4].ebx, 2);
	cr_assert_eq(c->entries[4].eax, 1);
	cr_assert_eq(c->entries[4].edx, 1, "x2APIC id");
	free(c);
}

Test(cpuid, disable_named_bits)
{
	struct kvm_cpuid2 *c = table();
	struct x86_cpuid_disable d;

	cr_assert_eq(x86_cpuid_parse_disable(&d, "cx16,xsave,avx2,pdpe1gb", NULL), 0);
	cr_assert_eq(d.nr, 4);
	x86_cpuid_filter(c, 0, 1, &d);
	cr_assert_eq(c->entries[0].ecx & (1u << 13), 0);
	cr_assert_eq(c->entries[0].ecx & (1u << 26), 0);
	cr_assert_neq(c->entries[0].ecx & (1u << 28), 0, "avx untouched");
	cr_assert_eq(c->entries[1].ebx & (1u << 5), 0, "avx2 in leaf 7.0");
	cr_assert_neq(c->entries[2].ebx & (1u << 5), 0, "leaf 7.1 untouched");
	cr_assert_eq(c->entries[5].edx & (1u << 26), 0);
	free(c);
}

Test(cpuid, parse_errors)
{
	struct x86_cpuid_disable d;
	struct cvm_errbuf e = { "" };

	cr_assert_eq(x86_cpuid_parse_disable(&d, NULL, &e), 0);
	cr_assert_eq(d.nr, 0);
	cr_assert_eq(x86_cpuid_parse_disable(&d, "", &e), 0);
	cr_assert_eq(x86_cpuid_parse_disable(&d, "cx16,bogus", &e), -EINVAL);
	cr_assert(strstr(e.msg, "\"bogus\"") != NULL, "%s", e.msg);
	cr_assert_eq(x86_cpuid_parse_disable(&d, "cx16,,avx", &e), -EINVAL);
	cr_assert_eq(x86_cpuid_parse_disable(&d, "cx1", &e), -EINVAL);
}
