// SPDX-License-Identifier: BSD-3-Clause
/* The legacy PC devices every VM has: COM1-4, CMOS/RTC, i8042, POST port. */
#include "core/vm.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "devices/cmos.h"
#include "devices/i8042.h"
#include "devices/serial.h"

static const struct {
	uint16_t base;
	uint8_t irq;
} com_ports[CVM_NR_SERIAL] = { { 0x3f8, 4 }, { 0x2f8, 3 }, { 0x3e8, 4 }, { 0x2e8, 3 } };

#define CMOS_PORT 0x70
#define POST_PORT 0x80

/* IRQ sources: one bit per device that can drive a legacy line. */
#define IRQ_SRC_COM(i) (i)

static void com_set_irq(void *ctx, int level)
{
	struct serial_port *p = ctx;

	if (vm_serial_in_child(p->vm))
		vm_serial_child_irq(p->vm, p->cfg.port - 1, level);
	else
		vm_set_irq(p->vm, p->irq, IRQ_SRC_COM(p->cfg.port - 1), level);
}

static void com_rx_space(void *ctx)
{
	struct serial_port *p = ctx;
	struct cvm_vm *vm = p->vm;
	uint64_t one = 1;

	if (vm_serial_in_child(vm)) {
		vm_serial_child_rx_space(vm, p->cfg.port - 1);
		return;
	}
	/* Wake the main loop so that it reads more input for this port. */
	if (write(vm->wake_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err(&vm->log, "serial wake-up: %s", strerror(errno));
}

static const struct serial_host_ops serial_host = {
	.set_irq = com_set_irq,
	.rx_space = com_rx_space,
};

static void i8042_reset(void *ctx)
{
	vm_request_exit(ctx, CVM_EXIT_RESET, 0, "guest reset through the i8042");
}

/* Port 0x80: POST codes and I/O delays; writes are dropped, reads give 0xff. */
static void post_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	memset(data, 0xff, len);
}

static void post_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	(void)data;
	(void)len;
}

static const struct cvm_io_ops post_ops = { .read = post_read, .write = post_write };

/*
 * The ACPI sleep control register (hardware-reduced ACPI, FADT): writing
 * SLP_EN with SLP_TYP = \_S5's type powers the VM off. The status register
 * next to it reads 0. Other sleep states are not offered.
 */
static void sleep_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	if (off != 0 || len < 1)
		return;
	if ((data[0] & X86_ACPI_SLP_EN) && ((data[0] >> 2) & 7) == X86_ACPI_S5_TYPE)
		vm_request_exit(opaque, CVM_EXIT_POWEROFF, 0, "guest powered off (ACPI S5)");
}

static void sleep_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static const struct cvm_io_ops sleep_ops = { .read = sleep_read, .write = sleep_write };

int vm_setup_legacy_devices(struct cvm_vm *vm)
{
	struct cvm_errbuf err = { "" };
	int rc;

	/* Sandboxed: the UARTs run in a process of their own, the VMM forwards their ports. */
	if (vm->sandbox && vm_serial_proc_create(vm, &err))
		return vm_error(vm, -ENOMEM, "%s", err.msg);
	for (unsigned int i = 0; i < CVM_NR_SERIAL; i++) {
		struct serial_port *p = &vm->serial[i];

		p->vm = vm;
		p->irq = com_ports[i].irq;
		p->dev = serial_create(p->cfg.out_fd, &serial_host, p);
		if (!p->dev)
			return vm_error(vm, -ENOMEM, "out of memory");
		rc = bus_register(&vm->pio, com_ports[i].base, SERIAL_NR_REGS,
				  vm->sproc ? &serial_proxy_ops : &serial_io_ops,
				  vm->sproc ? (void *)p : (void *)p->dev, "serial");
		if (rc)
			return vm_error(vm, rc, "cannot register COM%u: %s", i + 1, strerror(-rc));
	}

	uint64_t low = gmem_low_end(&vm->mem);

	vm->cmos = cmos_create(NULL, NULL, low, vm->mem.total - low);
	vm->i8042 = i8042_create(i8042_reset, vm);
	if (!vm->cmos || !vm->i8042)
		return vm_error(vm, -ENOMEM, "out of memory");
	rc = bus_register(&vm->pio, CMOS_PORT, CMOS_NR_PORTS, &cmos_io_ops, vm->cmos, "cmos");
	if (!rc)
		rc = bus_register(&vm->pio, I8042_DATA_PORT, 1, &i8042_data_ops, vm->i8042,
				  "i8042");
	if (!rc)
		rc = bus_register(&vm->pio, I8042_CMD_PORT, 1, &i8042_cmd_ops, vm->i8042, "i8042");
	if (!rc)
		rc = bus_register(&vm->pio, POST_PORT, 1, &post_ops, NULL, "post");
	if (!rc)
		rc = bus_register(&vm->pio, CVM_ACPI_SLEEP_PORT, 2, &sleep_ops, vm, "acpi-sleep");
	if (rc)
		return vm_error(vm, rc, "cannot register legacy devices: %s", strerror(-rc));
	return 0;
}

void vm_destroy_legacy_devices(struct cvm_vm *vm)
{
	/* Only after the vCPUs are joined: no exit can reach the devices any more. */
	vm_serial_proc_destroy(vm);
	for (unsigned int i = 0; i < CVM_NR_SERIAL; i++) {
		if (vm->serial[i].dev)
			serial_destroy(vm->serial[i].dev);
		vm->serial[i].dev = NULL;
	}
	if (vm->cmos)
		cmos_destroy(vm->cmos);
	if (vm->i8042)
		i8042_destroy(vm->i8042);
	vm->cmos = NULL;
	vm->i8042 = NULL;
}
