/* migrate.c - numbered SQL migrations, hash-checked, applied at start-up. */
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "migrate.h"
#include "pg.h"

/* pl_migration_sha256 - hex SHA-256 of sql into out */
void
pl_migration_sha256(const char *sql, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	out[0] = '\0';
	if (EVP_Digest(sql, strlen(sql), d, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return;
	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* pl_migration_is_hash - 64 lowercase hex digits */
static int
pl_migration_is_hash(const char *h)
{
	size_t i;

	if (h == NULL || strlen(h) != 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return 1;
}

/* pl_migrations_check - versions strictly increasing, texts as recorded */
int
pl_migrations_check(const char *set, const struct pl_migration *m, size_t n,
    char *err, size_t errlen)
{
	char got[65];
	size_t i;

	for (i = 0; i < n; i++) {
		if (m[i].version <= (i ? m[i - 1].version : 0)) {
			snprintf(err, errlen, "%s: migration %d is out of order (after %d):"
			    " versions increase strictly", set, m[i].version,
			    i ? m[i - 1].version : 0);
			return PL_EINVAL;
		}
		if (m[i].sql == NULL) {
			snprintf(err, errlen, "%s: migration %d has no SQL (entries are"
			    " { version, sha256, sql })", set, m[i].version);
			return PL_EINVAL;
		}
		pl_migration_sha256(m[i].sql, got);
		if (!pl_migration_is_hash(m[i].sha256)) {
			/* a new entry (or one written as { version, sql }) */
			snprintf(err, errlen, "%s: migration %d has no recorded sha256: its"
			    " text hashes to %s, record that when it ships", set,
			    m[i].version, got);
			return PL_EINVAL;
		}
		if (strcmp(got, m[i].sha256) != 0) {
			snprintf(err, errlen, "%s: migration %d was edited (recorded sha256 %s,"
			    " text now %s): a migration that shipped is history, add a new"
			    " migration instead", set, m[i].version, m[i].sha256, got);
			return PL_EINVAL;
		}
	}
	if (errlen)
		err[0] = '\0';
	return 0;
}

/* pl_migrations_apply - check, then one transaction: lock, bookkeeping
 * table, every migration not yet recorded for service */
int
pl_migrations_apply(const char *dsn, const char *service,
    const struct pl_migration *m, size_t n)
{
	char err[512];
	struct pl_buf b;
	size_t i;
	int rv;

	if ((rv = pl_migrations_check(service, m, n, err, sizeof(err))) != 0) {
		pl_log_error("PL-MIGRATE-EDITED", "set=%s what=\"%s\"", service, err);
		return rv;
	}
	pl_buf_init(&b);
	pl_buf_printf(&b, "BEGIN; SELECT pg_advisory_xact_lock(7346001);"
	    "CREATE TABLE IF NOT EXISTS schema_migrations (service text NOT NULL,"
	    " version int NOT NULL, applied timestamptz NOT NULL DEFAULT now(),"
	    " PRIMARY KEY (service, version));");
	for (i = 0; i < n; i++) {
		pl_buf_printf(&b, "DO $m$ BEGIN IF NOT EXISTS (SELECT 1 FROM schema_migrations"
		    " WHERE service = '%s' AND version = %d) THEN %s"
		    " INSERT INTO schema_migrations (service, version) VALUES ('%s', %d);"
		    " END IF; END $m$;", service, m[i].version, m[i].sql, service,
		    m[i].version);
	}
	pl_buf_puts(&b, "COMMIT;");
	rv = pl_pg_exec_sync(dsn, b.data);
	pl_buf_fini(&b);
	return rv;
}
