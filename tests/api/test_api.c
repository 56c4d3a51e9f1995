// SPDX-License-Identifier: BSD-3-Clause
/*
 * The public API as a host program uses it: only <libcvm/cvm.h>, linked
 * against the shared library. Several VMs one after another and at once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libcvm/cvm.h>

#ifndef CVM_GUEST
#error "CVM_GUEST must name the test guest"
#endif

static void need_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("no usable /dev/kvm (%s): KVM tests skipped", strerror(errno));
	close(fd);
}

/* A VM running the test guest's @test with COM1 output into a pipe. */
struct guest_run {
	cvm_vm *vm;
	int out[2];
	char output[8192];
	size_t len;
	int rc;
	enum cvm_exit_reason reason;
};

static int guest_setup(struct guest_run *g, const char *test)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cfg.seccomp_policy_dir = CVM_POLICY_SRC;
	cvm_serial_config com1 = CVM_SERIAL_CONFIG_INIT;
	char params[128];
	int rc;

	memset(g, 0, sizeof(*g));
	cfg.mem_mib = 64;
	rc = cvm_vm_create(&g->vm, &cfg);
	if (rc)
		return rc;
	snprintf(params, sizeof(params), "cvm.test=%s", test);
	rc = cvm_vm_set_kernel(g->vm, CVM_GUEST, test ? params : NULL);
	if (rc)
		return rc;
	if (pipe2(g->out, O_CLOEXEC))
		return -errno;
	fcntl(g->out[0], F_SETFL, O_NONBLOCK);
	com1.out_fd = g->out[1];
	return cvm_vm_set_serial(g->vm, &com1);
}

static void guest_collect(struct guest_run *g)
{
	ssize_t n;

	while (g->len < sizeof(g->output) - 1 &&
	       (n = read(g->out[0], g->output + g->len, sizeof(g->output) - 1 - g->len)) > 0)
		g->len += (size_t)n;
	g->output[g->len] = '\0';
}

static void guest_teardown(struct guest_run *g)
{
	cvm_vm_destroy(g->vm);
	close(g->out[0]);
	close(g->out[1]);
}

static void *run_thread(void *arg)
{
	struct guest_run *g = arg;

	g->rc = cvm_vm_run(g->vm, &g->reason);
	guest_collect(g);
	return NULL;
}

Test(api, version_and_strings)
{
	cr_assert_str_eq(cvm_version(), CVM_VERSION_STRING);
	cr_assert_str_eq(cvm_strerror(0), "success");
	cr_assert_str_eq(cvm_strerror(-ENOEXEC), "not a valid kernel image");
	cr_assert_str_neq(cvm_strerror(-EPIPE), "unknown error");
	cr_assert_str_eq(cvm_strerror(12345), "unknown error");
	cr_assert_str_eq(cvm_exit_reason_name(CVM_EXIT_RESET), "reset");
	cr_assert_str_eq(cvm_exit_reason_name((enum cvm_exit_reason)99), "unknown");
	cr_assert_str_eq(cvm_vm_last_error(NULL), "");
}

Test(api, bad_configs)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cfg.seccomp_policy_dir = CVM_POLICY_SRC;
	cvm_vm *vm = (cvm_vm *)1;

	cr_assert_eq(cvm_vm_create(NULL, &cfg), -EINVAL);
	cfg.struct_size = 4;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), -EINVAL);
	cr_assert_null(vm);
	cr_assert(strstr(cvm_last_create_error(), "struct_size"), "%s", cvm_last_create_error());

	cfg = (cvm_vm_config)CVM_VM_CONFIG_INIT;
	cfg.mem_mib = 1;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), -EINVAL);
	cr_assert(strstr(cvm_last_create_error(), "too small"), "%s", cvm_last_create_error());
	cfg.mem_mib = 64;
	cfg.vcpus = 0;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), -EINVAL);
	cfg.vcpus = 1;
	cfg.cpuid_disable = "cx16,nonsense";
	cr_assert_eq(cvm_vm_create(&vm, &cfg), -EINVAL);
	cr_assert(strstr(cvm_last_create_error(), "nonsense"), "%s", cvm_last_create_error());
	cfg.cpuid_disable = NULL;
	cfg.kvm_path = "/nonexistent/kvm";
	cr_assert_eq(cvm_vm_create(&vm, &cfg), -ENOENT);
	cr_assert(strstr(cvm_last_create_error(), "/nonexistent/kvm"), "%s",
		  cvm_last_create_error());
	cfg.kvm_path = "/dev/null";
	cr_assert_eq(cvm_vm_create(&vm, &cfg), -ENODEV);
	cr_assert(strstr(cvm_last_create_error(), "not a KVM device"), "%s",
		  cvm_last_create_error());
}

Test(api, newer_caller_struct)
{
	need_kvm();
	struct {
		cvm_vm_config c;
		uint64_t future;
	} big = { .c = CVM_VM_CONFIG_INIT };

	big.c.seccomp_policy_dir = CVM_POLICY_SRC;
	cvm_vm *vm;

	big.c.struct_size = sizeof(big);
	big.c.mem_mib = 32;
	big.future = 0;
	cr_assert_eq(cvm_vm_create(&vm, &big.c), 0, "%s", cvm_last_create_error());
	cvm_vm_destroy(vm);
	big.future = 1; /* an option this library does not know */
	cr_assert_eq(cvm_vm_create(&vm, &big.c), -EINVAL);
}

Test(api, vcpu_limits)
{
	need_kvm();
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cfg.seccomp_policy_dir = CVM_POLICY_SRC;
	cvm_vm *vm;

	cfg.mem_mib = 32;
	cfg.vcpus = 2;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), 0, "%s", cvm_last_create_error());
	cvm_vm_destroy(vm);
	cfg.vcpus = 4000; /* below the absurd limit, above what KVM allows here */
	cr_assert_eq(cvm_vm_create(&vm, &cfg), -EINVAL);
	cr_assert(strstr(cvm_last_create_error(), "KVM allows at most"), "%s",
		  cvm_last_create_error());
	cfg.vcpus = 100000;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), -EINVAL);
}

Test(api, order_of_calls)
{
	need_kvm();
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cfg.seccomp_policy_dir = CVM_POLICY_SRC;
	cvm_serial_config s = CVM_SERIAL_CONFIG_INIT;
	cvm_vm *vm;

	cfg.mem_mib = 32;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), 0);
	cr_assert_eq(cvm_vm_run(vm, NULL), -EINVAL, "run without a kernel");
	cr_assert(strstr(cvm_vm_last_error(vm), "no kernel"));
	cr_assert_eq(cvm_vm_set_initrd(vm, "/etc/hostname"), -EINVAL, "initrd before kernel");
	cr_assert_eq(cvm_vm_set_kernel(vm, "/nonexistent/vmlinux", NULL), -ENOENT);
	cr_assert(strstr(cvm_vm_last_error(vm), "/nonexistent/vmlinux"));
	s.port = 5;
	cr_assert_eq(cvm_vm_set_serial(vm, &s), -EINVAL);
	s.port = 2;
	s.out_fd = 1000000;
	cr_assert_eq(cvm_vm_set_serial(vm, &s), -EBADF);
	s.out_fd = -1;
	s.in_fd = 0;
	cr_assert_eq(cvm_vm_set_serial(vm, &s), 0);
	s.port = 3;
	cr_assert_eq(cvm_vm_set_serial(vm, &s), -EINVAL, "two ports reading one input");
	cr_assert(strstr(cvm_vm_last_error(vm), "same input"), "%s", cvm_vm_last_error(vm));
	s.port = 2;
	cr_assert_eq(cvm_vm_set_serial(vm, &s), 0, "reconfiguring the same port is fine");
	cr_assert_eq(cvm_vm_set_kernel(vm, CVM_GUEST, NULL), 0);
	cr_assert_eq(cvm_vm_set_kernel(vm, CVM_GUEST, NULL), -EBUSY);
	cvm_vm_destroy(vm);
}

Test(api, run_greeting_then_busy)
{
	need_kvm();
	struct guest_run g;

	cr_assert_eq(guest_setup(&g, NULL), 0, "%s", cvm_vm_last_error(g.vm));
	run_thread(&g);
	cr_assert_eq(g.rc, 0, "%s", cvm_vm_last_error(g.vm));
	cr_assert_eq(g.reason, CVM_EXIT_RESET);
	cr_assert(strstr(g.output, "Hello from a libcvm guest!"), "output: %s", g.output);
	cr_assert_eq(cvm_vm_run(g.vm, NULL), -EBUSY, "a VM runs once");
	guest_teardown(&g);
}

Test(api, acpi_poweroff)
{
	need_kvm();
	struct guest_run g;

	cr_assert_eq(guest_setup(&g, "poweroff"), 0);
	run_thread(&g);
	cr_assert_eq(g.rc, 0, "%s", cvm_vm_last_error(g.vm));
	cr_assert_eq(g.reason, CVM_EXIT_POWEROFF, "reason %s", cvm_exit_reason_name(g.reason));
	cr_assert(strstr(g.output, "POWEROFF"), "%s", g.output);
	cr_assert_null(strstr(g.output, "FAIL"), "%s", g.output);
	guest_teardown(&g);
}

Test(api, emulation_failure_is_an_error)
{
	need_kvm();
	struct guest_run g;

	cr_assert_eq(guest_setup(&g, "int3"), 0);
	run_thread(&g);
	if (g.reason == CVM_EXIT_RESET) {
		/* A host that delivers int3 natively: no IDT means a triple fault. */
		cr_assert_eq(g.rc, 0);
	} else {
		cr_assert_eq(g.reason, CVM_EXIT_ERROR);
		cr_assert_lt(g.rc, 0);
		cr_assert(strstr(cvm_vm_last_error(g.vm), "emulation failure at RIP 0x") ||
				  strstr(cvm_vm_last_error(g.vm), "(emulation failure) at RIP 0x"),
			  "%s", cvm_vm_last_error(g.vm));
		cr_assert(strstr(cvm_vm_last_error(g.vm), "instruction bytes cc"), "%s",
			  cvm_vm_last_error(g.vm));
	}
	guest_teardown(&g);
}

Test(api, sequential_vms)
{
	need_kvm();
	for (int i = 0; i < 3; i++) {
		struct guest_run g;

		cr_assert_eq(guest_setup(&g, "reset"), 0);
		run_thread(&g);
		cr_assert_eq(g.rc, 0, "run %d: %s", i, cvm_vm_last_error(g.vm));
		cr_assert(strstr(g.output, "PASS reset"), "run %d: %s", i, g.output);
		guest_teardown(&g);
	}
}

Test(api, concurrent_vms)
{
	need_kvm();
	struct guest_run g[2];
	pthread_t t[2];

	/* Each VM prints its own test's output on its own COM1: nothing may mix. */
	cr_assert_eq(guest_setup(&g[0], "serial_out"), 0);
	cr_assert_eq(guest_setup(&g[1], "rtc"), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, run_thread, &g[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(g[0].rc, 0, "%s", cvm_vm_last_error(g[0].vm));
	cr_assert_eq(g[1].rc, 0, "%s", cvm_vm_last_error(g[1].vm));
	cr_assert(strstr(g[0].output, "PASS serial_out"), "%s", g[0].output);
	cr_assert_null(strstr(g[0].output, "RTC"));
	cr_assert(strstr(g[1].output, "PASS rtc"), "%s", g[1].output);
	cr_assert_null(strstr(g[1].output, "LINE"));
	for (int i = 0; i < 2; i++)
		guest_teardown(&g[i]);
}

Test(api, stop_before_run)
{
	need_kvm();
	struct guest_run g;

	cr_assert_eq(guest_setup(&g, "spin"), 0);
	cr_assert_eq(cvm_vm_stop(g.vm), 0);
	run_thread(&g);
	cr_assert_eq(g.rc, 0);
	cr_assert_eq(g.reason, CVM_EXIT_STOPPED);
	guest_teardown(&g);
}

Test(api, stop_from_another_thread)
{
	need_kvm();
	struct guest_run g;
	pthread_t t;
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	/* The guest halts with interrupts off: the vCPU sleeps inside KVM_RUN. */
	cr_assert_eq(guest_setup(&g, "spin"), 0);
	pthread_create(&t, NULL, run_thread, &g);
	nanosleep(&ts, NULL);
	for (int i = 0; i < 50; i++) {
		struct pollfd p = { .fd = g.out[0], .events = POLLIN };

		if (poll(&p, 1, 100) > 0)
			break;
	}
	cr_assert_eq(cvm_vm_stop(g.vm), 0);
	pthread_join(t, NULL);
	cr_assert_eq(g.rc, 0, "%s", cvm_vm_last_error(g.vm));
	cr_assert_eq(g.reason, CVM_EXIT_STOPPED);
	cr_assert(strstr(g.output, "SPIN"), "the guest ran: %s", g.output);
	guest_teardown(&g);
}

Test(api, disk_errors)
{
	need_kvm();
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cfg.seccomp_policy_dir = CVM_POLICY_SRC;
	cvm_blk_config d = CVM_BLK_CONFIG_INIT;
	char path[] = "/tmp/cvm-api-disk-XXXXXX";
	int fd = mkstemp(path);
	cvm_vm *vm;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	cfg.mem_mib = 32;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), 0);
	cr_assert_eq(cvm_vm_add_disk(vm, &d), -EINVAL, "no path");
	d.path = path;
	d.flags = 0x80;
	cr_assert_eq(cvm_vm_add_disk(vm, &d), -EINVAL, "unknown flag");
	d.flags = CVM_BLK_ROOT | CVM_BLK_READ_ONLY;
	d.serial = "a-serial-longer-than-twenty-bytes";
	cr_assert_eq(cvm_vm_add_disk(vm, &d), -EINVAL, "serial too long");
	d.serial = "disk0";
	cr_assert_eq(cvm_vm_add_disk(vm, &d), 0, "%s", cvm_vm_last_error(vm));
	cr_assert_eq(cvm_vm_add_virtio_blk(vm, path, CVM_BLK_ROOT | CVM_BLK_READ_ONLY), -EEXIST);
	cr_assert(strstr(cvm_vm_last_error(vm), "already a root disk"), "%s",
		  cvm_vm_last_error(vm));
	/* Read-only twice is fine (shared lock); writable while shared is not. */
	cr_assert_eq(cvm_vm_add_virtio_blk(vm, path, CVM_BLK_READ_ONLY), 0);
	cr_assert_eq(cvm_vm_add_virtio_blk(vm, path, 0), -EBUSY);
	cr_assert(strstr(cvm_vm_last_error(vm), path), "%s", cvm_vm_last_error(vm));
	d.struct_size = 3;
	cr_assert_eq(cvm_vm_add_disk(vm, &d), -EINVAL);
	cvm_vm_destroy(vm);
	/* The locks went with the VM. */
	cr_assert_eq(cvm_vm_create(&vm, &cfg), 0);
	cr_assert_eq(cvm_vm_add_virtio_blk(vm, path, 0), 0, "%s", cvm_vm_last_error(vm));
	cvm_vm_destroy(vm);
	unlink(path);
}

static int write_nothing(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* cvm_vm_set_wayland() and cvm_wayland_default_socket() as a host program sees them. */
Test(api, wayland_errors)
{
	need_kvm();
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	cfg.seccomp_policy_dir = CVM_POLICY_SRC;
	cvm_wl_config wl = CVM_WL_CONFIG_INIT;
	char dir[] = "/tmp/cvm-api-wl-XXXXXX", sock[64], file[64], buf[80];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd;
	cvm_vm *vm;

	cr_assert(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/wayland-0", dir);
	snprintf(file, sizeof(file), "%s/not-a-socket", dir);
	cr_assert_eq(write_nothing(file), 0);
	cfg.mem_mib = 32;
	cr_assert_eq(cvm_vm_create(&vm, &cfg), 0);
	cr_assert_eq(cvm_vm_set_wayland(vm, NULL), -EINVAL);
	wl.socket_path = sock;
	cr_assert_eq(cvm_vm_set_wayland(vm, &wl), -ENOENT, "no socket yet");
	cr_assert(strstr(cvm_vm_last_error(vm), sock), "%s", cvm_vm_last_error(vm));
	wl.socket_path = file;
	cr_assert_eq(cvm_vm_set_wayland(vm, &wl), -ENOTSOCK);
	/* The default follows XDG_RUNTIME_DIR. */
	unsetenv("XDG_RUNTIME_DIR");
	cr_assert_eq(cvm_wayland_default_socket(buf, sizeof(buf)), 0);
	wl.socket_path = NULL;
	cr_assert_eq(cvm_vm_set_wayland(vm, &wl), -ENOENT);
	cr_assert(strstr(cvm_vm_last_error(vm), "XDG_RUNTIME_DIR"), "%s", cvm_vm_last_error(vm));
	setenv("XDG_RUNTIME_DIR", dir, 1);
	cr_assert_eq(cvm_wayland_default_socket(buf, sizeof(buf)), 0, "no wayland-0 there");
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(lfd, 0);
	strcpy(sa.sun_path, sock);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	cr_assert_eq(cvm_wayland_default_socket(buf, 8), -ENAMETOOLONG);
	cr_assert_eq(cvm_wayland_default_socket(NULL, 8), -EINVAL);
	cr_assert_eq(cvm_wayland_default_socket(buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, sock);
	wl.struct_size = 3;
	cr_assert_eq(cvm_vm_set_wayland(vm, &wl), -EINVAL, "struct_size");
	wl.struct_size = sizeof(wl);
	cr_assert_eq(cvm_vm_set_wayland(vm, &wl), 0, "%s", cvm_vm_last_error(vm));
	cr_assert_eq(cvm_vm_set_wayland(vm, &wl), -EEXIST, "one device per VM");
	cvm_vm_destroy(vm);
	unsetenv("XDG_RUNTIME_DIR");
	close(lfd);
	unlink(sock);
	unlink(file);
	rmdir(dir);
}
