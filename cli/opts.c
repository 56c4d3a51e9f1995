// SPDX-License-Identifier: BSD-3-Clause
/*
 * Command-line parsing for `cvm`: see opts.h. Nothing here opens a file or
 * calls the library.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

const char cvm_opts_usage[] =
	"Usage: cvm COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  run [OPTIONS] KERNEL   boot KERNEL in a new virtual machine\n"
	"  stop SOCKET            stop the VM listening on SOCKET (cvm run -s)\n"
	"  suspend SOCKET         pause its vCPUs\n"
	"  resume SOCKET          let them run again\n"
	"  status [--json] SOCKET its state, vCPUs, memory, devices and uptime\n"
	"  version                print the version (also: cvm --version)\n"
	"\n"
	"  cvm --help             this text\n"
	"  cvm run --help         the options of `cvm run`\n"
	"\n"
	"Exit status: 0 when the guest reset, powered off or was stopped (or the\n"
	"control command succeeded); 1 when the VM or the command failed; 2 for a\n"
	"usage error.\n";

const char cvm_opts_run_usage[] =
	"Usage: cvm run [OPTIONS] KERNEL\n"
	"\n"
	"Boot KERNEL (an ELF64 vmlinux or a bzImage) in a new virtual machine and\n"
	"run it until it resets, powers off or is stopped (SIGINT, SIGTERM).\n"
	"\n"
	"Options:\n"
	"  -m, --mem MiB            guest RAM in MiB, 16 to 1048576 (default 256)\n"
	"  -c, --cpus N             number of vCPUs, 1 to 4096 (default 1; KVM's\n"
	"                           limit applies)\n"
	"  -p, --params PARAMS      kernel command line; may be given several times,\n"
	"                           the parts are joined with spaces\n"
	"  -i, --initrd INITRD      initial ramdisk\n"
	"  -r, --root IMG           root disk, read-write: a virtio-blk disk, and\n"
	"                           root=/dev/vdX on the command line (once)\n"
	"  -d, --disk IMG           read-only virtio-blk disk (repeatable)\n"
	"      --rwdisk IMG         writable virtio-blk disk (repeatable)\n"
	"                           Disks are vda, vdb, ... in the order given.\n"
	"                           IMG,o_direct=true opens the image with O_DIRECT\n"
	"                           (no host page cache) instead.\n"
	"      --serial SPEC        connect a serial port; may be given once per port.\n"
	"                           SPEC is a comma-separated list of:\n"
	"                             num=N          COM port, 1 to 4 (default 1)\n"
	"                             type=T         stdout (default), file or sink\n"
	"                             path=FILE      output file, for type=file\n"
	"                             input=stdin    read guest input from stdin\n"
	"                             input=FILE     read guest input from FILE\n"
	"                           Without a --serial for COM1, COM1 is\n"
	"                           type=stdout,input=stdin.\n"
	"      --cpuid-disable LIST hide these CPUID features from the guest\n"
	"                           (comma-separated names, e.g. cx16,xsave)\n"
	"      --log-level LEVEL    error, warn, info (default) or debug\n"
	"      --rng, --no-rng      a virtio-rng device (default: on)\n"
	"      --host_ip A          virtio-net over a new TAP device with host address A\n"
	"      --netmask M          ... and netmask M (both needed; CAP_NET_ADMIN)\n"
	"      --mac X              the guest's MAC (default: stable, locally administered)\n"
	"      --tap-name T         virtio-net over the existing TAP device T\n"
	"      --tap-fd N           virtio-net over the open TAP descriptor N\n"
	"      --cid N              a virtio-vsock device with guest context id N (>= 3)\n"
	"      --vsock-uds PATH     its host socket (default /tmp/cvm-vsock-<cid>.sock)\n"
	"      --wayland-sock PATH  a virtio-wl device for the Wayland compositor at PATH\n"
	"                           (default: $XDG_RUNTIME_DIR/wayland-0 when it is\n"
	"                           a socket)\n"
	"      --no-wl              no virtio-wl device\n"
	"      --disable-sandbox    run virtio devices as threads of cvm, without\n"
	"                           their jailed, seccomp-filtered processes\n"
	"      --seccomp-policy-dir DIR\n"
	"                           the devices' seccomp policies (default: the\n"
	"                           installed ones in $prefix/share/policy/cvm)\n"
	"  -s, --socket PATH        control socket (cvm stop/suspend/resume/status);\n"
	"                           a directory means PATH/cvm.<pid>.sock\n"
	"  -v, --verbose            same as --log-level debug\n"
	"  -h, --help               this text\n";

enum {
	OPT_SERIAL = 256,
	OPT_CPUID_DISABLE,
	OPT_LOG_LEVEL,
	OPT_RWDISK,
	OPT_RNG,
	OPT_NO_RNG,
	OPT_HOST_IP,
	OPT_NETMASK,
	OPT_MAC,
	OPT_TAP_NAME,
	OPT_TAP_FD,
	OPT_CID,
	OPT_VSOCK_UDS,
	OPT_DISABLE_SANDBOX,
	OPT_POLICY_DIR,
	OPT_WAYLAND_SOCK,
	OPT_NO_WL,
};

static const struct option long_options[] = {
	{ "mem", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "params", required_argument, NULL, 'p' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "root", required_argument, NULL, 'r' },
	{ "disk", required_argument, NULL, 'd' },
	{ "rwdisk", required_argument, NULL, OPT_RWDISK },
	{ "socket", required_argument, NULL, 's' },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "no-rng", no_argument, NULL, OPT_NO_RNG },
	{ "host_ip", required_argument, NULL, OPT_HOST_IP },
	{ "host-ip", required_argument, NULL, OPT_HOST_IP },
	{ "netmask", required_argument, NULL, OPT_NETMASK },
	{ "mac", required_argument, NULL, OPT_MAC },
	{ "tap-name", required_argument, NULL, OPT_TAP_NAME },
	{ "tap-fd", required_argument, NULL, OPT_TAP_FD },
	{ "cid", required_argument, NULL, OPT_CID },
	{ "vsock-uds", required_argument, NULL, OPT_VSOCK_UDS },
	{ "wayland-sock", required_argument, NULL, OPT_WAYLAND_SOCK },
	{ "no-wl", no_argument, NULL, OPT_NO_WL },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "disable-sandbox", no_argument, NULL, OPT_DISABLE_SANDBOX },
	{ "seccomp-policy-dir", required_argument, NULL, OPT_POLICY_DIR },
	{ "cpuid-disable", required_argument, NULL, OPT_CPUID_DISABLE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/*
 * '-': non-options are returned in order as 1 (so options may follow KERNEL
 * whatever POSIXLY_CORRECT says); ':': a missing argument returns ':'.
 */
static const char short_options[] = "-:m:c:p:i:r:d:s:vh";

static const char *const log_level_names[] = {
	[CVM_LOG_ERROR] = "error",
	[CVM_LOG_WARN] = "warn",
	[CVM_LOG_INFO] = "info",
	[CVM_LOG_DEBUG] = "debug",
};

const char *opts_log_level_name(enum cvm_log_level level)
{
	if ((unsigned int)level < sizeof(log_level_names) / sizeof(log_level_names[0]))
		return log_level_names[level];
	return "unknown";
}

int opts_usage_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *option_name(int val)
{
	switch (val) {
	case 'm':
		return "-m/--mem";
	case 'c':
		return "-c/--cpus";
	case 'p':
		return "-p/--params";
	case 'i':
		return "-i/--initrd";
	case 's':
		return "-s/--socket";
	case OPT_HOST_IP:
		return "--host_ip";
	case OPT_NETMASK:
		return "--netmask";
	case OPT_MAC:
		return "--mac";
	case OPT_TAP_NAME:
		return "--tap-name";
	case OPT_TAP_FD:
		return "--tap-fd";
	case OPT_CID:
		return "--cid";
	case OPT_VSOCK_UDS:
		return "--vsock-uds";
	case OPT_WAYLAND_SOCK:
		return "--wayland-sock";
	case 'r':
		return "-r/--root";
	case 'd':
		return "-d/--disk";
	case OPT_RWDISK:
		return "--rwdisk";
	case 'v':
		return "-v/--verbose";
	case 'h':
		return "-h/--help";
	case OPT_SERIAL:
		return "--serial";
	case OPT_CPUID_DISABLE:
		return "--cpuid-disable";
	case OPT_LOG_LEVEL:
		return "--log-level";
	default:
		return NULL;
	}
}

static int add_disk(struct cvm_opts *o, int c, const char *arg, char *err, size_t errlen)
{
	const char *name = option_name(c);
	struct opts_disk d = { .read_only = c == 'd', .root = c == 'r' };

	if (o->ndisks == OPTS_MAX_DISKS)
		return opts_usage_err(err, errlen, "%s: at most %u disks", name, OPTS_MAX_DISKS);
	if (c == 'r') {
		for (unsigned int i = 0; i < o->ndisks; i++) {
			if (o->disks[i].root)
				return opts_usage_err(err, errlen, "-r/--root: given twice");
		}
	}
	if (opts_parse_disk(&d, name, arg, err, errlen))
		return -1;
	o->disks[o->ndisks++] = d;
	return 0;
}

/*
 * opts_parse_u32() - a decimal number with nothing around it.
 * Returns: 0, -EINVAL when @s is not a number, -ERANGE when it is one but
 * does not fit in 32 bits.
 */
int opts_parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

static int parse_mem(const char *arg, uint32_t *out, char *err, size_t errlen)
{
	uint32_t v = 0;
	int rc = opts_parse_u32(arg, &v);

	if (rc == -EINVAL)
		return opts_usage_err(err, errlen, "-m/--mem: '%s' is not a number of MiB", arg);
	if (rc == -ERANGE || v > OPTS_MEM_MAX_MIB)
		return opts_usage_err(err, errlen,
				      "-m/--mem: %s MiB is above the maximum of %u MiB", arg,
				      OPTS_MEM_MAX_MIB);
	if (v == 0)
		return opts_usage_err(err, errlen,
				      "-m/--mem: the guest needs some memory (0 MiB given)");
	if (v < OPTS_MEM_MIN_MIB)
		return opts_usage_err(err, errlen,
				      "-m/--mem: %u MiB is below the minimum of %u MiB", v,
				      OPTS_MEM_MIN_MIB);
	*out = v;
	return 0;
}

static int parse_cpus(const char *arg, uint32_t *out, char *err, size_t errlen)
{
	uint32_t v = 0;
	int rc = opts_parse_u32(arg, &v);

	if (rc == -EINVAL)
		return opts_usage_err(err, errlen, "-c/--cpus: '%s' is not a number", arg);
	if (rc == -ERANGE || v > OPTS_VCPUS_MAX)
		return opts_usage_err(err, errlen, "-c/--cpus: %s is above the maximum of %u vCPUs",
				      arg, OPTS_VCPUS_MAX);
	if (v == 0)
		return opts_usage_err(err, errlen, "-c/--cpus: the guest needs at least 1 vCPU");
	*out = v;
	return 0;
}

static int parse_log_level(const char *arg, enum cvm_log_level *out, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
		if (strcmp(arg, log_level_names[i]) == 0) {
			*out = (enum cvm_log_level)i;
			return 0;
		}
	}
	return opts_usage_err(
		err, errlen,
		"--log-level: unknown level '%s' (expected error, warn, info or debug)", arg);
}

/* Append @part to the space-separated string *@params. */
static int append_params(char **params, const char *part, char *err, size_t errlen)
{
	size_t old = *params ? strlen(*params) : 0;
	size_t add = strlen(part);
	char *p;

	if (add == 0)
		return 0;
	p = realloc(*params, old + (old ? 1 : 0) + add + 1);
	if (!p)
		return opts_usage_err(err, errlen, "out of memory");
	if (old)
		p[old++] = ' ';
	memcpy(p + old, part, add + 1);
	*params = p;
	return 0;
}

static int parse_run(struct cvm_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	bool kernel_seen = false;
	int c;

	o->cmd = OPTS_CMD_RUN;
	o->rng = -1;
	o->tap_fd = -1;
	opterr = 0;
	optind = 0; /* glibc: start afresh, so that the parser can run again */
	while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		const char *arg = optarg;

		switch (c) {
		case 1: /* a non-option argument */
			if (kernel_seen)
				return opts_usage_err(err, errlen, "unexpected argument '%s'", arg);
			o->kernel = arg;
			kernel_seen = true;
			break;
		case 'm':
			if (parse_mem(arg, &o->mem_mib, err, errlen))
				return -1;
			break;
		case 'c':
			if (parse_cpus(arg, &o->vcpus, err, errlen))
				return -1;
			break;
		case 'p':
			if (append_params(&o->params, arg, err, errlen))
				return -1;
			break;
		case 'i':
			if (*arg == '\0')
				return opts_usage_err(err, errlen, "-i/--initrd: empty path");
			o->initrd = arg;
			break;
		case 'r':
		case 'd':
		case OPT_RWDISK:
			if (add_disk(o, c, arg, err, errlen))
				return -1;
			break;
		case 's':
			if (*arg == '\0')
				return opts_usage_err(err, errlen, "-s/--socket: empty path");
			o->socket = arg;
			break;
		case OPT_RNG:
		case OPT_NO_RNG:
			o->rng = c == OPT_RNG;
			break;
		case OPT_DISABLE_SANDBOX:
			o->disable_sandbox = true;
			break;
		case OPT_NO_WL:
			o->no_wl = true;
			break;
		case OPT_POLICY_DIR:
			if (*arg == '\0')
				return opts_usage_err(err, errlen,
						      "--seccomp-policy-dir: empty path");
			o->policy_dir = arg;
			break;
		case OPT_HOST_IP:
		case OPT_NETMASK:
		case OPT_MAC:
		case OPT_TAP_NAME:
		case OPT_WAYLAND_SOCK:
		case OPT_VSOCK_UDS: {
			const char **slot = c == OPT_HOST_IP	  ? &o->host_ip :
					    c == OPT_NETMASK	  ? &o->netmask :
					    c == OPT_MAC	  ? &o->mac :
					    c == OPT_TAP_NAME	  ? &o->tap_name :
					    c == OPT_WAYLAND_SOCK ? &o->wayland_sock :
								    &o->vsock_uds;

			if (*arg == '\0')
				return opts_usage_err(err, errlen, "%s: empty value",
						      option_name(c));
			*slot = arg;
			break;
		}
		case OPT_TAP_FD:
		case OPT_CID: {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(arg, &end, 10);
			if (errno || end == arg || *end || arg[0] == '-' ||
			    (c == OPT_TAP_FD && v > 65535) || (c == OPT_CID && v > 0xffffffffULL))
				return opts_usage_err(err, errlen, "%s: '%s' is not a valid number",
						      option_name(c), arg);
			if (c == OPT_TAP_FD) {
				o->tap_fd = (int)v;
			} else {
				o->cid = v;
				o->cid_given = true;
			}
			break;
		}
		case OPT_SERIAL:
			/* More than 4 means a duplicate: opts_finish_serial() would say so. */
			if (o->nserial == OPTS_SERIAL_PORTS)
				return opts_usage_err(err, errlen,
						      "--serial: at most %u ports (COM1 to COM%u)",
						      OPTS_SERIAL_PORTS, OPTS_SERIAL_PORTS);
			if (opts_parse_serial(&o->serial[o->nserial], arg, err, errlen))
				return -1;
			o->nserial++;
			break;
		case OPT_CPUID_DISABLE:
			if (*arg == '\0')
				return opts_usage_err(err, errlen, "--cpuid-disable: empty list");
			o->cpuid_disable = arg;
			break;
		case OPT_LOG_LEVEL:
			if (parse_log_level(arg, &o->log_level, err, errlen))
				return -1;
			break;
		case 'v':
			o->log_level = CVM_LOG_DEBUG;
			break;
		case 'h':
			o->cmd = OPTS_CMD_RUN_HELP;
			return 0;
		case ':':
			return opts_usage_err(err, errlen, "option %s needs an argument",
					      option_name(optopt) ? option_name(optopt) : "?");
		case '?':
		default: {
			const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

			if (optopt && strncmp(bad, "--", 2) == 0)
				return opts_usage_err(err, errlen, "option '%s' takes no argument",
						      bad);
			if (optopt)
				return opts_usage_err(err, errlen, "unknown option '-%c'", optopt);
			return opts_usage_err(err, errlen, "unknown or ambiguous option '%s'", bad);
		}
		}
	}
	/* Whatever follows "--" is not an option. */
	for (; optind < argc; optind++) {
		if (kernel_seen)
			return opts_usage_err(err, errlen, "unexpected argument '%s'",
					      argv[optind]);
		o->kernel = argv[optind];
		kernel_seen = true;
	}
	if (!kernel_seen)
		return opts_usage_err(err, errlen, "missing KERNEL (the kernel image to boot)");
	if (*o->kernel == '\0')
		return opts_usage_err(err, errlen, "KERNEL is an empty path");
	if (o->no_wl && o->wayland_sock)
		return opts_usage_err(err, errlen,
				      "--no-wl and --wayland-sock contradict each other");
	return opts_finish_serial(o, err, errlen);
}

int cvm_opts_parse(struct cvm_opts *out, int argc, char **argv, char *err, size_t errlen)
{
	const char *cmd;

	*out = (struct cvm_opts){ .cmd = OPTS_CMD_NONE, .log_level = CVM_LOG_INFO };
	if (err && errlen)
		err[0] = '\0';
	if (argc < 2 || !argv[1])
		return opts_usage_err(err, errlen, "missing command (try 'cvm --help')");
	cmd = argv[1];

	if (strcmp(cmd, "run") == 0)
		return parse_run(out, argc - 1, argv + 1, err, errlen);

	static const struct {
		const char *name;
		enum opts_cmd cmd;
	} control[] = {
		{ "stop", OPTS_CMD_STOP },
		{ "suspend", OPTS_CMD_SUSPEND },
		{ "resume", OPTS_CMD_RESUME },
		{ "status", OPTS_CMD_STATUS },
	};

	for (size_t i = 0; i < sizeof(control) / sizeof(control[0]); i++) {
		if (strcmp(cmd, control[i].name))
			continue;
		out->cmd = control[i].cmd;
		for (int a = 2; a < argc; a++) {
			if (out->cmd == OPTS_CMD_STATUS && !strcmp(argv[a], "--json"))
				out->json = true;
			else if (argv[a][0] == '-' && argv[a][1])
				return opts_usage_err(err, errlen, "%s: unknown option '%s'", cmd,
						      argv[a]);
			else if (out->socket)
				return opts_usage_err(err, errlen, "%s: unexpected argument '%s'",
						      cmd, argv[a]);
			else
				out->socket = argv[a];
		}
		if (!out->socket || !*out->socket)
			return opts_usage_err(err, errlen, "%s: missing SOCKET", cmd);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		out->cmd = OPTS_CMD_VERSION;
	} else if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
		   strcmp(cmd, "help") == 0) {
		out->cmd = OPTS_CMD_HELP;
	} else if (cmd[0] == '-') {
		return opts_usage_err(err, errlen, "unknown option '%s' (try 'cvm --help')", cmd);
	} else {
		return opts_usage_err(err, errlen, "unknown command '%s' (try 'cvm --help')", cmd);
	}
	if (argc > 2)
		return opts_usage_err(err, errlen, "unexpected argument '%s' after '%s'", argv[2],
				      cmd);
	return 0;
}

void cvm_opts_free(struct cvm_opts *o)
{
	if (!o)
		return;
	free(o->params);
	o->params = NULL;
	for (unsigned int i = 0; i < o->nserial; i++) {
		free(o->serial[i].path);
		free(o->serial[i].input_path);
		o->serial[i].path = NULL;
		o->serial[i].input_path = NULL;
	}
	o->nserial = 0;
	for (unsigned int i = 0; i < o->ndisks; i++) {
		free(o->disks[i].owned);
		o->disks[i].owned = NULL;
		o->disks[i].path = NULL;
	}
	o->ndisks = 0;
}
