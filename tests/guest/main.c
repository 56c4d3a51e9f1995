// SPDX-License-Identifier: BSD-3-Clause
/*
 * cvm-guest.elf: a tiny kernel that runs the test named by cvm.test=NAME on
 * its command line, reports "PASS name" or "FAIL name: why" on COM1 and
 * resets the VM through the i8042. Without cvm.test it greets and resets.
 *
 *   cvm run -p cvm.test=rtc build/tests/guest/cvm-guest.elf
 *
 * The same ELF carries a PVH note (start.S, pvh.c), so QEMU boots it too:
 *
 *   qemu-system-x86_64 -M q35 -accel kvm -display none -serial stdio -no-reboot \
 *           -kernel build/tests/guest/cvm-guest.elf -append cvm.test=rtc
 */
#include "guest.h"

static const struct guest_test tests[] = {
	{ "serial_out", test_serial_out },
	{ "serial_in", test_serial_in },
	{ "serial_eof", test_serial_eof },
	{ "serial_irq", test_serial_irq },
	{ "bootparams", test_bootparams },
	{ "initrd", test_initrd },
	{ "rtc", test_rtc },
	{ "reset", test_reset },
	{ "triple_fault", test_triple_fault },
	{ "int3", test_int3 },
	{ "spin", test_spin },
	{ "cpuid", test_cpuid },
	{ "unhandled_io", test_unhandled_io },
	{ "flood", test_flood },
	{ "poweroff", test_poweroff },
	{ "smp", test_smp },
	{ "blk_read", test_blk_read },
	{ "blk_write", test_blk_write },
	{ "blk_errors", test_blk_errors },
	{ "blk_mq", test_blk_mq },
	{ "blk_multi", test_blk_multi },
	{ "blk_msix", test_blk_msix },
	{ "blk_intx", test_blk_intx },
	{ "blk_event_idx", test_blk_event_idx },
	{ "blk_indirect", test_blk_indirect },
	{ "blk_discard", test_blk_discard },
	{ "blk_discard_ro", test_blk_discard_ro },
	{ "blk_deep", test_blk_deep },
	{ "fault_fill", test_fault_fill },
	{ "fault_eio", test_fault_eio },
	{ "fault_flushed", test_fault_flushed },
	{ "ticks", test_ticks },
	{ "vsock_echo_out", test_vsock_echo_out },
	{ "vsock_echo_in", test_vsock_echo_in },
	{ "vsock_stall", test_vsock_stall },
	{ "vsock_reset", test_vsock_reset },
	{ "net", test_net },
	{ "net_tso", test_net_tso },
	{ "net_mrg", test_net_mrg },
	{ "net_link", test_net_link },
	{ "net_gone", test_net_gone },
	{ "net_bench", test_net_bench },
	{ "rng", test_rng },
	{ "rng_absent", test_rng_absent },
	{ "wl", test_wl },
	{ "wl_bad_pool", test_wl_bad_pool },
	{ "wl_garbage", test_wl_garbage },
	{ "wl_spurious", test_wl_spurious },
	{ "wl_msix", test_wl_msix },
	{ "wl_event_idx", test_wl_event_idx },
	{ "wl_chains", test_wl_chains },
	{ "wl_many", test_wl_many },
	{ "wl_held", test_wl_held },
	{ "wl_bar_move", test_wl_bar_move },
	{ "wl_noshm", test_wl_noshm },
	{ "wl_legacy", test_wl_legacy },
	{ "wl_reset", test_wl_reset },
	{ "wl_host_fds", test_wl_host_fds },
	{ "wl_pipe", test_wl_pipe },
	{ "wl_flood", test_wl_flood },
	{ "wl_shot", test_wl_shot },
	{ "wl_compositor_gone", test_wl_compositor_gone },
	{ "wl_absent", test_wl_absent },
	{ "sandbox_trip", test_sandbox_trip },
	{ "custom_pio", test_custom_pio },
	{ "custom_virtio", test_custom_virtio },
	{ "bench_exit", test_bench_exit },
	{ "bench_exit_mmio", test_bench_exit_mmio },
	{ "bench_exit_r0", test_bench_exit_r0 },
	{ "bench_blk", test_bench_blk },
	{ "bench_wl", test_bench_wl },
	{ "user_mode", test_user_mode },
	{ "evil_vq_blk", test_evil_vq_blk },
	{ "evil_vq_rng", test_evil_vq_rng },
	{ "evil_vq_vsock", test_evil_vq_vsock },
	{ "evil_vq_net", test_evil_vq_net },
	{ "evil_regs", test_evil_regs },
	{ "evil_msix", test_evil_msix },
	{ "evil_reset", test_evil_reset },
	{ "evil_ports", test_evil_ports },
	{ "evil_mmio_lo", test_evil_mmio_lo },
	{ "evil_mmio_hi", test_evil_mmio_hi },
};

const char *cmdline(const struct boot_params *bp)
{
	uint64_t p = bp->hdr.cmd_line_ptr | (uint64_t)bp->ext_cmd_line_ptr << 32;

	return p ? (const char *)(uintptr_t)p : "";
}

int cmdline_get(const struct boot_params *bp, const char *key, char *buf, size_t size)
{
	const char *s = cmdline(bp);
	size_t klen = strlen(key);

	while (*s) {
		const char *tok;
		size_t n = 0;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		tok = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n')
			s++;
		if ((size_t)(s - tok) > klen && !strncmp(tok, key, klen) && tok[klen] == '=') {
			for (const char *v = tok + klen + 1; v < s && n + 1 < size; v++)
				buf[n++] = *v;
			if (size)
				buf[n] = '\0';
			return (int)n;
		}
	}
	return -1;
}

void reset(void)
{
	cli();
	outb(0x64, 0xfe);
	/* Still here: the VMM ignored the reset pulse. Say so, then stop. */
	puts_serial("FAIL reset: the VM is still running after the i8042 reset pulse\n");
	for (;;)
		__asm__ volatile("hlt");
}

void guest_main(const struct boot_params *bp);

void guest_main(const struct boot_params *bp)
{
	char name[64];

	if (cmdline_get(bp, "cvm.test", name, sizeof(name)) < 0) {
		puts_serial("Hello from a libcvm guest!\n");
		reset();
	}
	for (size_t i = 0; i < ARRAY_SIZE(tests); i++) {
		if (!strcmp(tests[i].name, name)) {
			tests[i].run(bp);
			reset();
		}
	}
	fail(name, "no such test in cvm-guest.elf");
	reset();
}
