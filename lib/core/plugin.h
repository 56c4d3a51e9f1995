/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Custom devices (include/libcvm/device.h): the cvm_device object behind the
 * public handle, shared by port-I/O/MMIO devices (plugin_io.c) and virtio
 * devices (plugin_virtio.c). A device runs in the VMM or, sandboxed, in a
 * device process (jail/devproc.h); the cvm_device_*() functions send what
 * the VMM must do (an IRQ level, an MSI, the end of the run) as events then.
 */
#ifndef CVM_CORE_PLUGIN_H
#define CVM_CORE_PLUGIN_H

#include <libcvm/device.h>

#include "core/vm.h"
#include "jail/devproc.h"
#include "virtio/virtio_pci.h"

#define PLUGIN_MAX_FDS 16
#define PLUGIN_MAX_CHAINS 64

/* Events a custom device's process sends (devproc; above the transports' own). */
enum { PLUG_EVT_IRQ = 40, PLUG_EVT_MSI, PLUG_EVT_EXIT };

struct plugin_chain {
	struct vq_chain c;
	bool used;
	unsigned int queue;
};

struct cvm_device {
	struct cvm_vm *vm;
	char name[64];
	bool is_virtio;
	pthread_mutex_t lock; /* I/O devices in the VMM: one callback at a time */
	unsigned int flags;
	void *opaque;
	bool sandboxed;	    /* runs in a device process */
	bool in_child;	    /* this copy is the device process's */
	struct devproc *dp; /* the process (I/O: its own; virtio: vp.proc) */
	char *policy_text, *policy_file;
	int keep_fds[PLUGIN_MAX_FDS];
	unsigned int nr_keep_fds;
	struct cvm_logger log; /* the VMM's, prefixed; replaced in the process */

	/* I/O devices */
	cvm_io_device_ops io;
	enum cvm_io_space space;
	uint64_t base, size;
	unsigned int irq, irq_source;
	int stop_efd;
	/* In its process: a callback runs for a request; it asked to end the run (with code). */
	bool in_request, exit_pending;
	int exit_code;

	/* virtio devices */
	cvm_virtio_device_ops vops;
	struct virtio_pci vp;
	uint8_t config[VP_DEVICE_LEN];
	uint32_t config_len;
	unsigned int max_chains;
	unsigned int popped;	     /* chains taken so far (plug_queue_notify's progress check) */
	struct plugin_chain *chains; /* max_chains per queue (mmap'ed: no malloc after fork) */
	size_t chains_size;
};

/* plugin.c: common to both kinds. */
int plugin_init(struct cvm_device *d, struct cvm_vm *vm, const char *name, unsigned int flags,
		const char *policy, const char *policy_file, const int *keep_fds,
		unsigned int nr_keep_fds);
void plugin_free_strings(struct cvm_device *d);
/* In the VMM: what a device process asked for (PLUG_EVT_*). */
void plugin_vmm_event(struct cvm_device *d, uint8_t op, uint32_t arg, const void *data);
/* In the VMM: end the run with @code (cvm_device_exit_vm()). */
void plugin_exit_vm(struct cvm_device *d, int code);
/* The device's process: its devproc (the I/O device's own or its transport's). */
struct devproc *plugin_devproc(struct cvm_device *d);

/*
 * plugin_virtio.c: a built-in device on the public API, added as the run
 * starts, under <policy>_device.policy.
 */
int plugin_add_builtin_virtio(struct cvm_vm *vm, const cvm_virtio_device_config *c,
			      const char *policy, struct cvm_device **out);

/* plugin_io.c: the VMM's list of I/O devices, around the run. */
int plugin_io_start(struct cvm_vm *vm, struct cvm_errbuf *err);
void plugin_io_stop(struct cvm_vm *vm);
void plugin_io_destroy(struct cvm_vm *vm);

#endif
