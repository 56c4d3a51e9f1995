// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio shared memory region (lib/virtio/vp_shm.c): its capability,
 * and the VMM's checks on what a (possibly hostile) device process asks to
 * map into the guest.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_util_kvm.h"
#include "virtio/virtio_pci.h"

#define SHM_SIZE (16ULL << 20)
#define PAGE 4096ULL
#define BAR_GPA 0xd0000000ULL

static int f_notify(void *o, struct virtio_pci *vp, unsigned int q)
{
	(void)o;
	(void)vp;
	(void)q;
	return 0;
}

static const struct virtio_dev_ops fake_ops = { .queue_notify = f_notify };

static struct virtio_pci vp;
static struct guest_mem mem;
static struct irq_router router;
static struct cvm_logger quiet = { .level = CVM_LOG_ERROR };
static int vmfd;

static void setup(void)
{
	struct cvm_errbuf err = { "" };

	vmfd = tu_kvm_vm();
	cr_assert_eq(gmem_create(&mem, 16 * GMEM_MIB, NULL), 0);
	irq_router_init(&router, vmfd);
	struct virtio_pci_config c = {
		.name = "fake",
		.device_id = 63,
		.nr_queues = 2,
		.queue_max_size = 64,
		.ops = &fake_ops,
		.shm_size = SHM_SIZE,
		.shm_slot_base = 16,
	};
	struct virtio_env env = { .mem = &mem, .log = &quiet, .vm_fd = vmfd, .router = &router };

	cr_assert_eq(virtio_pci_init(&vp, &c, &env, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
	virtio_pci_destroy(&vp);
	irq_router_destroy(&router);
	gmem_destroy(&mem);
	close(vmfd);
}

TestSuite(vp_shm, .init = setup, .fini = teardown);

static int memfd(uint64_t size)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* What the VMM does for a device process's request (offsets and sizes in pages). */
static int call_map(unsigned int idx, uint64_t off, uint64_t size, int fd, uint64_t *gpa)
{
	return vp_shm_call(&vp, VP_CALL_SHM_MAP, idx, off / PAGE | (size / PAGE) << 32, fd, gpa);
}

Test(vp_shm, capability_and_bar)
{
	unsigned int p = vp.pci.cfg[0x34], found = 0;

	for (int n = 0; p && n < 16; n++, p = vp.pci.cfg[p + 1]) {
		if (vp.pci.cfg[p] != 0x09 || vp.pci.cfg[p + 3] != 8)
			continue;
		found++;
		cr_assert_eq(vp.pci.cfg[p + 2], 24, "struct virtio_pci_cap64");
		cr_assert_eq(vp.pci.cfg[p + 4], VP_SHM_BAR);
		cr_assert_eq(vp.pci.cfg[p + 5], 0, "shmid 0");
		cr_assert_eq(pci_cfg_read(&vp.pci, p + 8, 4), 0);
		cr_assert_eq(pci_cfg_read(&vp.pci, p + 12, 4), (uint32_t)SHM_SIZE);
		cr_assert_eq(pci_cfg_read(&vp.pci, p + 20, 4), 0);
	}
	cr_assert_eq(found, 1);
	cr_assert_eq(vp.pci.bars[VP_SHM_BAR].size, SHM_SIZE);
	cr_assert(vp.pci.bars[VP_SHM_BAR].is64);
}

Test(vp_shm, hostile_requests_are_refused)
{
	int fd = memfd(2 * PAGE), small = memfd(PAGE), p[2];
	uint64_t gpa = 1;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(call_map(VP_SHM_MAX_MAPS, 0, PAGE, fd, &gpa), -EINVAL, "index");
	cr_assert_eq(call_map(0, 0, 0, fd, &gpa), -EINVAL, "empty");
	cr_assert_eq(call_map(0, SHM_SIZE, PAGE, fd, &gpa), -EINVAL, "past the region");
	cr_assert_eq(call_map(0, SHM_SIZE - PAGE, 2 * PAGE, fd, &gpa), -EINVAL, "across its end");
	cr_assert_eq(call_map(0, 0, 0xfffffULL * PAGE << 12, fd, &gpa), -EINVAL, "huge");
	cr_assert_eq(call_map(0, 0, PAGE, -1, &gpa), -EBADF, "no descriptor");
	cr_assert_eq(call_map(0, 0, PAGE, p[0], &gpa), -EINVAL, "a pipe");
	cr_assert_eq(call_map(0, 0, 2 * PAGE, small, &gpa), -EINVAL, "longer than the file");
	cr_assert_eq(virtio_pci_shm_map(&vp, 0, 100, PAGE, fd, &gpa), -EINVAL, "unaligned");
	cr_assert_eq(vp_shm_call(&vp, 99, 0, 0, fd, &gpa), -EINVAL, "unknown call");
	for (unsigned int i = 0; i < VP_SHM_MAX_MAPS; i++)
		cr_assert_eq(vp.shm_maps[i].size, 0, "nothing mapped by a refused request");

	cr_assert_eq(call_map(3, PAGE, 2 * PAGE, fd, &gpa), 0);
	cr_assert_eq(gpa, 0, "BAR 2 is off: no address yet");
	cr_assert_eq(call_map(3, 8 * PAGE, PAGE, small, &gpa), -EEXIST, "index in use");
	cr_assert_eq(call_map(4, 2 * PAGE, PAGE, small, &gpa), -EEXIST, "overlap");
	cr_assert_eq(call_map(4, 0, 2 * PAGE, fd, &gpa), -EEXIST, "overlap at the start");
	cr_assert_eq(call_map(4, 0, PAGE, small, &gpa), 0, "the page before is free");
	cr_assert_eq(vp_shm_call(&vp, VP_CALL_SHM_UNMAP, 5, 0, -1, &gpa), -ENOENT);
	cr_assert_eq(vp_shm_call(&vp, VP_CALL_SHM_UNMAP, 500, 0, -1, &gpa), -EINVAL);
	cr_assert_eq(virtio_pci_shm_unmap(&vp, 3), 0);
	cr_assert_eq(vp.shm_maps[3].size, 0);
	cr_assert_eq(call_map(5, PAGE, 2 * PAGE, fd, &gpa), 0, "its range is free again");
	close(fd);
	close(small);
	close(p[0]);
	close(p[1]);
}

Test(vp_shm, mappings_follow_the_bar)
{
	int fd = memfd(PAGE);
	uint64_t gpa;
	uint32_t v = 0x5a5aa5a5, got = 0;

	cr_assert_eq(virtio_pci_shm_map(&vp, 7, 4 * PAGE, PAGE, fd, &gpa), 0);
	cr_assert_not(vp.shm_maps[7].in_kvm);
	vp_shm_bar_moved(&vp, BAR_GPA);
	cr_assert(vp.shm_maps[7].in_kvm, "registered once the BAR is on");
	/* The guest's page is the descriptor's memory. */
	cr_assert_eq(pwrite(fd, &v, sizeof(v), 8), (ssize_t)sizeof(v));
	memcpy(&got, (uint8_t *)vp.shm_maps[7].host + 8, sizeof(got));
	cr_assert_eq(got, v);
	int fd2 = memfd(PAGE);

	cr_assert_eq(virtio_pci_shm_map(&vp, 8, 0, PAGE, fd2, &gpa), 0);
	cr_assert_eq(gpa, BAR_GPA, "the address while the BAR is on");
	cr_assert(vp.shm_maps[8].in_kvm);
	vp_shm_bar_moved(&vp, 0);
	cr_assert_not(vp.shm_maps[7].in_kvm);
	cr_assert_not(vp.shm_maps[8].in_kvm);
	vp_shm_bar_moved(&vp, BAR_GPA + SHM_SIZE);
	cr_assert(vp.shm_maps[7].in_kvm && vp.shm_maps[8].in_kvm, "moved with the BAR");
	close(fd);
	close(fd2);
}

Test(vp_shm, write_sealed_is_read_only)
{
	int fd = memfd(PAGE);
	uint64_t gpa;

	cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
	vp_shm_bar_moved(&vp, BAR_GPA);
	cr_assert_eq(virtio_pci_shm_map(&vp, 0, 0, PAGE, fd, &gpa), 0);
	cr_assert(vp.shm_maps[0].ro);
	cr_assert(vp.shm_maps[0].in_kvm, "KVM_MEM_READONLY slot");
	close(fd);
}

Test(vp_shm, partial_last_page)
{
	int fd = memfd(5000);
	uint64_t gpa;

	cr_assert_eq(call_map(0, 0, 3 * PAGE, fd, &gpa), -EINVAL, "a whole page past the end");
	cr_assert_eq(call_map(0, 0, 2 * PAGE, fd, &gpa), 0, "the partial last page");
	close(fd);
}
