// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests of the `cvm` command-line parser (cli/opts.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "opts.h"

#define ERRLEN 512

/* A NULL-terminated, writable argv whose argv[0] is "cvm". */
#define ARGV(...) ((char *[]){ "cvm", __VA_ARGS__, NULL })

static int argv_count(char **argv)
{
	int n = 0;

	while (argv[n])
		n++;
	return n;
}

static struct cvm_opts opts;
static char err[ERRLEN];

static int parse(char **argv)
{
	cvm_opts_free(&opts);
	memset(err, 'x', sizeof(err));
	return cvm_opts_parse(&opts, argv_count(argv), argv, err, sizeof(err));
}

static void teardown(void)
{
	cvm_opts_free(&opts);
}

/* Expect success. */
#define OK(...)                                                               \
	do {                                                                  \
		int rc_ = parse(ARGV(__VA_ARGS__));                           \
		cr_assert_eq(rc_, 0, "expected success, got error: %s", err); \
	} while (0)

/* Expect a usage error whose message contains @needle. */
#define FAILS(needle, ...)                                                                    \
	do {                                                                                  \
		int rc_ = parse(ARGV(__VA_ARGS__));                                           \
		cr_assert_eq(rc_, -1, "expected a usage error");                              \
		cr_assert(strstr(err, (needle)) != NULL, "error '%s' does not say '%s'", err, \
			  (needle));                                                          \
		cr_assert(strchr(err, '\n') == NULL, "error has a newline: '%s'", err);       \
	} while (0)

TestSuite(opts, .fini = teardown);

/* Commands */

Test(opts, no_command)
{
	char *argv[] = { "cvm", NULL };

	cr_assert_eq(parse(argv), -1);
	cr_assert(strstr(err, "missing command") != NULL, "%s", err);
}

Test(opts, unknown_command)
{
	FAILS("unknown command 'frobnicate'", "frobnicate");
	FAILS("unknown option '--frob'", "--frob");
	FAILS("unknown option '-x'", "-x");
}

Test(opts, version)
{
	OK("version");
	cr_assert_eq(opts.cmd, OPTS_CMD_VERSION);
	OK("--version");
	cr_assert_eq(opts.cmd, OPTS_CMD_VERSION);
	FAILS("unexpected argument 'extra'", "version", "extra");
	FAILS("unexpected argument 'x'", "--version", "x");
}

Test(opts, help)
{
	OK("--help");
	cr_assert_eq(opts.cmd, OPTS_CMD_HELP);
	OK("-h");
	cr_assert_eq(opts.cmd, OPTS_CMD_HELP);
	OK("help");
	cr_assert_eq(opts.cmd, OPTS_CMD_HELP);
	FAILS("unexpected argument", "--help", "run");
}

Test(opts, run_help)
{
	OK("run", "--help");
	cr_assert_eq(opts.cmd, OPTS_CMD_RUN_HELP);
	OK("run", "-h");
	cr_assert_eq(opts.cmd, OPTS_CMD_RUN_HELP);
	/* Help wins even without KERNEL. */
	OK("run", "-m", "64", "--help", "extra1", "extra2");
	cr_assert_eq(opts.cmd, OPTS_CMD_RUN_HELP);
}

Test(opts, usage_texts_name_every_option)
{
	static const char *const names[] = {
		"--mem",	   "--cpus",	  "--params",  "--initrd", "--serial",
		"--cpuid-disable", "--log-level", "--verbose", "--help",   "num=",
		"type=",	   "path=",	  "input=",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert(strstr(cvm_opts_run_usage, names[i]) != NULL, "%s", names[i]);
	cr_assert(strstr(cvm_opts_usage, "run") != NULL);
	cr_assert(strstr(cvm_opts_usage, "version") != NULL);
}

/* run: KERNEL and defaults */

Test(opts, run_defaults)
{
	OK("run", "vmlinux");
	cr_assert_eq(opts.cmd, OPTS_CMD_RUN);
	cr_assert_str_eq(opts.kernel, "vmlinux");
	cr_assert_eq(opts.mem_mib, 0);
	cr_assert_eq(opts.vcpus, 0);
	cr_assert_eq(opts.log_level, CVM_LOG_INFO);
	cr_assert_null(opts.params);
	cr_assert_null(opts.initrd);
	cr_assert_null(opts.cpuid_disable);
	/* The default COM1: stdout, with stdin as input. */
	cr_assert_eq(opts.nserial, 1);
	cr_assert_eq(opts.serial[0].num, 1);
	cr_assert_eq(opts.serial[0].type, OPTS_SERIAL_STDOUT);
	cr_assert_eq(opts.serial[0].input, OPTS_INPUT_STDIN);
	cr_assert_null(opts.serial[0].path);
	cr_assert_null(opts.serial[0].input_path);
}

Test(opts, run_missing_kernel)
{
	FAILS("missing KERNEL", "run");
	FAILS("missing KERNEL", "run", "-m", "64");
	FAILS("missing KERNEL", "run", "--");
	FAILS("empty path", "run", "");
}

Test(opts, run_extra_arguments)
{
	FAILS("unexpected argument 'two'", "run", "one", "two");
	FAILS("unexpected argument 'two'", "run", "one", "--", "two");
	FAILS("unexpected argument 'b'", "run", "-m", "64", "a", "b", "-c", "1");
}

Test(opts, run_options_after_kernel)
{
	OK("run", "vmlinux", "-m", "512", "-c", "1");
	cr_assert_str_eq(opts.kernel, "vmlinux");
	cr_assert_eq(opts.mem_mib, 512);
	cr_assert_eq(opts.vcpus, 1);
}

Test(opts, run_double_dash)
{
	OK("run", "-m", "64", "--", "-kernel-with-a-dash");
	cr_assert_str_eq(opts.kernel, "-kernel-with-a-dash");
	cr_assert_eq(opts.mem_mib, 64);
}

Test(opts, run_parses_again)
{
	/* getopt's state must be reset between parses. */
	OK("run", "-m", "128", "a");
	OK("run", "-m", "256", "b");
	cr_assert_eq(opts.mem_mib, 256);
	cr_assert_str_eq(opts.kernel, "b");
	FAILS("missing KERNEL", "run", "-c", "1");
	OK("run", "c");
	cr_assert_eq(opts.mem_mib, 0);
}

/* -m/--mem */

Test(opts, mem_forms)
{
	OK("run", "-m", "512", "k");
	cr_assert_eq(opts.mem_mib, 512);
	OK("run", "-m1024", "k");
	cr_assert_eq(opts.mem_mib, 1024);
	OK("run", "--mem", "64", "k");
	cr_assert_eq(opts.mem_mib, 64);
	OK("run", "--mem=2048", "k");
	cr_assert_eq(opts.mem_mib, 2048);
	OK("run", "-m", "64", "-m", "128", "k");
	cr_assert_eq(opts.mem_mib, 128, "the last -m wins");
}

Test(opts, mem_limits)
{
	OK("run", "-m", "16", "k");
	cr_assert_eq(opts.mem_mib, 16);
	OK("run", "-m", "1048576", "k");
	cr_assert_eq(opts.mem_mib, 1048576);
	FAILS("below the minimum of 16 MiB", "run", "-m", "15", "k");
	FAILS("below the minimum", "run", "-m", "1", "k");
	FAILS("0 MiB", "run", "-m", "0", "k");
	FAILS("above the maximum of 1048576 MiB", "run", "-m", "1048577", "k");
	FAILS("above the maximum", "run", "-m", "4294967296", "k");
	FAILS("above the maximum", "run", "-m", "99999999999999999999999", "k");
}

Test(opts, mem_not_a_number)
{
	FAILS("-m/--mem: 'abc' is not a number", "run", "-m", "abc", "k");
	FAILS("not a number", "run", "-m", "", "k");
	FAILS("not a number", "run", "-m", "512M", "k");
	FAILS("not a number", "run", "-m", "-5", "k");
	FAILS("not a number", "run", "-m", "+64", "k");
	FAILS("not a number", "run", "-m", " 64", "k");
	FAILS("not a number", "run", "-m", "64 ", "k");
	FAILS("not a number", "run", "-m", "0x40", "k");
	FAILS("not a number", "run", "--mem=1.5", "k");
}

Test(opts, mem_missing_argument)
{
	FAILS("option -m/--mem needs an argument", "run", "k", "-m");
	FAILS("option -m/--mem needs an argument", "run", "k", "--mem");
}

/* -c/--cpus */

Test(opts, cpus)
{
	OK("run", "-c", "1", "k");
	cr_assert_eq(opts.vcpus, 1);
	OK("run", "--cpus", "2", "k");
	cr_assert_eq(opts.vcpus, 2, "passed through; the library decides");
	OK("run", "--cpus=4096", "k");
	cr_assert_eq(opts.vcpus, 4096);
	FAILS("at least 1 vCPU", "run", "-c", "0", "k");
	FAILS("above the maximum of 4096", "run", "-c", "4097", "k");
	FAILS("above the maximum", "run", "-c", "18446744073709551617", "k");
	FAILS("-c/--cpus: 'two' is not a number", "run", "-c", "two", "k");
	FAILS("not a number", "run", "-c", "-1", "k");
	FAILS("not a number", "run", "-c", "", "k");
	FAILS("option -c/--cpus needs an argument", "run", "k", "-c");
}

/* -p/--params */

Test(opts, params_joined)
{
	OK("run", "-p", "console=ttyS0", "--params", "quiet loglevel=8", "-pnoapic", "k");
	cr_assert_str_eq(opts.params, "console=ttyS0 quiet loglevel=8 noapic");
	OK("run", "--params=a=b", "k");
	cr_assert_str_eq(opts.params, "a=b");
	OK("run", "-p", "", "-p", "x", "-p", "", "k");
	cr_assert_str_eq(opts.params, "x", "empty parts are skipped");
	OK("run", "-p", "", "k");
	cr_assert_null(opts.params);
	FAILS("option -p/--params needs an argument", "run", "k", "-p");
}

/* -i/--initrd */

Test(opts, initrd)
{
	OK("run", "-i", "initrd.img", "k");
	cr_assert_str_eq(opts.initrd, "initrd.img");
	OK("run", "--initrd", "/boot/initrd", "k");
	cr_assert_str_eq(opts.initrd, "/boot/initrd");
	FAILS("-i/--initrd: empty path", "run", "-i", "", "k");
	FAILS("option -i/--initrd needs an argument", "run", "k", "--initrd");
}

/* Disks: -r, -d, --rwdisk, in order */

Test(opts, disks)
{
	OK("run", "-d", "ro.img", "-r", "root.img", "--rwdisk", "rw.img", "--disk=ro2.img", "k");
	cr_assert_eq(opts.ndisks, 4);
	cr_assert_str_eq(opts.disks[0].path, "ro.img");
	cr_assert(opts.disks[0].read_only && !opts.disks[0].root);
	cr_assert_str_eq(opts.disks[1].path, "root.img");
	cr_assert(!opts.disks[1].read_only && opts.disks[1].root);
	cr_assert_str_eq(opts.disks[2].path, "rw.img");
	cr_assert(!opts.disks[2].read_only && !opts.disks[2].root);
	cr_assert(opts.disks[3].read_only);
	cr_assert(!opts.disks[0].direct && !opts.disks[3].direct);
	FAILS("-r/--root: given twice", "run", "-r", "a", "--root", "b", "k");
	FAILS("-d/--disk: empty path", "run", "-d", "", "k");
	FAILS("option --rwdisk needs an argument", "run", "k", "--rwdisk");
	FAILS("at most 16 disks", "run", "-d", "1", "-d", "2", "-d", "3", "-d", "4", "-d", "5",
	      "-d", "6", "-d", "7", "-d", "8", "-d", "9", "-d", "10", "-d", "11", "-d", "12", "-d",
	      "13", "-d", "14", "-d", "15", "-d", "16", "-d", "17", "k");
}

/* PATH,o_direct=...: crosvm's spelling */
Test(opts, disk_o_direct)
{
	OK("run", "--rwdisk", "rw.img,o_direct=true", "-d", "ro.img,o_direct", "-r",
	   "r.img,o_direct=false", "k");
	cr_assert_eq(opts.ndisks, 3);
	cr_assert_str_eq(opts.disks[0].path, "rw.img");
	cr_assert(opts.disks[0].direct && !opts.disks[0].read_only);
	cr_assert_str_eq(opts.disks[1].path, "ro.img");
	cr_assert(opts.disks[1].direct && opts.disks[1].read_only);
	cr_assert_str_eq(opts.disks[2].path, "r.img");
	cr_assert(!opts.disks[2].direct && opts.disks[2].root);
	FAILS("--rwdisk 'a,o_direct=yes': o_direct= takes true or false, not yes", "run",
	      "--rwdisk", "a,o_direct=yes", "k");
	FAILS("-d/--disk 'a,sparse=true': unknown option sparse", "run", "-d", "a,sparse=true",
	      "k");
	FAILS("unknown option (empty)", "run", "-d", "a,", "k");
	FAILS("o_direct given twice", "run", "-d", "a,o_direct,o_direct=false", "k");
	FAILS("-d/--disk: empty path", "run", "-d", ",o_direct", "k");
}

/* Devices: rng, net, vsock */

Test(opts, device_options)
{
	OK("run", "k");
	cr_assert_eq(opts.rng, -1, "rng left to the library's default");
	cr_assert_eq(opts.tap_fd, -1);
	cr_assert_not(opts.cid_given);
	OK("run", "--no-rng", "--cid", "0", "--tap-fd", "7", "--host_ip", "10.0.0.1", "k");
	cr_assert_eq(opts.rng, 0);
	cr_assert(opts.cid_given, "--cid 0 is given (and the library refuses it)");
	cr_assert_eq(opts.cid, 0);
	cr_assert_eq(opts.tap_fd, 7);
	cr_assert_str_eq(opts.host_ip, "10.0.0.1");
	OK("run", "--rng", "--host-ip=10.0.0.2", "--netmask", "255.255.255.0", "k");
	cr_assert_eq(opts.rng, 1);
	cr_assert_str_eq(opts.host_ip, "10.0.0.2");
	FAILS("--cid: 'x' is not a valid number", "run", "--cid", "x", "k");
	FAILS("--cid: '-3' is not a valid number", "run", "--cid", "-3", "k");
	FAILS("--tap-fd: '70000' is not a valid number", "run", "--tap-fd", "70000", "k");
	FAILS("--mac: empty value", "run", "--mac", "", "k");
}

/* --cpuid-disable */

Test(opts, cpuid_disable)
{
	OK("run", "--cpuid-disable", "cx16,xsave", "k");
	cr_assert_str_eq(opts.cpuid_disable, "cx16,xsave");
	OK("run", "--cpuid-disable=avx", "k");
	cr_assert_str_eq(opts.cpuid_disable, "avx");
	FAILS("--cpuid-disable: empty list", "run", "--cpuid-disable", "", "k");
	FAILS("option --cpuid-disable needs an argument", "run", "k", "--cpuid-disable");
}

/* --log-level, -v */

Test(opts, log_level)
{
	static const struct {
		const char *name;
		enum cvm_log_level level;
	} levels[] = {
		{ "error", CVM_LOG_ERROR },
		{ "warn", CVM_LOG_WARN },
		{ "info", CVM_LOG_INFO },
		{ "debug", CVM_LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		OK("run", "--log-level", (char *)levels[i].name, "k");
		cr_assert_eq(opts.log_level, levels[i].level, "%s", levels[i].name);
		cr_assert_str_eq(opts_log_level_name(levels[i].level), levels[i].name);
	}
	OK("run", "--log-level=warn", "k");
	cr_assert_eq(opts.log_level, CVM_LOG_WARN);
	FAILS("--log-level: unknown level 'loud'", "run", "--log-level", "loud", "k");
	FAILS("unknown level 'DEBUG'", "run", "--log-level", "DEBUG", "k");
	FAILS("option --log-level needs an argument", "run", "k", "--log-level");
	cr_assert_str_eq(opts_log_level_name((enum cvm_log_level)42), "unknown");
}

Test(opts, verbose)
{
	OK("run", "-v", "k");
	cr_assert_eq(opts.log_level, CVM_LOG_DEBUG);
	OK("run", "--verbose", "k");
	cr_assert_eq(opts.log_level, CVM_LOG_DEBUG);
	OK("run", "-v", "--log-level", "error", "k");
	cr_assert_eq(opts.log_level, CVM_LOG_ERROR, "the last one wins");
	OK("run", "-vm64", "k");
	cr_assert_eq(opts.log_level, CVM_LOG_DEBUG);
	cr_assert_eq(opts.mem_mib, 64);
	FAILS("option '--verbose=1' takes no argument", "run", "--verbose=1", "k");
}

/* Unknown options */

Test(opts, unknown_options)
{
	FAILS("unknown option '-x'", "run", "-x", "k");
	FAILS("unknown option '-z'", "run", "-vz", "k");
	FAILS("unknown or ambiguous option '--frobnicate'", "run", "--frobnicate", "k");
	FAILS("unknown or ambiguous option '--cpu'", "run", "--cpu", "1", "k");
	FAILS("unknown or ambiguous option '--diskette=a'", "run", "k", "--diskette=a");
}

Test(opts, long_option_abbreviations)
{
	OK("run", "--me", "64", "--cpui", "cx16", "--ser", "type=sink", "k");
	cr_assert_eq(opts.mem_mib, 64);
	cr_assert_str_eq(opts.cpuid_disable, "cx16");
	cr_assert_eq(opts.serial[0].type, OPTS_SERIAL_SINK);
}

/* --serial */

Test(opts, serial_file)
{
	OK("run", "--serial", "num=1,type=file,path=/tmp/com1.log", "k");
	cr_assert_eq(opts.nserial, 1, "COM1 given: no default added");
	cr_assert_eq(opts.serial[0].num, 1);
	cr_assert_eq(opts.serial[0].type, OPTS_SERIAL_FILE);
	cr_assert_str_eq(opts.serial[0].path, "/tmp/com1.log");
	cr_assert_eq(opts.serial[0].input, OPTS_INPUT_NONE, "no input unless asked");
}

Test(opts, serial_key_order_and_defaults)
{
	OK("run", "--serial", "path=out,type=file,num=3", "k");
	cr_assert_eq(opts.serial[0].num, 3);
	cr_assert_eq(opts.serial[0].type, OPTS_SERIAL_FILE);
	cr_assert_str_eq(opts.serial[0].path, "out");

	OK("run", "--serial", "type=sink", "k");
	cr_assert_eq(opts.nserial, 1);
	cr_assert_eq(opts.serial[0].num, 1, "num defaults to 1");
	cr_assert_eq(opts.serial[0].type, OPTS_SERIAL_SINK);

	OK("run", "--serial", "num=1", "k");
	cr_assert_eq(opts.serial[0].type, OPTS_SERIAL_STDOUT, "type defaults to stdout");
	cr_assert_eq(opts.serial[0].input, OPTS_INPUT_NONE);
}

Test(opts, serial_default_com1_added)
{
	OK("run", "--serial", "num=2,type=file,path=com2.log", "k");
	cr_assert_eq(opts.nserial, 2);
	cr_assert_eq(opts.serial[0].num, 2);
	cr_assert_eq(opts.serial[1].num, 1);
	cr_assert_eq(opts.serial[1].type, OPTS_SERIAL_STDOUT);
	cr_assert_eq(opts.serial[1].input, OPTS_INPUT_STDIN);
}

Test(opts, serial_stdin_moves_to_another_port)
{
	OK("run", "--serial", "num=2,type=stdout,input=stdin", "k");
	cr_assert_eq(opts.nserial, 2);
	cr_assert_eq(opts.serial[0].input, OPTS_INPUT_STDIN);
	cr_assert_eq(opts.serial[1].num, 1);
	cr_assert_eq(opts.serial[1].input, OPTS_INPUT_NONE, "only one port reads stdin");
}

Test(opts, serial_input_file)
{
	OK("run", "--serial", "num=1,type=sink,input=/tmp/in.txt", "k");
	cr_assert_eq(opts.serial[0].input, OPTS_INPUT_FILE);
	cr_assert_str_eq(opts.serial[0].input_path, "/tmp/in.txt");
}

Test(opts, serial_all_four)
{
	OK("run", "--serial", "num=4,type=sink", "--serial", "num=3,type=file,path=c3",
	   "--serial=num=2,type=stdout", "--serial", "num=1,type=stdout,input=stdin", "k");
	cr_assert_eq(opts.nserial, 4);
	cr_assert_eq(opts.serial[0].num, 4);
	cr_assert_eq(opts.serial[1].num, 3);
	cr_assert_str_eq(opts.serial[1].path, "c3");
	cr_assert_eq(opts.serial[2].num, 2);
	cr_assert_eq(opts.serial[3].num, 1);
	cr_assert_eq(opts.serial[3].input, OPTS_INPUT_STDIN);
}

Test(opts, serial_errors)
{
	FAILS("COM2 is given twice", "run", "--serial", "num=2", "--serial", "num=2,type=sink",
	      "k");
	FAILS("COM1 is given twice", "run", "--serial", "type=sink", "--serial", "num=1", "k");
	FAILS("at most 4 ports", "run", "--serial", "num=1", "--serial", "num=2", "--serial",
	      "num=3", "--serial", "num=4", "--serial", "num=1", "k");
	FAILS("num=0 is out of range", "run", "--serial", "num=0", "k");
	FAILS("num=5 is out of range (COM1 to COM4)", "run", "--serial", "num=5", "k");
	FAILS("out of range", "run", "--serial", "num=99999999999999999999", "k");
	FAILS("num=one is not a number", "run", "--serial", "num=one", "k");
	FAILS("not a number", "run", "--serial", "num=-1", "k");
	FAILS("unknown key 'speed'", "run", "--serial", "num=1,speed=9600", "k");
	FAILS("unknown type 'pty'", "run", "--serial", "type=pty", "k");
	FAILS("type=file needs path=FILE", "run", "--serial", "num=1,type=file", "k");
	FAILS("path= is only valid with type=file", "run", "--serial", "type=stdout,path=x", "k");
	FAILS("path= is only valid with type=file", "run", "--serial", "path=x", "k");
	FAILS("num given twice", "run", "--serial", "num=1,num=2", "k");
	FAILS("type given twice", "run", "--serial", "type=sink,type=stdout", "k");
	FAILS("empty specification", "run", "--serial", "", "k");
	FAILS("empty item", "run", "--serial", "num=1,,type=sink", "k");
	FAILS("empty item", "run", "--serial", "num=1,", "k");
	FAILS("'stdout' is not key=value", "run", "--serial", "num=1,stdout", "k");
	FAILS("path= needs a value", "run", "--serial", "type=file,path=", "k");
	FAILS("input= needs a value", "run", "--serial", "input=", "k");
	FAILS("only one port can have input=stdin", "run", "--serial", "num=1,input=stdin",
	      "--serial", "num=2,input=stdin", "k");
	FAILS("option --serial needs an argument", "run", "k", "--serial");
}

Test(opts, serial_error_frees_everything)
{
	/* Run under ASan/LSan: a failing spec must not leak its strings. */
	FAILS("unknown key", "run", "--serial", "type=file,path=p,input=i,bad=1", "k");
	FAILS("type=file needs", "run", "--serial", "input=in,type=file", "k");
	cr_assert_eq(opts.nserial, 0);
}

Test(opts, free_is_idempotent)
{
	OK("run", "-p", "a", "--serial", "type=file,path=x,input=y", "k");
	cvm_opts_free(&opts);
	cvm_opts_free(&opts);
	cvm_opts_free(NULL);
	cr_assert_null(opts.params);
	cr_assert_eq(opts.nserial, 0);
}

Test(opts, error_buffer_may_be_small_or_null)
{
	char small[8];

	cr_assert_eq(cvm_opts_parse(&opts, argv_count(ARGV("run")), ARGV("run"), small,
				    sizeof(small)),
		     -1);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cvm_opts_free(&opts);
	cr_assert_eq(cvm_opts_parse(&opts, argv_count(ARGV("run")), ARGV("run"), NULL, 0), -1);
}
