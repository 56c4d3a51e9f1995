/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The guest test program's view of the platform beyond the legacy ports:
 * ACPI tables (acpi.c), the local APIC, PCI configuration mechanism #1
 * (pci.c) and a small polled virtio-pci modern driver (virtio.c) written
 * the way Linux's virtio_pci_modern drives a device.
 *
 * Every MMIO or port access is a VM exit (~15 us) and every instruction is
 * emulated: the drivers touch registers only as often as the protocol needs,
 * and every wait is a bounded loop.
 */
#ifndef CVM_GUEST_HW_H
#define CVM_GUEST_HW_H

#include <stdbool.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "guest.h"

/* Port I/O wider than a byte. */
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* MMIO: one access of exactly the given width. */
static inline uint8_t mmio_read8(uintptr_t a)
{
	return *(volatile uint8_t *)a;
}

static inline uint16_t mmio_read16(uintptr_t a)
{
	return *(volatile uint16_t *)a;
}

static inline uint32_t mmio_read32(uintptr_t a)
{
	return *(volatile uint32_t *)a;
}

static inline void mmio_write8(uintptr_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}

static inline void mmio_write16(uintptr_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}

static inline void mmio_write32(uintptr_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

static inline void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

/* A full fence (Linux's x86 smp_mb(): a locked add, which the emulator knows). */
static inline void mb(void)
{
	__asm__ volatile("lock; orq $0, (%%rsp)" : : : "memory", "cc");
}

/* About @n iterations of ~1 us each on an emulated ring 0. */
static inline void delay_loops(unsigned long n)
{
	while (n--)
		cpu_relax();
}

/* Local APIC (xAPIC MMIO). */
#define LAPIC_BASE 0xfee00000UL
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_ICR_BUSY (1u << 12)

static inline uint32_t lapic_read(unsigned int reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

static inline void lapic_write(unsigned int reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

/* acpi.c */
struct acpi_cpus {
	unsigned int n; /* enabled local APICs (type 0 and type 9 entries) */
	uint32_t apic_id[64];
	unsigned int disabled; /* entries without the enabled bit */
	unsigned int ioapics;  /* type 1 entries */
	uint32_t ioapic_addr;  /* of the first */
	uint32_t lapic_addr;   /* the MADT's local APIC address */
};

/*
 * acpi_read_madt() - find the RSDP (boot_params.acpi_rsdp_addr, else a scan
 * of 0xE0000..0xFFFFF), check it and the XSDT (or RSDT) and the MADT,
 * and fill @c. Returns 0, or -1 with the reason in @why.
 */
int acpi_read_madt(const struct boot_params *bp, struct acpi_cpus *c, char *why, size_t whylen);

/* pci.c: configuration mechanism #1, bus 0. */
#define PCI_BDF(bus, slot, fn) ((uint32_t)(bus) << 8 | (uint32_t)(slot) << 3 | (uint32_t)(fn))

uint8_t pci_read8(uint32_t bdf, unsigned int off);
uint16_t pci_read16(uint32_t bdf, unsigned int off);
uint32_t pci_read32(uint32_t bdf, unsigned int off);
void pci_write16(uint32_t bdf, unsigned int off, uint16_t v);
void pci_write32(uint32_t bdf, unsigned int off, uint32_t v);

/*
 * pci_find() - the functions on bus 0 with @vendor:@device, in slot and
 * function order, into @bdfs (at most @max). Returns how many there are.
 */
unsigned int pci_find(uint16_t vendor, uint16_t device, uint32_t *bdfs, unsigned int max);

/*
 * pci_bar_addr() - the address BAR @bar of @bdf decodes (32- or 64-bit
 * memory BAR). Returns 0 with @why filled for an I/O or unassigned BAR.
 */
uint64_t pci_bar_addr(uint32_t bdf, unsigned int bar, char *why, size_t whylen);

/* virtio.c: a polled virtio-pci modern driver. */
#define VQ_RING 16 /* our ring size (the device may offer more) */
#define VDEV_MAX_VQ 8

struct vq {
	struct vdev *dev;
	uint16_t index;
	uint16_t size; /* min(device's queue_size, VQ_RING) */
	uint16_t msix_vector;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct vring_desc *indirect; /* a table of VQ_RING descriptors */
	uint16_t avail_idx;	     /* our next avail->idx */
	uint16_t last_used;	     /* used entries consumed */
	uint16_t next_desc;	     /* next descriptor to hand out (round robin) */
	uintptr_t notify;	     /* where to write the queue index */
	unsigned int notifies, notifies_skipped;
	uint8_t *scratch; /* 256 bytes of ring-page memory for request headers */
};

struct vdev {
	uint32_t bdf;
	uint16_t device_id;
	uintptr_t common, notify_base, isr, devcfg;
	uint32_t notify_mult, notify_len;
	uint32_t devcfg_len;
	uint8_t msix_cap;   /* config offset of the MSI-X capability, 0 if none */
	uint16_t msix_size; /* table entries */
	uintptr_t msix_table;
	uint64_t dev_features;
	uint64_t features; /* negotiated */
	uint16_t num_queues;
	unsigned int nvqs;
	struct vq vqs[VDEV_MAX_VQ];
	unsigned int slot; /* which of the static ring areas this device uses */
};

/* The last error of the functions below. */
extern char virtio_err[256];

/*
 * vdev_probe() - map the capabilities of PCI function @bdf (MEM + bus
 * master on): COMMON, NOTIFY, ISR, DEVICE and MSI-X. Returns 0 or -1.
 */
int vdev_probe(struct vdev *d, uint32_t bdf);

/*
 * vdev_negotiate() - reset, ACKNOWLEDGE, DRIVER, read device features,
 * write (@want & offered) | VERSION_1, FEATURES_OK and check it stayed set.
 * @need must all be offered. Returns 0 or -1.
 */
int vdev_negotiate(struct vdev *d, uint64_t want, uint64_t need);

/* vdev_msix_enable() - MSI-X on, entry @entry -> LAPIC 0 vector @vector, unmasked. */
int vdev_msix_enable(struct vdev *d, unsigned int entry, uint8_t vector);

/*
 * vdev_setup_vq() - set up queue @index with MSI-X vector @msix (or
 * VIRTIO_MSI_NO_VECTOR) and enable it. Returns 0 or -1.
 */
int vdev_setup_vq(struct vdev *d, unsigned int index, uint16_t msix);

/*
 * For queues on the caller's own ring memory (more than VQ_RING entries):
 * vdev_queue_size() selects queue @index and sets its size to the largest
 * power of two <= min(the device's queue_size, @max), which it returns (0:
 * no such queue); vdev_queue_program() writes the ring addresses and MSI-X
 * vector and gives the notify address (0, or -1 with virtio_err). The
 * caller enables the queue.
 */
uint16_t vdev_queue_size(struct vdev *d, unsigned int index, uint16_t max);
int vdev_queue_program(struct vdev *d, unsigned int index, const void *desc, const void *avail,
		       const void *used, uint16_t msix, uintptr_t *notify);

/* vdev_driver_ok() - set DRIVER_OK; returns 0 or -1 when the device failed. */
int vdev_driver_ok(struct vdev *d);
void vdev_reset(struct vdev *d);
uint8_t vdev_status(struct vdev *d);

/* Device configuration space access (32-bit for 32/64-bit fields, generation-checked). */
uint8_t vdev_cfg8(struct vdev *d, unsigned int off);
uint16_t vdev_cfg16(struct vdev *d, unsigned int off);
uint32_t vdev_cfg32(struct vdev *d, unsigned int off);
uint64_t vdev_cfg64(struct vdev *d, unsigned int off);

static inline bool vdev_has(const struct vdev *d, unsigned int bit)
{
	return (d->features >> bit) & 1;
}

struct vq_buf {
	void *addr;
	uint32_t len;
	bool write; /* device-writable */
};

/*
 * vq_add() - publish a chain of @n buffers (device-readable ones first) and
 * notify the device (unless @nonotify, or event-idx suppression says not
 * to). With @indirect it is one descriptor pointing at the queue's indirect
 * table. Returns the head descriptor, or -1.
 */
int vq_add(struct vq *q, const struct vq_buf *b, unsigned int n, bool indirect, bool nonotify);

/* vq_kick() - notify the device of everything published so far (event idx aware). */
void vq_kick(struct vq *q, uint16_t old_idx);

/*
 * vq_poll() - wait (bounded) for the next used entry: its id and len.
 * Returns 0, or -1 on timeout.
 */
int vq_poll(struct vq *q, uint32_t *id, uint32_t *len);

/*
 * vq_request() - one chain of @n buffers, added and waited for; 0 with
 * the used length in @used, or -1 with FAIL printed for test @t.
 */
int vq_request(const char *t, struct vq *q, const struct vq_buf *v, unsigned int n, uint32_t *used);

/* The avail_event word after the used ring (VIRTIO_F_RING_EVENT_IDX). */
static inline volatile uint16_t *vq_avail_event(const struct vq *q)
{
	return (volatile uint16_t *)((uintptr_t)q->used + 4 + 8 * q->size);
}

/* vq_used_ready() - used->idx moved past what we consumed. */
static inline bool vq_used_ready(const struct vq *q)
{
	return *(volatile uint16_t *)&q->used->idx != q->last_used;
}

#endif
