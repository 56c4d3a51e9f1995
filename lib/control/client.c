// SPDX-License-Identifier: BSD-3-Clause
/* The control socket's client: <libcvm/control.h>. */
#include <libcvm/control.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/protocol.h"

#define CTL_CLIENT_TIMEOUT_S 10

/* Send "CVM1 @request", read the reply; @buf gets it whole, NUL-terminated. */
static int exchange(char *buf, size_t size, const char *path, const char *request)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_CLIENT_TIMEOUT_S };
	char req[CTL_MAX_REQUEST + 1];
	int fd, rc = 0, n;
	ssize_t got;

	if (!path || !request)
		return -EINVAL;
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	n = snprintf(req, sizeof(req), CTL_PREFIX " %s", request);
	if (n < 0 || n >= (int)sizeof(req))
		return -E2BIG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		rc = -errno;
		goto out;
	}
	got = recv(fd, buf, size - 1, 0);
	if (got < 0)
		rc = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	else if (got == 0)
		rc = -ECONNRESET;
	else
		buf[got] = '\0';
out:
	close(fd);
	return rc;
}

int cvm_control_request(char *reply, size_t reply_len, const char *socket_path, const char *request)
{
	char buf[CTL_MAX_REPLY];
	int rc = exchange(buf, sizeof(buf), socket_path, request);

	if (rc)
		return rc;
	return ctl_parse_reply(buf, reply, reply_len);
}

int cvm_control_stop(const char *socket_path)
{
	return cvm_control_request(NULL, 0, socket_path, "stop");
}

int cvm_control_suspend(const char *socket_path)
{
	return cvm_control_request(NULL, 0, socket_path, "suspend");
}

int cvm_control_resume(const char *socket_path)
{
	return cvm_control_request(NULL, 0, socket_path, "resume");
}

int cvm_control_status(char *json, size_t len, const char *socket_path)
{
	if (!json || !len)
		return -EINVAL;
	return cvm_control_request(json, len, socket_path, "status");
}
