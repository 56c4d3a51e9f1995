// SPDX-License-Identifier: BSD-3-Clause
#include "jail/policy_prog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/seccomp.h>

/* libseccomp writes BPF to a descriptor: a memfd, read back into a buffer. */
static int export(scmp_filter_ctx ctx, struct sock_fprog *f, struct cvm_errbuf *err)
{
	int fd = memfd_create("cvm-bpf", MFD_CLOEXEC), rc;
	struct stat st;
	void *buf;

	if (fd < 0)
		return errf(err, -errno, "memfd_create: %s", strerror(errno));
	rc = seccomp_export_bpf(ctx, fd);
	if (rc) {
		close(fd);
		return errf(err, rc, "seccomp_export_bpf: %s", strerror(-rc));
	}
	if (fstat(fd, &st) || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		return errf(err, -E2BIG, "the seccomp program has a bad size (%lld bytes)",
			    (long long)st.st_size);
	}
	buf = malloc((size_t)st.st_size);
	if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		close(fd);
		return errf(err, -EIO, "cannot read back the seccomp program");
	}
	close(fd);
	f->filter = buf;
	f->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	return 0;
}

int policy_prog_build(struct policy_prog *out, const struct policy *p, uint32_t default_action,
		      struct cvm_errbuf *err)
{
	scmp_filter_ctx side[POLICY_MAX_ERRNO_FILTERS], ctx;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = policy_compile(p, default_action, &ctx, err);
	if (rc)
		return rc;
	rc = policy_compile_errno(p, side, &n, err);
	if (rc) {
		seccomp_release(ctx);
		return rc;
	}
	/* The errno filters first: on equal actions the newest filter's data wins. */
	for (size_t i = 0; i < n && !rc; i++)
		rc = export(side[i], &out->f[out->nr++], err);
	if (!rc)
		rc = export(ctx, &out->f[out->nr++], err);
	for (size_t i = 0; i < n; i++)
		seccomp_release(side[i]);
	seccomp_release(ctx);
	if (rc)
		policy_prog_free(out);
	return rc;
}

int policy_prog_file(struct policy_prog *out, const char *dir, const char *name,
		     uint32_t default_action, struct cvm_errbuf *err)
{
	struct policy *p = NULL;
	char path[4096];
	int rc;

	memset(out, 0, sizeof(*out));
	if (snprintf(path, sizeof(path), "%s/%s_device.policy", dir, name) >= (int)sizeof(path))
		return errf(err, -ENAMETOOLONG, "policy directory %s: name too long", dir);
	if (access(path, R_OK))
		return errf(err, -errno,
			    "seccomp policy %s: %s (install the policies, or give "
			    "--seccomp-policy-dir / cvm_vm_config.seccomp_policy_dir)",
			    path, strerror(errno));
	rc = policy_parse_file(&p, path, err);
	if (!rc)
		rc = policy_prog_build(out, p, default_action, err);
	policy_free(p);
	return rc;
}

/* Append @src's rules to @dst (see policy_prog_custom()). */
static int append(struct policy *dst, const struct policy *src, struct cvm_errbuf *err)
{
	for (size_t i = 0; i < src->nr; i++) {
		const struct policy_rule *r = &src->rules[i], *old = policy_find(dst, r->name);
		struct policy_rule *n;

		if (old && old->allow_all && r->allow_all)
			continue;
		if (old)
			return errf(
				err, -EINVAL,
				"%s:%u: syscall '%s' is already in common_device.policy (%s:%u)",
				r->file, r->line, r->name, old->file, old->line);
		if (dst->nr == dst->cap) {
			size_t cap = dst->cap ? 2 * dst->cap : 16;
			struct policy_rule *rules = realloc(dst->rules, cap * sizeof(*rules));

			if (!rules)
				return errf(err, -ENOMEM, "out of memory");
			dst->rules = rules;
			dst->cap = cap;
		}
		n = &dst->rules[dst->nr];
		*n = *r;
		n->file = strdup(r->file);
		n->clauses = r->nr_clauses ? calloc(r->nr_clauses, sizeof(*n->clauses)) : NULL;
		if (!n->file || (r->nr_clauses && !n->clauses)) {
			free(n->file);
			free(n->clauses);
			return errf(err, -ENOMEM, "out of memory");
		}
		if (r->nr_clauses)
			memcpy(n->clauses, r->clauses, r->nr_clauses * sizeof(*n->clauses));
		dst->nr++;
	}
	return 0;
}

int policy_prog_custom(struct policy_prog *out, const char *dir, const char *text, const char *file,
		       uint32_t default_action, struct cvm_errbuf *err)
{
	struct policy *base = NULL, *dev = NULL;
	char path[4096];
	int rc;

	memset(out, 0, sizeof(*out));
	if (snprintf(path, sizeof(path), "%s/common_device.policy", dir) >= (int)sizeof(path))
		return errf(err, -ENAMETOOLONG, "policy directory %s: name too long", dir);
	rc = policy_parse_file(&base, path, err);
	if (!rc && text)
		rc = policy_parse_string(&dev, text, "(device policy)", dir, err);
	else if (!rc && file)
		rc = policy_parse_file(&dev, file, err);
	else if (!rc)
		rc = errf(err, -EINVAL, "no device policy");
	if (!rc)
		rc = append(base, dev, err);
	if (!rc)
		rc = policy_prog_build(out, base, default_action, err);
	policy_free(base);
	policy_free(dev);
	return rc;
}

int policy_prog_install(const struct policy_prog *pp)
{
	if (!pp->nr)
		return -EINVAL;
	for (unsigned int i = 0; i < pp->nr; i++)
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &pp->f[i]))
			return -errno;
	return 0;
}

void policy_prog_free(struct policy_prog *pp)
{
	for (unsigned int i = 0; i < pp->nr; i++)
		free(pp->f[i].filter);
	memset(pp, 0, sizeof(*pp));
}
