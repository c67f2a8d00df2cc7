/* schema.c - notify-svc's own database (never a message-svc shard's: a
 * shared offsets table would make one consumer skip the other's events).
 *
 * Tables: ns_offsets (next offset per topic/partition, advanced in the same
 * transaction as the rows it covers); ns_log (one row per counted message of
 * a channel: its ts, author and thread; no row per member); ns_mentions (one
 * row per mentioned user and message, user '*' for <!channel>, <!everyone>
 * and <!here>); ns_markers (last_read per user, channel and thread, '' for
 * the channel itself); ns_dnd (a user's snooze end); ns_prefs (notify
 * level, muted channels). Unread counts are derived at read time: the log rows
 * after the marker (bounded by count-cap). ns_apply_batch applies one batch
 * of events and the offsets as one statement = one transaction, idempotently
 * (a batch re-read after a crash changes nothing). */
#include <stdio.h>

#include "err.h"
#include "log.h"
#include "notify.h"
#include "migrate.h"

static const struct pl_migration ns_schema[] = {
	{ 1,
	"33949eaa0c23403fe58613db25632010f6592e4c90494583f2c5c73be45aeb98",
	"CREATE TABLE ns_offsets (topic text NOT NULL, partition int NOT NULL,"
	" next_offset bigint NOT NULL, PRIMARY KEY (topic, partition));"
	"CREATE TABLE ns_log (channel text NOT NULL, ts text NOT NULL,"
	" user_id text NOT NULL, thread_ts text NOT NULL DEFAULT '',"
	" deleted boolean NOT NULL DEFAULT false, PRIMARY KEY (channel, ts));"
	"CREATE INDEX ns_log_thread ON ns_log (channel, thread_ts, ts);"
	"CREATE TABLE ns_mentions (user_id text NOT NULL, channel text NOT NULL,"
	" ts text NOT NULL, thread_ts text NOT NULL DEFAULT '', author text NOT NULL,"
	" PRIMARY KEY (channel, user_id, ts));"
	"CREATE TABLE ns_markers (user_id text NOT NULL, channel text NOT NULL,"
	" thread_ts text NOT NULL DEFAULT '', last_read text NOT NULL,"
	" PRIMARY KEY (user_id, channel, thread_ts));"
	/* p: {"ev":[{"k":"m|d|j|l","c","ts","u","thr","men":[...]}],
	 *     "off":[{"t","p","o"}]} (ids checked by ns_id_ok: plain text) */
	"CREATE FUNCTION ns_apply_batch(p jsonb) RETURNS int LANGUAGE plpgsql AS $f$"
	" DECLARE e jsonb; n int := 0;"
	" BEGIN"
	"  FOR e IN SELECT x FROM jsonb_array_elements(p->'ev') x LOOP"
	"   IF e->>'k' = 'm' THEN"
	"    INSERT INTO ns_log (channel, ts, user_id, thread_ts)"
	"     VALUES (e->>'c', e->>'ts', e->>'u', e->>'thr') ON CONFLICT DO NOTHING;"
	"    INSERT INTO ns_mentions (user_id, channel, ts, thread_ts, author)"
	"     SELECT u, e->>'c', e->>'ts', e->>'thr', e->>'u'"
	"     FROM jsonb_array_elements_text(e->'men') u ON CONFLICT DO NOTHING;"
	"   ELSIF e->>'k' = 'd' THEN"
	"    UPDATE ns_log SET deleted = true WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    DELETE FROM ns_mentions WHERE channel = e->>'c' AND ts = e->>'ts';"
	"   ELSIF e->>'k' = 'l' THEN"
	"    DELETE FROM ns_mentions WHERE channel = e->>'c' AND user_id = e->>'u';"
	"   END IF;"
	/* the author has read up to their own message; a joiner from the join */
	"   IF e->>'k' IN ('m', 'j') THEN"
	"    INSERT INTO ns_markers (user_id, channel, thread_ts, last_read)"
	"     VALUES (e->>'u', e->>'c', e->>'thr', e->>'ts')"
	"     ON CONFLICT (user_id, channel, thread_ts) DO UPDATE"
	"     SET last_read = greatest(ns_markers.last_read, excluded.last_read);"
	"   END IF;"
	"   n := n + 1;"
	"  END LOOP;"
	"  INSERT INTO ns_offsets (topic, partition, next_offset)"
	"   SELECT o->>'t', (o->>'p')::int, (o->>'o')::bigint"
	"   FROM jsonb_array_elements(p->'off') o"
	"   ON CONFLICT (topic, partition) DO UPDATE"
	"   SET next_offset = greatest(ns_offsets.next_offset, excluded.next_offset);"
	"  RETURN n;"
	" END $f$;" },
	/* 2: Do Not Disturb snoozes (dnd.setSnooze / dnd.endSnooze) */
	{ 2,
	"ce94c3d74a66daabd352161645622f69c2a4b34b98ad965d835b373031ffca13",
	"CREATE TABLE ns_dnd (user_id text PRIMARY KEY, team_id text NOT NULL,"
	" snooze_end bigint NOT NULL DEFAULT 0);" },
	/* 3: notification preferences (users.prefs.set) */
	{ 3,
	"ce4c3c51a84e94d697b2ff2b58463d67bab6cc3d9d7d907538e59e1d5be7c07f",
	"CREATE TABLE ns_prefs (user_id text PRIMARY KEY, team_id text NOT NULL,"
	" notify text NOT NULL DEFAULT 'mentions' CHECK (notify IN"
	" ('all', 'mentions', 'nothing')), muted_channels text NOT NULL DEFAULT '');" },
	/* 4: push: devices, the outbox of push candidates (written with the
	 * offsets), one ns_push row per (user, message) to send */
	{ 4,
	"9324c3fdd28cb0eacb1cc720c49f068baa799cb8f7374699611dce84efa6b4ea",
	"CREATE TABLE ns_devices (user_id text NOT NULL, team_id text NOT NULL,"
	" token text NOT NULL, platform text NOT NULL, created timestamptz NOT NULL"
	" DEFAULT now(), PRIMARY KEY (user_id, token));"
	"CREATE TABLE ns_outbox (channel text NOT NULL, ts text NOT NULL,"
	" team_id text NOT NULL, author text NOT NULL, thread_ts text NOT NULL DEFAULT '',"
	" users text[] NOT NULL, broadcast boolean NOT NULL, due_ms bigint NOT NULL,"
	" PRIMARY KEY (channel, ts));"
	"CREATE INDEX ns_outbox_due ON ns_outbox (due_ms);"
	"CREATE TABLE ns_push (key text PRIMARY KEY, user_id text NOT NULL,"
	" team_id text NOT NULL, channel text NOT NULL, ts text NOT NULL,"
	" thread_ts text NOT NULL DEFAULT '', author text NOT NULL, kind text NOT NULL,"
	" state text NOT NULL DEFAULT 'pending', attempts int NOT NULL DEFAULT 0,"
	" next_ms bigint NOT NULL, created_ms bigint NOT NULL, done_ms bigint NOT NULL"
	" DEFAULT 0);"
	"CREATE INDEX ns_push_pending ON ns_push (next_ms) WHERE state = 'pending';"
	"CREATE INDEX ns_push_msg ON ns_push (channel, ts);"
	/* 4: p: {"dl": push delay ms, "ev":[{"k","c","ts","u","thr","men",
	 * "p" (push candidate), "team", "pu" (mentioned users), "b" (<!channel>)}],
	 *     "off":[{"t","p","o"}]} (ids checked by ns_id_ok: plain text) */
	"CREATE OR REPLACE FUNCTION ns_apply_batch(p jsonb) RETURNS int LANGUAGE plpgsql AS $f$"
	" DECLARE e jsonb; n int := 0;"
	" BEGIN"
	"  FOR e IN SELECT x FROM jsonb_array_elements(p->'ev') x LOOP"
	"   IF e->>'k' = 'm' THEN"
	"    INSERT INTO ns_log (channel, ts, user_id, thread_ts)"
	"     VALUES (e->>'c', e->>'ts', e->>'u', e->>'thr') ON CONFLICT DO NOTHING;"
	"    INSERT INTO ns_mentions (user_id, channel, ts, thread_ts, author)"
	"     SELECT u, e->>'c', e->>'ts', e->>'thr', e->>'u'"
	"     FROM jsonb_array_elements_text(e->'men') u ON CONFLICT DO NOTHING;"
	/* a push candidate: waits in the outbox until its due time */
	"    IF e ? 'p' THEN"
	"     INSERT INTO ns_outbox (channel, ts, team_id, author, thread_ts, users,"
	"      broadcast, due_ms) VALUES (e->>'c', e->>'ts', e->>'team', e->>'u',"
	"      e->>'thr', ARRAY(SELECT jsonb_array_elements_text(e->'pu')),"
	"      (e->>'b')::boolean, (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
	"      + (p->>'dl')::bigint) ON CONFLICT DO NOTHING;"
	"    END IF;"
	"   ELSIF e->>'k' = 'd' THEN"
	"    UPDATE ns_log SET deleted = true WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    DELETE FROM ns_mentions WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    DELETE FROM ns_outbox WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    UPDATE ns_push SET state = 'cancelled' WHERE channel = e->>'c'"
	"     AND ts = e->>'ts' AND state = 'pending';"
	"   ELSIF e->>'k' = 'l' THEN"
	"    DELETE FROM ns_mentions WHERE channel = e->>'c' AND user_id = e->>'u';"
	"   END IF;"
	/* the author has read up to their own message; a joiner from the join */
	"   IF e->>'k' IN ('m', 'j') THEN"
	"    INSERT INTO ns_markers (user_id, channel, thread_ts, last_read)"
	"     VALUES (e->>'u', e->>'c', e->>'thr', e->>'ts')"
	"     ON CONFLICT (user_id, channel, thread_ts) DO UPDATE"
	"     SET last_read = greatest(ns_markers.last_read, excluded.last_read);"
	"   END IF;"
	"   n := n + 1;"
	"  END LOOP;"
	"  INSERT INTO ns_offsets (topic, partition, next_offset)"
	"   SELECT o->>'t', (o->>'p')::int, (o->>'o')::bigint"
	"   FROM jsonb_array_elements(p->'off') o"
	"   ON CONFLICT (topic, partition) DO UPDATE"
	"   SET next_offset = greatest(ns_offsets.next_offset, excluded.next_offset);"
	"  RETURN n;"
	" END $f$;" },
	/* 5: email digests: the text of a candidate, the items waiting per user,
	 * the digests (written before they are sent, resent until acknowledged) */
	{ 5,
	"a1a5094de9ac20fd5f5940bc40a448a0d4a501538486fc973a426b6361f4e8b5",
	"ALTER TABLE ns_outbox ADD COLUMN text text NOT NULL DEFAULT '';"
	"CREATE TABLE ns_digest_items (user_id text NOT NULL, team_id text NOT NULL,"
	" channel text NOT NULL, ts text NOT NULL, thread_ts text NOT NULL DEFAULT '',"
	" author text NOT NULL, kind text NOT NULL, text text NOT NULL,"
	" created_ms bigint NOT NULL, PRIMARY KEY (user_id, channel, ts));"
	"CREATE INDEX ns_digest_items_created ON ns_digest_items (created_ms);"
	"CREATE TABLE ns_digests (message_id text PRIMARY KEY, user_id text NOT NULL,"
	" rcpt text NOT NULL, body text NOT NULL, items int NOT NULL,"
	" state text NOT NULL DEFAULT 'pending', attempts int NOT NULL DEFAULT 0,"
	" next_ms bigint NOT NULL, created_ms bigint NOT NULL, done_ms bigint NOT NULL"
	" DEFAULT 0);"
	"CREATE INDEX ns_digests_user ON ns_digests (user_id, created_ms);"
	"CREATE INDEX ns_digests_pending ON ns_digests (next_ms) WHERE state = 'pending';"
	/* 5: as 4, "tx" the message text for a digest (at most 280 bytes),
	 *     "off":[{"t","p","o"}]} (ids checked by ns_id_ok: plain text) */
	"CREATE OR REPLACE FUNCTION ns_apply_batch(p jsonb) RETURNS int LANGUAGE plpgsql AS $f$"
	" DECLARE e jsonb; n int := 0;"
	" BEGIN"
	"  FOR e IN SELECT x FROM jsonb_array_elements(p->'ev') x LOOP"
	"   IF e->>'k' = 'm' THEN"
	"    INSERT INTO ns_log (channel, ts, user_id, thread_ts)"
	"     VALUES (e->>'c', e->>'ts', e->>'u', e->>'thr') ON CONFLICT DO NOTHING;"
	"    INSERT INTO ns_mentions (user_id, channel, ts, thread_ts, author)"
	"     SELECT u, e->>'c', e->>'ts', e->>'thr', e->>'u'"
	"     FROM jsonb_array_elements_text(e->'men') u ON CONFLICT DO NOTHING;"
	/* a push candidate: waits in the outbox until its due time */
	"    IF e ? 'p' THEN"
	"     INSERT INTO ns_outbox (channel, ts, team_id, author, thread_ts, users,"
	"      broadcast, due_ms, text) VALUES (e->>'c', e->>'ts', e->>'team', e->>'u',"
	"      e->>'thr', ARRAY(SELECT jsonb_array_elements_text(e->'pu')),"
	"      (e->>'b')::boolean, (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
	"      + (p->>'dl')::bigint, coalesce(e->>'tx', '')) ON CONFLICT DO NOTHING;"
	"    END IF;"
	"   ELSIF e->>'k' = 'd' THEN"
	"    UPDATE ns_log SET deleted = true WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    DELETE FROM ns_mentions WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    DELETE FROM ns_outbox WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    DELETE FROM ns_digest_items WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    UPDATE ns_push SET state = 'cancelled' WHERE channel = e->>'c'"
	"     AND ts = e->>'ts' AND state = 'pending';"
	"   ELSIF e->>'k' = 'l' THEN"
	"    DELETE FROM ns_mentions WHERE channel = e->>'c' AND user_id = e->>'u';"
	"   END IF;"
	/* the author has read up to their own message; a joiner from the join */
	"   IF e->>'k' IN ('m', 'j') THEN"
	"    INSERT INTO ns_markers (user_id, channel, thread_ts, last_read)"
	"     VALUES (e->>'u', e->>'c', e->>'thr', e->>'ts')"
	"     ON CONFLICT (user_id, channel, thread_ts) DO UPDATE"
	"     SET last_read = greatest(ns_markers.last_read, excluded.last_read);"
	"   END IF;"
	"   n := n + 1;"
	"  END LOOP;"
	"  INSERT INTO ns_offsets (topic, partition, next_offset)"
	"   SELECT o->>'t', (o->>'p')::int, (o->>'o')::bigint"
	"   FROM jsonb_array_elements(p->'off') o"
	"   ON CONFLICT (topic, partition) DO UPDATE"
	"   SET next_offset = greatest(ns_offsets.next_offset, excluded.next_offset);"
	"  RETURN n;"
	" END $f$;" },
	/* 6: notify=all: every channel-level message ("pa") is also a push
	 * candidate for the team's notify=all users (at most 500, by id), kept
	 * in the outbox row's all_users; a message that is no candidate of its
	 * own gets a row only if there are such users */
	{ 6,
	"4e819079647bb04db642315cd8ff19f9c32f6966a6d2ab39dd1633d0bbe95391",
	"ALTER TABLE ns_outbox ADD COLUMN all_users text[] NOT NULL DEFAULT '{}';"
	"CREATE INDEX ns_prefs_all ON ns_prefs (team_id, user_id) WHERE notify = 'all';"
	"CREATE OR REPLACE FUNCTION ns_apply_batch(p jsonb) RETURNS int LANGUAGE plpgsql AS $f$"
	" DECLARE e jsonb; n int := 0; a text[];"
	" BEGIN"
	"  FOR e IN SELECT x FROM jsonb_array_elements(p->'ev') x LOOP"
	"   IF e->>'k' = 'm' THEN"
	"    INSERT INTO ns_log (channel, ts, user_id, thread_ts)"
	"     VALUES (e->>'c', e->>'ts', e->>'u', e->>'thr') ON CONFLICT DO NOTHING;"
	"    INSERT INTO ns_mentions (user_id, channel, ts, thread_ts, author)"
	"     SELECT u, e->>'c', e->>'ts', e->>'thr', e->>'u'"
	"     FROM jsonb_array_elements_text(e->'men') u ON CONFLICT DO NOTHING;"
	/* a push candidate: waits in the outbox until its due time */
	"    a := '{}';"
	"    IF e ? 'pa' THEN"
	"     a := ARRAY(SELECT f.user_id FROM ns_prefs f WHERE f.team_id = e->>'team'"
	"      AND f.notify = 'all' AND f.user_id <> e->>'u' ORDER BY f.user_id LIMIT 500);"
	"    END IF;"
	"    IF e ? 'p' OR cardinality(a) > 0 THEN"
	"     INSERT INTO ns_outbox (channel, ts, team_id, author, thread_ts, users,"
	"      broadcast, due_ms, text, all_users) VALUES (e->>'c', e->>'ts', e->>'team',"
	"      e->>'u', e->>'thr', CASE WHEN e ? 'p' THEN"
	"      ARRAY(SELECT jsonb_array_elements_text(e->'pu')) ELSE '{}' END,"
	"      coalesce((e->>'b')::boolean, false),"
	"      (extract(epoch FROM clock_timestamp()) * 1000)::bigint + (p->>'dl')::bigint,"
	"      CASE WHEN e ? 'p' THEN coalesce(e->>'tx', '') ELSE '' END, a)"
	"      ON CONFLICT DO NOTHING;"
	"    END IF;"
	"   ELSIF e->>'k' = 'd' THEN"
	"    UPDATE ns_log SET deleted = true WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    DELETE FROM ns_mentions WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    DELETE FROM ns_outbox WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    DELETE FROM ns_digest_items WHERE channel = e->>'c' AND ts = e->>'ts';"
	"    UPDATE ns_push SET state = 'cancelled' WHERE channel = e->>'c'"
	"     AND ts = e->>'ts' AND state = 'pending';"
	"   ELSIF e->>'k' = 'l' THEN"
	"    DELETE FROM ns_mentions WHERE channel = e->>'c' AND user_id = e->>'u';"
	"   END IF;"
	/* the author has read up to their own message; a joiner from the join */
	"   IF e->>'k' IN ('m', 'j') THEN"
	"    INSERT INTO ns_markers (user_id, channel, thread_ts, last_read)"
	"     VALUES (e->>'u', e->>'c', e->>'thr', e->>'ts')"
	"     ON CONFLICT (user_id, channel, thread_ts) DO UPDATE"
	"     SET last_read = greatest(ns_markers.last_read, excluded.last_read);"
	"   END IF;"
	"   n := n + 1;"
	"  END LOOP;"
	"  INSERT INTO ns_offsets (topic, partition, next_offset)"
	"   SELECT o->>'t', (o->>'p')::int, (o->>'o')::bigint"
	"   FROM jsonb_array_elements(p->'off') o"
	"   ON CONFLICT (topic, partition) DO UPDATE"
	"   SET next_offset = greatest(ns_offsets.next_offset, excluded.next_offset);"
	"  RETURN n;"
	" END $f$;" },
};

/* ns_schema_migrations - the set, for the unit test */
const struct pl_migration *
ns_schema_migrations(size_t *n)
{
	*n = sizeof(ns_schema) / sizeof(ns_schema[0]);
	return ns_schema;
}

/* ns_schema_migrate - apply what is missing (lib/migrate.c: hashes checked,
 * one transaction under an advisory lock, recorded as service notify-svc) */
int
ns_schema_migrate(const char *dsn)
{
	int rv = pl_migrations_apply(dsn, "notify-svc", ns_schema,
	    sizeof(ns_schema) / sizeof(ns_schema[0]));

	if (rv != 0)
		pl_log_error("NS-MIGRATE-FAIL", "err=%s", pl_err_str(rv));
	return rv;
}
