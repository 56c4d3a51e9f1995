/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket's server side. It lives in the thread that runs
 * cvm_vm_run(): the listening socket and each client are in that thread's
 * epoll set, every request is answered at once, and a client that sends
 * nothing just sits there without holding anyone else up.
 */
#ifndef CVM_CONTROL_SERVER_H
#define CVM_CONTROL_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "control/protocol.h"
#include "util/err.h"

#define CTL_MAX_CLIENTS 16
#define CTL_TAG_LISTEN 200
#define CTL_TAG_CLIENT 300 /* + client index */

struct cvm_vm;

struct ctl_server {
	int fd;
	char path[108];
	dev_t dev;
	ino_t ino;
	int clients[CTL_MAX_CLIENTS];
	uint64_t last_used[CTL_MAX_CLIENTS]; /* request counter at the client's last activity */
	uint64_t requests;
	char payload[CTL_MAX_REPLY], reply[CTL_MAX_REPLY + 64]; /* one reply at a time */
};

/*
 * ctl_server_open() - create the socket at @path (a directory: @path/cvm.<pid>.sock).
 * A stale socket file is replaced; a live one is refused (-EADDRINUSE); a
 * file that is not a socket is refused (-EEXIST).
 */
int ctl_server_open(struct ctl_server **out, const char *path, struct cvm_errbuf *err);
/* Close every connection and remove the socket file if it is still ours. */
void ctl_server_close(struct ctl_server *s);

/* Add the listening socket to @ep. */
int ctl_server_watch(struct ctl_server *s, int ep);
/* Handle an epoll event whose tag is CTL_TAG_LISTEN or CTL_TAG_CLIENT + i. */
void ctl_server_event(struct cvm_vm *vm, int ep, uint32_t tag, uint32_t events);

#endif
