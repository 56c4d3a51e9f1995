/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "virtio-trip": a virtio device for the sandbox tests only. It runs like
 * any libcvm device (in its jailed process, or as a thread with the sandbox
 * off) under rng_device.policy, and answers each request on its one queue,
 * a u32 command (device-readable) and a u32 result (device-writable):
 *
 *   TRIP_CMD_SOCKET: socket(AF_INET, SOCK_STREAM, 0), which the policy does
 *	not allow: the filter traps and the VMM stops the VM. Without the
 *	sandbox the call succeeds (the socket is closed again); result 0.
 *   TRIP_CMD_NOP: nothing; result 0.
 *
 * Any other command gets EINVAL. The guest side is tests/guest/t_sandbox.c.
 */
#ifndef CVM_TESTS_TRIP_DEV_H
#define CVM_TESTS_TRIP_DEV_H

#include <libcvm/cvm.h>

#define TRIP_DEVICE_ID 63 /* PCI 1af4:107f; no virtio device type uses it */
#define TRIP_NAME "virtio-trip"

enum { TRIP_CMD_SOCKET = 1, TRIP_CMD_NOP = 2 };

/*
 * trip_dev_add() - add the device to @vm (not yet running). Returns 0 or
 * -errno with cvm_vm_last_error() set.
 */
int trip_dev_add(cvm_vm *vm);

#endif
