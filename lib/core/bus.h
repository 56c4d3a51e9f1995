/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The PIO and MMIO buses: vCPU exits are dispatched to the device whose
 * range holds the address. Each device gives one ops table; offsets passed
 * to it are relative to the start of its range. Callbacks run on vCPU
 * threads, possibly several at once: a device locks its own state.
 */
#ifndef CVM_CORE_BUS_H
#define CVM_CORE_BUS_H

#include <pthread.h>
#include <stdint.h>

struct cvm_io_ops {
	/* Fill data[0..len) (len is 1, 2, 4 or 8). */
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct cvm_io_ops *ops;
	void *opaque;
	const char *name;
};

struct cvm_bus {
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base, never overlapping */
	unsigned int nr, cap;
};

int bus_init(struct cvm_bus *bus);
void bus_destroy(struct cvm_bus *bus);

/* -EEXIST if the range overlaps one already registered, -EINVAL if empty or wrapping. */
int bus_register(struct cvm_bus *bus, uint64_t base, uint64_t len, const struct cvm_io_ops *ops,
		 void *opaque, const char *name);

/* Remove the range at @base registered with @opaque; -ENOENT if there is none. */
int bus_unregister(struct cvm_bus *bus, uint64_t base, void *opaque);

/*
 * Dispatch an access. Returns 0 when a device handled it, -ENOENT when no
 * device covers [addr, addr+len) (reads are then filled with all-ones).
 */
int bus_read(struct cvm_bus *bus, uint64_t addr, uint8_t *data, uint32_t len);
int bus_write(struct cvm_bus *bus, uint64_t addr, const uint8_t *data, uint32_t len);

#endif
