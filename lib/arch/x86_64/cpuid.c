// SPDX-License-Identifier: BSD-3-Clause
#include "arch/x86_64/cpuid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { EAX, EBX, ECX, EDX };

static const struct {
	const char *name;
	struct x86_cpuid_bit bit;
} features[] = {
	{ "sse3", { 1, 0, ECX, 0 } },
	{ "pclmulqdq", { 1, 0, ECX, 1 } },
	{ "monitor", { 1, 0, ECX, 3 } },
	{ "vmx", { 1, 0, ECX, 5 } },
	{ "ssse3", { 1, 0, ECX, 9 } },
	{ "fma", { 1, 0, ECX, 12 } },
	{ "cx16", { 1, 0, ECX, 13 } },
	{ "pcid", { 1, 0, ECX, 17 } },
	{ "sse4_1", { 1, 0, ECX, 19 } },
	{ "sse4_2", { 1, 0, ECX, 20 } },
	{ "x2apic", { 1, 0, ECX, 21 } },
	{ "movbe", { 1, 0, ECX, 22 } },
	{ "popcnt", { 1, 0, ECX, 23 } },
	{ "tsc_deadline", { 1, 0, ECX, 24 } },
	{ "aes", { 1, 0, ECX, 25 } },
	{ "xsave", { 1, 0, ECX, 26 } },
	{ "avx", { 1, 0, ECX, 28 } },
	{ "f16c", { 1, 0, ECX, 29 } },
	{ "rdrand", { 1, 0, ECX, 30 } },
	{ "mtrr", { 1, 0, EDX, 12 } },
	{ "pge", { 1, 0, EDX, 13 } },
	{ "mca", { 1, 0, EDX, 14 } },
	{ "pat", { 1, 0, EDX, 16 } },
	{ "clflush", { 1, 0, EDX, 19 } },
	{ "ht", { 1, 0, EDX, 28 } },
	{ "fsgsbase", { 7, 0, EBX, 0 } },
	{ "bmi1", { 7, 0, EBX, 3 } },
	{ "hle", { 7, 0, EBX, 4 } },
	{ "avx2", { 7, 0, EBX, 5 } },
	{ "smep", { 7, 0, EBX, 7 } },
	{ "bmi2", { 7, 0, EBX, 8 } },
	{ "erms", { 7, 0, EBX, 9 } },
	{ "invpcid", { 7, 0, EBX, 10 } },
	{ "rtm", { 7, 0, EBX, 11 } },
	{ "mpx", { 7, 0, EBX, 14 } },
	{ "avx512f", { 7, 0, EBX, 16 } },
	{ "rdseed", { 7, 0, EBX, 18 } },
	{ "adx", { 7, 0, EBX, 19 } },
	{ "smap", { 7, 0, EBX, 20 } },
	{ "clflushopt", { 7, 0, EBX, 23 } },
	{ "clwb", { 7, 0, EBX, 24 } },
	{ "sha_ni", { 7, 0, EBX, 29 } },
	{ "umip", { 7, 0, ECX, 2 } },
	{ "pku", { 7, 0, ECX, 3 } },
	{ "waitpkg", { 7, 0, ECX, 5 } },
	{ "la57", { 7, 0, ECX, 16 } },
	{ "rdpid", { 7, 0, ECX, 22 } },
	{ "md_clear", { 7, 0, EDX, 10 } },
	{ "xsaveopt", { 0xd, 1, EAX, 0 } },
	{ "xsavec", { 0xd, 1, EAX, 1 } },
	{ "xsaves", { 0xd, 1, EAX, 3 } },
	{ "lahf_lm", { 0x80000001, 0, ECX, 0 } },
	{ "abm", { 0x80000001, 0, ECX, 5 } },
	{ "nx", { 0x80000001, 0, EDX, 20 } },
	{ "pdpe1gb", { 0x80000001, 0, EDX, 26 } },
	{ "rdtscp", { 0x80000001, 0, EDX, 27 } },
	{ "invtsc", { 0x80000007, 0, EDX, 8 } },
};

#define NR_FEATURES (sizeof(features) / sizeof(features[0]))

void x86_cpuid_feature_names(char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < NR_FEATURES && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? "," : "", features[i].name);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

int x86_cpuid_parse_disable(struct x86_cpuid_disable *out, const char *list, struct cvm_errbuf *err)
{
	memset(out, 0, sizeof(*out));
	if (!list)
		return 0;

	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		size_t i;

		if (len == 0)
			return errf(err, -EINVAL, "empty CPUID feature name in \"%s\"", list);
		for (i = 0; i < NR_FEATURES; i++) {
			if (strlen(features[i].name) == len && !strncmp(features[i].name, p, len))
				break;
		}
		if (i == NR_FEATURES) {
			char known[600];

			x86_cpuid_feature_names(known, sizeof(known));
			return errf(err, -EINVAL, "unknown CPUID feature \"%.*s\" (known: %s)",
				    (int)len, p, known);
		}
		if (out->nr == X86_CPUID_MAX_DISABLE)
			return errf(err, -EINVAL, "more than %d CPUID features to disable",
				    X86_CPUID_MAX_DISABLE);
		out->bits[out->nr++] = features[i].bit;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, unsigned int reg)
{
	switch (reg) {
	case EAX:
		return &e->eax;
	case EBX:
		return &e->ebx;
	case ECX:
		return &e->ecx;
	default:
		return &e->edx;
	}
}

/* Number of bits needed to hold ids 0 .. n-1. */
static unsigned int id_bits(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

void x86_cpuid_filter(struct kvm_cpuid2 *c, unsigned int vcpu_id, unsigned int nr_vcpus,
		      const struct x86_cpuid_disable *dis)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ecx |= 1u << 31; /* running under a hypervisor */
			e->ebx &= 0x0000ffff;
			e->ebx |= (vcpu_id & 0xff) << 24;
			e->ebx |= (nr_vcpus & 0xff) << 16;
			if (nr_vcpus > 1)
				e->edx |= 1u << 28; /* HTT: the count field is valid */
			break;
		case 4:
			/* Cores per package - 1 in EAX[31:26]: one package, one thread per core. */
			e->eax &= ~(0x3fu << 26);
			e->eax |= ((nr_vcpus - 1) & 0x3f) << 26;
			break;
		case 0xa: /* no PMU */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xb:
			/* x2APIC topology: level 0 SMT (one thread), level 1 core. */
			e->edx = vcpu_id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 0x100;
			} else if (e->index == 1) {
				e->eax = id_bits(nr_vcpus);
				e->ebx = nr_vcpus;
				e->ecx = 0x200 | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index & 0xff;
			}
			break;
		default:
			break;
		}
	}
	if (!dis)
		return;
	for (unsigned int d = 0; d < dis->nr; d++) {
		const struct x86_cpuid_bit *b = &dis->bits[d];

		for (uint32_t i = 0; i < c->nent; i++) {
			struct kvm_cpuid_entry2 *e = &c->entries[i];

			if (e->function != b->leaf)
				continue;
			if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != b->subleaf)
				continue;
			*reg_of(e, b->reg) &= ~(1u << b->bit);
		}
	}
}
