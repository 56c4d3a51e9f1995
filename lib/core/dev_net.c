// SPDX-License-Identifier: BSD-3-Clause
/* virtio-net in a VM: check the options, open the TAP, add the device. */
#include "core/vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/tap.h"
#include "virtio/net.h"

#define VIRTIO_ID_NET 1

static void net_destroy_cb(void *dev)
{
	net_dev_destroy(dev);
}

static bool vm_has_net(const struct cvm_vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vdevs; i++)
		if (vm->vdevs[i].vp->cfg.device_id == VIRTIO_ID_NET)
			return true;
	return false;
}

int cvm_vm_add_net(cvm_vm *vm, const cvm_net_config *ucfg)
{
	cvm_net_config c = CVM_NET_CONFIG_INIT;
	struct cvm_errbuf err = { "" };
	struct virtio_env env;
	struct net_dev *n;
	struct tap tap;
	uint8_t mac[6];
	bool have_mac;
	int rc;

	if (!vm || !ucfg)
		return -EINVAL;
	if (VM_TAKE_OPTS(vm, &c, ucfg, tap_fd, "cvm_net_config"))
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	rc = net_config_check(&c, mac, &have_mac, &err);
	if (rc)
		return vm_error(vm, rc, "%s", err.msg);
	if (vm_has_net(vm))
		return vm_error(vm, -EEXIST, "virtio-net: a VM has at most one network device");
	if (vm->nr_vdevs == CVM_MAX_VIRTIO_DEVS)
		return vm_error(vm, -ENOSPC, "virtio-net: no PCI slot left");

	if (c.tap_fd != -1)
		rc = tap_attach_fd(&tap, c.tap_fd, &err);
	else
		rc = tap_open(&tap, c.tap_name, &err);
	if (!rc && c.host_ip)
		rc = tap_set_ipv4(&tap, c.host_ip, c.netmask, &err);
	if (rc) {
		tap_close(&tap);
		return vm_error(vm, rc, "virtio-net: %s", err.msg);
	}
	if (!have_mac)
		net_mac_derive(c.host_ip ? c.host_ip : tap.name, mac);

	vm_virtio_env(vm, &env);
	rc = net_dev_create(&n, &tap, mac, &env, &err);
	if (rc)
		return vm_error(vm, rc, "%s", err.msg);
	rc = vm_add_virtio_dev(vm, &n->vp, n, net_destroy_cb);
	if (rc)
		return rc;
	log_debug(&vm->log, "%s: guest MAC %02x:%02x:%02x:%02x:%02x:%02x%s%s", n->name, mac[0],
		  mac[1], mac[2], mac[3], mac[4], mac[5], c.host_ip ? ", host " : "",
		  c.host_ip ? c.host_ip : "");
	return 0;
}
