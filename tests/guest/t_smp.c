// SPDX-License-Identifier: BSD-3-Clause
/*
 * smp: count the CPUs the MADT lists and start every application processor
 * the way a kernel does: INIT, then two STARTUP IPIs through the xAPIC's ICR,
 * into a real-mode trampoline below 1 MiB (trampoline.S). Each AP prints
 * "AP <apic id> up", counts itself and halts; the BSP prints "CPUS <n>".
 */
#include "hw.h"

#define TRAMPOLINE_BASE 0x10000UL /* must match trampoline.S */
#define MAX_AP 16
#define AP_STACK 8192

extern const char trampoline_start[], trampoline_end[], tr_cr3[], tr_stack[], tr_entry[];

static uint8_t ap_stacks[MAX_AP][AP_STACK] __attribute__((aligned(16)));
static volatile uint32_t print_lock;
static volatile uint32_t ap_count;
static volatile uint32_t ap_seen_id;

static void lock(void)
{
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		while (print_lock)
			cpu_relax();
}

static void unlock(void)
{
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

void ap_main(void);

void ap_main(void)
{
	uint32_t id = lapic_read(LAPIC_ID) >> 24;

	lock();
	printf("AP %u up\n", id);
	unlock();
	ap_seen_id = id;
	__atomic_fetch_add(&ap_count, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Sends one IPI and waits (bounded) for the ICR's delivery status to clear. */
static int send_ipi(uint32_t apic_id, uint32_t lo)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	for (int i = 0; i < 10000; i++) {
		if (!(lapic_read(LAPIC_ICR_LO) & LAPIC_ICR_BUSY))
			return 0;
		cpu_relax();
	}
	return -1;
}

static void *tr_field(const char *sym)
{
	return (void *)(TRAMPOLINE_BASE + (uintptr_t)(sym - trampoline_start));
}

static int start_ap(const char *t, uint32_t id, unsigned int k)
{
	uint32_t before = ap_count;
	uint64_t stack = (uintptr_t)&ap_stacks[k][AP_STACK];
	uint64_t entry = (uintptr_t)ap_main;
	unsigned long i;

	memcpy(tr_field(tr_stack), &stack, 8);
	memcpy(tr_field(tr_entry), &entry, 8);
	ap_seen_id = 0xffffffffu;
	mb();
	/* INIT assert, INIT de-assert (level), as Linux's wakeup_secondary_cpu_via_init(). */
	if (send_ipi(id, 0x0000c500)) {
		fail(t, "INIT to APIC %u: ICR still busy", id);
		return -1;
	}
	delay_loops(10000);
	if (send_ipi(id, 0x00008500)) {
		fail(t, "INIT de-assert to APIC %u: ICR still busy", id);
		return -1;
	}
	for (int sipi = 0; sipi < 2; sipi++) {
		if (send_ipi(id, 0x00000600 | (uint32_t)(TRAMPOLINE_BASE >> 12))) {
			fail(t, "SIPI %d to APIC %u: ICR still busy", sipi + 1, id);
			return -1;
		}
		delay_loops(300);
	}
	for (i = 0; i < 5000000UL && ap_count == before; i++)
		cpu_relax();
	if (ap_count == before) {
		fail(t, "AP with APIC id %u did not come up after INIT-SIPI-SIPI", id);
		return -1;
	}
	if (ap_seen_id != id) {
		fail(t, "started APIC id %u but the AP says its id is %u", id, ap_seen_id);
		return -1;
	}
	return 0;
}

void test_smp(const struct boot_params *bp)
{
	const char *t = "smp";
	struct acpi_cpus c;
	char why[200];
	uint32_t bsp, aps = 0;
	uint64_t cr3;
	int bsp_listed = 0;

	if (acpi_read_madt(bp, &c, why, sizeof(why))) {
		fail(t, "%s", why);
		return;
	}
	printf("MADT cpus %u disabled %u ioapics %u ioapic 0x%x lapic 0x%x\n", c.n, c.disabled,
	       c.ioapics, c.ioapic_addr, c.lapic_addr);
	if (!c.n) {
		fail(t, "the MADT lists no enabled local APIC");
		return;
	}
	if (c.n > ARRAY_SIZE(c.apic_id) || c.n > MAX_AP + 1) {
		fail(t, "the MADT lists %u CPUs; this test starts at most %d", c.n, MAX_AP + 1);
		return;
	}
	if (c.ioapics != 1 || c.ioapic_addr != 0xfec00000u) {
		fail(t, "want one I/O APIC at 0xfec00000, MADT has %u (first at 0x%x)", c.ioapics,
		     c.ioapic_addr);
		return;
	}
	if (c.lapic_addr != LAPIC_BASE) {
		fail(t, "MADT local APIC address 0x%x, want 0x%lx", c.lapic_addr, LAPIC_BASE);
		return;
	}
	bsp = lapic_read(LAPIC_ID) >> 24;
	for (unsigned int i = 0; i < c.n; i++) {
		for (unsigned int j = 0; j < i; j++) {
			if (c.apic_id[i] == c.apic_id[j]) {
				fail(t, "APIC id %u listed twice", c.apic_id[i]);
				return;
			}
		}
		if (c.apic_id[i] == bsp)
			bsp_listed = 1;
	}
	if (!bsp_listed) {
		fail(t, "the BSP's APIC id %u is not in the MADT", bsp);
		return;
	}

	lapic_write(LAPIC_SVR, 0x1ff); /* software-enabled, spurious vector 0xff */
	memcpy((void *)TRAMPOLINE_BASE, trampoline_start,
	       (size_t)(trampoline_end - trampoline_start));
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	if (cr3 >= 0x100000000ULL) {
		fail(t, "CR3 0x%llx is beyond what a 32-bit mov to CR3 loads",
		     (unsigned long long)cr3);
		return;
	}
	memcpy(tr_field(tr_cr3), &cr3, 8);

	for (unsigned int i = 0; i < c.n; i++) {
		if (c.apic_id[i] == bsp)
			continue;
		if (start_ap(t, c.apic_id[i], aps))
			return;
		aps++;
	}
	lock();
	printf("CPUS %u\n", 1 + ap_count);
	unlock();
	if (ap_count != aps)
		fail(t, "%u APs started, %u counted themselves", aps, ap_count);
	else
		pass(t);
}
