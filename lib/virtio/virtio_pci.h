/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio 1.x PCI transport ("modern" only, virtio 1.x section 4.1):
 * a PCI function 1af4:(1040 + device id) whose BAR 0 (64-bit) holds the
 * common configuration, ISR, device configuration and notification areas
 * and the MSI-X table, each described by a vendor capability.
 *
 * Queue notifications arrive on ioeventfds that KVM signals directly, and
 * are served by the device's worker loop: a thread of the VMM, or (the
 * sandbox, vp_sandbox.c) the only thread of the device's own jailed
 * process. A vCPU thread never runs queue processing. Interrupts go out
 * through MSI-X irqfds.
 *
 * A device implementation supplies struct virtio_dev_ops; its callbacks run
 * with the transport lock held, so none races with a reset: on the worker,
 * except config_read/config_write, which run on a vCPU thread without the
 * sandbox and on the worker (answering the VMM's proxy) with it. Device
 * code must work in both: it allocates at run time only with util/mmbuf.h,
 * opens nothing by path (virtio_pci_broker_connect()), and lists its
 * descriptors in keep_fds.
 */
#ifndef CVM_VIRTIO_VIRTIO_PCI_H
#define CVM_VIRTIO_VIRTIO_PCI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/irq.h"
#include "core/mem.h"
#include "devices/msix.h"
#include "devices/pci.h"
#include "util/log.h"
#include "virtio/virtqueue.h"

#define VIRTIO_PCI_MAX_QUEUES 16
#define VIRTIO_PCI_QUEUE_MAX_SIZE 256

/* Layout of BAR 0. */
#define VP_COMMON_OFF 0x0000
#define VP_COMMON_LEN 0x0040
#define VP_ISR_OFF 0x1000
#define VP_DEVICE_OFF 0x2000
#define VP_DEVICE_LEN 0x1000
#define VP_NOTIFY_OFF 0x3000
#define VP_NOTIFY_MULT 4
#define VP_MSIX_TABLE_OFF 0x4000
#define VP_MSIX_PBA_OFF 0x5000
#define VP_BAR_SIZE 0x8000

struct virtio_pci;

struct virtio_dev_ops {
	/* Device configuration space (offsets are checked against config_len). */
	void (*config_read)(void *opaque, uint32_t off, uint8_t *data, uint32_t len);
	void (*config_write)(void *opaque, uint32_t off, const uint8_t *data, uint32_t len);
	/* The driver set DRIVER_OK with these features; queues are ready. */
	void (*activate)(void *opaque, uint64_t features);
	/*
	 * Queue @q was kicked (or may have work). Process it; return 0, or a
	 * negative errno when the guest broke the queue (the device is then
	 * marked DEVICE_NEEDS_RESET).
	 */
	int (*queue_notify)(void *opaque, struct virtio_pci *vp, unsigned int q);
	/* The driver reset the device: forget negotiated state. */
	void (*reset)(void *opaque);
	/* The VM stops: flush what must be flushed. */
	void (*shutdown)(void *opaque);
	/*
	 * A descriptor the device added with virtio_pci_watch_fd() is ready
	 * (@events from epoll). Same context and return value as queue_notify.
	 */
	int (*fd_event)(void *opaque, struct virtio_pci *vp, uint32_t tag, uint32_t events);
	/*
	 * Sandbox: store the descriptors the device's process must keep (its
	 * backing file, TAP, sockets; not the transport's) in @fds, at most
	 * @max; return how many. NULL: none.
	 */
	unsigned int (*keep_fds)(void *opaque, int *fds, unsigned int max);
	/*
	 * Runs in the VMM, for virtio_pci_broker_connect(): open a connection
	 * the device asked for by @arg (vsock: a host port) and return its fd,
	 * or -errno. The VMM decides what @arg may reach; the device process
	 * has no file system to do it itself.
	 */
	int (*broker_connect)(void *opaque, uint32_t arg);
	/*
	 * Runs in the VMM: an event the device's process sent with
	 * devproc_child_event() (op >= VP_EVT_DEVICE).
	 */
	void (*vmm_event)(void *opaque, uint8_t op, uint16_t idx, uint32_t arg, const char *data);
};

/* Device events (devproc) a device may send from its process; below are the transport's. */
#define VP_EVT_DEVICE 24

struct virtio_pci_config {
	const char *name;	 /* for messages: "virtio-blk vda" */
	uint16_t device_id;	 /* virtio device type: 2 for block */
	uint32_t pci_class;	 /* class code << 8 */
	uint64_t features;	 /* device features, without the transport's */
	uint32_t config_len;	 /* bytes of device configuration */
	unsigned int nr_queues;	 /* 1..VIRTIO_PCI_MAX_QUEUES */
	uint16_t queue_max_size; /* power of two <= VIRTIO_PCI_QUEUE_MAX_SIZE */
	const struct virtio_dev_ops *ops;
	void *opaque;
	/* Its seccomp policy: <policy dir>/<policy>_device.policy ("block"). */
	const char *policy;
	/* Or a custom device's own rules (text or file; see policy_prog_custom()). */
	const char *policy_text, *policy_file;
	/* Sandbox: descriptors the device opens as it runs (connections...). */
	unsigned int max_fds;
	/* Run as a thread of the VMM even when the VM is sandboxed. */
	bool in_vmm;
	/*
	 * A shared memory region (virtio 1.x 2.10, shmid 0) of this many bytes
	 * (a power of two >= 1 MiB; 0: none) in BAR 2, filled with
	 * virtio_pci_shm_map(); its mappings use KVM memory slots
	 * shm_slot_base .. + VP_SHM_MAX_MAPS - 1.
	 */
	uint64_t shm_size;
	uint32_t shm_slot_base;
};

/* What a virtio device needs from its VM. */
struct virtio_env {
	const struct guest_mem *mem;
	const struct cvm_logger *log;
	int vm_fd;
	struct irq_router *router;
	/*
	 * Legacy INTx (pin A, wired to pci_intx_gsi(slot)), used while MSI-X
	 * is off: drive @gsi to @level. NULL: no INTx.
	 */
	void (*set_intx)(void *ctx, unsigned int gsi, int level);
	void *intx_ctx;
};

struct vp_queue {
	uint16_t size, msix_vector, enable;
	uint64_t desc, driver, device;
	struct virtq vq;    /* set up at DRIVER_OK */
	int kick_efd;	    /* ioeventfd */
	uint64_t kick_addr; /* where it is registered, 0 if not */
};

/* State the VMM and a device process share (MAP_SHARED). */
struct vp_shared {
	_Atomic bool isr_set;  /* the ISR is non-zero (written by the device) */
	_Atomic bool intx_off; /* INTX_DISABLE in the command register (written by the VMM) */
};

/* How to run a device in its own process (see vp_sandbox.c). */
struct vp_sandbox {
	const char *policy_dir; /* where <policy>_device.policy is */
	bool new_userns;	/* false: only for hosts without user namespaces */
	/* Set while the VM stops: a vCPU waiting for the device gives up. */
	const _Atomic bool *stopping;
	/* The process died unreported at the stop (devproc_config.failed). */
	void (*failed)(void *ctx, int rc, const char *msg);
	void *failed_ctx;
};

struct devproc;

#define VP_SHM_BAR 2
#define VP_SHM_MAX_MAPS 128

/* The VMM's record of one mapping in the shared memory region (vp_shm.c). */
struct vp_shm_map {
	uint64_t off, size; /* in the region; size 0: unused */
	void *host;	    /* the VMM's mapping of the descriptor */
	bool ro;	    /* read-only (a sealed memfd) */
	bool in_kvm;	    /* its memory slot is registered */
};

struct virtio_pci {
	struct virtio_pci_config cfg;
	struct virtio_env env;
	const struct guest_mem *mem;
	const struct cvm_logger *log;
	int vm_fd;
	struct pci_dev pci;
	struct msix msix;
	pthread_mutex_t lock;
	uint64_t dev_features, drv_features;
	uint32_t dev_feat_sel, drv_feat_sel;
	uint16_t msix_config, queue_sel;
	uint8_t status, isr, config_gen;
	bool live; /* DRIVER_OK and not broken */
	/* Warnings the guest causes (broken queues): rate-limited, see vp_warn_guest(). */
	struct log_ratelimit guest_rl;
	struct vp_queue q[VIRTIO_PCI_MAX_QUEUES];
	int ep_fd, stop_efd;
	pthread_t worker;
	bool worker_started;
	bool inited; /* virtio_pci_init() ran: the fds below are valid or -1 */
	struct vp_shared *sh;
	pthread_mutex_t intx_lock; /* VMM side: computing and driving the INTx line */
	struct devproc *proc;	   /* sandboxed: its process, else NULL */
	bool in_child;		   /* this copy runs in the device's process */
	/* VMM: the shared memory region's mappings and where BAR 2 is (0: off). */
	pthread_mutex_t shm_lock;
	struct vp_shm_map *shm_maps;
	uint64_t shm_gpa;
};

/*
 * virtio_pci_init() - build the PCI function and its queues' eventfds.
 * Add it to the bus with virtio_pci_plug() once the VM's buses exist.
 */
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_pci_config *c,
		    const struct virtio_env *env, struct cvm_errbuf *err);
int virtio_pci_plug(struct virtio_pci *vp, struct pci_bus *bus, struct cvm_errbuf *err);
/*
 * Start the device before the vCPUs run: a worker thread (@sb NULL) or a
 * jailed, seccomp-filtered process (@sb), forked from the calling thread,
 * which must stay alive while the device runs. Stop it after the vCPUs
 * stopped: the device flushes (ops->shutdown) and its thread or process ends.
 */
int virtio_pci_start(struct virtio_pci *vp, const struct vp_sandbox *sb, struct cvm_errbuf *err);
void virtio_pci_stop(struct virtio_pci *vp);
void virtio_pci_destroy(struct virtio_pci *vp);

/* For device code on the worker thread: queue @q's ring, NULL if not live. */
struct virtq *virtio_pci_queue(struct virtio_pci *vp, unsigned int q);
/* After pushing used buffers: interrupt the guest if the ring asks for it. */
void virtio_pci_queue_done(struct virtio_pci *vp, unsigned int q);

/* A warning the guest can cause at will (a malformed queue): rate-limited. */
#define vp_warn_guest(vp, ...) log_warn_rl(&(vp)->guest_rl, (vp)->log, (vp)->cfg.name, __VA_ARGS__)

/*
 * virtio_pci_watch_fd() - serve @fd (a TAP, a socket...) on the device's
 * worker thread: when epoll reports @events (0: stop watching for now but
 * keep it registered), ops->fd_event(@tag) runs. @tag < VP_MAX_DEV_TAG.
 * Callable from any device callback (the worker) and before start.
 */
#define VP_MAX_DEV_TAG 0x10000
int virtio_pci_watch_fd(struct virtio_pci *vp, int fd, uint32_t events, uint32_t tag);
/* Stop watching @fd altogether. */
void virtio_pci_unwatch_fd(struct virtio_pci *vp, int fd);

/*
 * virtio_pci_config_changed() - the device configuration changed (a link
 * went down...): bump config_generation and send the configuration
 * interrupt. For device callbacks, which run with the transport lock held.
 */
void virtio_pci_config_changed(struct virtio_pci *vp);

/*
 * virtio_pci_broker_connect() - have the VMM run ops->broker_connect(@arg)
 * and return the descriptor (directly without the sandbox, over the
 * device's socket with it). From device callbacks. Returns an fd or -errno.
 */
int virtio_pci_broker_connect(struct virtio_pci *vp, uint32_t arg);

/*
 * virtio_pci_shm_map() - map the first @size bytes of @fd (a memfd or
 * other regular file, that long once rounded up to pages) into the guest at offset @off of
 * the shared memory region, as mapping @idx (< VP_SHM_MAX_MAPS, unused):
 * @off and @size page-aligned, inside the region, overlapping no other
 * mapping. A descriptor that cannot be mapped writable (a write-sealed
 * memfd) is mapped read-only. The VMM does it (over the device's socket in
 * the sandbox; the descriptor is passed, the caller keeps its own). On
 * success *@gpa is the guest-physical address now (0 while the guest has
 * BAR 2 turned off). From device callbacks. Returns 0 or -errno.
 */
int virtio_pci_shm_map(struct virtio_pci *vp, unsigned int idx, uint64_t off, uint64_t size, int fd,
		       uint64_t *gpa);
/* Remove mapping @idx (the guest then reads what an unmapped BAR reads). */
int virtio_pci_shm_unmap(struct virtio_pci *vp, unsigned int idx);

/* --- between virtio_pci.c and vp_sandbox.c ---------------------------------------------- */

#define VP_CTL_TAG 0xfffffffeu /* epoll tag of the proxy socket in the device process */

/* vp_regs.c: the registers and the status machine (the transport lock held where noted). */
#define PCI_COMMAND_INTX_DISABLE 0x400
void vp_regs_read(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t len);
void vp_regs_write(struct virtio_pci *vp, uint64_t off, const uint8_t *data, uint32_t len);
/* The worker loop; returns when stopped (or the proxy socket closed). */
void vp_serve(struct virtio_pci *vp);
void vp_intx_sync(struct virtio_pci *vp);
void vp_update_intx(struct virtio_pci *vp);
/* Interrupt for queue @q, or the configuration (@q < 0); the lock is held. */
void vp_interrupt(struct virtio_pci *vp, int q);
/* The guest broke the device: DEVICE_NEEDS_RESET until it resets; the lock is held. */
void vp_mark_broken(struct virtio_pci *vp, const char *why);
void vp_reset(struct virtio_pci *vp);
/* VMM: a register access for a sandboxed device (reads all-ones when it is gone). */
void vp_proxy_access(struct virtio_pci *vp, bool write, uint64_t off, uint8_t *data, uint32_t len);
/* Device process: serve one proxy request (<0: the VMM is gone); tell the VMM the ISR changed. */
int vp_child_ctl(struct virtio_pci *vp);
void vp_child_intx(struct virtio_pci *vp);
int vp_proc_start(struct virtio_pci *vp, const struct vp_sandbox *sb, struct cvm_errbuf *err);
/* vp_shm.c: calls from the device process (op, arg, val as devproc_child_call()). */
enum { VP_CALL_SHM_MAP = 1, VP_CALL_SHM_UNMAP };
int vp_shm_init(struct virtio_pci *vp, struct cvm_errbuf *err);
void vp_shm_destroy(struct virtio_pci *vp);
void vp_shm_bar_moved(struct virtio_pci *vp, uint64_t new_gpa);
int vp_shm_call(struct virtio_pci *vp, uint16_t op, uint32_t arg, uint64_t val, int fd,
		uint64_t *out);
void vp_proc_stop(struct virtio_pci *vp);

#endif
