/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command-line parsing for `cvm`. Pure: it neither opens files nor calls the
 * library, so every option and every error can be unit-tested.
 */
#ifndef CVM_CLI_OPTS_H
#define CVM_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libcvm/cvm.h>

/* Limits checked by the parser (the library checks its own as well). */
#define OPTS_MEM_MIN_MIB 16u
#define OPTS_MEM_MAX_MIB 1048576u
#define OPTS_VCPUS_MAX 4096u
#define OPTS_SERIAL_PORTS 4u
#define OPTS_MAX_DISKS 16u

/* Exit statuses of `cvm`. */
#define OPTS_EXIT_OK 0
#define OPTS_EXIT_FAILURE 1
#define OPTS_EXIT_USAGE 2

enum opts_cmd {
	OPTS_CMD_NONE = 0,
	OPTS_CMD_RUN,	   /* cvm run ... KERNEL */
	OPTS_CMD_VERSION,  /* cvm version, cvm --version */
	OPTS_CMD_HELP,	   /* cvm --help, cvm help */
	OPTS_CMD_RUN_HELP, /* cvm run --help */
	OPTS_CMD_STOP,	   /* cvm stop SOCKET */
	OPTS_CMD_SUSPEND,  /* cvm suspend SOCKET */
	OPTS_CMD_RESUME,   /* cvm resume SOCKET */
	OPTS_CMD_STATUS,   /* cvm status [--json] SOCKET */
};

enum opts_serial_type {
	OPTS_SERIAL_STDOUT = 0, /* guest output to the standard output */
	OPTS_SERIAL_FILE,	/* guest output to a file (path=) */
	OPTS_SERIAL_SINK,	/* guest output dropped */
};

enum opts_serial_input {
	OPTS_INPUT_NONE = 0, /* the port receives nothing */
	OPTS_INPUT_STDIN,    /* the port reads the standard input */
	OPTS_INPUT_FILE,     /* the port reads a file */
};

/* One -r, -d or --rwdisk, in command-line order (vda, vdb, ...). */
struct opts_disk {
	const char *path; /* the image (into owned) */
	bool read_only;
	bool root;
	bool direct; /* ,o_direct=true: O_DIRECT instead of the page cache */
	char *owned; /* freed by cvm_opts_free() */
};

/*
 * opts_parse_disk() - parse "PATH[,o_direct[=true|false]]" (crosvm's
 * spelling) into @d for the option @name ("--rwdisk"). Returns 0, or -1 with
 * a message in @err.
 */
int opts_parse_disk(struct opts_disk *d, const char *name, const char *arg, char *err,
		    size_t errlen);

/* Shared by the parsers: a usage message into @err (returns -1); a decimal u32 (0 or -errno). */
int opts_usage_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int opts_parse_u32(const char *s, uint32_t *out);

/* One --serial, or the default COM1. */
struct opts_serial {
	unsigned int num; /* 1..4 */
	enum opts_serial_type type;
	char *path; /* type=file: the output file (owned) */
	enum opts_serial_input input;
	char *input_path; /* input=FILE: the file (owned) */
};

struct cvm_opts {
	enum opts_cmd cmd;
	/* Guest RAM in MiB; 0 when not given (the library's default applies). */
	uint32_t mem_mib;
	/* vCPUs; 0 when not given (the library's default applies). */
	uint32_t vcpus;
	enum cvm_log_level log_level;
	/* Every -p joined with single spaces, or NULL when none (owned). */
	char *params;
	const char *initrd;	   /* -i, or NULL (points into argv) */
	const char *cpuid_disable; /* --cpuid-disable, or NULL (points into argv) */
	const char *kernel;	   /* KERNEL (points into argv) */
	/*
	 * The serial ports to connect, in the order given; COM1 is added as
	 * type=stdout (input=stdin unless another port reads stdin) when no
	 * --serial names it.
	 */
	struct opts_serial serial[OPTS_SERIAL_PORTS];
	unsigned int nserial;
	struct opts_disk disks[OPTS_MAX_DISKS];
	unsigned int ndisks;
	const char *socket; /* run -s PATH, or the SOCKET of a control command (argv) */
	int rng;	    /* -1: default (on), 0: --no-rng, 1: --rng */
	/* One virtio-net device: --host_ip/--netmask/--mac, or --tap-name, or --tap-fd. */
	const char *host_ip, *netmask, *mac, *tap_name;
	int tap_fd;		  /* -1 when not given */
	uint64_t cid;		  /* --cid */
	bool cid_given;		  /* --cid was on the command line (0 is given, and refused) */
	const char *vsock_uds;	  /* --vsock-uds PATH */
	const char *wayland_sock; /* --wayland-sock PATH */
	bool no_wl;		  /* --no-wl */
	bool json;		  /* status --json */
	bool disable_sandbox;	  /* --disable-sandbox */
	const char *policy_dir;	  /* --seccomp-policy-dir, or NULL */
};

/*
 * cvm_opts_parse() - parse the command line of `cvm`.
 * @out: filled in; release with cvm_opts_free() whatever the result.
 * @argc, @argv: as main() got them (argv[0] is the program name). The
 *       pointer array may be permuted (getopt_long); the strings are not
 *       modified.
 * @err, @errlen: receive the message of a usage error (no "cvm: " prefix,
 *       no newline).
 *
 * Returns: 0 on success (out->cmd says what to do), -1 on a usage error.
 */
int cvm_opts_parse(struct cvm_opts *out, int argc, char **argv, char *err, size_t errlen);

/* cvm_opts_free() - release what cvm_opts_parse() allocated; @o may be NULL. */
void cvm_opts_free(struct cvm_opts *o);

/* Help texts, for `cvm --help` and `cvm run --help`. */
extern const char cvm_opts_usage[];
extern const char cvm_opts_run_usage[];

/* opts_serial.c: one --serial SPEC into @s; then the cross-port checks and the default COM1. */
int opts_parse_serial(struct opts_serial *s, const char *spec, char *err, size_t errlen);
int opts_finish_serial(struct cvm_opts *o, char *err, size_t errlen);

/* Names used in messages and help. */
const char *opts_log_level_name(enum cvm_log_level level);

#endif
