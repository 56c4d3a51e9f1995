// SPDX-License-Identifier: BSD-3-Clause
/* Running a VM: boot state, vCPU threads, the stop and serial-input loop. */
#include "core/vm.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/bootparams.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "control/server.h"
#include "devices/serial.h"
#include "kvm/kvm.h"

void vm_request_exit(struct cvm_vm *vm, enum cvm_exit_reason reason, int rc, const char *fmt, ...)
{
	va_list ap;
	bool first = false;
	uint64_t one = 1;

	pthread_mutex_lock(&vm->lock);
	if (!vm->exit_set) {
		first = true;
		vm->exit_set = true;
		vm->exit_reason = reason;
		vm->exit_rc = rc;
		if (reason == CVM_EXIT_ERROR) {
			va_start(ap, fmt);
			vsnprintf(vm->error, sizeof(vm->error), fmt, ap);
			va_end(ap);
		}
	}
	pthread_mutex_unlock(&vm->lock);
	if (!first)
		return;
	/* An error is returned through cvm_vm_last_error(); log it only when debugging. */
	if (reason == CVM_EXIT_ERROR) {
		log_debug(&vm->log, "stopping on error: %s", vm->error);
	} else if (vm->log.level >= CVM_LOG_DEBUG) {
		char msg[256];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		log_debug(&vm->log, "stopping: %s", msg);
	}
	atomic_store(&vm->stopping, true);
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_err(&vm->log, "cannot wake the VM's main loop: %s", strerror(errno));
}

void vm_device_failed(void *ctx, int rc, const char *msg)
{
	struct cvm_vm *vm = ctx;
	uint64_t one = 1;

	pthread_mutex_lock(&vm->lock);
	if (!vm->exit_set || vm->exit_reason != CVM_EXIT_ERROR) {
		vm->exit_set = true;
		vm->exit_reason = CVM_EXIT_ERROR;
		vm->exit_rc = rc < 0 ? rc : -EPIPE;
		snprintf(vm->error, sizeof(vm->error), "%s", msg);
	}
	pthread_mutex_unlock(&vm->lock);
	atomic_store(&vm->stopping, true);
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_err(&vm->log, "cannot wake the VM's main loop: %s", strerror(errno));
}

int cvm_vm_stop(cvm_vm *vm)
{
	uint64_t one = 1;

	if (!vm)
		return -EINVAL;
	/* Async-signal-safe: an atomic store and a write(2). */
	atomic_store(&vm->stop_requested, true);
	if (write(vm->stop_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

void vm_set_irq(struct cvm_vm *vm, unsigned int line, unsigned int source, int level)
{
	if (line >= 16 || source >= 64)
		return;
	pthread_mutex_lock(&vm->irq_lock);
	uint64_t before = vm->irq_sources[line];

	if (level)
		vm->irq_sources[line] |= 1ULL << source;
	else
		vm->irq_sources[line] &= ~(1ULL << source);
	if (!before != !vm->irq_sources[line]) {
		struct kvm_irq_level irq = { .irq = line, .level = vm->irq_sources[line] != 0 };
		int rc = kvm_ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq);

		if (rc)
			log_err(&vm->log, "KVM_IRQ_LINE %u: %s", line, strerror(-rc));
	}
	pthread_mutex_unlock(&vm->irq_lock);
}

/* ACPI tables (CPUs, IOAPIC, legacy devices, PCI0), their address in boot_params too. */
static int setup_acpi(struct cvm_vm *vm, struct cvm_errbuf *err)
{
	struct x86_acpi_config ac = {
		.nr_vcpus = vm->nr_vcpus,
		.ioapic_addr = 0xfec00000,
		.ioapic_id = 0,
		.sci_irq = 9,
		.i8042 = true,
		.rtc = true,
		.serial_mask = (1u << CVM_NR_SERIAL) - 1,
		.pci_mmio_start = CVM_PCI_MMIO_START,
		.pci_mmio_end = CVM_PCI_MMIO_END,
		.sleep_port = CVM_ACPI_SLEEP_PORT,
	};
	uint64_t rsdp;
	int rc = x86_setup_acpi(&vm->mem, &ac, &rsdp, err);

	if (rc)
		return rc;
	if (gmem_write(&vm->mem, X86_ZERO_PAGE + offsetof(struct boot_params, acpi_rsdp_addr),
		       &rsdp, sizeof(rsdp)))
		return errf(err, -EFAULT, "cannot write acpi_rsdp_addr");
	return 0;
}

static int prepare_boot(struct cvm_vm *vm)
{
	struct cvm_errbuf err = { "" };
	int rc;

	char *cmdline = vm_full_cmdline(vm);

	if (!cmdline)
		return vm_error(vm, -ENOMEM, "out of memory");
	rc = x86_setup_boot_params(&vm->mem, &vm->kernel, cmdline, vm->initrd_addr, vm->initrd_size,
				   &err);
	free(cmdline);
	if (!rc)
		rc = setup_acpi(vm, &err);
	if (!rc)
		rc = x86_setup_boot_tables(&vm->mem, &err);
	if (!rc)
		rc = x86_setup_vcpu_boot(vm->vcpus[0].fd, vm->kernel.entry, X86_ZERO_PAGE, &err);
	if (rc)
		return vm_error(vm, rc, "%s", err.msg);
	return 0;
}

int cvm_vm_run(cvm_vm *vm, enum cvm_exit_reason *reason)
{
	int rc;

	if (reason)
		*reason = CVM_EXIT_ERROR;
	if (!vm)
		return -EINVAL;
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	if (!vm->kernel_loaded)
		return vm_error(vm, -EINVAL, "no kernel set: call cvm_vm_set_kernel() first");
	vm->state = VM_RUNNING;

	rc = vm_setup_legacy_devices(vm);
	if (!rc)
		rc = vm_setup_default_devices(vm);
	if (!rc)
		rc = prepare_boot(vm);
	if (!rc)
		rc = vm_start_devices(vm);
	clock_gettime(CLOCK_MONOTONIC, &vm->started_at);
	if (!rc && !atomic_load(&vm->stop_requested))
		rc = vcpus_start(vm);
	if (!rc)
		rc = vm_event_loop(vm);
	vcpus_stop_and_join(vm);
	vm_stop_devices(vm);
	vm_destroy_legacy_devices(vm);
	/* The socket goes with the run: nobody can control this VM any more. */
	ctl_server_close(vm->ctl);
	vm->ctl = NULL;
	vm->state = VM_DONE;
	if (rc)
		return rc;

	pthread_mutex_lock(&vm->lock);
	if (!vm->exit_set) {
		vm->exit_set = true;
		vm->exit_reason = CVM_EXIT_STOPPED;
		vm->exit_rc = 0;
	}
	enum cvm_exit_reason why = vm->exit_reason;

	rc = vm->exit_rc;
	pthread_mutex_unlock(&vm->lock);
	if (reason)
		*reason = why;
	log_debug(&vm->log, "VM stopped: %s", cvm_exit_reason_name(why));
	return rc;
}

int cvm_vm_suspend(cvm_vm *vm)
{
	if (!vm || vm->state != VM_RUNNING)
		return -EINVAL;
	return vcpus_pause(vm);
}

int cvm_vm_resume(cvm_vm *vm)
{
	if (!vm || vm->state != VM_RUNNING)
		return -EINVAL;
	return vcpus_resume(vm);
}

int cvm_vm_set_control_socket(cvm_vm *vm, const char *path)
{
	struct cvm_errbuf err = { "" };
	int rc;

	if (!vm || !path)
		return -EINVAL;
	if (vm->state != VM_CREATED || vm->ctl)
		return vm_error(vm, -EBUSY, "the control socket is set or the VM has run");
	rc = ctl_server_open(&vm->ctl, path, &err);
	if (rc)
		return vm_error(vm, rc, "%s", err.msg);
	return 0;
}

const char *cvm_vm_control_socket(const cvm_vm *vm)
{
	return vm && vm->ctl ? vm->ctl->path : NULL;
}
