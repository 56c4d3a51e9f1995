// SPDX-License-Identifier: BSD-3-Clause
/* Safe I/O helpers (io.h). */
#include "util/io.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

ssize_t io_writev_nosigpipe(int fd, const struct iovec *iov, int n)
{
	static const struct timespec no_wait;
	sigset_t set, old;
	ssize_t r;
	int e;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	/* One buffer: write(), which is what the serial device's seccomp policy allows. */
	r = n == 1 ? write(fd, iov->iov_base, iov->iov_len) : writev(fd, iov, n);
	e = errno;
	if (r < 0 && e == EPIPE && !sigismember(&old, SIGPIPE))
		while (sigtimedwait(&set, NULL, &no_wait) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return r;
}
