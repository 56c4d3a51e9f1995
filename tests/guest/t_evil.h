/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The malicious-guest suite (t_evil_*.c; host side tests/integration/
 * test_evil.c): a guest that breaks the virtio rules on purpose and checks
 * that each device goes to DEVICE_NEEDS_RESET (or answers with an error),
 * can then be reset and used again, and that the other devices never
 * notice.
 *
 * The host gives the guest -m 256 and two writable disks holding the
 * pattern of ev_pattern(): vda (attacked; the only sectors it may change
 * are listed in ev_byte()'s comment) and vdb (never written: the host checks
 * it is unchanged). Guest RAM [EV_BIG_BASE, + EV_BIG_LEN) is scratch that
 * huge buffers point at.
 */
#ifndef CVM_GUEST_T_EVIL_H
#define CVM_GUEST_T_EVIL_H

#include "hw.h"

#define EV_SECTOR 512
#define EV_BIG_BASE (64ULL << 20)
#define EV_BIG_LEN (160u << 20)
#define EV_BIG_N 28	    /* 28 * 160 MiB > 4 GiB */
#define EV_USE_SECTOR 64    /* written with ev_byte() by every blk use check */
#define EV_RESET_SECTOR 256 /* t_evil_reset.c writes sectors 256..511 */
#define EV_MAXQ 3

enum ev_kind { EV_BLK, EV_RNG, EV_VSOCK, EV_NET, EV_KINDS };

struct edev {
	struct vdev d;
	enum ev_kind kind;
	const char *name;
	unsigned int nq;      /* queues set up by ev_open() */
	unsigned int attackq; /* the queue the descriptor attacks use */
	uint64_t want;
	uint8_t *pages; /* EV_MAXQ ring pages of its own, reused by every ev_open() */
	uint64_t cid;	/* vsock: the guest's CID */
	unsigned int uses;
};

/*
 * Byte @i of sector @s as the host writes it (vda and vdb), and as the guest
 * writes sector EV_USE_SECTOR and EV_RESET_SECTOR.. (ev_byte()).
 */
static inline uint8_t ev_pattern(uint64_t s, unsigned int i)
{
	return (uint8_t)(s * 31 + i * 7 + 0x11);
}

static inline uint8_t ev_byte(uint64_t s, unsigned int i)
{
	return (uint8_t)(s * 5 + i * 11 + 0x3c);
}

/* ev_find() - the @nth PCI function of @kind, probed; 0 or -1 (FAIL printed). */
int ev_find(const char *t, struct edev *e, enum ev_kind kind, unsigned int nth);
/* ev_open() - reset, negotiate, set up e->nq queues, DRIVER_OK; 0 or -1 (FAIL printed). */
int ev_open(const char *t, struct edev *e);
/* ev_setup_vq() - queue @qi on our own ring page, @size entries (0: min(device's, 16)). */
int ev_setup_vq(struct edev *e, unsigned int qi, uint16_t size);
/* ev_broken() - wait (bounded) for NEEDS_RESET; 0, or -1 with FAIL "@what: ...". */
int ev_broken(const char *t, struct edev *e, const char *what);
/* ev_healthy() - DRIVER_OK and neither NEEDS_RESET nor FAILED; 0 or -1 with FAIL. */
int ev_healthy(const char *t, struct edev *e, const char *what);
/* ev_use() - one real request of the device's kind that must work; 0 or -1 with FAIL. */
int ev_use(const char *t, struct edev *e, const char *what);
/* ev_recover() - ev_open() then ev_use(), and ev_use() of every device in @others. */
int ev_recover(const char *t, struct edev *e, struct edev *others, unsigned int nothers,
	       const char *what);

/* ev_publish() - put @head in the avail ring and notify. */
void ev_publish(struct vq *q, uint16_t head);
/* ev_wait_used() - bounded wait for one used entry (no FAIL printed); 0 or -1. */
int ev_wait_used(struct vq *q, uint32_t *id, uint32_t *len, unsigned long polls);

/* The end of guest RAM below 4 GiB (from the e820 map). */
uint64_t ev_ram_end(const struct boot_params *bp);

/* virtio-blk request with one data buffer; *@status 0x1ee when not written. */
int ev_blk_rw(const char *t, struct edev *e, uint32_t type, uint64_t sector, void *buf,
	      uint32_t len, unsigned int *status);
/* vsock: send a packet to host port @port that no one has, and get its RST. */
int ev_vsock_rst(const char *t, struct edev *e, uint32_t port);

#endif
