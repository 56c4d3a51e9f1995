// SPDX-License-Identifier: BSD-3-Clause
/* Command-line parsing: one -r, -d or --rwdisk argument (see opts.h). */
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int disk_err(char *err, size_t errlen, const char *name, const char *arg, const char *why,
		    const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s '%s': %s%s", name, arg, why, what ? what : "");
	return -1;
}

int opts_parse_disk(struct opts_disk *d, const char *name, const char *arg, char *err,
		    size_t errlen)
{
	char *copy, *rest, *item;
	bool seen_direct = false;

	if (*arg == '\0' || *arg == ',') {
		if (err && errlen)
			snprintf(err, errlen, "%s: empty path", name);
		return -1;
	}
	copy = strdup(arg);
	if (!copy)
		return disk_err(err, errlen, name, arg, "out of memory", NULL);
	rest = strchr(copy, ',');
	if (rest)
		*rest++ = '\0';
	d->path = d->owned = copy;
	d->direct = false;
	while (rest && (item = strsep(&rest, ",")) != NULL) {
		char *val = strchr(item, '=');

		if (val)
			*val++ = '\0';
		if (strcmp(item, "o_direct") != 0) {
			disk_err(err, errlen, name, arg, "unknown option ",
				 *item ? item : "(empty)");
			goto fail;
		}
		if (seen_direct) {
			disk_err(err, errlen, name, arg, "o_direct given twice", NULL);
			goto fail;
		}
		seen_direct = true;
		if (!val || strcmp(val, "true") == 0) {
			d->direct = true;
		} else if (strcmp(val, "false") == 0) {
			d->direct = false;
		} else {
			disk_err(err, errlen, name, arg, "o_direct= takes true or false, not ",
				 val);
			goto fail;
		}
	}
	return 0;
fail:
	free(copy);
	d->path = d->owned = NULL;
	return -1;
}
