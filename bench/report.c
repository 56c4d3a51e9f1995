// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_report: reads the JSON results of the benchmarks (the convention of
 * bench/README.md: {"name", "rows": [{"vmm", "metric", "unit", "median",
 * "p10", "p90", "n"}], "ratios": [{"name", "value", "goal", "met"}],
 * "notes"}), so bench/run needs neither jq nor python.
 *
 *   bench_report check FILE [VMM:METRIC]...
 *       FILE is valid JSON, follows the convention, and has a row for each
 *       VMM:METRIC given; exit 0, else 1 with the reason.
 *   bench_report combine OUT [--meta KEY=VALUE]... FILE...
 *       print one table of all rows and ratios of the FILEs, and write OUT:
 *       {"meta": {KEY: VALUE, ...}, "benchmarks": [the FILEs' objects]}
 *   bench_report table FILE...
 *       print the table only (a FILE may also be a combined one)
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small JSON parser ---------------------------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype t;
	double num; /* J_NUM; J_BOOL: 0 or 1 */
	char *str;  /* J_STR */
	int n;	    /* J_ARR, J_OBJ: the items */
	struct jv **items;
	char **keys; /* J_OBJ */
};

struct parser {
	const char *s, *err;
	size_t pos;
	int depth;
};

static void *xalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		fputs("bench_report: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static void jfree(struct jv *v)
{
	if (!v)
		return;
	for (int i = 0; i < v->n; i++) {
		jfree(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

static void ws(struct parser *p)
{
	while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
	       p->s[p->pos] == '\r')
		p->pos++;
}

static struct jv *value(struct parser *p);

static char *string(struct parser *p)
{
	size_t cap = 16, len = 0;
	char *out;

	if (p->s[p->pos] != '"') {
		p->err = "a string expected";
		return NULL;
	}
	p->pos++;
	out = xalloc(cap);
	for (;;) {
		unsigned char c = (unsigned char)p->s[p->pos++];

		if (len + 8 >= cap) {
			char *q = realloc(out, cap * 2);

			if (!q) {
				free(out);
				p->err = "out of memory";
				return NULL;
			}
			out = q;
			cap *= 2;
		}
		if (c == '"')
			break;
		if (c < 0x20) {
			p->err = c ? "a control character in a string" : "an unterminated string";
			free(out);
			return NULL;
		}
		if (c != '\\') {
			out[len++] = (char)c;
			continue;
		}
		c = (unsigned char)p->s[p->pos++];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			out[len++] = (char)c;
			break;
		case 'b':
			out[len++] = '\b';
			break;
		case 'f':
			out[len++] = '\f';
			break;
		case 'n':
			out[len++] = '\n';
			break;
		case 'r':
			out[len++] = '\r';
			break;
		case 't':
			out[len++] = '\t';
			break;
		case 'u': {
			unsigned int u = 0;

			for (int i = 0; i < 4; i++) {
				char h = p->s[p->pos++];

				u <<= 4;
				if (h >= '0' && h <= '9')
					u |= (unsigned int)(h - '0');
				else if (h >= 'a' && h <= 'f')
					u |= (unsigned int)(h - 'a' + 10);
				else if (h >= 'A' && h <= 'F')
					u |= (unsigned int)(h - 'A' + 10);
				else {
					p->err = "a bad \\u escape";
					free(out);
					return NULL;
				}
			}
			/* UTF-8; surrogate pairs are kept as two 3-byte sequences. */
			if (u < 0x80) {
				out[len++] = (char)u;
			} else if (u < 0x800) {
				out[len++] = (char)(0xc0 | u >> 6);
				out[len++] = (char)(0x80 | (u & 0x3f));
			} else {
				out[len++] = (char)(0xe0 | u >> 12);
				out[len++] = (char)(0x80 | ((u >> 6) & 0x3f));
				out[len++] = (char)(0x80 | (u & 0x3f));
			}
			break;
		}
		default:
			p->err = "a bad escape in a string";
			free(out);
			return NULL;
		}
	}
	out[len] = '\0';
	return out;
}

static void push(struct jv *v, char *key, struct jv *item)
{
	struct jv **items = realloc(v->items, (size_t)(v->n + 1) * sizeof(*items));

	if (!items) {
		fputs("bench_report: out of memory\n", stderr);
		exit(1);
	}
	v->items = items;
	if (v->t == J_OBJ) {
		char **keys = realloc(v->keys, (size_t)(v->n + 1) * sizeof(*keys));

		if (!keys) {
			fputs("bench_report: out of memory\n", stderr);
			exit(1);
		}
		v->keys = keys;
		v->keys[v->n] = key;
	}
	v->items[v->n++] = item;
}

static struct jv *container(struct parser *p, bool obj)
{
	struct jv *v = xalloc(sizeof(*v));
	char close = obj ? '}' : ']';

	v->t = obj ? J_OBJ : J_ARR;
	if (++p->depth > 64) {
		p->err = "nested too deeply";
		free(v);
		return NULL;
	}
	p->pos++;
	ws(p);
	if (p->s[p->pos] == close) {
		p->pos++;
		p->depth--;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct jv *item;

		ws(p);
		if (obj) {
			key = string(p);
			if (!key)
				goto fail;
			ws(p);
			if (p->s[p->pos] != ':') {
				p->err = "':' expected";
				free(key);
				goto fail;
			}
			p->pos++;
		}
		item = value(p);
		if (!item) {
			free(key);
			goto fail;
		}
		push(v, key, item);
		ws(p);
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == close) {
			p->pos++;
			break;
		}
		p->err = obj ? "',' or '}' expected" : "',' or ']' expected";
		goto fail;
	}
	p->depth--;
	return v;
fail:
	jfree(v);
	return NULL;
}

static struct jv *value(struct parser *p)
{
	struct jv *v;
	const char *s;

	ws(p);
	s = p->s + p->pos;
	if (*s == '{' || *s == '[')
		return container(p, *s == '{');
	v = xalloc(sizeof(*v));
	if (*s == '"') {
		v->t = J_STR;
		v->str = string(p);
		if (!v->str) {
			free(v);
			return NULL;
		}
	} else if (!strncmp(s, "null", 4)) {
		v->t = J_NULL;
		p->pos += 4;
	} else if (!strncmp(s, "true", 4) || !strncmp(s, "false", 5)) {
		v->t = J_BOOL;
		v->num = *s == 't';
		p->pos += *s == 't' ? 4 : 5;
	} else if (*s == '-' || (*s >= '0' && *s <= '9')) {
		char *end;

		v->t = J_NUM;
		errno = 0;
		v->num = strtod(s, &end);
		if (end == s || errno || !isfinite(v->num)) {
			p->err = "a bad number";
			free(v);
			return NULL;
		}
		p->pos += (size_t)(end - s);
	} else {
		p->err = "a value expected";
		free(v);
		return NULL;
	}
	return v;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	size_t cap = 4096, len = 0, n;
	char *buf;

	if (!f) {
		fprintf(stderr, "bench_report: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = xalloc(cap);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *q = realloc(buf, cap * 2);

			if (!q) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = q;
			cap *= 2;
		}
	}
	fclose(f);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		fprintf(stderr, "bench_report: %s: a NUL byte\n", path);
		free(buf);
		return NULL;
	}
	return buf;
}

static struct jv *parse_file(const char *path)
{
	char *text = slurp(path);
	struct parser p = { .s = text };
	struct jv *v;

	if (!text)
		return NULL;
	v = value(&p);
	if (v) {
		ws(&p);
		if (p.s[p.pos]) {
			p.err = "text after the value";
			jfree(v);
			v = NULL;
		}
	}
	if (!v)
		fprintf(stderr, "bench_report: %s: invalid JSON at byte %zu: %s\n", path, p.pos,
			p.err ? p.err : "?");
	free(text);
	return v;
}

static struct jv *get(const struct jv *o, const char *key)
{
	if (!o || o->t != J_OBJ)
		return NULL;
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return o->items[i];
	return NULL;
}

static const char *get_str(const struct jv *o, const char *key)
{
	struct jv *v = get(o, key);

	return v && v->t == J_STR ? v->str : NULL;
}

/* ---- the convention --------------------------------------------------------- */

/* NULL when @b follows it, else what is wrong. */
static const char *validate(const struct jv *b)
{
	static const char *const row_str[] = { "vmm", "metric", "unit" };
	static const char *const row_num[] = { "median", "p10", "p90", "n" };
	struct jv *rows = get(b, "rows"), *ratios = get(b, "ratios"), *notes = get(b, "notes");

	if (!b || b->t != J_OBJ)
		return "not an object";
	if (!get_str(b, "name"))
		return "no string \"name\"";
	if (!rows || rows->t != J_ARR)
		return "no array \"rows\"";
	for (int i = 0; i < rows->n; i++) {
		for (size_t k = 0; k < 3; k++)
			if (!get_str(rows->items[i], row_str[k]))
				return "a row without a string vmm, metric or unit";
		for (size_t k = 0; k < 4; k++) {
			struct jv *v = get(rows->items[i], row_num[k]);

			if (!v || v->t != J_NUM)
				return "a row without a number median, p10, p90 or n";
		}
	}
	if (ratios && ratios->t != J_ARR)
		return "\"ratios\" is not an array";
	for (int i = 0; ratios && i < ratios->n; i++) {
		struct jv *v = get(ratios->items[i], "value");

		if (!get_str(ratios->items[i], "name") || !v || (v->t != J_NUM && v->t != J_NULL))
			return "a ratio without a string name and a number (or null) value";
	}
	if (notes && notes->t != J_STR)
		return "\"notes\" is not a string";
	return NULL;
}

static bool has_row(const struct jv *b, const char *vmm, const char *metric)
{
	struct jv *rows = get(b, "rows");

	for (int i = 0; i < rows->n; i++) {
		const char *v = get_str(rows->items[i], "vmm"),
			   *m = get_str(rows->items[i], "metric");

		if (!strcmp(v, vmm) && !strcmp(m, metric))
			return true;
	}
	return false;
}

static int cmd_check(int argc, char **argv)
{
	struct jv *b;
	const char *why;
	int bad = 0;

	if (argc < 1) {
		fputs("usage: bench_report check FILE [VMM:METRIC]...\n", stderr);
		return 2;
	}
	b = parse_file(argv[0]);
	if (!b)
		return 1;
	why = validate(b);
	if (why) {
		fprintf(stderr, "bench_report: %s: %s\n", argv[0], why);
		jfree(b);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		char *colon = strchr(argv[i], ':');

		if (!colon) {
			fprintf(stderr, "bench_report: %s: not VMM:METRIC\n", argv[i]);
			bad = 1;
			continue;
		}
		*colon = '\0';
		if (!has_row(b, argv[i], colon + 1)) {
			fprintf(stderr, "bench_report: %s: no row \"%s\" \"%s\"\n", argv[0],
				argv[i], colon + 1);
			bad = 1;
		}
		*colon = ':';
	}
	if (!bad)
		printf("bench_report: %s: valid, benchmark \"%s\", %d rows, %d ratios\n", argv[0],
		       get_str(b, "name"), get(b, "rows")->n,
		       get(b, "ratios") ? get(b, "ratios")->n : 0);
	jfree(b);
	return bad;
}

/* ---- output ----------------------------------------------------------------- */

static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void put(FILE *f, const struct jv *v, int indent)
{
	switch (v->t) {
	case J_NULL:
		fputs("null", f);
		break;
	case J_BOOL:
		fputs(v->num ? "true" : "false", f);
		break;
	case J_NUM:
		fprintf(f, "%.10g", v->num);
		break;
	case J_STR:
		put_str(f, v->str);
		break;
	case J_ARR:
	case J_OBJ:
		/* indent < 0: on one line (the rows and ratios). */
		fputc(v->t == J_OBJ ? '{' : '[', f);
		for (int i = 0; i < v->n; i++) {
			if (indent < 0)
				fputs(i ? ", " : "", f);
			else
				fprintf(f, "%s\n%*s", i ? "," : "", indent + 2, "");
			if (v->t == J_OBJ) {
				put_str(f, v->keys[i]);
				fputs(": ", f);
			}
			put(f, v->items[i], indent < 0 || indent >= 4 ? -1 : indent + 2);
		}
		if (v->n && indent >= 0)
			fprintf(f, "\n%*s", indent, "");
		fputc(v->t == J_OBJ ? '}' : ']', f);
		break;
	}
}

static const char *fmt(char *buf, size_t len, const struct jv *v)
{
	double a;

	if (!v || v->t != J_NUM) {
		snprintf(buf, len, "-");
		return buf;
	}
	a = fabs(v->num);
	snprintf(buf, len, a >= 1000 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", v->num);
	return buf;
}

static int widest(int w, const char *s)
{
	int len = s ? (int)strlen(s) : 0;

	return len > w ? len : w;
}

static void table(struct jv **b, int n)
{
	char m[32], p1[32], p9[32];
	bool any_ratio = false;
	int wb = 9, wv = 3, wm = 6, wu = 4, wr = 20; /* column widths */

	for (int i = 0; i < n; i++) {
		struct jv *rows = get(b[i], "rows"), *ratios = get(b[i], "ratios");

		wb = widest(wb, get_str(b[i], "name"));
		for (int k = 0; k < rows->n; k++) {
			wv = widest(wv, get_str(rows->items[k], "vmm"));
			wm = widest(wm, get_str(rows->items[k], "metric"));
			wu = widest(wu, get_str(rows->items[k], "unit"));
		}
		for (int k = 0; ratios && k < ratios->n; k++)
			wr = widest(wr, get_str(ratios->items[k], "name"));
	}
	printf("%-*s  %-*s  %-*s  %-*s %9s %9s %9s %5s\n", wb, "benchmark", wv, "vmm", wm, "metric",
	       wu, "unit", "median", "p10", "p90", "n");
	for (int i = 0; i < n; i++) {
		struct jv *rows = get(b[i], "rows");

		for (int k = 0; k < rows->n; k++) {
			struct jv *r = rows->items[k];

			printf("%-*s  %-*s  %-*s  %-*s %9s %9s %9s %5.0f\n", wb,
			       k ? "" : get_str(b[i], "name"), wv, get_str(r, "vmm"), wm,
			       get_str(r, "metric"), wu, get_str(r, "unit"),
			       fmt(m, sizeof(m), get(r, "median")),
			       fmt(p1, sizeof(p1), get(r, "p10")),
			       fmt(p9, sizeof(p9), get(r, "p90")), get(r, "n")->num);
		}
	}
	for (int i = 0; i < n; i++) {
		struct jv *ratios = get(b[i], "ratios");

		for (int k = 0; ratios && k < ratios->n; k++) {
			struct jv *q = ratios->items[k], *v = get(q, "value"), *met = get(q, "met");
			const char *goal = get_str(q, "goal");

			if (!any_ratio)
				printf("\n%-*s  %-*s %7s %7s\n", wb, "benchmark", wr,
				       "ratio of the medians", "value", "goal");
			any_ratio = true;
			if (v->t == J_NUM)
				snprintf(m, sizeof(m), "%.3g", v->num);
			else
				snprintf(m, sizeof(m), "n/a");
			if (goal)
				printf("%-*s  %-*s %7s %7s%s\n", wb, k ? "" : get_str(b[i], "name"),
				       wr, get_str(q, "name"), m, goal,
				       met && met->t == J_BOOL ? (met->num ? "  met" : "  MISSED") :
								 "");
			else
				printf("%-*s  %-*s %7s\n", wb, k ? "" : get_str(b[i], "name"), wr,
				       get_str(q, "name"), m);
		}
	}
}

/*
 * Parse the FILEs into @roots, and list in *@out the benchmark objects: each
 * FILE's own, or the "benchmarks" of a combined file. Returns their number,
 * or -1 (printed, everything freed).
 */
static int load_all(int argc, char **argv, struct jv ***roots, struct jv ***out)
{
	struct jv **r = xalloc((size_t)argc * sizeof(*r)), **b = NULL;
	int n = 0;

	for (int i = 0; i < argc; i++) {
		struct jv *list = NULL;
		const char *why = NULL;

		r[i] = parse_file(argv[i]);
		if (!r[i]) {
			why = ""; /* printed */
		} else {
			list = get(r[i], "benchmarks");
			if (!list || list->t != J_ARR)
				list = NULL;
			if (!list)
				why = validate(r[i]);
			for (int k = 0; list && !why && k < list->n; k++)
				why = validate(list->items[k]);
		}
		if (why) {
			if (*why)
				fprintf(stderr, "bench_report: %s: %s\n", argv[i], why);
			for (int k = 0; k <= i; k++)
				jfree(r[k]);
			free(r);
			free(b);
			return -1;
		}
		for (int k = 0; k < (list ? list->n : 1); k++) {
			struct jv **q = realloc(b, (size_t)(n + 1) * sizeof(*b));

			if (!q) {
				fputs("bench_report: out of memory\n", stderr);
				exit(1);
			}
			b = q;
			b[n++] = list ? list->items[k] : r[i];
		}
	}
	*roots = r;
	*out = b;
	return n;
}

static int cmd_combine(int argc, char **argv, bool write)
{
	const char *out = NULL;
	char **meta = xalloc((size_t)(argc + 1) * sizeof(*meta));
	int nmeta = 0, i = 0, rc = 1, n;
	struct jv **roots, **b;

	if (write) {
		if (argc < 1)
			goto usage;
		out = argv[i++];
		while (i + 1 < argc && !strcmp(argv[i], "--meta")) {
			if (!strchr(argv[i + 1], '='))
				goto usage;
			meta[nmeta++] = argv[i + 1];
			i += 2;
		}
	}
	n = load_all(argc - i, argv + i, &roots, &b);
	if (n < 0) {
		free(meta);
		return 1;
	}
	table(b, n);
	rc = 0;
	if (write) {
		FILE *f = fopen(out, "we");

		if (!f) {
			fprintf(stderr, "bench_report: %s: %s\n", out, strerror(errno));
			rc = 1;
		} else {
			fputs("{\"meta\": {", f);
			for (int k = 0; k < nmeta; k++) {
				char *eq = strchr(meta[k], '=');

				*eq = '\0';
				fputs(k ? ",\n  " : "\n  ", f);
				put_str(f, meta[k]);
				fputs(": ", f);
				put_str(f, eq + 1);
				*eq = '=';
			}
			fputs(nmeta ? "\n },\n \"benchmarks\": [" : "},\n \"benchmarks\": [", f);
			for (int k = 0; k < n; k++) {
				fputs(k ? ",\n  " : "\n  ", f);
				put(f, b[k], 2);
			}
			fputs("\n ]\n}\n", f);
			if (fclose(f)) {
				fprintf(stderr, "bench_report: %s: %s\n", out, strerror(errno));
				rc = 1;
			}
		}
	}
	for (int k = 0; k < argc - i; k++)
		jfree(roots[k]);
	free(roots);
	free(b);
	free(meta);
	return rc;
usage:
	fputs("usage: bench_report combine OUT [--meta KEY=VALUE]... FILE...\n", stderr);
	free(meta);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return cmd_check(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "combine"))
		return cmd_combine(argc - 2, argv + 2, true);
	if (argc >= 2 && !strcmp(argv[1], "table"))
		return cmd_combine(argc - 2, argv + 2, false);
	fputs("usage: bench_report check FILE [VMM:METRIC]...\n"
	      "       bench_report combine OUT [--meta KEY=VALUE]... FILE...\n"
	      "       bench_report table FILE...\n",
	      stderr);
	return 2;
}
