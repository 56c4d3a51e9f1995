/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring 3 (user mode) for the guest test program.
 *
 * On the nested KVM of our test hosts guest ring 0 is emulated (about two
 * million instructions a second) while ring 3 runs natively: run a loop that
 * must be fast in ring 3.
 *
 *   static void loop(void *arg) { ...; }   (runs in ring 3)
 *   user_run(loop, &state, USER_IOPL);     (returns when loop() returns)
 *
 * user_run() calls @fn(@arg) in ring 3 on a 16 KiB user stack of its own and
 * returns 0 when @fn returns (or calls user_exit()). The whole identity map
 * (0..4 GiB: the program, its data, the caller's stack, RAM, MMIO) is
 * user-accessible, so @fn may use any pointer the caller could and call
 * the program's ordinary functions, but no privileged instruction (lidt,
 * hlt, mov to CR...). Without USER_IOPL port I/O faults; with it @fn may
 * `in`/`out` any port directly, e.g. ring a virtio doorbell or print
 * (MMIO needs no flag). Every access is still a VM exit, and a ring-3 one
 * costs two to three times a ring-0 one here (~70k against ~25k TSC cycles
 * on a quiet host): print from ring 0, after user_run().
 *
 * Interrupts: ring 3 runs with the caller's RFLAGS.IF (and IOPL 3 with
 * USER_IOPL) on a KVM that honours what iretq loads; on ours (kvm_pvm)
 * pushfq in ring 3 reads IF 1 and IOPL 0 whatever it loaded, and port
 * access is granted through the TSS I/O bitmap instead (so cli/sti may
 * fault there). Interrupts and exceptions in ring 3 reach the IDT handlers
 * on the caller's stack (TSS.RSP0); an unexpected one prints FAIL and resets,
 * as in ring 0. user_run() takes vector 6 (#UD) for the way back: a test
 * must not set its own #UD handler.
 *
 * The first call (~4 ms of emulated ring 0, most of it idt_install()) loads
 * a GDT with user segments (0x23 data, 0x2b code) and a TSS (0x30), and
 * switches CR3 to page tables of its own (the same identity map, 2 MiB
 * pages, with the U bit), which stay loaded; every call installs the IDT
 * (idt_install("user")) unless idt_install() did. A round trip of an empty
 * @fn costs ~150 us (mostly the emulated #UD path back). A test may call
 * idt_install() and idt_set_handler() before or after. Boot CPU only; not
 * reentrant (no user_run() from @fn).
 */
#ifndef CVM_GUEST_USER_H
#define CVM_GUEST_USER_H

#include "guest.h"

#define USER_IOPL 0x1u /* port I/O allowed in ring 3 (IOPL 3 and the TSS I/O bitmap) */

int user_run(void (*fn)(void *), void *arg, unsigned int flags);

/* From ring 3: leave @fn now; user_run() returns 0. */
__attribute__((noreturn)) static inline void user_exit(void)
{
	__asm__ volatile("jmp user_return" : : : "memory");
	__builtin_unreachable();
}

/* The time-stamp counter (ring 3 may read it). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

#endif
