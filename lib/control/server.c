// SPDX-License-Identifier: BSD-3-Clause
#include "control/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control/protocol.h"
#include "core/vm.h"
#include "virtio/blk_dev.h"

/* Is anybody listening at @path? */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return true; /* cannot tell: leave it alone */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	live = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EPROTOTYPE ||
	       errno == EAGAIN;
	close(fd);
	return live;
}

int ctl_server_open(struct ctl_server **out, const char *path, struct cvm_errbuf *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct ctl_server *s;
	struct stat st;
	int n, rc;

	*out = NULL;
	if (!path || !*path)
		return errf(err, -EINVAL, "empty control socket path");
	s = calloc(1, sizeof(*s));
	if (!s)
		return errf(err, -ENOMEM, "out of memory");
	s->fd = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		s->clients[i] = -1;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		n = snprintf(s->path, sizeof(s->path), "%s/cvm.%d.sock", path, (int)getpid());
	else
		n = snprintf(s->path, sizeof(s->path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(s->path)) {
		rc = errf(err, -ENAMETOOLONG, "control socket path %s is longer than %zu bytes",
			  path, sizeof(s->path) - 1);
		goto fail;
	}
	if (lstat(s->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			rc = errf(err, -EEXIST, "%s exists and is not a socket", s->path);
			goto fail;
		}
		if (socket_is_live(s->path)) {
			rc = errf(err, -EADDRINUSE, "control socket %s is in use by a running VM",
				  s->path);
			goto fail;
		}
		unlink(s->path); /* stale: its VM is gone */
	}
	s->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		rc = errf(err, -errno, "socket: %s", strerror(errno));
		goto fail;
	}
	/* Linux creates the file with the socket inode's mode: 0600 from the start. */
	fchmod(s->fd, 0600);
	memcpy(a.sun_path, s->path, strlen(s->path) + 1);
	if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) || listen(s->fd, CTL_MAX_CLIENTS)) {
		rc = errf(err, -errno, "cannot listen on %s: %s", s->path, strerror(errno));
		goto fail;
	}
	if (chmod(s->path, 0600) || stat(s->path, &st)) {
		rc = errf(err, -errno, "%s: %s", s->path, strerror(errno));
		unlink(s->path);
		goto fail;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	*out = s;
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return rc;
}

void ctl_server_close(struct ctl_server *s)
{
	struct stat st;

	if (!s)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (s->clients[i] >= 0)
			close(s->clients[i]);
	}
	/* Remove the file only if it is still the one we created. */
	if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

int ctl_server_watch(struct ctl_server *s, int ep)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = CTL_TAG_LISTEN };

	return epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) ? -errno : 0;
}

static void drop_client(struct ctl_server *s, int ep, int i)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, s->clients[i], NULL);
	close(s->clients[i]);
	s->clients[i] = -1;
}

static size_t status_json(struct cvm_vm *vm, char *buf, size_t size)
{
	struct timespec now;
	size_t off;
	bool suspended;

	pthread_mutex_lock(&vm->pause_lock);
	suspended = vm->suspended;
	pthread_mutex_unlock(&vm->pause_lock);
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long up = (now.tv_sec - vm->started_at.tv_sec) * 1000LL +
		       (now.tv_nsec - vm->started_at.tv_nsec) / 1000000;
	int n = snprintf(buf, size,
			 "{\"protocol\":1,\"state\":\"%s\",\"vcpus\":%u,\"memory_mib\":%u,"
			 "\"uptime_ms\":%lld,\"pid\":%d,\"devices\":[",
			 suspended ? "suspended" : "running", vm->nr_vcpus, vm->mem_mib, up,
			 (int)getpid());

	off = n > 0 ? (size_t)n : 0;
	bool first = true;

	for (unsigned int i = 0; i < CVM_NR_SERIAL; i++) {
		const cvm_serial_config *c = &vm->serial[i].cfg;

		if (c->out_fd < 0 && c->in_fd < 0)
			continue;
		off += (size_t)snprintf(buf + (off < size ? off : size),
					off < size ? size - off : 0,
					"%s{\"type\":\"serial\",\"port\":%u}", first ? "" : ",",
					i + 1);
		first = false;
	}
	for (unsigned int i = 0; i < vm->nr_disks; i++) {
		const struct blk_dev *b = vm->disks[i];

		off += (size_t)snprintf(
			buf + (off < size ? off : size), off < size ? size - off : 0,
			"%s{\"type\":\"virtio-blk\",\"name\":\"vd%c\",\"path\":", first ? "" : ",",
			'a' + (char)(i % 26));
		ctl_json_string(buf, size, &off, b->path);
		off += (size_t)snprintf(buf + (off < size ? off : size),
					off < size ? size - off : 0, ",\"read_only\":%s}",
					b->disk.read_only ? "true" : "false");
		first = false;
	}
	off += (size_t)snprintf(buf + (off < size ? off : size), off < size ? size - off : 0, "]}");
	return off;
}

/* Carry out one parsed command; the reply's payload goes to @out. */
static int execute(struct cvm_vm *vm, int cmd, char *out, size_t size)
{
	int rc;

	switch (cmd) {
	case CTL_STOP:
		snprintf(out, size, "stopping");
		return cvm_vm_stop(vm);
	case CTL_SUSPEND:
		rc = vcpus_pause(vm);
		snprintf(out, size, rc == -EALREADY ? "already suspended" : "suspended");
		return rc;
	case CTL_RESUME:
		rc = vcpus_resume(vm);
		snprintf(out, size, rc == -EALREADY ? "already running" : "running");
		return rc;
	case CTL_STATUS:
		return status_json(vm, out, size) < size ? 0 : -ENOSPC;
	case CTL_VERSION:
		snprintf(out, size, "{\"protocol\":1,\"library\":\"%s\"}", CVM_VERSION_STRING);
		return 0;
	}
	return -EINVAL;
}

static void serve(struct cvm_vm *vm, int ep, int i, uint32_t events)
{
	struct ctl_server *s = vm->ctl;
	char req[CTL_MAX_REQUEST + 1], *payload = s->payload, *reply = s->reply;
	const size_t payload_size = sizeof(s->payload), reply_size = sizeof(s->reply);
	struct iovec iov = { .iov_base = req, .iov_len = sizeof(req) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = recvmsg(s->clients[i], &msg, MSG_DONTWAIT);
	int cmd, rc, len;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)))) {
		drop_client(s, ep, i); /* gone */
		return;
	}
	s->last_used[i] = ++s->requests;
	cmd = ctl_parse(req, (size_t)n, msg.msg_flags & MSG_TRUNC, payload, payload_size);
	rc = cmd < 0 ? cmd : execute(vm, cmd, payload, payload_size);
	if (rc)
		len = snprintf(reply, reply_size, CTL_PREFIX " ERR %s %s", ctl_errno_name(rc),
			       payload);
	else
		len = snprintf(reply, reply_size, CTL_PREFIX " OK %s", payload);
	if (len >= (int)reply_size)
		len = (int)reply_size - 1;
	/* A client that does not read its replies is dropped, never waited for. */
	if (send(s->clients[i], reply, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) != len)
		drop_client(s, ep, i);
	if (rc && cmd < 0)
		log_debug(&vm->log, "control: refused a request: %s", payload);
}

void ctl_server_event(struct cvm_vm *vm, int ep, uint32_t tag, uint32_t events)
{
	struct ctl_server *s = vm->ctl;

	if (!s)
		return;
	if (tag >= CTL_TAG_CLIENT && tag < CTL_TAG_CLIENT + CTL_MAX_CLIENTS) {
		if (s->clients[tag - CTL_TAG_CLIENT] >= 0)
			serve(vm, ep, (int)(tag - CTL_TAG_CLIENT), events);
		return;
	}
	if (tag != CTL_TAG_LISTEN)
		return;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i;

		if (fd < 0)
			return;
		for (i = 0; i < CTL_MAX_CLIENTS && s->clients[i] >= 0; i++)
			;
		if (i == CTL_MAX_CLIENTS) {
			/*
			 * Full: the client idle the longest makes room, so that
			 * connections that say nothing can never lock out a stop.
			 */
			i = 0;
			for (int j = 1; j < CTL_MAX_CLIENTS; j++) {
				if (s->last_used[j] < s->last_used[i])
					i = j;
			}
			drop_client(s, ep, i);
		}
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
					  .data.u32 = CTL_TAG_CLIENT + (uint32_t)i };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			continue;
		}
		s->clients[i] = fd;
		s->last_used[i] = ++s->requests;
	}
}
