/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * benchlib: what the side-by-side benchmarks (startup, vm_rate, memory)
 * share: a clock and statistics, starting a VMM process with a deadline and
 * following its output, the memory of a process tree, and the result of a
 * benchmark as a human table and as the JSON object that bench/run combines:
 *
 *   {"name": "startup",
 *    "rows": [{"vmm": "libcvm", "metric": "first byte", "unit": "ms",
 *              "median": 8.1, "p10": 7.9, "p90": 9.3, "n": 20}, ...],
 *    "ratios": [{"name": "libcvm/bare-kvm first byte", "value": 1.3,
 *                "goal": "< 1.5", "met": true}, ...],
 *    "notes": "..."}
 *
 * "goal" and "met" are null for a ratio without a goal, "value" is null when
 * a side is missing (QEMU not installed).
 */
#ifndef CVM_BENCHLIB_H
#define CVM_BENCHLIB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- clock, statistics -------------------------------------------------- */

double bl_now_ms(void);
void bl_sleep_ms(int ms);

struct bl_stats {
	double median, p10, p90, min, max, mean;
	int n;
};

/* Percentiles by linear interpolation between the sorted samples. */
void bl_stats(const double *v, int n, struct bl_stats *out);

/* ---- options shared by the benchmark programs ---------------------------- */

struct bl_opts {
	int runs;	  /* -n: runs per VMM (0: the program's default) */
	int warmup;	  /* --warmup: uncounted runs first (default 1) */
	int timeout_ms;	  /* --timeout SEC: deadline of one VMM run (default 10) */
	int mem_mib;	  /* --mem: guest RAM (0: the program's default) */
	int settle_ms;	  /* --settle: memory: wait after the guest is up (100) */
	int cpu;	  /* --cpu: vm_rate: the one core (default 0) */
	const char *json; /* --json FILE */
	const char *cvm, *guest, *policy_dir, *barekvm, *qemu;
	bool no_qemu, verbose;
	char qemu_buf[4096], cvm_buf[4096], guest_buf[4096], bare_buf[4096];
};

/*
 * Parse the common options (see BL_USAGE). Defaults come from the
 * environment that bench/run sets (CVM_BENCH_CVM, CVM_BENCH_GUEST,
 * CVM_BENCH_POLICY_DIR, CVM_BENCH_QEMU, CVM_BENCH_BAREKVM), else from the
 * build tree around the program (../cvm, ../tests/guest/cvm-guest.elf,
 * ./barekvm) and PATH (qemu-system-x86_64). QEMU that is not found is not
 * an error: o->qemu stays NULL and bl_qemu_missing() says why.
 * Returns 0, 1 after --help, or 2 after a usage error (printed).
 */
int bl_parse(int argc, char **argv, const char *prog, const char *help, struct bl_opts *o);

#define BL_USAGE                                                                         \
	"  -n, --runs N         runs (or VMs) per VMM\n"                                 \
	"      --warmup N       uncounted runs first (default 1)\n"                      \
	"      --json FILE      write the result as JSON (see bench/README.md)\n"        \
	"      --cvm PATH       cvm binary (default: ../cvm beside this program)\n"      \
	"      --guest ELF      cvm-guest.elf (default: ../tests/guest/)\n"              \
	"      --policy-dir DIR seccomp policies for cvm (default: the source tree's)\n" \
	"      --barekvm PATH   barekvm (default: beside this program)\n"                \
	"      --qemu PATH      qemu-system-x86_64 (default: from PATH)\n"               \
	"      --no-qemu        leave QEMU out\n"                                        \
	"      --mem MiB        guest RAM\n"                                             \
	"      --timeout SEC    deadline of one VM run (default 10)\n"                   \
	"  -v, --verbose        print every sample\n"

/* Why QEMU is left out ("not found in PATH", "--no-qemu"), or NULL. */
const char *bl_qemu_missing(void);

/* ---- the VMMs compared ---------------------------------------------------- */

enum bl_vmm { BL_CVM, BL_CVM_NOSB, BL_QEMU, BL_BARE, BL_BARE_IRQ, BL_VMM_COUNT };

/* "libcvm", "libcvm-nosandbox", "qemu-microvm", "bare-kvm", "bare-kvm-irqchip" */
extern const char *const bl_vmm_name[BL_VMM_COUNT];

/*
 * The command line (at most 40 entries with the NULL) that runs the
 * greeting guest (@spin false: it prints, then resets through the i8042,
 * which ends every VMM with status 0) or the spin guest (it prints "SPIN"
 * and halts until SIGTERM), with @mem_mib of RAM:
 *
 *   libcvm            cvm run -m MiB [--seccomp-policy-dir DIR] [-p cvm.test=spin] GUEST
 *   libcvm-nosandbox  cvm run -m MiB --disable-sandbox [-p cvm.test=spin] GUEST
 *   qemu-microvm      qemu-system-x86_64 -M microvm -accel kvm -m MiB -nodefaults
 *                     -no-user-config -display none -serial stdio -no-reboot
 *                     -device i8042 -kernel GUEST [-append cvm.test=spin];
 *                     the spin guest's RAM is a memory-backend-memfd
 *   bare-kvm          barekvm --startup MiB | --spin MiB
 *   bare-kvm-irqchip  barekvm --irqchip after --startup MiB | --spin MiB: with
 *                     the in-kernel PIC/IOAPIC/LAPIC and PIT, as libcvm has
 *
 * @buf holds strings the argv points to. Returns 0, or -1 for QEMU when it
 * is missing.
 */
int bl_vmm_argv(const struct bl_opts *o, enum bl_vmm v, int mem_mib, bool spin, const char **argv,
		char *buf, size_t blen);

/*
 * bl_qemu_args() - the part of a QEMU command line every benchmark shares,
 * from argv[@n]: @qemu -M @machine -accel kvm [-cpu @cpu] -m @mem
 * -nodefaults -no-user-config -display none -serial stdio -no-reboot
 * (@cpu NULL: no -cpu). Returns the new count; the caller adds its devices,
 * -kernel and -append.
 */
int bl_qemu_args(const char **argv, int n, const char *qemu, const char *machine, const char *cpu,
		 const char *mem);

/* What the greeting guest's output of VMM @v starts with. */
const char *bl_vmm_greeting(enum bl_vmm v);

/* ---- signals ------------------------------------------------------------- */

/* The signal that interrupted the benchmark (SIGINT, SIGTERM, SIGHUP), or 0. */
extern volatile sig_atomic_t bl_signal;

/*
 * On SIGINT/SIGTERM/SIGHUP: SIGKILL the running child, call @hook (NULL:
 * none; it must be async-signal-safe), set bl_signal.
 */
void bl_signals(void (*hook)(void));

/* What the handler does, for a program that waits for signals in a thread. */
void bl_interrupt(int sig);

/* ---- one VMM process ----------------------------------------------------- */

struct bl_proc {
	pid_t pid;
	int pidfd, out;	 /* pidfd; the read end of its stdout */
	double t0;	 /* bl_now_ms() just before fork() */
	double first_ms; /* ms from t0 to its first byte of output, -1 before */
	double exit_ms;	 /* ms from t0 to its exit (pidfd readable), -1 before */
	bool gone;	 /* exited (not reaped yet) */
	char head[256];	 /* the start of its output, NUL-terminated */
	size_t head_len;
	char log[64]; /* its stderr, a temp file */
};

/*
 * fork + exec @argv with stdin /dev/null, stdout a pipe, stderr a temp
 * file, PR_SET_PDEATHSIG(SIGKILL), pinned to the caller's CPUs. Returns 0
 * or -1 (printed).
 */
int bl_spawn(struct bl_proc *p, char *const argv[]);

/*
 * Read its output until @needle has appeared (NULL: until it has exited and
 * its output ended) or @deadline (bl_now_ms() scale). Returns 0, or -1
 * (timed out, exited before @needle, interrupted; printed).
 */
int bl_follow(struct bl_proc *p, const char *needle, double deadline);

/*
 * Send @sig (0: none) unless it has exited, wait until @deadline and SIGKILL
 * after it, reap, close. Returns the wait status.
 */
int bl_finish(struct bl_proc *p, int sig, double deadline);

/* Print its stderr log (after a failure), unless interrupted. */
void bl_print_log(const struct bl_proc *p, const char *who);

/* Remove its stderr log. */
void bl_drop_log(struct bl_proc *p);

/*
 * Run @argv to its end: first byte and exit in ms. Fails (-1, printed,
 * stderr shown) unless it exits with status 0 within @timeout_ms and its
 * output contains @expect (NULL: anything non-empty).
 */
int bl_run_once(char *const argv[], const char *who, const char *expect, int timeout_ms,
		double *first_ms, double *exit_ms);

/* ---- memory of a process tree -------------------------------------------- */

struct bl_mem {
	double pss;   /* KiB, sum of Pss (smaps_rollup) over the tree */
	double ram;   /* KiB, Pss of the mappings whose name contains ram_name */
	double other; /* pss - ram */
	double anon;  /* KiB, Pss_Anon: heaps, stacks, private copies */
	double file;  /* KiB, Pss_File: the binaries and libraries, shared */
	double excl;  /* KiB mapped by the tree only, once (root), or -1 */
	double pte;   /* KiB of page tables (VmPTE) */
	double procs; /* processes in the tree */
};

/* @root and its descendants (/proc/<pid>/task/<tid>/children). */
int bl_sample_memory(pid_t root, const char *ram_name, struct bl_mem *m);

/* ---- results ------------------------------------------------------------- */

#define BL_MAX_ROWS 64
#define BL_MAX_RATIOS 32

struct bl_row {
	char vmm[48], metric[48], unit[16];
	struct bl_stats s;
};

struct bl_ratio {
	char name[128];
	double value; /* < 0: not available */
	char goal[16];
	double goal_max; /* <= 0: no goal */
};

struct bl_result {
	const char *name;
	struct bl_row rows[BL_MAX_ROWS];
	int nrows;
	struct bl_ratio ratios[BL_MAX_RATIOS];
	int nratios;
	char notes[4096];
};

void bl_add_row(struct bl_result *r, const char *vmm, const char *metric, const char *unit,
		const double *samples, int n);
const struct bl_row *bl_find_row(const struct bl_result *r, const char *vmm, const char *metric);

/*
 * Add the ratio of the medians of two rows of @metric, named
 * "NUM/DEN METRIC"; with @goal_max > 0, the goal "< goal_max". A missing
 * row gives a ratio without a value.
 */
void bl_add_ratio(struct bl_result *r, const char *num, const char *den, const char *metric,
		  double goal_max);

/* Append a sentence to the notes. */
void bl_note(struct bl_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The human table: rows, then ratios, then notes. */
void bl_print(const struct bl_result *r);

/* Write the JSON object to @path. Returns 0 or -1 (printed). */
int bl_write_json(const struct bl_result *r, const char *path);

#endif
