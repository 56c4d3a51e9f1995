/* SPDX-License-Identifier: BSD-3-Clause */
/* Thin wrappers over /dev/kvm: open, capability checks, ioctls that retry on EINTR. */
#ifndef CVM_KVM_KVM_H
#define CVM_KVM_KVM_H

#include <stdint.h>

#include <linux/kvm.h>

#include "util/err.h"

/*
 * kvm_open() - open the KVM device and check the API version.
 * Returns the fd, -ENOENT/-EACCES/-ENODEV (with a message saying what to do),
 * or -ENOTSUP for an API version other than 12.
 */
int kvm_open(const char *path, struct cvm_errbuf *err);

/*
 * kvm_check_caps() - check every capability libcvm relies on.
 * Returns 0 or -ENOTSUP with a message naming the first missing one.
 */
int kvm_check_caps(int kvm_fd, struct cvm_errbuf *err);

/* KVM_CHECK_EXTENSION: the capability's value, 0 when absent. */
int kvm_cap(int fd, long cap);

/* ioctl(2) that retries on EINTR and returns -errno on failure. */
int kvm_ioctl(int fd, unsigned long req, void *arg);

/* KVM_GET_SUPPORTED_CPUID into a freshly allocated table; -errno on failure. */
int kvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out);

#endif
