/* schema.c - the index's tables (docs/search.md "Schema").
 *
 * search_messages holds one row per message of the teams this instance
 * owns, hash-partitioned by team so that a query, which always names its
 * team, touches one partition and its GIN index. The text configuration is
 * 'simple' (lower-cased words, no stemming, no stop words): teams write in
 * every language, and a stemmer picked for one would mangle the others.
 * A deleted message stays as a tombstone (deleted, empty text) so that a
 * replayed create cannot bring it back. Offsets live in the same database
 * and are written by the same statement as the rows (si_apply_batch).
 * Migrations are numbered, written out in full and never edited: each
 * carries the SHA-256 of its SQL (lib/migrate.h), checked by schema_test.c
 * and again before anything runs; the advisory lock makes instances that
 * start together apply each once. An edit means a new version. */
#include <stddef.h>

#include "err.h"
#include "log.h"
#include "migrate.h"
#include "pg.h"
#include "search.h"

static const struct pl_migration si_schema_set[] = {
	{ 1,
	"6c4c1e76c45e8d1649049658ea7a275a760d1ad8d7f4444b9bc66eac3df67d17",
	"CREATE TABLE search_messages (team_id text NOT NULL, channel_id text NOT NULL,"
	" ts text NOT NULL, ts_us bigint NOT NULL, seq bigint NOT NULL,"
	" user_id text NOT NULL, text text NOT NULL, thread_ts text NOT NULL DEFAULT '',"
	" has_link boolean NOT NULL DEFAULT false, mentions text[] NOT NULL DEFAULT '{}',"
	" deleted boolean NOT NULL DEFAULT false, tsv tsvector NOT NULL,"
	" PRIMARY KEY (channel_id, ts, team_id)) PARTITION BY HASH (team_id);"
	/* (inside the migration's DO block: plpgsql) */
	" FOR i IN 0 .. 7 LOOP EXECUTE format('CREATE TABLE search_messages_%s"
	" PARTITION OF search_messages FOR VALUES WITH (MODULUS 8, REMAINDER %s)', i, i);"
	" END LOOP;"
	"CREATE INDEX search_messages_tsv ON search_messages USING gin (tsv);"
	"CREATE INDEX search_messages_time ON search_messages (team_id, ts_us);"
	"CREATE INDEX search_messages_user ON search_messages (team_id, user_id, ts_us);"
	"CREATE TABLE search_reactions (channel_id text NOT NULL, ts text NOT NULL,"
	" name text NOT NULL, user_id text NOT NULL,"
	" PRIMARY KEY (channel_id, ts, name, user_id));"
	"CREATE TABLE search_offsets (topic text NOT NULL, partition int NOT NULL,"
	" next_offset bigint NOT NULL, PRIMARY KEY (topic, partition));"
	"CREATE FUNCTION si_mentions(t text) RETURNS text[] LANGUAGE sql IMMUTABLE AS"
	" $f$ SELECT coalesce(array_agg(DISTINCT x[1]), '{}') FROM"
	" regexp_matches(t, '<@([A-Za-z0-9_]+)', 'g') AS x $f$;"
	"CREATE FUNCTION si_has_link(t text) RETURNS boolean LANGUAGE sql IMMUTABLE AS"
	" $f$ SELECT t ~* '(https?|ftp)://[^[:space:]]' $f$;"
	/* one batch of the log in order, with the offsets: one statement */
	"CREATE FUNCTION si_apply_batch(p_topic text, p_parts int[], p_next bigint[],"
	" p_type int[], p_team text[], p_ch text[], p_ts text[], p_tsus bigint[],"
	" p_seq bigint[], p_user text[], p_text text[], p_thr text[], p_tgt text[],"
	" p_rx text[]) RETURNS int LANGUAGE plpgsql AS $f$"
	" DECLARE i int;"
	" BEGIN"
	"  INSERT INTO search_messages (team_id, channel_id, ts, ts_us, seq, user_id, text,"
	"   thread_ts, has_link, mentions, tsv)"
	"   SELECT u.tm, u.c, u.t, u.tu, u.s, u.us, u.tx, u.th, si_has_link(u.tx),"
	"    si_mentions(u.tx), to_tsvector('simple', u.tx)"
	"   FROM unnest(p_type, p_team, p_ch, p_ts, p_tsus, p_seq, p_user, p_text, p_thr)"
	"    AS u(y, tm, c, t, tu, s, us, tx, th) WHERE u.y = 1 ON CONFLICT DO NOTHING;"
	"  UPDATE search_messages p SET thread_ts = p.ts"
	"   FROM (SELECT DISTINCT u.c, u.th FROM unnest(p_type, p_ch, p_thr) AS u(y, c, th)"
	"    WHERE u.y = 1 AND u.th <> '') AS r"
	"   WHERE p.channel_id = r.c AND p.ts = r.th AND p.thread_ts = '';"
	"  FOR i IN SELECT g FROM generate_subscripts(p_type, 1) AS g"
	"   WHERE p_type[g] IN (2, 3, 4, 5) LOOP"
	"   IF p_type[i] = 2 THEN"
	"    UPDATE search_messages SET text = p_text[i], tsv = to_tsvector('simple', p_text[i]),"
	"     has_link = si_has_link(p_text[i]), mentions = si_mentions(p_text[i]), seq = p_seq[i]"
	"     WHERE channel_id = p_ch[i] AND ts = p_tgt[i] AND seq < p_seq[i] AND NOT deleted;"
	"   ELSIF p_type[i] = 3 THEN"
	"    UPDATE search_messages SET deleted = true, text = '', tsv = ''::tsvector,"
	"     has_link = false, mentions = '{}', seq = p_seq[i]"
	"     WHERE channel_id = p_ch[i] AND ts = p_tgt[i];"
	"    DELETE FROM search_reactions WHERE channel_id = p_ch[i] AND ts = p_tgt[i];"
	"   ELSIF p_type[i] = 4 THEN"
	"    INSERT INTO search_reactions VALUES (p_ch[i], p_tgt[i], p_rx[i], p_user[i])"
	"     ON CONFLICT DO NOTHING;"
	"   ELSE"
	"    DELETE FROM search_reactions WHERE channel_id = p_ch[i] AND ts = p_tgt[i]"
	"     AND name = p_rx[i] AND user_id = p_user[i];"
	"   END IF;"
	"  END LOOP;"
	"  INSERT INTO search_offsets (topic, partition, next_offset)"
	"   SELECT p_topic, u.p, u.o FROM unnest(p_parts, p_next) AS u(p, o)"
	"   ON CONFLICT (topic, partition) DO UPDATE"
	"   SET next_offset = GREATEST(search_offsets.next_offset, EXCLUDED.next_offset);"
	"  RETURN coalesce(array_length(p_type, 1), 0);"
	" END $f$;" },
};

/* si_schema_migrations - the set and its length in *n (for the hash test
 * and the migrator) */
const struct pl_migration *
si_schema_migrations(size_t *n)
{
	*n = sizeof(si_schema_set) / sizeof(si_schema_set[0]);
	return si_schema_set;
}

/* si_schema_apply - every migration not yet recorded (lib/migrate: hashes
 * checked first), then the reindex reset */
int
si_schema_apply(const char *dsn, int reindex)
{
	const struct pl_migration *m;
	size_t n;
	int rv;

	m = si_schema_migrations(&n);
	rv = pl_migrations_apply(dsn, "search-indexer", m, n);
	if (rv == 0 && reindex)
		rv = pl_pg_exec_sync(dsn, "TRUNCATE search_messages, search_reactions,"
		    " search_offsets;");
	if (rv != 0)
		pl_log_error("SI-SCHEMA-FAIL", "err=%s", pl_err_str(rv));
	else
		pl_log_info("SI-SCHEMA-OK", "migrations=%zu reindex=%d", n, reindex);
	return rv;
}
