/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-wl (virtio device id 63): the guest's Wayland clients talk to the
 * host's compositor, command for command as crosvm's device and the
 * ChromeOS kernel's virtio_wl driver (uapi linux/virtio_wl.h) speak it.
 *
 * The guest's file descriptors are VFDs, numbered by whoever made them
 * (the guest: ids below WL_HOST_ID_BIT; the device: at and above it):
 *   context  a connection to the compositor (VFD_NEW_CTX), which the VMM
 *	      opens for the device (virtio_pci_broker_connect());
 *   shm      a memfd (VFD_NEW) mapped into the shared memory region (BAR 2,
 *	      virtio_pci_shm_map()), so the guest writes pixels straight into
 *	      the memory the compositor reads;
 *   pipe     one end of a pipe (VFD_NEW_PIPE), the other end sent on;
 *   opaque   a descriptor the compositor passed that is none of these.
 * VFD_SEND carries bytes and VFDs (as SCM_RIGHTS) to a context; what the
 * compositor sends back becomes VFD_NEW (one per descriptor) and VFD_RECV
 * messages on the in queue, VFD_HUP when it hangs up.
 *
 * Queues: 0 in (device -> guest), 1 out (guest commands; the response goes
 * into the same chain). Guest input is hostile: a malformed command gets an
 * error response and never reaches the compositor.
 */
#ifndef CVM_VIRTIO_WL_H
#define CVM_VIRTIO_WL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio_pci.h"

#define VIRTIO_ID_WL 63
#define WL_Q_IN 0
#define WL_Q_OUT 1

/* Features. */
#define VIRTIO_WL_F_TRANS_FLAGS 1
#define VIRTIO_WL_F_SEND_FENCES 2
#define VIRTIO_WL_F_USE_SHMEM 3

/* Commands and responses (enum virtio_wl_ctrl_type). */
enum {
	WL_CMD_VFD_NEW = 0x100,
	WL_CMD_VFD_CLOSE,
	WL_CMD_VFD_SEND,
	WL_CMD_VFD_RECV,
	WL_CMD_VFD_NEW_CTX,
	WL_CMD_VFD_NEW_PIPE,
	WL_CMD_VFD_HUP,
	WL_CMD_VFD_NEW_DMABUF,
	WL_CMD_VFD_DMABUF_SYNC,
	WL_CMD_VFD_SEND_FOREIGN_ID,
	WL_CMD_VFD_NEW_CTX_NAMED,

	WL_RESP_OK = 0x1000,
	WL_RESP_VFD_NEW = 0x1001,
	WL_RESP_VFD_NEW_DMABUF = 0x1002,

	WL_RESP_ERR = 0x1100,
	WL_RESP_OUT_OF_MEMORY,
	WL_RESP_INVALID_ID,
	WL_RESP_INVALID_TYPE,
	WL_RESP_INVALID_FLAGS,
	WL_RESP_INVALID_CMD,
};

/* VFD flags: with TRANS_FLAGS, and the older ones without. */
#define WL_VFD_WRITE 0x1
#define WL_VFD_READ 0x2
#define WL_VFD_MAP 0x2
#define WL_VFD_CONTROL 0x4

#define WL_HOST_ID_BIT 0x40000000u /* ids the device allocates */
#define WL_SEND_MAX_VFDS 28	   /* VFDs in one VFD_SEND / VFD_RECV (libwayland's MAX_FDS_OUT) */
#define WL_MSG_MAX 4096		   /* the longest message on the in queue */
#define WL_RECV_HDR 16		   /* struct virtio_wl_ctrl_vfd_recv */
#define WL_RECV_DATA_MAX (WL_MSG_MAX - WL_RECV_HDR - 4 * WL_SEND_MAX_VFDS)
#define WL_NEW_LEN 64  /* struct virtio_wl_ctrl_vfd_new */
#define WL_CMD_MAX 128 /* bytes of a command parsed before its data */
#define WL_NAME_LEN 32

#define WL_MAX_VFDS VP_SHM_MAX_MAPS /* a VFD's slot is its mapping's index */
#define WL_SHM_SIZE (256ULL << 20)  /* the shared memory region */
#define WL_PENDING 64		    /* messages queued for the in queue */

/* A guest command, parsed (wl_parse_cmd()). */
struct wl_cmd {
	uint32_t type;
	uint32_t id;
	uint32_t flags;
	uint32_t size;
	uint32_t nr_ids; /* VFD_SEND */
	uint32_t ids[WL_SEND_MAX_VFDS];
	uint64_t data_off; /* VFD_SEND: where the bytes start */
	char name[WL_NAME_LEN + 1];
};

/*
 * wl_parse_cmd() - parse the command in the first @len bytes of a chain
 * whose readable part is @total bytes long (@len = min(@total,
 * WL_CMD_MAX)). Returns 0, or the WL_RESP_* error to answer with: RESP_ERR
 * for a truncated command, INVALID_CMD for an unknown type or too many
 * VFDs, INVALID_ID for a guest id with WL_HOST_ID_BIT set.
 */
uint32_t wl_parse_cmd(const uint8_t *buf, size_t len, uint64_t total, struct wl_cmd *c);

/* A little-endian u32 of a message (the type at 0, the vfd id at 8). */
uint32_t wl_get32(const uint8_t *p);

/* Message encoders for the in queue and responses; each returns its length. */
size_t wl_enc_new(uint8_t *buf, uint32_t type, uint32_t id, uint32_t flags, uint64_t pfn,
		  uint32_t size);
size_t wl_enc_hup(uint8_t *buf, uint32_t id);
size_t wl_enc_resp(uint8_t *buf, uint32_t code);
/* VFD_RECV for @id with @nr ids and @len data bytes (@nr <= 28, @len <= WL_RECV_DATA_MAX). */
size_t wl_enc_recv(uint8_t *buf, uint32_t id, const uint32_t *ids, uint32_t nr, const void *data,
		   size_t len);

enum wl_kind { WL_FREE = 0, WL_CTX, WL_SHM, WL_PIPE, WL_OPAQUE };

struct wl_vfd {
	enum wl_kind kind;
	uint32_t id;
	int fd;		    /* context socket, memfd, local pipe end, or the opaque fd */
	int remote_fd;	    /* pipe: the end to send on (-1 once sent) */
	uint32_t flags;	    /* pipe: WL_VFD_READ (guest reads) and/or WL_VFD_WRITE */
	uint64_t off, size; /* shm: its place in the region */
	uint64_t gpa;	    /* shm: the guest-physical address when it was mapped */
	uint32_t watched;   /* epoll events asked for; UINT32_MAX: not in the set */
	bool hup;	    /* hang-up reported to the guest (or owed) */
};

/* A message waiting for an in-queue buffer. */
struct wl_pending {
	uint32_t len;
	uint32_t owner; /* the VFD it concerns (RECV, HUP) or whose RECV it precedes (NEW) */
	uint8_t buf[WL_MSG_MAX];
};

struct wl_dev {
	struct virtio_pci vp;
	char name[32];
	char *sock_path; /* the compositor's socket (VMM) */
	bool use_trans, use_shmem;
	struct wl_vfd vfds[WL_MAX_VFDS];
	uint32_t next_host_id;
	/* In queue: messages owed to the guest, a ring. */
	struct wl_pending *pend; /* WL_PENDING entries */
	unsigned int pend_head, pend_len;
	bool paused; /* too much owed: no descriptor is read */
	/* Out queue: a command that waits for its target to take more bytes. */
	bool held;
	struct wl_cmd held_cmd;
	uint64_t held_sent;  /* data bytes sent so far */
	bool out_answered;   /* a response was pushed since the last interrupt check */
	struct vq_chain out; /* the chain being handled */
	struct vq_chain in;
};

/*
 * wl_dev_create() - the virtio-pci function for a compositor at
 * @sock_path (connections are opened as the guest asks). @shm_slot_base:
 * the first of WL_MAX_VFDS KVM memory slots for the shared memory region.
 */
int wl_dev_create(struct wl_dev **out, const char *sock_path, uint32_t shm_slot_base,
		  const struct virtio_env *env, struct cvm_errbuf *err);
void wl_dev_destroy(struct wl_dev *w);

/* For the unit tests and fuzzers (the worker runs these). */
int wl_process_out(struct wl_dev *w, struct virtq *q);
int wl_fill_in(struct wl_dev *w, struct virtq *q);
int wl_fd_ready(struct wl_dev *w, uint32_t tag, uint32_t events);

#endif
