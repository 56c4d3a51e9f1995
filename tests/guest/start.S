/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Entry of the guest test program, as the Linux 64-bit boot protocol enters
 * a kernel: long mode, paging on (identity), interrupts off, RSI = the
 * guest-physical address of struct boot_params.
 */

	.section .text.boot, "ax"
	.code64
	.globl _start
_start:
	cli
	cld
	leaq	stack_top(%rip), %rsp
	xorl	%ebp, %ebp
	movq	%rsi, %rdi		/* guest_main(struct boot_params *) */
	call	guest_main
	call	reset			/* guest_main() resets; just in case */
1:	hlt
	jmp	1b

/*
 * PVH entry, so that the same ELF boots under `qemu-system-x86_64 -kernel`:
 * a Xen ELF note (type 18, XEN_ELFNOTE_PHYS32_ENTRY) names pvh_start32,
 * entered in 32-bit protected mode with paging off and EBX = the physical
 * address of struct hvm_start_info. It builds identity page tables for
 * 0..4 GiB (2 MiB pages) and a GDT like the one cvm gives (code 0x10, data
 * 0x18), enters long mode, turns the start info into a struct boot_params
 * (pvh.c) and calls guest_main() as the 64-bit entry does.
 */
	.section .note.pvh, "a", @note
	.align	4
	.long	4			/* n_namesz: "Xen" */
	.long	8			/* n_descsz */
	.long	18			/* n_type: XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.quad	pvh_start32
	.align	4

	.section .text.boot, "ax"
	.code32
pvh_start32:
	cli
	cld
	movl	%ebx, pvh_start_info

	/* Four page directories of 2 MiB pages: 0..4 GiB. */
	movl	$pvh_pd, %edi
	xorl	%ecx, %ecx
1:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$0x83, %eax		/* present, writable, 2 MiB page */
	movl	%eax, (%edi,%ecx,8)
	movl	$0, 4(%edi,%ecx,8)
	incl	%ecx
	cmpl	$2048, %ecx
	jb	1b
	xorl	%ecx, %ecx
2:	movl	%ecx, %eax
	shll	$12, %eax
	addl	$pvh_pd + 3, %eax
	movl	%eax, pvh_pdpt(,%ecx,8)
	movl	$0, pvh_pdpt + 4(,%ecx,8)
	incl	%ecx
	cmpl	$4, %ecx
	jb	2b
	movl	$pvh_pdpt + 3, pvh_pml4
	movl	$0, pvh_pml4 + 4

	movl	%cr4, %eax
	orl	$0x20, %eax		/* PAE */
	movl	%eax, %cr4
	movl	$pvh_pml4, %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx	/* EFER */
	rdmsr
	orl	$0x100, %eax		/* LME */
	wrmsr
	lgdt	pvh_gdt_desc
	movl	%cr0, %eax
	orl	$0x80000001, %eax	/* PG | PE */
	movl	%eax, %cr0
	ljmp	$0x10, $pvh_start64

	.code64
pvh_start64:
	movl	$0x18, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	leaq	stack_top(%rip), %rsp
	xorl	%ebp, %ebp
	movl	pvh_start_info(%rip), %edi
	call	pvh_boot_params		/* struct boot_params *pvh_boot_params(uint32_t) */
	movq	%rax, %rdi
	call	guest_main
	call	reset
3:	hlt
	jmp	3b

	.section .rodata
	.align	16
pvh_gdt:
	.quad	0
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x10: 64-bit code */
	.quad	0x00cf92000000ffff	/* 0x18: data */
pvh_gdt_end:
pvh_gdt_desc:
	.word	pvh_gdt_end - pvh_gdt - 1
	.long	pvh_gdt

	.data
	.align	4
pvh_start_info:
	.long	0

/*
 * 256 interrupt stubs of 16 bytes each (isr_stubs + 16 * vector). Each pushes
 * a zero error code when the CPU pushes none, then the vector number.
 */
	.text
	.align	16
	.globl	isr_stubs
isr_stubs:
	.set	vec, 0
	.rept	256
	.align	16
	.if	(vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	isr_common
	.set	vec, vec + 1
	.endr

isr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	cld
	movq	%rsp, %rdi		/* struct irq_frame * (RSP is 16-byte aligned here) */
	call	isr_dispatch
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp		/* vector and error code */
	iretq

	.bss
	.align	4096
pvh_pml4:
	.skip	4096
pvh_pdpt:
	.skip	4096
pvh_pd:
	.skip	4 * 4096
stack_bottom:
	.skip	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
