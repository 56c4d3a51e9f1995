// SPDX-License-Identifier: BSD-3-Clause
/* Custom devices: what port-I/O/MMIO and virtio devices share (device.h). */
#include "core/plugin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/kvm.h"

#define MSI_WINDOW_MASK 0xfffffffffff00000ULL /* the high half too: 0xfeexxxxx only */
#define MSI_WINDOW 0xfee00000ULL

struct plug_msi {
	uint64_t addr;
	uint32_t data;
};

int plugin_init(struct cvm_device *d, struct cvm_vm *vm, const char *name, unsigned int flags,
		const char *policy, const char *policy_file, const int *keep_fds,
		unsigned int nr_keep_fds)
{
	if (!name || !*name)
		return vm_error(vm, -EINVAL, "a custom device needs a name");
	snprintf(d->name, sizeof(d->name), "%s", name);
	if (flags & ~(unsigned int)CVM_DEVICE_IN_VMM)
		return vm_error(vm, -EINVAL, "%s: unknown flags 0x%x", name, flags);
	d->vm = vm;
	d->flags = flags;
	d->stop_efd = -1;
	d->sandboxed = vm->sandbox && !(flags & CVM_DEVICE_IN_VMM);
	if (d->sandboxed && !policy && !policy_file)
		return vm_error(vm, -EINVAL,
				"%s: a sandboxed device needs its seccomp policy (policy or "
				"policy_file), or CVM_DEVICE_IN_VMM",
				name);
	if (nr_keep_fds > PLUGIN_MAX_FDS || (nr_keep_fds && !keep_fds))
		return vm_error(vm, -EINVAL, "%s: at most %d descriptors to keep", name,
				PLUGIN_MAX_FDS);
	for (unsigned int i = 0; i < nr_keep_fds; i++)
		d->keep_fds[i] = keep_fds[i];
	d->nr_keep_fds = nr_keep_fds;
	if ((policy && !(d->policy_text = strdup(policy))) ||
	    (policy_file && !(d->policy_file = strdup(policy_file))))
		return vm_error(vm, -ENOMEM, "out of memory");
	return 0;
}

void plugin_free_strings(struct cvm_device *d)
{
	free(d->policy_text);
	free(d->policy_file);
	d->policy_text = d->policy_file = NULL;
}

struct devproc *plugin_devproc(struct cvm_device *d)
{
	return d->is_virtio ? d->vp.proc : d->dp;
}

static bool in_child(const cvm_device *d)
{
	return d->is_virtio ? d->vp.in_child : d->in_child;
}

void plugin_exit_vm(struct cvm_device *d, int code)
{
	struct cvm_vm *vm = d->vm;

	pthread_mutex_lock(&vm->lock);
	if (!vm->exit_set)
		vm->device_exit_code = code;
	pthread_mutex_unlock(&vm->lock);
	vm_request_exit(vm, CVM_EXIT_DEVICE, 0, "%s ended the run with code %d", d->name, code);
}

static int signal_msi(struct cvm_vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};
	int rc = kvm_ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);

	return rc < 0 ? rc : 0;
}

void plugin_vmm_event(struct cvm_device *d, uint8_t op, uint32_t arg, const void *data)
{
	struct plug_msi m;

	switch (op) {
	case PLUG_EVT_IRQ:
		if (d->irq)
			vm_set_irq(d->vm, d->irq, d->irq_source, arg != 0);
		break;
	case PLUG_EVT_MSI:
		memcpy(&m, data, sizeof(m));
		if ((m.addr & MSI_WINDOW_MASK) == MSI_WINDOW)
			signal_msi(d->vm, m.addr, m.data);
		break;
	case PLUG_EVT_EXIT:
		plugin_exit_vm(d, (int)arg);
		break;
	}
}

int cvm_device_set_irq(cvm_device *d, int level)
{
	if (!d || !d->irq)
		return -EINVAL;
	if (in_child(d))
		return devproc_child_event_data(plugin_devproc(d), PLUG_EVT_IRQ, 0, level != 0,
						NULL, 0);
	vm_set_irq(d->vm, d->irq, d->irq_source, level != 0);
	return 0;
}

int cvm_device_signal_msi(cvm_device *d, uint64_t address, uint32_t data)
{
	struct plug_msi m = { .addr = address, .data = data };

	if (!d || (address & MSI_WINDOW_MASK) != MSI_WINDOW)
		return -EINVAL;
	if (in_child(d))
		return devproc_child_event_data(plugin_devproc(d), PLUG_EVT_MSI, 0, 0, &m,
						sizeof(m));
	return signal_msi(d->vm, address, data);
}

void cvm_device_exit_vm(cvm_device *d, int code)
{
	if (!d)
		return;
	if (in_child(d) && d->in_request) {
		/* An I/O device's access: the answer carries it, the vCPU ends the run at once. */
		d->exit_pending = true;
		d->exit_code = code;
	} else if (in_child(d)) {
		devproc_child_event_data(plugin_devproc(d), PLUG_EVT_EXIT, 0, (uint32_t)code, NULL,
					 0);
	} else {
		plugin_exit_vm(d, code);
	}
}

int cvm_vm_device_exit_code(const cvm_vm *vm)
{
	if (!vm)
		return -1;
	return vm->exit_set && vm->exit_reason == CVM_EXIT_DEVICE ? vm->device_exit_code : -1;
}

int cvm_device_read_guest(cvm_device *d, uint64_t gpa, void *buf, size_t len)
{
	if (!d || (!buf && len))
		return -EINVAL;
	return gmem_read(&d->vm->mem, gpa, buf, len) ? -EFAULT : 0;
}

int cvm_device_write_guest(cvm_device *d, uint64_t gpa, const void *buf, size_t len)
{
	if (!d || (!buf && len))
		return -EINVAL;
	return gmem_write(&d->vm->mem, gpa, buf, len) ? -EFAULT : 0;
}

void cvm_device_log(cvm_device *d, enum cvm_log_level level, const char *fmt, ...)
{
	const struct cvm_logger *lg;
	char msg[900];
	va_list ap;

	if (!d || !fmt)
		return;
	lg = in_child(d) ? devproc_child_logger(plugin_devproc(d)) : &d->vm->log;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cvm_logf(lg, level, "%s: %s", d->name, msg);
}
