// SPDX-License-Identifier: BSD-3-Clause
#include "core/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bus_init(struct cvm_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct cvm_bus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	memset(bus, 0, sizeof(*bus));
}

int bus_register(struct cvm_bus *bus, uint64_t base, uint64_t len, const struct cvm_io_ops *ops,
		 void *opaque, const char *name)
{
	unsigned int i;
	int rc = 0;

	if (len == 0 || base + len < base || !ops)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	for (i = 0; i < bus->nr; i++) {
		struct bus_range *r = &bus->ranges[i];

		if (base < r->base + r->len && r->base < base + len) {
			rc = -EEXIST;
			goto out;
		}
		if (r->base > base)
			break;
	}
	if (bus->nr == bus->cap) {
		unsigned int cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *n = realloc(bus->ranges, cap * sizeof(*n));

		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		bus->ranges = n;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(*bus->ranges));
	bus->ranges[i] = (struct bus_range){ base, len, ops, opaque, name };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

int bus_unregister(struct cvm_bus *bus, uint64_t base, void *opaque)
{
	int rc = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned int i = 0; i < bus->nr; i++) {
		if (bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
			memmove(&bus->ranges[i], &bus->ranges[i + 1],
				(bus->nr - i - 1) * sizeof(*bus->ranges));
			bus->nr--;
			rc = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

/* Binary search; the caller holds the lock. */
static const struct bus_range *bus_find(const struct cvm_bus *bus, uint64_t addr, uint32_t len)
{
	unsigned int lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return len <= r->len - (addr - r->base) ? r : NULL;
	}
	return NULL;
}

int bus_read(struct cvm_bus *bus, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&bus->lock);
	r = bus_find(bus, addr, len);
	if (r && r->ops->read) {
		r->ops->read(r->opaque, addr - r->base, data, len);
		rc = 0;
	} else {
		memset(data, 0xff, len);
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

int bus_write(struct cvm_bus *bus, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&bus->lock);
	r = bus_find(bus, addr, len);
	if (r && r->ops->write) {
		r->ops->write(r->opaque, addr - r->base, data, len);
		rc = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}
