// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-vsock in a VM: the userspace device of virtio/vsock.c
 * (/dev/vhost-vsock is not used yet).
 *
 * The CID lock: a CID must be unique among the VMs of a host. Without
 * vhost-vsock (whose kernel module enforces it) nothing global knows the
 * CIDs, so each VM binds an abstract AF_UNIX socket named after its CID
 * ("cvm-vsock-cid-<cid>"): a second bind fails with EADDRINUSE, and the
 * kernel releases the name when the VM's process ends, however it ends.
 * (Abstract names are per network namespace, as vsock CIDs are not: VMs in
 * different namespaces are not compared.) The listening socket at uds_path
 * is refused as well when someone listens on it; a stale one is replaced.
 */
#include "core/vm.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio/vsock.h"

/* Bind the CID's abstract name; -EADDRINUSE when another VM holds it. */
static int lock_cid(uint64_t cid)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), n;

	if (fd < 0)
		return -errno;
	n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "cvm-vsock-cid-%llu",
		     (unsigned long long)cid);
	if (bind(fd, (struct sockaddr *)&a,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n))) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static void vsock_destroy_cb(void *dev)
{
	vsock_dev_destroy(dev);
}

int cvm_vm_set_vsock(cvm_vm *vm, const cvm_vsock_config *ucfg)
{
	cvm_vsock_config c = CVM_VSOCK_CONFIG_INIT;
	struct cvm_errbuf err = { "" };
	struct virtio_env env;
	struct vsock_dev *v;
	char defpath[64];
	int rc;

	if (!vm || !ucfg)
		return -EINVAL;
	if (VM_TAKE_OPTS(vm, &c, ucfg, cid, "cvm_vsock_config"))
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	if (vm->vsock)
		return vm_error(vm, -EEXIST, "the VM already has a virtio-vsock device");
	if (c.cid < 3 || c.cid >= UINT32_MAX)
		return vm_error(vm, -EINVAL,
				"vsock: cid %llu is reserved (0: hypervisor, 1: local, 2: host, "
				"4294967295: any); use 3 .. 4294967294",
				(unsigned long long)c.cid);
	if (!c.uds_path) {
		snprintf(defpath, sizeof(defpath), "/tmp/cvm-vsock-%llu.sock",
			 (unsigned long long)c.cid);
		c.uds_path = defpath;
	}
	if (vm->nr_vdevs == CVM_MAX_VIRTIO_DEVS)
		return vm_error(vm, -ENOSPC, "vsock: no PCI slot left");
	rc = lock_cid(c.cid);
	if (rc < 0)
		return vm_error(vm, rc, "vsock: cid %llu %s", (unsigned long long)c.cid,
				rc == -EADDRINUSE ? "is in use by another VM" : strerror(-rc));
	vm->vsock_cid_lock = rc;
	vm_virtio_env(vm, &env);
	rc = vsock_dev_create(&v, c.cid, c.uds_path, &env, &err);
	if (rc) {
		close(vm->vsock_cid_lock);
		vm->vsock_cid_lock = -1;
		return vm_error(vm, rc, "%s", err.msg);
	}
	rc = vm_add_virtio_dev(vm, &v->vp, v, vsock_destroy_cb);
	if (rc)
		return rc;
	vm->vsock = v;
	log_debug(&vm->log, "%s: host socket %s", v->name, v->uds_path);
	return 0;
}
