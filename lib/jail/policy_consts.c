// SPDX-License-Identifier: BSD-3-Clause
/*
 * The named constants policy files may use (docs/policy.md lists them);
 * their values come from the system headers.
 */
#include "jail/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include <linux/falloc.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/sched.h>

#define C(x)                      \
	{                         \
#x, (uint64_t)(x) \
	}

/* Named constants a policy may use; values from the system headers. */
static const struct {
	const char *name;
	uint64_t val;
} policy_consts[] = {
	/* open(2), fcntl(2) */
	C(O_RDONLY),
	C(O_WRONLY),
	C(O_RDWR),
	C(O_ACCMODE),
	C(O_CREAT),
	C(O_EXCL),
	C(O_TRUNC),
	C(O_APPEND),
	C(O_NONBLOCK),
	C(O_DIRECTORY),
	C(O_NOFOLLOW),
	C(O_CLOEXEC),
	C(O_DIRECT),
	C(O_LARGEFILE),
	C(O_NOATIME),
	C(O_PATH),
	C(O_TMPFILE),
	C(O_DSYNC),
	C(O_SYNC),
	C(F_DUPFD),
	C(F_GETFD),
	C(F_SETFD),
	C(F_GETFL),
	C(F_SETFL),
	C(F_GETLK),
	C(F_SETLK),
	C(F_SETLKW),
	C(F_DUPFD_CLOEXEC),
	C(F_ADD_SEALS),
	C(F_GET_SEALS),
	C(F_SEAL_SEAL),
	C(F_SEAL_SHRINK),
	C(F_SEAL_GROW),
	C(F_SEAL_WRITE),
	C(FD_CLOEXEC),
	/* mmap(2), mprotect(2), madvise(2) */
	C(PROT_NONE),
	C(PROT_READ),
	C(PROT_WRITE),
	C(PROT_EXEC),
	C(MAP_SHARED),
	C(MAP_PRIVATE),
	C(MAP_FIXED),
	C(MAP_ANONYMOUS),
	C(MAP_NORESERVE),
	C(MAP_POPULATE),
	C(MAP_STACK),
	C(MAP_FIXED_NOREPLACE),
	C(MAP_GROWSDOWN),
	C(MADV_DONTNEED),
	C(MADV_REMOVE),
	C(MADV_DONTFORK),
	C(MADV_WILLNEED),
	C(MADV_FREE),
	C(MADV_DONTDUMP),
	/* futex(2) */
	C(FUTEX_WAIT),
	C(FUTEX_WAKE),
	C(FUTEX_REQUEUE),
	C(FUTEX_CMP_REQUEUE),
	C(FUTEX_WAKE_OP),
	C(FUTEX_WAIT_BITSET),
	C(FUTEX_WAKE_BITSET),
	C(FUTEX_PRIVATE_FLAG),
	C(FUTEX_CLOCK_REALTIME),
	/* clone(2) */
	C(CLONE_VM),
	C(CLONE_FS),
	C(CLONE_FILES),
	C(CLONE_SIGHAND),
	C(CLONE_PIDFD),
	C(CLONE_PTRACE),
	C(CLONE_VFORK),
	C(CLONE_PARENT),
	C(CLONE_THREAD),
	C(CLONE_NEWNS),
	C(CLONE_SYSVSEM),
	C(CLONE_SETTLS),
	C(CLONE_PARENT_SETTID),
	C(CLONE_CHILD_CLEARTID),
	C(CLONE_DETACHED),
	C(CLONE_UNTRACED),
	C(CLONE_CHILD_SETTID),
	C(CLONE_NEWCGROUP),
	C(CLONE_NEWUTS),
	C(CLONE_NEWIPC),
	C(CLONE_NEWUSER),
	C(CLONE_NEWPID),
	C(CLONE_NEWNET),
	C(CLONE_IO),
	C(SIGCHLD),
	/* socket(2), send(2) */
	C(AF_UNIX),
	C(AF_LOCAL),
	C(AF_INET),
	C(AF_INET6),
	C(AF_NETLINK),
	C(AF_VSOCK),
	C(AF_PACKET),
	C(SOCK_STREAM),
	C(SOCK_DGRAM),
	C(SOCK_RAW),
	C(SOCK_SEQPACKET),
	C(SOCK_CLOEXEC),
	C(SOCK_NONBLOCK),
	C(MSG_NOSIGNAL),
	C(MSG_DONTWAIT),
	C(MSG_PEEK),
	C(MSG_TRUNC),
	C(MSG_WAITALL),
	C(MSG_CMSG_CLOEXEC),
	C(SOL_SOCKET),
	C(SO_PEERCRED),
	C(SO_SNDBUF),
	C(SO_RCVBUF),
	C(SHUT_RD),
	C(SHUT_WR),
	C(SHUT_RDWR),
	/* epoll(7), eventfd(2), timerfd(2) */
	C(EPOLL_CTL_ADD),
	C(EPOLL_CTL_DEL),
	C(EPOLL_CTL_MOD),
	C(EPOLL_CLOEXEC),
	C(EFD_CLOEXEC),
	C(EFD_NONBLOCK),
	C(EFD_SEMAPHORE),
	C(TFD_CLOEXEC),
	C(TFD_NONBLOCK),
	C(TFD_TIMER_ABSTIME),
	/* fallocate(2) */
	C(FALLOC_FL_KEEP_SIZE),
	C(FALLOC_FL_PUNCH_HOLE),
	C(FALLOC_FL_ZERO_RANGE),
	C(FALLOC_FL_COLLAPSE_RANGE),
	C(FALLOC_FL_INSERT_RANGE),
	/* rt_sigprocmask(2), kill(2) */
	C(SIG_BLOCK),
	C(SIG_UNBLOCK),
	C(SIG_SETMASK),
	C(SIGKILL),
	C(SIGTERM),
	C(SIGSYS),
	C(SIGUSR1),
	C(SIGUSR2),
	C(SIGABRT),
	/* wait4(2), prctl(2) */
	C(WNOHANG),
	C(__WALL),
	C(PR_SET_NAME),
	C(PR_GET_NAME),
	C(PR_SET_NO_NEW_PRIVS),
	C(PR_SET_PDEATHSIG),
	C(PR_SET_SECCOMP),
	C(PR_SET_DUMPABLE),
	/* ioctl(2): terminals and files */
	C(FIONBIO),
	C(FIOCLEX),
	C(FIONCLEX),
	C(FIONREAD),
	C(TCGETS),
	C(TCSETS),
	C(TCSETSW),
	C(TCSETSF),
	C(TIOCGWINSZ),
	C(TIOCSWINSZ),
	C(TIOCGPGRP),
	/* ioctl(2): TAP devices */
	C(TUNSETIFF),
	C(TUNGETIFF),
	C(TUNSETOFFLOAD),
	C(TUNSETVNETHDRSZ),
	C(TUNGETVNETHDRSZ),
	C(TUNSETSNDBUF),
	C(TUNGETFEATURES),
	C(TUNSETPERSIST),
	C(TUNSETQUEUE),
	/* ioctl(2): KVM */
	C(KVM_GET_API_VERSION),
	C(KVM_CREATE_VM),
	C(KVM_CHECK_EXTENSION),
	C(KVM_GET_VCPU_MMAP_SIZE),
	C(KVM_CREATE_VCPU),
	C(KVM_RUN),
	C(KVM_IRQFD),
	C(KVM_IOEVENTFD),
	C(KVM_SET_USER_MEMORY_REGION),
	C(KVM_SET_GSI_ROUTING),
	C(KVM_IRQ_LINE),
	C(KVM_SIGNAL_MSI),
};

#undef C

/* policy_const() - look up constant @name (@len bytes); 0 when found. */
int policy_const(const char *name, size_t len, uint64_t *val)
{
	for (size_t i = 0; i < sizeof(policy_consts) / sizeof(policy_consts[0]); i++) {
		if (strlen(policy_consts[i].name) == len &&
		    !memcmp(policy_consts[i].name, name, len)) {
			*val = policy_consts[i].val;
			return 0;
		}
	}
	return -ENOENT;
}
