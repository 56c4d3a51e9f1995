/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MSI-X for a PCI device: the capability in config space, the vector table
 * and the pending-bit array in a BAR, and for each vector a KVM GSI with an
 * MSI route and an irqfd. A device signals vector v by msix_notify(); a
 * masked vector (or function) records a pending bit instead, delivered when
 * it is unmasked.
 *
 * Locking: its own mutex for the table. Config writes reach it through
 * msix_cfg_written() (called under the PCI bus lock), table accesses through
 * msix_table_ops (under the MMIO bus read lock); it never takes either of
 * those locks.
 *
 * Delivery state (which vectors may fire, which are pending) is a few atomics
 * in a page of shared memory (struct msix_shared), so that msix_notify()
 * works lock-free from a device's own process (docs/sandbox.md): a sandboxed
 * device signals its vectors' irqfds itself, the VMM keeps the table.
 */
#ifndef CVM_DEVICES_MSIX_H
#define CVM_DEVICES_MSIX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/irq.h"
#include "devices/pci.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_NO_VECTOR 0xffff

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl; /* ctrl bit 0: masked */
	int gsi;
	int efd; /* irqfd */
};

/* Shared between the VMM and a device process (MAP_SHARED). */
struct msix_shared {
	_Atomic uint64_t live;	  /* bit v: vector v may fire (enabled, unmasked) */
	_Atomic uint64_t pending; /* bit v: vector v fired while masked */
	_Atomic bool enabled;	  /* MSI-X enable bit */
};

struct msix {
	pthread_mutex_t lock;
	struct irq_router *router;
	struct pci_dev *dev;
	uint8_t cap; /* capability offset in config space */
	unsigned int nr;
	bool enabled, func_masked;
	struct msix_shared *sh; /* a page of its own, shared across fork() */
	struct msix_entry v[MSIX_MAX_VECTORS];
};

/*
 * msix_init() - add the capability to @d: table at @bar/@table_off, PBA at
 * @bar/@pba_off, @nr vectors, each with a GSI and an eventfd bound by irqfd.
 */
int msix_init(struct msix *x, struct pci_dev *d, struct irq_router *r, unsigned int nr,
	      unsigned int bar, uint32_t table_off, uint32_t pba_off);
void msix_destroy(struct msix *x);

/* The PCI device's cfg_written hook must call this. */
void msix_cfg_written(struct msix *x, uint32_t off, uint32_t len);

/* Table and PBA accesses; @off relative to the table start (PBA at pba_off - table_off). */
void msix_table_read(struct msix *x, uint64_t off, uint8_t *data, uint32_t len);
void msix_table_write(struct msix *x, uint64_t off, const uint8_t *data, uint32_t len);
void msix_pba_read(struct msix *x, uint64_t off, uint8_t *data, uint32_t len);

/*
 * Signal vector @vec; false when MSI-X is off or @vec is out of range.
 * Lock-free: callable from a device process that shares only x->sh.
 */
bool msix_notify(struct msix *x, unsigned int vec);

/* True when MSI-X is enabled by the guest. */
bool msix_enabled(struct msix *x);

#endif
