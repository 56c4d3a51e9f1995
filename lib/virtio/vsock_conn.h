/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-vsock internals shared by vsock.c (the virtio device: guest
 * packets in and out) and vsock_host.c (the host side: connections, their
 * AF_UNIX sockets, the listening socket and the CONNECT handshake).
 */
#ifndef CVM_VIRTIO_VSOCK_CONN_H
#define CVM_VIRTIO_VSOCK_CONN_H

#include "virtio/vsock.h"

#define VSOCK_MAX_WARNINGS 20

/* A warning about the guest's behaviour, at most VSOCK_MAX_WARNINGS of them. */
#define gwarn(v, ...)                                       \
	do {                                                \
		if ((v)->warnings < VSOCK_MAX_WARNINGS) {   \
			(v)->warnings++;                    \
			log_warn((v)->vp.log, __VA_ARGS__); \
		}                                           \
	} while (0)

struct vsock_conn *conn_find(struct vsock_dev *v, uint32_t local, uint32_t peer);
struct vsock_conn *conn_alloc(struct vsock_dev *v, int fd);
void rst_push(struct vsock_dev *v, uint32_t local, uint32_t peer);
void conn_close(struct vsock_dev *v, struct vsock_conn *c, bool rst);
void conn_watch(struct vsock_dev *v, struct vsock_conn *c);
uint32_t conn_peer_credit(const struct vsock_conn *c);
void conn_check_done(struct vsock_dev *v, struct vsock_conn *c);
int uds_listen(struct vsock_dev *v, struct cvm_errbuf *err);

#endif
