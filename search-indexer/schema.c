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
	/* 2: time blocks and word pairs in the GIN index (docs/search.md
	 * "Performance").
	 * tb holds nine keys of the message's UTC hour h since 1970 (clamped
	 * to 0 .. 2^24 - 1): level l in 0..8 is a block of 4^l hours, key
	 * (l << 24) | (h >> 2l). A word query walks blocks newest first
	 * (si_walk, query.c) and asks the index for "these words in this
	 * block", so it never reads every posting of a frequent word nor visits
	 * every match on the heap. bg holds the text's adjacent word pairs
	 * (Elasticsearch's index_phrases): a phrase of common words asks the
	 * index for its pairs instead of re-checking every message that holds
	 * its words. Adding the stored columns rewrites the table
	 * and the index is built when the migration runs (at start): no
	 * reindex from the log is needed. The pending list is kept small
	 * (256 kB): every scan of the index reads all of it. */
	{ 2,
	"abd1ffb9bd18f23843a1a3dde0cf304c998d69c4d6a860737af7d6b460ead06e",
	"CREATE FUNCTION si_hour(us bigint) RETURNS int LANGUAGE sql IMMUTABLE AS"
	" $f$ SELECT least(greatest(us / 3600000000, 0), 16777215)::int $f$;"
	"CREATE FUNCTION si_buckets(us bigint) RETURNS int[] LANGUAGE sql IMMUTABLE AS"
	" $f$ SELECT ARRAY[h, (1 << 24) | (h >> 2), (2 << 24) | (h >> 4),"
	" (3 << 24) | (h >> 6), (4 << 24) | (h >> 8), (5 << 24) | (h >> 10),"
	" (6 << 24) | (h >> 12), (7 << 24) | (h >> 14), (8 << 24) | (h >> 16)]"
	" FROM (SELECT si_hour(us) AS h) x $f$;"
	"ALTER TABLE search_messages ADD COLUMN tb int[]"
	" GENERATED ALWAYS AS (si_buckets(ts_us)) STORED;"
	/* the word pairs of the text ("a b": b right after a, by the
	 * positions of tsv), pairs of 200 bytes or more left out */
	"CREATE FUNCTION si_bigrams(t tsvector) RETURNS text[] LANGUAGE sql IMMUTABLE AS"
	" $f$ SELECT coalesce(array_agg(DISTINCT a.l || ' ' || b.l), '{}') FROM"
	" (SELECT u.lexeme AS l, p FROM unnest(t) u, unnest(u.positions) p) a JOIN"
	" (SELECT u.lexeme AS l, p FROM unnest(t) u, unnest(u.positions) p) b"
	" ON b.p = a.p + 1 WHERE octet_length(a.l) + octet_length(b.l) < 200 $f$;"
	"ALTER TABLE search_messages ADD COLUMN bg text[]"
	" GENERATED ALWAYS AS (si_bigrams(tsv)) STORED;"
	"CREATE INDEX search_messages_words ON search_messages USING gin (tsv, tb, bg)"
	" WITH (gin_pending_list_limit = 256);"
	"DROP INDEX search_messages_tsv;"
	/* the blocks covering hours p_lo..p_hi in walk order (p_desc: newest
	 * first), numbered from 0: block n is at most 4^min(8, n) hours and
	 * aligned to its size, so the walk widens 4 times a step (fewer when an
	 * edge is not aligned: at most 3 blocks a level, then 7.5-year blocks) */
	"CREATE FUNCTION si_walk(p_lo int, p_hi int, p_desc boolean)"
	" RETURNS TABLE (i int, k int) LANGUAGE plpgsql IMMUTABLE ROWS 40 AS $f$"
	" DECLARE d int; l int; sz int; n int := 0;"
	" BEGIN"
	"  d := CASE WHEN p_desc THEN p_hi + 1 ELSE p_lo END;"
	"  WHILE (p_desc AND d > p_lo) OR (NOT p_desc AND d <= p_hi) LOOP"
	"   l := least(8, n);"
	"   WHILE l > 0 AND d % (1 << (2 * l)) <> 0 LOOP l := l - 1; END LOOP;"
	"   sz := 1 << (2 * l);"
	"   IF p_desc THEN d := d - sz; END IF;"
	"   i := n;"
	"   k := (l << 24) | (d >> (2 * l));"
	"   RETURN NEXT;"
	"   n := n + 1;"
	"   IF NOT p_desc THEN d := d + sz; END IF;"
	"  END LOOP;"
	" END $f$;"
	/* the four blocks of level l - 1 inside block k of level l > 0, in
	 * walk order (p_desc: the newest first) */
	"CREATE FUNCTION si_children(k int, p_desc boolean) RETURNS int[] LANGUAGE sql"
	" IMMUTABLE AS $f$ SELECT ARRAY(SELECT (((k >> 24) - 1) << 24) |"
	" (((k & 16777215) << 2) + CASE WHEN p_desc THEN 3 - j ELSE j END)"
	" FROM generate_series(0, 3) j ORDER BY j) $f$;" },
	/* 3: the two generated columns computed cheaply (docs/search.md
	 * "Indexing cost"). Both functions of 2 are SQL functions the planner
	 * cannot inline (a FROM clause), so every row ran a whole query plan
	 * for each: ~8 us for si_buckets, ~25 us for si_bigrams, more than
	 * the rest of a row's indexing together. si_buckets becomes one
	 * inlinable expression with the same value. si_bigrams becomes
	 * PL/pgSQL: one pass over the lexemes placing each at its positions,
	 * then the adjacent pairs; the same set of pairs as 2's join (order and
	 * repeats may differ: the GIN index and @> see sets), which stays as
	 * si_bigrams_join for what the pass does not handle: two lexemes at
	 * one position (the position cap, 16383). A vector with no lexeme, or
	 * one lexeme at one position, has no pair and returns before any query.
	 * Replacing the functions keeps the stored values of existing rows,
	 * which are the same sets. */
	{ 3,
	"52fb2dde75c45c240318114a86f7f309d3f79b97b2152d1604682d4118bf3fdd",
	"CREATE OR REPLACE FUNCTION si_buckets(us bigint) RETURNS int[] LANGUAGE sql"
	" IMMUTABLE AS $f$ SELECT ARRAY[si_hour(us), (1 << 24) | (si_hour(us) >> 2),"
	" (2 << 24) | (si_hour(us) >> 4), (3 << 24) | (si_hour(us) >> 6),"
	" (4 << 24) | (si_hour(us) >> 8), (5 << 24) | (si_hour(us) >> 10),"
	" (6 << 24) | (si_hour(us) >> 12), (7 << 24) | (si_hour(us) >> 14),"
	" (8 << 24) | (si_hour(us) >> 16)] $f$;"
	"CREATE FUNCTION si_bigrams_join(t tsvector) RETURNS text[] LANGUAGE sql IMMUTABLE AS"
	" $f$ SELECT coalesce(array_agg(DISTINCT a.l || ' ' || b.l), '{}') FROM"
	" (SELECT u.lexeme AS l, p FROM unnest(t) u, unnest(u.positions) p) a JOIN"
	" (SELECT u.lexeme AS l, p FROM unnest(t) u, unnest(u.positions) p) b"
	" ON b.p = a.p + 1 WHERE octet_length(a.l) + octet_length(b.l) < 200 $f$;"
	"CREATE OR REPLACE FUNCTION si_bigrams(t tsvector) RETURNS text[] LANGUAGE plpgsql"
	" IMMUTABLE AS $f$"
	" DECLARE r record; at text[]; p int; lo int := 16384; hi int := 0; i int;"
	"  s text; res text[] := '{}';"
	" BEGIN"
	"  IF length(t) < 2 THEN"
	"   IF length(t) = 0 THEN RETURN res; END IF;"
	/* one lexeme: its positions follow the last "':" of 'lexeme':1,2 */
	"   s := t::text;"
	"   IF strpos(right(s, strpos(reverse(s), ':''') - 1), ',') = 0 THEN RETURN res; END IF;"
	"  END IF;"
	"  FOR r IN SELECT u.lexeme, u.positions FROM unnest(t) u LOOP"
	"   CONTINUE WHEN r.positions IS NULL;"
	"   FOREACH p IN ARRAY r.positions LOOP"
	"    IF at[p] IS NOT NULL THEN RETURN si_bigrams_join(t); END IF;"
	"    at[p] := r.lexeme;"
	"    IF p < lo THEN lo := p; END IF;"
	"    IF p > hi THEN hi := p; END IF;"
	"   END LOOP;"
	"  END LOOP;"
	"  FOR i IN lo .. hi - 1 LOOP"
	"   IF at[i + 1] IS NOT NULL AND at[i] IS NOT NULL"
	"    AND octet_length(at[i]) + octet_length(at[i + 1]) < 200 THEN"
	"    res := res || (at[i] || ' ' || at[i + 1]);"
	"   END IF;"
	"  END LOOP;"
	"  RETURN res;"
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
