// SPDX-License-Identifier: BSD-3-Clause
/*
 * /init of the Linux boot test's initramfs: no libc, raw system calls. It
 * says it was reached on the console and restarts the machine, which the VMM
 * sees as a reset (reboot=k: through the keyboard controller).
 */
#define SYS_write 1
#define SYS_open 2
#define SYS_mknod 133
#define SYS_reboot 169
#define SYS_exit 60

#define O_WRONLY 01
#define O_NOCTTY 0400
#define S_IFCHR 0020000

#define LINUX_REBOOT_MAGIC1 0xfee1deadL
#define LINUX_REBOOT_MAGIC2 672274793L
#define LINUX_REBOOT_CMD_RESTART 0x01234567L

static long syscall4(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static const char msg[] = "cvm-linux-test: init reached\n";

void _start(void);

__attribute__((noreturn)) void _start(void)
{
	long fd = syscall4(SYS_open, (long)"/dev/console", O_WRONLY | O_NOCTTY, 0, 0);

	if (fd < 0) {
		/* No console node in the rootfs: make one (char 5:1). */
		syscall4(SYS_mknod, (long)"/dev/console", S_IFCHR | 0600, (5 << 8) | 1, 0);
		fd = syscall4(SYS_open, (long)"/dev/console", O_WRONLY | O_NOCTTY, 0, 0);
	}
	if (fd < 0)
		fd = 1; /* the console the kernel opened for init, if any */
	syscall4(SYS_write, fd, (long)msg, sizeof(msg) - 1, 0);
	syscall4(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART, 0);
	for (;;)
		syscall4(SYS_exit, 0, 0, 0, 0);
}
