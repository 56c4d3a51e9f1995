/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio-wl internals shared by wl.c (commands) and wl_in.c (the in queue). */
#ifndef CVM_VIRTIO_WL_VFD_H
#define CVM_VIRTIO_WL_VFD_H

#include "virtio/wl.h"

#define WL_PAGE 4096ULL

struct wl_vfd *wl_vfd_find(struct wl_dev *w, uint32_t id);
/* A free slot, or -1. */
int wl_vfd_slot(struct wl_dev *w);
/* Ask epoll for what VFD @i needs now (reading, a held command's target, hang-ups). */
void wl_vfd_watch(struct wl_dev *w, unsigned int i);
void wl_vfd_watch_all(struct wl_dev *w);
void wl_vfd_close(struct wl_dev *w, unsigned int i);
/* A free range of @size bytes in the shared memory region, or UINT64_MAX. */
uint64_t wl_region_alloc(struct wl_dev *w, uint64_t size);
/* The pfn the guest is told for @v (a mapped shm VFD or not). */
uint64_t wl_vfd_pfn(const struct wl_dev *w, const struct wl_vfd *v);

/* wl_in.c */
/* A message for the guest, owned by VFD @owner; NULL when the ring is full. */
struct wl_pending *wl_pend_push(struct wl_dev *w, uint32_t owner);
/* Forget the messages owed about VFD @id (the guest closed it), with the VFDs they announce. */
void wl_pend_drop(struct wl_dev *w, uint32_t id);
void wl_pend_reset(struct wl_dev *w);

#endif
