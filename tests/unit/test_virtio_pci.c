// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio-pci transport as a driver sees it through BAR 0: capabilities,
 * feature negotiation, the status machine and reset, queue registers, a
 * broken ring at DRIVER_OK, and kicks reaching the device's worker thread.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sys/epoll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "test_util_kvm.h"
#include "virtio/virtio_pci.h"

struct fake {
	int activated, resets, notified, fd_events;
	uint32_t last_tag;
	int quiet_fd; /* fd_event switches this fd to events 0 (as a device with nothing to do) */
	uint64_t features;
	uint8_t config[8];
};

static void f_config_read(void *o, uint32_t off, uint8_t *d, uint32_t len)
{
	memcpy(d, ((struct fake *)o)->config + off, len);
}

static void f_activate(void *o, uint64_t features)
{
	((struct fake *)o)->activated++;
	((struct fake *)o)->features = features;
}

static int f_notify(void *o, struct virtio_pci *vp, unsigned int q)
{
	(void)vp;
	(void)q;
	__atomic_add_fetch(&((struct fake *)o)->notified, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int f_fd_event(void *o, struct virtio_pci *vp, uint32_t tag, uint32_t events)
{
	struct fake *f = o;

	(void)events;
	f->last_tag = tag;
	if (f->quiet_fd >= 0)
		virtio_pci_watch_fd(vp, f->quiet_fd, 0, tag);
	__atomic_add_fetch(&f->fd_events, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void f_reset(void *o)
{
	((struct fake *)o)->resets++;
}

static const struct virtio_dev_ops fake_ops = {
	.config_read = f_config_read,
	.activate = f_activate,
	.queue_notify = f_notify,
	.reset = f_reset,
	.fd_event = f_fd_event,
};

static struct virtio_pci vp;
static struct fake dev;
static struct guest_mem mem;
static struct irq_router router;
static struct cvm_logger quiet = { .level = CVM_LOG_ERROR };
static int vmfd;

static void setup(void)
{
	struct cvm_errbuf err = { "" };

	memset(&dev, 0, sizeof(dev));
	dev.quiet_fd = -1;
	memcpy(dev.config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	vmfd = tu_kvm_vm();
	cr_assert_eq(gmem_create(&mem, 16 * GMEM_MIB, NULL), 0);
	irq_router_init(&router, vmfd);
	struct virtio_pci_config c = {
		.name = "fake",
		.device_id = 2,
		.pci_class = 0x018000 << 8,
		.features = 1ULL << 5,
		.config_len = 8,
		.nr_queues = 2,
		.queue_max_size = 64,
		.ops = &fake_ops,
		.opaque = &dev,
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

TestSuite(virtio_pci, .init = setup, .fini = teardown);

static uint32_t br(uint64_t off, uint32_t len)
{
	uint8_t d[8] = { 0 };
	uint32_t v = 0;

	vp.pci.bars[0].ops->read(vp.pci.bars[0].opaque, off, d, len);
	memcpy(&v, d, len < 4 ? len : 4);
	return v;
}

static void bw(uint64_t off, uint32_t len, uint32_t v)
{
	vp.pci.bars[0].ops->write(vp.pci.bars[0].opaque, off, (uint8_t *)&v, len);
}

#define COMMON(f) (VP_COMMON_OFF + VIRTIO_PCI_COMMON_##f)

Test(virtio_pci, capabilities)
{
	unsigned int seen = 0, p = vp.pci.cfg[0x34];

	cr_assert_eq(pci_cfg_read(&vp.pci, 0, 4), 0x10421af4);
	cr_assert_eq(vp.pci.cfg[0x08], 1, "revision 1: modern");
	for (int n = 0; p && n < 16; n++, p = vp.pci.cfg[p + 1]) {
		if (vp.pci.cfg[p] == 0x09) {
			seen |= 1u << vp.pci.cfg[p + 3];
			cr_assert_eq(vp.pci.cfg[p + 4], 0, "in BAR 0");
			if (vp.pci.cfg[p + 3] == VIRTIO_PCI_CAP_NOTIFY_CFG)
				cr_assert_eq(pci_cfg_read(&vp.pci, p + 16, 4), VP_NOTIFY_MULT);
		} else if (vp.pci.cfg[p] == 0x11) {
			cr_assert_eq(pci_cfg_read(&vp.pci, p + 2, 2) & 0x7ff, 2, "3 vectors");
			seen |= 1u << 31;
		}
	}
	cr_assert_eq(seen, (1u << 31) | 0x1e, "common, notify, ISR, device and MSI-X caps");
}

Test(virtio_pci, feature_negotiation)
{
	bw(COMMON(DFSELECT), 4, 0);
	cr_assert_eq(br(COMMON(DF), 4) & (1u << 5), 1u << 5);
	bw(COMMON(DFSELECT), 4, 1);
	cr_assert(br(COMMON(DF), 4) & 1, "VERSION_1 offered");
	bw(COMMON(DFSELECT), 4, 7);
	cr_assert_eq(br(COMMON(DF), 4), 0);

	/* Without VERSION_1 the device refuses FEATURES_OK. */
	bw(COMMON(STATUS), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	bw(COMMON(GFSELECT), 4, 0);
	bw(COMMON(GF), 4, 1u << 5);
	bw(COMMON(STATUS), 1, 0x0b);
	cr_assert_eq(br(COMMON(STATUS), 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	/* A feature that was not offered: refused too. */
	bw(COMMON(GFSELECT), 4, 1);
	bw(COMMON(GF), 4, 1 | 1u << 20);
	bw(COMMON(STATUS), 1, 0x0b);
	cr_assert_eq(br(COMMON(STATUS), 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	bw(COMMON(GF), 4, 1);
	bw(COMMON(STATUS), 1, 0x0b);
	cr_assert(br(COMMON(STATUS), 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* Frozen after FEATURES_OK. */
	bw(COMMON(GFSELECT), 4, 0);
	bw(COMMON(GF), 4, 0);
	cr_assert_eq(br(COMMON(GF), 4), 1u << 5);
}

Test(virtio_pci, queue_registers)
{
	cr_assert_eq(br(COMMON(NUMQ), 2), 2);
	bw(COMMON(Q_SELECT), 2, 1);
	cr_assert_eq(br(COMMON(Q_SIZE), 2), 64);
	bw(COMMON(Q_SIZE), 2, 48); /* not a power of two */
	cr_assert_eq(br(COMMON(Q_SIZE), 2), 64);
	bw(COMMON(Q_SIZE), 2, 128); /* above the maximum */
	cr_assert_eq(br(COMMON(Q_SIZE), 2), 64);
	bw(COMMON(Q_SIZE), 2, 16);
	cr_assert_eq(br(COMMON(Q_SIZE), 2), 16);
	cr_assert_eq(br(COMMON(Q_NOFF), 2), 1);
	bw(COMMON(Q_MSIX), 2, 9); /* only 3 vectors */
	cr_assert_eq(br(COMMON(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	bw(COMMON(Q_MSIX), 2, 2);
	cr_assert_eq(br(COMMON(Q_MSIX), 2), 2);
	bw(COMMON(Q_DESCLO), 4, 0x10000);
	bw(COMMON(Q_DESCHI), 4, 0);
	cr_assert_eq(br(COMMON(Q_DESCLO), 4), 0x10000);
	bw(COMMON(Q_ENABLE), 2, 1);
	bw(COMMON(Q_DESCLO), 4, 0x20000); /* frozen once enabled */
	cr_assert_eq(br(COMMON(Q_DESCLO), 4), 0x10000);
	bw(COMMON(Q_SELECT), 2, 5);
	cr_assert_eq(br(COMMON(Q_SIZE), 2), 0, "no queue 5");
	/* Accesses of the wrong width are ignored. */
	cr_assert_eq(br(COMMON(NUMQ), 4), 0);
	cr_assert_eq(br(VP_DEVICE_OFF + 4, 4), 0x88776655);
	cr_assert_eq(br(VP_DEVICE_OFF + 6, 4), 0, "config read past its end");
}

static void negotiate(void)
{
	bw(COMMON(STATUS), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	bw(COMMON(GFSELECT), 4, 1);
	bw(COMMON(GF), 4, 1);
	bw(COMMON(STATUS), 1, 0x0b);
}

static void queue_at(unsigned int q, uint64_t desc)
{
	bw(COMMON(Q_SELECT), 2, q);
	bw(COMMON(Q_SIZE), 2, 16);
	bw(COMMON(Q_DESCLO), 4, (uint32_t)desc);
	bw(COMMON(Q_DESCHI), 4, (uint32_t)(desc >> 32));
	bw(COMMON(Q_AVAILLO), 4, (uint32_t)desc + 0x1000);
	bw(COMMON(Q_USEDLO), 4, (uint32_t)desc + 0x2000);
	bw(COMMON(Q_ENABLE), 2, 1);
}

Test(virtio_pci, broken_ring_needs_reset)
{
	negotiate();
	queue_at(0, 0x7ff00000ULL); /* far outside 16 MiB of RAM */
	bw(COMMON(STATUS), 1, 0x0f);
	cr_assert(br(COMMON(STATUS), 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(dev.activated, 0);
	cr_assert_null(virtio_pci_queue(&vp, 0));
	/* The driver resets; everything is back to the start. */
	bw(COMMON(STATUS), 1, 0);
	cr_assert_eq(br(COMMON(STATUS), 1), 0);
	cr_assert_eq(dev.resets, 2, "once at init, once now");
	bw(COMMON(Q_SELECT), 2, 0);
	cr_assert_eq(br(COMMON(Q_ENABLE), 2), 0);
	cr_assert_eq(br(COMMON(Q_DESCLO), 4), 0);
}

Test(virtio_pci, kicks_reach_the_worker)
{
	struct cvm_errbuf err = { "" };
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	cr_assert_eq(virtio_pci_start(&vp, NULL, &err), 0, "%s", err.msg);
	negotiate();
	queue_at(0, 0x10000);
	bw(COMMON(STATUS), 1, 0x0f);
	cr_assert_eq(dev.activated, 1);
	cr_assert_eq(dev.features >> 32, 1);
	cr_assert_not_null(virtio_pci_queue(&vp, 0));
	cr_assert_null(virtio_pci_queue(&vp, 1), "queue 1 was never enabled");
	/* DRIVER_OK itself kicks each enabled queue once; then a guest kick. */
	for (int i = 0; i < 200 && __atomic_load_n(&dev.notified, __ATOMIC_SEQ_CST) < 1; i++)
		nanosleep(&ts, NULL);
	cr_assert_eq(__atomic_load_n(&dev.notified, __ATOMIC_SEQ_CST), 1);
	bw(VP_NOTIFY_OFF, 4, 0); /* a 4-byte kick takes the slow path */
	for (int i = 0; i < 200 && __atomic_load_n(&dev.notified, __ATOMIC_SEQ_CST) < 2; i++)
		nanosleep(&ts, NULL);
	cr_assert_eq(__atomic_load_n(&dev.notified, __ATOMIC_SEQ_CST), 2);
	bw(VP_NOTIFY_OFF + 4, 2, 1); /* queue 1: not enabled, nothing happens */
	nanosleep(&ts, NULL);
	cr_assert_eq(__atomic_load_n(&dev.notified, __ATOMIC_SEQ_CST), 2);
	virtio_pci_stop(&vp);
}

Test(virtio_pci, isr_reads_clear)
{
	vp.isr = 3;
	cr_assert_eq(br(VP_ISR_OFF, 1), 3);
	cr_assert_eq(br(VP_ISR_OFF, 1), 0);
}

Test(virtio_pci, device_fds_reach_the_worker)
{
	struct cvm_errbuf err = { "" };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(virtio_pci_watch_fd(&vp, p[0], EPOLLIN, 7), 0);
	cr_assert_eq(virtio_pci_watch_fd(&vp, p[0], EPOLLIN, VP_MAX_DEV_TAG), -EINVAL);
	/*
	 * The callback switches the fd to events 0 (registered, quiet), as a
	 * device does when it cannot take more input: the byte left in the
	 * pipe must then raise no further event.
	 */
	dev.quiet_fd = p[0];
	cr_assert_eq(virtio_pci_start(&vp, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(write(p[1], "x", 1), 1);
	for (int i = 0; i < 500 && !__atomic_load_n(&dev.fd_events, __ATOMIC_SEQ_CST); i++)
		nanosleep(&ts, NULL);
	cr_assert_eq(__atomic_load_n(&dev.fd_events, __ATOMIC_SEQ_CST), 1);
	cr_assert_eq(dev.last_tag, 7);
	for (int i = 0; i < 5; i++)
		nanosleep(&ts, NULL);
	cr_assert_eq(__atomic_load_n(&dev.fd_events, __ATOMIC_SEQ_CST), 1,
		     "an fd switched to events 0 kept reporting");
	/* Watching again: the pending byte is reported again. */
	dev.quiet_fd = -1;
	cr_assert_eq(virtio_pci_watch_fd(&vp, p[0], EPOLLIN, 7), 0);
	for (int i = 0; i < 500 && __atomic_load_n(&dev.fd_events, __ATOMIC_SEQ_CST) < 2; i++)
		nanosleep(&ts, NULL);
	cr_assert_geq(__atomic_load_n(&dev.fd_events, __ATOMIC_SEQ_CST), 2);
	virtio_pci_stop(&vp);
	virtio_pci_unwatch_fd(&vp, p[0]);
	close(p[0]);
	close(p[1]);
}
