/* migrate.h - numbered SQL migrations as immutable history.
 *
 * A daemon keeps one table per database it owns: each row a version, the
 * SHA-256 of its SQL recorded when it shipped, and the SQL written out in
 * full (no macros shared between migrations: editing a shared piece would
 * rewrite a migration that has already run somewhere). The recorded hash is
 * checked by the daemon's unit test (`make test` fails on an edited
 * migration) and again by pl_migrations_apply before anything runs. A
 * migration is never edited after it ships: add a new version instead. */
#ifndef PL_MIGRATE_H
#define PL_MIGRATE_H

#include <stddef.h>

struct pl_migration {
	int version;		/* 1, 2, ... strictly increasing */
	const char *sha256;	/* lowercase hex SHA-256 of sql, recorded once */
	const char *sql;	/* the whole migration, run in the start-up transaction */
};

/* pl_migration_sha256 - hex SHA-256 of sql into out (65 bytes with the NUL) */
void pl_migration_sha256(const char *sql, char out[65]);

/* pl_migrations_check - 0 when versions increase strictly and every sql
 * matches its recorded hash; else PL_EINVAL and a sentence in err naming set,
 * the version and both hashes ("... add a new migration instead") */
int pl_migrations_check(const char *set, const struct pl_migration *m, size_t n,
    char *err, size_t errlen);

/* pl_migrations_apply - check the set, then in one transaction (under an
 * advisory lock, so processes starting together apply each once) run every
 * migration of service not yet in schema_migrations; blocking, for start-up */
int pl_migrations_apply(const char *dsn, const char *service,
    const struct pl_migration *m, size_t n);

#endif
