// SPDX-License-Identifier: BSD-3-Clause
/*
 * The guest test program (tests/guest, cvm-guest.elf) run through `cvm run`
 * exactly as a user runs it. The guest prints "PASS name" or "FAIL name: why"
 * on COM1 (our stdout) and resets the VM, so `cvm` exits 0.
 */
#include <criterion/criterion.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

Test(guest, hello)
{
	struct runner_result r;

	REQUIRE_KVM();
	runner_guest(&r, NULL, NULL, NULL);
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0");
	cr_assert_run(&r, !strcmp(r.out, "Hello from a libcvm guest!\n"),
		      "stdout is not exactly the greeting");
	runner_free(&r);
}

/* The 4096 bytes the guest's serial_out prints (see tests/guest/t_serial.c). */
static void serial_pattern(char *p)
{
	for (unsigned int i = 0; i < 64; i++) {
		int n = sprintf(p, "LINE %03u: ", i);

		for (unsigned int j = 0; j < 53; j++)
			p[n++] = (char)(33 + (7 * i + 13 * j) % 94);
		p[n++] = '\n';
		p += n;
	}
}

Test(guest, serial_out)
{
	struct runner_result r;
	char want[4096 + 16];
	const char *got;

	REQUIRE_KVM();
	serial_pattern(want);
	runner_guest(&r, NULL, "serial_out", NULL);
	got = strstr(r.out, "LINE 000: ");
	cr_assert_run(&r, got, "no pattern block on stdout");
	cr_assert_run(&r, r.out_len - (size_t)(got - r.out) >= 4096,
		      "the pattern block is cut short");
	for (size_t i = 0; i < 4096; i++) {
		cr_assert_run(&r, got[i] == want[i],
			      "pattern byte %zu (line %zu, column %zu) is 0x%02x, want 0x%02x", i,
			      i / 64, i % 64, (unsigned char)got[i], (unsigned char)want[i]);
	}
	cr_assert_run(&r, got == r.out, "bytes before the pattern block");
	runner_assert_passed(&r, "serial_out");
	runner_free(&r);
}

Test(guest, serial_in)
{
	struct runner_opts o = {
		.stdin_mode = RUNNER_STDIN_PIPE,
		.input = "hello world\n",
		.send_after = "READY\n",
	};
	struct runner_result r;
	char *line;

	REQUIRE_KVM();
	runner_guest(&r, &o, "serial_in", NULL);
	line = find_line(r.out, "GOT ");
	cr_assert_run(&r, line && !strcmp(line, "GOT hello world"), "no 'GOT hello world' line");
	free(line);
	runner_assert_passed(&r, "serial_in");
	runner_free(&r);
}

Test(guest, serial_eof)
{
	struct runner_opts o = { .stdin_mode = RUNNER_STDIN_CLOSED };
	struct runner_result r;

	REQUIRE_KVM();
	runner_guest(&r, &o, "serial_eof", NULL);
	runner_assert_passed(&r, "serial_eof");
	runner_free(&r);
}

Test(guest, serial_eof_devnull)
{
	struct runner_result r;

	REQUIRE_KVM();
	runner_guest(&r, NULL, "serial_eof", NULL);
	runner_assert_passed(&r, "serial_eof");
	runner_free(&r);
}

Test(guest, serial_irq)
{
	struct runner_opts o = {
		.stdin_mode = RUNNER_STDIN_PIPE,
		.input = "Z",
		.send_after = "READY\n",
	};
	struct runner_result r;
	char *line;

	REQUIRE_KVM();
	runner_guest(&r, &o, "serial_irq", NULL);
	line = find_line(r.out, "IRQ GOT ");
	cr_assert_run(&r, line && !strcmp(line, "IRQ GOT Z"), "no 'IRQ GOT Z' line");
	free(line);
	line = find_line(r.out, "IRQ THRE ");
	cr_assert_run(&r, line && !strcmp(line, "IRQ THRE IIR 0x02"),
		      "no 'IRQ THRE IIR 0x02' line");
	free(line);
	runner_assert_passed(&r, "serial_irq");
	runner_free(&r);
}

struct e820_sum {
	uint64_t total, ram, reserved;
	unsigned int n;
	bool hole_ok;	/* nothing in [3 GiB, 4 GiB) */
	bool sorted_ok; /* ascending, no overlap */
};

static void parse_e820(const char *out, struct e820_sum *s)
{
	uint64_t prev_end = 0;

	memset(s, 0, sizeof(*s));
	s->hole_ok = s->sorted_ok = true;
	for (const char *l = strstr(out, "E820 0x"); l; l = strstr(l + 1, "\nE820 0x")) {
		unsigned long long addr, size;
		unsigned int type;

		if (*l == '\n')
			l++;
		if (sscanf(l, "E820 0x%llx 0x%llx %u", &addr, &size, &type) != 3)
			continue;
		s->n++;
		s->total += size;
		if (type == 1)
			s->ram += size;
		else if (type == 2)
			s->reserved += size;
		if (addr < prev_end)
			s->sorted_ok = false;
		prev_end = addr + size;
		if (addr < (4ULL << 30) && addr + size > (3ULL << 30))
			s->hole_ok = false;
	}
}

static void bootparams_mib(unsigned int mib)
{
	const char *cmdline = "cvm.test=bootparams foo=bar quiet x=\"a\" last";
	char mem[16], want_cmd[160], want_total[64], want_ram[64];
	const char *args[] = { "run", "-m", mem, "-p", cmdline, CVM_GUEST, NULL };
	struct runner_result r;
	struct e820_sum s;
	char *line;

	REQUIRE_KVM();
	snprintf(mem, sizeof(mem), "%u", mib);
	cr_assert_eq(runner_run(&r, NULL, args), 0);
	cr_log_info("bootparams -m %u: %s", mib, runner_how(&r));

	snprintf(want_cmd, sizeof(want_cmd), "CMDLINE %s", cmdline);
	line = find_line(r.out, "CMDLINE ");
	cr_assert_run(&r, line && !strcmp(line, want_cmd), "want the line '%s'", want_cmd);
	free(line);

	parse_e820(r.out, &s);
	cr_assert_run(&r, s.n > 0, "no E820 entries printed");
	snprintf(want_total, sizeof(want_total), "E820 TOTAL %llu", (unsigned long long)mib << 20);
	line = find_line(r.out, "E820 TOTAL ");
	cr_assert_run(&r, line && !strcmp(line, want_total), "want '%s' (-m %u)", want_total, mib);
	free(line);
	snprintf(want_ram, sizeof(want_ram), "E820 RAM %" PRIu64, s.ram);
	line = find_line(r.out, "E820 RAM ");
	cr_assert_run(&r, line && !strcmp(line, want_ram), "want '%s' (sum of the type 1 lines)",
		      want_ram);
	free(line);
	cr_assert_run(&r, s.total == (uint64_t)mib << 20,
		      "the E820 lines sum to %" PRIu64 " bytes, want %llu", s.total,
		      (unsigned long long)mib << 20);
	cr_assert_run(&r, s.ram + s.reserved == s.total, "entries other than RAM and reserved");
	cr_assert_run(&r, s.ram >= ((uint64_t)mib << 20) - (1 << 20),
		      "less RAM than -m %u less 1 MiB", mib);
	cr_assert_run(&r, s.sorted_ok, "e820 entries unsorted or overlapping");
	cr_assert_run(&r, s.hole_ok, "an e820 entry in the 3..4 GiB hole");
	runner_assert_passed(&r, "bootparams");
	runner_free(&r);
}

Test(guest, bootparams_64)
{
	bootparams_mib(64);
}

Test(guest, bootparams_256)
{
	bootparams_mib(256);
}

Test(guest, bootparams_4096)
{
	bootparams_mib(4096);
}

/* One past the highest byte cvm-guest.elf's PT_LOAD segments occupy. */
static uint64_t guest_load_end(void)
{
	size_t len;
	char *elf = read_file(CVM_GUEST, &len);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
	uint64_t end = 0;

	cr_assert(elf && len >= sizeof(*eh), "cannot read %s", CVM_GUEST);
	cr_assert(eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) <= len);
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff) + i;

		if (ph->p_type == PT_LOAD && ph->p_paddr + ph->p_memsz > end)
			end = ph->p_paddr + ph->p_memsz;
	}
	free(elf);
	return end;
}

Test(guest, initrd)
{
	enum { SIZE = 64 * 1024 };
	const char *extra[] = { "-m", "64", "-i", NULL, NULL };
	unsigned long long addr = 0, size = 0;
	unsigned int crc = 0;
	struct runner_result r;
	uint8_t *data = malloc(SIZE);
	char *dir, *path, *line;
	uint32_t want;

	REQUIRE_KVM();
	cr_assert(data);
	cr_assert_eq(getrandom(data, SIZE, 0), SIZE);
	want = crc32_buf(0, data, SIZE);
	dir = make_temp_dir();
	cr_assert(dir);
	cr_assert(asprintf(&path, "%s/initrd.bin", dir) > 0);
	cr_assert_eq(write_file(path, data, SIZE), 0);
	extra[3] = path;

	runner_guest(&r, NULL, "initrd", extra);
	line = find_line(r.out, "INITRD ");
	cr_assert_run(&r, line && sscanf(line, "INITRD 0x%llx %llu %x", &addr, &size, &crc) == 3,
		      "no 'INITRD addr size crc' line");
	free(line);
	cr_assert_run(&r, size == SIZE, "initrd size %llu, want %d", size, SIZE);
	cr_assert_run(&r, crc == want, "guest CRC-32 %08x, host %08x", crc, want);
	cr_assert_run(&r, addr % 4096 == 0, "initrd at 0x%llx: not page aligned", addr);
	cr_assert_run(&r, addr >= guest_load_end(),
		      "initrd at 0x%llx overlaps the kernel (ends 0x%" PRIx64 ")", addr,
		      guest_load_end());
	cr_assert_run(&r, addr + size <= 64ULL << 20, "initrd at 0x%llx beyond -m 64", addr);
	runner_assert_passed(&r, "initrd");
	runner_free(&r);
	rm_rf(dir);
	free(dir);
	free(path);
	free(data);
}

/* Parses "RTC <mode> YYYY-MM-DD HH:MM:SS" as UTC. */
static bool rtc_line(const char *out, const char *mode, time_t *t)
{
	char prefix[16];
	struct tm tm = { 0 };
	char *line;
	int n;

	snprintf(prefix, sizeof(prefix), "RTC %s ", mode);
	line = find_line(out, prefix);
	if (!line)
		return false;
	n = sscanf(line + strlen(prefix), "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
	free(line);
	if (n != 6)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = timegm(&tm);
	return true;
}

Test(guest, rtc)
{
	struct runner_result r;
	time_t before, after, bcd, bin;

	REQUIRE_KVM();
	before = time(NULL);
	runner_guest(&r, NULL, "rtc", NULL);
	after = time(NULL);
	cr_assert_run(&r, rtc_line(r.out, "BCD", &bcd), "no 'RTC BCD date time' line");
	cr_assert_run(&r, rtc_line(r.out, "BIN", &bin), "no 'RTC BIN date time' line");
	cr_assert_run(&r, bcd >= before - 5 && bcd <= after + 5,
		      "BCD time %lld is not within 5 s of the host's UTC %lld..%lld",
		      (long long)bcd, (long long)before, (long long)after);
	cr_assert_run(&r, bin >= before - 5 && bin <= after + 5,
		      "binary time %lld is not within 5 s of the host's UTC %lld..%lld",
		      (long long)bin, (long long)before, (long long)after);
	runner_assert_passed(&r, "rtc");
	runner_free(&r);
}

Test(guest, reset)
{
	struct runner_result r;

	REQUIRE_KVM();
	runner_guest(&r, NULL, "reset", NULL);
	runner_assert_passed(&r, "reset");
	runner_free(&r);
}

Test(guest, unknown_test)
{
	struct runner_result r;

	REQUIRE_KVM();
	runner_guest(&r, NULL, "no_such_test", NULL);
	cr_assert_run(&r, strstr(r.out, "FAIL no_such_test: "), "the guest did not report it");
	cr_assert_run(&r, r.exited && r.status == 0, "the guest resets after a FAIL too");
	runner_free(&r);
}

/*
 * The reader of COM1's output went away: each byte the guest sends meets
 * EPIPE, which must neither kill cvm (SIGPIPE) nor its serial device
 * process (whose policy must allow consuming the signal), and the guest
 * still runs to its reset.
 */
Test(guest, output_reader_gone)
{
	const char *sb[2];
	int out[2], err[2], status;
	char buf[4096] = "";
	ssize_t n, got = 0;
	pid_t pid;

	REQUIRE_KVM();
	runner_sandbox_args(sb);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
	close(out[0]); /* nobody will ever read COM1 */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		alarm(30); /* no test may hang */
		dup2(out[1], 1);
		dup2(err[1], 2);
		execl(CVM_BIN, CVM_BIN, "run", sb[0], sb[1], "-m", "32", "-p",
		      "cvm.test=serial_out", CVM_GUEST, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	while ((n = read(err[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(err[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "cvm ended with wait status %#x; stderr:\n%s", status, buf);
	cr_assert_null(strstr(buf, "seccomp"), "stderr:\n%s", buf);
}

/* The guest's ring-3 support (tests/guest/user.c), which the benchmarks run on. */
Test(guest, user_mode)
{
	struct runner_result r;

	REQUIRE_KVM();
	runner_guest(&r, NULL, "user_mode", NULL);
	runner_assert_passed(&r, "user_mode");
	runner_free(&r);
}
