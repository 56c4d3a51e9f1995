// SPDX-License-Identifier: BSD-3-Clause
/* Creating, configuring and destroying a VM. */
#include "core/vm.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "control/server.h"
#include "core/plugin.h"
#include "kvm/kvm.h"

/* Where KVM puts the real-mode TSS and identity map it needs on Intel (inside the hole). */
#define KVM_TSS_ADDR 0xfffbd000UL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

static __thread char create_error[1024];

const char *cvm_last_create_error(void)
{
	return create_error;
}

int vm_error(struct cvm_vm *vm, int rc, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	va_start(ap, fmt);
	vsnprintf(vm->error, sizeof(vm->error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&vm->lock);
	return rc;
}

const char *cvm_vm_last_error(const cvm_vm *vm)
{
	return vm ? vm->error : "";
}

/*
 * Where the installed seccomp policies are: next to the library that runs
 * this code (the same place as below unless the installed tree was moved,
 * as by cmake --install --prefix), else $prefix/share/policy/cvm for the
 * prefix libcvm was configured with. Next to the library first: a moved
 * tree must not take another installation's policies.
 */
static char *default_policy_dir(void)
{
	static const char *const rel[] = { "/../share/policy/cvm", "/../../share/policy/cvm" };
	Dl_info info;
	char *dir, *slash, *p;

	if (!dladdr((void *)cvm_vm_create, &info) || !info.dli_fname ||
	    !(dir = strdup(info.dli_fname)))
		return strdup(CVM_POLICY_DIR);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	for (unsigned int i = 0; slash && i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (asprintf(&p, "%s%s", dir, rel[i]) < 0)
			break;
		if (access(p, X_OK) == 0) {
			free(dir);
			return p;
		}
		free(p);
	}
	free(dir);
	return strdup(CVM_POLICY_DIR);
}

/* Copy the caller's config over the defaults, honouring its struct_size. */
static int copy_config(cvm_vm_config *dst, const cvm_vm_config *src, struct cvm_errbuf *err)
{
	const cvm_vm_config defaults = CVM_VM_CONFIG_INIT;
	const size_t min = offsetof(cvm_vm_config, vcpus) + sizeof(src->vcpus);

	*dst = defaults;
	if (!src)
		return 0;
	if (src->struct_size < min)
		return errf(err, -EINVAL,
			    "cvm_vm_config.struct_size %zu is too small (use "
			    "CVM_VM_CONFIG_INIT)",
			    src->struct_size);
	if (src->struct_size > sizeof(*dst)) {
		/* A newer caller: accept only if it left the fields we don't know zero. */
		const unsigned char *extra = (const unsigned char *)src + sizeof(*dst);

		for (size_t i = 0; i < src->struct_size - sizeof(*dst); i++) {
			if (extra[i])
				return errf(err, -EINVAL,
					    "cvm_vm_config has options this libcvm "
					    "%s does not know",
					    CVM_VERSION_STRING);
		}
	}
	memcpy(dst, src, src->struct_size < sizeof(*dst) ? src->struct_size : sizeof(*dst));
	dst->struct_size = sizeof(*dst);
	return 0;
}

static int check_config(const cvm_vm_config *c, int max_vcpus, struct cvm_errbuf *err)
{
	struct sysinfo si;

	if (c->mem_mib < CVM_MIN_MEM_MIB)
		return errf(err, -EINVAL, "guest memory of %u MiB is too small (minimum %d MiB)",
			    c->mem_mib, CVM_MIN_MEM_MIB);
	if (c->mem_mib > CVM_MAX_MEM_MIB)
		return errf(err, -EINVAL, "guest memory of %u MiB is too large (maximum %d MiB)",
			    c->mem_mib, CVM_MAX_MEM_MIB);
	if (sysinfo(&si) == 0) {
		unsigned long long host = (unsigned long long)si.totalram * si.mem_unit;

		if ((unsigned long long)c->mem_mib * GMEM_MIB > host)
			return errf(err, -ENOMEM,
				    "guest memory of %u MiB is more than this host's "
				    "%llu MiB of RAM",
				    c->mem_mib, host / GMEM_MIB);
	}
	if (c->log_level > CVM_LOG_DEBUG || (int)c->log_level < 0)
		return errf(err, -EINVAL, "bad log level %d", (int)c->log_level);
	if (c->vcpus == 0)
		return errf(err, -EINVAL, "a VM needs at least one vCPU");
	if (c->vcpus > CVM_ABSURD_VCPUS)
		return errf(err, -EINVAL, "%u vCPUs requested: at most %d", c->vcpus,
			    CVM_ABSURD_VCPUS);
	/* The limits below need KVM's answer; check_config() runs again once it is open. */
	if (max_vcpus <= 0)
		return 0;
	if (c->vcpus > (unsigned int)max_vcpus)
		return errf(err, -EINVAL, "%u vCPUs requested, KVM allows at most %d", c->vcpus,
			    max_vcpus);
	return 0;
}

static int create_kvm_vm(struct cvm_vm *vm, const char *kvm_path, struct cvm_errbuf *err)
{
	int rc;

	vm->kvm_fd = kvm_open(kvm_path, err);
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	rc = kvm_check_caps(vm->kvm_fd, err);
	if (rc)
		return rc;
	rc = kvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (rc < 0)
		return errf(err, rc, "KVM_CREATE_VM: %s", strerror(-rc));
	vm->vm_fd = rc;
	fcntl(vm->vm_fd, F_SETFD, FD_CLOEXEC);

	rc = kvm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (rc < (int)sizeof(struct kvm_run))
		return errf(err, rc < 0 ? rc : -EIO, "KVM_GET_VCPU_MMAP_SIZE returned %d", rc);
	vm->run_size = (size_t)rc;

	rc = kvm_ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)KVM_TSS_ADDR);
	if (rc)
		return errf(err, rc, "KVM_SET_TSS_ADDR: %s", strerror(-rc));
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;

	if (kvm_cap(vm->kvm_fd, KVM_CAP_SET_IDENTITY_MAP_ADDR))
		kvm_ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	rc = kvm_get_supported_cpuid(vm->kvm_fd, &vm->cpuid);
	if (rc)
		return errf(err, rc, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-rc));
	return 0;
}

static int create_memory(struct cvm_vm *vm, struct cvm_errbuf *err)
{
	int rc = gmem_create(&vm->mem, (uint64_t)vm->mem_mib * GMEM_MIB, err);

	if (rc)
		return rc;
	for (unsigned int i = 0; i < vm->mem.nr_regions; i++) {
		const struct gmem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};

		rc = kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot);
		if (rc)
			return errf(err, rc, "KVM_SET_USER_MEMORY_REGION (%llu MiB at 0x%llx): %s",
				    (unsigned long long)(r->size / GMEM_MIB),
				    (unsigned long long)r->gpa, strerror(-rc));
	}
	rc = kvm_ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0);
	if (rc)
		return errf(err, rc, "KVM_CREATE_IRQCHIP: %s", strerror(-rc));
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	rc = kvm_ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit);
	if (rc)
		return errf(err, rc, "KVM_CREATE_PIT2: %s", strerror(-rc));
	return 0;
}

int cvm_vm_create(cvm_vm **out, const cvm_vm_config *ucfg)
{
	struct cvm_errbuf err = { "" };
	cvm_vm_config cfg;
	struct cvm_vm *vm = NULL;
	int rc;

	create_error[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	rc = copy_config(&cfg, ucfg, &err);
	if (rc)
		goto fail;

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		rc = errf(&err, -ENOMEM, "out of memory");
		goto fail;
	}
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = vm->wake_efd = -1;
	vm->mem.memfd = -1;
	vm->root_disk = -1;
	vm->vsock_cid_lock = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->irq_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->log = (struct cvm_logger){ cfg.log_level, cfg.log_fn, cfg.log_opaque };
	vm->mem_mib = cfg.mem_mib;
	vm->nr_vcpus = cfg.vcpus;
	for (unsigned int i = 0; i < CVM_NR_SERIAL; i++) {
		vm->serial[i].cfg = (cvm_serial_config)CVM_SERIAL_CONFIG_INIT;
		vm->serial[i].cfg.port = i + 1;
	}
	bus_init(&vm->pio);
	bus_init(&vm->mmio);

	rc = check_config(&cfg, 0, &err);
	if (rc)
		goto fail;
	rc = x86_cpuid_parse_disable(&vm->cpuid_disable, cfg.cpuid_disable, &err);
	if (rc)
		goto fail;
	rc = create_kvm_vm(vm, cfg.kvm_path ? cfg.kvm_path : "/dev/kvm", &err);
	if (rc)
		goto fail;
	rc = check_config(&cfg, kvm_cap(vm->kvm_fd, KVM_CAP_MAX_VCPUS), &err);
	if (rc)
		goto fail;
	vm->sandbox = !cfg.disable_sandbox;
	vm->policy_dir = cfg.seccomp_policy_dir ? strdup(cfg.seccomp_policy_dir) :
						  default_policy_dir();
	if (!vm->policy_dir) {
		rc = errf(&err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (vm->sandbox && access(vm->policy_dir, R_OK | X_OK)) {
		rc = errf(&err, -errno,
			  "seccomp policy directory %s: %s (install libcvm's policies, point "
			  "cvm_vm_config.seccomp_policy_dir (cvm: --seccomp-policy-dir) at them, "
			  "or set disable_sandbox (cvm: --disable-sandbox))",
			  vm->policy_dir, strerror(errno));
		goto fail;
	}
	rc = create_memory(vm, &err);
	if (rc)
		goto fail;
	rc = vm_setup_pci(vm, &err);
	if (rc)
		goto fail;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0 || vm->wake_efd < 0) {
		rc = errf(&err, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		rc = errf(&err, -ENOMEM, "out of memory");
		goto fail;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		rc = vcpu_create(vm, &vm->vcpus[i], i);
		if (rc) {
			errf(&err, rc, "%s", vm->error);
			goto fail;
		}
	}
	log_debug(&vm->log, "VM created: %u MiB, %u vCPU(s)", vm->mem_mib, vm->nr_vcpus);
	*out = vm;
	return 0;
fail:
	snprintf(create_error, sizeof(create_error), "%s", err.msg[0] ? err.msg : strerror(-rc));
	cvm_vm_destroy(vm);
	return rc;
}

int cvm_vm_set_kernel(cvm_vm *vm, const char *path, const char *cmdline)
{
	struct cvm_errbuf err = { "" };
	struct kernel_image k;
	int rc;

	if (!vm || !path)
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	if (vm->kernel_loaded)
		return vm_error(vm, -EBUSY, "a kernel is already loaded");
	rc = loader_load_kernel(&vm->mem, path, &k, &err);
	if (rc)
		return vm_error(vm, rc, "%s", err.msg);
	cmdline = cmdline ? cmdline : "";
	if (strlen(cmdline) > k.cmdline_max)
		return vm_error(vm, -E2BIG, "the kernel command line is %zu bytes, %s accepts %u",
				strlen(cmdline), path, k.cmdline_max);
	char *copy = strdup(cmdline);

	if (!copy)
		return vm_error(vm, -ENOMEM, "out of memory");
	free(vm->cmdline);
	vm->cmdline = copy;
	vm->kernel = k;
	vm->kernel_loaded = true;
	log_debug(&vm->log, "kernel %s: entry 0x%llx, 0x%llx-0x%llx", path,
		  (unsigned long long)k.entry, (unsigned long long)k.load_start,
		  (unsigned long long)k.load_end);
	return 0;
}

int cvm_vm_set_initrd(cvm_vm *vm, const char *path)
{
	struct cvm_errbuf err = { "" };
	int rc;

	if (!vm || !path)
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	if (!vm->kernel_loaded)
		return vm_error(vm, -EINVAL, "set the kernel before the initrd");
	rc = loader_load_initrd(&vm->mem, path, &vm->kernel, &vm->initrd_addr, &vm->initrd_size,
				&err);
	if (rc)
		return vm_error(vm, rc, "%s", err.msg);
	log_debug(&vm->log, "initrd %s: %llu bytes at 0x%llx", path,
		  (unsigned long long)vm->initrd_size, (unsigned long long)vm->initrd_addr);
	return 0;
}

int vm_take_opts(struct cvm_vm *vm, void *dst, size_t dst_size, const void *src, size_t min,
		 const char *type)
{
	size_t size;

	memcpy(&size, src, sizeof(size));
	if (size < min || size > dst_size)
		return vm_error(vm, -EINVAL, "bad %s.struct_size %zu", type, size);
	memcpy(dst, src, size);
	return 0;
}

int cvm_vm_set_serial(cvm_vm *vm, const cvm_serial_config *cfg)
{
	cvm_serial_config c = CVM_SERIAL_CONFIG_INIT;

	if (!vm || !cfg)
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	if (VM_TAKE_OPTS(vm, &c, cfg, in_fd, "cvm_serial_config"))
		return -EINVAL;
	if (c.port < 1 || c.port > CVM_NR_SERIAL)
		return vm_error(vm, -EINVAL, "serial port %u does not exist (COM1 to COM%d)",
				c.port, CVM_NR_SERIAL);
	if ((c.out_fd >= 0 && fcntl(c.out_fd, F_GETFD) < 0) ||
	    (c.in_fd >= 0 && fcntl(c.in_fd, F_GETFD) < 0))
		return vm_error(vm, -EBADF, "COM%u: bad file descriptor", c.port);
	for (unsigned int i = 0; c.in_fd >= 0 && i < CVM_NR_SERIAL; i++) {
		if (i != c.port - 1 && vm->serial[i].cfg.in_fd == c.in_fd)
			return vm_error(vm, -EINVAL, "COM%u and COM%u cannot read the same input",
					i + 1, c.port);
	}
	vm->serial[c.port - 1].cfg = c;
	return 0;
}

void cvm_vm_destroy(cvm_vm *vm)
{
	if (!vm)
		return;
	vm_destroy_legacy_devices(vm);
	plugin_io_destroy(vm);
	vm_destroy_devices(vm);
	ctl_server_close(vm->ctl);
	if (vm->vsock_cid_lock >= 0)
		close(vm->vsock_cid_lock);
	if (vm->vcpus) {
		for (unsigned int i = 0; i < vm->nr_vcpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	gmem_destroy(&vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	free(vm->cpuid);
	free(vm->cmdline);
	free(vm->policy_dir);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	if (vm->wake_efd >= 0)
		close(vm->wake_efd);
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->irq_lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	free(vm);
}
