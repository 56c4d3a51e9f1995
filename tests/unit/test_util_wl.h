/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-wl unit tests' rig: commands as the guest driver lays them
 * out, and a device driven through its out and in queues (test_util_vq
 * rings, one guest memory per queue) against a real AF_UNIX "compositor"
 * listening in a temporary directory. Without a sandbox the device connects
 * through its broker_connect op directly; the VM (for the MSI-X irqfds)
 * never maps the shared memory BAR, so VFD_NEW only mmaps and records.
 *
 * test_util_wl.c declares the "wl" suite (a VM and the directory, per
 * test): Test(wl, ...) in any file gets them.
 */
#ifndef CVM_TESTS_UNIT_TEST_UTIL_WL_H
#define CVM_TESTS_UNIT_TEST_UTIL_WL_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "test_util_vq.h"
#include "virtio/wl.h"

/* Little-endian fields of the virtio-wl messages. */
static inline void twl_put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline uint32_t twl_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t twl_get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* Commands into @b; each returns its length. VFD_NEW, VFD_NEW_PIPE: 28 bytes up to the union. */
size_t twl_mk_new(uint8_t *b, uint32_t type, uint32_t id, uint32_t flags, uint32_t size);
/* VFD_NEW_CTX, VFD_CLOSE. */
size_t twl_mk_vfd(uint8_t *b, uint32_t type, uint32_t id);
size_t twl_mk_named(uint8_t *b, uint32_t id, const char *name);
/* VFD_SEND: the header, @nr ids, then @len bytes of @data. */
size_t twl_mk_send(uint8_t *b, uint32_t id, const uint32_t *ids, uint32_t nr, const void *data,
		   size_t len);

/* The compositor's socket (the suite's .init names it, twl_rig_up() binds it). */
extern char twl_path[128];

#define TWL_QSIZE 64
#define TWL_OUT_SLOTS 32	    /* chains of two descriptors each */
#define TWL_OUT_SLOT 0x20000ULL	    /* guest bytes per out chain: command, then response */
#define TWL_OUT_RESP 0x1f000ULL	    /* the response buffer's place in its slot */
#define TWL_OUT_BIG (24 * GMEM_MIB) /* a large command's readable buffer */
#define TWL_IN_BUF 4096

/* A device, its queues, and the compositor's listening socket. */
struct twl_rig {
	struct wl_dev *w;
	struct tvq out, in;
	int lfd;
	uint16_t out_posted, out_seen;
	uint16_t in_posted, in_seen;
};

void twl_rig_up(struct twl_rig *r);
void twl_rig_down(struct twl_rig *r);

/* The guest address of out chain @k's slot (its command; the response at + TWL_OUT_RESP). */
uint64_t twl_out_gpa(uint16_t k);
/*
 * Post a chain: @len readable bytes (at @cmd_gpa, or copied from @cmd into
 * the chain's slot), then @resp_len writable ones (none when 0); returns k.
 */
uint16_t twl_post_at(struct twl_rig *r, uint64_t cmd_gpa, size_t len, uint32_t resp_len);
uint16_t twl_post(struct twl_rig *r, const void *cmd, size_t len, uint32_t resp_len);
/* A VFD_SEND to @id of the @len bytes at TWL_OUT_BIG + 16, with an 8-byte response buffer. */
uint16_t twl_post_big_send(struct twl_rig *r, uint32_t id, size_t len);
/* wl_process_out() returns 0. */
void twl_run_out(struct twl_rig *r);
/* The next response, if the device gave one: its chain's slot number, length and bytes. */
bool twl_next_resp(struct twl_rig *r, uint16_t *k, uint32_t *len, uint8_t *buf);

/* Run one command with a 64-byte response buffer; return the response code. */
uint32_t twl_cmd_full(struct twl_rig *r, const void *cmd, size_t len, uint8_t *resp);
uint32_t twl_cmd(struct twl_rig *r, const void *c, size_t len);
uint32_t twl_new_shm(struct twl_rig *r, uint32_t id, uint32_t flags, uint32_t size, uint8_t *resp);
uint32_t twl_new_pipe(struct twl_rig *r, uint32_t id, uint32_t flags);
uint32_t twl_close_vfd(struct twl_rig *r, uint32_t id);
uint32_t twl_send_vfd(struct twl_rig *r, uint32_t id, const uint32_t *ids, uint32_t nr,
		      const void *data, size_t len);
/* VFD_NEW_CTX @id; returns the compositor's end of the connection. */
int twl_new_ctx(struct twl_rig *r, uint32_t id);

/* The slot of VFD @id (which must exist); how many slots are in use. */
unsigned int twl_slot_of(struct twl_rig *r, uint32_t id);
unsigned int twl_nr_vfds(struct twl_rig *r);
/* A 4 KiB send buffer on the device's end of context @id, so that a large VFD_SEND is held. */
void twl_shrink_sndbuf(struct twl_rig *r, uint32_t id);

/* The device reads VFD @id (epoll said it is readable). */
void twl_ready(struct twl_rig *r, uint32_t id);
/* Post @n in-queue buffers of TWL_IN_BUF bytes and let the device fill them; returns how many it did. */
int twl_fill(struct twl_rig *r, unsigned int n);
/* The next message the device put in the in queue; its length, 0 when none. */
uint32_t twl_next_msg(struct twl_rig *r, uint8_t *buf);

/* Nothing is waiting on @fd. */
void twl_expect_nothing(int fd);
/* Read exactly @len bytes (and at most 28 descriptors into @fds) from @fd; returns how many descriptors. */
int twl_recv_all(int fd, void *buf, size_t len, int *fds);
/* The compositor sends @len bytes and @nfd descriptors. */
void twl_comp_send(int fd, const void *data, size_t len, const int *fds, int nfd);

#endif
