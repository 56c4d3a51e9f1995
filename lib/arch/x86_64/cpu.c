// SPDX-License-Identifier: BSD-3-Clause
#include "arch/x86_64/cpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "kvm/kvm.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

#define SEL_CODE 0x10
#define SEL_DATA 0x18
#define SEL_TSS 0x20

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static const uint64_t boot_gdt[] = {
	0,		       /* null */
	0,		       /* unused */
	0x00af9b000000ffffULL, /* 0x10: 64-bit code, DPL 0 */
	0x00cf93000000ffffULL, /* 0x18: data, 4 GiB flat */
	0x00808b000000ffffULL, /* 0x20: busy 64-bit TSS */
};

int x86_setup_boot_tables(const struct guest_mem *m, struct cvm_errbuf *err)
{
	uint64_t idt = 0;

	if (gmem_write(m, X86_BOOT_GDT, boot_gdt, sizeof(boot_gdt)) ||
	    gmem_write(m, X86_BOOT_IDT, &idt, sizeof(idt)))
		return errf(err, -EFAULT, "guest RAM too small for the boot GDT");

	uint64_t *pml4 = gmem_ptr(m, X86_PML4, 4096);
	uint64_t *pdpt = gmem_ptr(m, X86_PDPT, 4096);
	uint64_t *pd = gmem_ptr(m, X86_PD, 4096 * X86_PD_COUNT);

	if (!pml4 || !pdpt || !pd)
		return errf(err, -EFAULT, "guest RAM too small for the boot page tables");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = X86_PDPT | PTE_P | PTE_RW;
	for (unsigned int i = 0; i < X86_PD_COUNT; i++)
		pdpt[i] = (X86_PD + i * 4096ULL) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 512ULL * X86_PD_COUNT; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

static void seg_from_gdt(struct kvm_segment *s, uint16_t sel)
{
	uint64_t d = boot_gdt[sel >> 3];

	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	s->limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16));
	s->type = (d >> 40) & 0xf;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
	s->g = (d >> 55) & 1;
	if (s->g)
		s->limit = (s->limit << 12) | 0xfff;
}

static int setup_sregs(int fd, struct cvm_errbuf *err)
{
	struct kvm_sregs s;
	int rc = kvm_ioctl(fd, KVM_GET_SREGS, &s);

	if (rc)
		return errf(err, rc, "KVM_GET_SREGS: %s", strerror(-rc));
	seg_from_gdt(&s.cs, SEL_CODE);
	seg_from_gdt(&s.ds, SEL_DATA);
	s.es = s.fs = s.gs = s.ss = s.ds;
	seg_from_gdt(&s.tr, SEL_TSS);
	s.gdt.base = X86_BOOT_GDT;
	s.gdt.limit = sizeof(boot_gdt) - 1;
	s.idt.base = X86_BOOT_IDT;
	s.idt.limit = 7;
	s.cr0 = (s.cr0 & ~(CR0_CD | CR0_NW)) | CR0_PE | CR0_ET | CR0_PG;
	s.cr3 = X86_PML4;
	s.cr4 |= CR4_PAE;
	s.efer |= EFER_LME | EFER_LMA;
	rc = kvm_ioctl(fd, KVM_SET_SREGS, &s);
	if (rc)
		return errf(err, rc, "KVM_SET_SREGS (64-bit mode): %s", strerror(-rc));
	return 0;
}

static int setup_msrs(int fd, struct cvm_errbuf *err)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 /* fast strings */ },
		{ MSR_MTRR_DEF_TYPE, (1 << 11) | 6 /* MTRRs on, default write-back */ },
	};
	const unsigned int n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));

	if (!msrs)
		return errf(err, -ENOMEM, "out of memory");
	msrs->nmsrs = n;
	for (unsigned int i = 0; i < n; i++) {
		msrs->entries[i].index = boot_msrs[i].index;
		msrs->entries[i].data = boot_msrs[i].data;
	}
	int rc = kvm_ioctl(fd, KVM_SET_MSRS, msrs);

	free(msrs);
	if (rc < 0)
		return errf(err, rc, "KVM_SET_MSRS: %s", strerror(-rc));
	if ((unsigned int)rc != n)
		return errf(err, -EIO, "KVM_SET_MSRS set %d of %u boot MSRs (MSR 0x%x refused)", rc,
			    n, boot_msrs[rc].index);
	return 0;
}

static void lapic_set_lvt(struct kvm_lapic_state *l, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], sizeof(v));
	v = (v & ~0x10700u) | (mode << 8); /* delivery mode, unmasked */
	memcpy(&l->regs[reg], &v, sizeof(v));
}

static int setup_lapic(int fd, struct cvm_errbuf *err)
{
	struct kvm_lapic_state l;
	int rc = kvm_ioctl(fd, KVM_GET_LAPIC, &l);

	if (rc)
		return errf(err, rc, "KVM_GET_LAPIC: %s", strerror(-rc));
	lapic_set_lvt(&l, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_lvt(&l, APIC_LVT1, APIC_MODE_NMI);
	rc = kvm_ioctl(fd, KVM_SET_LAPIC, &l);
	if (rc)
		return errf(err, rc, "KVM_SET_LAPIC: %s", strerror(-rc));
	return 0;
}

int x86_setup_vcpu_boot(int fd, uint64_t entry, uint64_t boot_params, struct cvm_errbuf *err)
{
	struct kvm_regs r = {
		.rflags = 0x2,
		.rip = entry,
		.rsp = X86_BOOT_STACK,
		.rbp = X86_BOOT_STACK,
		.rsi = boot_params,
	};
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	int rc;

	rc = setup_msrs(fd, err);
	if (rc)
		return rc;
	rc = setup_sregs(fd, err);
	if (rc)
		return rc;
	rc = kvm_ioctl(fd, KVM_SET_REGS, &r);
	if (rc)
		return errf(err, rc, "KVM_SET_REGS: %s", strerror(-rc));
	rc = kvm_ioctl(fd, KVM_SET_FPU, &fpu);
	if (rc)
		return errf(err, rc, "KVM_SET_FPU: %s", strerror(-rc));
	return setup_lapic(fd, err);
}

int x86_gva_to_gpa(const struct guest_mem *m, const struct kvm_sregs *s, uint64_t gva,
		   uint64_t *gpa)
{
	if (!(s->cr0 & CR0_PG)) {
		*gpa = gva & 0xffffffffULL;
		return 0;
	}
	if (!(s->efer & EFER_LMA)) {
		return -EFAULT; /* 32-bit paging: not needed for a 64-bit boot */
	}

	uint64_t table = s->cr3 & 0x000ffffffffff000ULL;

	for (int level = 3; level >= 0; level--) {
		unsigned int idx = (gva >> (12 + 9 * level)) & 0x1ff;
		uint64_t e;

		if (gmem_read(m, table + idx * 8ULL, &e, sizeof(e)))
			return -EFAULT;
		if (!(e & PTE_P))
			return -EFAULT;
		uint64_t addr = e & 0x000ffffffffff000ULL;

		if ((level == 1 || level == 2) && (e & PTE_PS)) {
			uint64_t size = 1ULL << (12 + 9 * level);

			*gpa = (addr & ~(size - 1)) | (gva & (size - 1));
			return 0;
		}
		if (level == 0) {
			*gpa = addr | (gva & 0xfff);
			return 0;
		}
		table = addr;
	}
	return -EFAULT;
}
