/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file device.h
 * Custom devices: your own port-I/O or MMIO device, or your own virtio
 * device served over virtio-pci by libcvm, written in your program against
 * this header (docs/device-api.md walks through a complete example;
 * examples/custom_pio.c and examples/custom_virtio.c are two more).
 *
 * A device's callbacks run where its state lives. With the VM's sandbox on
 * (the default) that is a jailed, seccomp-filtered process of its own,
 * forked by cvm_vm_run() before the guest starts: your code runs there as
 * a copy of your program, sees guest RAM but no file system, and reaches the
 * VMM only through the cvm_device_*() and cvm_virtq_*() functions below,
 * which work the same in both modes. Give such a device its seccomp policy
 * (the system calls *your* callbacks make, in minijail syntax; libcvm adds
 * what its own device loop needs) and the descriptors it uses. Flag
 * CVM_DEVICE_IN_VMM runs a device in the VMM process even then.
 *
 * State your program needs back after the run (counters, results) must
 * live where both copies see it: memory mapped MAP_SHARED before
 * cvm_vm_run() (examples/custom_virtio.c), or a descriptor in keep_fds. A
 * variable the callbacks change is changed in the device's copy only.
 * stdio in a callback is not flushed there either: use cvm_device_log().
 *
 * Every guest-controlled value reaches your callbacks checked against the
 * range you registered; the helpers check every guest address and length
 * and return an error rather than touch anything outside guest RAM.
 */
#ifndef LIBCVM_DEVICE_H
#define LIBCVM_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <libcvm/cvm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A custom device, as its callbacks see it. */
typedef struct cvm_device cvm_device;

/** Flags of cvm_io_device_config and cvm_virtio_device_config. */
enum cvm_device_flags {
	/** Run in the VMM process even when the VM's sandbox is on (unsafe for untrusted guests). */
	CVM_DEVICE_IN_VMM = 1 << 0,
};

/** Address spaces of an I/O device. */
enum cvm_io_space {
	CVM_IO_PIO = 1,	 /**< x86 I/O ports (in/out) */
	CVM_IO_MMIO = 2, /**< guest-physical memory addresses outside RAM */
};

/** Callbacks of a port-I/O or MMIO device. */
typedef struct cvm_io_device_ops {
	/** sizeof(cvm_io_device_ops) as the caller was compiled. */
	size_t struct_size;
	/**
	 * A guest read of @size bytes (1, 2, 4 or 8) at @offset from the
	 * device's base (offset + size <= the device's size). Returns the value,
	 * little-endian in its low @size bytes. NULL: reads return all-ones.
	 */
	uint64_t (*read)(cvm_device *dev, void *opaque, uint64_t offset, unsigned int size);
	/** A guest write of @value (@size bytes) at @offset. NULL: writes are ignored. */
	void (*write)(cvm_device *dev, void *opaque, uint64_t offset, unsigned int size,
		      uint64_t value);
} cvm_io_device_ops;

/** Initialiser for cvm_io_device_ops. */
#define CVM_IO_DEVICE_OPS_INIT                           \
	{                                                \
		.struct_size = sizeof(cvm_io_device_ops) \
	}

/** A port-I/O or MMIO device for cvm_vm_add_io_device(). Initialise with CVM_IO_DEVICE_CONFIG_INIT. */
typedef struct cvm_io_device_config {
	/** sizeof(cvm_io_device_config) as the caller was compiled. */
	size_t struct_size;
	/** Its name in messages and as its process name. */
	const char *name;
	/** CVM_IO_PIO or CVM_IO_MMIO. */
	enum cvm_io_space space;
	/** First port or address, and the number of ports or bytes (not overlapping another device). */
	uint64_t base, size;
	/** Its callbacks; copied. */
	const cvm_io_device_ops *ops;
	/** Passed to every callback. */
	void *opaque;
	/** Legacy interrupt line (ISA IRQ 1..15) for cvm_device_set_irq(), or 0 for none. */
	unsigned int irq;
	/** enum cvm_device_flags. */
	unsigned int flags;
	/** Sandbox: its seccomp policy as text (minijail syntax), or NULL. */
	const char *policy;
	/** Sandbox: its seccomp policy as a file, or NULL (one of the two is needed when sandboxed). */
	const char *policy_file;
	/** Sandbox: descriptors its callbacks use (kept open, at the same numbers, in its process). */
	const int *keep_fds;
	/** Number of keep_fds. */
	unsigned int nr_keep_fds;
} cvm_io_device_config;

/** Initialiser for cvm_io_device_config. */
#define CVM_IO_DEVICE_CONFIG_INIT                                                 \
	{                                                                         \
		.struct_size = sizeof(cvm_io_device_config), .space = CVM_IO_PIO, \
	}

/**
 * cvm_vm_add_io_device() - add a port-I/O or MMIO device.
 * @vm: a VM that has not run yet.
 * @cfg: the device; copied (ops too), strings included.
 *
 * Returns: 0; -EINVAL for a bad or unknown option, an empty or wrapping
 * range, an IRQ out of 1..15 or already used by a legacy device, or a
 * sandboxed device without a policy; -EEXIST when the range overlaps another
 * device's; -ENOSPC when the VM has no room for more custom devices.
 * cvm_vm_last_error() says which.
 */
CVM_EXPORT int cvm_vm_add_io_device(cvm_vm *vm, const cvm_io_device_config *cfg);

/** Callbacks of a custom virtio device. Every one is optional except queue_notify. */
typedef struct cvm_virtio_device_ops {
	/** sizeof(cvm_virtio_device_ops) as the caller was compiled. */
	size_t struct_size;
	/**
	 * The driver accepted @features (device and transport bits) and set
	 * DRIVER_OK: the queues are live.
	 */
	void (*activate)(cvm_device *dev, void *opaque, uint64_t features);
	/**
	 * Queue @queue may have buffers: the driver kicked it, or it just set
	 * DRIVER_OK (the queue may then be empty). Take them with
	 * cvm_virtq_pop(), give them back with cvm_virtq_push() and
	 * cvm_virtq_notify(). Return 0, or a negative errno when the guest
	 * broke the protocol: the device is then marked DEVICE_NEEDS_RESET
	 * until the driver resets it.
	 */
	int (*queue_notify)(cvm_device *dev, void *opaque, unsigned int queue);
	/** The driver wrote @len bytes of the device configuration at @offset (after it was stored). */
	void (*config_write)(cvm_device *dev, void *opaque, uint32_t offset, uint32_t len);
	/** The driver reset the device: chains not pushed yet are gone. */
	void (*reset)(cvm_device *dev, void *opaque);
	/** The VM stops: flush what must be flushed. */
	void (*shutdown)(cvm_device *dev, void *opaque);
} cvm_virtio_device_ops;

/** Initialiser for cvm_virtio_device_ops. */
#define CVM_VIRTIO_DEVICE_OPS_INIT                           \
	{                                                    \
		.struct_size = sizeof(cvm_virtio_device_ops) \
	}

/** A custom virtio device for cvm_vm_add_virtio_device(). Initialise with CVM_VIRTIO_DEVICE_CONFIG_INIT. */
typedef struct cvm_virtio_device_config {
	/** sizeof(cvm_virtio_device_config) as the caller was compiled. */
	size_t struct_size;
	/** Its name in messages and as its process name. */
	const char *name;
	/** The virtio device type (1..63; PCI device id 0x1040 + type). */
	uint16_t device_id;
	/** Device feature bits offered (bits 0..23 and 50..63); libcvm adds VERSION_1 and the ring features. */
	uint64_t features;
	/** Initial device configuration space (copied), and its length (0..4096). */
	const void *config;
	/** Length of config. */
	uint32_t config_len;
	/** Number of virtqueues (1..16) and their maximum size (a power of two, 1..256). */
	unsigned int num_queues, queue_size;
	/** Chains a queue may hold popped and not pushed yet (1..64; 0 means 8). */
	unsigned int max_chains;
	/** Its callbacks; copied. */
	const cvm_virtio_device_ops *ops;
	/** Passed to every callback. */
	void *opaque;
	/** enum cvm_device_flags. */
	unsigned int flags;
	/** Sandbox: its seccomp policy as text, or NULL (see cvm_io_device_config). */
	const char *policy;
	/** Sandbox: its seccomp policy as a file, or NULL. */
	const char *policy_file;
	/** Sandbox: descriptors its callbacks use. */
	const int *keep_fds;
	/** Number of keep_fds. */
	unsigned int nr_keep_fds;
} cvm_virtio_device_config;

/** Initialiser for cvm_virtio_device_config: one queue of 256. */
#define CVM_VIRTIO_DEVICE_CONFIG_INIT                                             \
	{                                                                         \
		.struct_size = sizeof(cvm_virtio_device_config), .num_queues = 1, \
		.queue_size = 256,                                                \
	}

/**
 * cvm_vm_add_virtio_device() - add a virtio device, served over virtio-pci
 * (modern, MSI-X, one function on the VM's PCI bus).
 * @vm: a VM that has not run yet.
 * @cfg: the device; copied (config bytes and ops too).
 *
 * Returns: 0, -EINVAL (a bad or unknown option, a sandboxed device without
 * a policy), -ENOSPC (no PCI slot left), -ENOMEM. cvm_vm_last_error() says
 * which.
 */
CVM_EXPORT int cvm_vm_add_virtio_device(cvm_vm *vm, const cvm_virtio_device_config *cfg);

/** A descriptor chain taken from a virtqueue: valid from cvm_virtq_pop() to cvm_virtq_push(). */
typedef struct cvm_virtq_chain cvm_virtq_chain;

/**
 * cvm_virtq_pop() - take the next chain the driver made available.
 * @dev: the device (from its callback).
 * @queue: the queue's index.
 * @out: receives the chain.
 *
 * Returns: 1 and a chain, 0 when the queue has none, -ENOBUFS when the
 * device holds max_chains chains of this queue already, -EPROTO when the
 * guest broke the ring (return it from queue_notify), -EINVAL for a bad
 * queue or a queue that is not live.
 */
CVM_EXPORT int cvm_virtq_pop(cvm_device *dev, unsigned int queue, cvm_virtq_chain **out);

/**
 * cvm_virtq_chain_len() - bytes the driver gave to read (@writable 0) or
 * to write (@writable 1) in chain @c.
 * Returns: that number of bytes.
 */
CVM_EXPORT uint64_t cvm_virtq_chain_len(const cvm_virtq_chain *c, int writable);

/**
 * cvm_virtq_chain_read() - copy bytes [@offset, @offset + @len) of the
 * chain's driver-written part into @buf.
 * Returns: 0, or -EINVAL when the range goes past that part (nothing copied).
 */
CVM_EXPORT int cvm_virtq_chain_read(const cvm_virtq_chain *c, uint64_t offset, void *buf,
				    size_t len);

/**
 * cvm_virtq_chain_write() - copy @len bytes of @buf to the chain's
 * device-writable part at @offset.
 * Returns: 0, or -EINVAL when the range goes past that part (nothing copied).
 */
CVM_EXPORT int cvm_virtq_chain_write(cvm_virtq_chain *c, uint64_t offset, const void *buf,
				     size_t len);

/**
 * cvm_virtq_chain_iov() - the guest memory of bytes [@offset, @offset +
 * @len) of the chain's readable (@writable 0) or writable (@writable 1)
 * part, as at most @max iovecs pointing into guest RAM: for readv(2),
 * writev(2), getrandom(2)... straight into or out of the guest's buffers.
 * The pointers are valid until the chain is pushed; the guest may change
 * the bytes at any time, so check what you read after copying it.
 * Returns: the number of iovecs filled (fewer than needed when @max is too
 * small: check their total), or -EINVAL when the range goes past that part.
 */
CVM_EXPORT int cvm_virtq_chain_iov(const cvm_virtq_chain *c, int writable, uint64_t offset,
				   uint64_t len, struct iovec *iov, int max);

/**
 * cvm_virtq_push() - give chain @c back to the driver, saying that @written
 * bytes of its device-writable part were written. The chain is gone after.
 * Returns: 0, or -EINVAL for a chain this device does not hold.
 */
CVM_EXPORT int cvm_virtq_push(cvm_device *dev, cvm_virtq_chain *c, uint32_t written);

/**
 * cvm_virtq_notify() - interrupt the driver for queue @queue if it asked for
 * it (EVENT_IDX or the no-interrupt flag decide). Call after pushing.
 */
CVM_EXPORT void cvm_virtq_notify(cvm_device *dev, unsigned int queue);

/**
 * cvm_virtio_set_config() - change the device configuration (what the
 * driver reads) and, with @notify, send the configuration-change interrupt.
 * Returns: 0, or -EINVAL when the range is outside the configuration space.
 */
CVM_EXPORT int cvm_virtio_set_config(cvm_device *dev, uint32_t offset, const void *data,
				     uint32_t len, int notify);

/**
 * cvm_virtio_get_config() - read the device configuration (as the driver
 * last wrote it) into @data.
 * Returns: 0, or -EINVAL when the range is outside it.
 */
CVM_EXPORT int cvm_virtio_get_config(cvm_device *dev, uint32_t offset, void *data, uint32_t len);

/**
 * cvm_device_read_guest() - copy @len bytes of guest RAM at guest-physical
 * @gpa into @buf.
 * Returns: 0, or -EFAULT when any byte is outside guest RAM (nothing copied).
 */
CVM_EXPORT int cvm_device_read_guest(cvm_device *dev, uint64_t gpa, void *buf, size_t len);

/**
 * cvm_device_write_guest() - copy @len bytes of @buf to guest RAM at @gpa.
 * Returns: 0, or -EFAULT when any byte is outside guest RAM (nothing copied).
 */
CVM_EXPORT int cvm_device_write_guest(cvm_device *dev, uint64_t gpa, const void *buf, size_t len);

/**
 * cvm_device_set_irq() - drive the I/O device's legacy interrupt line
 * (cvm_io_device_config.irq) to @level (0 or 1; level-triggered).
 * Returns: 0, or -EINVAL when the device has no line.
 */
CVM_EXPORT int cvm_device_set_irq(cvm_device *dev, int level);

/**
 * cvm_device_signal_msi() - send the guest the message-signalled interrupt
 * (@address, @data) it programmed into your device.
 * Returns: 0, or -EINVAL when @address is not in the MSI window (0xfeexxxxx).
 */
CVM_EXPORT int cvm_device_signal_msi(cvm_device *dev, uint64_t address, uint32_t data);

/**
 * cvm_device_exit_vm() - end the VM's run: cvm_vm_run() returns 0 with
 * reason CVM_EXIT_DEVICE, and cvm_vm_device_exit_code() gives @code (as
 * QEMU's isa-debug-exit does for test guests).
 */
CVM_EXPORT void cvm_device_exit_vm(cvm_device *dev, int code);

/**
 * cvm_device_log() - log a line through the VM's logger (from the device's
 * process too), prefixed with the device's name.
 */
CVM_EXPORT void cvm_device_log(cvm_device *dev, enum cvm_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * cvm_vm_device_exit_code() - the code a device gave cvm_device_exit_vm().
 * Returns: that code, or -1 when no device ended the run.
 */
CVM_EXPORT int cvm_vm_device_exit_code(const cvm_vm *vm);

#ifdef __cplusplus
}
#endif

#endif
