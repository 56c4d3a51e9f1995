// SPDX-License-Identifier: BSD-3-Clause
/* Ways a guest stops: reset, triple fault, an instruction KVM cannot emulate. */
#include "guest.h"

/* Addresses of the faulting instructions, printed so the host can match the VMM's RIP. */
extern const char triple_fault_insn[], int3_insn[];

void test_reset(const struct boot_params *bp)
{
	(void)bp;
	pass("reset");
	reset();
}

void test_triple_fault(const struct boot_params *bp)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	(void)bp;
	printf("TRIPLE_FAULT ud2 at 0x%lx with a zero-limit IDT\n",
	       (unsigned long)(uintptr_t)triple_fault_insn);
	__asm__ volatile("lidt %0\n"
			 ".globl triple_fault_insn\n"
			 "triple_fault_insn: ud2"
			 :
			 : "m"(empty)
			 : "memory");
	fail("triple_fault", "still running after ud2");
}

void test_int3(const struct boot_params *bp)
{
	(void)bp;
	printf("INT3 int3 at 0x%lx with no IDT\n", (unsigned long)(uintptr_t)int3_insn);
	__asm__ volatile(".globl int3_insn\n"
			 "int3_insn: int3"
			 :
			 :
			 : "memory");
	fail("int3", "still running after int3");
}

/* Halts with interrupts off: the vCPU sleeps inside KVM_RUN until the VMM stops it. */
void test_spin(const struct boot_params *bp)
{
	(void)bp;
	puts_serial("SPIN\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* Prints what the VMM's CPUID filtering shows; the host test checks the bits. */
void test_cpuid(const struct boot_params *bp)
{
	uint32_t r[4];

	(void)bp;
	cpuid(1, 0, r);
	printf("CPUID1 ecx=0x%x edx=0x%x apic=%u count=%u\n", r[2], r[3], r[1] >> 24,
	       (r[1] >> 16) & 0xff);
	printf("CPUID hypervisor=%u cx16=%u xsave=%u\n", (r[2] >> 31) & 1, (r[2] >> 13) & 1,
	       (r[2] >> 26) & 1);
	cpuid(0xa, 0, r);
	printf("CPUID pmu_version=%u\n", r[0] & 0xff);
	pass("cpuid");
}

/* Ports and MMIO that no device claims read as all-ones, and writes go nowhere. */
void test_unhandled_io(const struct boot_params *bp)
{
	volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)0xd0000000UL;
	uint8_t p;
	uint32_t m;

	(void)bp;
	outb(0x510, 0x12);
	p = inb(0x510);
	*mmio = 0x12345678;
	m = *mmio;
	printf("UNHANDLED port=0x%x mmio=0x%x\n", p, m);
	if (p != 0xff || m != 0xffffffffu)
		fail("unhandled_io", "expected all-ones, got port 0x%x mmio 0x%x", p, m);
	else
		pass("unhandled_io");
}

/* Prints forever: with nobody reading cvm's output, the vCPU waits for room. */
void test_flood(const struct boot_params *bp)
{
	(void)bp;
	for (unsigned long i = 0;; i++)
		printf("FLOOD %lu 0123456789abcdefghijklmnopqrstuvwxyz\n", i);
}

/* ACPI power-off as Linux does it on hardware-reduced ACPI: SLP_TYP 5 | SLP_EN. */
void test_poweroff(const struct boot_params *bp)
{
	(void)bp;
	puts_serial("POWEROFF\n");
	outb(0x600, (5 << 2) | 0x20);
	fail("poweroff", "still running after writing the sleep control register");
}
