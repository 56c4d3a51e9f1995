/* SPDX-License-Identifier: BSD-3-Clause */
/* The VM object: everything one virtual machine owns. No state lives outside it. */
#ifndef CVM_CORE_VM_H
#define CVM_CORE_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <termios.h>

#include <libcvm/cvm.h>
#include <linux/kvm.h>

#include "arch/x86_64/cpuid.h"
#include "core/bus.h"
#include "core/irq.h"
#include "core/mem.h"
#include "devices/pci.h"
#include "loader/loader.h"
#include "util/err.h"
#include "util/log.h"

#define CVM_NR_SERIAL 4
#define CVM_MAX_DISKS 16
#define CVM_MAX_VIRTIO_DEVS 31 /* PCI slots 1..31 */
#define CVM_MAX_IO_DEVS 16     /* custom port-I/O/MMIO devices (device.h) */
/* The window for PCI memory BARs: the hole below 4 GiB, up to the IOAPIC. */
#define CVM_PCI_MMIO_START 0xc0000000ULL
#define CVM_PCI_MMIO_END 0xfec00000ULL
/* ACPI sleep control (and, +1, status) registers: how a guest powers off. */
#define CVM_ACPI_SLEEP_PORT 0x600
#define CVM_MIN_MEM_MIB 16
#define CVM_MAX_MEM_MIB (1024 * 1024)
#define CVM_ABSURD_VCPUS 4096

struct cvm_vm;

struct vcpu {
	struct cvm_vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

enum vm_state { VM_CREATED, VM_RUNNING, VM_DONE };

struct serial_port {
	struct cvm_vm *vm;
	cvm_serial_config cfg;
	struct serial *dev;
	unsigned int irq;
	bool in_eof;	  /* input reached end of file */
	bool in_pollable; /* in_fd can be watched with epoll */
	bool in_watched;  /* in_fd is in the epoll set with EPOLLIN */
	bool term_saved;  /* tio holds the terminal state to restore */
	struct termios tio;
	uint8_t pending[16]; /* input read from in_fd that the FIFO did not take yet */
	unsigned int pending_len;
};

/* IRQ sources (bit numbers in irq_sources[]): COM ports 0-3, PCI devices 8-38, custom 40-55. */
#define IRQ_SRC_PCI(i) (8 + (i))
#define IRQ_SRC_CUSTOM(i) (40 + (i))

struct pci_intx {
	struct cvm_vm *vm;
	uint8_t source;
};

/* A virtio device of the VM: its transport and how to free the device. */
struct vm_virtio_dev {
	struct virtio_pci *vp;
	void *dev;
	void (*destroy)(void *dev);
};

struct virtio_env;
struct devproc;

struct cvm_vm {
	struct cvm_logger log;
	uint32_t mem_mib;
	unsigned int nr_vcpus;
	struct x86_cpuid_disable cpuid_disable;

	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct kvm_cpuid2 *cpuid; /* supported by KVM, unfiltered */
	struct guest_mem mem;
	struct cvm_bus pio;
	struct cvm_bus mmio;
	struct vcpu *vcpus;

	struct serial_port serial[CVM_NR_SERIAL];
	struct cmos *cmos;
	struct i8042 *i8042;
	pthread_mutex_t irq_lock;
	uint64_t irq_sources[16]; /* per legacy IRQ line: bitmask of asserting devices */
	struct irq_router router;
	struct pci_bus pci;
	struct vm_virtio_dev vdevs[CVM_MAX_VIRTIO_DEVS]; /* every virtio device, in PCI order */
	unsigned int nr_vdevs;
	struct pci_intx intx[CVM_MAX_VIRTIO_DEVS];
	struct blk_dev *disks[CVM_MAX_DISKS]; /* the block devices among them */
	unsigned int nr_disks;
	int root_disk;	    /* index in disks[], -1 when none */
	bool rng_disabled;  /* --no-rng */
	void *rng;	    /* the virtio-rng device, once added */
	void *vsock;	    /* the virtio-vsock device, once added */
	void *wl;	    /* the virtio-wl device, once added */
	int vsock_cid_lock; /* holds the CID's abstract socket name, or -1 */
	bool pci_ready;
	bool sandbox;	  /* virtio devices run in jailed processes */
	char *policy_dir; /* their seccomp policies */

	bool kernel_loaded;
	struct kernel_image kernel;
	char *cmdline;
	uint64_t initrd_addr, initrd_size;

	enum vm_state state;
	int stop_efd; /* written by cvm_vm_stop() and by vCPUs that end the run */
	int wake_efd; /* serial input can continue */
	atomic_bool stop_requested;
	atomic_bool stopping; /* vCPUs must leave KVM_RUN */

	/* Suspend/resume: vCPUs park on pause_cond while pause_requested. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_requested;
	unsigned int paused_vcpus;
	bool suspended;
	struct timespec started_at; /* CLOCK_MONOTONIC, when cvm_vm_run() started the vCPUs */

	struct ctl_server *ctl;			     /* the control socket, or NULL */
	struct serial_proc *sproc;		     /* the UARTs' process (sandbox), or NULL */
	struct cvm_device *io_devs[CVM_MAX_IO_DEVS]; /* custom I/O devices (plugin_io.c) */
	unsigned int nr_io_devs;
	int device_exit_code; /* what a custom device gave cvm_device_exit_vm() */

	pthread_mutex_t lock; /* protects the fields below */
	bool exit_set;
	enum cvm_exit_reason exit_reason;
	int exit_rc;
	char error[1024];
};

/*
 * vm_request_exit() - end the run (first caller wins): records why, and
 * wakes the thread in cvm_vm_run(). Callable from any thread.
 */
void vm_request_exit(struct cvm_vm *vm, enum cvm_exit_reason reason, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * vm_device_failed() - a device process died (@msg says how): the run ends
 * with CVM_EXIT_ERROR and @msg, whatever other reason came first (a guest
 * reset right after the device died must not look like success). Its
 * signature fits devproc_config.failed (@ctx is the VM).
 */
void vm_device_failed(void *ctx, int rc, const char *msg);

/* Set the VM's error text (for cvm_vm_last_error) and return @rc. */
int vm_error(struct cvm_vm *vm, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * vm_take_opts() - copy a caller's versioned options struct (its size_t
 * struct_size first) over the defaults in @dst: -EINVAL, with "bad
 * @type.struct_size N" as the VM's error, unless @min <= struct_size <=
 * @dst_size. VM_TAKE_OPTS() takes @min as "through member @last".
 */
int vm_take_opts(struct cvm_vm *vm, void *dst, size_t dst_size, const void *src, size_t min,
		 const char *type);
#define VM_TAKE_OPTS(vm, dst, src, last, type)     \
	vm_take_opts(vm, dst, sizeof(*(dst)), src, \
		     offsetof(__typeof__(*(dst)), last) + sizeof((dst)->last), type)

/* Drive legacy IRQ @line for @source (a bit index) to @level; KVM_IRQ_LINE on change. */
void vm_set_irq(struct cvm_vm *vm, unsigned int line, unsigned int source, int level);

/* Legacy devices: create and register them on the buses (at run start). */
int vm_setup_legacy_devices(struct cvm_vm *vm);
void vm_destroy_legacy_devices(struct cvm_vm *vm);

/* vCPUs: create, boot state, threads, kicking. */
int vcpu_create(struct cvm_vm *vm, struct vcpu *v, unsigned int id);
void vcpu_destroy(struct vcpu *v);
int vcpus_start(struct cvm_vm *vm);
void vcpus_stop_and_join(struct cvm_vm *vm);
/* Park every vCPU outside KVM_RUN (-EALREADY when suspended) / let them run again. */
int vcpus_pause(struct cvm_vm *vm);
int vcpus_resume(struct cvm_vm *vm);

/*
 * Adding a virtio device: vm_virtio_env() gives what its constructor needs
 * (INTx wiring for the next PCI function included); vm_add_virtio_dev()
 * plugs it into the PCI bus and takes ownership (on failure too).
 */
void vm_virtio_env(struct cvm_vm *vm, struct virtio_env *env);
int vm_add_virtio_dev(struct cvm_vm *vm, struct virtio_pci *vp, void *dev,
		      void (*destroy)(void *dev));

/* Devices every VM gets unless told otherwise (virtio-rng), added at run start. */
int vm_setup_default_devices(struct cvm_vm *vm);

/* PCI and virtio devices: the bus at creation, workers around the run. */
int vm_setup_pci(struct cvm_vm *vm, struct cvm_errbuf *err);
int vm_start_devices(struct cvm_vm *vm);
void vm_stop_devices(struct cvm_vm *vm);
void vm_destroy_devices(struct cvm_vm *vm);
/* The command line as the kernel gets it: the user's, plus root= for a root disk. */
char *vm_full_cmdline(struct cvm_vm *vm);

/*
 * The UARTs in their own process (serial_proc.c), when the sandbox is on:
 * created with the legacy devices, started with the other device processes.
 */
extern const struct cvm_io_ops serial_proxy_ops;
int vm_serial_proc_create(struct cvm_vm *vm, struct cvm_errbuf *err);
int vm_serial_proc_start(struct cvm_vm *vm, struct cvm_errbuf *err);
void vm_serial_proc_stop(struct cvm_vm *vm);
void vm_serial_proc_destroy(struct cvm_vm *vm);
/* The UARTs' device process, NULL when there is none. */
struct devproc *vm_serial_devproc(const struct cvm_vm *vm);
/* Input for a port, and how much it takes now: directly or through the process. */
size_t vm_serial_receive(struct serial_port *p, const uint8_t *buf, size_t n);
size_t vm_serial_rx_space(struct serial_port *p);
/* In the UARTs' process: where the UARTs' callbacks go. */
bool vm_serial_in_child(const struct cvm_vm *vm);
void vm_serial_child_irq(struct cvm_vm *vm, unsigned int idx, int level);
void vm_serial_child_rx_space(struct cvm_vm *vm, unsigned int idx);

/* The serial-input and stop loop run by cvm_vm_run()'s thread. */
int vm_event_loop(struct cvm_vm *vm);

#endif
