// SPDX-License-Identifier: BSD-3-Clause
/*
 * The UARTs (COM1-4) in one jailed, seccomp-filtered process of their own
 * (jail/devproc.h, docs/sandbox.md), as crosvm runs its serial devices.
 *
 * The VMM keeps the I/O ports and the input descriptors: a vCPU's port
 * access and the run loop's input bytes become devproc requests; the UARTs
 * write their output to the ports' output descriptors themselves. Their
 * interrupt levels live in a shared page and each change is announced by an
 * event; the VMM drives the IRQ lines, also right after every access, so a
 * guest's IIR read lowers the line before its EOI.
 */
#include "core/vm.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/serial.h"
#include "jail/devproc.h"

enum { SP_READ = 1, SP_WRITE, SP_RX, SP_RXSPACE };
enum { SP_EVT_IRQ = DEVPROC_EVT_DEVICE, SP_EVT_RXSPACE };

struct serial_shared {
	_Atomic int level[CVM_NR_SERIAL];
};

struct serial_proc {
	struct cvm_vm *vm;
	struct devproc *dp;
	struct serial_shared *sh; /* MAP_SHARED */
	int stop_efd;
	pthread_mutex_t irq_lock; /* VMM: reading a level and driving its line */
	bool in_child;
};

bool vm_serial_in_child(const struct cvm_vm *vm)
{
	return vm->sproc && vm->sproc->in_child;
}

/* --- the UARTs' process -------------------------------------------------------------------- */

void vm_serial_child_irq(struct cvm_vm *vm, unsigned int idx, int level)
{
	struct serial_proc *sp = vm->sproc;

	atomic_store(&sp->sh->level[idx], level);
	devproc_child_event(sp->dp, SP_EVT_IRQ, (uint16_t)idx, 0);
}

void vm_serial_child_rx_space(struct cvm_vm *vm, unsigned int idx)
{
	devproc_child_event(vm->sproc->dp, SP_EVT_RXSPACE, (uint16_t)idx, 0);
}

static void child_run(void *opaque, struct devproc *dp)
{
	struct serial_proc *sp = opaque;
	struct pollfd pfd[2] = {
		{ .fd = devproc_child_ctl_fd(dp), .events = POLLIN },
		{ .fd = sp->stop_efd, .events = POLLIN },
	};

	sp->in_child = true;
	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue; /* EINTR: the VMM's stop signal, look at stop_efd */
		if (pfd[1].revents) {
			/* The guest's last bytes, posted before the stop; never wait for room. */
			for (unsigned int i = 0; i < CVM_NR_SERIAL; i++)
				if (sp->vm->serial[i].dev)
					serial_stop_waiting(sp->vm->serial[i].dev);
			devproc_child_drain(dp);
			return;
		}
		if (pfd[0].revents && devproc_child_serve(dp) < 0)
			return; /* the VMM is gone */
	}
}

static void child_request(void *opaque, const struct devproc_req *r, struct devproc_rep *rep)
{
	struct serial_proc *sp = opaque;
	struct serial *s = r->idx < CVM_NR_SERIAL ? sp->vm->serial[r->idx].dev : NULL;

	if (!s || (r->op != SP_RXSPACE && (!r->len || r->len > sizeof(r->data)))) {
		rep->status = -EINVAL;
		return;
	}
	switch (r->op) {
	case SP_READ:
		if (r->off >= SERIAL_NR_REGS || r->len > 4)
			rep->status = -EINVAL;
		else
			serial_io_ops.read(s, r->off, rep->data, r->len);
		break;
	case SP_WRITE:
		if (r->off >= SERIAL_NR_REGS || r->len > 4)
			rep->status = -EINVAL;
		else
			serial_io_ops.write(s, r->off, r->data, r->len);
		break;
	case SP_RX:
		rep->val = (uint32_t)serial_receive(s, r->data, r->len);
		break;
	case SP_RXSPACE:
		rep->val = (uint32_t)serial_rx_space(s);
		break;
	default:
		rep->status = -EINVAL;
	}
}

/* --- the VMM's side ------------------------------------------------------------------------ */

static void sync_irq(struct serial_proc *sp, unsigned int idx)
{
	struct serial_port *p = &sp->vm->serial[idx];

	pthread_mutex_lock(&sp->irq_lock);
	vm_set_irq(sp->vm, p->irq, idx, atomic_load(&sp->sh->level[idx]));
	pthread_mutex_unlock(&sp->irq_lock);
}

static void vmm_event(void *opaque, const struct devproc_evt *e)
{
	struct serial_proc *sp = opaque;
	uint64_t one = 1;

	if (e->idx >= CVM_NR_SERIAL)
		return;
	if (e->op == SP_EVT_IRQ)
		sync_irq(sp, e->idx);
	else if (e->op == SP_EVT_RXSPACE && write(sp->vm->wake_efd, &one, sizeof(one)) < 0 &&
		 errno != EAGAIN)
		log_err(&sp->vm->log, "serial wake-up: %s", strerror(errno));
}

static const struct devproc_ops serial_devproc_ops = {
	.child_run = child_run,
	.child_request = child_request,
	.event = vmm_event,
};

/* A request for port @p's UART; @rep NULL: posted (a register write). */
static int call(struct serial_port *p, uint8_t op, uint64_t off, const uint8_t *data, size_t len,
		struct devproc_rep *rep)
{
	struct serial_proc *sp = p->vm->sproc;
	struct devproc_req r = { .op = op, .idx = (uint16_t)(p->cfg.port - 1), .off = off };
	int rc;

	if (!sp->dp)
		return -EPIPE; /* stopped */
	if (len > sizeof(r.data))
		len = sizeof(r.data);
	r.len = (uint8_t)len;
	if (data)
		memcpy(r.data, data, len);
	rc = rep ? devproc_call(sp->dp, &r, rep) : devproc_post(sp->dp, &r);
	sync_irq(sp, r.idx);
	return rc;
}

static void proxy_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct devproc_rep rep;

	memset(data, 0xff, len);
	if (len <= 4 && call(opaque, SP_READ, off, NULL, len, &rep) == 0)
		memcpy(data, rep.data, len);
}

static void proxy_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	if (len <= 4)
		call(opaque, SP_WRITE, off, data, len, NULL);
}

/* The port ops the VMM registers for a sandboxed UART (opaque: its serial_port). */
const struct cvm_io_ops serial_proxy_ops = { .read = proxy_read, .write = proxy_write };

size_t vm_serial_receive(struct serial_port *p, const uint8_t *buf, size_t n)
{
	struct devproc_rep rep;

	if (!p->vm->sproc)
		return serial_receive(p->dev, buf, n);
	if (call(p, SP_RX, 0, buf, n, &rep))
		return 0;
	return rep.val <= n ? rep.val : n;
}

size_t vm_serial_rx_space(struct serial_port *p)
{
	struct devproc_rep rep;

	if (!p->vm->sproc)
		return serial_rx_space(p->dev);
	return call(p, SP_RXSPACE, 0, NULL, 0, &rep) ? 0 : rep.val;
}

int vm_serial_proc_start(struct cvm_vm *vm, struct cvm_errbuf *err)
{
	int fds[2 * CVM_NR_SERIAL + 1];
	unsigned int n = 0;
	struct serial_proc *sp = vm->sproc;

	/* Only what the UARTs write to: input stays with the VMM's run loop. */
	fds[n++] = sp->stop_efd;
	for (unsigned int i = 0; i < CVM_NR_SERIAL; i++)
		if (vm->serial[i].cfg.out_fd >= 0)
			fds[n++] = vm->serial[i].cfg.out_fd;

	const struct devproc_config c = {
		.name = "serial",
		.policy = "serial",
		.policy_dir = vm->policy_dir,
		.new_userns = true,
		.keep_fds = fds,
		.nr_keep_fds = n,
		.stop_efd = sp->stop_efd,
		.interrupt_stop = true, /* a UART may wait for room in its output */
		.stopping = &vm->stopping,
		.log = &vm->log,
		.failed = vm_device_failed,
		.failed_ctx = vm,
		.ops = &serial_devproc_ops,
		.opaque = sp,
	};

	return devproc_start(&sp->dp, &c, err);
}

int vm_serial_proc_create(struct cvm_vm *vm, struct cvm_errbuf *err)
{
	struct serial_proc *sp = calloc(1, sizeof(*sp));

	if (!sp)
		return errf(err, -ENOMEM, "out of memory");
	sp->vm = vm;
	sp->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sp->sh = mmap(NULL, sizeof(*sp->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		      0);
	pthread_mutex_init(&sp->irq_lock, NULL);
	vm->sproc = sp;
	if (sp->stop_efd < 0 || sp->sh == MAP_FAILED)
		return errf(err, -errno, "serial: %s", strerror(errno));
	return 0;
}

struct devproc *vm_serial_devproc(const struct cvm_vm *vm)
{
	return vm->sproc ? vm->sproc->dp : NULL;
}

void vm_serial_proc_stop(struct cvm_vm *vm)
{
	if (vm->sproc) {
		devproc_stop(vm->sproc->dp);
		vm->sproc->dp = NULL;
	}
}

void vm_serial_proc_destroy(struct cvm_vm *vm)
{
	struct serial_proc *sp = vm->sproc;

	if (!sp)
		return;
	vm_serial_proc_stop(vm);
	if (sp->stop_efd >= 0)
		close(sp->stop_efd);
	if (sp->sh && sp->sh != MAP_FAILED)
		munmap(sp->sh, sizeof(*sp->sh));
	pthread_mutex_destroy(&sp->irq_lock);
	free(sp);
	vm->sproc = NULL;
}
