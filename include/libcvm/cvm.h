/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libcvm: an embeddable KVM virtual machine monitor.
 *
 * Conventions of this API:
 *  - handles are opaque pointers;
 *  - functions return 0 on success or a negative errno value, and put their
 *    results in the out-parameter that comes first;
 *  - option structs carry their own size in `struct_size`, set by the
 *    matching _INIT macro, so fields can be appended without breaking
 *    programs built against an older header;
 *  - cvm_strerror() turns a return code into text, and cvm_vm_last_error()
 *    gives the detailed message of the last failure on a VM.
 */
#ifndef LIBCVM_CVM_H
#define LIBCVM_CVM_H

#include <stddef.h>
#include <stdint.h>

#include <libcvm/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CVM_BUILDING_LIBRARY)
#define CVM_EXPORT __attribute__((visibility("default")))
#else
#define CVM_EXPORT
#endif

/** An opaque virtual machine. */
typedef struct cvm_vm cvm_vm;

/** Log levels, in increasing verbosity. */
enum cvm_log_level {
	CVM_LOG_ERROR = 0,
	CVM_LOG_WARN = 1,
	CVM_LOG_INFO = 2,
	CVM_LOG_DEBUG = 3,
};

/**
 * A log callback. `msg` is one line without a trailing newline. It may be
 * called from any vCPU or device thread of the VM, concurrently.
 */
typedef void (*cvm_log_fn)(void *opaque, enum cvm_log_level level, const char *msg);

/** Options for cvm_vm_create(). Initialise with CVM_VM_CONFIG_INIT. */
typedef struct cvm_vm_config {
	/** sizeof(cvm_vm_config) as the caller was compiled; set by the _INIT macro. */
	size_t struct_size;
	/** Guest RAM in MiB (16 .. 1048576). */
	uint32_t mem_mib;
	/** Number of vCPUs (1 .. the limit reported by KVM). */
	uint32_t vcpus;
	/** Messages at or below this level are logged. */
	enum cvm_log_level log_level;
	/** Where log lines go; NULL writes them to stderr prefixed with "cvm: ". */
	cvm_log_fn log_fn;
	/** Passed to log_fn. */
	void *log_opaque;
	/**
	 * CPUID feature bits to hide from the guest, as a comma-separated list
	 * of names ("cx16,xsave,avx") or NULL for none. See docs/cpu-template.md.
	 */
	const char *cpuid_disable;
	/** Path of the KVM device; NULL means "/dev/kvm". */
	const char *kvm_path;
	/**
	 * Non-zero: run every virtio device as a thread of this process.
	 * 0 (the default): each device runs in its own jailed process with a
	 * seccomp filter (docs/sandbox.md).
	 */
	int disable_sandbox;
	/**
	 * Directory of the devices' seccomp policies (<dev>_device.policy);
	 * NULL means the installed ones ($prefix/share/policy/cvm). A missing
	 * policy makes cvm_vm_run() fail; a device never runs unfiltered.
	 */
	const char *seccomp_policy_dir;
} cvm_vm_config;

/** Initialiser for cvm_vm_config: 256 MiB, one vCPU, info-level logging. */
#define CVM_VM_CONFIG_INIT                                                        \
	{                                                                         \
		.struct_size = sizeof(cvm_vm_config), .mem_mib = 256, .vcpus = 1, \
		.log_level = CVM_LOG_INFO, .log_fn = NULL, .log_opaque = NULL,    \
		.cpuid_disable = NULL, .kvm_path = NULL, .disable_sandbox = 0,    \
		.seccomp_policy_dir = NULL,                                       \
	}

/** What a legacy serial port is connected to. */
typedef struct cvm_serial_config {
	/** sizeof(cvm_serial_config); set by CVM_SERIAL_CONFIG_INIT. */
	size_t struct_size;
	/** COM port number, 1 to 4. */
	unsigned int port;
	/** File descriptor the guest's output is written to, or -1 to drop it. */
	int out_fd;
	/** File descriptor guest input is read from, or -1 for none. */
	int in_fd;
	/** Put in_fd into raw mode while the VM runs when it is a terminal. */
	int raw_terminal;
} cvm_serial_config;

/** Initialiser for cvm_serial_config: COM1 with no output and no input. */
#define CVM_SERIAL_CONFIG_INIT                                                                  \
	{                                                                                       \
		.struct_size = sizeof(cvm_serial_config), .port = 1, .out_fd = -1, .in_fd = -1, \
		.raw_terminal = 0,                                                              \
	}

/** Flags for cvm_vm_add_virtio_blk() and cvm_blk_config.flags. */
enum cvm_blk_flags {
	/** The guest may only read (VIRTIO_BLK_F_RO); the image is opened read-only. */
	CVM_BLK_READ_ONLY = 1 << 0,
	/** The root disk: "root=/dev/vdX" is added to the kernel command line. */
	CVM_BLK_ROOT = 1 << 1,
};

/** Options for cvm_vm_add_disk(). Initialise with CVM_BLK_CONFIG_INIT. */
typedef struct cvm_blk_config {
	/** sizeof(cvm_blk_config); set by CVM_BLK_CONFIG_INIT. */
	size_t struct_size;
	/** The disk image: a regular file (size a multiple of 512) or a block device. */
	const char *path;
	/** enum cvm_blk_flags. */
	unsigned int flags;
	/** What VIRTIO_BLK_T_GET_ID returns (at most 20 bytes); NULL derives one. */
	const char *serial;
	/** 0: through the host page cache; 1: O_DIRECT. */
	int direct;
	/** Request queues; 0 means one per vCPU. */
	unsigned int num_queues;
} cvm_blk_config;

/** Initialiser for cvm_blk_config: writable, page cache, one queue per vCPU. */
#define CVM_BLK_CONFIG_INIT                                                                      \
	{                                                                                        \
		.struct_size = sizeof(cvm_blk_config), .path = NULL, .flags = 0, .serial = NULL, \
		.direct = 0, .num_queues = 0,                                                    \
	}

/** Why cvm_vm_run() returned. */
enum cvm_exit_reason {
	/** The guest reset itself (i8042 reset, triple fault): a normal exit. */
	CVM_EXIT_RESET = 1,
	/** The guest powered itself off. */
	CVM_EXIT_POWEROFF = 2,
	/** cvm_vm_stop() was called. */
	CVM_EXIT_STOPPED = 3,
	/** Something failed; cvm_vm_last_error() says what. */
	CVM_EXIT_ERROR = 4,
	/** A custom device ended the run (cvm_device_exit_vm(), see device.h). */
	CVM_EXIT_DEVICE = 5,
};

/**
 * cvm_version() - the library's version.
 *
 * Returns: a static string such as "0.1.0".
 */
CVM_EXPORT const char *cvm_version(void);

/**
 * cvm_strerror() - describe a return code of this library.
 * @rc: a value returned by a cvm_ function (0 or -errno).
 *
 * Returns: a static string; never NULL.
 */
CVM_EXPORT const char *cvm_strerror(int rc);

/**
 * cvm_exit_reason_name() - a short name for an exit reason.
 * @reason: a value of enum cvm_exit_reason.
 *
 * Returns: "reset", "poweroff", "stopped", "error", "device" or "unknown".
 */
CVM_EXPORT const char *cvm_exit_reason_name(enum cvm_exit_reason reason);

/**
 * cvm_vm_create() - create a virtual machine.
 * @out: receives the new VM on success, NULL on failure.
 * @cfg: options; NULL means CVM_VM_CONFIG_INIT.
 *
 * Opens KVM, checks every capability the VMM relies on, creates the VM with
 * its in-kernel interrupt controllers and PIT, guest RAM and the legacy
 * devices (COM1-4, CMOS/RTC, i8042).
 *
 * Returns: 0, -EINVAL for bad options (the reason is logged), -ENOENT or
 * -EACCES when the KVM device is missing or not permitted, -ENOTSUP when a
 * needed KVM capability is missing, -ENOMEM.
 */
CVM_EXPORT int cvm_vm_create(cvm_vm **out, const cvm_vm_config *cfg);

/**
 * cvm_vm_set_kernel() - load the kernel to boot.
 * @vm: the VM.
 * @path: an ELF64 vmlinux or a bzImage.
 * @cmdline: the kernel command line, or NULL for an empty one.
 *
 * Returns: 0, -ENOENT/-EACCES/-EISDIR for an unreadable file, -ENOEXEC for
 * a file that is not a valid kernel, -EFBIG when it does not fit in RAM,
 * -E2BIG for a command line longer than the kernel accepts, -EBUSY after
 * the VM has run. cvm_vm_last_error() has the details.
 */
CVM_EXPORT int cvm_vm_set_kernel(cvm_vm *vm, const char *path, const char *cmdline);

/**
 * cvm_vm_set_initrd() - load an initial ramdisk.
 * @vm: the VM, with its kernel already set.
 * @path: the initrd file.
 *
 * Places the initrd below the kernel's initrd_addr_max and above the
 * kernel, at a page boundary.
 *
 * Returns: 0, -EINVAL when no kernel is set yet, -ENOENT/-EACCES/-EISDIR,
 * -EFBIG when it does not fit.
 */
CVM_EXPORT int cvm_vm_set_initrd(cvm_vm *vm, const char *path);

/**
 * cvm_vm_set_serial() - connect a legacy serial port.
 * @vm: the VM, not yet running.
 * @cfg: the port and its file descriptors. The VM does not take ownership
 *       of the descriptors; they must stay open until cvm_vm_destroy().
 *
 * Returns: 0, -EINVAL for a bad port number, -EBUSY after the VM has run.
 */
CVM_EXPORT int cvm_vm_set_serial(cvm_vm *vm, const cvm_serial_config *cfg);

/**
 * cvm_vm_add_virtio_blk() - add a virtio-blk disk with default options.
 * @vm: the VM, not yet running.
 * @path: the disk image.
 * @flags: enum cvm_blk_flags.
 *
 * Disks appear to the guest in the order they are added: vda, vdb, ...
 *
 * Returns: as cvm_vm_add_disk().
 */
CVM_EXPORT int cvm_vm_add_virtio_blk(cvm_vm *vm, const char *path, unsigned int flags);

/**
 * cvm_vm_add_disk() - add a virtio-blk disk.
 * @vm: the VM, not yet running.
 * @cfg: the disk's options.
 *
 * The image is opened and locked now (shared for read-only disks,
 * exclusive for writable ones), so a second VM cannot write it.
 *
 * Returns: 0, -ENOENT, -EISDIR, -EACCES or -EROFS (not writable), -EINVAL
 * (not a file or block device, empty, size not a multiple of 512, bad
 * options), -EBUSY (in use by another VM, or the VM has run), -EEXIST (a
 * second root disk), -ENOSPC (too many devices). cvm_vm_last_error() names
 * the file and the problem.
 */
CVM_EXPORT int cvm_vm_add_disk(cvm_vm *vm, const cvm_blk_config *cfg);

/**
 * cvm_vm_set_rng() - turn the virtio-rng device on or off (on by default).
 * @vm: the VM, not yet running.
 * @enabled: non-zero for a virtio-rng device fed by getrandom(2).
 *
 * Returns: 0, -EBUSY after the VM has run.
 */
CVM_EXPORT int cvm_vm_set_rng(cvm_vm *vm, int enabled);

/** Options for cvm_vm_add_net(). Initialise with CVM_NET_CONFIG_INIT. */
typedef struct cvm_net_config {
	/** sizeof(cvm_net_config); set by CVM_NET_CONFIG_INIT. */
	size_t struct_size;
	/** Create a TAP device with this IPv4 address on the host side ... */
	const char *host_ip;
	/** ... and this netmask (both needed, and CAP_NET_ADMIN). */
	const char *netmask;
	/** The guest's MAC "52:54:00:12:34:56"; NULL: a stable random local one. */
	const char *mac;
	/** Or attach the existing TAP device of this name ... */
	const char *tap_name;
	/** ... or this already open TAP descriptor (not closed by the VM); -1: none. */
	int tap_fd;
} cvm_net_config;

/** Initialiser for cvm_net_config: nothing chosen yet (tap_fd -1). */
#define CVM_NET_CONFIG_INIT                                                              \
	{                                                                                \
		.struct_size = sizeof(cvm_net_config), .host_ip = NULL, .netmask = NULL, \
		.mac = NULL, .tap_name = NULL, .tap_fd = -1,                             \
	}

/**
 * cvm_vm_add_net() - add a virtio-net device backed by a TAP device.
 * @vm: the VM, not yet running.
 * @cfg: exactly one of host_ip+netmask, tap_name or tap_fd.
 *
 * Returns: 0, -EINVAL (bad or conflicting options), -EPERM (creating or
 * configuring a TAP needs CAP_NET_ADMIN), -ENODEV (no /dev/net/tun or no
 * such TAP), -EBUSY after the VM has run.
 */
CVM_EXPORT int cvm_vm_add_net(cvm_vm *vm, const cvm_net_config *cfg);

/** Options for cvm_vm_set_vsock(). Initialise with CVM_VSOCK_CONFIG_INIT. */
typedef struct cvm_vsock_config {
	/** sizeof(cvm_vsock_config); set by CVM_VSOCK_CONFIG_INIT. */
	size_t struct_size;
	/** The guest's context id, 3 or more. */
	uint64_t cid;
	/**
	 * Host side (userspace device, Firecracker's scheme): a guest connection
	 * to port P reaches the AF_UNIX socket "<uds_path>_P"; a host program
	 * connects to <uds_path> and writes "CONNECT P\n" to reach guest port P.
	 * NULL: "/tmp/cvm-vsock-<cid>.sock".
	 */
	const char *uds_path;
} cvm_vsock_config;

/** Initialiser for cvm_vsock_config: cid 0 (must be set). */
#define CVM_VSOCK_CONFIG_INIT                                                        \
	{                                                                            \
		.struct_size = sizeof(cvm_vsock_config), .cid = 0, .uds_path = NULL, \
	}

/**
 * cvm_vm_set_vsock() - add a virtio-vsock device.
 * @vm: the VM, not yet running.
 * @cfg: its options.
 *
 * The device runs in userspace (its host side is the AF_UNIX scheme above);
 * the in-kernel vhost-vsock backend is not used yet. The CID is locked for
 * this VM's lifetime: another VM on this host asking for it is refused.
 *
 * Returns: 0, -EINVAL (cid below 3, or bad options), -EADDRINUSE (the cid
 * or the socket path is in use), -EEXIST (set twice), -EBUSY after the VM
 * has run.
 */
CVM_EXPORT int cvm_vm_set_vsock(cvm_vm *vm, const cvm_vsock_config *cfg);

/** Options for cvm_vm_set_wayland(). Initialise with CVM_WL_CONFIG_INIT. */
typedef struct cvm_wl_config {
	/** sizeof(cvm_wl_config); set by CVM_WL_CONFIG_INIT. */
	size_t struct_size;
	/**
	 * The compositor's socket. NULL: "$XDG_RUNTIME_DIR/wayland-0" (see
	 * cvm_wayland_default_socket()).
	 */
	const char *socket_path;
} cvm_wl_config;

/** Initialiser for cvm_wl_config: the default socket. */
#define CVM_WL_CONFIG_INIT                                                 \
	{                                                                  \
		.struct_size = sizeof(cvm_wl_config), .socket_path = NULL, \
	}

/**
 * cvm_vm_set_wayland() - add a virtio-wl device (crosvm's virtio-wayland,
 * virtio device id 63): the guest's Wayland clients (through its virtio_wl
 * driver) use the host's compositor. See docs/wayland.md.
 * @vm: the VM, not yet running.
 * @cfg: its options.
 *
 * The device opens a new connection to the socket each time the guest asks
 * for one; sandboxed, its process reaches that socket and nothing else.
 * Shared-memory buffers live in a 256 MiB region of the device's BAR 2.
 *
 * Returns: 0, -ENOENT (no such socket; XDG_RUNTIME_DIR unset for the
 * default), -ENOTSOCK (the path is not a socket), -ENAMETOOLONG, -EINVAL
 * (bad options), -EEXIST (set twice), -EBUSY after the VM has run.
 */
CVM_EXPORT int cvm_vm_set_wayland(cvm_vm *vm, const cvm_wl_config *cfg);

/**
 * cvm_wayland_default_socket() - the default compositor socket,
 * "$XDG_RUNTIME_DIR/wayland-0", if it exists and is a socket.
 * @buf: where its path goes (NUL-terminated).
 * @len: bytes at @buf.
 *
 * Returns: 1 (it exists; path in @buf), 0 (XDG_RUNTIME_DIR unset, or no
 * socket there), -ENAMETOOLONG (@buf is too small), -EINVAL (NULL @buf).
 */
CVM_EXPORT int cvm_wayland_default_socket(char *buf, size_t len);

/**
 * cvm_vm_set_control_socket() - listen for control requests (stop, suspend,
 * resume, status; see <libcvm/control.h> and docs/control.md).
 * @vm: the VM, not yet running.
 * @path: the socket's path, or an existing directory, in which the socket is
 *        named cvm.<pid>.sock.
 *
 * The socket is created now, mode 0600. A stale socket at @path (nobody
 * listening) is replaced; one that a live VM listens on is not. It is
 * removed when the run ends and by cvm_vm_destroy().
 *
 * Returns: 0, -EADDRINUSE (a live VM listens there), -EEXIST (@path exists
 * and is not a socket), -ENAMETOOLONG, -EBUSY (already set or the VM has
 * run), or another -errno from socket/bind/listen.
 */
CVM_EXPORT int cvm_vm_set_control_socket(cvm_vm *vm, const char *path);

/**
 * cvm_vm_control_socket() - the control socket's path.
 * @vm: the VM.
 *
 * Returns: the path (a directory given to cvm_vm_set_control_socket() is
 * resolved), or NULL when there is none.
 */
CVM_EXPORT const char *cvm_vm_control_socket(const cvm_vm *vm);

/**
 * cvm_vm_suspend() - pause every vCPU of a running VM.
 * @vm: the VM, inside cvm_vm_run() (call it from another thread).
 *
 * Devices keep working; guest time as seen through kvmclock is marked as
 * stopped (KVM_KVMCLOCK_CTRL) so the guest's watchdogs stay quiet.
 *
 * Returns: 0, -EALREADY when suspended, -EINVAL when the VM is not running.
 */
CVM_EXPORT int cvm_vm_suspend(cvm_vm *vm);

/**
 * cvm_vm_resume() - let a suspended VM's vCPUs run again.
 * @vm: the VM.
 *
 * Returns: 0, -EALREADY when it was running, -EINVAL when not running.
 */
CVM_EXPORT int cvm_vm_resume(cvm_vm *vm);

/**
 * cvm_vm_run() - run the VM until it stops.
 * @vm: the VM with a kernel set.
 * @reason: receives why the VM stopped; may be NULL.
 *
 * Starts one thread per vCPU; the calling thread serves serial input and
 * stop requests. A VM runs once.
 *
 * Returns: 0 when the guest reset, powered off or was stopped, or a custom
 * device ended the run (CVM_EXIT_DEVICE, see device.h); a negative
 * errno when the VM failed (then *reason is CVM_EXIT_ERROR and
 * cvm_vm_last_error() names the cause, for an emulation failure the RIP
 * and the instruction bytes).
 */
CVM_EXPORT int cvm_vm_run(cvm_vm *vm, enum cvm_exit_reason *reason);

/**
 * cvm_vm_stop() - ask a running VM to stop.
 * @vm: the VM.
 *
 * Safe to call from any thread and from a signal handler (it only sets a
 * flag and writes to an eventfd). cvm_vm_run() then returns with
 * CVM_EXIT_STOPPED. Calling it before cvm_vm_run() makes the run stop at once.
 *
 * Returns: 0, or -errno if the wake-up could not be written.
 */
CVM_EXPORT int cvm_vm_stop(cvm_vm *vm);

/**
 * cvm_vm_last_error() - the message of the VM's last failure.
 * @vm: the VM, or NULL.
 *
 * Returns: the text, "" when there was none; valid until the next call on
 * the VM.
 */
CVM_EXPORT const char *cvm_vm_last_error(const cvm_vm *vm);

/**
 * cvm_vm_destroy() - free a VM and everything it holds.
 * @vm: the VM, or NULL. Must not be running.
 */
CVM_EXPORT void cvm_vm_destroy(cvm_vm *vm);

/**
 * cvm_last_create_error() - why the last cvm_vm_create() on this thread
 * failed.
 *
 * Returns: the text, "" when there was none; thread-local.
 */
CVM_EXPORT const char *cvm_last_create_error(void);

#ifdef __cplusplus
}
#endif

#endif /* LIBCVM_CVM_H */
