/* SPDX-License-Identifier: BSD-3-Clause */
/* AF_UNIX helpers shared by the devices that connect to host sockets. */
#ifndef CVM_UTIL_SOCK_H
#define CVM_UTIL_SOCK_H

/*
 * sock_connect_unix() - a non-blocking, close-on-exec stream connection to
 * the AF_UNIX socket at @path. Returns the descriptor or -errno
 * (-ENAMETOOLONG when @path does not fit in sun_path).
 */
int sock_connect_unix(const char *path);

#endif
