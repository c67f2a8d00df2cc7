/* config.c - configuration tables: defaults, then environment, then flags. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "mem.h"

/* spellings of a boolean, true ones first */
static const struct {
	const char *text;
	int value;
} pl_config_bools[] = {
	{ "1", 1 }, { "true", 1 }, { "yes", 1 }, { "on", 1 },
	{ "0", 0 }, { "false", 0 }, { "no", 0 }, { "off", 0 }, { "", 0 },
};

/* pl_config_bool - parse a boolean spelling into *v */
static int
pl_config_bool(const char *s, int *v)
{
	size_t i;

	for (i = 0; i < sizeof(pl_config_bools) / sizeof(pl_config_bools[0]); i++) {
		if (strcasecmp(s, pl_config_bools[i].text) == 0) {
			*v = pl_config_bools[i].value;
			return 0;
		}
	}
	return PL_EINVAL;
}

/* pl_config_int - parse a decimal integer within [min, max] into *v */
static int
pl_config_int(const struct pl_config_entry *e, const char *s, int64_t *v)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(s, &end, 10);
	if (*s == '\0')
		x = 0, end = (char *)s;
	else if (errno != 0 || *end != '\0')
		return PL_EINVAL;
	if ((e->min != 0 || e->max != 0) && (x < e->min || x > e->max))
		return PL_EINVAL;
	*v = x;
	return 0;
}

/* pl_config_set - store text s into e's variable; PL_EINVAL if it does not parse */
static int
pl_config_set(const struct pl_config_entry *e, const char *s)
{
	char **sp;

	if (s == NULL)
		s = "";
	switch (e->type) {
	case PL_CONF_INT:
		return pl_config_int(e, s, e->ptr);
	case PL_CONF_BOOL:
		return pl_config_bool(s, e->ptr);
	case PL_CONF_STR:
	case PL_CONF_FILE:
		/* the variable starts NULL (static) or holds a copy made here */
		sp = e->ptr;
		free(*sp);
		*sp = pl_strdup(s);
		return 0;
	}
	return PL_EINVAL;
}

/* pl_config_bad - report a bad value and exit 2 */
static void
pl_config_bad(const char *prog, const struct pl_config_entry *e,
    const char *from, const char *value)
{
	fprintf(stderr, "%s: bad value for %s (%s): \"%s\"", prog, e->name, from,
	    e->secret ? "<secret>" : value);
	if (e->type == PL_CONF_INT && (e->min || e->max))
		fprintf(stderr, " (integer in [%" PRId64 ", %" PRId64 "])", e->min, e->max);
	else if (e->type == PL_CONF_BOOL)
		fprintf(stderr, " (true/false)");
	fprintf(stderr, "\n");
	exit(2);
}

/* pl_config_find - the entry whose flag name is the n bytes at name */
static const struct pl_config_entry *
pl_config_find(const struct pl_config_entry *const *tables, const char *name, size_t n)
{
	const struct pl_config_entry *e;

	for (; *tables; tables++)
		for (e = *tables; e->name; e++)
			if (strlen(e->name) == n && strncmp(e->name, name, n) == 0)
				return e;
	return NULL;
}

/* pl_config_defaults_env - apply each entry's default, then its env var */
static void
pl_config_defaults_env(const char *prog, const struct pl_config_entry *const *tables)
{
	const struct pl_config_entry *const *t;
	const struct pl_config_entry *e;
	const char *v;

	for (t = tables; *t; t++) {
		for (e = *t; e->name; e++) {
			if (pl_config_set(e, e->def) != 0)
				pl_config_bad(prog, e, "default", e->def);
			if (e->env && (v = getenv(e->env)) != NULL &&
			    pl_config_set(e, v) != 0)
				pl_config_bad(prog, e, e->env, v);
		}
	}
}

/* pl_config_flag - apply argv[*i]; may consume the next argument */
static void
pl_config_flag(const char *prog, const struct pl_config_entry *const *tables,
    int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *name = arg + 2, *eq = strchr(name, '=');
	size_t n = eq ? (size_t)(eq - name) : strlen(name);
	const struct pl_config_entry *e;
	const char *value;

	if (strncmp(arg, "--", 2) != 0 || (e = pl_config_find(tables, name, n)) == NULL) {
		fprintf(stderr, "%s: unknown option \"%s\" (try --help)\n", prog, arg);
		exit(2);
	}
	if (eq)
		value = eq + 1;
	else if (e->type == PL_CONF_BOOL)
		value = "1";
	else if (*i + 1 < argc)
		value = argv[++*i];
	else {
		fprintf(stderr, "%s: option --%s needs a value\n", prog, e->name);
		exit(2);
	}
	if (pl_config_set(e, value) != 0)
		pl_config_bad(prog, e, "flag", value);
}

/* pl_config_source - the PL_CONF_FILE entry "<e's name>-file", or NULL */
static const struct pl_config_entry *
pl_config_source(const struct pl_config_entry *const *tables,
    const struct pl_config_entry *e)
{
	const struct pl_config_entry *f;
	size_t n = strlen(e->name);

	for (; *tables; tables++)
		for (f = *tables; f->name; f++)
			if (f->type == PL_CONF_FILE && strncmp(f->name, e->name, n) == 0 &&
			    strcmp(f->name + n, "-file") == 0)
				return f;
	return NULL;
}

/* pl_config_file_set - a PL_CONF_FILE entry whose path is set: its file */
static int
pl_config_file_set(const struct pl_config_entry *f)
{
	const char *path;

	if (f->type != PL_CONF_FILE)
		return 0;
	path = *(char **)f->ptr;
	return path != NULL && *path != '\0';
}

/* pl_config_files - each set PL_CONF_FILE entry replaces its string entry
 * with the file's content; exit 2 when a file cannot be used */
static void
pl_config_files(const char *prog, const struct pl_config_entry *const *tables)
{
	const struct pl_config_entry *const *t;
	const struct pl_config_entry *f, *e;
	char *value;
	size_t len, n;
	int rv;

	for (t = tables; *t; t++) {
		for (f = *t; f->name; f++) {
			if (!pl_config_file_set(f))
				continue;
			n = strlen(f->name) - 5;	/* "-file" */
			e = strlen(f->name) > 5 ? pl_config_find(tables, f->name, n) : NULL;
			if (e == NULL || e->type != PL_CONF_STR) {
				fprintf(stderr, "%s: %s names no setting\n", prog, f->name);
				exit(2);
			}
			if ((rv = pl_config_read_secret(*(char **)f->ptr, &value, &len)) != 0) {
				fprintf(stderr, "%s: cannot use %s (%s) \"%s\": %s\n", prog,
				    f->name, f->env ? f->env : "flag", *(char **)f->ptr,
				    rv == PL_ETOOBIG ? "file too large" :
				    rv == PL_EINVAL ? "holds a NUL byte" : pl_err_str(rv));
				exit(2);
			}
			free(*(char **)e->ptr);
			*(char **)e->ptr = value;
		}
	}
}

/* pl_config_lengths - every string within its length bounds, or exit 2 */
static void
pl_config_lengths(const char *prog, const struct pl_config_entry *const *tables)
{
	const struct pl_config_entry *const *t;
	const struct pl_config_entry *e, *f;
	const char *v;
	size_t n;

	for (t = tables; *t; t++) {
		for (e = *t; e->name; e++) {
			if (e->type != PL_CONF_STR || (e->min == 0 && e->max == 0))
				continue;
			v = *(char **)e->ptr;
			n = v ? strlen(v) : 0;
			if ((int64_t)n >= e->min && (e->max == 0 || (int64_t)n <= e->max))
				continue;
			f = pl_config_source(tables, e);
			fprintf(stderr, "%s: %s (%s%s%s) must be", prog, e->name,
			    e->env ? e->env : "flag", f && f->env ? " or " : "",
			    f && f->env ? f->env : "");
			if (e->min > 0)
				fprintf(stderr, " at least %" PRId64 " bytes", e->min);
			if (e->max > 0)
				fprintf(stderr, "%s at most %" PRId64 " bytes",
				    e->min > 0 ? " and" : "", e->max);
			fprintf(stderr, "; it is %s%zu bytes\n", n ? "" : "unset: ", n);
			exit(2);
		}
	}
}

/* pl_config_load - defaults, environment, flags; --help / --print-config exit 0 */
void
pl_config_load(const char *prog, const char *summary,
    const struct pl_config_entry *const *tables, int argc, char **argv)
{
	int i, print = 0;

	pl_config_defaults_env(prog, tables);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			pl_config_usage(stdout, prog, summary, tables);
			exit(0);
		}
		if (strcmp(argv[i], "--print-config") == 0)
			print = 1;
		else
			pl_config_flag(prog, tables, argc, argv, &i);
	}
	pl_config_files(prog, tables);
	if (print) {
		pl_config_print(stdout, tables);
		exit(0);
	}
	pl_config_lengths(prog, tables);
}

/* pl_config_text - the effective value of e as text into out */
static const char *
pl_config_text(const struct pl_config_entry *e, char *out, size_t n)
{
	const char *s;

	switch (e->type) {
	case PL_CONF_INT:
		snprintf(out, n, "%" PRId64, *(int64_t *)e->ptr);
		return out;
	case PL_CONF_BOOL:
		return *(int *)e->ptr ? "true" : "false";
	case PL_CONF_STR:
	case PL_CONF_FILE:
		s = *(char **)e->ptr;
		return s ? s : "";
	}
	return "";
}

/* pl_config_secret_text - what --print-config shows for a secret: its
 * length and where it came from, never a byte of it */
static const char *
pl_config_secret_text(const struct pl_config_entry *const *tables,
    const struct pl_config_entry *e, const char *v, char *out, size_t n)
{
	const struct pl_config_entry *f = pl_config_source(tables, e);

	if (*v == '\0')
		return "<unset>";
	if (f != NULL && pl_config_file_set(f))
		snprintf(out, n, "<set, %zu bytes, from %s>", strlen(v),
		    f->env ? f->env : f->name);
	else
		snprintf(out, n, "<set, %zu bytes>", strlen(v));
	return out;
}

/* pl_config_print - write "NAME=value" lines of the effective config */
void
pl_config_print(FILE *f, const struct pl_config_entry *const *tables)
{
	const struct pl_config_entry *const *all = tables;
	const struct pl_config_entry *e;
	char tmp[128];
	const char *v;

	for (; *tables; tables++) {
		for (e = *tables; e->name; e++) {
			v = pl_config_text(e, tmp, sizeof(tmp));
			if (e->secret)
				v = pl_config_secret_text(all, e, v, tmp, sizeof(tmp));
			if (e->env)
				fprintf(f, "%s=%s\n", e->env, v);
			else
				fprintf(f, "--%s=%s\n", e->name, v);
		}
	}
	fflush(f);
}

/* pl_config_type_name - a word for the value type in --help */
static const char *
pl_config_type_name(const struct pl_config_entry *e)
{
	static const char *const names[] = { "str", "int", "bool", "file" };

	return (unsigned)e->type < 4 ? names[e->type] : "?";
}

/* pl_config_usage - write --help text */
void
pl_config_usage(FILE *f, const char *prog, const char *summary,
    const struct pl_config_entry *const *tables)
{
	const struct pl_config_entry *e;

	fprintf(f, "usage: %s [--help] [--print-config] [--name=value ...]\n", prog);
	if (summary)
		fprintf(f, "%s\n", summary);
	fprintf(f, "\nsettings (defaults, then environment, then flags):\n");
	for (; *tables; tables++) {
		for (e = *tables; e->name; e++) {
			fprintf(f, "  --%s=<%s>  (env %s, default \"%s\")", e->name,
			    pl_config_type_name(e), e->env ? e->env : "-",
			    e->secret ? "" : (e->def ? e->def : ""));
			if (e->type == PL_CONF_INT && (e->min || e->max))
				fprintf(f, " [%" PRId64 "..%" PRId64 "]", e->min, e->max);
			fprintf(f, "\n      %s\n", e->help ? e->help : "");
		}
	}
	fflush(f);
}

/* pl_config_read_file - the first line of path, trailing whitespace cut (heap) */
char *
pl_config_read_file(const char *path)
{
	char line[4096];
	size_t n;
	FILE *f;

	if (path == NULL || *path == '\0' || (f = fopen(path, "r")) == NULL)
		return NULL;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
	    line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	return n ? pl_strdup(line) : NULL;
}

/* pl_config_read_secret - the whole of path, trailing newlines cut (heap) */
int
pl_config_read_secret(const char *path, char **value_r, size_t *len_r)
{
	char *buf = pl_malloc(PL_CONFIG_FILE_MAX + 2);
	size_t n = 0;
	ssize_t got;
	int fd, rv = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rv = -errno;
		goto fail;
	}
	/* read one byte past the limit to tell "exactly the limit" from more */
	while (n < PL_CONFIG_FILE_MAX + 1 &&
	    (got = read(fd, buf + n, PL_CONFIG_FILE_MAX + 1 - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rv = -errno;
			break;
		}
		n += (size_t)got;
	}
	close(fd);
	if (rv == 0 && n > PL_CONFIG_FILE_MAX)
		rv = PL_ETOOBIG;
	if (rv == 0 && memchr(buf, '\0', n) != NULL)
		rv = PL_EINVAL;
	if (rv != 0)
		goto fail;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	*value_r = buf;
	*len_r = n;
	return 0;
fail:
	free(buf);
	return rv;
}
