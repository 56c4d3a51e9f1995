// SPDX-License-Identifier: BSD-3-Clause
#include "core/irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "kvm/kvm.h"

#define MSI_ADDR_BASE 0xfee00000ULL
#define MSI_ADDR_MASK 0xfff00000ULL

static unsigned int legacy_routes(struct kvm_irq_routing_entry *e)
{
	unsigned int n = 0;

	/* As KVM's default table: GSI 0-15 on the PIC and the IOAPIC, 16-23 on the IOAPIC. */
	for (unsigned int gsi = 0; gsi < IRQ_NR_LEGACY_GSI; gsi++) {
		if (gsi < 16) {
			e[n].gsi = gsi;
			e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
							   KVM_IRQCHIP_PIC_SLAVE;
			e[n].u.irqchip.pin = gsi % 8;
			n++;
		}
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n].u.irqchip.pin = gsi == 0 ? 2 : gsi; /* the timer's override */
		n++;
	}
	return n;
}

/* Push legacy + enabled MSI routes to KVM. The caller holds the lock. */
static int push_routes(struct irq_router *r)
{
	const unsigned int max = 16 + IRQ_NR_LEGACY_GSI + IRQ_MAX_GSI;
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
	unsigned int n;
	int rc;

	if (!t)
		return -ENOMEM;
	n = legacy_routes(t->entries);
	for (unsigned int i = 0; i < IRQ_MAX_GSI - IRQ_NR_LEGACY_GSI; i++) {
		const struct irq_msi_route *m = &r->msi[i];

		if (!m->used || !m->enabled)
			continue;
		t->entries[n].gsi = IRQ_NR_LEGACY_GSI + i;
		t->entries[n].type = KVM_IRQ_ROUTING_MSI;
		t->entries[n].u.msi.address_lo = (uint32_t)m->addr;
		t->entries[n].u.msi.address_hi = (uint32_t)(m->addr >> 32);
		t->entries[n].u.msi.data = m->data;
		n++;
	}
	t->nr = n;
	rc = kvm_ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t);
	free(t);
	return rc < 0 ? rc : 0;
}

int irq_router_init(struct irq_router *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
	return 0; /* KVM starts with the default legacy routes; nothing to push yet */
}

void irq_router_destroy(struct irq_router *r)
{
	pthread_mutex_destroy(&r->lock);
}

int irq_alloc_msi_gsi(struct irq_router *r)
{
	int gsi = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	for (unsigned int i = 0; i < IRQ_MAX_GSI - IRQ_NR_LEGACY_GSI; i++) {
		if (!r->msi[i].used) {
			r->msi[i] = (struct irq_msi_route){ .used = true };
			gsi = (int)(IRQ_NR_LEGACY_GSI + i);
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

void irq_free_msi_gsi(struct irq_router *r, int gsi)
{
	if (gsi < IRQ_NR_LEGACY_GSI || gsi >= IRQ_MAX_GSI)
		return;
	pthread_mutex_lock(&r->lock);
	bool had_route = r->msi[gsi - IRQ_NR_LEGACY_GSI].enabled;

	r->msi[gsi - IRQ_NR_LEGACY_GSI] = (struct irq_msi_route){ 0 };
	if (had_route)
		push_routes(r);
	pthread_mutex_unlock(&r->lock);
}

int irq_set_msi_route(struct irq_router *r, int gsi, bool enabled, uint64_t addr, uint32_t data)
{
	struct irq_msi_route *m;
	int rc = 0;

	if (gsi < IRQ_NR_LEGACY_GSI || gsi >= IRQ_MAX_GSI)
		return -EINVAL;
	if (enabled && (addr & MSI_ADDR_MASK) != MSI_ADDR_BASE) {
		enabled = false;
		rc = -EINVAL;
	}
	pthread_mutex_lock(&r->lock);
	m = &r->msi[gsi - IRQ_NR_LEGACY_GSI];
	if (!m->used) {
		pthread_mutex_unlock(&r->lock);
		return -EINVAL;
	}
	if (m->enabled != enabled || (enabled && (m->addr != addr || m->data != data))) {
		m->enabled = enabled;
		m->addr = addr;
		m->data = data;
		int prc = push_routes(r);

		if (prc)
			rc = prc;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int irq_irqfd(struct irq_router *r, int gsi, int efd, bool assign)
{
	struct kvm_irqfd f = {
		.fd = (uint32_t)efd,
		.gsi = (uint32_t)gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return kvm_ioctl(r->vm_fd, KVM_IRQFD, &f);
}
