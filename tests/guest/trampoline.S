/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The application processors' start-up code. t_smp.c copies the bytes
 * between trampoline_start and trampoline_end to TRAMPOLINE_BASE (a page
 * below 1 MiB), fills in tr_cr3, tr_stack and tr_entry, and sends
 * INIT-SIPI-SIPI with vector TRAMPOLINE_BASE >> 12. An AP then starts here
 * in real mode at CS = TRAMPOLINE_BASE >> 4, IP = 0, and goes
 * real -> protected -> long mode with the BSP's page tables and calls
 * tr_entry on tr_stack with interrupts off.
 *
 * Everything is addressed as TRAMPOLINE_BASE + (label - trampoline_start):
 * the code runs at the copy, not where it was linked.
 */
#define TRAMPOLINE_BASE 0x10000
#define TR(label) (TRAMPOLINE_BASE + (label - trampoline_start))

	.section .rodata
	.globl	trampoline_start, trampoline_end, tr_cr3, tr_stack, tr_entry
	.balign	16
	.code16
trampoline_start:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	tr_gdt_desc - trampoline_start
	movl	%cr0, %eax
	orl	$1, %eax			/* PE */
	movl	%eax, %cr0
	ljmpl	$0x08, $TR(tr_pm32)

	.code32
tr_pm32:
	movl	$0x18, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%cr4, %eax
	orl	$0x20, %eax			/* PAE */
	movl	%eax, %cr4
	movl	TR(tr_cr3), %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx		/* EFER */
	rdmsr
	orl	$0x100, %eax			/* LME */
	wrmsr
	movl	%cr0, %eax
	andl	$0x9fffffff, %eax		/* caches on (CD, NW off) */
	orl	$0x80000000, %eax		/* PG */
	movl	%eax, %cr0
	ljmpl	$0x10, $TR(tr_lm64)

	.code64
tr_lm64:
	movl	$0x18, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	movq	TR(tr_stack), %rsp
	movq	TR(tr_entry), %rax
	xorl	%ebp, %ebp
	callq	*%rax
1:	cli
	hlt
	jmp	1b

	.balign	8
tr_gdt:
	.quad	0
	.quad	0x00cf9a000000ffff		/* 0x08: 32-bit code */
	.quad	0x00af9a000000ffff		/* 0x10: 64-bit code */
	.quad	0x00cf92000000ffff		/* 0x18: data, 4 GiB flat */
tr_gdt_end:
	.balign	8
tr_gdt_desc:
	.word	tr_gdt_end - tr_gdt - 1
	.long	TR(tr_gdt)
	.balign	8
tr_cr3:
	.quad	0
tr_stack:
	.quad	0
tr_entry:
	.quad	0
trampoline_end:

	.section .note.GNU-stack, "", @progbits
