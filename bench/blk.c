// SPDX-License-Identifier: BSD-3-Clause
/*
 * blk: benchmark 3, virtio-blk throughput and IOPS against the host's own
 * reads of the same file and against QEMU.
 *
 * A disk image (256 MiB of pseudo-random bytes, written and fsync'ed; in the
 * build directory unless --dir: its file system, not a tmpfs, is what is
 * measured) is read and written four ways (the guest test bench_blk,
 * tests/guest/t_bench_blk.c, polling its queue from ring 3):
 *
 *   seqread        128 KiB requests, 8 in flight, the whole image
 *   randread qd1   4 KiB at random aligned offsets, 1 in flight, 4096 requests
 *   randread qd32  the same with 32 in flight, 16384 requests
 *   seqwrite       128 KiB requests, 8 in flight, the whole image
 *
 * by, each round in this order (one warm-up round first, uncounted):
 *
 *   host-direct    fio, O_DIRECT, libaio, the same block sizes and depths
 *                  (the limit of the disk); also seqread and seqwrite at
 *                  depth 1, what a device that serves one request at a
 *                  time can reach
 *   host-cached    fio, through the page cache (psync: queue depth 1; the
 *                  image is in the page cache, so this is the memory limit)
 *   libcvm         cvm run --rwdisk IMG --no-rng (the CLI opens the image
 *                  through the page cache)
 *   libcvm-direct  the same VM made through the library with the disk's
 *                  direct = 1 (O_DIRECT), by this program (--vmm-direct)
 *   qemu-q35       QEMU q35 (SeaBIOS), -device virtio-blk-pci,disable-legacy=on,
 *                  -drive cache=none,aio=native (O_DIRECT)
 *   qemu-q35-cached  the same with cache=writeback,aio=threads
 *
 * Before each side the image's dirty pages are written back (fdatasync),
 * and the sides that go through the page cache find the whole image in it
 * (read once just before): O_DIRECT writes drop cached pages.
 *
 * Ratios pair like with like: host-direct, qemu-q35 / libcvm-direct and
 * host-cached, qemu-q35-cached / libcvm; each is OTHER/LIBCVM of MB/s or
 * IOPS, so "< 1.11" is libcvm at >= 90% of the host and "< 1" libcvm ahead
 * of QEMU. Without fio the host rows come from this program's own O_DIRECT
 * and cached pread/pwrite loops at queue depth 1 (no qd32).
 *
 *   blk [-n RUNS] [--dir DIR | --image IMG] [--size MiB] [--no-fio] [common options]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libcvm/cvm.h>

#include "benchlib.h"

#define DEFAULT_RUNS 5
#define DEFAULT_TIMEOUT_S 120
#define DEFAULT_SIZE_MIB 256
#define GUEST_MEM "256"
#define SEQ_BS (128 * 1024)
#define SEQ_QD 8
#define RAND_BS 4096
#define QD1_REQS 4096
#define QD32_REQS 16384
#define OUT_MAX (1 << 20)

static const char help[] =
	"virtio-blk sequential MB/s and 4 KiB random-read IOPS (queue depth 1 and 32)\n"
	"under libcvm (page cache and O_DIRECT) and QEMU q35, against fio on the host.\n"
	"      --dir DIR        where the temporary image goes (default: the build directory)\n"
	"      --image IMG      use this file (its size a multiple of 1 MiB, >= 16 MiB; it is\n"
	"                       written to!) instead of a temporary one\n"
	"      --size MiB       size of the temporary image (default 256)\n"
	"      --no-fio         the host rows from this program's pread/pwrite loops\n"
	"Defaults here: -n 5, --warmup 1 (0 with CVM_BENCH_QUICK=1), --timeout 120.\n";

/* The guest's four modes; then two more for host-direct only (queue depth 1). */
enum mode {
	M_SEQREAD,
	M_QD1,
	M_QD32,
	M_SEQWRITE,
	M_GUEST_N,
	M_SEQREAD1 = M_GUEST_N,
	M_SEQWRITE1,
	M_N
};

static const struct {
	const char *guest, *metric, *unit;
	const char *rw;
	int bs, qd;
} modes[M_N] = {
	[M_SEQREAD] = { "seqread", "seqread", "MB/s", "read", SEQ_BS, SEQ_QD },
	[M_QD1] = { "randread_qd1", "randread qd1", "IOPS", "randread", RAND_BS, 1 },
	[M_QD32] = { "randread_qd32", "randread qd32", "IOPS", "randread", RAND_BS, 32 },
	[M_SEQWRITE] = { "seqwrite", "seqwrite", "MB/s", "write", SEQ_BS, SEQ_QD },
	[M_SEQREAD1] = { NULL, "seqread qd1", "MB/s", "read", SEQ_BS, 1 },
	[M_SEQWRITE1] = { NULL, "seqwrite qd1", "MB/s", "write", SEQ_BS, 1 },
};

enum who { W_HOST_DIRECT, W_HOST_CACHED, W_CVM, W_CVM_DIRECT, W_QEMU, W_QEMU_CACHED, W_N };

static const char *const wname[W_N] = {
	[W_HOST_DIRECT] = "host-direct",
	[W_HOST_CACHED] = "host-cached",
	[W_CVM] = "libcvm",
	[W_CVM_DIRECT] = "libcvm-direct",
	[W_QEMU] = "qemu-q35",
	[W_QEMU_CACHED] = "qemu-q35-cached",
};

struct bopts {
	const char *dir, *image;
	int size_mib;
	bool no_fio;
	char self[4096], dirbuf[4096], img[4096], fio[4096];
	bool temp;
};

/* One round of one side: a value per mode (MB/s or IOPS; < 0: none). */
struct round {
	double v[M_N];
	double notify_us; /* VMMs: the mean notify exit in randread_qd1 */
};

static struct bopts g_b;

static void drop_image(void)
{
	if (g_b.temp && g_b.img[0])
		unlink(g_b.img);
}

/* ---- the VM that --vmm-direct runs (a child of this program) -------------- */

static cvm_vm *volatile g_vm;

static void stop_vm(int sig)
{
	cvm_vm *vm = g_vm;

	(void)sig;
	if (vm)
		cvm_vm_stop(vm);
}

static int vmm_direct(const char *guest, const char *img, const char *policy)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cvm_serial_config ser = CVM_SERIAL_CONFIG_INIT;
	cvm_blk_config disk = CVM_BLK_CONFIG_INIT;
	enum cvm_exit_reason reason = CVM_EXIT_ERROR;
	struct sigaction sa = { .sa_handler = stop_vm };
	cvm_vm *vm = NULL;
	int rc;

	cfg.mem_mib = atoi(GUEST_MEM);
	if (strcmp(policy, "-"))
		cfg.seccomp_policy_dir = policy;
	rc = cvm_vm_create(&vm, &cfg);
	if (rc < 0) {
		fprintf(stderr, "blk --vmm-direct: %s: %s\n", cvm_strerror(rc),
			cvm_last_create_error());
		return 1;
	}
	g_vm = vm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	disk.path = img;
	disk.direct = 1;
	ser.out_fd = 1;
	if ((rc = cvm_vm_set_kernel(vm, guest, "cvm.test=bench_blk")) < 0 ||
	    (rc = cvm_vm_add_disk(vm, &disk)) < 0 || (rc = cvm_vm_set_serial(vm, &ser)) < 0 ||
	    (rc = cvm_vm_set_rng(vm, 0)) < 0 || (rc = cvm_vm_run(vm, &reason)) < 0)
		fprintf(stderr, "blk --vmm-direct: %s: %s\n", cvm_strerror(rc),
			cvm_vm_last_error(vm));
	else if (reason != CVM_EXIT_RESET)
		fprintf(stderr, "blk --vmm-direct: the VM ended with %s: %s\n",
			cvm_exit_reason_name(reason), cvm_vm_last_error(vm));
	g_vm = NULL;
	cvm_vm_destroy(vm);
	return rc >= 0 && reason == CVM_EXIT_RESET ? 0 : 1;
}

/* ---- options --------------------------------------------------------------- */

static int own_opts(int *argc, char **argv, struct bopts *b, bool *runs, bool *timeout,
		    bool *warmup)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "--dir") || !strcmp(a, "--image") || !strcmp(a, "--size")) &&
		    i + 1 < *argc) {
			const char *v = argv[++i];

			if (!strcmp(a, "--dir"))
				b->dir = v;
			else if (!strcmp(a, "--image"))
				b->image = v;
			else
				b->size_mib = atoi(v);
			continue;
		}
		if (!strcmp(a, "--no-fio")) {
			b->no_fio = true;
			continue;
		}
		if (!strcmp(a, "-n") || !strcmp(a, "--runs") || !strncmp(a, "--runs=", 7))
			*runs = true;
		if (!strcmp(a, "--timeout") || !strncmp(a, "--timeout=", 10))
			*timeout = true;
		if (!strcmp(a, "--warmup") || !strncmp(a, "--warmup=", 9))
			*warmup = true;
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	*argc = out;
	return b->size_mib < 16 ? -1 : 0;
}

static const char *in_path(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");

	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);

		snprintf(buf, len, "%.*s/%s", (int)n, path, name);
		if (n && !access(buf, X_OK))
			return buf;
		path += n + (end ? 1 : 0);
	}
	return NULL;
}

/* ---- the image --------------------------------------------------------------- */

static const char *fs_name(long type)
{
	switch ((unsigned long)type) {
	case 0xef53:
		return "ext4";
	case 0x58465342:
		return "xfs";
	case 0x9123683e:
		return "btrfs";
	case 0x01021994:
		return "tmpfs";
	case 0x794c7630:
		return "overlayfs";
	case 0x2fc12fc1:
		return "zfs";
	default:
		return "other";
	}
}

/* The device and file system the image is on, for the notes. */
static void describe_fs(const char *path, char *buf, size_t len, bool *tmpfs)
{
	struct statfs sf;
	struct stat st;

	*tmpfs = false;
	if (statfs(path, &sf) || stat(path, &st)) {
		snprintf(buf, len, "unknown file system");
		return;
	}
	*tmpfs = (unsigned long)sf.f_type == 0x01021994;
	snprintf(buf, len, "%s (f_type 0x%lx) on device %u:%u", fs_name(sf.f_type),
		 (unsigned long)sf.f_type, major(st.st_dev), minor(st.st_dev));
}

static int make_image(struct bopts *b)
{
	size_t chunk = 1 << 20;
	uint64_t *buf = malloc(chunk), x = 0x243f6a8885a308d3ULL;
	int fd;

	if (!buf)
		return -1;
	snprintf(b->img, sizeof(b->img), "%s/cvm-bench-blk.XXXXXX", b->dir);
	fd = mkostemp(b->img, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "blk: cannot create an image in %s: %s\n", b->dir, strerror(errno));
		free(buf);
		b->img[0] = '\0';
		return -1;
	}
	b->temp = true;
	for (int m = 0; m < b->size_mib; m++) {
		for (size_t i = 0; i < chunk / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		if (write(fd, buf, chunk) != (ssize_t)chunk) {
			fprintf(stderr, "blk: writing %s: %s\n", b->img, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
	}
	free(buf);
	if (fsync(fd)) {
		fprintf(stderr, "blk: fsync %s: %s\n", b->img, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Between two sides: write back what a cached side left dirty (it must not
 * reach the disk during the next side), and for a side that goes through
 * the page cache, read the whole image into it first (O_DIRECT writes of
 * the sides before dropped those pages).
 */
static int settle_image(const struct bopts *b, bool warm)
{
	char *buf = malloc(1 << 20);
	int fd = open(b->img, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0 || !buf) {
		fprintf(stderr, "blk: %s: %s\n", b->img, strerror(errno));
		rc = -1;
	} else if (fdatasync(fd)) {
		fprintf(stderr, "blk: fdatasync %s: %s\n", b->img, strerror(errno));
		rc = -1;
	}
	while (!rc && warm) {
		ssize_t n = read(fd, buf, 1 << 20);

		if (n < 0) {
			fprintf(stderr, "blk: reading %s: %s\n", b->img, strerror(errno));
			rc = -1;
		}
		if (n <= 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* ---- running a child and collecting its output -------------------------------- */

/* Run @argv to its end (deadline @timeout_ms); its stdout in *@out. 0 when it exited 0. */
static int run_collect(char *const argv[], const char *who, int timeout_ms, char **out)
{
	size_t len = 0, cap = 1 << 14;
	struct bl_proc p;
	char *buf = malloc(cap);
	double deadline;
	int st, rc = 0;

	*out = buf;
	if (!buf || bl_spawn(&p, argv))
		return -1;
	buf[0] = '\0';
	deadline = p.t0 + timeout_ms;
	for (;;) {
		struct pollfd f = { .fd = p.out, .events = POLLIN };
		int left = (int)(deadline - bl_now_ms()), r;
		ssize_t n;

		if (bl_signal) {
			rc = -1;
			break;
		}
		if (left <= 0) {
			fprintf(stderr, "blk: %s timed out after %d s\n", who, timeout_ms / 1000);
			rc = -1;
			break;
		}
		r = poll(&f, 1, left);
		if (r <= 0)
			continue;
		if (len + 4096 + 1 > cap) {
			char *bigger = cap < OUT_MAX ? realloc(buf, cap * 2) : NULL;

			if (!bigger) {
				rc = -1;
				break;
			}
			buf = *out = bigger;
			cap *= 2;
		}
		n = read(p.out, buf + len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	st = bl_finish(&p, rc ? SIGKILL : 0, bl_now_ms() + 5000);
	if (!rc && (!WIFEXITED(st) || WEXITSTATUS(st))) {
		if (!bl_signal)
			fprintf(stderr, "blk: %s %s %d\n", who,
				WIFEXITED(st) ? "exited with" : "killed by signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		rc = -1;
	}
	if (rc) {
		if (!bl_signal)
			fprintf(stderr, "blk: %s's output:\n%s\n", who, buf);
		bl_print_log(&p, who);
	}
	bl_drop_log(&p);
	return rc;
}

/* ---- the host: fio, or our own loops --------------------------------------------- */

/* "bw_bytes" or "iops" of the "read"/"write" part of fio's JSON, or -1. */
static double fio_value(const char *json, const char *dir, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\" : {", dir);
	p = strstr(json, pat);
	if (!p)
		return -1;
	snprintf(pat, sizeof(pat), "\"%s\" : ", key);
	p = strstr(p, pat);
	return p ? atof(p + strlen(pat)) : -1;
}

static int host_fio(const struct bl_opts *o, const struct bopts *b, bool direct, enum mode m,
		    double *v)
{
	char bs[32], qd[32], io[64], size[64], file[4200];
	const char *argv[32];
	bool wr = m == M_SEQWRITE || m == M_SEQWRITE1;
	long long reqs = m == M_QD1 ? QD1_REQS : m == M_QD32 ? QD32_REQS : 0;
	char *out = NULL;
	int n = 0, rc;

	snprintf(bs, sizeof(bs), "--bs=%d", modes[m].bs);
	snprintf(qd, sizeof(qd), "--iodepth=%d", direct ? modes[m].qd : 1);
	snprintf(size, sizeof(size), "--size=%dM", b->size_mib);
	snprintf(io, sizeof(io), "--io_size=%lld", reqs ? reqs * modes[m].bs : 0);
	snprintf(file, sizeof(file), "--filename=%s", b->img);
	argv[n++] = b->fio;
	argv[n++] = "--name=blk";
	argv[n++] = file;
	argv[n++] = wr ? "--rw=write" : m == M_QD1 || m == M_QD32 ? "--rw=randread" : "--rw=read";
	argv[n++] = bs;
	argv[n++] = qd;
	argv[n++] = size;
	if (reqs)
		argv[n++] = io;
	argv[n++] = direct ? "--direct=1" : "--direct=0";
	argv[n++] = direct ? "--ioengine=libaio" : "--ioengine=psync";
	argv[n++] = "--numjobs=1";
	argv[n++] = "--thread";
	argv[n++] = "--norandommap";
	argv[n++] = "--randrepeat=1";
	argv[n++] = "--invalidate=0";
	argv[n++] = "--output-format=json";
	argv[n] = NULL;
	rc = run_collect((char *const *)argv, "fio", o->timeout_ms, &out);
	if (!rc) {
		double x = fio_value(out, wr ? "write" : "read",
				     m == M_QD1 || m == M_QD32 ? "iops" : "bw_bytes");

		if (x <= 0) {
			fprintf(stderr, "blk: no result in fio's output:\n%s\n", out);
			rc = -1;
		}
		*v = m == M_QD1 || m == M_QD32 ? x : x / 1e6;
	}
	free(out);
	return rc;
}

/* Without fio: queue depth 1, pread/pwrite on our own. */
static int host_loop(const struct bopts *b, bool direct, enum mode m, double *v)
{
	bool wr = m == M_SEQWRITE || m == M_SEQWRITE1, rnd = m == M_QD1 || m == M_QD32;
	long long reqs = rnd ? (m == M_QD1 ? QD1_REQS : QD32_REQS) :
			       ((long long)b->size_mib << 20) / modes[m].bs;
	uint64_t blocks = ((uint64_t)b->size_mib << 20) / (uint64_t)modes[m].bs,
		 x = 88172645463325252ULL;
	void *buf = NULL;
	double t0;
	int fd = open(b->img, (wr ? O_WRONLY : O_RDONLY) | O_CLOEXEC | (direct ? O_DIRECT : 0));

	if (fd < 0 || posix_memalign(&buf, 4096, (size_t)modes[m].bs)) {
		fprintf(stderr, "blk: %s: %s\n", b->img, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memset(buf, 0x5a, (size_t)modes[m].bs);
	t0 = bl_now_ms();
	for (long long i = 0; i < reqs; i++) {
		off_t off;
		ssize_t n;

		if (rnd) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			off = (off_t)(x % blocks) * modes[m].bs;
		} else {
			off = (off_t)i * modes[m].bs;
		}
		n = wr ? pwrite(fd, buf, (size_t)modes[m].bs, off) :
			 pread(fd, buf, (size_t)modes[m].bs, off);
		if (n != modes[m].bs) {
			fprintf(stderr, "blk: %s at %lld: %s\n", wr ? "pwrite" : "pread",
				(long long)off, n < 0 ? strerror(errno) : "short");
			close(fd);
			free(buf);
			return -1;
		}
	}
	t0 = (bl_now_ms() - t0) / 1e3;
	close(fd);
	free(buf);
	*v = rnd ? (double)reqs / t0 : (double)reqs * modes[m].bs / t0 / 1e6;
	return 0;
}

/* A value of a round for the progress lines ("n/a" when not measured). */
static const char *fmt(double v, char *buf)
{
	if (v < 0)
		return "n/a";
	snprintf(buf, 32, "%.0f", v);
	return buf;
}

/* ---- the VMMs --------------------------------------------------------------- */

static int vmm_argv(const struct bl_opts *o, const struct bopts *b, enum who w, const char **argv,
		    char *drive, size_t dlen)
{
	int n = 0;

	switch (w) {
	case W_CVM:
		argv[n++] = o->cvm;
		argv[n++] = "run";
		argv[n++] = "-m";
		argv[n++] = GUEST_MEM;
		if (o->policy_dir) {
			argv[n++] = "--seccomp-policy-dir";
			argv[n++] = o->policy_dir;
		}
		argv[n++] = "--no-rng";
		argv[n++] = "--rwdisk";
		argv[n++] = b->img;
		argv[n++] = "-p";
		argv[n++] = "cvm.test=bench_blk";
		argv[n++] = o->guest;
		break;
	case W_CVM_DIRECT:
		argv[n++] = b->self;
		argv[n++] = "--vmm-direct";
		argv[n++] = o->guest;
		argv[n++] = b->img;
		argv[n++] = o->policy_dir ? o->policy_dir : "-";
		break;
	case W_QEMU:
	case W_QEMU_CACHED:
		if (!o->qemu)
			return -1;
		snprintf(drive, dlen, "if=none,id=d0,file=%s,format=raw,%s", b->img,
			 w == W_QEMU ? "cache=none,aio=native" : "cache=writeback,aio=threads");
		/* -arch-capabilities: this host's KVM refuses QEMU's MSR 0x10a value. */
		n = bl_qemu_args(argv, n, o->qemu, "q35", "host,-arch-capabilities", GUEST_MEM);
		argv[n++] = "-kernel";
		argv[n++] = o->guest;
		argv[n++] = "-append";
		argv[n++] = "cvm.test=bench_blk";
		argv[n++] = "-drive";
		argv[n++] = drive;
		argv[n++] = "-device";
		argv[n++] = "virtio-blk-pci,drive=d0,disable-legacy=on";
		break;
	default:
		return -1;
	}
	argv[n] = NULL;
	return 0;
}

/* Parse the guest's BENCH lines into @r. */
static int parse_guest(const char *out, const char *who, struct round *r, bool verbose)
{
	if (!strstr(out, "PASS bench_blk")) {
		fprintf(stderr, "blk: %s: the guest did not pass:\n%s\n", who, out);
		return -1;
	}
	if (verbose)
		printf("%s", out);
	for (int m = M_GUEST_N; m < M_N; m++)
		r->v[m] = -1;
	for (int m = 0; m < M_GUEST_N; m++) {
		char pat[64];
		const char *p;
		unsigned long long bytes, ns, reqs, notifies, nns;

		snprintf(pat, sizeof(pat), "BENCH blk %s bytes ", modes[m].guest);
		p = strstr(out, pat);
		if (!p ||
		    sscanf(p + strlen(pat),
			   "%llu ns %llu reqs %llu bs %*u qd %*u notifies %llu notify_ns %llu",
			   &bytes, &ns, &reqs, &notifies, &nns) != 5 ||
		    !ns || !reqs) {
			fprintf(stderr, "blk: %s: no result for %s:\n%s\n", who, modes[m].guest,
				out);
			return -1;
		}
		r->v[m] = modes[m].unit[0] == 'I' ? reqs / (ns / 1e9) : bytes / (ns / 1e3);
		if (m == M_QD1)
			r->notify_us = notifies ? nns / 1e3 / notifies : -1;
	}
	return 0;
}

static int vmm_round(const struct bl_opts *o, const struct bopts *b, enum who w, struct round *r)
{
	const char *argv[48];
	char drive[4200], *out = NULL;
	int rc;

	if (vmm_argv(o, b, w, argv, drive, sizeof(drive)))
		return -1;
	rc = run_collect((char *const *)argv, wname[w], o->timeout_ms, &out);
	if (!rc)
		rc = parse_guest(out, wname[w], r, o->verbose);
	free(out);
	return rc;
}

static int host_round(const struct bl_opts *o, const struct bopts *b, enum who w, struct round *r)
{
	for (int m = 0; m < M_N; m++) {
		bool direct = w == W_HOST_DIRECT;
		int rc;

		r->v[m] = -1;
		if (m >= M_GUEST_N && !direct)
			continue; /* the depth-1 references are for O_DIRECT only */
		if (b->fio[0])
			rc = host_fio(o, b, direct, (enum mode)m, &r->v[m]);
		else if (m == M_QD32)
			continue; /* our loops have no queue depth */
		else
			rc = host_loop(b, direct, (enum mode)m, &r->v[m]);
		if (rc)
			return -1;
	}
	r->notify_us = -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct bopts *b = &g_b;
	bool runs = false, timeout = false, warmup = false, tmpfs;
	struct bl_opts o = { 0 };
	static struct bl_result res = { .name = "blk" };
	struct round *rounds[W_N];
	bool have[W_N];
	char fsdesc[256];
	int rc, total;
	ssize_t n;

	if (argc == 5 && !strcmp(argv[1], "--vmm-direct"))
		return vmm_direct(argv[2], argv[3], argv[4]);
	b->size_mib = DEFAULT_SIZE_MIB;
	if (own_opts(&argc, argv, b, &runs, &timeout, &warmup)) {
		fprintf(stderr, "blk: --size wants at least 16 (MiB)\n");
		return 2;
	}
	rc = bl_parse(argc, argv, "blk", help, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (!runs)
		o.runs = DEFAULT_RUNS;
	if (!timeout)
		o.timeout_ms = DEFAULT_TIMEOUT_S * 1000;
	/* bench/run --quick: a check that it works, not a measurement. */
	if (getenv("CVM_BENCH_QUICK") && !strcmp(getenv("CVM_BENCH_QUICK"), "1") && !warmup)
		o.warmup = 0;
	n = readlink("/proc/self/exe", b->self, sizeof(b->self) - 1);
	if (n <= 0) {
		perror("blk: /proc/self/exe");
		return 1;
	}
	b->self[n] = '\0';
	if (!b->dir) {
		/* The build directory: bench/.. of this program. */
		memcpy(b->dirbuf, b->self, (size_t)n + 1);
		for (int up = 0; up < 2; up++) {
			char *slash = strrchr(b->dirbuf, '/');

			if (slash && slash != b->dirbuf)
				*slash = '\0';
		}
		b->dir = b->dirbuf;
	}
	if (!b->no_fio && !in_path("fio", b->fio, sizeof(b->fio)))
		b->fio[0] = '\0';
	if (b->no_fio)
		b->fio[0] = '\0';

	bl_signals(drop_image);
	if (b->image) {
		struct stat st;

		if (stat(b->image, &st) || st.st_size < (16 << 20) || st.st_size % (1 << 20)) {
			fprintf(stderr, "blk: %s: not a file of >= 16 MiB in whole MiB\n",
				b->image);
			return 2;
		}
		snprintf(b->img, sizeof(b->img), "%s", b->image);
		b->size_mib = (int)(st.st_size >> 20);
	} else if (make_image(b)) {
		drop_image();
		return 1;
	}
	describe_fs(b->img, fsdesc, sizeof(fsdesc), &tmpfs);

	for (int w = 0; w < W_N; w++) {
		have[w] = (w != W_QEMU && w != W_QEMU_CACHED) || o.qemu;
		rounds[w] = calloc((size_t)(o.warmup + o.runs), sizeof(struct round));
		if (!rounds[w]) {
			drop_image();
			return 1;
		}
	}
	total = o.warmup + o.runs;
	printf("blk: image %s (%d MiB, %s); %d round(s) (+%d warm-up); host side: %s\n", b->img,
	       b->size_mib, fsdesc, o.runs, o.warmup, b->fio[0] ? b->fio : "own pread loops");
	for (int r = 0; r < total; r++) {
		for (int w = 0; w < W_N; w++) {
			struct round *x = &rounds[w][r];
			char f[4][32];

			if (!have[w])
				continue;
			rc = settle_image(b,
					  w == W_HOST_CACHED || w == W_CVM || w == W_QEMU_CACHED);
			if (!rc)
				rc = w == W_HOST_DIRECT || w == W_HOST_CACHED ?
					     host_round(&o, b, w, x) :
					     vmm_round(&o, b, w, x);
			if (rc) {
				fprintf(stderr, "blk: %s round %d failed\n", wname[w], r + 1);
				drop_image();
				return 1;
			}
			printf("%-16s round %d%s: seqread %s MB/s, randread qd1 %s IOPS, qd32 %s IOPS, "
			       "seqwrite %s MB/s",
			       wname[w], r + 1, r < o.warmup ? " (warm-up)" : "",
			       fmt(x->v[M_SEQREAD], f[0]), fmt(x->v[M_QD1], f[1]),
			       fmt(x->v[M_QD32], f[2]), fmt(x->v[M_SEQWRITE], f[3]));
			if (x->v[M_SEQREAD1] >= 0)
				printf("; at depth 1: seqread %.0f MB/s, seqwrite %.0f MB/s",
				       x->v[M_SEQREAD1], x->v[M_SEQWRITE1]);
			if (x->notify_us >= 0)
				printf("; qd1 notify %.1f us", x->notify_us);
			printf("\n");
		}
	}
	drop_image();

	for (int w = 0; w < W_N; w++) {
		double v[total], nu[total];

		if (!have[w])
			continue;
		for (int m = 0; m < M_N; m++) {
			int k = 0;

			for (int r = o.warmup; r < total; r++)
				if (rounds[w][r].v[m] >= 0)
					v[k++] = rounds[w][r].v[m];
			bl_add_row(&res, wname[w], modes[m].metric, modes[m].unit, v, k);
		}
		if (w != W_HOST_DIRECT && w != W_HOST_CACHED) {
			int k = 0;

			for (int r = o.warmup; r < total; r++)
				nu[k++] = rounds[w][r].notify_us;
			bl_add_row(&res, wname[w], "qd1 notify exit", "us", nu, k);
		}
	}
	for (int m = 0; m < M_GUEST_N; m++) {
		bl_add_ratio(&res, wname[W_HOST_DIRECT], wname[W_CVM_DIRECT], modes[m].metric,
			     1 / 0.9);
		bl_add_ratio(&res, wname[W_HOST_CACHED], wname[W_CVM], modes[m].metric, 1 / 0.9);
		bl_add_ratio(&res, wname[W_QEMU], wname[W_CVM_DIRECT], modes[m].metric, 1);
		bl_add_ratio(&res, wname[W_QEMU_CACHED], wname[W_CVM], modes[m].metric, 1);
	}
	bl_note(&res,
		"Image: %d MiB of pseudo-random data on %s. Ratios are OTHER/LIBCVM of MB/s or "
		"IOPS (higher is better): < 1.11 means libcvm reaches 90%% of the host, < 1 that "
		"it is ahead of QEMU. Guest: tests/guest/t_bench_blk.c polling in ring 3, times "
		"from the TSC (kvmclock's rate). seqread/seqwrite: 128 KiB requests, 8 in flight; "
		"randread: 4 KiB, 4096 requests at depth 1 and 16384 at depth 32.",
		b->size_mib, fsdesc);
	if (tmpfs)
		bl_note(&res, "The image is on a tmpfs: there is no disk under these numbers.");
	bl_note(&res, "host-direct's \"qd1\" rows: 128 KiB requests one at a time, the most a "
		      "device that serves its queue one request after the other can reach.");
	if (b->fio[0])
		bl_note(&res,
			"host-cached uses fio's psync engine: depth 1 whatever the mode says.");
	bl_note(&res, "libcvm's CLI has no O_DIRECT option; libcvm-direct is the same VM built "
		      "through the library with cvm_blk_config.direct = 1.");
	if (!b->fio[0])
		bl_note(&res,
			"fio %s: the host rows are this program's own pread/pwrite loops at "
			"depth 1 (no qd32).",
			b->no_fio ? "left out (--no-fio)" : "not installed (Debian package fio)");
	if (!o.qemu)
		bl_note(&res, "QEMU %s.", bl_qemu_missing());
	bl_print(&res);
	if (o.json && bl_write_json(&res, o.json))
		return 1;
	return 0;
}
