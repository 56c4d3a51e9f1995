// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_wl: Wayland round trips over virtio-wayland, the guest half of
 * bench/wl.c.
 *
 * The set-up runs in ring 0 through the wl tests' driver (wl.h: both
 * queues polled, no interrupts, VIRTIO_RING_F_EVENT_IDX negotiated so that
 * re-posting in-queue buffers needs no notify while the device has some
 * left): context 1 to the compositor and a registry roundtrip
 * (open_quiet_ctx()). Then, in ring 3 (user.h), N times (cvm.n=N, default
 * 1000):
 *
 *   VFD_SEND on context 1 of wl_display.sync(new_id 3), a notify of the
 *   out queue (a VM exit); poll the out queue for its RESP_OK and the in
 *   queue for the VFD_RECV(s) with wl_callback(3).done and
 *   wl_display.delete_id(3), after which id 3 is free for the next one.
 *
 * Time is the TSC (its rate from kvmclock, as bench_blk does). Lines:
 *
 *   BENCH wl tsc_khz K source S pit_khz P
 *   BENCH wl sync n N ns T min_ns A max_ns B out_notifies X in_notifies Y recvs R
 *   notify_ns U
 *
 * (one line; T: all N round trips; A, B: the fastest and slowest one; X, Y:
 * the notifies (VM exits) written to each queue in the loop; R: VFD_RECVs
 * that came; U: the time spent in the out queue's notifies, the writes to
 * its notify address, in all), then PASS bench_wl, or FAIL with the reason.
 */
#include "user.h"
#include "wl.h"

#define BENCH_CB OBJ_CB1
#define STALL_S 20

struct wlb {
	struct wl *w;
	struct wlctx *c;
	uint32_t len; /* of the VFD_SEND in cmd[] */
	unsigned long n, done;
	uint64_t khz, t0, t1, min, max, notify;
	uint32_t bad_resp, bad_len;
	bool stalled, broken;
};

static struct wlb wlb;

/* Whether the last sync's round trip is over: done and delete_id both in. */
static bool sync_over(const struct wlctx *c)
{
	return cb_done(c, BENCH_CB) && c->type[BENCH_CB] == OBJ_NONE;
}

/* Ring 3: memory, the notify addresses and (USER_IOPL) printing on odd messages only. */
static void sync_loop(void *arg)
{
	struct wlb *b = arg;
	struct wl *w = b->w;
	struct wlctx *c = b->c;
	struct vq *out = w->out;
	struct vq_buf v[2] = { { cmd, b->len, false }, { resp, 16, true } };
	uint64_t stall = b->khz * 1000 * STALL_S;

	b->min = ~0ULL;
	b->t0 = rdtsc();
	for (b->done = 0; b->done < b->n; b->done++) {
		uint64_t s = rdtsc(), d;
		uint16_t old = out->avail_idx;
		bool answered = false;

		ctx_obj(c, BENCH_CB, OBJ_CALLBACK);
		c->done[BENCH_CB / 64] &= ~(1ULL << (BENCH_CB % 64));
		if (vq_add(out, v, 2, false, true) < 0) {
			b->broken = true;
			return;
		}
		d = rdtsc();
		vq_kick(out, old);
		b->notify += rdtsc() - d;
		while (!answered || !sync_over(c)) {
			if (!answered && vq_used_ready(out)) {
				const volatile struct vring_used_elem *e;

				barrier();
				e = &out->used->ring[out->last_used % out->size];
				out->last_used++;
				answered = true;
				if (e->len < 8 || get32(resp) != WL_RESP_OK) {
					b->bad_resp = get32(resp);
					b->bad_len = e->len;
					b->broken = true;
					return;
				}
				continue;
			}
			if (c->hup || c->error || c->bad) {
				b->broken = true;
				return;
			}
			if (!in_pump(w)) {
				cpu_relax();
				if (rdtsc() - s > stall) {
					b->stalled = true;
					return;
				}
			}
		}
		d = rdtsc() - s;
		if (d < b->min)
			b->min = d;
		if (d > b->max)
			b->max = d;
	}
	b->t1 = rdtsc();
}

void test_bench_wl(const struct boot_params *bp)
{
	const char *t = "bench_wl";
	struct wl *w = &wl0;
	struct wlctx *c;
	struct wbuf b;
	unsigned int out_n, in_n, recvs;
	uint64_t khz = bench_clock(t, "wl");

	if (!khz)
		return;
	wl_want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	c = open_quiet_ctx(t, w);
	if (!c)
		return;
	/* The registry's callback must be gone (delete_id) before its id is reused. */
	for (unsigned long i = 0; c->type[BENCH_CB] != OBJ_NONE && i < WL_WAIT_POLLS; i++)
		if (!in_pump(w))
			cpu_relax();
	if (c->type[BENCH_CB] != OBJ_NONE) {
		fail(t, "no wl_display.delete_id(%u) after the registry roundtrip", BENCH_CB);
		return;
	}
	send_begin(&b, c->vfd, NULL, 0);
	req_sync(&b, c, BENCH_CB);
	wlb = (struct wlb){ .w = w, .c = c, .len = b.len, .n = bench_n(bp, 1000), .khz = khz };
	out_n = w->out->notifies;
	in_n = w->in->notifies;
	recvs = w->recvs;
	if (user_run(sync_loop, &wlb, USER_IOPL)) {
		fail(t, "user_run() failed");
		return;
	}
	if (wlb.stalled || wlb.broken) {
		fail(t,
		     "round trip %lu of %lu: %s (response 0x%x of %u bytes, hup %d, error %d, "
		     "bad stream %d: %s, %u VFD_RECVs, %u bytes unparsed)",
		     wlb.done + 1, wlb.n,
		     wlb.stalled ? "no answer within the stall limit" : "broken", wlb.bad_resp,
		     wlb.bad_len, c->hup, c->error, c->bad, c->why, w->recvs, c->len);
		return;
	}
	printf("BENCH wl sync n %lu ns %llu min_ns %llu max_ns %llu out_notifies %u in_notifies %u "
	       "recvs %u notify_ns %llu\n",
	       wlb.n, (unsigned long long)((wlb.t1 - wlb.t0) * 1000000 / khz),
	       (unsigned long long)(wlb.min * 1000000 / khz),
	       (unsigned long long)(wlb.max * 1000000 / khz), w->out->notifies - out_n,
	       w->in->notifies - in_n, w->recvs - recvs,
	       (unsigned long long)(wlb.notify * 1000000 / khz));
	wl_pass(t, w);
}
