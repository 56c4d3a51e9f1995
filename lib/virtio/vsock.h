/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-vsock (virtio 1.x section 5.10), a userspace device with
 * Firecracker's host-side scheme: the host end of every connection is an
 * AF_UNIX stream socket.
 *
 *   guest -> host port P: the device connects to "<uds_path>_P"; the guest
 *	gets RESPONSE when that succeeds, RST when it does not.
 *   host -> guest port P: a host program connects to <uds_path> and writes
 *	"CONNECT P\n"; the device sends the guest a REQUEST from a fresh host
 *	port H (1 << 30 upwards) and, once the guest answers RESPONSE, writes
 *	"OK H\n" to the host program. RST (or garbage) closes the socket.
 *
 * Everything runs on the transport's worker thread, non-blocking: data the
 * guest sends to a host socket that does not read is kept per connection,
 * up to the credit the device advertised (VSOCK_BUF_ALLOC), and never
 * stalls other connections. Host data is read only when the guest has an
 * rx buffer and credit for it, straight into the guest's buffer.
 *
 * The listening socket doubles as the lock on the CID: the default path
 * names the CID (/tmp/cvm-vsock-<cid>.sock), and a path someone listens on
 * is refused with -EADDRINUSE.
 */
#ifndef CVM_VIRTIO_VSOCK_H
#define CVM_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/virtio_vsock.h>

#include "virtio/virtio_pci.h"

#define VSOCK_HOST_CID 2
#define VSOCK_HDR_LEN 44
#define VSOCK_MAX_CONNS 256
#define VSOCK_BUF_ALLOC (256u * 1024)	    /* credit we give the guest per connection */
#define VSOCK_CREDIT_THRESHOLD (64u * 1024) /* fwd_cnt progress that earns a CREDIT_UPDATE */
#define VSOCK_MAX_PKT (64u * 1024)	    /* longest payload accepted from the guest */
#define VSOCK_EPHEMERAL_BASE (1u << 30)
#define VSOCK_LINE_MAX 32 /* "CONNECT 4294967295\n" fits */
#define VSOCK_RST_RING 64 /* RSTs waiting for an rx buffer, with no connection left */

#define VSOCK_Q_RX 0
#define VSOCK_Q_TX 1
#define VSOCK_Q_EVENT 2

enum vsock_state {
	VC_FREE = 0,
	VC_HANDSHAKE, /* host connected to uds_path: reading "CONNECT P\n" */
	VC_REQUEST,   /* REQUEST (to be) sent to the guest, waiting for its RESPONSE */
	VC_OPEN,      /* established */
};

struct vsock_conn {
	enum vsock_state state;
	int fd;
	uint32_t local_port; /* the host's port */
	uint32_t peer_port;  /* the guest's port */
	uint32_t watched;    /* epoll events asked for; UINT32_MAX: not in the set */
	/* Guest -> host. */
	uint32_t rx_cnt;       /* payload bytes received from the guest */
	uint32_t fwd_cnt;      /* of which written to the socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt the guest was last told */
	uint8_t *wbuf;	       /* bytes not yet written to the socket */
	uint32_t wlen, wcap;   /* wlen <= rx_cnt - fwd_cnt <= VSOCK_BUF_ALLOC */
	/* Host -> guest. */
	uint32_t tx_cnt;	 /* payload bytes sent to the guest */
	uint32_t peer_buf_alloc; /* the guest's credit */
	uint32_t peer_fwd_cnt;
	bool readable;	    /* epoll said so; reading until EAGAIN */
	bool host_eof;	    /* read() returned 0: SHUTDOWN(SEND) owed / sent */
	bool guest_no_send; /* the guest sent SHUTDOWN(SEND) */
	bool guest_no_rcv;  /* the guest sent SHUTDOWN(RCV) */
	bool shut_wr_done;  /* shutdown(SHUT_WR) done */
	/* Control packets owed to the guest. */
	bool need_request, need_response, need_credit, need_shutdown;
	/* VC_HANDSHAKE: the line read so far. */
	char line[VSOCK_LINE_MAX];
	uint32_t line_len;
};

struct vsock_rst {
	uint32_t local_port, peer_port;
};

struct vsock_dev {
	struct virtio_pci vp;
	struct virtio_vsock_config config;
	uint64_t cid;
	char *uds_path;
	int listen_fd;
	dev_t uds_dev; /* the socket file we made, to remove only that one */
	ino_t uds_ino;
	char name[48];
	struct vsock_conn conns[VSOCK_MAX_CONNS];
	unsigned int nr_conns;
	unsigned int rr; /* round-robin start for host -> guest data */
	uint32_t next_port;
	struct vsock_rst rst[VSOCK_RST_RING];
	unsigned int rst_head, rst_len;
	/* An rx chain popped but not filled yet (the socket had nothing after all). */
	bool rx_held;
	struct vq_chain rx_chain;
	struct vq_chain tx_chain;
	unsigned int warnings; /* rate limit for guest-error messages */
};

/*
 * vsock_dev_create() - bind and listen on @uds_path (a stale socket there
 * is replaced, a live one is -EADDRINUSE) and build the virtio-pci function.
 * @cid must be >= 3.
 */
int vsock_dev_create(struct vsock_dev **out, uint64_t cid, const char *uds_path,
		     const struct virtio_env *env, struct cvm_errbuf *err);
/* Closes every connection, removes the listening socket, frees @v. */
void vsock_dev_destroy(struct vsock_dev *v);

/*
 * For the unit tests (the worker runs these): handle every chain on the
 * tx queue, then fill rx buffers with whatever is owed. Return 0 or
 * -EPROTO when the ring is broken.
 */
int vsock_process_tx(struct vsock_dev *v, struct virtq *txq, bool *rx_work);
int vsock_fill_rx(struct vsock_dev *v, struct virtq *rxq, unsigned int *pushed);
/* A watched descriptor is ready (@tag 0: the listener, 1 + i: conns[i]). */
void vsock_fd_ready(struct vsock_dev *v, uint32_t tag, uint32_t events);

#endif
