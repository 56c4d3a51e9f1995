// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_blk: virtio-blk throughput and IOPS, the guest half of bench/blk.c.
 *
 * The set-up (PCI, virtio-pci negotiation, one queue of our own with up to
 * 256 entries) runs in ring 0; the I/O loops run in ring 3 (user.h), which
 * this host's KVM runs natively, and poll the used ring: no interrupts (the
 * PIC is masked, the queue has no MSI-X vector, VRING_AVAIL_F_NO_INTERRUPT
 * and a far used_event). Notifications are 16-bit writes to the queue's
 * notify address from ring 3, skipped when VIRTIO_RING_F_EVENT_IDX says the
 * device is still busy with the queue. Request slot i owns descriptors
 * 3i..3i+2 (header, data, status); qd slots are in flight at once.
 *
 * Modes (cvm.arg=MODE runs one of them, default all, in this order):
 *   seqread        IN, 128 KiB requests, 8 in flight, the whole disk (<= 256 MiB)
 *   randread_qd1   IN, 4 KiB at random 4 KiB-aligned offsets, 1 in flight, 4096 requests
 *   randread_qd32  the same, 32 in flight, 16384 requests
 *   seqwrite       OUT, like seqread (no FLUSH: the VMM's write path only)
 *
 * Time is the TSC from the first request to the last completion; its
 * frequency comes from kvmclock (the rate KVM's pvclock converts the TSC
 * with), CPUID 0x40000010, CPUID 0x15, or else the PIT (channel 2 counting
 * 65535 ticks, ~55 ms). Lines:
 *
 *   BENCH blk tsc_khz K source kvmclock|cpuid40000010|cpuid15|pit pit_khz P
 *   (P: the PIT's measurement, always made, as a check)
 *   BENCH blk capacity SECTORS queue_size N event_idx 0|1 ring 3
 *   BENCH blk MODE bytes B ns T reqs R bs S qd Q notifies N notify_ns T
 *
 * (notify_ns: the time spent in the notify writes, each a VM exit), then
 * PASS bench_blk, or FAIL with the reason (a request that failed, a
 * completion that never came).
 */
#include "hw.h"
#include "user.h"

#define SECTOR 512
#define QSIZE_MAX 256
#define SLOTS 64
#define DATA_BYTES (1u << 20)
#define SEQ_BS (128u * 1024)
#define SEQ_QD 8
#define SEQ_MAX_BYTES (256ULL << 20)
#define RAND_BS 4096u
#define QD1_REQS 4096
#define QD32_REQS 16384
/* No completion for this long: the run is abandoned (seconds). */
#define STALL_S 20

#define CC(f) offsetof(struct virtio_pci_common_cfg, f)

static uint8_t ring_mem[3 * 4096] __attribute__((aligned(4096)));
static uint8_t data[DATA_BYTES] __attribute__((aligned(4096)));
static struct virtio_blk_outhdr hdrs[SLOTS] __attribute__((aligned(64)));
static volatile uint8_t status[SLOTS];

struct bq {
	struct vdev d;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t size, avail_idx, last_used;
	uintptr_t notify;
	bool event_idx;
	uint64_t capacity; /* sectors */
};

struct job {
	struct bq *q;
	const char *mode;
	uint32_t type, bs;
	unsigned int qd;
	unsigned long reqs;
	bool random;
	uint64_t tsc_khz;
	/* results */
	uint64_t t0, t1, notify_cycles, next_sector, rng;
	unsigned long notifies, done, errors, issued;
	uint8_t bad_status;
	bool stalled;
};

static struct bq bq;
static struct job job;

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static volatile uint16_t *used_event(struct bq *q)
{
	return (volatile uint16_t *)&q->avail->ring[q->size];
}

static volatile uint16_t *avail_event(struct bq *q)
{
	return (volatile uint16_t *)&q->used->ring[q->size];
}

/* Ring 3 from here to run_job(): memory and the notify address only. */

static void submit(struct job *j, unsigned int slot)
{
	struct bq *q = j->q;
	uint64_t sector;

	if (j->random) {
		uint64_t blocks = q->capacity / (j->bs / SECTOR);

		sector = (xorshift(&j->rng) % blocks) * (j->bs / SECTOR);
	} else {
		sector = j->next_sector;
		j->next_sector += j->bs / SECTOR;
		if (j->next_sector + j->bs / SECTOR > q->capacity)
			j->next_sector = 0;
	}
	hdrs[slot].type = j->type;
	hdrs[slot].ioprio = 0;
	hdrs[slot].sector = sector;
	status[slot] = 0xff;
	q->avail->ring[q->avail_idx % q->size] = (uint16_t)(3 * slot);
	q->avail_idx++;
	j->issued++;
}

/* Publish avail->idx and notify unless the device said it need not be. */
static void kick(struct job *j, uint16_t old)
{
	struct bq *q = j->q;
	bool need;

	barrier();
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
	mb(); /* the avail->idx store before the avail_event / flags load */
	if (q->event_idx)
		need = vring_need_event(*avail_event(q), q->avail_idx, old);
	else
		need = !(*(volatile uint16_t *)&q->used->flags & VRING_USED_F_NO_NOTIFY);
	if (need) {
		uint64_t t = rdtsc();

		mmio_write16(q->notify, 0);
		j->notify_cycles += rdtsc() - t;
		j->notifies++;
	}
}

static void run_job(void *arg)
{
	struct job *j = arg;
	struct bq *q = j->q;
	uint64_t last_progress, stall = j->tsc_khz * 1000 * STALL_S;
	uint16_t old = q->avail_idx;

	j->t0 = rdtsc();
	for (unsigned int s = 0; s < j->qd && j->issued < j->reqs; s++)
		submit(j, s);
	kick(j, old);
	last_progress = rdtsc();
	while (j->done < j->reqs) {
		uint16_t uidx = *(volatile uint16_t *)&q->used->idx;

		if (uidx == q->last_used) {
			cpu_relax();
			if (rdtsc() - last_progress > stall) {
				j->stalled = true;
				break;
			}
			continue;
		}
		barrier();
		old = q->avail_idx;
		while (q->last_used != uidx) {
			const volatile struct vring_used_elem *e =
				&q->used->ring[q->last_used % q->size];
			unsigned int slot = e->id / 3;

			if (slot >= SLOTS || status[slot] != VIRTIO_BLK_S_OK) {
				if (!j->errors)
					j->bad_status = slot < SLOTS ? status[slot] : 0xfe;
				j->errors++;
			}
			q->last_used++;
			j->done++;
			if (j->issued < j->reqs && slot < SLOTS)
				submit(j, slot);
		}
		/* Never an interrupt: used_event stays far ahead. */
		*used_event(q) = (uint16_t)(q->last_used + 0x8000);
		if (q->avail_idx != old)
			kick(j, old);
		last_progress = rdtsc();
	}
	j->t1 = rdtsc();
}

/* Back in ring 0. */

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* KVM's pvclock page (MSR_KVM_SYSTEM_TIME_NEW), read once for its TSC rate. */
struct pvclock {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
} __attribute__((packed));

static volatile struct pvclock pvclock __attribute__((aligned(64)));

/* The TSC rate kvmclock converts with (as Linux's pvclock_tsc_khz()), or 0. */
static uint64_t kvmclock_khz(void)
{
	uint32_t a, b, c, d, mul = 0;
	int8_t shift = 0;
	uint64_t khz;

	cpuid(0x40000000, &a, &b, &c, &d);
	if (b != 0x4b4d564b || c != 0x564b4d56 || d != 0x4d || a < 0x40000001)
		return 0; /* not "KVMKVMKVM\0\0\0" */
	cpuid(0x40000001, &a, &b, &c, &d);
	if (!(a & (1u << 3))) /* KVM_FEATURE_CLOCKSOURCE2 */
		return 0;
	wrmsr(0x4b564d01, (uintptr_t)&pvclock | 1);
	for (int i = 0; i < 1000; i++) {
		uint32_t v = pvclock.version;

		barrier();
		mul = pvclock.tsc_to_system_mul;
		shift = pvclock.tsc_shift;
		barrier();
		if (v && !(v & 1) && v == pvclock.version && mul)
			break;
		mul = 0;
		cpu_relax();
	}
	wrmsr(0x4b564d01, 0);
	if (!mul)
		return 0;
	khz = (1000000ULL << 32) / mul;
	return shift < 0 ? khz << -shift : khz >> shift;
}

/* PIT channel 2, mode 0, 0xffff ticks of 1193182 Hz; OUT2 is port 0x61 bit 5. 0: no PIT. */
uint64_t bench_pit_khz(void)
{
	uint8_t gate = inb(0x61);
	unsigned long polls = 0;
	uint64_t t0, t1;

	outb(0x61, (uint8_t)((gate & ~0x02) | 0x01));
	outb(0x43, 0xb0);
	outb(0x42, 0xff);
	outb(0x42, 0xff);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20) && ++polls < 100000)
		;
	t1 = rdtsc();
	outb(0x61, gate);
	return polls < 100000 ? (t1 - t0) * 1193182 / 0xffff / 1000 : 0;
}

/* TSC kHz: kvmclock, a hypervisor's TSC leaf, CPUID 0x15, else the PIT (@pit). */
uint64_t bench_tsc_khz(const char **source, uint64_t pit)
{
	uint32_t a, b, c, d;
	uint64_t khz;

	cpuid(1, &a, &b, &c, &d);
	if (c & (1u << 31)) {
		khz = kvmclock_khz();
		if (khz) {
			*source = "kvmclock";
			return khz;
		}
		cpuid(0x40000000, &a, &b, &c, &d);
		if (a >= 0x40000010) {
			cpuid(0x40000010, &a, &b, &c, &d);
			if (a) {
				*source = "cpuid40000010";
				return a;
			}
		}
	}
	cpuid(0, &a, &b, &c, &d);
	if (a >= 0x15) {
		cpuid(0x15, &a, &b, &c, &d);
		if (a && b && c) {
			*source = "cpuid15";
			return (uint64_t)c * b / a / 1000;
		}
	}
	*source = "pit";
	return pit;
}

static int queue_setup(const char *t, struct bq *q)
{
	uint16_t n = vdev_queue_size(&q->d, 0, QSIZE_MAX);

	if (n < 3) {
		fail(t, "queue 0: queue_size %u", n);
		return -1;
	}
	q->size = n;
	q->desc = (struct vring_desc *)ring_mem;
	q->avail = (struct vring_avail *)(ring_mem + 4096);
	q->used = (struct vring_used *)(ring_mem + 8192);
	if (vdev_queue_program(&q->d, 0, q->desc, q->avail, q->used, VIRTIO_MSI_NO_VECTOR,
			       &q->notify)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	*used_event(q) = 0x8000;
	mmio_write16(q->d.common + CC(queue_enable), 1);
	if (vdev_driver_ok(&q->d)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	return 0;
}

static int blk_setup(const char *t, struct bq *q)
{
	uint32_t bdf;

	if (pci_find(0x1af4, 0x1042, &bdf, 1) < 1) {
		fail(t, "no virtio-blk PCI function (1af4:1042) on bus 0");
		return -1;
	}
	if (vdev_probe(&q->d, bdf) ||
	    vdev_negotiate(&q->d, 1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_BLK_F_FLUSH,
			   0)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	if (q->d.dev_features & (1ULL << VIRTIO_BLK_F_RO)) {
		fail(t, "the disk is read-only (give it with --rwdisk)");
		return -1;
	}
	q->event_idx = vdev_has(&q->d, VIRTIO_RING_F_EVENT_IDX);
	q->capacity = vdev_cfg64(&q->d, offsetof(struct virtio_blk_config, capacity));
	if (q->capacity < 2 * SEQ_BS / SECTOR) {
		fail(t, "capacity %llu sectors: too small", (unsigned long long)q->capacity);
		return -1;
	}
	return queue_setup(t, q);
}

static int run_mode(const char *t, struct bq *q, const char *mode, uint32_t type, uint32_t bs,
		    unsigned int qd, unsigned long reqs, bool random, uint64_t khz)
{
	uint64_t ns;

	if (qd > SLOTS || 3 * qd > q->size || (uint64_t)qd * bs > DATA_BYTES) {
		fail(t, "%s: %u requests of %u bytes in flight do not fit (queue size %u)", mode,
		     qd, bs, q->size);
		return -1;
	}
	for (unsigned int s = 0; s < qd; s++) {
		q->desc[3 * s] = (struct vring_desc){
			.addr = (uintptr_t)&hdrs[s],
			.len = sizeof(hdrs[s]),
			.flags = VRING_DESC_F_NEXT,
			.next = (uint16_t)(3 * s + 1),
		};
		q->desc[3 * s + 1] = (struct vring_desc){
			.addr = (uintptr_t)(data + (size_t)s * bs),
			.len = bs,
			.flags = (uint16_t)(VRING_DESC_F_NEXT |
					    (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0)),
			.next = (uint16_t)(3 * s + 2),
		};
		q->desc[3 * s + 2] = (struct vring_desc){
			.addr = (uintptr_t)&status[s],
			.len = 1,
			.flags = VRING_DESC_F_WRITE,
		};
	}
	job = (struct job){ .q = q,
			    .mode = mode,
			    .type = type,
			    .bs = bs,
			    .qd = qd,
			    .reqs = reqs,
			    .random = random,
			    .tsc_khz = khz,
			    .rng = 0x9e3779b97f4a7c15ULL };
	if (user_run(run_job, &job, 0)) {
		fail(t, "%s: user_run() failed", mode);
		return -1;
	}
	if (job.stalled) {
		fail(t, "%s: no completion for %u s (%lu of %lu done, used->idx %u, avail->idx %u)",
		     mode, STALL_S, job.done, reqs, *(volatile uint16_t *)&q->used->idx,
		     q->avail_idx);
		return -1;
	}
	if (job.errors) {
		fail(t, "%s: %lu of %lu requests failed (first status 0x%02x)", mode, job.errors,
		     reqs, job.bad_status);
		return -1;
	}
	ns = (job.t1 - job.t0) * 1000000 / khz;
	printf("BENCH blk %s bytes %llu ns %llu reqs %lu bs %u qd %u notifies %lu notify_ns %llu\n",
	       mode, (unsigned long long)reqs * bs, (unsigned long long)ns, reqs, bs, qd,
	       job.notifies, (unsigned long long)(job.notify_cycles * 1000000 / khz));
	return 0;
}

uint64_t bench_clock(const char *t, const char *name)
{
	const char *src = "?";
	uint64_t khz, pit;

	/* No interrupt may reach ring 3 (firmware such as SeaBIOS leaves the PIT running). */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	pit = bench_pit_khz();
	khz = bench_tsc_khz(&src, pit);
	if (!khz) {
		fail(t, "cannot tell the TSC frequency (no CPUID leaf, the PIT does not count)");
		return 0;
	}
	printf("BENCH %s tsc_khz %llu source %s pit_khz %llu\n", name, (unsigned long long)khz, src,
	       (unsigned long long)pit);
	return khz;
}

void test_bench_blk(const struct boot_params *bp)
{
	const char *t = "bench_blk";
	char only[32];
	bool all = cmdline_get(bp, "cvm.arg", only, sizeof(only)) <= 0;
	unsigned long seq_reqs;
	uint64_t khz = bench_clock(t, "blk");

	if (!khz)
		return;
	if (blk_setup(t, &bq))
		return;
	printf("BENCH blk capacity %llu queue_size %u event_idx %d ring 3\n",
	       (unsigned long long)bq.capacity, bq.size, bq.event_idx);
	seq_reqs = (unsigned long)((bq.capacity * SECTOR < SEQ_MAX_BYTES ? bq.capacity * SECTOR :
									   SEQ_MAX_BYTES) /
				   SEQ_BS);
	if ((all || !strcmp(only, "seqread")) &&
	    run_mode(t, &bq, "seqread", VIRTIO_BLK_T_IN, SEQ_BS, SEQ_QD, seq_reqs, false, khz))
		return;
	if ((all || !strcmp(only, "randread_qd1")) &&
	    run_mode(t, &bq, "randread_qd1", VIRTIO_BLK_T_IN, RAND_BS, 1, QD1_REQS, true, khz))
		return;
	if ((all || !strcmp(only, "randread_qd32")) &&
	    run_mode(t, &bq, "randread_qd32", VIRTIO_BLK_T_IN, RAND_BS, 32, QD32_REQS, true, khz))
		return;
	if ((all || !strcmp(only, "seqwrite")) &&
	    run_mode(t, &bq, "seqwrite", VIRTIO_BLK_T_OUT, SEQ_BS, SEQ_QD, seq_reqs, false, khz))
		return;
	if (!all && strcmp(only, "seqread") && strcmp(only, "randread_qd1") &&
	    strcmp(only, "randread_qd32") && strcmp(only, "seqwrite")) {
		fail(t, "no mode %s (seqread, randread_qd1, randread_qd32, seqwrite)", only);
		return;
	}
	pass(t);
}
