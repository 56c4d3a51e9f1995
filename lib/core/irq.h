/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interrupt routing: KVM's GSI routing table (the legacy PIC and IOAPIC pins
 * as KVM sets them up by default, plus one MSI route per enabled MSI-X
 * vector) and irqfds, so devices interrupt the guest by writing an eventfd.
 */
#ifndef CVM_CORE_IRQ_H
#define CVM_CORE_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_NR_LEGACY_GSI 24 /* IOAPIC pins; MSI GSIs come after */
#define IRQ_MAX_GSI 1024

struct irq_msi_route {
	bool used;    /* allocated to a device */
	bool enabled; /* has a route in KVM's table */
	uint64_t addr;
	uint32_t data;
};

struct irq_router {
	int vm_fd;
	pthread_mutex_t lock;
	struct irq_msi_route msi[IRQ_MAX_GSI - IRQ_NR_LEGACY_GSI];
};

/* Install the default legacy routes (PIC + IOAPIC, GSI 0 -> IOAPIC pin 2). */
int irq_router_init(struct irq_router *r, int vm_fd);
void irq_router_destroy(struct irq_router *r);

/* A free GSI for an MSI vector, or -ENOSPC. */
int irq_alloc_msi_gsi(struct irq_router *r);
void irq_free_msi_gsi(struct irq_router *r, int gsi);

/*
 * irq_set_msi_route() - route @gsi to the MSI message (@addr, @data), or
 * remove its route when !@enabled. Pushes the whole table to KVM.
 * A message whose address is not in the LAPIC window 0xfee00000-0xfeefffff
 * is refused (-EINVAL) and the route stays off: the guest wrote garbage.
 */
int irq_set_msi_route(struct irq_router *r, int gsi, bool enabled, uint64_t addr, uint32_t data);

/* Attach (@assign) or detach eventfd @efd to @gsi with KVM_IRQFD. */
int irq_irqfd(struct irq_router *r, int gsi, int efd, bool assign);

#endif
