// SPDX-License-Identifier: BSD-3-Clause
/*
 * Ring 3 for the guest test program (see user.h).
 *
 * user_enter() saves the caller's callee-saved registers, RFLAGS and data
 * segment selectors on its stack, points TSS.RSP0 and user_kernel_rsp at
 * them and `iretq`s to @fn in ring 3, with user_return as its return
 * address. user_return (where user_exit() jumps too) is a `ud2`: the #UD
 * handler (vector 6, through idt.c's dispatch) sees that RIP in ring 3 and
 * jumps, on the saved stack, to user_resume, which unwinds what
 * user_enter() pushed: user_enter() returns 0 to its caller in ring 0. The
 * frames of the exception below that stack are dropped.
 *
 * Why an exception and not a system call: on the nested KVM of our test
 * hosts (kvm_pvm), `int $0x80` in guest ring 3 raises #UD, and `syscall`
 * jumps to LSTAR but leaves the guest in ring 3 (then `in` and segment
 * loads fault). Exceptions and interrupts from ring 3 are delivered through
 * the IDT to ring 0 as on hardware. That host also shows ring 3 RFLAGS with
 * IOPL 0 and IF 1 whatever `iretq` loaded, and faults ring-3 port accesses
 * to its emulator, which then checks the TSS I/O permission bitmap: so
 * USER_IOPL sets IOPL 3 (for any other KVM) and points the TSS at a bitmap
 * that allows every port (for this one).
 *
 * The page tables are built by the assembler (.data), not at run time: a
 * loop over 2048 entries takes ~15 ms of emulated ring 0.
 */
#include "user.h"

#define SEL_KCODE 0x10
#define SEL_TSS 0x30 /* GDT entries 6 and 7 */
/* User data 0x23 and code 0x2b (GDT entries 4 and 5, RPL 3): in user_enter. */

#define RFLAGS_IF (1UL << 9)
#define RFLAGS_IOPL3 (3UL << 12)

struct tss {
	uint32_t reserved0;
	uint64_t rsp0, rsp1, rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
	uint8_t iomap[8192]; /* one bit per port, 0: allowed */
	uint8_t iomap_end;   /* 0xff */
} __attribute__((packed));

struct gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* Used by the assembly below: RSP0 is at offset 4. */
struct tss user_tss __attribute__((aligned(16)));
uint64_t user_kernel_rsp;

static uint64_t gdt[8] __attribute__((aligned(16))) = {
	0,
	0,
	0x00af9b000000ffffULL, /* 0x10: 64-bit code, DPL 0 (as in the boot GDTs) */
	0x00cf93000000ffffULL, /* 0x18: data, DPL 0 */
	0x00cff3000000ffffULL, /* 0x20: data, DPL 3 */
	0x00affb000000ffffULL, /* 0x28: 64-bit code, DPL 3 */
	0,		       /* 0x30: the TSS (16 bytes), filled in at run time */
	0,
};

static uint8_t user_stack[16384] __attribute__((aligned(16)));
static int user_ready;

extern const char isr_stubs[];
extern const char user_resume[], user_return[], user_pml4[];
int user_enter(void (*fn)(void *), void *arg, uint64_t rflags, uint64_t *rsp);

__asm__(".text\n"
	".globl user_enter\n"
	"user_enter:\n"
	"	pushq	%rbp\n"
	"	pushq	%rbx\n"
	"	pushq	%r12\n"
	"	pushq	%r13\n"
	"	pushq	%r14\n"
	"	pushq	%r15\n"
	"	pushfq\n"
	"	movl	%ds, %eax\n"
	"	pushq	%rax\n"
	"	movl	%es, %eax\n"
	"	pushq	%rax\n"
	"	movl	%fs, %eax\n"
	"	pushq	%rax\n"
	"	movl	%gs, %eax\n"
	"	pushq	%rax\n"
	"	movq	%rsp, user_kernel_rsp(%rip)\n"
	"	movq	%rsp, user_tss+4(%rip)\n" /* RSP0 */
	"	pushq	$0x23\n"		  /* SS */
	"	pushq	%rcx\n"			  /* RSP */
	"	pushq	%rdx\n"			  /* RFLAGS */
	"	pushq	$0x2b\n"		  /* CS */
	"	pushq	%rdi\n"			  /* RIP */
	"	movq	%rsi, %rdi\n"
	"	iretq\n"
	"\n"
	".globl user_resume\n"
	"user_resume:\n" /* ring 0, RSP = user_kernel_rsp, interrupts off */
	"	popq	%rax\n"
	"	movl	%eax, %gs\n"
	"	popq	%rax\n"
	"	movl	%eax, %fs\n"
	"	popq	%rax\n"
	"	movl	%eax, %es\n"
	"	popq	%rax\n"
	"	movl	%eax, %ds\n"
	"	popfq\n"
	"	popq	%r15\n"
	"	popq	%r14\n"
	"	popq	%r13\n"
	"	popq	%r12\n"
	"	popq	%rbx\n"
	"	popq	%rbp\n"
	"	xorl	%eax, %eax\n"
	"	ret\n"
	"\n"
	".globl user_return\n"
	"user_return:\n" /* ring 3: @fn returned (or user_exit()) */
	"	ud2\n"
	"\n"
	/* 0..4 GiB identity-mapped with 2 MiB pages: present, writable, user. */
	"	.data\n"
	"	.balign	4096\n"
	".globl user_pml4\n"
	"user_pml4:\n"
	"	.quad	user_pdpt + 0x7\n"
	"	.fill	511, 8, 0\n"
	"user_pdpt:\n"
	"	.quad	user_pd + 0x7, user_pd + 0x1007, user_pd + 0x2007, user_pd + 0x3007\n"
	"	.fill	508, 8, 0\n"
	"user_pd:\n"
	"	.set	pde, 0x87\n"
	"	.rept	2048\n"
	"	.quad	pde\n"
	"	.set	pde, pde + 0x200000\n"
	"	.endr\n"
	"	.text\n");

/* #UD: at user_return in ring 3, back to user_enter()'s caller; else as idt.c would. */
static void user_ud(struct irq_frame *f)
{
	if (f->rip == (uintptr_t)user_return && (f->cs & 3) == 3) {
		__asm__ volatile("movq %0, %%rsp\n\t"
				 "jmp user_resume"
				 :
				 : "r"(user_kernel_rsp)
				 : "memory");
		__builtin_unreachable();
	}
	fail("user", "unexpected exception or interrupt 6 (invalid opcode) at RIP 0x%lx", f->rip);
	reset();
}

static void user_setup(void)
{
	struct desc_ptr p = { .limit = sizeof(gdt) - 1, .base = (uintptr_t)gdt };
	uint64_t t = (uintptr_t)&user_tss;

	user_tss.iomap_end = 0xff;
	gdt[6] = (sizeof(user_tss) - 1) | (t & 0xffffff) << 16 | 0x89ULL << 40 | /* available */
		 ((t >> 24) & 0xff) << 56;
	gdt[7] = t >> 32;
	__asm__ volatile("lgdt %0\n\t"
			 "ltr %w1\n\t"
			 "mov %2, %%cr3"
			 :
			 : "m"(p), "r"((uint16_t)SEL_TSS), "r"((uintptr_t)user_pml4)
			 : "memory");
}

/* Loads the IDT (for exceptions and interrupts in ring 3) unless idt_install() did. */
static void user_check_idt(void)
{
	struct desc_ptr p;
	const struct gate *idt;
	uint64_t a;

	__asm__ volatile("sidt %0" : "=m"(p));
	idt = (const struct gate *)(uintptr_t)p.base;
	if (p.limit == 256 * sizeof(struct gate) - 1) {
		a = idt[0].off_lo | (uint64_t)idt[0].off_mid << 16 | (uint64_t)idt[0].off_hi << 32;
		if (a == (uintptr_t)isr_stubs)
			return;
	}
	idt_install("user");
}

int user_run(void (*fn)(void *), void *arg, unsigned int flags)
{
	uint64_t *sp = (uint64_t *)(user_stack + sizeof(user_stack));
	uint64_t rflags;

	if (!user_ready) {
		user_setup();
		user_ready = 1;
	}
	user_check_idt();
	idt_set_handler(6, user_ud);
	__asm__ volatile("pushfq; popq %0" : "=r"(rflags));
	rflags = (rflags & RFLAGS_IF) | 0x2;
	if (flags & USER_IOPL)
		rflags |= RFLAGS_IOPL3;
	user_tss.iomap_base = (flags & USER_IOPL) ? offsetof(struct tss, iomap) : 0xffff;
	*--sp = (uintptr_t)user_return; /* @fn's return address; RSP + 8 is 16-byte aligned */
	return user_enter(fn, arg, rflags, sp);
}
