/* migrations.c - numbered SQL migrations, applied at start-up.
 *
 * Two sets: the directory (teams, users, channels, memberships) in the
 * directory database, and the shard's log and history tables in the shard's
 * database (both land in one database on shard 0 when the DSNs are equal).
 * Each run takes a transaction-scoped advisory lock, so shards starting
 * together apply a migration once; schema_migrations records what ran. A
 * migration is never edited after release: add a new number instead.
 * Each one is written out in full (copies between versions are expected)
 * with the SHA-256 of its text recorded when it shipped; migrations_test.c
 * and lib/migrate.c's start-up check fail on an edited one. */
#include <stddef.h>

#include "err.h"
#include "log.h"
#include "message_svc.h"
#include "migrate.h"

static const struct pl_migration ms_dir_migrations[] = {
	{ 1,
	"fe7dc919f094e5aa3cc22d60815f1e231ecec606ecc1870aea69088509c6045a",
	"CREATE TABLE teams (id text PRIMARY KEY, name text NOT NULL UNIQUE,"
	" domain text NOT NULL DEFAULT '', created bigint NOT NULL,"
	" create_key text NOT NULL DEFAULT '');"
	"CREATE TABLE users (id text PRIMARY KEY, team_id text NOT NULL REFERENCES teams(id),"
	" name text NOT NULL, real_name text NOT NULL DEFAULT '',"
	" is_admin boolean NOT NULL DEFAULT false, deleted boolean NOT NULL DEFAULT false,"
	" created bigint NOT NULL, create_key text NOT NULL DEFAULT '',"
	" UNIQUE (team_id, name));"
	"CREATE TABLE channels (id text PRIMARY KEY, team_id text NOT NULL REFERENCES teams(id),"
	" kind text NOT NULL CHECK (kind IN ('public','private','dm','group')),"
	" name text NOT NULL, creator text NOT NULL, created bigint NOT NULL,"
	" archived boolean NOT NULL DEFAULT false, topic text NOT NULL DEFAULT '',"
	" purpose text NOT NULL DEFAULT '', last_seq bigint NOT NULL DEFAULT 0,"
	" create_key text NOT NULL DEFAULT '', dm_key text UNIQUE);"
	"CREATE UNIQUE INDEX channels_team_name ON channels (team_id, name)"
	" WHERE kind IN ('public','private');"
	"CREATE TABLE channel_members (channel_id text NOT NULL REFERENCES channels(id),"
	" user_id text NOT NULL, team_id text NOT NULL, joined bigint NOT NULL,"
	" PRIMARY KEY (channel_id, user_id));"
	"CREATE INDEX channel_members_user ON channel_members (user_id);" },
	/* ---- h-authz: #general (renumber this block freely when merging) ----
	 * 2: each team's general channel (is_general: no one leaves it, is
	 * kicked from it or archives it). Created with the team from now on;
	 * teams created before this migration get none (upgrade path, see
	 * docs/security.md "6. Authorization"): the flag is not guessed onto an
	 * existing channel whose members never agreed to it. */
	{ 2,
	"6fbbadfa74210a8ad27c03523544b3ba5c3f77f1657c1890c621c3d55cd0b057",
	"ALTER TABLE channels ADD COLUMN is_general boolean NOT NULL DEFAULT false;"
	"CREATE UNIQUE INDEX channels_team_general ON channels (team_id) WHERE is_general;" },
	/* ---- end h-authz ---- */
	/* ---- notify (#13): renumber this block freely when merging ----
	 * 3: a user's email address (admin.users.create email=, users.info's
	 * profile.email), where notify-svc sends digests */
	{ 3,
	"f4d188984cfd48a870594622662aeb654221ecac44571c129b2f1e934baa91e4",
	"ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT '';" },
	/* ---- end notify ---- */
};

static const struct pl_migration ms_shard_migrations[] = {
	{ 1,
	"1cffc3481dd761b67b8a0ee73b7986b300a94b71d32aa9d82ace014082806c7c",
	"CREATE TABLE channel_events (channel_id text NOT NULL, seq bigint NOT NULL,"
	" type int NOT NULL, ts text NOT NULL, ts_us bigint NOT NULL, payload bytea NOT NULL,"
	" PRIMARY KEY (channel_id, seq));"
	"CREATE TABLE messages (channel_id text NOT NULL, seq bigint NOT NULL,"
	" ts text NOT NULL, ts_us bigint NOT NULL, user_id text NOT NULL,"
	" team_id text NOT NULL DEFAULT '', text text NOT NULL DEFAULT '',"
	" thread_ts text NOT NULL DEFAULT '', client_msg_id text NOT NULL DEFAULT '',"
	" subtype text NOT NULL DEFAULT '', edited_ts text NOT NULL DEFAULT '',"
	" deleted boolean NOT NULL DEFAULT false, reply_count int NOT NULL DEFAULT 0,"
	" latest_reply text NOT NULL DEFAULT '', PRIMARY KEY (channel_id, seq));"
	"CREATE UNIQUE INDEX messages_ts ON messages (channel_id, ts);"
	"CREATE INDEX messages_thread ON messages (channel_id, thread_ts) WHERE thread_ts <> '';"
	"CREATE INDEX messages_cmid ON messages (channel_id, user_id, client_msg_id)"
	" WHERE client_msg_id <> '';"
	"CREATE TABLE reactions (channel_id text NOT NULL, ts text NOT NULL, name text NOT NULL,"
	" user_id text NOT NULL, seq bigint NOT NULL,"
	" PRIMARY KEY (channel_id, ts, name, user_id));"
	"CREATE TABLE kafka_offsets (topic text NOT NULL, partition int NOT NULL,"
	" next_offset bigint NOT NULL, PRIMARY KEY (topic, partition));"
	/* one batch of the log, applied in order, with the consumer's offsets:
	 * one statement = one transaction (see persist.c) */
	"CREATE FUNCTION ms_apply_batch(p_topic text, p_parts int[], p_next bigint[],"
	" p_ch text[], p_seq bigint[], p_type int[], p_ts text[], p_tsus bigint[],"
	" p_user text[], p_team text[], p_text text[], p_thr text[], p_cmid text[],"
	" p_sub text[], p_tgt text[], p_rx text[], p_payload bytea[]) RETURNS int"
	" LANGUAGE plpgsql AS $f$"
	" DECLARE i int;"
	" BEGIN"
	"  INSERT INTO channel_events (channel_id, seq, type, ts, ts_us, payload)"
	"   SELECT * FROM unnest(p_ch, p_seq, p_type, p_ts, p_tsus, p_payload)"
	"   ON CONFLICT DO NOTHING;"
	"  INSERT INTO messages (channel_id, seq, ts, ts_us, user_id, team_id, text,"
	"   thread_ts, client_msg_id, subtype)"
	"   SELECT u.c, u.s, u.t, u.tu, u.us, u.tm, u.tx, u.th, u.cm, u.sb"
	"   FROM unnest(p_ch, p_seq, p_type, p_ts, p_tsus, p_user, p_team, p_text, p_thr,"
	"    p_cmid, p_sub) AS u(c, s, y, t, tu, us, tm, tx, th, cm, sb)"
	"   WHERE u.y IN (1, 6, 7) ON CONFLICT DO NOTHING;"
	"  FOR i IN 1 .. coalesce(array_length(p_type, 1), 0) LOOP"
	"   IF p_type[i] = 2 THEN"
	"    UPDATE messages SET text = p_text[i], edited_ts = p_ts[i]"
	"     WHERE channel_id = p_ch[i] AND ts = p_tgt[i];"
	"   ELSIF p_type[i] = 3 THEN"
	"    UPDATE messages SET deleted = true WHERE channel_id = p_ch[i] AND ts = p_tgt[i];"
	"   ELSIF p_type[i] = 4 THEN"
	"    INSERT INTO reactions VALUES (p_ch[i], p_tgt[i], p_rx[i], p_user[i], p_seq[i])"
	"     ON CONFLICT DO NOTHING;"
	"   ELSIF p_type[i] = 5 THEN"
	"    DELETE FROM reactions WHERE channel_id = p_ch[i] AND ts = p_tgt[i]"
	"     AND name = p_rx[i] AND user_id = p_user[i];"
	"   END IF;"
	"  END LOOP;"
	"  UPDATE messages p SET thread_ts = p.ts,"
	"   reply_count = (SELECT count(*) FROM messages r WHERE r.channel_id = p.channel_id"
	"    AND r.thread_ts = p.ts AND r.ts <> p.ts AND NOT r.deleted),"
	"   latest_reply = coalesce((SELECT max(r.ts) FROM messages r WHERE"
	"    r.channel_id = p.channel_id AND r.thread_ts = p.ts AND r.ts <> p.ts"
	"    AND NOT r.deleted), '')"
	"   WHERE (p.channel_id, p.ts) IN ("
	"    SELECT u.c, u.th FROM unnest(p_ch, p_thr) AS u(c, th) WHERE u.th <> ''"
	"    UNION SELECT m.channel_id, m.thread_ts FROM messages m"
	"     JOIN unnest(p_ch, p_tgt, p_type) AS d(c, t, y) ON m.channel_id = d.c"
	"     AND m.ts = d.t WHERE d.y = 3 AND m.thread_ts <> '');"
	"  INSERT INTO kafka_offsets (topic, partition, next_offset)"
	"   SELECT p_topic, u.p, u.o FROM unnest(p_parts, p_next) AS u(p, o)"
	"   ON CONFLICT (topic, partition) DO UPDATE"
	"   SET next_offset = GREATEST(kafka_offsets.next_offset, EXCLUDED.next_offset);"
	"  RETURN coalesce(array_length(p_type, 1), 0);"
	" END $f$;" },
	/* 2: the same effects, cheaper: the per-row loop visits only edits,
	 * deletes and reactions, and the thread counters are recomputed only
	 * when the batch has thread replies or deletes, through an index join
	 * (the IN (...) of version 1 was planned as a scan of messages: 200-300 ms
	 * for 500 rows once the table was large, against ~6 ms for the inserts) */
	{ 2,
	"2bde29e2b74bdb0fbe9dddf9eacc878e97e117ff3e52ea21b8ebebb9a0ba0634",
	"CREATE OR REPLACE FUNCTION ms_apply_batch(p_topic text, p_parts int[],"
	" p_next bigint[], p_ch text[], p_seq bigint[], p_type int[], p_ts text[],"
	" p_tsus bigint[], p_user text[], p_team text[], p_text text[], p_thr text[],"
	" p_cmid text[], p_sub text[], p_tgt text[], p_rx text[], p_payload bytea[])"
	" RETURNS int LANGUAGE plpgsql AS $f$"
	" DECLARE i int;"
	" BEGIN"
	"  INSERT INTO channel_events (channel_id, seq, type, ts, ts_us, payload)"
	"   SELECT * FROM unnest(p_ch, p_seq, p_type, p_ts, p_tsus, p_payload)"
	"   ON CONFLICT DO NOTHING;"
	"  INSERT INTO messages (channel_id, seq, ts, ts_us, user_id, team_id, text,"
	"   thread_ts, client_msg_id, subtype)"
	"   SELECT u.c, u.s, u.t, u.tu, u.us, u.tm, u.tx, u.th, u.cm, u.sb"
	"   FROM unnest(p_ch, p_seq, p_type, p_ts, p_tsus, p_user, p_team, p_text, p_thr,"
	"    p_cmid, p_sub) AS u(c, s, y, t, tu, us, tm, tx, th, cm, sb)"
	"   WHERE u.y IN (1, 6, 7) ON CONFLICT DO NOTHING;"
	"  FOR i IN SELECT g FROM generate_subscripts(p_type, 1) AS g"
	"   WHERE p_type[g] IN (2, 3, 4, 5) LOOP"
	"   IF p_type[i] = 2 THEN"
	"    UPDATE messages SET text = p_text[i], edited_ts = p_ts[i]"
	"     WHERE channel_id = p_ch[i] AND ts = p_tgt[i];"
	"   ELSIF p_type[i] = 3 THEN"
	"    UPDATE messages SET deleted = true WHERE channel_id = p_ch[i] AND ts = p_tgt[i];"
	"   ELSIF p_type[i] = 4 THEN"
	"    INSERT INTO reactions VALUES (p_ch[i], p_tgt[i], p_rx[i], p_user[i], p_seq[i])"
	"     ON CONFLICT DO NOTHING;"
	"   ELSE"
	"    DELETE FROM reactions WHERE channel_id = p_ch[i] AND ts = p_tgt[i]"
	"     AND name = p_rx[i] AND user_id = p_user[i];"
	"   END IF;"
	"  END LOOP;"
	"  IF 3 = ANY(p_type) OR EXISTS (SELECT 1 FROM unnest(p_thr) AS x(th)"
	"   WHERE x.th <> '') THEN"
	"   UPDATE messages p SET thread_ts = p.ts,"
	"    reply_count = (SELECT count(*) FROM messages r WHERE r.channel_id = p.channel_id"
	"     AND r.thread_ts = p.ts AND r.ts <> p.ts AND NOT r.deleted),"
	"    latest_reply = coalesce((SELECT max(r.ts) FROM messages r WHERE"
	"     r.channel_id = p.channel_id AND r.thread_ts = p.ts AND r.ts <> p.ts"
	"     AND NOT r.deleted), '')"
	"   FROM (SELECT u.c, u.th AS t FROM unnest(p_ch, p_thr) AS u(c, th) WHERE u.th <> ''"
	"    UNION SELECT m.channel_id, m.thread_ts FROM messages m"
	"     JOIN unnest(p_ch, p_tgt, p_type) AS d(c, t, y) ON m.channel_id = d.c"
	"     AND m.ts = d.t WHERE d.y = 3 AND m.thread_ts <> '') AS parent"
	"   WHERE p.channel_id = parent.c AND p.ts = parent.t;"
	"  END IF;"
	"  INSERT INTO kafka_offsets (topic, partition, next_offset)"
	"   SELECT p_topic, u.p, u.o FROM unnest(p_parts, p_next) AS u(p, o)"
	"   ON CONFLICT (topic, partition) DO UPDATE"
	"   SET next_offset = GREATEST(kafka_offsets.next_offset, EXCLUDED.next_offset);"
	"  RETURN coalesce(array_length(p_type, 1), 0);"
	" END $f$;" },
	/* 3: a message's Envelope is stored once, in its messages row
	 * (payload), no longer also in channel_events, which keeps the other
	 * events of the log (edits, deletes, reactions). Every message was
	 * written twice, and the channel_events copy with its index and WAL was
	 * 40 % of a persisted row's cost. Readers take the union of both
	 * (replay.c, chan.c); rows written before keep their channel_events
	 * copy and a NULL payload, so the union never repeats one. */
	{ 3,
	"4e5ef546bd439d68952f954133e195f9bb6ade3a8e79653a8b74c29feb5f098f",
	"ALTER TABLE messages ADD COLUMN payload bytea;"
	"CREATE OR REPLACE FUNCTION ms_apply_batch(p_topic text, p_parts int[],"
	" p_next bigint[], p_ch text[], p_seq bigint[], p_type int[], p_ts text[],"
	" p_tsus bigint[], p_user text[], p_team text[], p_text text[], p_thr text[],"
	" p_cmid text[], p_sub text[], p_tgt text[], p_rx text[], p_payload bytea[])"
	" RETURNS int LANGUAGE plpgsql AS $f$"
	" DECLARE i int;"
	" BEGIN"
	"  INSERT INTO channel_events (channel_id, seq, type, ts, ts_us, payload)"
	"   SELECT u.c, u.s, u.y, u.t, u.tu, u.pl"
	"   FROM unnest(p_ch, p_seq, p_type, p_ts, p_tsus, p_payload) AS u(c, s, y, t, tu, pl)"
	"   WHERE u.y NOT IN (1, 6, 7) ON CONFLICT DO NOTHING;"
	"  INSERT INTO messages (channel_id, seq, ts, ts_us, user_id, team_id, text,"
	"   thread_ts, client_msg_id, subtype, payload)"
	"   SELECT u.c, u.s, u.t, u.tu, u.us, u.tm, u.tx, u.th, u.cm, u.sb, u.pl"
	"   FROM unnest(p_ch, p_seq, p_type, p_ts, p_tsus, p_user, p_team, p_text, p_thr,"
	"    p_cmid, p_sub, p_payload) AS u(c, s, y, t, tu, us, tm, tx, th, cm, sb, pl)"
	"   WHERE u.y IN (1, 6, 7) ON CONFLICT DO NOTHING;"
	"  FOR i IN SELECT g FROM generate_subscripts(p_type, 1) AS g"
	"   WHERE p_type[g] IN (2, 3, 4, 5) LOOP"
	"   IF p_type[i] = 2 THEN"
	"    UPDATE messages SET text = p_text[i], edited_ts = p_ts[i]"
	"     WHERE channel_id = p_ch[i] AND ts = p_tgt[i];"
	"   ELSIF p_type[i] = 3 THEN"
	"    UPDATE messages SET deleted = true WHERE channel_id = p_ch[i] AND ts = p_tgt[i];"
	"   ELSIF p_type[i] = 4 THEN"
	"    INSERT INTO reactions VALUES (p_ch[i], p_tgt[i], p_rx[i], p_user[i], p_seq[i])"
	"     ON CONFLICT DO NOTHING;"
	"   ELSE"
	"    DELETE FROM reactions WHERE channel_id = p_ch[i] AND ts = p_tgt[i]"
	"     AND name = p_rx[i] AND user_id = p_user[i];"
	"   END IF;"
	"  END LOOP;"
	"  IF 3 = ANY(p_type) OR EXISTS (SELECT 1 FROM unnest(p_thr) AS x(th)"
	"   WHERE x.th <> '') THEN"
	"   UPDATE messages p SET thread_ts = p.ts,"
	"    reply_count = (SELECT count(*) FROM messages r WHERE r.channel_id = p.channel_id"
	"     AND r.thread_ts = p.ts AND r.ts <> p.ts AND NOT r.deleted),"
	"    latest_reply = coalesce((SELECT max(r.ts) FROM messages r WHERE"
	"     r.channel_id = p.channel_id AND r.thread_ts = p.ts AND r.ts <> p.ts"
	"     AND NOT r.deleted), '')"
	"   FROM (SELECT u.c, u.th AS t FROM unnest(p_ch, p_thr) AS u(c, th) WHERE u.th <> ''"
	"    UNION SELECT m.channel_id, m.thread_ts FROM messages m"
	"     JOIN unnest(p_ch, p_tgt, p_type) AS d(c, t, y) ON m.channel_id = d.c"
	"     AND m.ts = d.t WHERE d.y = 3 AND m.thread_ts <> '') AS parent"
	"   WHERE p.channel_id = parent.c AND p.ts = parent.t;"
	"  END IF;"
	"  INSERT INTO kafka_offsets (topic, partition, next_offset)"
	"   SELECT p_topic, u.p, u.o FROM unnest(p_parts, p_next) AS u(p, o)"
	"   ON CONFLICT (topic, partition) DO UPDATE"
	"   SET next_offset = GREATEST(kafka_offsets.next_offset, EXCLUDED.next_offset);"
	"  RETURN coalesce(array_length(p_type, 1), 0);"
	" END $f$;" },
	/* 4: poison rows (persist.c). An event PostgreSQL refuses with a data
	 * error (SQLSTATE class 22, 23, 54) is stored whole in
	 * message_quarantine with the error, and in its place in the log a
	 * tombstone (type 8, MESSAGE_QUARANTINED) keeps its seq in
	 * channel_events: replay and resume see no hole, and seq recovery
	 * (the highest seq of channel_events and messages) never hands the seq
	 * out again. The quarantine row, the tombstone and the partition's
	 * next offset commit in one transaction, like a batch. */
	{ 4,
	"f942f8972ccf76215d4197f460d036e1701e71f4df25b56d89500374a198782c",
	"CREATE TABLE message_quarantine (topic text NOT NULL, partition int NOT NULL,"
	" kafka_offset bigint NOT NULL, channel_id text NOT NULL, seq bigint NOT NULL,"
	" type int NOT NULL, sqlstate text NOT NULL, error text NOT NULL,"
	" payload bytea NOT NULL, quarantined_at timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (topic, partition, kafka_offset));"
	"CREATE INDEX message_quarantine_channel ON message_quarantine (channel_id, seq);"
	"CREATE FUNCTION ms_quarantine_event(p_topic text, p_part int, p_off bigint,"
	" p_ch text, p_seq bigint, p_type int, p_ts text, p_tsus bigint, p_state text,"
	" p_err text, p_payload bytea, p_tomb bytea) RETURNS int LANGUAGE plpgsql AS $f$"
	" BEGIN"
	"  INSERT INTO message_quarantine (topic, partition, kafka_offset, channel_id, seq,"
	"   type, sqlstate, error, payload)"
	"   VALUES (p_topic, p_part, p_off, p_ch, p_seq, p_type, p_state, p_err, p_payload)"
	"   ON CONFLICT DO NOTHING;"
	"  INSERT INTO channel_events (channel_id, seq, type, ts, ts_us, payload)"
	"   VALUES (p_ch, p_seq, 8, p_ts, p_tsus, p_tomb) ON CONFLICT DO NOTHING;"
	"  INSERT INTO kafka_offsets (topic, partition, next_offset)"
	"   VALUES (p_topic, p_part, p_off + 1)"
	"   ON CONFLICT (topic, partition) DO UPDATE"
	"   SET next_offset = GREATEST(kafka_offsets.next_offset, EXCLUDED.next_offset);"
	"  RETURN 1;"
	" END $f$;" },
};

/* ms_migrations - the directory set (directory != 0) or the shard set, and
 * its length in *n (for the hash test and the migrator) */
const struct pl_migration *
ms_migrations(int directory, size_t *n)
{
	if (directory) {
		*n = sizeof(ms_dir_migrations) / sizeof(ms_dir_migrations[0]);
		return ms_dir_migrations;
	}
	*n = sizeof(ms_shard_migrations) / sizeof(ms_shard_migrations[0]);
	return ms_shard_migrations;
}

/* ms_migrations_apply - the directory set (directory != 0) or the shard set */
int
ms_migrations_apply(const char *dsn, int directory)
{
	const char *service = directory ? "message-svc/directory" : "message-svc/shard";
	const struct pl_migration *m;
	size_t n;
	int rv;

	m = ms_migrations(directory, &n);
	rv = pl_migrations_apply(dsn, service, m, n);
	if (rv != 0)
		pl_log_error("MS-MIGRATE-FAIL", "set=%s err=%s", service, pl_err_str(rv));
	else
		pl_log_info("MS-MIGRATE-OK", "set=%s", service);
	return rv;
}
