// SPDX-License-Identifier: BSD-3-Clause
/*
 * cvm: the command line of libcvm. It parses options (opts.c) and calls the
 * public API; everything else is the library's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libcvm/control.h>
#include <libcvm/cvm.h>
#include <termios.h>
#include <time.h>

#include "opts.h"

/* The VM that SIGINT/SIGTERM stop; only the signal handler reads it. */
static cvm_vm *volatile running_vm;
/* For a forced exit: when the last SIGINT came, and the terminal to restore. */
static volatile sig_atomic_t last_sigint_s;
static struct termios saved_tio;
static volatile sig_atomic_t have_tio;

static void on_stop_signal(int sig)
{
	int saved_errno = errno;
	cvm_vm *vm = running_vm;
	struct timespec now;

	if (sig == SIGINT) {
		/* A second SIGINT within a second: stop waiting for an orderly stop. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (last_sigint_s && now.tv_sec - last_sigint_s <= 1) {
			static const char msg[] = "\ncvm: forced exit\n";
			struct pollfd p = { .fd = STDERR_FILENO, .events = POLLOUT };

			if (have_tio)
				tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
			/* Say so only if stderr can take it now: a forced exit never waits. */
			if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) &&
			    write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
				_exit(130);
			_exit(130);
		}
		last_sigint_s = now.tv_sec ? now.tv_sec : 1;
	}
	if (vm)
		cvm_vm_stop(vm);
	errno = saved_errno;
}

static int set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: let blocking calls see EINTR */
	return sigaction(sig, &sa, NULL);
}

/* The descriptors of one serial port; the CLI owns the files it opened. */
struct port {
	cvm_serial_config cfg;
	bool close_out, close_in;
};

static void close_ports(struct port *ports, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (ports[i].close_out)
			close(ports[i].cfg.out_fd);
		if (ports[i].close_in)
			close(ports[i].cfg.in_fd);
	}
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static int open_port(const struct opts_serial *s, struct port *p)
{
	*p = (struct port){ .cfg = CVM_SERIAL_CONFIG_INIT };
	p->cfg.port = s->num;

	switch (s->type) {
	case OPTS_SERIAL_STDOUT:
		p->cfg.out_fd = fd_is_open(STDOUT_FILENO) ? STDOUT_FILENO : -1;
		break;
	case OPTS_SERIAL_FILE:
		p->cfg.out_fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (p->cfg.out_fd < 0) {
			fprintf(stderr, "cvm: error: COM%u: cannot open '%s': %s\n", s->num,
				s->path, strerror(errno));
			return -1;
		}
		p->close_out = true;
		break;
	case OPTS_SERIAL_SINK:
		p->cfg.out_fd = -1;
		break;
	}

	switch (s->input) {
	case OPTS_INPUT_NONE:
		break;
	case OPTS_INPUT_STDIN:
		if (fd_is_open(STDIN_FILENO)) {
			p->cfg.in_fd = STDIN_FILENO;
			p->cfg.raw_terminal = isatty(STDIN_FILENO) ? 1 : 0;
		}
		break;
	case OPTS_INPUT_FILE:
		p->cfg.in_fd = open(s->input_path, O_RDONLY | O_CLOEXEC);
		if (p->cfg.in_fd < 0) {
			fprintf(stderr, "cvm: error: COM%u: cannot open input '%s': %s\n", s->num,
				s->input_path, strerror(errno));
			if (p->close_out)
				close(p->cfg.out_fd);
			p->close_out = false;
			return -1;
		}
		p->close_in = true;
		break;
	}
	return 0;
}

/* Print the VM's own message for a failure, or the generic one for @rc. */
static void report(const cvm_vm *vm, int rc, const char *what)
{
	const char *msg = vm ? cvm_vm_last_error(vm) : cvm_last_create_error();

	if (msg && *msg)
		fprintf(stderr, "cvm: error: %s\n", msg);
	else
		fprintf(stderr, "cvm: error: %s: %s\n", what, cvm_strerror(rc));
}

static int run(const struct cvm_opts *o)
{
	cvm_vm_config cfg = CVM_VM_CONFIG_INIT;
	struct port ports[OPTS_SERIAL_PORTS];
	enum cvm_exit_reason reason = CVM_EXIT_ERROR;
	unsigned int nports = 0;
	sigset_t stop_signals;
	cvm_vm *vm = NULL;
	int status = OPTS_EXIT_FAILURE;
	int rc;

	for (; nports < o->nserial; nports++) {
		if (open_port(&o->serial[nports], &ports[nports]) < 0)
			goto out;
	}

	if (o->mem_mib)
		cfg.mem_mib = o->mem_mib;
	if (o->vcpus)
		cfg.vcpus = o->vcpus;
	cfg.log_level = o->log_level;
	cfg.cpuid_disable = o->cpuid_disable;
	cfg.disable_sandbox = o->disable_sandbox;
	cfg.seccomp_policy_dir = o->policy_dir;

	rc = cvm_vm_create(&vm, &cfg);
	if (rc < 0) {
		report(NULL, rc, "cannot create the VM");
		vm = NULL;
		goto out;
	}
	/*
	 * From here on SIGINT/SIGTERM stop the VM in order, also before it runs
	 * (cvm_vm_stop() then makes cvm_vm_run() return at once): a signal that
	 * comes as soon as the control socket appears must not kill cvm and
	 * leave the socket behind.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	running_vm = vm;
	if (set_handler(SIGINT, on_stop_signal) < 0 || set_handler(SIGTERM, on_stop_signal) < 0) {
		fprintf(stderr, "cvm: error: sigaction: %s\n", strerror(errno));
		goto out;
	}
	rc = cvm_vm_set_kernel(vm, o->kernel, o->params);
	if (rc < 0) {
		report(vm, rc, o->kernel);
		goto out;
	}
	if (o->initrd) {
		rc = cvm_vm_set_initrd(vm, o->initrd);
		if (rc < 0) {
			report(vm, rc, o->initrd);
			goto out;
		}
	}
	for (unsigned int i = 0; i < o->ndisks; i++) {
		cvm_blk_config disk = CVM_BLK_CONFIG_INIT;

		disk.path = o->disks[i].path;
		disk.flags = (o->disks[i].read_only ? CVM_BLK_READ_ONLY : 0) |
			     (o->disks[i].root ? CVM_BLK_ROOT : 0);
		disk.direct = o->disks[i].direct;
		rc = cvm_vm_add_disk(vm, &disk);
		if (rc < 0) {
			report(vm, rc, o->disks[i].path);
			goto out;
		}
	}
	for (unsigned int i = 0; i < nports; i++) {
		rc = cvm_vm_set_serial(vm, &ports[i].cfg);
		if (rc < 0) {
			report(vm, rc, "cannot connect a serial port");
			goto out;
		}
	}

	if (o->rng >= 0) {
		rc = cvm_vm_set_rng(vm, o->rng);
		if (rc < 0) {
			report(vm, rc, "virtio-rng");
			goto out;
		}
	}
	if (o->host_ip || o->netmask || o->mac || o->tap_name || o->tap_fd >= 0) {
		cvm_net_config net = CVM_NET_CONFIG_INIT;

		net.host_ip = o->host_ip;
		net.netmask = o->netmask;
		net.mac = o->mac;
		net.tap_name = o->tap_name;
		net.tap_fd = o->tap_fd;
		rc = cvm_vm_add_net(vm, &net);
		if (rc < 0) {
			report(vm, rc, "virtio-net");
			goto out;
		}
	}
	if (o->cid_given || o->vsock_uds) {
		cvm_vsock_config vs = CVM_VSOCK_CONFIG_INIT;

		vs.cid = o->cid;
		vs.uds_path = o->vsock_uds;
		rc = cvm_vm_set_vsock(vm, &vs);
		if (rc < 0) {
			report(vm, rc, "virtio-vsock");
			goto out;
		}
	}
	if (!o->no_wl) {
		/* Asked for: it must work. The default: only when the socket is there. */
		char def[108]; /* sun_path */
		cvm_wl_config wl = CVM_WL_CONFIG_INIT;

		wl.socket_path = o->wayland_sock ? o->wayland_sock : def;
		if (o->wayland_sock || cvm_wayland_default_socket(def, sizeof(def)) == 1) {
			rc = cvm_vm_set_wayland(vm, &wl);
			if (rc < 0) {
				report(vm, rc, "virtio-wl");
				goto out;
			}
		}
	}
	if (o->socket) {
		rc = cvm_vm_set_control_socket(vm, o->socket);
		if (rc < 0) {
			report(vm, rc, o->socket);
			goto out;
		}
		fprintf(stderr, "cvm: control socket: %s\n", cvm_vm_control_socket(vm));
	}
	if (tcgetattr(STDIN_FILENO, &saved_tio) == 0)
		have_tio = 1;

	rc = cvm_vm_run(vm, &reason);
	if (rc < 0 || reason == CVM_EXIT_ERROR) {
		report(vm, rc < 0 ? rc : -EIO, "the VM failed");
		goto out;
	}
	status = OPTS_EXIT_OK;
out:
	/* No handler may touch the VM once it is being destroyed. */
	if (vm) {
		sigprocmask(SIG_BLOCK, &stop_signals, NULL);
		running_vm = NULL;
		set_handler(SIGINT, SIG_DFL);
		set_handler(SIGTERM, SIG_DFL);
	}
	cvm_vm_destroy(vm);
	close_ports(ports, nports);
	return status;
}

/* Human-readable `cvm status`: a few fields picked out of the JSON reply. */
static void print_status(const char *json)
{
	static const char *const keys[] = { "state", "vcpus", "memory_mib", "uptime_ms", "pid" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char pat[32];
		const char *p;

		snprintf(pat, sizeof(pat), "\"%s\":", keys[i]);
		p = strstr(json, pat);
		if (!p)
			continue;
		p += strlen(pat);
		if (*p == '"')
			printf("%-11s %.*s\n", keys[i], (int)strcspn(p + 1, "\""), p + 1);
		else
			printf("%-11s %.*s\n", keys[i], (int)strcspn(p, ",}"), p);
	}
	for (const char *d = strstr(json, "{\"type\":"); d; d = strstr(d + 1, "{\"type\":"))
		printf("device      %.*s\n", (int)strcspn(d, "}") + 1, d);
}

static int control(const struct cvm_opts *o)
{
	static char reply[65536]; /* the protocol's largest reply */
	int rc;

	switch (o->cmd) {
	case OPTS_CMD_STOP:
		rc = cvm_control_stop(o->socket);
		break;
	case OPTS_CMD_SUSPEND:
		rc = cvm_control_suspend(o->socket);
		break;
	case OPTS_CMD_RESUME:
		rc = cvm_control_resume(o->socket);
		break;
	default:
		rc = cvm_control_status(reply, sizeof(reply), o->socket);
		if (rc == 0) {
			if (o->json)
				printf("%s\n", reply);
			else
				print_status(reply);
		}
		break;
	}
	if (rc < 0) {
		fprintf(stderr, "cvm: error: %s: %s\n", o->socket,
			rc == -EALREADY ? (o->cmd == OPTS_CMD_SUSPEND ? "already suspended" :
									"already running") :
					  strerror(-rc));
		return OPTS_EXIT_FAILURE;
	}
	return OPTS_EXIT_OK;
}

int main(int argc, char **argv)
{
	char err[512];
	struct cvm_opts o;
	int status;

	set_handler(SIGPIPE, SIG_IGN);

	if (cvm_opts_parse(&o, argc, argv, err, sizeof(err)) < 0) {
		bool in_run = argc > 1 && strcmp(argv[1], "run") == 0;

		fprintf(stderr, "cvm: error: %s\n", err);
		if (in_run)
			fprintf(stderr, "Try 'cvm run --help' for more information.\n");
		cvm_opts_free(&o);
		return OPTS_EXIT_USAGE;
	}

	switch (o.cmd) {
	case OPTS_CMD_VERSION:
		printf("cvm %s\n", cvm_version());
		status = OPTS_EXIT_OK;
		break;
	case OPTS_CMD_HELP:
		fputs(cvm_opts_usage, stdout);
		status = OPTS_EXIT_OK;
		break;
	case OPTS_CMD_RUN_HELP:
		fputs(cvm_opts_run_usage, stdout);
		status = OPTS_EXIT_OK;
		break;
	case OPTS_CMD_RUN:
		status = run(&o);
		break;
	case OPTS_CMD_STOP:
	case OPTS_CMD_SUSPEND:
	case OPTS_CMD_RESUME:
	case OPTS_CMD_STATUS:
		status = control(&o);
		break;
	default:
		status = OPTS_EXIT_USAGE;
		break;
	}
	cvm_opts_free(&o);
	if (fflush(stdout) != 0 && status == OPTS_EXIT_OK) {
		fprintf(stderr, "cvm: error: standard output: %s\n", strerror(errno));
		status = OPTS_EXIT_FAILURE;
	}
	return status;
}
