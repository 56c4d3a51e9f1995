// SPDX-License-Identifier: BSD-3-Clause
/* virtio-wl in a VM: the compositor socket is checked here (virtio/wl.c is the device). */
#include "core/vm.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <linux/kvm.h>

#include "kvm/kvm.h"
#include "virtio/wl.h"

/* KVM memory slots of the shared memory region: after guest RAM's. */
#define WL_SLOT_BASE 16

/* "$XDG_RUNTIME_DIR/wayland-0" into @buf: 0, -ENOENT (the variable is unset), -ENAMETOOLONG. */
static int default_path(char *buf, size_t len)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!dir || !*dir)
		return -ENOENT;
	n = snprintf(buf, len, "%s/wayland-0", dir);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cvm_wayland_default_socket(char *buf, size_t len)
{
	struct stat st;
	int rc;

	if (!buf)
		return -EINVAL;
	rc = default_path(buf, len);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	return stat(buf, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void wl_destroy_cb(void *dev)
{
	wl_dev_destroy(dev);
}

int cvm_vm_set_wayland(cvm_vm *vm, const cvm_wl_config *ucfg)
{
	cvm_wl_config c = CVM_WL_CONFIG_INIT;
	struct cvm_errbuf err = { "" };
	struct virtio_env env;
	struct wl_dev *w;
	char def[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	int rc;

	if (!vm || !ucfg)
		return -EINVAL;
	if (VM_TAKE_OPTS(vm, &c, ucfg, socket_path, "cvm_wl_config"))
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	if (vm->wl)
		return vm_error(vm, -EEXIST, "the VM already has a virtio-wl device");
	if (!c.socket_path) {
		rc = default_path(def, sizeof(def));
		if (rc == -ENOENT)
			return vm_error(vm, rc,
					"virtio-wl: XDG_RUNTIME_DIR is not set: no default "
					"compositor socket (give its path)");
		if (rc)
			return vm_error(vm, rc, "virtio-wl: %s/wayland-0: path too long",
					getenv("XDG_RUNTIME_DIR"));
		c.socket_path = def;
	}
	if (strlen(c.socket_path) >= sizeof(def))
		return vm_error(
			vm, -ENAMETOOLONG,
			"virtio-wl: compositor socket %s: path too long (%zu bytes at most)",
			c.socket_path, sizeof(def) - 1);
	if (stat(c.socket_path, &st))
		return vm_error(vm, -errno, "virtio-wl: compositor socket %s: %s", c.socket_path,
				strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return vm_error(vm, -ENOTSOCK, "virtio-wl: %s is not a socket", c.socket_path);
	if (vm->nr_vdevs == CVM_MAX_VIRTIO_DEVS)
		return vm_error(vm, -ENOSPC, "virtio-wl: no PCI slot left");
	rc = kvm_cap(vm->kvm_fd, KVM_CAP_NR_MEMSLOTS);
	if (rc > 0 && rc < WL_SLOT_BASE + WL_MAX_VFDS)
		return vm_error(vm, -ENOSYS,
				"virtio-wl: KVM offers %d memory slots, the device needs %d", rc,
				WL_SLOT_BASE + WL_MAX_VFDS);
	vm_virtio_env(vm, &env);
	rc = wl_dev_create(&w, c.socket_path, WL_SLOT_BASE, &env, &err);
	if (rc)
		return vm_error(vm, rc, "%s", err.msg);
	rc = vm_add_virtio_dev(vm, &w->vp, w, wl_destroy_cb);
	if (rc)
		return rc;
	vm->wl = w;
	log_debug(&vm->log, "virtio-wl: compositor %s", c.socket_path);
	return 0;
}
