// SPDX-License-Identifier: BSD-3-Clause
/*
 * Custom virtio devices (device.h) on the library's virtio-pci transport:
 * the user's callbacks behind a virtio_dev_ops table, chains from a pool
 * mapped before any fork, and the cvm_virtq_*() helpers, which check every
 * offset and length a device gives them.
 */
#include "core/plugin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PCI_CLASS_OTHERS 0xff0000u
#define PLUG_DEVICE_FEATURES (0xffffffULL | (0x3fffULL << 50)) /* bits 0-23, 50-63 */
#define PLUG_NOTIFY_ROUNDS 64

struct cvm_virtq_chain {
	struct plugin_chain pc;
};

static struct plugin_chain *slot(struct cvm_device *d, unsigned int q, unsigned int i)
{
	return &d->chains[q * d->max_chains + i];
}

static void plug_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	struct cvm_device *d = opaque;

	memcpy(data, d->config + off, len); /* the transport checked off + len <= config_len */
}

static void plug_config_write(void *opaque, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct cvm_device *d = opaque;

	memcpy(d->config + off, data, len);
	if (d->vops.config_write)
		d->vops.config_write(d, d->opaque, off, len);
}

static void plug_activate(void *opaque, uint64_t features)
{
	struct cvm_device *d = opaque;

	if (d->vops.activate)
		d->vops.activate(d, d->opaque, features);
}

/*
 * Call the device until its queue is empty or it stops taking chains, with
 * guest notifications re-enabled each time (EVENT_IDX needs it) and a
 * final check for chains added meanwhile.
 */
static int plug_queue_notify(void *opaque, struct virtio_pci *vp, unsigned int q)
{
	struct cvm_device *d = opaque;
	struct virtq *vq = virtio_pci_queue(vp, q);

	for (int round = 0; vq && round < PLUG_NOTIFY_ROUNDS; round++) {
		unsigned int before = d->popped;
		int rc = d->vops.queue_notify(d, d->opaque, q);

		if (rc < 0) {
			/* Mostly the guest's doing (-EPROTO from a malformed queue). */
			if (log_ratelimit_ok(&vp->guest_rl, vp->log, vp->cfg.name))
				cvm_device_log(d, CVM_LOG_WARN,
					       "queue %u: the device returned %d (%s)", q, rc,
					       strerror(-rc));
			return rc;
		}
		vq_enable_notify(vq);
		if (!vq_has_work(vq) || d->popped == before)
			break;
	}
	return 0;
}

static void plug_reset(void *opaque)
{
	struct cvm_device *d = opaque;

	for (unsigned int i = 0; i < d->vp.cfg.nr_queues * d->max_chains; i++)
		d->chains[i].used = false;
	if (d->vops.reset)
		d->vops.reset(d, d->opaque);
}

static void plug_shutdown(void *opaque)
{
	struct cvm_device *d = opaque;

	if (d->vops.shutdown)
		d->vops.shutdown(d, d->opaque);
}

static unsigned int plug_keep_fds(void *opaque, int *fds, unsigned int max)
{
	struct cvm_device *d = opaque;
	unsigned int n = d->nr_keep_fds < max ? d->nr_keep_fds : max;

	memcpy(fds, d->keep_fds, n * sizeof(int));
	return n;
}

static void plug_vmm_event(void *opaque, uint8_t op, uint16_t idx, uint32_t arg, const char *data)
{
	(void)idx;
	plugin_vmm_event(opaque, op, arg, data);
}

static const struct virtio_dev_ops plug_vops = {
	.config_read = plug_config_read,
	.config_write = plug_config_write,
	.activate = plug_activate,
	.queue_notify = plug_queue_notify,
	.reset = plug_reset,
	.shutdown = plug_shutdown,
	.keep_fds = plug_keep_fds,
	.vmm_event = plug_vmm_event,
};

static void plug_destroy(void *dev)
{
	struct cvm_device *d = dev;

	virtio_pci_destroy(&d->vp);
	if (d->chains)
		munmap(d->chains, d->chains_size);
	plugin_free_strings(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static int check_config(struct cvm_vm *vm, const cvm_virtio_device_config *c)
{
	const char *n = c->name ? c->name : "(no name)";

	if (!c->ops ||
	    c->ops->struct_size <
		    offsetof(cvm_virtio_device_ops, queue_notify) + sizeof(c->ops->queue_notify) ||
	    c->ops->struct_size > sizeof(cvm_virtio_device_ops) || !c->ops->queue_notify)
		return vm_error(vm, -EINVAL, "%s: bad ops (struct_size, or no queue_notify)", n);
	if (!c->device_id || c->device_id > 63)
		return vm_error(vm, -EINVAL, "%s: virtio device id %u is not in 1..63", n,
				c->device_id);
	if (c->features & ~PLUG_DEVICE_FEATURES)
		return vm_error(vm, -EINVAL, "%s: features 0x%llx include transport bits (24-49)",
				n, (unsigned long long)(c->features & ~PLUG_DEVICE_FEATURES));
	if (c->config_len > VP_DEVICE_LEN || (c->config_len && !c->config))
		return vm_error(vm, -EINVAL, "%s: configuration of %u bytes (at most %d)", n,
				c->config_len, VP_DEVICE_LEN);
	if (!c->num_queues || c->num_queues > VIRTIO_PCI_MAX_QUEUES || !c->queue_size ||
	    c->queue_size > VIRTIO_PCI_QUEUE_MAX_SIZE || (c->queue_size & (c->queue_size - 1)))
		return vm_error(vm, -EINVAL,
				"%s: %u queues of %u (1..%d queues, a power of two up to %d)", n,
				c->num_queues, c->queue_size, VIRTIO_PCI_MAX_QUEUES,
				VIRTIO_PCI_QUEUE_MAX_SIZE);
	if (c->max_chains > PLUGIN_MAX_CHAINS)
		return vm_error(vm, -EINVAL, "%s: max_chains %u (at most %d)", n, c->max_chains,
				PLUGIN_MAX_CHAINS);
	return 0;
}

static int add_virtio(cvm_vm *vm, const cvm_virtio_device_config *ucfg, bool built_in);

int cvm_vm_add_virtio_device(cvm_vm *vm, const cvm_virtio_device_config *ucfg)
{
	return add_virtio(vm, ucfg, false);
}

int plugin_add_builtin_virtio(struct cvm_vm *vm, const cvm_virtio_device_config *c,
			      const char *policy, struct cvm_device **out)
{
	int rc = add_virtio(vm, c, true);

	*out = NULL;
	if (rc)
		return rc;
	*out = vm->vdevs[vm->nr_vdevs - 1].dev;
	(*out)->vp.cfg.policy_text = NULL;
	(*out)->vp.cfg.policy = policy;
	return 0;
}

static int add_virtio(cvm_vm *vm, const cvm_virtio_device_config *ucfg, bool built_in)
{
	cvm_virtio_device_config c = CVM_VIRTIO_DEVICE_CONFIG_INIT;
	struct virtio_env env;
	struct cvm_errbuf err = { "" };
	struct cvm_device *d;
	int rc;

	if (!vm)
		return -EINVAL;
	if (!ucfg)
		return vm_error(vm, -EINVAL, "no cvm_virtio_device_config");
	if (ucfg->struct_size < offsetof(cvm_virtio_device_config, flags) ||
	    ucfg->struct_size > sizeof(c))
		return vm_error(vm, -EINVAL, "bad cvm_virtio_device_config.struct_size %zu",
				ucfg->struct_size);
	memcpy(&c, ucfg, ucfg->struct_size);
	/* Built-in devices are added as the run starts (virtio-rng). */
	if (vm->state != VM_CREATED && !built_in)
		return vm_error(vm, -EBUSY, "the VM has already run");
	rc = check_config(vm, &c);
	if (rc)
		return rc;
	if (vm->nr_vdevs == CVM_MAX_VIRTIO_DEVS)
		return vm_error(vm, -ENOSPC, "%s: no PCI slot left", c.name ? c.name : "");
	d = calloc(1, sizeof(*d));
	if (!d)
		return vm_error(vm, -ENOMEM, "out of memory");
	pthread_mutex_init(&d->lock, NULL);
	d->is_virtio = true;
	rc = plugin_init(d, vm, c.name, c.flags, c.policy, c.policy_file, c.keep_fds,
			 c.nr_keep_fds);
	if (rc) {
		plugin_free_strings(d);
		free(d);
		return rc;
	}
	memcpy(&d->vops, c.ops, c.ops->struct_size);
	d->opaque = c.opaque;
	d->config_len = c.config_len;
	if (c.config_len)
		memcpy(d->config, c.config, c.config_len);
	d->max_chains = c.max_chains ? c.max_chains : 8;
	d->chains_size = (size_t)c.num_queues * d->max_chains * sizeof(*d->chains);
	/* Mapped now: the device's process cannot allocate after the fork. */
	d->chains = mmap(NULL, d->chains_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (d->chains == MAP_FAILED) {
		d->chains = NULL;
		plug_destroy(d);
		return vm_error(vm, -ENOMEM, "out of memory");
	}

	const struct virtio_pci_config vc = {
		.name = d->name,
		.device_id = c.device_id,
		.pci_class = PCI_CLASS_OTHERS << 8,
		.features = c.features,
		.config_len = c.config_len,
		.nr_queues = c.num_queues,
		.queue_max_size = (uint16_t)c.queue_size,
		.ops = &plug_vops,
		.opaque = d,
		.policy_text = d->policy_text,
		.policy_file = d->policy_file,
		.max_fds = PLUGIN_MAX_FDS,
		.in_vmm = !d->sandboxed,
	};

	vm_virtio_env(vm, &env);
	rc = virtio_pci_init(&d->vp, &vc, &env, &err);
	if (rc) {
		plug_destroy(d);
		return vm_error(vm, rc, "%s", err.msg);
	}
	return vm_add_virtio_dev(vm, &d->vp, d, plug_destroy);
}

/* --- the helpers ----------------------------------------------------------------------------- */

int cvm_virtq_pop(cvm_device *d, unsigned int q, cvm_virtq_chain **out)
{
	struct cvm_errbuf err = { "" };
	struct plugin_chain *pc = NULL;
	struct virtq *vq;
	int rc;

	if (!d || !out || !d->is_virtio)
		return -EINVAL;
	*out = NULL;
	vq = virtio_pci_queue(&d->vp, q);
	if (!vq)
		return -EINVAL;
	for (unsigned int i = 0; i < d->max_chains && !pc; i++)
		if (!slot(d, q, i)->used)
			pc = slot(d, q, i);
	if (!pc)
		return vq_has_work(vq) ? -ENOBUFS : 0;
	rc = vq_pop(vq, &pc->c, &err);
	if (rc < 0) {
		if (log_ratelimit_ok(&d->vp.guest_rl, d->vp.log, d->vp.cfg.name))
			cvm_device_log(d, CVM_LOG_WARN, "queue %u: %s", q, err.msg);
		return -EPROTO;
	}
	if (rc == 0)
		return 0;
	pc->used = true;
	pc->queue = q;
	d->popped++;
	*out = (cvm_virtq_chain *)pc;
	return 1;
}

uint64_t cvm_virtq_chain_len(const cvm_virtq_chain *c, int writable)
{
	if (!c)
		return 0;
	return writable ? c->pc.c.in_len : c->pc.c.out_len;
}

int cvm_virtq_chain_read(const cvm_virtq_chain *c, uint64_t off, void *buf, size_t len)
{
	if (!c || (!buf && len) || off > c->pc.c.out_len || len > c->pc.c.out_len - off)
		return -EINVAL;
	return vq_copy_from(&c->pc.c, off, buf, len) == len ? 0 : -EINVAL;
}

int cvm_virtq_chain_write(cvm_virtq_chain *c, uint64_t off, const void *buf, size_t len)
{
	if (!c || (!buf && len) || off > c->pc.c.in_len || len > c->pc.c.in_len - off)
		return -EINVAL;
	return vq_copy_to(&c->pc.c, off, buf, len) == len ? 0 : -EINVAL;
}

int cvm_virtq_chain_iov(const cvm_virtq_chain *c, int writable, uint64_t off, uint64_t len,
			struct iovec *iov, int max)
{
	uint64_t total = c ? (writable ? c->pc.c.in_len : c->pc.c.out_len) : 0;

	if (!c || max < 0 || (!iov && max) || off > total || len > total - off)
		return -EINVAL;
	return vq_iov(&c->pc.c, !writable, off, len, iov, max);
}

/* Is @c one of @d's chains, held now? */
static bool held(struct cvm_device *d, const cvm_virtq_chain *c)
{
	/* As integers: @c may be any pointer, not even aligned; dereference only a slot. */
	uintptr_t p = (uintptr_t)c, base = (uintptr_t)d->chains;
	size_t n = (size_t)d->vp.cfg.nr_queues * d->max_chains;

	if (!d->chains || p < base || p - base >= n * sizeof(*d->chains) ||
	    (p - base) % sizeof(*d->chains))
		return false;
	return d->chains[(p - base) / sizeof(*d->chains)].used;
}

int cvm_virtq_push(cvm_device *d, cvm_virtq_chain *c, uint32_t written)
{
	struct virtq *vq;

	if (!d || !c || !d->is_virtio || !held(d, c)) {
		if (d)
			cvm_device_log(d, CVM_LOG_WARN, "push of a chain the device does not hold");
		return -EINVAL;
	}
	if (written > c->pc.c.in_len) {
		cvm_device_log(d, CVM_LOG_WARN,
			       "push says %u bytes written, the chain has room for %llu", written,
			       (unsigned long long)c->pc.c.in_len);
		return -EINVAL;
	}
	vq = virtio_pci_queue(&d->vp, c->pc.queue);
	c->pc.used = false;
	if (!vq)
		return 0; /* reset meanwhile: the chain is gone */
	return vq_push(vq, c->pc.c.head, written) ? -EINVAL : 0;
}

void cvm_virtq_notify(cvm_device *d, unsigned int q)
{
	if (d && d->is_virtio && virtio_pci_queue(&d->vp, q))
		virtio_pci_queue_done(&d->vp, q);
}

int cvm_virtio_set_config(cvm_device *d, uint32_t off, const void *data, uint32_t len, int notify)
{
	if (!d || !d->is_virtio || (!data && len) || off > d->config_len ||
	    len > d->config_len - off)
		return -EINVAL;
	memcpy(d->config + off, data, len);
	if (notify)
		virtio_pci_config_changed(&d->vp);
	return 0;
}

int cvm_virtio_get_config(cvm_device *d, uint32_t off, void *data, uint32_t len)
{
	if (!d || !d->is_virtio || (!data && len) || off > d->config_len ||
	    len > d->config_len - off)
		return -EINVAL;
	memcpy(data, d->config + off, len);
	return 0;
}
