// SPDX-License-Identifier: BSD-3-Clause
#include "devices/msix.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define PCI_CAP_ID_MSIX 0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_SIZE 16
#define MSIX_VEC_MASKED 1

static void fire(struct msix *x, unsigned int i)
{
	uint64_t one = 1, bit = 1ULL << i;

	if (write(x->v[i].efd, &one, sizeof(one)) < 0)
		atomic_fetch_or(&x->sh->pending, bit);
}

/*
 * Bring KVM's route and the live bit of vector @i in line with the table;
 * the lock is held. Ordering against msix_notify() (seq_cst atomics): a
 * vector going live gets its route first, then its live bit, then takes
 * a pending bit; a vector going quiet loses its live bit before its route.
 * Whoever takes the pending bit fires it, so nothing is lost.
 */
static void update_route(struct msix *x, unsigned int i)
{
	struct msix_entry *e = &x->v[i];
	bool live = x->enabled && !x->func_masked && !(e->ctrl & MSIX_VEC_MASKED);
	uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo, bit = 1ULL << i;

	if (!live)
		atomic_fetch_and(&x->sh->live, ~bit);
	/* A garbage address is refused by the router and the vector stays silent. */
	irq_set_msi_route(x->router, e->gsi, live, addr, e->data);
	if (live) {
		atomic_fetch_or(&x->sh->live, bit);
		if (atomic_fetch_and(&x->sh->pending, ~bit) & bit)
			fire(x, i);
	}
}

int msix_init(struct msix *x, struct pci_dev *d, struct irq_router *r, unsigned int nr,
	      unsigned int bar, uint32_t table_off, uint32_t pba_off)
{
	uint8_t cap;

	memset(x, 0, sizeof(*x));
	if (nr == 0 || nr > MSIX_MAX_VECTORS)
		return -EINVAL;
	x->sh = mmap(NULL, sizeof(*x->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	if (x->sh == MAP_FAILED) {
		x->sh = NULL;
		return -errno;
	}
	pthread_mutex_init(&x->lock, NULL);
	x->router = r;
	x->dev = d;
	x->nr = nr;
	for (unsigned int i = 0; i < nr; i++) {
		x->v[i].ctrl = MSIX_VEC_MASKED;
		x->v[i].gsi = -1;
		x->v[i].efd = -1;
	}
	for (unsigned int i = 0; i < nr; i++) {
		struct msix_entry *e = &x->v[i];

		e->gsi = irq_alloc_msi_gsi(r);
		if (e->gsi < 0)
			return e->gsi;
		e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (e->efd < 0)
			return -errno;
		int rc = irq_irqfd(r, e->gsi, e->efd, true);

		if (rc)
			return rc;
	}
	cap = pci_add_cap(d, PCI_CAP_ID_MSIX, 12);
	if (!cap)
		return -ENOSPC;
	x->cap = cap;
	pci_cfg_set(d, cap + 2, 2, nr - 1);
	pci_wmask_set(d, cap + 2, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	pci_cfg_set(d, cap + 4, 4, table_off | bar);
	pci_cfg_set(d, cap + 8, 4, pba_off | bar);
	return 0;
}

void msix_destroy(struct msix *x)
{
	for (unsigned int i = 0; i < x->nr; i++) {
		struct msix_entry *e = &x->v[i];

		if (e->efd >= 0) {
			if (e->gsi >= 0)
				irq_irqfd(x->router, e->gsi, e->efd, false);
			close(e->efd);
		}
		if (e->gsi >= 0)
			irq_free_msi_gsi(x->router, e->gsi);
	}
	if (x->sh) {
		pthread_mutex_destroy(&x->lock);
		munmap(x->sh, sizeof(*x->sh));
		x->sh = NULL;
	}
	x->nr = 0;
}

void msix_cfg_written(struct msix *x, uint32_t off, uint32_t len)
{
	if (!x->nr || off + len <= x->cap + 2u || off >= x->cap + 4u)
		return;
	uint32_t ctrl = pci_cfg_read(x->dev, x->cap + 2, 2);

	pthread_mutex_lock(&x->lock);
	x->enabled = ctrl & MSIX_CTRL_ENABLE;
	x->func_masked = ctrl & MSIX_CTRL_MASKALL;
	atomic_store(&x->sh->enabled, x->enabled);
	for (unsigned int i = 0; i < x->nr; i++)
		update_route(x, i);
	pthread_mutex_unlock(&x->lock);
}

void msix_table_read(struct msix *x, uint64_t off, uint8_t *data, uint32_t len)
{
	uint64_t i = off / MSIX_ENTRY_SIZE, w = (off % MSIX_ENTRY_SIZE) / 4;

	memset(data, 0xff, len);
	if (i >= x->nr || (len != 4 && len != 8) || off % 4)
		return;
	pthread_mutex_lock(&x->lock);
	const uint32_t *words = &x->v[i].addr_lo;

	for (uint32_t b = 0; b < len; b++) {
		uint64_t word = w + b / 4;

		if (word < 4)
			data[b] = (uint8_t)(words[word] >> (8 * (b % 4)));
	}
	pthread_mutex_unlock(&x->lock);
}

void msix_table_write(struct msix *x, uint64_t off, const uint8_t *data, uint32_t len)
{
	uint64_t i = off / MSIX_ENTRY_SIZE, w = (off % MSIX_ENTRY_SIZE) / 4;

	if (i >= x->nr || (len != 4 && len != 8) || off % 4)
		return;
	pthread_mutex_lock(&x->lock);
	struct msix_entry *e = &x->v[i];
	uint32_t *words[4] = { &e->addr_lo, &e->addr_hi, &e->data, &e->ctrl };

	for (uint32_t k = 0; k < len / 4 && w + k < 4; k++) {
		uint32_t v = (uint32_t)data[4 * k] | (uint32_t)data[4 * k + 1] << 8 |
			     (uint32_t)data[4 * k + 2] << 16 | (uint32_t)data[4 * k + 3] << 24;

		if (w + k == 3)
			v &= MSIX_VEC_MASKED; /* other control bits are reserved */
		*words[w + k] = v;
	}
	update_route(x, (unsigned int)i);
	pthread_mutex_unlock(&x->lock);
}

void msix_pba_read(struct msix *x, uint64_t off, uint8_t *data, uint32_t len)
{
	uint64_t pending = x->sh ? atomic_load(&x->sh->pending) : 0;

	memset(data, 0, len);
	for (uint32_t b = 0; b < len; b++) {
		for (unsigned int bit = 0; bit < 8; bit++) {
			uint64_t vec = (off + b) * 8 + bit;

			if (vec < x->nr && (pending >> vec & 1))
				data[b] |= (uint8_t)(1u << bit);
		}
	}
}

bool msix_notify(struct msix *x, unsigned int vec)
{
	uint64_t bit;

	if (vec >= x->nr || !atomic_load(&x->sh->enabled))
		return false;
	bit = 1ULL << vec;
	atomic_fetch_or(&x->sh->pending, bit);
	if (!(atomic_load(&x->sh->live) & bit))
		return true; /* masked: update_route() delivers it on unmask */
	if (atomic_fetch_and(&x->sh->pending, ~bit) & bit) {
		fire(x, vec);
		/* Masked meanwhile: the route may be gone; keep it pending (at worst twice). */
		if (!(atomic_load(&x->sh->live) & bit))
			atomic_fetch_or(&x->sh->pending, bit);
	}
	return true;
}

bool msix_enabled(struct msix *x)
{
	return x->sh && atomic_load(&x->sh->enabled);
}
