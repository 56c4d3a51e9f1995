// SPDX-License-Identifier: BSD-3-Clause
/*
 * barekvm: the least a KVM VMM has to do to run guest code, as the floor
 * ("bare-KVM") that the benchmarks compare libcvm and QEMU with. It opens
 * /dev/kvm, creates a VM with one memory slot (a memfd, like libcvm's guest
 * RAM), one vCPU in 64-bit long mode (identity page tables, 2 MiB pages, set
 * through KVM_SET_SREGS: no firmware, no real mode), copies a hand-assembled
 * stub into guest RAM and runs it. No in-kernel irqchip, no PIT, no CPUID
 * table: none of the stubs needs them.
 *
 *   barekvm --startup MiB   write 'B' to COM1 (port 0x3f8), then to the done
 *                           port (0xf4): the process exits 0
 *   barekvm --spin MiB      write "SPIN\n" to COM1 and halt; exit 0 on
 *                           SIGTERM or SIGINT (for the memory benchmark)
 *   --irqchip before|after  also create the in-kernel irqchip and PIT
 *                           (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2), before
 *                           the memory slot (as libcvm does) or after it:
 *                           what they cost in the kernel, for comparison
 *   barekvm --exit MiB      ring 3: N (from $BAREKVM_N, default 100000)
 *                           `out` to port 0x80, timed with the TSC: prints
 *                           "BENCH exit N n cycles c per_exit c/n" (exit_rtt)
 *   barekvm --exit_r0 MiB   the same in ring 0
 *   barekvm --exit_mmio MiB ring 3: N reads of GPA 0xd0000000 (nothing there)
 *   -v                      time every step on stderr
 *   --timeout SEC           give up (exit 1) after SEC seconds (default 10)
 *
 * Every byte the guest writes to port 0x3f8 goes to stdout at once, so the
 * "first serial byte" of bench/startup means the same for all VMMs.
 *
 * A new mode is one entry of modes[] below: its guest code (64-bit, loaded
 * at CODE_GPA, running in ring 0 with RSP = STACK_GPA) and, if the common
 * port handling (COM1 to stdout, the done port ends the run) is not enough,
 * its own out/hlt handlers.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PML4_GPA 0x1000
#define PDPT_GPA 0x2000
#define PD_GPA 0x3000
#define CODE_GPA 0x8000
#define STACK_GPA 0x80000

#define PORT_COM1 0x3f8
#define PORT_DONE 0xf4

struct bare {
	int kvm, vm, vcpu, memfd;
	uint8_t *ram;
	size_t ram_size;
	struct kvm_run *run;
	bool verbose;
	int irqchip; /* 0: none; IRQCHIP_BEFORE or IRQCHIP_AFTER the memory slot */
	double t_start, t_last;
};

enum { IRQCHIP_BEFORE = 1, IRQCHIP_AFTER = 2 };

/* ---- modes ---------------------------------------------------------------- */

/* What a handler tells the run loop. */
enum { GO_ON = 0, DONE = 1, FAIL = -1 };

struct mode {
	const char *name; /* the option: --NAME MiB */
	const char *help;
	const uint8_t *code;
	size_t code_len;
	/* A port write of the guest; NULL: common_out. */
	int (*out)(struct bare *b, uint16_t port, const uint8_t *data, uint32_t size);
	/* The guest executed hlt; NULL: an error. */
	int (*hlt)(struct bare *b);
};

/* mov dx, 0x3f8; mov al, 'B'; out dx, al; mov dx, 0xf4; out dx, al; 1: hlt; jmp 1b */
static const uint8_t startup_code[] = {
	0x66, 0xba, 0xf8, 0x03, 0xb0, 'B', 0xee, 0x66, 0xba, 0xf4, 0x00, 0xee, 0xf4, 0xeb, 0xfd,
};

/* mov dx, 0x3f8; (mov al, c; out dx, al) for "SPIN\n"; 1: hlt; jmp 1b */
static const uint8_t spin_code[] = {
	0x66, 0xba, 0xf8, 0x03, 0xb0, 'S',  0xee, 0xb0, 'P',  0xee, 0xb0,
	'I',  0xee, 0xb0, 'N',	0xee, 0xb0, '\n', 0xee, 0xf4, 0xeb, 0xfd,
};

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
	g_signal = sig;
}

/* spin: the guest is up and halted; wait for SIGTERM/SIGINT (or the timeout). */
static int spin_hlt(struct bare *b)
{
	sigset_t none;

	(void)b;
	sigemptyset(&none);
	while (!g_signal)
		sigsuspend(&none);
	return g_signal == SIGALRM ? FAIL : DONE;
}

/*
 * exit, exit_r0, exit_mmio (bench/exit_rtt): N guest accesses that each exit
 * to this process, which does nothing with them, timed with the guest's
 * TSC, as tests/guest/t_bench.c does under libcvm and QEMU. The stub asks
 * for N (out 0x81: the VMM stores it at 0x7000; N from $BAREKVM_N, default
 * 100000), then exit and exit_mmio enter ring 3 (U bit in the page tables
 * of the first 2 MiB, a GDT with user segments, iretq with IOPL 3) and run
 * N `out %al, $0x80` (exit) or N 32-bit reads of GPA 0xd0000000, where
 * nothing is (exit_mmio); exit_r0 runs the `out` loop in ring 0. The loop
 * leaves N in RBX and the TSC before and after it in RSI and RDI, and
 * writes to the done port: the VMM prints
 * "BENCH <mode> N <n> cycles <c> per_exit <c/n>" and "PASS bench_<mode>".
 * (Ring-3 `out` needs no TSS: on a KVM that honours IOPL 3 it is allowed;
 * on kvm_pvm, which faults it to its emulator, the emulator reads the I/O
 * bitmap of the reset-state TSS, at guest address 0 of the zeroed RAM, which
 * allows every port.)
 */
#define PORT_POST 0x80
#define PORT_EXIT_N 0x81
#define EXIT_N_GPA 0x7000

/* clang-format off */
static const uint8_t exit_code[] = {
	0x48, 0x83, 0x0c, 0x25, 0x00, 0x10, 0x00, 0x00, 0x04, /* orq $0x4,0x1000: U in PML4[0], */
	0x48, 0x83, 0x0c, 0x25, 0x00, 0x20, 0x00, 0x00, 0x04, /* orq $0x4,0x2000: PDPT[0], */
	0x48, 0x83, 0x0c, 0x25, 0x00, 0x30, 0x00, 0x00, 0x04, /* orq $0x4,0x3000: PD[0] */
	0x0f, 0x20, 0xd8, /* mov %cr3,%rax */
	0x0f, 0x22, 0xd8, /* mov %rax,%cr3 */
	0x48, 0x8d, 0x05, 0x60, 0x00, 0x00, 0x00, /* lea gdt(%rip),%rax */
	0x48, 0x83, 0xec, 0x10, /* sub $0x10,%rsp */
	0x48, 0x89, 0x44, 0x24, 0x02, /* mov %rax,0x2(%rsp) */
	0x66, 0xc7, 0x04, 0x24, 0x2f, 0x00, /* movw $0x2f,(%rsp) */
	0x0f, 0x01, 0x14, 0x24, /* lgdt (%rsp) */
	0x48, 0x83, 0xc4, 0x10, /* add $0x10,%rsp */
	0xe6, 0x81, /* out %al,$0x81: N to 0x7000, please */
	0x6a, 0x23, /* push $0x23 */
	0x68, 0x00, 0x00, 0x08, 0x00, /* push $0x80000 */
	0x68, 0x02, 0x30, 0x00, 0x00, /* push $0x3002: IOPL 3 */
	0x6a, 0x2b, /* push $0x2b */
	0x48, 0x8d, 0x05, 0x03, 0x00, 0x00, 0x00, /* lea user(%rip),%rax */
	0x50, /* push %rax */
	0x48, 0xcf, /* iretq */
	0x48, 0x8b, 0x0c, 0x25, 0x00, 0x70, 0x00, 0x00, /* mov 0x7000,%rcx: N */
	0x48, 0x89, 0xcb, /* mov %rcx,%rbx */
	0x0f, 0x31, /* rdtsc */
	0x48, 0xc1, 0xe2, 0x20, /* shl $0x20,%rdx */
	0x48, 0x09, 0xc2, /* or %rax,%rdx */
	0x48, 0x89, 0xd6, /* mov %rdx,%rsi */
	0xe6, 0x80, /* out %al,$0x80 */
	0x48, 0xff, 0xc9, /* dec %rcx */
	0x75, 0xf9, /* jnz (the loop) */
	0x0f, 0x31, /* rdtsc */
	0x48, 0xc1, 0xe2, 0x20, /* shl $0x20,%rdx */
	0x48, 0x09, 0xc2, /* or %rax,%rdx */
	0x48, 0x89, 0xd7, /* mov %rdx,%rdi */
	0xe6, 0xf4, /* out %al,$0xf4 */
	0xeb, 0xfe, /* jmp . */
	0x90, /* (padding) */
	/* gdt: null, 0x08 code, 0x10 data, -, 0x20 user data, 0x28 user code */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0xaf, 0x00,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x93, 0xcf, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0x00, 0x00, 0x00, 0xf3, 0xcf, 0x00,
	0xff, 0xff, 0x00, 0x00, 0x00, 0xfb, 0xaf, 0x00,
};
static const uint8_t exit_mmio_code[] = {
	0x48, 0x83, 0x0c, 0x25, 0x00, 0x10, 0x00, 0x00, 0x04, /* orq $0x4,0x1000: U in PML4[0], */
	0x48, 0x83, 0x0c, 0x25, 0x00, 0x20, 0x00, 0x00, 0x04, /* orq $0x4,0x2000: PDPT[0], */
	0x48, 0x83, 0x0c, 0x25, 0x00, 0x30, 0x00, 0x00, 0x04, /* orq $0x4,0x3000: PD[0] */
	0x48, 0xb8, 0x87, 0x00, 0x00, 0xd0, 0x00, 0x00, 0x00, 0x00, /* movabs $0xd0000087,%rax: PD[511], */
	0x48, 0x89, 0x04, 0x25, 0xf8, 0x3f, 0x00, 0x00, /* mov %rax,0x3ff8: VA 0x3fe00000 -> GPA 0xd0000000 */
	0x0f, 0x20, 0xd8, /* mov %cr3,%rax */
	0x0f, 0x22, 0xd8, /* mov %rax,%cr3 */
	0x48, 0x8d, 0x05, 0x66, 0x00, 0x00, 0x00, /* lea gdt(%rip),%rax */
	0x48, 0x83, 0xec, 0x10, /* sub $0x10,%rsp */
	0x48, 0x89, 0x44, 0x24, 0x02, /* mov %rax,0x2(%rsp) */
	0x66, 0xc7, 0x04, 0x24, 0x2f, 0x00, /* movw $0x2f,(%rsp) */
	0x0f, 0x01, 0x14, 0x24, /* lgdt (%rsp) */
	0x48, 0x83, 0xc4, 0x10, /* add $0x10,%rsp */
	0xe6, 0x81, /* out %al,$0x81: N to 0x7000, please */
	0x6a, 0x23, /* push $0x23 */
	0x68, 0x00, 0x00, 0x08, 0x00, /* push $0x80000 */
	0x68, 0x02, 0x30, 0x00, 0x00, /* push $0x3002: IOPL 3 */
	0x6a, 0x2b, /* push $0x2b */
	0x48, 0x8d, 0x05, 0x03, 0x00, 0x00, 0x00, /* lea user(%rip),%rax */
	0x50, /* push %rax */
	0x48, 0xcf, /* iretq */
	0x48, 0x8b, 0x0c, 0x25, 0x00, 0x70, 0x00, 0x00, /* mov 0x7000,%rcx: N */
	0x48, 0x89, 0xcb, /* mov %rcx,%rbx */
	0x0f, 0x31, /* rdtsc */
	0x48, 0xc1, 0xe2, 0x20, /* shl $0x20,%rdx */
	0x48, 0x09, 0xc2, /* or %rax,%rdx */
	0x48, 0x89, 0xd6, /* mov %rdx,%rsi */
	0x8b, 0x04, 0x25, 0x00, 0x00, 0xe0, 0x3f, /* mov 0x3fe00000,%eax */
	0x48, 0xff, 0xc9, /* dec %rcx */
	0x75, 0xf4, /* jnz (the loop) */
	0x0f, 0x31, /* rdtsc */
	0x48, 0xc1, 0xe2, 0x20, /* shl $0x20,%rdx */
	0x48, 0x09, 0xc2, /* or %rax,%rdx */
	0x48, 0x89, 0xd7, /* mov %rdx,%rdi */
	0xe6, 0xf4, /* out %al,$0xf4 */
	0xeb, 0xfe, /* jmp . */
	0x66, 0x90, /* (padding) */
	/* gdt: null, 0x08 code, 0x10 data, -, 0x20 user data, 0x28 user code */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0xaf, 0x00,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x93, 0xcf, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0x00, 0x00, 0x00, 0xf3, 0xcf, 0x00,
	0xff, 0xff, 0x00, 0x00, 0x00, 0xfb, 0xaf, 0x00,
};
static const uint8_t exit_r0_code[] = {
	0xe6, 0x81, /* out %al,$0x81: N to 0x7000, please */
	0x48, 0x8b, 0x0c, 0x25, 0x00, 0x70, 0x00, 0x00, /* mov 0x7000,%rcx: N */
	0x48, 0x89, 0xcb, /* mov %rcx,%rbx */
	0x0f, 0x31, /* rdtsc */
	0x48, 0xc1, 0xe2, 0x20, /* shl $0x20,%rdx */
	0x48, 0x09, 0xc2, /* or %rax,%rdx */
	0x48, 0x89, 0xd6, /* mov %rdx,%rsi */
	0xe6, 0x80, /* out %al,$0x80 */
	0x48, 0xff, 0xc9, /* dec %rcx */
	0x75, 0xf9, /* jnz (the loop) */
	0x0f, 0x31, /* rdtsc */
	0x48, 0xc1, 0xe2, 0x20, /* shl $0x20,%rdx */
	0x48, 0x09, 0xc2, /* or %rax,%rdx */
	0x48, 0x89, 0xd7, /* mov %rdx,%rdi */
	0xe6, 0xf4, /* out %al,$0xf4 */
	0xeb, 0xfe, /* jmp . */
};
/* clang-format on */

static int common_out(struct bare *b, uint16_t port, const uint8_t *data, uint32_t size);

static int exit_out(struct bare *b, const char *kind, uint16_t port, const uint8_t *data,
		    uint32_t size)
{
	struct kvm_regs regs;
	const char *env;
	uint64_t n = 100000, c;

	if (port == PORT_POST)
		return GO_ON;
	if (port == PORT_EXIT_N) {
		env = getenv("BAREKVM_N");
		if (env && strtoull(env, NULL, 10) > 0)
			n = strtoull(env, NULL, 10);
		memcpy(b->ram + EXIT_N_GPA, &n, sizeof(n));
		return GO_ON;
	}
	if (port != PORT_DONE)
		return common_out(b, port, data, size);
	if (ioctl(b->vcpu, KVM_GET_REGS, &regs)) {
		perror("barekvm: KVM_GET_REGS");
		return FAIL;
	}
	n = regs.rbx;
	c = regs.rdi - regs.rsi;
	printf("BENCH %s N %llu cycles %llu per_exit %llu\nPASS bench_%s\n", kind,
	       (unsigned long long)n, (unsigned long long)c, (unsigned long long)(n ? c / n : 0),
	       kind);
	fflush(stdout);
	return DONE;
}

static int exit3_out(struct bare *b, uint16_t port, const uint8_t *data, uint32_t size)
{
	return exit_out(b, "exit", port, data, size);
}

static int exit0_out(struct bare *b, uint16_t port, const uint8_t *data, uint32_t size)
{
	return exit_out(b, "exit_r0", port, data, size);
}

static int exitm_out(struct bare *b, uint16_t port, const uint8_t *data, uint32_t size)
{
	return exit_out(b, "exit_mmio", port, data, size);
}

static const struct mode modes[] = {
	{ "startup", "write 'B' to COM1, then to the done port: exit 0", startup_code,
	  sizeof(startup_code), NULL, NULL },
	{ "spin", "write \"SPIN\\n\" to COM1 and halt until SIGTERM/SIGINT", spin_code,
	  sizeof(spin_code), NULL, spin_hlt },
	{ "exit", "ring 3: $BAREKVM_N (100000) outs to port 0x80, timed: print cycles per exit",
	  exit_code, sizeof(exit_code), exit3_out, NULL },
	{ "exit_r0", "the same in ring 0", exit_r0_code, sizeof(exit_r0_code), exit0_out, NULL },
	{ "exit_mmio", "ring 3: $BAREKVM_N reads of GPA 0xd0000000 (nothing there), timed",
	  exit_mmio_code, sizeof(exit_mmio_code), exitm_out, NULL },
};

/* COM1 bytes go to stdout at once; the done port ends the run. */
static int common_out(struct bare *b, uint16_t port, const uint8_t *data, uint32_t size)
{
	(void)b;
	if (port == PORT_COM1) {
		if (write(STDOUT_FILENO, data, size) < 0 && errno != EPIPE)
			return FAIL;
		return GO_ON;
	}
	if (port == PORT_DONE)
		return DONE;
	fprintf(stderr, "barekvm: unexpected write to port %#x\n", port);
	return FAIL;
}

/* ---- KVM ------------------------------------------------------------------ */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void step(struct bare *b, const char *what)
{
	double t;

	if (!b->verbose)
		return;
	t = now_us();
	fprintf(stderr, "barekvm: %-28s %8.0f us (at %8.0f us)\n", what, t - b->t_last,
		t - b->t_start);
	b->t_last = t;
}

static int fail(const char *what)
{
	fprintf(stderr, "barekvm: %s: %s\n", what, strerror(errno));
	return -1;
}

static void seg(struct kvm_segment *s, bool code)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffff;
	s->selector = code ? 0x08 : 0x10;
	s->type = code ? 11 : 3; /* execute/read, accessed; read/write, accessed */
	s->present = 1;
	s->s = 1;
	s->l = code;
	s->db = !code;
	s->g = 1;
}

/* The in-kernel PIC, IOAPIC, local APICs and PIT. */
static int irqchip(struct bare *b)
{
	struct kvm_pit_config pit = { .flags = 0 };

	if (ioctl(b->vm, KVM_CREATE_IRQCHIP, 0))
		return fail("KVM_CREATE_IRQCHIP");
	step(b, "KVM_CREATE_IRQCHIP");
	if (ioctl(b->vm, KVM_CREATE_PIT2, &pit))
		return fail("KVM_CREATE_PIT2");
	step(b, "KVM_CREATE_PIT2");
	return 0;
}

static int setup(struct bare *b, const struct mode *m)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint64_t *pml4, *pdpt, *pd;
	int mmap_size;

	b->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (b->kvm < 0)
		return fail("/dev/kvm");
	step(b, "open /dev/kvm");
	b->vm = ioctl(b->kvm, KVM_CREATE_VM, 0);
	if (b->vm < 0)
		return fail("KVM_CREATE_VM");
	step(b, "KVM_CREATE_VM");
	if (b->irqchip == IRQCHIP_BEFORE && irqchip(b))
		return -1;

	b->memfd = memfd_create("barekvm-guest-ram", MFD_CLOEXEC);
	if (b->memfd < 0 || ftruncate(b->memfd, (off_t)b->ram_size))
		return fail("guest RAM memfd");
	b->ram = mmap(NULL, b->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->memfd, 0);
	if (b->ram == MAP_FAILED)
		return fail("mmap guest RAM");
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = b->ram_size,
		.userspace_addr = (uintptr_t)b->ram,
	};
	step(b, "memfd + mmap");
	if (ioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &region))
		return fail("KVM_SET_USER_MEMORY_REGION");
	step(b, "KVM_SET_USER_MEMORY_REGION");
	if (b->irqchip == IRQCHIP_AFTER && irqchip(b))
		return -1;

	/* Identity map of the first GiB with 2 MiB pages. */
	pml4 = (uint64_t *)(b->ram + PML4_GPA);
	pdpt = (uint64_t *)(b->ram + PDPT_GPA);
	pd = (uint64_t *)(b->ram + PD_GPA);
	pml4[0] = PDPT_GPA | 0x3; /* present, writable */
	pdpt[0] = PD_GPA | 0x3;
	for (uint64_t i = 0; i < 512 && i * (2 << 20) < b->ram_size; i++)
		pd[i] = (i * (2 << 20)) | 0x83; /* present, writable, 2 MiB */
	memcpy(b->ram + CODE_GPA, m->code, m->code_len);
	step(b, "page tables + code");

	b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
	if (b->vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	mmap_size = ioctl(b->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size <= 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	b->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
	if (b->run == MAP_FAILED)
		return fail("mmap kvm_run");
	step(b, "KVM_CREATE_VCPU + mmap");

	if (ioctl(b->vcpu, KVM_GET_SREGS, &sregs))
		return fail("KVM_GET_SREGS");
	seg(&sregs.cs, true);
	seg(&sregs.ds, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = 0x80050033; /* PG, AM, WP, NE, ET, MP, PE */
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = 0x20;   /* PAE */
	sregs.efer = 0x500; /* LME, LMA */
	if (ioctl(b->vcpu, KVM_SET_SREGS, &sregs))
		return fail("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = STACK_GPA;
	regs.rflags = 0x2;
	if (ioctl(b->vcpu, KVM_SET_REGS, &regs))
		return fail("KVM_SET_REGS");
	step(b, "KVM_SET_SREGS + KVM_SET_REGS");
	return 0;
}

static int run(struct bare *b, const struct mode *m)
{
	bool first = true;

	for (;;) {
		struct kvm_run *r = b->run;
		int rc;

		if (ioctl(b->vcpu, KVM_RUN, 0)) {
			if (errno == EINTR && !g_signal)
				continue;
			if (errno == EINTR && g_signal == SIGALRM) {
				fprintf(stderr, "barekvm: timed out\n");
				return -1;
			}
			if (errno == EINTR)
				return 0;
			return fail("KVM_RUN");
		}
		if (first) {
			step(b, "first exit");
			first = false;
		}
		switch (r->exit_reason) {
		case KVM_EXIT_IO:
			if (r->io.direction != KVM_EXIT_IO_OUT) {
				/* An IN: all ones, as from an empty bus. */
				memset((uint8_t *)r + r->io.data_offset, 0xff,
				       (size_t)r->io.size * r->io.count);
				continue;
			}
			rc = (m->out ? m->out : common_out)(b, r->io.port,
							    (const uint8_t *)r + r->io.data_offset,
							    (uint32_t)r->io.size * r->io.count);
			break;
		case KVM_EXIT_MMIO:
			/* Nothing is there: reads give all ones, writes are dropped. */
			if (!r->mmio.is_write)
				memset(r->mmio.data, 0xff, sizeof(r->mmio.data));
			continue;
		case KVM_EXIT_HLT:
			if (!m->hlt) {
				fprintf(stderr, "barekvm: the guest halted\n");
				return -1;
			}
			rc = m->hlt(b);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr, "barekvm: KVM internal error, suberror %u\n",
				r->internal.suberror);
			return -1;
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(stderr, "barekvm: entry failed, reason %#llx\n",
				(unsigned long long)r->fail_entry.hardware_entry_failure_reason);
			return -1;
		default:
			fprintf(stderr, "barekvm: unexpected exit %u\n", r->exit_reason);
			return -1;
		}
		if (rc == DONE) {
			step(b, "done");
			return 0;
		}
		if (rc == FAIL)
			return -1;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: barekvm [-v] [--timeout SEC] [--irqchip before|after] --MODE MiB\n"
		   "modes:\n");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(f, "  --%-10s %s\n", modes[i].name, modes[i].help);
}

int main(int argc, char **argv)
{
	struct bare b = { .kvm = -1, .vm = -1, .vcpu = -1, .memfd = -1 };
	const struct mode *m = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long mib = 0;
	int timeout = 10;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-v")) {
			b.verbose = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--irqchip") && i + 1 < argc) {
			i++;
			b.irqchip = !strcmp(argv[i], "before") ? IRQCHIP_BEFORE :
				    !strcmp(argv[i], "after")  ? IRQCHIP_AFTER :
								 -1;
		} else if (!strcmp(a, "--timeout") && i + 1 < argc) {
			timeout = atoi(argv[++i]);
		} else if (!strncmp(a, "--", 2) && i + 1 < argc && !m) {
			for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++)
				if (!strcmp(a + 2, modes[k].name))
					m = &modes[k];
			if (!m)
				break;
			mib = strtoul(argv[++i], NULL, 10);
		} else {
			m = NULL;
			break;
		}
	}
	if (!m || mib < 1 || mib > 1024 || timeout <= 0 || b.irqchip < 0) {
		usage(stderr);
		return 2;
	}
	b.ram_size = mib << 20;
	b.t_start = b.t_last = now_us();

	sigemptyset(&sa.sa_mask); /* no SA_RESTART: KVM_RUN returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned int)timeout);

	if (setup(&b, m) || run(&b, m))
		return 1;
	/* The kernel tears the VM down when the process exits, as for any VMM. */
	return 0;
}
