// SPDX-License-Identifier: BSD-3-Clause
/*
 * Custom port-I/O and MMIO devices (device.h). In the VMM, the bus calls
 * the device's callbacks under its own lock (one at a time, as in its
 * process). Sandboxed, each device has a process of its own: reads and
 * writes are devproc calls (so a write that ends the run ends it before the
 * guest runs on), and its IRQ level changes come back as events.
 */
#include "core/plugin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

enum { IO_READ = 1, IO_WRITE };
#define PLUG_REP_EXIT 1 /* devproc_rep.val: cvm_device_exit_vm(), code in data[8..11] */

/*
 * Ranges a custom device cannot have: the legacy devices (registered only
 * when the VM runs, so the bus does not know them yet) and what KVM serves
 * in the kernel (the PIC, the PIT and its speaker port, the IOAPIC, the
 * local APIC and the MSI window): a device there would never see an access.
 */
static const struct reserved_range {
	enum cvm_io_space space;
	uint64_t base, size;
	const char *what;
} reserved[] = {
	{ CVM_IO_PIO, 0x20, 2, "the PIC (in KVM)" },
	{ CVM_IO_PIO, 0x40, 4, "the PIT (in KVM)" },
	{ CVM_IO_PIO, 0x60, 1, "the i8042" },
	{ CVM_IO_PIO, 0x61, 1, "the PIT's speaker port (in KVM)" },
	{ CVM_IO_PIO, 0x64, 1, "the i8042" },
	{ CVM_IO_PIO, 0x70, 2, "the CMOS/RTC" },
	{ CVM_IO_PIO, 0x80, 1, "the POST port" },
	{ CVM_IO_PIO, 0xa0, 2, "the PIC (in KVM)" },
	{ CVM_IO_PIO, 0x2e8, 8, "COM4" },
	{ CVM_IO_PIO, 0x2f8, 8, "COM2" },
	{ CVM_IO_PIO, 0x3e8, 8, "COM3" },
	{ CVM_IO_PIO, 0x3f8, 8, "COM1" },
	{ CVM_IO_PIO, 0x4d0, 2, "the PIC's ELCR (in KVM)" },
	{ CVM_IO_PIO, CVM_ACPI_SLEEP_PORT, 2, "the ACPI sleep registers" },
	{ CVM_IO_MMIO, 0xfec00000, 0x1000, "the IOAPIC (in KVM)" },
	{ CVM_IO_MMIO, 0xfee00000, 0x100000, "the local APIC and MSI window" },
};

/* ISA lines no built-in device uses (2 is the cascade; 1, 3, 4, 8, 9, 12 and the PCI lines are taken). */
static bool irq_free(unsigned int irq)
{
	return irq == 6 || irq == 7 || irq == 13 || irq == 14 || irq == 15;
}

/* --- the device's process ------------------------------------------------------------------ */

static void child_run(void *opaque, struct devproc *dp)
{
	struct cvm_device *d = opaque;

	d->in_child = true;
	for (;;) {
		uint64_t v;

		/* The stop eventfd is non-blocking; a stop signal interrupts the wait below. */
		if (read(d->stop_efd, &v, sizeof(v)) == sizeof(v))
			return;
		if (devproc_child_serve(dp) < 0)
			return; /* the VMM is gone */
	}
}

static void child_request(void *opaque, const struct devproc_req *r, struct devproc_rep *rep)
{
	struct cvm_device *d = opaque;
	uint64_t v = 0;

	if (!r->len || r->len > 8 || r->off >= d->size || r->len > d->size - r->off) {
		rep->status = -EINVAL;
		return;
	}
	d->in_request = true;
	d->exit_pending = false;
	if (r->op == IO_READ) {
		v = d->io.read ? d->io.read(d, d->opaque, r->off, r->len) : ~0ULL;
		memcpy(rep->data, &v, 8);
	} else if (r->op == IO_WRITE) {
		memcpy(&v, r->data, r->len);
		if (d->io.write)
			d->io.write(d, d->opaque, r->off, r->len, v);
	} else {
		rep->status = -EINVAL;
	}
	d->in_request = false;
	if (d->exit_pending) {
		rep->val = PLUG_REP_EXIT;
		memcpy(rep->data + 8, &d->exit_code, sizeof(d->exit_code));
	}
}

/* VMM: the device ended the run during this access: stop before the vCPU runs on. */
static void check_exit(struct cvm_device *d, const struct devproc_rep *rep)
{
	int code;

	if (rep->val == PLUG_REP_EXIT) {
		memcpy(&code, rep->data + 8, sizeof(code));
		plugin_exit_vm(d, code);
	}
}

/* --- the VMM's side ------------------------------------------------------------------------ */

static void vmm_event(void *opaque, const struct devproc_evt *e)
{
	plugin_vmm_event(opaque, e->op, e->arg, e->text);
}

static const struct devproc_ops io_devproc_ops = {
	.child_run = child_run,
	.child_request = child_request,
	.event = vmm_event,
};

static void plug_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct cvm_device *d = opaque;
	struct devproc_req r = { .op = IO_READ, .len = (uint8_t)len, .off = off };
	struct devproc_rep rep;
	uint64_t v = ~0ULL;

	if (len > 8)
		len = 8;
	if (d->dp) {
		if (devproc_call(d->dp, &r, &rep) == 0) {
			memcpy(&v, rep.data, 8);
			check_exit(d, &rep);
		}
	} else if (!d->sandboxed && d->io.read) {
		pthread_mutex_lock(&d->lock);
		v = d->io.read(d, d->opaque, off, len);
		pthread_mutex_unlock(&d->lock);
	}
	memcpy(data, &v, len); /* little-endian: the low bytes */
}

static void plug_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct cvm_device *d = opaque;
	struct devproc_req r = { .op = IO_WRITE, .len = (uint8_t)len, .off = off };
	struct devproc_rep rep;
	uint64_t v = 0;

	if (len > 8)
		return;
	memcpy(&v, data, len);
	if (d->dp) {
		/*
		 * A call, not posted: the vCPU resumes the guest only after the
		 * device handled the write, as without the sandbox, and stops
		 * right there when the write ended the run.
		 */
		memcpy(r.data, data, len);
		if (devproc_call(d->dp, &r, &rep) == 0)
			check_exit(d, &rep);
	} else if (!d->sandboxed && d->io.write) {
		pthread_mutex_lock(&d->lock);
		d->io.write(d, d->opaque, off, len, v);
		pthread_mutex_unlock(&d->lock);
	}
}

static const struct cvm_io_ops plugin_bus_ops = { .read = plug_read, .write = plug_write };

static void io_free(struct cvm_device *d)
{
	devproc_stop(d->dp);
	d->dp = NULL;
	if (d->stop_efd >= 0)
		close(d->stop_efd);
	pthread_mutex_destroy(&d->lock);
	plugin_free_strings(d);
	free(d);
}

static int check_range(struct cvm_vm *vm, const cvm_io_device_config *c)
{
	uint64_t end = c->base + c->size;

	if (!c->size || end < c->base)
		return vm_error(vm, -EINVAL, "%s: empty or wrapping range", c->name);
	if (c->space == CVM_IO_PIO && end > 0x10000)
		return vm_error(vm, -EINVAL, "%s: ports end above 0xffff", c->name);
	if (c->space == CVM_IO_MMIO) {
		bool bad = c->base < CVM_PCI_MMIO_END && end > CVM_PCI_MMIO_START;

		for (unsigned int i = 0; i < vm->mem.nr_regions; i++) {
			const struct gmem_region *g = &vm->mem.regions[i];

			bad |= c->base < g->gpa + g->size && end > g->gpa;
		}
		if (bad)
			return vm_error(vm, -EINVAL,
					"%s: MMIO range overlaps guest RAM or the PCI window",
					c->name);
	}
	if (c->space != CVM_IO_PIO && c->space != CVM_IO_MMIO)
		return vm_error(vm, -EINVAL, "%s: unknown address space %d", c->name, c->space);
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		const struct reserved_range *r = &reserved[i];

		if (r->space == c->space && c->base < r->base + r->size && end > r->base)
			return vm_error(vm, -EEXIST, "%s: its range overlaps %s", c->name, r->what);
	}
	return 0;
}

int cvm_vm_add_io_device(cvm_vm *vm, const cvm_io_device_config *ucfg)
{
	cvm_io_device_config c = CVM_IO_DEVICE_CONFIG_INIT;
	struct cvm_device *d;
	int rc;

	if (!vm)
		return -EINVAL;
	if (!ucfg)
		return vm_error(vm, -EINVAL, "no cvm_io_device_config");
	if (vm_take_opts(vm, &c, sizeof(c), ucfg, offsetof(cvm_io_device_config, irq),
			 "cvm_io_device_config"))
		return -EINVAL;
	if (!c.ops)
		return vm_error(vm, -EINVAL, "%s: no ops", c.name ? c.name : "(no name)");
	if (c.ops->struct_size < sizeof(size_t) || c.ops->struct_size > sizeof(cvm_io_device_ops))
		return vm_error(vm, -EINVAL, "bad cvm_io_device_ops.struct_size %zu",
				c.ops->struct_size);
	if (vm->state != VM_CREATED)
		return vm_error(vm, -EBUSY, "the VM has already run");
	if (!c.name || !*c.name)
		return vm_error(vm, -EINVAL, "a custom device needs a name");
	if (vm->nr_io_devs == CVM_MAX_IO_DEVS)
		return vm_error(vm, -ENOSPC, "%s: at most %d custom I/O devices", c.name,
				CVM_MAX_IO_DEVS);
	rc = check_range(vm, &c);
	if (rc)
		return rc;
	if (c.irq && !irq_free(c.irq))
		return vm_error(vm, -EINVAL, "%s: IRQ %u is not free (use 6, 7, 13, 14 or 15)",
				c.name, c.irq);
	d = calloc(1, sizeof(*d));
	if (!d)
		return vm_error(vm, -ENOMEM, "out of memory");
	pthread_mutex_init(&d->lock, NULL);
	d->stop_efd = -1; /* io_free() closes it */
	rc = plugin_init(d, vm, c.name, c.flags, c.policy, c.policy_file, c.keep_fds,
			 c.nr_keep_fds);
	if (rc) {
		io_free(d);
		return rc;
	}
	memcpy(&d->io, c.ops, c.ops->struct_size);
	d->space = c.space;
	d->base = c.base;
	d->size = c.size;
	d->opaque = c.opaque;
	d->irq = c.irq;
	d->irq_source = IRQ_SRC_CUSTOM(vm->nr_io_devs);
	if (d->sandboxed) {
		d->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->stop_efd < 0) {
			rc = vm_error(vm, -errno, "%s: eventfd: %s", d->name, strerror(errno));
			io_free(d);
			return rc;
		}
	}
	rc = bus_register(c.space == CVM_IO_PIO ? &vm->pio : &vm->mmio, c.base, c.size,
			  &plugin_bus_ops, d, d->name);
	if (rc) {
		io_free(d);
		return vm_error(vm, rc, "%s: its range overlaps another device's", c.name);
	}
	vm->io_devs[vm->nr_io_devs++] = d;
	return 0;
}

int plugin_io_start(struct cvm_vm *vm, struct cvm_errbuf *err)
{
	for (unsigned int i = 0; i < vm->nr_io_devs; i++) {
		struct cvm_device *d = vm->io_devs[i];
		int fds[PLUGIN_MAX_FDS + 1];

		if (!d->sandboxed)
			continue;
		memcpy(fds, d->keep_fds, d->nr_keep_fds * sizeof(int));
		fds[d->nr_keep_fds] = d->stop_efd;

		const struct devproc_config c = {
			.name = d->name,
			.policy = "custom",
			.policy_dir = vm->policy_dir,
			.policy_text = d->policy_text,
			.policy_file = d->policy_file,
			.new_userns = true,
			.keep_fds = fds,
			.nr_keep_fds = d->nr_keep_fds + 1,
			.stop_efd = d->stop_efd,
			.interrupt_stop = true, /* its loop waits in recv */
			.stopping = &vm->stopping,
			.log = &vm->log,
			.failed = vm_device_failed,
			.failed_ctx = vm,
			.ops = &io_devproc_ops,
			.opaque = d,
		};
		int rc = devproc_start(&d->dp, &c, err);

		if (rc)
			return rc;
	}
	return 0;
}

void plugin_io_stop(struct cvm_vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_io_devs; i++) {
		devproc_stop(vm->io_devs[i]->dp);
		vm->io_devs[i]->dp = NULL;
	}
}

void plugin_io_destroy(struct cvm_vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_io_devs; i++) {
		struct cvm_device *d = vm->io_devs[i];

		bus_unregister(d->space == CVM_IO_PIO ? &vm->pio : &vm->mmio, d->base, d);
		io_free(d);
	}
	vm->nr_io_devs = 0;
}
