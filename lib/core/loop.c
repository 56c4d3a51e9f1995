// SPDX-License-Identifier: BSD-3-Clause
/*
 * The loop that cvm_vm_run()'s thread runs while the vCPUs execute: it waits
 * for a stop (cvm_vm_stop(), a vCPU that ended the run) and feeds serial
 * input from the ports' input descriptors into the UARTs, never faster than
 * their FIFOs drain, so no input is lost.
 */
#include "core/vm.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "control/server.h"
#include "core/plugin.h"
#include "devices/serial.h"
#include "virtio/virtio_pci.h"

enum {
	TAG_STOP = 100,
	TAG_WAKE = 101,
	TAG_PROC = 1000, /* + index in the loop's list of device processes */
};

static void term_raw(struct cvm_vm *vm, struct serial_port *p)
{
	struct termios raw;

	if (!p->cfg.raw_terminal || !isatty(p->cfg.in_fd) || tcgetattr(p->cfg.in_fd, &p->tio))
		return;
	raw = p->tio;
	cfmakeraw(&raw);
	raw.c_oflag = p->tio.c_oflag; /* keep output processing: guests print plain \n too */
	if (tcsetattr(p->cfg.in_fd, TCSANOW, &raw) == 0)
		p->term_saved = true;
	else
		log_warn(&vm->log, "COM%u: cannot put the terminal in raw mode: %s", p->cfg.port,
			 strerror(errno));
}

static void term_restore(struct serial_port *p)
{
	if (p->term_saved)
		tcsetattr(p->cfg.in_fd, TCSANOW, &p->tio);
	p->term_saved = false;
}

/*
 * Watch in_fd or stop watching it. Unwatching removes it from the epoll set:
 * a hung-up pipe would otherwise report EPOLLHUP in a busy loop while the
 * guest is not reading.
 */
static void watch(int ep, struct serial_port *p, unsigned int tag, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	if (p->in_eof || !p->in_pollable || p->in_watched == on)
		return;
	if (epoll_ctl(ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, p->cfg.in_fd, &ev) == 0)
		p->in_watched = on;
}

/*
 * Move input into the UART: the pending bytes first, then fresh ones from
 * in_fd. A pollable in_fd is read only when epoll said it is @readable (a
 * terminal or an idle pipe would block otherwise); a regular file is read
 * whenever the FIFO has room.
 */
static void pump(struct cvm_vm *vm, int ep, struct serial_port *p, unsigned int tag, bool readable)
{
	if (!p->dev || p->cfg.in_fd < 0)
		return;
	for (;;) {
		if (p->pending_len) {
			size_t took = vm_serial_receive(p, p->pending, p->pending_len);

			memmove(p->pending, p->pending + took, p->pending_len - took);
			p->pending_len -= (unsigned int)took;
			if (p->pending_len) {
				watch(ep, p, tag, false); /* FIFO full: wait for rx_space */
				return;
			}
		}
		if (p->in_eof)
			return;
		if (p->in_pollable && !readable) {
			watch(ep, p, tag, true);
			return;
		}

		size_t space = vm_serial_rx_space(p);

		if (space == 0) {
			watch(ep, p, tag, false);
			return;
		}
		if (space > sizeof(p->pending))
			space = sizeof(p->pending);
		ssize_t n = read(p->cfg.in_fd, p->pending, space);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (n < 0)
				log_warn(&vm->log, "COM%u input: %s", p->cfg.port, strerror(errno));
			log_debug(&vm->log, "COM%u input: end of file", p->cfg.port);
			watch(ep, p, tag, false);
			p->in_eof = true;
			return;
		}
		p->pending_len = (unsigned int)n;
		readable = false; /* one read per readiness event */
	}
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

static int loop_setup(struct cvm_vm *vm, int ep, struct devproc **procs, unsigned int nr_procs)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = TAG_STOP };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, vm->stop_efd, &ev))
		return -errno;
	ev.data.u32 = TAG_WAKE;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, vm->wake_efd, &ev))
		return -errno;
	for (unsigned int i = 0; i < CVM_NR_SERIAL; i++) {
		struct serial_port *p = &vm->serial[i];

		if (p->cfg.in_fd < 0)
			continue;
		term_raw(vm, p);
		ev.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, p->cfg.in_fd, &ev) == 0) {
			p->in_pollable = p->in_watched = true;
		} else if (errno == EPERM) {
			p->in_pollable = false; /* a regular file: always readable */
		} else {
			return -errno;
		}
		pump(vm, ep, p, i, false);
	}
	/* Sandboxed devices: their messages, and their deaths. */
	for (unsigned int i = 0; i < nr_procs; i++) {
		ev.data.u32 = TAG_PROC + i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, devproc_event_fd(procs[i]), &ev))
			return -errno;
	}
	if (vm->ctl)
		return ctl_server_watch(vm->ctl, ep);
	return 0;
}

/* The device processes of the VM (the UARTs', the virtio devices', the custom I/O devices'). */
static unsigned int device_procs(struct cvm_vm *vm, struct devproc **procs)
{
	unsigned int n = 0;

	procs[n] = vm_serial_devproc(vm);
	n += devproc_event_fd(procs[n]) >= 0;
	for (unsigned int i = 0; i < vm->nr_vdevs; i++) {
		procs[n] = vm->vdevs[i].vp->proc;
		n += devproc_event_fd(procs[n]) >= 0;
	}
	for (unsigned int i = 0; i < vm->nr_io_devs; i++) {
		procs[n] = vm->io_devs[i]->dp;
		n += devproc_event_fd(procs[n]) >= 0;
	}
	return n;
}

/* A device process's messages; when it is gone, the run ends as an error. */
static void device_event(struct cvm_vm *vm, int ep, struct devproc *dp)
{
	struct cvm_errbuf err = { "" };
	int fd = devproc_event_fd(dp);
	int rc = devproc_events(dp, &err);

	if (rc < 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		vm_device_failed(vm, rc, err.msg);
	}
}

int vm_event_loop(struct cvm_vm *vm)
{
	struct devproc *procs[1 + CVM_MAX_VIRTIO_DEVS + CVM_MAX_IO_DEVS];
	unsigned int nr_procs = device_procs(vm, procs);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int rc;

	if (ep < 0)
		return vm_error(vm, -errno, "epoll_create1: %s", strerror(errno));
	rc = loop_setup(vm, ep, procs, nr_procs);
	if (rc)
		vm_error(vm, rc, "cannot watch serial input or the control socket: %s",
			 strerror(-rc));

	while (!rc && !atomic_load(&vm->stop_requested) && !atomic_load(&vm->stopping)) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = vm_error(vm, -errno, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;

			if (tag == TAG_STOP) {
				drain(vm->stop_efd);
			} else if (tag == TAG_WAKE) {
				drain(vm->wake_efd);
				for (unsigned int j = 0; j < CVM_NR_SERIAL; j++)
					pump(vm, ep, &vm->serial[j], j, false);
			} else if (tag >= TAG_PROC && tag < TAG_PROC + nr_procs) {
				device_event(vm, ep, procs[tag - TAG_PROC]);
			} else if (tag < CVM_NR_SERIAL) {
				pump(vm, ep, &vm->serial[tag], tag, true);
			} else {
				ctl_server_event(vm, ep, tag, evs[i].events);
			}
		}
	}
	for (unsigned int i = 0; i < CVM_NR_SERIAL; i++)
		term_restore(&vm->serial[i]);
	close(ep);
	return rc;
}
