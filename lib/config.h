/* config.h - configuration tables: defaults, then environment, then flags.
 *
 * A daemon declares a table of entries, each naming a flag (--http-addr), an
 * environment variable (PARLEY_HTTP_ADDR), a type, a default, where to store
 * the value, bounds for integers and a help line. pl_config_load applies them
 * in that order and handles --help and --print-config (both exit 0). */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H
#include <stdint.h>
#include <stdio.h>

enum pl_config_type {
	PL_CONF_STR,	/* ptr is char ** (heap copy, owned by config, lives until exit) */
	PL_CONF_INT,	/* ptr is int64_t *, checked against [min, max] (0, 0: unbounded) */
	PL_CONF_BOOL,	/* ptr is int *; accepts 1/0/true/false/yes/no/on/off */
	PL_CONF_FILE,	/* ptr is char ** (a path): see "secrets from files" below */
};

struct pl_config_entry {
	const char *name;	/* flag without dashes: "http-addr" */
	const char *env;	/* "PARLEY_HTTP_ADDR" */
	enum pl_config_type type;
	const char *def;	/* default as text; NULL means empty string / 0 */
	void *ptr;
	int64_t min, max;	/* INT: bounds; STR: length in bytes (0, 0: any) */
	const char *help;
	int secret;		/* 1: --print-config shows "<set>" instead of the value */
};
/* Secrets from files (mounted secrets): an entry of type PL_CONF_FILE named
 * "<name>-file" fills the PL_CONF_STR entry "<name>" of the same tables with
 * the whole content of the file, trailing newlines ("\n", "\r\n") cut. The
 * file wins over the entry's own environment variable and flag. A file that
 * cannot be read, holds a NUL byte or is over PL_CONFIG_FILE_MAX bytes is a
 * bad value (exit 2).
 *
 * Length bounds of strings (min, max non-zero) are checked after every
 * setting and file is applied; a daemon refuses to start (exit 2) when a
 * string is shorter than min, which makes min > 0 a required setting. They
 * are not checked for --print-config, which shows a secret as
 * "<set, N bytes>", "<set, N bytes, from FILE_ENV>" or "<unset>", so that a
 * missing secret can be diagnosed. */
#define PL_CONFIG_FILE_MAX 65536
#define PL_CONFIG_END { NULL, NULL, PL_CONF_STR, NULL, NULL, 0, 0, NULL, 0 }

/* pl_config_load - apply tables (a NULL-terminated array of tables, each ended
 * by PL_CONFIG_END) from defaults, environment and argv. Prints --help or
 * --print-config and exits 0; on a bad value or unknown flag prints why and
 * exits 2. Flags are --name=value or --name value; a bool flag alone means 1. */
void pl_config_load(const char *prog, const char *summary,
    const struct pl_config_entry *const *tables, int argc, char **argv);
/* pl_config_print - write "NAME=value" lines of the effective config. */
void pl_config_print(FILE *f, const struct pl_config_entry *const *tables);
/* pl_config_usage - write --help text. */
void pl_config_usage(FILE *f, const char *prog, const char *summary,
    const struct pl_config_entry *const *tables);
/* pl_config_read_secret - the whole of path, trailing newlines cut, into
 * *value_r (heap, NUL-ended; *len_r bytes). -errno if it cannot be read,
 * PL_ETOOBIG over PL_CONFIG_FILE_MAX bytes, PL_EINVAL if it holds a NUL. */
int pl_config_read_secret(const char *path, char **value_r, size_t *len_r);
/* pl_config_read_file - the first line of path (trailing whitespace cut),
 * heap; NULL if the file is missing or empty. For settings another process
 * writes, such as the bootstrap list devkafka puts in its brokers file. */
char *pl_config_read_file(const char *path);

#endif
