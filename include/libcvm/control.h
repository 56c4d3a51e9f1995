/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libcvm control socket: a running VM listens on an AF_UNIX socket (see
 * cvm_vm_set_control_socket()); these functions are its client, so host
 * programs never speak the protocol (docs/control.md) by hand.
 *
 * Every function connects, sends one request, waits for its reply (at most
 * 10 seconds) and disconnects. Each returns 0, or a negative errno: the
 * VM's refusal (-EALREADY: already suspended or running; -EINVAL, -EPROTO,
 * -E2BIG: a bad request), or a transport error (-ENOENT: no such socket,
 * -ECONNREFUSED: nobody listens, -ETIMEDOUT: no reply).
 */
#ifndef LIBCVM_CONTROL_H
#define LIBCVM_CONTROL_H

#include <stddef.h>

#include <libcvm/cvm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The protocol version these functions speak ("CVM1"). */
#define CVM_CONTROL_PROTOCOL 1

/**
 * cvm_control_request() - send one raw request and return the reply's payload.
 * @reply: receives the text after "CVM1 OK " (or, on an error reply, the
 *         error name and message); may be NULL when @reply_len is 0.
 * @reply_len: size of @reply; a longer payload is cut, NUL-terminated.
 * @socket_path: the VM's control socket.
 * @request: a command without the protocol prefix, e.g. "status".
 *
 * Returns: 0 for an OK reply, the error reply's -errno, or a transport -errno.
 */
CVM_EXPORT int cvm_control_request(char *reply, size_t reply_len, const char *socket_path,
				   const char *request);

/**
 * cvm_control_stop() - stop the VM in order (its cvm_vm_run() returns
 * CVM_EXIT_STOPPED).
 * @socket_path: the VM's control socket.
 *
 * Returns: 0 once the VM has accepted the request.
 */
CVM_EXPORT int cvm_control_stop(const char *socket_path);

/**
 * cvm_control_suspend() - pause every vCPU (devices and the socket stay up).
 * @socket_path: the VM's control socket.
 *
 * Returns: 0 when the vCPUs are paused, -EALREADY when they already were.
 */
CVM_EXPORT int cvm_control_suspend(const char *socket_path);

/**
 * cvm_control_resume() - let suspended vCPUs run again.
 * @socket_path: the VM's control socket.
 *
 * Returns: 0, -EALREADY when the VM was running.
 */
CVM_EXPORT int cvm_control_resume(const char *socket_path);

/**
 * cvm_control_status() - the VM's state as a JSON object.
 * @json: receives the object (keys: protocol, state, vcpus, memory_mib,
 *        uptime_ms, pid, devices); NUL-terminated.
 * @len: size of @json (4096 is plenty).
 * @socket_path: the VM's control socket.
 *
 * Returns: 0, -ENOSPC when @json is too small (it then holds a cut copy).
 */
CVM_EXPORT int cvm_control_status(char *json, size_t len, const char *socket_path);

#ifdef __cplusplus
}
#endif

#endif /* LIBCVM_CONTROL_H */
