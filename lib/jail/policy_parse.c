// SPDX-License-Identifier: BSD-3-Clause
/*
 * The policy parser: minijail syntax, one rule per line, see docs/policy.md.
 */
#include "jail/policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where we are: file name for messages, line, include depth, base dir. */
struct pctx {
	struct policy *p;
	const char *file;
	const char *dir;
	unsigned int line;
	int depth;
	struct cvm_errbuf *err;
};

#define perr(c, fmt, ...) \
	errf((c)->err, -EINVAL, "%s:%u: " fmt, (c)->file, (c)->line, ##__VA_ARGS__)

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool is_ident(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

/* parse_number() - a decimal, 0x hex or 0 octal number ending at a non-alnum. */
static int parse_number(struct pctx *c, const char **sp, uint64_t *out)
{
	const char *s = *sp, *start = s;
	unsigned int base = 10;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!isxdigit((unsigned char)*s))
			return perr(c, "bad hex number '%.*s'", (int)(s - start), start);
	} else if (s[0] == '0') {
		base = 8;
	}
	for (; is_ident(*s); s++) {
		unsigned int d;

		if (isdigit((unsigned char)*s))
			d = *s - '0';
		else if (isxdigit((unsigned char)*s))
			d = tolower((unsigned char)*s) - 'a' + 10;
		else
			d = 99;
		if (d >= base) {
			while (is_ident(*s))
				s++;
			return perr(c, "bad number '%.*s'", (int)(s - start), start);
		}
		if (v > (UINT64_MAX - d) / base) {
			while (is_ident(*s))
				s++;
			return perr(c, "number '%.*s' does not fit 64 bits", (int)(s - start),
				    start);
		}
		v = v * base + d;
	}
	*out = v;
	*sp = s;
	return 0;
}

/* parse_value() - atom ('|' atom)*; an atom is a number or a constant, maybe after '~'. */
static int parse_value(struct pctx *c, const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	for (;;) {
		bool neg = false;
		uint64_t a;
		int rc;

		s = skip_ws(s);
		if (*s == '~') {
			neg = true;
			s = skip_ws(s + 1);
		}
		if (isdigit((unsigned char)*s)) {
			rc = parse_number(c, &s, &a);
			if (rc)
				return rc;
		} else if (is_ident(*s)) {
			const char *id = s;

			while (is_ident(*s))
				s++;
			if (policy_const(id, s - id, &a))
				return perr(c, "unknown constant '%.*s'", (int)(s - id), id);
		} else {
			return perr(c, "expected a number or a constant at '%s'", s);
		}
		v |= neg ? ~a : a;
		s = skip_ws(s);
		if (s[0] != '|' || s[1] == '|')
			break;
		s++;
	}
	*out = v;
	*sp = s;
	return 0;
}

/* parse_cmp() - argN OP VALUE or argN in VALUE. */
static int parse_cmp(struct pctx *c, const char **sp, struct policy_cmp *cmp)
{
	static const struct {
		const char *tok;
		enum policy_op op;
	} ops[] = {
		{ "==", POLICY_OP_EQ }, { "!=", POLICY_OP_NE }, { "<=", POLICY_OP_LE },
		{ ">=", POLICY_OP_GE }, { "<", POLICY_OP_LT },	{ ">", POLICY_OP_GT },
	};
	const char *s = skip_ws(*sp);
	const char *id;
	size_t i;
	int rc;

	if (strncmp(s, "arg", 3) || !isdigit((unsigned char)s[3]))
		return perr(c, "expected argN at '%s'", s);
	id = s;
	s += 3;
	while (isdigit((unsigned char)*s))
		s++;
	if (is_ident(*s))
		return perr(c, "expected argN at '%s'", id);
	if (s - id != 4 || id[3] > '5')
		return perr(c, "argument index in '%.*s' out of range 0..5", (int)(s - id), id);
	cmp->arg = id[3] - '0';
	s = skip_ws(s);
	if (s[0] == 'i' && s[1] == 'n' && !is_ident(s[2])) {
		cmp->op = POLICY_OP_IN;
		s += 2;
	} else if (s[0] == '&' && s[1] != '&') {
		cmp->op = POLICY_OP_AND;
		s++;
	} else {
		for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (!strncmp(s, ops[i].tok, strlen(ops[i].tok)))
				break;
		if (i == sizeof(ops) / sizeof(ops[0]))
			return perr(c, "expected an operator after arg%u at '%s'", cmp->arg, s);
		cmp->op = ops[i].op;
		s += strlen(ops[i].tok);
	}
	rc = parse_value(c, &s, &cmp->val);
	if (rc)
		return rc;
	if (cmp->op == POLICY_OP_AND && !cmp->val)
		return perr(c, "'arg%u & 0' can never hold", cmp->arg);
	*sp = s;
	return 0;
}

/* parse_expr() - cmp ('&&' cmp)* ('||' cmp ('&&' cmp)*)*, up to ';' or the end. */
static int parse_expr(struct pctx *c, const char *s, struct policy_rule *r)
{
	for (;;) {
		struct policy_clause *cl;
		int rc;

		if (r->nr_clauses == POLICY_MAX_OR)
			return perr(c, "more than %d '||' alternatives", POLICY_MAX_OR);
		cl = realloc(r->clauses, (r->nr_clauses + 1) * sizeof(*cl));
		if (!cl)
			return errf(c->err, -ENOMEM, "out of memory");
		r->clauses = cl;
		cl = &r->clauses[r->nr_clauses++];
		cl->nr = 0;
		for (;;) {
			if (cl->nr == POLICY_MAX_AND)
				return perr(c, "more than %d '&&' comparisons", POLICY_MAX_AND);
			rc = parse_cmp(c, &s, &cl->cmp[cl->nr++]);
			if (rc)
				return rc;
			s = skip_ws(s);
			if (s[0] != '&' || s[1] != '&')
				break;
			s += 2;
		}
		if (s[0] == '|' && s[1] == '|') {
			s += 2;
			continue;
		}
		if (*s)
			return perr(c, "unexpected '%s'", s);
		return 0;
	}
}

/* parse_errno() - `return ERRNO` where ERRNO is a number or a name like EPERM. */
static int parse_errno(struct pctx *c, const char *s, int *out)
{
	const char *id;
	uint64_t v;
	int rc;

	s = skip_ws(s);
	if (strncmp(s, "return", 6) || is_ident(s[6]))
		return perr(c, "expected 'return ERRNO' at '%s'", s);
	s = skip_ws(s + 6);
	if (isdigit((unsigned char)*s)) {
		rc = parse_number(c, &s, &v);
		if (rc)
			return rc;
		if (v > 4095)
			return perr(c, "errno %llu out of range 0..4095", (unsigned long long)v);
		*out = (int)v;
	} else {
		id = s;
		while (is_ident(*s))
			s++;
		if (s == id)
			return perr(c, "expected an errno after 'return'");
		*out = -1;
		for (int e = 1; e < 4096; e++) {
			const char *n = strerrorname_np(e);

			if (n && strlen(n) == (size_t)(s - id) && !memcmp(n, id, s - id)) {
				*out = e;
				break;
			}
		}
		if (*out < 0)
			return perr(c, "unknown errno '%.*s'", (int)(s - id), id);
	}
	s = skip_ws(s);
	if (*s)
		return perr(c, "unexpected '%s' after the errno", s);
	return 0;
}

static int parse_file(struct pctx *c, const char *path);

/* parse_directive() - @include ./x.policy or @frequency ./x.frequency. */
static int parse_directive(struct pctx *c, const char *s)
{
	const char *kw = s + 1, *arg, *end;
	size_t kwlen;
	char *path;
	int rc;

	end = kw;
	while (is_ident(*end))
		end++;
	kwlen = end - kw;
	if (!(kwlen == 9 && !strncmp(kw, "frequency", 9)) &&
	    !(kwlen == 7 && !strncmp(kw, "include", 7)))
		return perr(c, "unknown directive '%.*s'", (int)(kwlen + 1), s);
	arg = skip_ws(end);
	end = arg;
	while (*end && *end != ' ' && *end != '\t')
		end++;
	if (*skip_ws(end))
		return perr(c, "unexpected '%s'", skip_ws(end));
	if (kwlen == 9 && !strncmp(kw, "frequency", 9)) {
		if (arg == end)
			return perr(c, "@frequency needs a file");
		return 0;
	}
	if (arg == end)
		return perr(c, "@include needs a file");
	if (strncmp(arg, "./", 2))
		return perr(c, "@include path '%.*s' must start with ./", (int)(end - arg), arg);
	if (c->depth > 0)
		return perr(c, "@include in an included file (only one level is allowed)");
	if (!c->dir)
		return perr(c, "@include is not allowed here (no directory to resolve it in)");
	if (asprintf(&path, "%s/%.*s", c->dir, (int)(end - arg - 2), arg + 2) < 0)
		return errf(c->err, -ENOMEM, "out of memory");
	rc = parse_file(c, path);
	free(path);
	return rc;
}

/* parse_rule() - `name: 1`, `name: return E`, `name: EXPR` or `name: EXPR; return E`. */
static int parse_rule(struct pctx *c, const char *s)
{
	struct policy *p = c->p;
	struct policy_rule *r;
	const char *name = s, *body, *semi;
	size_t len;
	int nr, rc;

	while (is_ident(*s))
		s++;
	len = s - name;
	s = skip_ws(s);
	if (!len || *s != ':')
		return perr(c, "expected 'syscall: rule'");
	if (len >= POLICY_NAME_MAX)
		return perr(c, "syscall name too long");
	body = skip_ws(s + 1);
	if (!*body)
		return perr(c, "empty rule for '%.*s'", (int)len, name);
	for (size_t i = 0; i < p->nr; i++) {
		if (strlen(p->rules[i].name) == len && !memcmp(p->rules[i].name, name, len))
			return perr(c, "syscall '%.*s' given twice (first at %s:%u)", (int)len,
				    name, p->rules[i].file, p->rules[i].line);
	}
	if (p->nr == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 32;

		r = realloc(p->rules, cap * sizeof(*r));
		if (!r)
			return errf(c->err, -ENOMEM, "out of memory");
		p->rules = r;
		p->cap = cap;
	}
	r = &p->rules[p->nr];
	memset(r, 0, sizeof(*r));
	memcpy(r->name, name, len);
	r->errno_val = -1;
	r->line = c->line;
	r->file = strdup(c->file);
	if (!r->file)
		return errf(c->err, -ENOMEM, "out of memory");
	p->nr++; /* from here policy_free() cleans up r */
	nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, r->name);
	if (nr < 0)
		return perr(c, "unknown syscall '%s'", r->name);
	r->nr = nr;

	if (body[0] == '1' && !*skip_ws(body + 1)) {
		r->allow_all = true;
		return 0;
	}
	if (!strncmp(body, "return", 6) && !is_ident(body[6]))
		return parse_errno(c, body, &r->errno_val);
	semi = strchr(body, ';');
	if (semi) {
		char *expr = strndup(body, semi - body);

		if (!expr)
			return errf(c->err, -ENOMEM, "out of memory");
		rc = parse_expr(c, expr, r);
		free(expr);
		if (rc)
			return rc;
		return parse_errno(c, semi + 1, &r->errno_val);
	}
	return parse_expr(c, body, r);
}

/* parse_text() - every line of @text; comments run from '#' to the end of the line. */
static int parse_text(struct pctx *c, const char *text)
{
	char line[POLICY_LINE_MAX];
	const char *s = text;
	int rc;

	c->line = 0;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		char *hash, *end;
		const char *t;

		c->line++;
		if (len >= sizeof(line))
			return perr(c, "line longer than %d bytes", POLICY_LINE_MAX - 1);
		memcpy(line, s, len);
		line[len] = '\0';
		s += len + (nl ? 1 : 0);
		if (memchr(line, '\0', len))
			return perr(c, "NUL byte in line");
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		end = line + strlen(line);
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		t = skip_ws(line);
		if (!*t)
			continue;
		rc = *t == '@' ? parse_directive(c, t) : parse_rule(c, t);
		if (rc)
			return rc;
	}
	return 0;
}

static char *read_all(const char *path, int *rc)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		*rc = -errno;
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb) {
				*rc = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		*rc = -EIO;
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		free(buf);
		*rc = -EINVAL;
		return NULL;
	}
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

/* parse_file() - an included file (depth 1), or the top file (depth 0 from policy_parse_file). */
static int parse_file(struct pctx *c, const char *path)
{
	struct pctx sub = { .p = c->p, .file = path, .depth = c->depth + 1, .err = c->err };
	char *text;
	int rc = 0;

	text = read_all(path, &rc);
	if (!text) {
		if (rc == -EINVAL)
			return errf(c->err, rc, "%s:%u: %s: NUL byte in policy file", c->file,
				    c->line, path);
		return errf(c->err, rc, "%s:%u: cannot read %s: %s", c->file, c->line, path,
			    strerror(-rc));
	}
	rc = parse_text(&sub, text);
	free(text);
	return rc;
}

int policy_parse_string(struct policy **out, const char *text, const char *name, const char *dir,
			struct cvm_errbuf *err)
{
	struct pctx c = { .file = name ? name : "<policy>", .dir = dir, .err = err };
	int rc;

	*out = NULL;
	c.p = calloc(1, sizeof(*c.p));
	if (!c.p)
		return errf(err, -ENOMEM, "out of memory");
	rc = parse_text(&c, text);
	if (rc) {
		policy_free(c.p);
		return rc;
	}
	*out = c.p;
	return 0;
}

int policy_parse_file(struct policy **out, const char *path, struct cvm_errbuf *err)
{
	char *text, *dir, *slash;
	int rc = 0;

	*out = NULL;
	text = read_all(path, &rc);
	if (!text) {
		if (rc == -EINVAL)
			return errf(err, rc, "%s: NUL byte in policy file", path);
		return errf(err, rc, "cannot read %s: %s", path, strerror(-rc));
	}
	dir = strdup(path);
	if (!dir) {
		free(text);
		return errf(err, -ENOMEM, "out of memory");
	}
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	rc = policy_parse_string(out, text, path, dir, err);
	free(dir);
	free(text);
	return rc;
}

const struct policy_rule *policy_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nr; i++)
		if (!strcmp(p->rules[i].name, name))
			return &p->rules[i];
	return NULL;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nr; i++) {
		free(p->rules[i].file);
		free(p->rules[i].clauses);
	}
	free(p->rules);
	free(p);
}
