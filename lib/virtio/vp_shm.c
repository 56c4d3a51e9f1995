// SPDX-License-Identifier: BSD-3-Clause
/*
 * A virtio device's shared memory region (virtio 1.x 2.10): BAR 2, found by
 * the driver through a VIRTIO_PCI_CAP_SHARED_MEMORY_CFG capability (shmid
 * 0). The device fills it with host descriptors (virtio-wl's buffers): each
 * is mapped by the VMM and given to KVM as a memory slot at BAR 2 + offset,
 * so guest accesses never exit. Parts of the BAR with nothing mapped trap
 * to the MMIO bus and read as zeros.
 *
 * Only the VMM holds the VM's descriptor, so a sandboxed device asks for a
 * mapping over its socket (devproc_child_call(), the descriptor passed with
 * SCM_RIGHTS) and the VMM checks everything: a hostile device process can
 * map its own memory into the guest, nothing else.
 */
#include "virtio/virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <linux/kvm.h>
#include <linux/virtio_pci.h>

#include "jail/devproc.h"
#include "kvm/kvm.h"

#ifndef VIRTIO_PCI_CAP_SHARED_MEMORY_CFG
#define VIRTIO_PCI_CAP_SHARED_MEMORY_CFG 8
#endif
#define PCI_CAP_ID_VNDR 0x09
#define SHM_CAP_LEN 24 /* struct virtio_pci_cap64 */
#define PAGE 4096ULL
#define SHM_MAX_SIZE (512ULL << 20) /* half the PCI MMIO window */

static void shm_bar_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static void shm_bar_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	(void)data;
	(void)len;
}

static const struct cvm_io_ops shm_bar_ops = { .read = shm_bar_read, .write = shm_bar_write };

int vp_shm_init(struct virtio_pci *vp, struct cvm_errbuf *err)
{
	uint64_t size = vp->cfg.shm_size;
	uint8_t c;
	int rc;

	if (size < (1ULL << 20) || size > SHM_MAX_SIZE || (size & (size - 1)))
		return errf(err, -EINVAL, "%s: bad shared memory size %llu", vp->cfg.name,
			    (unsigned long long)size);
	vp->shm_maps = calloc(VP_SHM_MAX_MAPS, sizeof(*vp->shm_maps));
	if (!vp->shm_maps)
		return errf(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&vp->shm_lock, NULL);
	rc = pci_dev_set_bar(&vp->pci, VP_SHM_BAR, size, true, &shm_bar_ops, vp);
	if (rc)
		return errf(err, rc, "%s: shared memory BAR setup failed", vp->cfg.name);
	c = pci_add_cap(&vp->pci, PCI_CAP_ID_VNDR, SHM_CAP_LEN);
	if (!c)
		return errf(err, -ENOSPC, "%s: no room for the shared memory capability",
			    vp->cfg.name);
	vp->pci.cfg[c + 2] = SHM_CAP_LEN;
	vp->pci.cfg[c + 3] = VIRTIO_PCI_CAP_SHARED_MEMORY_CFG;
	vp->pci.cfg[c + 4] = VP_SHM_BAR;
	vp->pci.cfg[c + 5] = 0; /* shmid */
	pci_cfg_set(&vp->pci, c + 8, 4, 0);
	pci_cfg_set(&vp->pci, c + 12, 4, (uint32_t)size);
	pci_cfg_set(&vp->pci, c + 16, 4, 0);
	pci_cfg_set(&vp->pci, c + 20, 4, (uint32_t)(size >> 32));
	return 0;
}

static int slot_set(struct virtio_pci *vp, unsigned int idx, uint64_t gpa)
{
	const struct vp_shm_map *m = &vp->shm_maps[idx];
	struct kvm_userspace_memory_region r = {
		.slot = vp->cfg.shm_slot_base + idx,
		.flags = gpa && m->ro ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa ? gpa + m->off : 0,
		.memory_size = gpa ? m->size : 0,
		.userspace_addr = (uintptr_t)m->host,
	};

	return kvm_ioctl(vp->vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

/* Give mapping @idx to KVM at the BAR's address (the lock is held). */
static int slot_add(struct virtio_pci *vp, unsigned int idx)
{
	struct vp_shm_map *m = &vp->shm_maps[idx];
	int rc;

	if (!vp->shm_gpa || m->in_kvm)
		return 0;
	rc = slot_set(vp, idx, vp->shm_gpa);
	if (rc)
		log_warn(vp->log,
			 "%s: KVM_SET_USER_MEMORY_REGION (slot %u, %llu bytes at 0x%llx): %s",
			 vp->cfg.name, vp->cfg.shm_slot_base + idx, (unsigned long long)m->size,
			 (unsigned long long)(vp->shm_gpa + m->off), strerror(-rc));
	else
		m->in_kvm = true;
	return rc;
}

static void slot_del(struct virtio_pci *vp, unsigned int idx)
{
	struct vp_shm_map *m = &vp->shm_maps[idx];

	if (m->in_kvm && slot_set(vp, idx, 0) == 0)
		m->in_kvm = false;
}

static void map_free(struct virtio_pci *vp, unsigned int idx)
{
	struct vp_shm_map *m = &vp->shm_maps[idx];

	slot_del(vp, idx);
	if (m->host)
		munmap(m->host, m->size);
	memset(m, 0, sizeof(*m));
}

/* The VMM's side of virtio_pci_shm_map(): check everything the device says. */
static int vmm_map(struct virtio_pci *vp, unsigned int idx, uint64_t off, uint64_t size, int fd,
		   uint64_t *gpa)
{
	struct vp_shm_map *m;
	struct stat st;
	int rc = 0;

	if (!vp->shm_maps || idx >= VP_SHM_MAX_MAPS || !size || (off | size) % PAGE ||
	    off >= vp->cfg.shm_size || size > vp->cfg.shm_size - off)
		return -EINVAL;
	if (fd < 0 || fstat(fd, &st))
		return -EBADF;
	/* The file's last page may be partial (a keymap): what lies past its end reads as 0. */
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    size > (((uint64_t)st.st_size + PAGE - 1) & ~(PAGE - 1)))
		return -EINVAL;
	pthread_mutex_lock(&vp->shm_lock);
	m = &vp->shm_maps[idx];
	if (m->size)
		rc = -EEXIST;
	for (unsigned int i = 0; !rc && i < VP_SHM_MAX_MAPS; i++) {
		const struct vp_shm_map *o = &vp->shm_maps[i];

		if (o->size && off < o->off + o->size && o->off < off + size)
			rc = -EEXIST;
	}
	if (!rc) {
		m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m->host == MAP_FAILED && (errno == EPERM || errno == EACCES)) {
			m->ro = true;
			m->host = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		}
		if (m->host == MAP_FAILED) {
			rc = -errno;
			memset(m, 0, sizeof(*m));
		}
	}
	if (!rc) {
		m->off = off;
		m->size = size;
		rc = slot_add(vp, idx);
		if (rc)
			map_free(vp, idx);
		else
			*gpa = vp->shm_gpa ? vp->shm_gpa + off : 0;
	}
	pthread_mutex_unlock(&vp->shm_lock);
	return rc;
}

static int vmm_unmap(struct virtio_pci *vp, unsigned int idx)
{
	int rc = 0;

	if (!vp->shm_maps || idx >= VP_SHM_MAX_MAPS)
		return -EINVAL;
	pthread_mutex_lock(&vp->shm_lock);
	if (vp->shm_maps[idx].size)
		map_free(vp, idx);
	else
		rc = -ENOENT;
	pthread_mutex_unlock(&vp->shm_lock);
	return rc;
}

int vp_shm_call(struct virtio_pci *vp, uint16_t op, uint32_t arg, uint64_t val, int fd,
		uint64_t *out)
{
	*out = 0;
	if (op == VP_CALL_SHM_MAP)
		return vmm_map(vp, arg, (val & 0xffffffffu) * PAGE, (val >> 32) * PAGE, fd, out);
	if (op == VP_CALL_SHM_UNMAP)
		return vmm_unmap(vp, arg);
	return -EINVAL;
}

int virtio_pci_shm_map(struct virtio_pci *vp, unsigned int idx, uint64_t off, uint64_t size, int fd,
		       uint64_t *gpa)
{
	*gpa = 0;
	if ((off | size) % PAGE || off / PAGE > UINT32_MAX || size / PAGE > UINT32_MAX)
		return -EINVAL;
	if (vp->in_child)
		return devproc_child_call(vp->proc, VP_CALL_SHM_MAP, idx,
					  off / PAGE | (size / PAGE) << 32, fd, gpa);
	return vmm_map(vp, idx, off, size, fd, gpa);
}

int virtio_pci_shm_unmap(struct virtio_pci *vp, unsigned int idx)
{
	if (vp->in_child)
		return devproc_child_call(vp->proc, VP_CALL_SHM_UNMAP, idx, 0, -1, NULL);
	return vmm_unmap(vp, idx);
}

/* The guest moved (or turned off: 0) BAR 2: the slots follow. */
void vp_shm_bar_moved(struct virtio_pci *vp, uint64_t new_gpa)
{
	if (!vp->shm_maps)
		return;
	pthread_mutex_lock(&vp->shm_lock);
	for (unsigned int i = 0; i < VP_SHM_MAX_MAPS; i++)
		slot_del(vp, i);
	vp->shm_gpa = new_gpa;
	for (unsigned int i = 0; i < VP_SHM_MAX_MAPS; i++)
		if (vp->shm_maps[i].size)
			slot_add(vp, i);
	pthread_mutex_unlock(&vp->shm_lock);
}

void vp_shm_destroy(struct virtio_pci *vp)
{
	if (!vp->shm_maps)
		return;
	for (unsigned int i = 0; i < VP_SHM_MAX_MAPS; i++)
		if (vp->shm_maps[i].size)
			map_free(vp, i);
	free(vp->shm_maps);
	vp->shm_maps = NULL;
	pthread_mutex_destroy(&vp->shm_lock);
}
