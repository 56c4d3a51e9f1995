/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The guest test program's mini libc: port I/O, COM1 output and input,
 * printf, string helpers, the command line, interrupts and reset.
 *
 * Everything here runs in guest ring 0, which the nested KVM of our test
 * hosts emulates at about two million instructions a second, and every port
 * access is an exit of about 15 us: keep loops short and bounded.
 */
#ifndef CVM_GUEST_H
#define CVM_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#define COM1 0x3f8
#define UART_RBR 0 /* read, DLAB=0 */
#define UART_THR 0 /* write, DLAB=0 */
#define UART_IER 1
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

/* sti; hlt as one pair, so an interrupt between them cannot be missed. */
static inline void sti_hlt(void)
{
	__asm__ volatile("sti; hlt" : : : "memory");
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

/* string.c */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* Whether all @n bytes at @p are @v. */
bool mem_all(const void *p, size_t n, uint8_t v);

/* console.c */
void putc_serial(char c);
void puts_serial(const char *s);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Returns the byte, or -1 when none arrived within @max_polls LSR reads. */
int getc_serial(unsigned long max_polls);

/* Prints "PASS name" / "FAIL name: why". */
void pass(const char *name);
void fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets the VM through the i8042 (never returns). */
__attribute__((noreturn)) void reset(void);

/*
 * cmdline_get() - the value of KEY=VALUE on the command line, copied into
 * @buf (NUL-terminated); returns its length or -1 when KEY is absent.
 */
int cmdline_get(const struct boot_params *bp, const char *key, char *buf, size_t size);
const char *cmdline(const struct boot_params *bp);

/* Interrupts (idt.c): a 256-entry IDT whose stubs call the handler below. */
struct irq_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*irq_handler_fn)(struct irq_frame *f);

/* Loads the IDT; vectors without a handler print FAIL @test and reset. */
void idt_install(const char *test);
void idt_set_handler(unsigned int vector, irq_handler_fn fn);

/* 8259: remap master to 0x20, slave to 0x28, mask all but @unmask (bit n = IRQ n). */
void pic_init(uint16_t unmask);
void pic_eoi(unsigned int irq);
/* The 8259s' interrupt request and in-service registers (slave in bits 8..15). */
uint16_t pic_read_irr(void);
uint16_t pic_read_isr(void);
/* PIT channel 0 periodic at @hz, on IRQ 0. */
void pit_start(unsigned int hz);
void pit_stop(void);

/* CRC-32 (zlib's) */
uint32_t crc32(uint32_t crc, const uint8_t *p, size_t n);

/* The tests. */
struct guest_test {
	const char *name;
	void (*run)(const struct boot_params *bp);
};

void test_serial_out(const struct boot_params *bp);
void test_serial_in(const struct boot_params *bp);
void test_serial_eof(const struct boot_params *bp);
void test_serial_irq(const struct boot_params *bp);
void test_bootparams(const struct boot_params *bp);
void test_initrd(const struct boot_params *bp);
void test_rtc(const struct boot_params *bp);
void test_reset(const struct boot_params *bp);
void test_triple_fault(const struct boot_params *bp);
void test_int3(const struct boot_params *bp);
void test_spin(const struct boot_params *bp);
void test_cpuid(const struct boot_params *bp);
void test_unhandled_io(const struct boot_params *bp);
void test_flood(const struct boot_params *bp);
void test_poweroff(const struct boot_params *bp);
/* t_smp.c, t_blk.c (hw.h: ACPI, PCI, virtio-pci) */
void test_smp(const struct boot_params *bp);
void test_blk_read(const struct boot_params *bp);
void test_blk_write(const struct boot_params *bp);
void test_blk_errors(const struct boot_params *bp);
void test_blk_mq(const struct boot_params *bp);
void test_blk_multi(const struct boot_params *bp);
void test_blk_msix(const struct boot_params *bp);
void test_blk_intx(const struct boot_params *bp);
void test_blk_event_idx(const struct boot_params *bp);
void test_blk_indirect(const struct boot_params *bp);
void test_blk_discard(const struct boot_params *bp);
void test_blk_discard_ro(const struct boot_params *bp);
void test_blk_deep(const struct boot_params *bp);
/* t_fault.c: virtio-blk under host-side faults */
void test_fault_fill(const struct boot_params *bp);
void test_fault_eio(const struct boot_params *bp);
void test_fault_flushed(const struct boot_params *bp);
/* Writes, flushes and reads back sector 1 of vda; 0, or -1 with FAIL @t printed. */
int fault_blk_check(const char *t);
/* t_ticks.c */
void test_ticks(const struct boot_params *bp);
/* t_vsock.c */
void test_vsock_echo_out(const struct boot_params *bp);
void test_vsock_echo_in(const struct boot_params *bp);
void test_vsock_stall(const struct boot_params *bp);
void test_vsock_reset(const struct boot_params *bp);
/* t_rng.c */
void test_rng(const struct boot_params *bp);
void test_rng_absent(const struct boot_params *bp);
/* t_wl*.c (wl.h): virtio-wayland against the compositor of tests/integration/test_wl*.c */
void test_wl(const struct boot_params *bp);
void test_wl_bad_pool(const struct boot_params *bp);
void test_wl_garbage(const struct boot_params *bp);
void test_wl_spurious(const struct boot_params *bp);
void test_wl_msix(const struct boot_params *bp);
void test_wl_event_idx(const struct boot_params *bp);
void test_wl_chains(const struct boot_params *bp);
void test_wl_many(const struct boot_params *bp);
void test_wl_held(const struct boot_params *bp);
void test_wl_bar_move(const struct boot_params *bp);
void test_wl_noshm(const struct boot_params *bp);
void test_wl_legacy(const struct boot_params *bp);
void test_wl_reset(const struct boot_params *bp);
void test_wl_host_fds(const struct boot_params *bp);
void test_wl_pipe(const struct boot_params *bp);
void test_wl_flood(const struct boot_params *bp);
void test_wl_shot(const struct boot_params *bp);
void test_wl_compositor_gone(const struct boot_params *bp);
void test_wl_absent(const struct boot_params *bp);
/* t_sandbox.c */
void test_sandbox_trip(const struct boot_params *bp);
/* t_custom.c: the devices of examples/custom_pio.c and examples/custom_virtio.c */
void test_custom_pio(const struct boot_params *bp);
void test_custom_virtio(const struct boot_params *bp);
/* t_net.c */
void test_net(const struct boot_params *bp);
void test_net_tso(const struct boot_params *bp);
void test_net_mrg(const struct boot_params *bp);
void test_net_link(const struct boot_params *bp);
void test_net_gone(const struct boot_params *bp);
void test_net_bench(const struct boot_params *bp);
/* t_bench.c (user.h: ring 3) */
void test_bench_exit(const struct boot_params *bp);
void test_bench_exit_mmio(const struct boot_params *bp);
void test_bench_exit_r0(const struct boot_params *bp);
void test_user_mode(const struct boot_params *bp);
/* The number of iterations asked for (cvm.n=N), else @dflt. */
unsigned long bench_n(const struct boot_params *bp, unsigned long dflt);
/* t_bench_blk.c: the guest half of bench/blk.c (ring 3, user.h) */
void test_bench_blk(const struct boot_params *bp);
/*
 * The TSC rate (kHz) for the bench tests: kvmclock's, CPUID 0x40000010's,
 * CPUID 0x15's, else @pit (*@source says which); bench_pit_khz() measures
 * it with PIT channel 2 (~55 ms; 0: no PIT). Ring 0, interrupts masked.
 */
uint64_t bench_pit_khz(void);
uint64_t bench_tsc_khz(const char **source, uint64_t pit);
/*
 * bench_clock() - mask the PIC (no interrupt may reach ring 3), find the
 * TSC rate and print "BENCH @name tsc_khz K source S pit_khz P"; 0 (after
 * fail(@t)) when it cannot be told.
 */
uint64_t bench_clock(const char *t, const char *name);
/* t_bench_wl.c: the guest half of bench/wl.c (ring 3, user.h) */
void test_bench_wl(const struct boot_params *bp);
/* t_evil_*.c: the malicious-guest suite (t_evil.h) */
void test_evil_vq_blk(const struct boot_params *bp);
void test_evil_vq_rng(const struct boot_params *bp);
void test_evil_vq_vsock(const struct boot_params *bp);
void test_evil_vq_net(const struct boot_params *bp);
void test_evil_regs(const struct boot_params *bp);
void test_evil_msix(const struct boot_params *bp);
void test_evil_reset(const struct boot_params *bp);
void test_evil_ports(const struct boot_params *bp);
void test_evil_mmio_lo(const struct boot_params *bp);
void test_evil_mmio_hi(const struct boot_params *bp);

#endif
