// SPDX-License-Identifier: BSD-3-Clause
/* The test-only virtio device of trip_dev.h, through the library's internal device API. */
#include "trip_dev.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/vm.h"
#include "virtio/virtio_pci.h"

#define PCI_CLASS_OTHERS 0xff0000u

struct trip_dev {
	struct virtio_pci vp;
	struct vq_chain chain; /* the worker's scratch chain */
};

/* Runs @cmd in the device's process (or thread); the result for the guest. */
static uint32_t trip_exec(struct virtio_pci *vp, uint32_t cmd)
{
	long fd;

	switch (cmd) {
	case TRIP_CMD_SOCKET:
		log_info(vp->log, "%s: command %u: socket(AF_INET, SOCK_STREAM)", vp->cfg.name,
			 cmd);
		/* The raw system call: nothing in libc may stand between it and the filter. */
		fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return (uint32_t)errno;
		close((int)fd);
		return 0;
	case TRIP_CMD_NOP:
		return 0;
	default:
		return EINVAL;
	}
}

static int trip_queue_notify(void *opaque, struct virtio_pci *vp, unsigned int qi)
{
	struct trip_dev *t = opaque;
	struct virtq *q = virtio_pci_queue(vp, qi);
	struct cvm_errbuf err = { "" };
	unsigned int done = 0;
	int rc;

	if (!q)
		return 0;
	while ((rc = vq_pop(q, &t->chain, &err)) == 1) {
		uint32_t cmd = 0, result = EINVAL;

		if (vq_copy_from(&t->chain, 0, &cmd, sizeof(cmd)) == sizeof(cmd))
			result = trip_exec(vp, cmd);
		if (vq_push(q, t->chain.head,
			    (uint32_t)vq_copy_to(&t->chain, 0, &result, sizeof(result))))
			return -EPROTO;
		done++;
	}
	if (rc < 0) {
		log_warn(vp->log, "%s: queue %u: %s", vp->cfg.name, qi, err.msg);
		return rc;
	}
	if (done)
		virtio_pci_queue_done(vp, qi);
	return 0;
}

static const struct virtio_dev_ops trip_ops = {
	.queue_notify = trip_queue_notify,
};

static void trip_destroy(void *dev)
{
	struct trip_dev *t = dev;

	virtio_pci_destroy(&t->vp);
	free(t);
}

int trip_dev_add(cvm_vm *vm)
{
	struct cvm_errbuf err = { "" };
	struct virtio_env env;
	struct trip_dev *t;
	int rc;

	if (!vm || vm->state != VM_CREATED)
		return -EINVAL;
	if (vm->nr_vdevs == CVM_MAX_VIRTIO_DEVS)
		return vm_error(vm, -ENOSPC, "%s: no PCI slot left", TRIP_NAME);
	t = calloc(1, sizeof(*t));
	if (!t)
		return vm_error(vm, -ENOMEM, "%s: out of memory", TRIP_NAME);

	struct virtio_pci_config c = {
		.name = TRIP_NAME,
		.device_id = TRIP_DEVICE_ID,
		.pci_class = PCI_CLASS_OTHERS << 8,
		.nr_queues = 1,
		.queue_max_size = VIRTIO_PCI_QUEUE_MAX_SIZE,
		.ops = &trip_ops,
		.opaque = t,
		/* Borrowed: anything virtio-rng does not need is forbidden. */
		.policy = "rng",
	};

	vm_virtio_env(vm, &env);
	rc = virtio_pci_init(&t->vp, &c, &env, &err);
	if (rc) {
		trip_destroy(t);
		return vm_error(vm, rc, "%s", err.msg);
	}
	return vm_add_virtio_dev(vm, &t->vp, t, trip_destroy);
}
