// SPDX-License-Identifier: BSD-3-Clause
/*
 * Descriptors from the host side: wl_host_fds against a fake compositor
 * of ours, which passes memfds and pipes to the guest and checks what the
 * guest passes and writes back (test_wl.c says how the wl suite runs).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvmproc.h"
#include "wllib.h"

/*
 * The fake compositor of wl_host_fds: on the first connection it sends
 * "HOSTFDS\n" with a sealed memfd (5000 bytes: "CVMHOSTFD", then byte i =
 * i * 7 + 1), an unsealed one (4096 bytes: "CVMHOSTRW"), a pipe's read end
 * (it writes "PIPEDATA" into the other end and closes it) and another
 * pipe's write end (it reads what comes until EOF); then it reads the
 * connection until "BYE\n" (with the 28 descriptors of "FDS28\n"), looks
 * at what the guest wrote at offset 100 of the unsealed memfd, and closes
 * the connection.
 */
struct fakesrv {
	int lfd;
	pthread_t th;
	char pipe_got[64];
	char conn_got[64];
	char mem_got[16];
	unsigned int nfds;  /* descriptors that came with the guest's bytes */
	char gmem_got[16];  /* the first 8 bytes of the first one */
	long gmem_size;	    /* its size */
	char gpipe_got[16]; /* what the last one (a pipe) carried */
	char back_got[16];  /* the one before: our sealed memfd, passed back */
	char err[160];
};

/*
 * Reads the connection until "BYE\n" (60 s at most), keeping the
 * descriptors that come: the first must be a guest buffer, the last a pipe.
 */
static void fake_recv(struct fakesrv *f, int c)
{
	int got[64];
	size_t len = 0;
	double t0 = fproc_now();

	while (len + 1 < sizeof(f->conn_got) && fproc_now() - t0 < 60 &&
	       !strstr(f->conn_got, "BYE\n")) {
		char cbuf[CMSG_SPACE(32 * sizeof(int))];
		struct iovec io = { f->conn_got + len, sizeof(f->conn_got) - 1 - len };
		struct msghdr m = { .msg_iov = &io,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		ssize_t n;

		if (fake_wait(c, 200) <= 0)
			continue;
		n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			break;
		len += (size_t)n;
		f->conn_got[len] = '\0';
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
				if (f->nfds < 64)
					got[f->nfds] = fd;
				else
					close(fd);
				f->nfds++;
			}
		}
	}
	if (f->nfds >= 2 && f->nfds <= 64) {
		struct stat st;

		if (pread(got[0], f->gmem_got, 8, 0) != 8 || fstat(got[0], &st))
			snprintf(f->err, sizeof(f->err), "the guest's buffer: %s", strerror(errno));
		else
			f->gmem_size = (long)st.st_size;
		if (pread(got[f->nfds - 2], f->back_got, 9, 0) != 9)
			snprintf(f->err, sizeof(f->err), "the memfd passed back: %s",
				 strerror(errno));
		fake_read(got[f->nfds - 1], f->gpipe_got, sizeof(f->gpipe_got), NULL);
	}
	for (unsigned int i = 0; i < f->nfds && i < 64; i++)
		close(got[i]);
}

static void *fakesrv_main(void *arg)
{
	struct fakesrv *f = arg;
	int c = -1, ro = -1, rw = -1, pa[2] = { -1, -1 }, pb[2] = { -1, -1 };
	uint8_t content[5000]; /* a last page only partly there, as in a keymap */
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec io = { .iov_base = "HOSTFDS\n", .iov_len = 8 };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1 };
	struct cmsghdr *h;
	int fds[4];
	double t0 = fproc_now();

	while (c < 0 && fproc_now() - t0 < 60)
		if (fake_wait(f->lfd, 200) > 0)
			c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		snprintf(f->err, sizeof(f->err), "no connection within 60 s");
		return NULL;
	}
	memcpy(content, "CVMHOSTFD", 9);
	for (unsigned int i = 9; i < sizeof(content); i++)
		content[i] = (uint8_t)(i * 7 + 1);
	ro = memfd_create("cvm-test-ro", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	rw = memfd_create("cvm-test-rw", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (ro < 0 || rw < 0 || write(ro, content, sizeof(content)) != sizeof(content) ||
	    fcntl(ro, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) ||
	    ftruncate(rw, 4096) || pwrite(rw, "CVMHOSTRW", 9, 0) != 9 || pipe2(pa, O_CLOEXEC) ||
	    pipe2(pb, O_CLOEXEC)) {
		snprintf(f->err, sizeof(f->err), "setting up the descriptors: %s", strerror(errno));
		goto out;
	}
	fds[0] = ro;
	fds[1] = rw;
	fds[2] = pa[0];
	fds[3] = pb[1];
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(h), fds, sizeof(fds));
	if (sendmsg(c, &m, MSG_NOSIGNAL) != 8) {
		snprintf(f->err, sizeof(f->err), "sendmsg: %s", strerror(errno));
		goto out;
	}
	close(pa[0]);
	close(pb[1]);
	pa[0] = pb[1] = -1;
	if (write(pa[1], "PIPEDATA", 8) != 8)
		snprintf(f->err, sizeof(f->err), "pipe write: %s", strerror(errno));
	close(pa[1]);
	pa[1] = -1;
	fake_read(pb[0], f->pipe_got, sizeof(f->pipe_got), NULL);
	fake_recv(f, c);
	if (pread(rw, f->mem_got, 10, 100) != 10)
		snprintf(f->err, sizeof(f->err), "pread: %s", strerror(errno));
out:
	close(c);
	close(ro);
	close(rw);
	for (int i = 0; i < 2; i++) {
		close(pa[i]);
		close(pb[i]);
	}
	return NULL;
}

Test(wl, descriptors_from_the_host)
{
	const char *extra[3] = { "--wayland-sock", NULL, NULL };
	struct fakesrv f = { .lfd = -1 };
	struct runner_result r;

	REQUIRE_KVM();
	f.lfd = fake_listen("fake-wl");
	cr_assert_eq(pthread_create(&f.th, NULL, fakesrv_main, &f), 0);
	extra[1] = wsock;
	unsetenv("XDG_RUNTIME_DIR");
	run_wl(&r, "wl_host_fds", extra);
	pthread_join(f.th, NULL);
	close(f.lfd);
	runner_assert_passed(&r, "wl_host_fds");
	cr_assert_run(&r, !f.err[0], "fake compositor: %s", f.err);
	cr_assert_run(&r, !strcmp(f.pipe_got, "GUESTPIPE"),
		      "the host's pipe got \"%s\", want \"GUESTPIPE\"", f.pipe_got);
	cr_assert_run(&r, !strcmp(f.conn_got, "FDS28\nBYE\n"),
		      "the connection got \"%s\", want FDS28 and BYE", f.conn_got);
	cr_assert_run(&r, f.nfds == 28, "%u descriptors came with FDS28, want 28", f.nfds);
	cr_assert_run(&r, !memcmp(f.gmem_got, "GUESTMEM", 8) && f.gmem_size == 4096,
		      "the guest's buffer holds \"%.8s\" and %ld bytes, want GUESTMEM and 4096",
		      f.gmem_got, f.gmem_size);
	cr_assert_run(&r, !memcmp(f.back_got, "CVMHOSTFD", 9),
		      "the sealed memfd passed back holds \"%.9s\"", f.back_got);
	cr_assert_run(&r, !strcmp(f.gpipe_got, "GPIPE2"),
		      "the guest's pipe carried \"%s\", want GPIPE2", f.gpipe_got);
	cr_assert_run(&r, !memcmp(f.mem_got, "GUESTWROTE", 10),
		      "the unsealed memfd at offset 100 holds \"%.10s\", want GUESTWROTE",
		      f.mem_got);
	runner_free(&r);
}
