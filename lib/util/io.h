/* SPDX-License-Identifier: BSD-3-Clause */
/* Safe I/O helpers. */
#ifndef CVM_UTIL_IO_H
#define CVM_UTIL_IO_H

#include <sys/types.h>
#include <sys/uio.h>

/*
 * io_writev_nosigpipe() - writev() to a pipe or socket whose reader may be
 * gone, never letting SIGPIPE kill the process (a library must not rely on
 * its host program ignoring it): the signal is blocked on this thread
 * around the write, and the one an EPIPE raised is consumed before the old
 * mask comes back (one buffer goes through write()). Returns what the
 * write returned, errno as it left it.
 */
ssize_t io_writev_nosigpipe(int fd, const struct iovec *iov, int n);

#endif
