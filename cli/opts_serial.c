// SPDX-License-Identifier: BSD-3-Clause
/* Command-line parsing: the --serial SPECs (see opts.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

/*
 * opts_parse_serial() - one --serial SPEC: num=N,type=T,path=FILE,input=stdin|FILE
 * in any order, each key at most once.
 */
int opts_parse_serial(struct opts_serial *s, const char *spec, char *err, size_t errlen)
{
	bool seen_num = false, seen_type = false, seen_path = false, seen_input = false;
	char *copy, *rest, *item;
	int rc = -1;

	*s = (struct opts_serial){ .num = 1, .type = OPTS_SERIAL_STDOUT, .input = OPTS_INPUT_NONE };
	if (*spec == '\0')
		return opts_usage_err(err, errlen, "--serial: empty specification");
	copy = strdup(spec);
	if (!copy)
		return opts_usage_err(err, errlen, "out of memory");
	rest = copy;
	while ((item = strsep(&rest, ",")) != NULL) {
		char *val = strchr(item, '=');
		const char *key = item;
		bool *seen;

		if (*item == '\0') {
			opts_usage_err(err, errlen, "--serial '%s': empty item", spec);
			goto out;
		}
		if (!val) {
			opts_usage_err(err, errlen, "--serial '%s': '%s' is not key=value", spec,
				       item);
			goto out;
		}
		*val++ = '\0';
		if (strcmp(key, "num") == 0) {
			seen = &seen_num;
		} else if (strcmp(key, "type") == 0) {
			seen = &seen_type;
		} else if (strcmp(key, "path") == 0) {
			seen = &seen_path;
		} else if (strcmp(key, "input") == 0) {
			seen = &seen_input;
		} else {
			opts_usage_err(
				err, errlen,
				"--serial '%s': unknown key '%s' (expected num, type, path or "
				"input)",
				spec, key);
			goto out;
		}
		if (*seen) {
			opts_usage_err(err, errlen, "--serial '%s': %s given twice", spec, key);
			goto out;
		}
		*seen = true;
		if (*val == '\0') {
			opts_usage_err(err, errlen, "--serial '%s': %s= needs a value", spec, key);
			goto out;
		}

		if (seen == &seen_num) {
			uint32_t n = 0;

			if (opts_parse_u32(val, &n) == -EINVAL) {
				opts_usage_err(err, errlen, "--serial '%s': num=%s is not a number",
					       spec, val);
				goto out;
			}
			if (n < 1 || n > OPTS_SERIAL_PORTS) {
				opts_usage_err(
					err, errlen,
					"--serial '%s': num=%s is out of range (COM1 to COM%u)",
					spec, val, OPTS_SERIAL_PORTS);
				goto out;
			}
			s->num = n;
		} else if (seen == &seen_type) {
			if (strcmp(val, "stdout") == 0) {
				s->type = OPTS_SERIAL_STDOUT;
			} else if (strcmp(val, "file") == 0) {
				s->type = OPTS_SERIAL_FILE;
			} else if (strcmp(val, "sink") == 0) {
				s->type = OPTS_SERIAL_SINK;
			} else {
				opts_usage_err(
					err, errlen,
					"--serial '%s': unknown type '%s' (expected stdout, file "
					"or sink)",
					spec, val);
				goto out;
			}
		} else if (seen == &seen_path) {
			s->path = strdup(val);
			if (!s->path) {
				opts_usage_err(err, errlen, "out of memory");
				goto out;
			}
		} else {
			if (strcmp(val, "stdin") == 0) {
				s->input = OPTS_INPUT_STDIN;
			} else {
				s->input = OPTS_INPUT_FILE;
				s->input_path = strdup(val);
				if (!s->input_path) {
					opts_usage_err(err, errlen, "out of memory");
					goto out;
				}
			}
		}
	}
	if (s->type == OPTS_SERIAL_FILE && !s->path) {
		opts_usage_err(err, errlen, "--serial '%s': type=file needs path=FILE", spec);
		goto out;
	}
	if (s->type != OPTS_SERIAL_FILE && s->path) {
		opts_usage_err(err, errlen, "--serial '%s': path= is only valid with type=file",
			       spec);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	if (rc) {
		free(s->path);
		free(s->input_path);
		s->path = NULL;
		s->input_path = NULL;
	}
	return rc;
}

/* Cross-port checks, then the default COM1. */
int opts_finish_serial(struct cvm_opts *o, char *err, size_t errlen)
{
	bool have_com1 = false;
	unsigned int readers = 0;

	for (unsigned int i = 0; i < o->nserial; i++) {
		for (unsigned int j = 0; j < i; j++) {
			if (o->serial[i].num == o->serial[j].num)
				return opts_usage_err(err, errlen, "--serial: COM%u is given twice",
						      o->serial[i].num);
		}
		if (o->serial[i].num == 1)
			have_com1 = true;
		if (o->serial[i].input == OPTS_INPUT_STDIN)
			readers++;
	}
	if (readers > 1)
		return opts_usage_err(err, errlen, "--serial: only one port can have input=stdin");
	if (!have_com1) {
		o->serial[o->nserial++] = (struct opts_serial){
			.num = 1,
			.type = OPTS_SERIAL_STDOUT,
			.input = readers ? OPTS_INPUT_NONE : OPTS_INPUT_STDIN,
		};
	}
	return 0;
}
