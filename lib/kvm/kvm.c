// SPDX-License-Identifier: BSD-3-Clause
#include "kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int rc;

	do
		rc = ioctl(fd, req, arg);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : rc;
}

int kvm_cap(int fd, long cap)
{
	int rc = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return rc < 0 ? 0 : rc;
}

int kvm_open(const char *path, struct cvm_errbuf *err)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		switch (e) {
		case ENOENT:
			return errf(
				err, -ENOENT,
				"%s does not exist: KVM is not available on this host (load the "
				"kvm module, or enable nested virtualisation)",
				path);
		case EACCES:
		case EPERM:
			return errf(err, -EACCES,
				    "permission denied opening %s (run as root or join the group "
				    "that owns it, usually 'kvm')",
				    path);
		default:
			return errf(err, -e, "cannot open %s: %s", path, strerror(e));
		}
	}
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);

	if (v != KVM_API_VERSION) {
		close(fd);
		if (v < 0)
			return errf(err, -ENODEV, "%s is not a KVM device: KVM_GET_API_VERSION: %s",
				    path, strerror(errno));
		return errf(err, -ENOTSUP, "%s speaks KVM API version %d, libcvm needs %d", path, v,
			    KVM_API_VERSION);
	}
	return fd;
}

static const struct {
	long cap;
	const char *name;
	const char *why;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC, IOAPIC and LAPIC" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "x86 TSS placement" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "CPUID filtering" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs without races" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device notifications" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts" },
};

int kvm_check_caps(int kvm_fd, struct cvm_errbuf *err)
{
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (!kvm_cap(kvm_fd, required_caps[i].cap))
			return errf(err, -ENOTSUP, "this KVM lacks %s, which libcvm needs for %s",
				    required_caps[i].name, required_caps[i].why);
	}
	return 0;
}

int kvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out)
{
	for (unsigned int nent = 128; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c =
			calloc(1, sizeof(*c) + nent * sizeof(struct kvm_cpuid_entry2));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		int rc = kvm_ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);

		if (rc == 0) {
			*out = c;
			return 0;
		}
		free(c);
		if (rc != -E2BIG)
			return rc;
	}
	return -E2BIG;
}
