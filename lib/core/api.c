// SPDX-License-Identifier: BSD-3-Clause
/* Library-wide functions: version, error and exit-reason strings. */
#include <libcvm/cvm.h>

#include <errno.h>
#include <string.h>

const char *cvm_version(void)
{
	return CVM_VERSION_STRING;
}

const char *cvm_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "success";
	case -ENOENT:
		return "no such file or device";
	case -EACCES:
		return "permission denied";
	case -ENOEXEC:
		return "not a valid kernel image";
	case -EFBIG:
		return "does not fit in guest memory";
	case -E2BIG:
		return "argument too long";
	case -ENOTSUP:
		return "not supported by this host or this libcvm";
	case -EBUSY:
		return "the VM has already run or is running";
	case -EINVAL:
		return "invalid argument";
	case -ENOMEM:
		return "out of memory";
	case -EIO:
		return "the virtual machine failed";
	default:
		break;
	}
	if (rc < 0 && rc > -4096) {
		/* strerrordesc_np is static and thread-safe, unlike strerror. */
		const char *s = strerrordesc_np(-rc);

		if (s)
			return s;
	}
	return "unknown error";
}

const char *cvm_exit_reason_name(enum cvm_exit_reason reason)
{
	switch (reason) {
	case CVM_EXIT_RESET:
		return "reset";
	case CVM_EXIT_POWEROFF:
		return "poweroff";
	case CVM_EXIT_STOPPED:
		return "stopped";
	case CVM_EXIT_ERROR:
		return "error";
	case CVM_EXIT_DEVICE:
		return "device";
	}
	return "unknown";
}
