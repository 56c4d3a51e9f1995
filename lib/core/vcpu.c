// SPDX-License-Identifier: BSD-3-Clause
/* vCPU threads: KVM_RUN and exit dispatch. */
#include "core/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/cpu.h"
#include "kvm/kvm.h"

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define SIG_VCPU_KICK (SIGRTMIN + 1)

static void kick_handler(int sig)
{
	(void)sig;
}

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

static void install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIG_VCPU_KICK, &sa, NULL);
}

int vcpu_create(struct cvm_vm *vm, struct vcpu *v, unsigned int id)
{
	int rc;

	v->fd = -1;
	v->vm = vm;
	v->id = id;
	rc = kvm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
	if (rc < 0)
		return vm_error(vm, rc, "KVM_CREATE_VCPU %u: %s", id, strerror(-rc));
	v->fd = rc;
	fcntl(v->fd, F_SETFD, FD_CLOEXEC);
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return vm_error(vm, -errno, "mmap of vCPU %u's kvm_run: %s", id, strerror(errno));
	}

	struct kvm_cpuid2 *c = vm->cpuid;
	size_t sz = sizeof(*c) + c->nent * sizeof(c->entries[0]);
	struct kvm_cpuid2 *mine = malloc(sz);

	if (!mine)
		return vm_error(vm, -ENOMEM, "out of memory");
	memcpy(mine, c, sz);
	x86_cpuid_filter(mine, id, vm->nr_vcpus, &vm->cpuid_disable);
	rc = kvm_ioctl(v->fd, KVM_SET_CPUID2, mine);
	free(mine);
	if (rc)
		return vm_error(vm, rc, "KVM_SET_CPUID2 on vCPU %u: %s", id, strerror(-rc));
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v->vm)
		return;
	if (v->run)
		munmap(v->run, v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

static void hexbytes(char *buf, size_t len, const uint8_t *b, unsigned int n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < n && off + 4 < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%02x", i ? " " : "", b[i]);
}

/* Report an emulation failure or other internal error with RIP and instruction bytes. */
static void report_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t insn[16];
	unsigned int n = 0;
	char bytes[64] = "unavailable";
	const char *what = "unknown";
	uint64_t rip = 0;

	if (!kvm_ioctl(v->fd, KVM_GET_REGS, &regs))
		rip = regs.rip;
	switch (run->internal.suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		what = "emulation failure";
		if (run->emulation_failure.ndata >= 3 &&
		    (run->emulation_failure.flags &
		     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
			n = run->emulation_failure.insn_size;
			if (n > sizeof(run->emulation_failure.insn_bytes))
				n = sizeof(run->emulation_failure.insn_bytes);
			memcpy(insn, run->emulation_failure.insn_bytes, n);
		}
		break;
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		what = "exception while delivering an exception";
		break;
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		what = "event delivery failure";
		break;
	default:
		break;
	}
	if (n == 0 && !kvm_ioctl(v->fd, KVM_GET_SREGS, &sregs)) {
		/* Read the bytes at RIP through the guest's own page tables. */
		uint64_t gpa;

		if (!x86_gva_to_gpa(&v->vm->mem, &sregs, rip + sregs.cs.base, &gpa)) {
			for (n = 0; n < 15; n++) {
				const uint8_t *p = gmem_ptr(&v->vm->mem, gpa + n, 1);

				if (!p)
					break;
				insn[n] = *p;
			}
		}
	}
	if (n)
		hexbytes(bytes, sizeof(bytes), insn, n);
	vm_request_exit(v->vm, CVM_EXIT_ERROR, -EIO,
			"vCPU %u: KVM internal error %u (%s) at RIP 0x%llx: instruction bytes %s",
			v->id, run->internal.suberror, what, (unsigned long long)rip, bytes);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t size = run->io.size;

	if (run->io.data_offset >= v->vm->run_size ||
	    (uint64_t)size * run->io.count > v->vm->run_size - run->io.data_offset)
		return;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		int rc;

		if (run->io.direction == KVM_EXIT_IO_OUT)
			rc = bus_write(&v->vm->pio, run->io.port, data, size);
		else
			rc = bus_read(&v->vm->pio, run->io.port, data, size);
		if (rc)
			log_debug(&v->vm->log, "unhandled port %s 0x%x (%u bytes)",
				  run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read",
				  run->io.port, size);
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;
	int rc;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (run->mmio.is_write)
		rc = bus_write(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		rc = bus_read(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	if (rc)
		log_debug(&v->vm->log, "unhandled MMIO %s 0x%llx (%u bytes)",
			  run->mmio.is_write ? "write" : "read",
			  (unsigned long long)run->mmio.phys_addr, len);
}

/* Handle one exit; returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		vm_request_exit(v->vm, CVM_EXIT_POWEROFF, 0, "vCPU %u halted", v->id);
		return false;
	case KVM_EXIT_SHUTDOWN:
		vm_request_exit(v->vm, CVM_EXIT_RESET, 0, "vCPU %u: triple fault (shutdown)",
				v->id);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_exit(v->vm, CVM_EXIT_POWEROFF, 0, "guest powered off");
			break;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_exit(v->vm, CVM_EXIT_RESET, 0, "guest reset");
			break;
		default:
			vm_request_exit(v->vm, CVM_EXIT_ERROR, -EIO, "vCPU %u: system event %u",
					v->id, run->system_event.type);
			break;
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		report_internal_error(v);
		return false;
	case KVM_EXIT_FAIL_ENTRY: {
		struct kvm_regs regs = { 0 };

		kvm_ioctl(v->fd, KVM_GET_REGS, &regs);
		vm_request_exit(v->vm, CVM_EXIT_ERROR, -EIO,
				"vCPU %u: VM entry failed (hardware reason 0x%llx) at RIP 0x%llx",
				v->id,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason,
				(unsigned long long)regs.rip);
		return false;
	}
	default:
		vm_request_exit(v->vm, CVM_EXIT_ERROR, -EIO, "vCPU %u: unexpected KVM exit %u",
				v->id, run->exit_reason);
		return false;
	}
}

/* Wait outside KVM_RUN while the VM is suspended. */
static void vcpu_park(struct vcpu *v)
{
	struct cvm_vm *vm = v->vm;

	pthread_mutex_lock(&vm->pause_lock);
	vm->paused_vcpus++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_requested) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->paused_vcpus--;
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct cvm_vm *vm = v->vm;
	sigset_t set;

	/* Only the kick reaches this thread; SIGPIPE stays blocked so writes get EPIPE. */
	sigemptyset(&set);
	sigaddset(&set, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!atomic_load(&vm->stopping)) {
		if (atomic_load(&vm->pause_requested)) {
			vcpu_park(v);
			continue;
		}

		int rc = ioctl(v->fd, KVM_RUN, 0);

		if (rc < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			vm_request_exit(vm, CVM_EXIT_ERROR, -errno, "vCPU %u: KVM_RUN: %s", v->id,
					strerror(errno));
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}

int vcpus_start(struct cvm_vm *vm)
{
	sigset_t all, old;
	int rc = 0;

	pthread_once(&kick_once, install_kick_handler);
	/* Threads inherit a mask with every signal blocked; each unblocks its kick. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		rc = -pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (rc) {
			vm_error(vm, rc, "cannot start vCPU %u's thread: %s", i, strerror(-rc));
			break;
		}
		v->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void kick(struct vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, SIG_VCPU_KICK);
}

static void deadline_in_ms(struct timespec *t, long ms)
{
	clock_gettime(CLOCK_REALTIME, t);
	t->tv_nsec += ms * 1000 * 1000;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

int vcpus_pause(struct cvm_vm *vm)
{
	unsigned int started = 0;

	pthread_mutex_lock(&vm->pause_lock);
	if (vm->suspended) {
		pthread_mutex_unlock(&vm->pause_lock);
		return -EALREADY;
	}
	atomic_store(&vm->pause_requested, true);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		started += vm->vcpus[i].started;
	/* Kick until every vCPU is parked; a kick can land before a blocking call. */
	while (vm->paused_vcpus < started && !atomic_load(&vm->stopping)) {
		struct timespec until;

		for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
			if (vm->vcpus[i].started)
				kick(&vm->vcpus[i]);
		}
		deadline_in_ms(&until, 50);
		pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &until);
	}
	/* Tell a kvmclock guest it was stopped, so its watchdogs do not fire. */
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		kvm_ioctl(vm->vcpus[i].fd, KVM_KVMCLOCK_CTRL, NULL);
	vm->suspended = true;
	pthread_mutex_unlock(&vm->pause_lock);
	log_debug(&vm->log, "vCPUs suspended");
	return 0;
}

int vcpus_resume(struct cvm_vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	if (!vm->suspended) {
		pthread_mutex_unlock(&vm->pause_lock);
		return -EALREADY;
	}
	vm->suspended = false;
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	log_debug(&vm->log, "vCPUs resumed");
	return 0;
}

void vcpus_stop_and_join(struct cvm_vm *vm)
{
	atomic_store(&vm->stopping, true);
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond); /* parked vCPUs leave too */
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].started)
			kick(&vm->vcpus[i]);
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started)
			continue;
		/*
		 * A kick that lands just before a blocking call in device code
		 * (a full serial output, say) is not seen by it: kick again
		 * until the thread is gone.
		 */
		for (;;) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 50 * 1000 * 1000;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(v->thread, NULL, &until) == 0)
				break;
			kick(v);
		}
		v->started = false;
	}
}
