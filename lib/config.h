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
};

struct pl_config_entry {
	const char *name;	/* flag without dashes: "http-addr" */
	const char *env;	/* "PARLEY_HTTP_ADDR" */
	enum pl_config_type type;
	const char *def;	/* default as text; NULL means empty string / 0 */
	void *ptr;
	int64_t min, max;	/* PL_CONF_INT only */
	const char *help;
	int secret;		/* 1: --print-config shows "<set>" instead of the value */
};
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
/* pl_config_read_file - the first line of path (trailing whitespace cut),
 * heap; NULL if the file is missing or empty. For settings another process
 * writes, such as the bootstrap list devkafka puts in its brokers file. */
char *pl_config_read_file(const char *path);

#endif
