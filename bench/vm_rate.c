// SPDX-License-Identifier: BSD-3-Clause
/*
 * vm_rate: benchmark 5, VMs started and stopped per second on one core.
 *
 * The whole benchmark (and so every VMM it starts, its threads and device
 * processes) is pinned to one CPU (--cpu, default 0: as `taskset -c 0`).
 * For each VMM, a loop of -n (default 50) sequential runs of the greeting
 * guest with 64 MiB, after --warmup (1) uncounted ones:
 *
 *   libcvm                      cvm run -m 64 GUEST (sandbox on)
 *   libcvm-nosandbox            cvm run -m 64 --disable-sandbox GUEST
 *   libcvm-inprocess            one process, the library API in a loop:
 *                               cvm_vm_create, set_serial, set_kernel, run,
 *                               destroy (sandbox on): no fork/exec/ld.so
 *   libcvm-inprocess-nosandbox  the same with disable_sandbox
 *   qemu-microvm                qemu-system-x86_64 -M microvm ... GUEST
 *   bare-kvm                    barekvm --startup 64
 *   bare-kvm-irqchip            barekvm --irqchip after --startup 64
 *
 * Rows: "VMs/s", the loop's throughput (N / its wall time; a single
 * measurement, so p10 = p90 = median); "per VM", ms from the start of one
 * VM to the end of its process (or cvm_vm_destroy()), with its spread; and
 * "CPU per VM", the user + system CPU ms that VM took (getrusage of this
 * process and its reaped descendants: the VMM and its device processes;
 * with the benchmark's own small share), which says how much of "per VM"
 * is work and how much waiting.
 *
 *   vm_rate [-n VMS] [--cpu N] [--json FILE] [common options]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libcvm/cvm.h>

#include "benchlib.h"

enum {
	V_CVM,
	V_CVM_NOSB,
	V_INPROC,
	V_INPROC_NOSB,
	V_QEMU,
	V_BARE,
	V_BARE_IRQ,
	V_COUNT,
};

static const char *const names[V_COUNT] = {
	[V_CVM] = "libcvm",
	[V_CVM_NOSB] = "libcvm-nosandbox",
	[V_INPROC] = "libcvm-inprocess",
	[V_INPROC_NOSB] = "libcvm-inprocess-nosandbox",
	[V_QEMU] = "qemu-microvm",
	[V_BARE] = "bare-kvm",
	[V_BARE_IRQ] = "bare-kvm-irqchip",
};

/* The VMM process kind behind each variant (the in-process ones have none). */
static const int vmm_of[V_COUNT] = {
	[V_CVM] = BL_CVM,	    [V_CVM_NOSB] = BL_CVM_NOSB, [V_INPROC] = -1,
	[V_INPROC_NOSB] = -1,	    [V_QEMU] = BL_QEMU,		[V_BARE] = BL_BARE,
	[V_BARE_IRQ] = BL_BARE_IRQ,
};

/*
 * The in-process VM and its deadline, watched by the watchdog thread: it
 * waits for SIGINT/SIGTERM/SIGHUP (blocked in every other thread, so none
 * lands in a vCPU thread) and stops the VM on a signal or past the deadline.
 */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static cvm_vm *g_vm;
static double g_deadline;
static bool g_timed_out;

static void *watchdog(void *arg)
{
	const sigset_t *set = arg;

	for (;;) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000000L };
		int sig = sigtimedwait(set, NULL, &ts);

		if (sig > 0)
			bl_interrupt(sig); /* kills the VMM process being run, if any */
		pthread_mutex_lock(&g_lock);
		if (g_vm && (sig > 0 || bl_now_ms() > g_deadline)) {
			g_timed_out = sig <= 0;
			cvm_vm_stop(g_vm);
		}
		pthread_mutex_unlock(&g_lock);
	}
	return NULL;
}

/* CPU ms used so far by this process and its reaped descendants. */
static double cpu_ms(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return (self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
		kids.ru_stime.tv_sec) *
		       1e3 +
	       (self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
		kids.ru_stime.tv_usec) /
		       1e3;
}

static void quiet_log(void *opaque, enum cvm_log_level level, const char *msg)
{
	(void)opaque;
	if (level == CVM_LOG_ERROR)
		fprintf(stderr, "vm_rate: libcvm: %s\n", msg);
}

/* One VM through the library. Returns 0 when the guest reset by itself. */
static int inproc_once(const struct bl_opts *o, bool sandbox, int devnull)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cvm_serial_config com1 = CVM_SERIAL_CONFIG_INIT;
	enum cvm_exit_reason why = CVM_EXIT_ERROR;
	cvm_vm *vm;
	int rc;

	cfg.mem_mib = (uint32_t)o->mem_mib;
	cfg.log_level = CVM_LOG_ERROR;
	cfg.log_fn = quiet_log;
	cfg.disable_sandbox = !sandbox;
	cfg.seccomp_policy_dir = o->policy_dir;
	rc = cvm_vm_create(&vm, &cfg);
	if (rc < 0) {
		const char *msg = cvm_last_create_error();

		fprintf(stderr, "vm_rate: cvm_vm_create: %s\n", *msg ? msg : cvm_strerror(rc));
		return -1;
	}
	com1.out_fd = devnull;
	rc = cvm_vm_set_serial(vm, &com1);
	if (!rc)
		rc = cvm_vm_set_kernel(vm, o->guest, NULL);
	if (!rc) {
		pthread_mutex_lock(&g_lock);
		g_vm = vm;
		g_deadline = bl_now_ms() + o->timeout_ms;
		g_timed_out = false;
		pthread_mutex_unlock(&g_lock);
		rc = cvm_vm_run(vm, &why);
		pthread_mutex_lock(&g_lock);
		g_vm = NULL;
		pthread_mutex_unlock(&g_lock);
	}
	if (rc < 0 || why != CVM_EXIT_RESET) {
		if (!bl_signal)
			fprintf(stderr, "vm_rate: in-process VM: %s%s\n",
				rc < 0 ? cvm_vm_last_error(vm) : cvm_exit_reason_name(why),
				g_timed_out ? " (timed out)" : "");
		cvm_vm_destroy(vm);
		return -1;
	}
	cvm_vm_destroy(vm);
	return 0;
}

int main(int argc, char **argv)
{
	static const char help[] = "Benchmark 5: VMs started and stopped per second on one core.\n"
				   "      --cpu N          the core to pin everything to (0)\n";
	struct bl_opts o = { 0 };
	struct bl_result res = { .name = "vm_rate" };
	double *per_vm[V_COUNT] = { 0 }, *cpu[V_COUNT] = { 0 }, rate[V_COUNT];
	bool on[V_COUNT];
	sigset_t set;
	cpu_set_t cpus;
	pthread_t wd;
	int rc = bl_parse(argc, argv, "vm_rate", help, &o), ret = 1, devnull;

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!o.runs)
		o.runs = 50;
	if (!o.mem_mib)
		o.mem_mib = 64;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* One core for everything that follows: threads and children inherit it. */
	CPU_ZERO(&cpus);
	CPU_SET(o.cpu, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus)) {
		fprintf(stderr, "vm_rate: cannot pin to CPU %d: %s\n", o.cpu, strerror(errno));
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&wd, NULL, watchdog, &set)) {
		fprintf(stderr, "vm_rate: cannot start the watchdog thread\n");
		return 1;
	}
	pthread_detach(wd);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull < 0) {
		perror("vm_rate: /dev/null");
		return 1;
	}

	for (int v = 0; v < V_COUNT; v++) {
		on[v] = v != V_QEMU || o.qemu;
		per_vm[v] = calloc((size_t)o.runs, sizeof(double));
		cpu[v] = calloc((size_t)o.runs, sizeof(double));
	}
	if (!on[V_QEMU])
		printf("vm_rate: no QEMU rows: %s\n", bl_qemu_missing());
	printf("vm_rate: on CPU %d, per VMM %d warm-up + a loop of %d VMs, greeting guest, "
	       "%d MiB\n",
	       o.cpu, o.warmup, o.runs, o.mem_mib);

	for (int v = 0; v < V_COUNT; v++) {
		double t_loop = 0;

		if (!on[v])
			continue;
		for (int r = -o.warmup; r < o.runs; r++) {
			double t0 = bl_now_ms(), c0 = cpu_ms(), f, e;

			if (r == 0)
				t_loop = t0;
			if (vmm_of[v] < 0) {
				rc = inproc_once(&o, v == V_INPROC, devnull);
			} else {
				const char *av[40];
				char buf[256];

				bl_vmm_argv(&o, vmm_of[v], o.mem_mib, false, av, buf, sizeof(buf));
				rc = bl_run_once((char *const *)av, names[v],
						 bl_vmm_greeting(vmm_of[v]), o.timeout_ms, &f, &e);
			}
			if (rc || bl_signal) {
				if (!bl_signal)
					fprintf(stderr, "vm_rate: %s, VM %d failed\n", names[v],
						r + 1);
				goto out;
			}
			if (r >= 0) {
				per_vm[v][r] = bl_now_ms() - t0;
				cpu[v][r] = cpu_ms() - c0;
			}
			if (o.verbose)
				printf("%s %2d %-26s %7.2f ms\n", r < 0 ? "warm-up" : "vm",
				       r < 0 ? r + o.warmup + 1 : r + 1, names[v],
				       bl_now_ms() - t0);
		}
		rate[v] = o.runs / ((bl_now_ms() - t_loop) / 1000);
		printf("vm_rate: %-26s %d VMs in %.2f s: %.1f VMs/s\n", names[v], o.runs,
		       o.runs / rate[v], rate[v]);
	}

	for (int v = 0; v < V_COUNT; v++) {
		double r[1];

		if (!on[v])
			continue;
		r[0] = rate[v];
		bl_add_row(&res, names[v], "VMs/s", "1/s", r, 1);
		res.rows[res.nrows - 1].s.n = o.runs;
		bl_add_row(&res, names[v], "per VM", "ms", per_vm[v], o.runs);
		bl_add_row(&res, names[v], "CPU per VM", "ms", cpu[v], o.runs);
	}
	bl_add_ratio(&res, "libcvm", "bare-kvm", "VMs/s", 0);
	bl_add_ratio(&res, "libcvm", "qemu-microvm", "VMs/s", 0);
	bl_add_ratio(&res, "libcvm", "bare-kvm-irqchip", "VMs/s", 0);
	bl_add_ratio(&res, "libcvm-inprocess", "bare-kvm", "VMs/s", 0);
	bl_add_ratio(&res, "libcvm-inprocess", "libcvm", "VMs/s", 0);
	bl_note(&res,
		"Everything pinned to CPU %d; greeting guest, %d MiB; per VMM %d warm-up "
		"then a loop of %d sequential VMs. VMs/s = %d / the loop's wall time (one "
		"measurement: p10 = p90 = median); per VM = ms from its start to its "
		"end (process reaped, or cvm_vm_destroy() returned); CPU per VM = user + system "
		"time of the VMM and its device processes (getrusage).",
		o.cpu, o.mem_mib, o.warmup, o.runs, o.runs);
	if (!on[V_QEMU])
		bl_note(&res, "No QEMU rows: %s.", bl_qemu_missing());
	bl_print(&res);
	if (o.json && bl_write_json(&res, o.json))
		goto out;
	ret = 0;
out:
	for (int v = 0; v < V_COUNT; v++) {
		free(per_vm[v]);
		free(cpu[v]);
	}
	close(devnull);
	if (bl_signal) {
		fprintf(stderr, "vm_rate: interrupted (signal %d)\n", (int)bl_signal);
		return 128 + bl_signal;
	}
	return ret;
}
