// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-rng (virtio 1.x section 5.4), built on the public device API
 * (<libcvm/device.h>) as any user's device would be: one requestq whose
 * device-writable buffers are filled from getrandom(2), straight into guest
 * memory. On by default, added at run start after the user's devices. In
 * its sandboxed process it runs under rng_device.policy.
 */
#include "core/plugin.h"

#include <errno.h>
#include <sys/random.h>

#define VIRTIO_ID_RNG 4
#define RNG_MAX_PER_CHAIN (64 * 1024) /* bytes given per request at most */
#define RNG_IOV 64

int cvm_vm_set_rng(cvm_vm *vm, int enabled)
{
	if (!vm)
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	vm->rng_disabled = !enabled;
	return 0;
}

/* Fill @iov from getrandom(2); returns the bytes written (short on failure). */
static uint32_t fill(const struct iovec *iov, int n)
{
	uint32_t done = 0;

	for (int i = 0; i < n; i++) {
		size_t off = 0;

		while (off < iov[i].iov_len) {
			ssize_t r =
				getrandom((char *)iov[i].iov_base + off, iov[i].iov_len - off, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return done;
			off += (size_t)r;
			done += (uint32_t)r;
		}
	}
	return done;
}

/*
 * Every request: its writable part, up to RNG_MAX_PER_CHAIN bytes, filled
 * with random bytes. Driver-readable buffers (the spec forbids them) are
 * left alone: only the writable part is touched (5.4.6.1).
 */
static int rng_queue_notify(cvm_device *dev, void *opaque, unsigned int queue)
{
	cvm_virtq_chain *c;
	int rc, served = 0;

	(void)opaque;
	while ((rc = cvm_virtq_pop(dev, queue, &c)) == 1) {
		uint64_t want = cvm_virtq_chain_len(c, 1);
		struct iovec iov[RNG_IOV];
		int n;

		if (want > RNG_MAX_PER_CHAIN)
			want = RNG_MAX_PER_CHAIN;
		n = cvm_virtq_chain_iov(c, 1, 0, want, iov, RNG_IOV);
		if (cvm_virtq_push(dev, c, n > 0 ? fill(iov, n) : 0))
			return -EPROTO;
		served++;
	}
	/* No used buffer, no interrupt (a kick can find the ring empty). */
	if (served)
		cvm_virtq_notify(dev, queue);
	return rc;
}

static int setup_rng(struct cvm_vm *vm)
{
	cvm_virtio_device_ops ops = CVM_VIRTIO_DEVICE_OPS_INIT;
	cvm_virtio_device_config c = CVM_VIRTIO_DEVICE_CONFIG_INIT;
	struct cvm_device *d;
	int rc;

	if (vm->rng_disabled || vm->rng)
		return 0;
	if (vm->nr_vdevs == CVM_MAX_VIRTIO_DEVS)
		return vm_error(vm, -ENOSPC,
				"virtio-rng: no PCI slot left (cvm_vm_set_rng(vm, 0), --no-rng: "
				"turn it off)");
	ops.queue_notify = rng_queue_notify;
	c.name = "virtio-rng";
	c.device_id = VIRTIO_ID_RNG;
	c.num_queues = 1;
	c.queue_size = 256;
	c.max_chains = 1;
	c.ops = &ops;
	c.policy = ""; /* a built-in device: rng_device.policy instead */
	rc = plugin_add_builtin_virtio(vm, &c, "rng", &d);
	if (rc)
		return rc;
	vm->rng = d;
	log_debug(&vm->log, "virtio-rng: PCI slot %u", d->vp.pci.slot);
	return 0;
}

int vm_setup_default_devices(struct cvm_vm *vm)
{
	return setup_rng(vm);
}
