/* msgbench - issue #4's figures against a running stack, straight to the
 * message-svc shards over nng (proto/message_clnt.h), no gateway:
 *
 *   1. sustained: a window of chat.postMessage in flight for --seconds;
 *      acknowledged sends/s, then the time until every acknowledged message
 *      is in PostgreSQL (sends/s "with persistence" = acked / that time)
 *   2. paced: --rate msgs/s for --rate-seconds; send -> ack latency p50/p99
 *   3. baseline: the same rows as plain 500-row INSERT transactions into a
 *      scratch table of the same PostgreSQL; ratio = (1) / (3)
 *
 *   msgbench --run-dir DIR --pg-dsn-fmt "host=… dbname=parley_shard_%d" \
 *            [--shards 2] [--partitions 8] [--channels 16] [--window 512]
 *            [--seconds 10] [--rate 5000] [--rate-seconds 10]
 *
 *   --boot N: instead of the above, session.boot only: --boot-users users
 *   (each a member of --boot-channels of the --channels channels), N boots
 *   in flight for --seconds; boots/s and boot latency p50/p99. All boots of
 *   one team go to the team's shard, as the gateway's do.
 */
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ids.h"
#include "loop.h"
#include "mem.h"
#include "message_clnt.h"

#define MB_TEXT 200

static struct {
	const char *run_dir, *dsn_fmt;
	int shards, partitions, channels, window, seconds, rate, rate_seconds;
	int boot, boot_users, boot_channels;
	char (*users)[32];		/* --boot: the booting users */
	int nusers;
	const char *as;			/* caller of the next request ("": the bencher) */
	struct event_base *base;
	struct pl_loop *loop;
	struct pl_message_clnt *mc;
	char team[32], user[32];
	char (*chans)[32];
	int nchans;
	int64_t *acked_seq;		/* per channel: the highest seq acknowledged */
	/* the running phase */
	int phase;			/* 1 sustained, 2 paced */
	uint64_t t_end_us;
	long sent, acked, failed, inflight;
	double *lat;
	long nlat, cap_lat;
	struct pl_timer *tick;
	char reply_json[4096];
	int reply_ok;
	double persist_rate;
	long paced_due;
	uint64_t paced_t0;
	struct { char code[48]; long n; } errs[8];	/* failures by code */
} mb;

/* mb_err_note - count a failure under its code ("rpc:<rv>" for transport) */
static void
mb_err_note(int rv, const Parley__Reply *r)
{
	char code[48];
	int i;

	if (rv != 0 || r == NULL)
		snprintf(code, sizeof(code), "rpc:%d", rv);
	else
		snprintf(code, sizeof(code), "%s", r->error ? r->error : "?");
	for (i = 0; i < 8 && mb.errs[i].n > 0; i++)
		if (strcmp(mb.errs[i].code, code) == 0)
			break;
	if (i == 8)
		return;
	snprintf(mb.errs[i].code, sizeof(mb.errs[i].code), "%s", code);
	mb.errs[i].n++;
}

/* mb_err_print - the failures of a phase, then forget them */
static void
mb_err_print(const char *phase)
{
	int i;

	for (i = 0; i < 8 && mb.errs[i].n > 0; i++)
		printf("%s: failed %ld x %s\n", phase, mb.errs[i].n, mb.errs[i].code);
	memset(mb.errs, 0, sizeof(mb.errs));
}

/* mb_req - a request from the bench user (admin for provisioning) */
static void
mb_req(Parley__Request *req, Parley__Caller *caller, const char *method, int admin)
{
	static unsigned long n;
	static char key[64];

	pl_request_init(req, method);
	parley__caller__init(caller);
	caller->user = mb.as && mb.as[0] ? (char *)mb.as : mb.user;
	caller->team = mb.team;
	caller->admin = admin;
	req->caller = caller;
	snprintf(key, sizeof(key), "mb-%d-%lu", (int)getpid(), ++n);
	req->idempotency_key = key;
	req->source = "web";
}

/* mb_sync_done - a provisioning call's answer */
static void
mb_sync_done(int rv, Parley__Reply *r, void *arg)
{
	mb.reply_ok = rv == 0 && r != NULL && r->ok;
	snprintf(mb.reply_json, sizeof(mb.reply_json), "%s", rv == 0 && r ?
	    (r->ok ? r->json : r->error) : "rpc error");
	*(int *)arg = 1;
}

/* mb_call_sync - one call, running the loop until it answers */
static int
mb_call_sync(Parley__Request *req)
{
	int done = 0;

	if (pl_message_clnt_call(mb.mc, -1, req, mb_sync_done, &done) != 0)
		return -1;
	while (!done)
		event_base_loop(mb.base, EVLOOP_ONCE);
	pl_request_fini(req);
	return mb.reply_ok ? 0 : -1;
}

/* mb_json_id - the first "id":"…" after key in the last reply */
static void
mb_json_id(const char *key, char out[32])
{
	const char *p = strstr(mb.reply_json, key);

	out[0] = '\0';
	if (p && (p = strstr(p, "\"id\":\"")) != NULL)
		sscanf(p + 6, "%31[^\"]", out);
}

/* mb_provision - a team, a user, channels */
static int
mb_provision(void)
{
	Parley__Request req;
	Parley__Caller caller;
	char name[64];
	int i;

	snprintf(name, sizeof(name), "bench-%d-%llu", (int)getpid(),
	    (unsigned long long)pl_clock_wall_us() % 1000000);
	mb_req(&req, &caller, "admin.teams.create", 1);
	pl_request_param(&req, "name", name);
	if (mb_call_sync(&req) != 0)
		return fprintf(stderr, "team: %s\n", mb.reply_json), -1;
	mb_json_id("\"team\"", mb.team);
	mb_req(&req, &caller, "admin.users.create", 1);
	pl_request_param(&req, "team_id", mb.team);
	pl_request_param(&req, "name", "bencher");
	if (mb_call_sync(&req) != 0)
		return fprintf(stderr, "user: %s\n", mb.reply_json), -1;
	mb_json_id("\"user\"", mb.user);
	mb.chans = pl_calloc((size_t)mb.channels, sizeof(*mb.chans));
	mb.acked_seq = pl_calloc((size_t)mb.channels, sizeof(*mb.acked_seq));
	for (i = 0; i < mb.channels; i++) {
		snprintf(name, sizeof(name), "bench-%d", i);
		mb_req(&req, &caller, "conversations.create", 0);
		pl_request_param(&req, "name", name);
		if (mb_call_sync(&req) != 0)
			return fprintf(stderr, "channel: %s\n", mb.reply_json), -1;
		mb_json_id("\"channel\"", mb.chans[mb.nchans++]);
	}
	return 0;
}

static void mb_send(void);

/* mb_sent - one send's answer */
static void
mb_sent(int rv, Parley__Reply *r, void *arg)
{
	uint64_t t0 = (uint64_t)(uintptr_t)arg;

	mb.inflight--;
	if (rv != 0 || r == NULL || !r->ok) {
		mb.failed++;
		mb_err_note(rv, r);
	} else {
		mb.acked++;
		if (r->message != NULL && r->message->seq > 0) {
			int i;

			for (i = 0; i < mb.nchans; i++)
				if (strcmp(mb.chans[i], r->message->channel) == 0 &&
				    r->message->seq > mb.acked_seq[i])
					mb.acked_seq[i] = r->message->seq;
		}
		if (mb.phase == 2) {
			if (mb.nlat == mb.cap_lat) {
				mb.cap_lat = mb.cap_lat ? mb.cap_lat * 2 : 65536;
				mb.lat = pl_realloc(mb.lat, (size_t)mb.cap_lat * sizeof(double));
			}
			mb.lat[mb.nlat++] = (double)(pl_clock_mono_us() - t0) / 1000.0;
		}
	}
	if (mb.phase == 1 && pl_clock_mono_us() < mb.t_end_us)
		mb_send();
}

/* mb_send - one chat.postMessage to the next channel */
static void
mb_send(void)
{
	static char text[MB_TEXT + 1];
	Parley__Request req;
	Parley__Caller caller;

	if (text[0] == '\0')
		memset(text, 'x', MB_TEXT);
	mb_req(&req, &caller, "chat.postMessage", 0);
	pl_request_param(&req, "channel", mb.chans[mb.sent % mb.nchans]);
	pl_request_param(&req, "text", text);
	mb.sent++;
	mb.inflight++;
	if (pl_message_clnt_call(mb.mc, -1, &req, mb_sent,
	    (void *)(uintptr_t)pl_clock_mono_us()) != 0) {
		mb.inflight--;
		mb.failed++;
	}
	pl_request_fini(&req);
}

/* mb_pg_count - messages of the bench channels over every shard */
static long
mb_pg_count(void)
{
	char dsn[512], sql[4096];
	long total = 0;
	int i, n;

	n = snprintf(sql, sizeof(sql), "SELECT count(*) FROM messages WHERE channel_id IN (");
	for (i = 0; i < mb.nchans; i++)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, "%s'%s'", i ? "," : "", mb.chans[i]);
	snprintf(sql + n, sizeof(sql) - (size_t)n, ") AND subtype = ''");
	for (i = 0; i < mb.shards; i++) {
		PGconn *c;
		PGresult *r;

		snprintf(dsn, sizeof(dsn), mb.dsn_fmt, i);
		c = PQconnectdb(dsn);
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			total += atol(PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(c);
	}
	return total;
}

/* mb_all_persisted - every channel's highest acknowledged seq is in
 * PostgreSQL (a channel is persisted in seq order: its partition is
 * committed in order). One primary-key look-up per channel over one
 * connection per shard, so polling costs PostgreSQL next to nothing. */
static int
mb_all_persisted(PGconn **conns)
{
	const char *params[2];
	char seq[32];
	PGresult *r;
	int i, s, ok = 1;

	for (i = 0; i < mb.nchans && ok; i++) {
		if (mb.acked_seq[i] == 0)
			continue;
		snprintf(seq, sizeof(seq), "%lld", (long long)mb.acked_seq[i]);
		params[0] = mb.chans[i];
		params[1] = seq;
		for (s = 0, ok = 0; s < mb.shards && !ok; s++) {
			r = PQexecParams(conns[s], "SELECT 1 FROM messages WHERE "
			    "channel_id = $1 AND seq = $2", 2, NULL, params, NULL,
			    NULL, 0);
			ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
			PQclear(r);
		}
	}
	return ok;
}

/* mb_sustained - phase 1 */
static void
mb_sustained(void)
{
	uint64_t t0 = pl_clock_mono_us(), t_acked, t_pers;
	long base = mb_pg_count(), i;
	double secs;

	mb.phase = 1;
	mb.t_end_us = t0 + (uint64_t)mb.seconds * 1000000;
	for (i = 0; i < mb.window; i++)
		mb_send();
	while (mb.inflight > 0)
		event_base_loop(mb.base, EVLOOP_ONCE);
	t_acked = pl_clock_mono_us();
	{
		PGconn **conns = pl_calloc((size_t)mb.shards, sizeof(*conns));
		char dsn[512];
		int s;

		for (s = 0; s < mb.shards; s++) {
			snprintf(dsn, sizeof(dsn), mb.dsn_fmt, s);
			conns[s] = PQconnectdb(dsn);
		}
		while (!mb_all_persisted(conns) &&
		    pl_clock_mono_us() - t_acked < 120000000ULL)
			usleep(5000);
		for (s = 0; s < mb.shards; s++)
			PQfinish(conns[s]);
		free(conns);
	}
	t_pers = pl_clock_mono_us();
	secs = (double)(t_acked - t0) / 1e6;
	printf("sustained: window=%d channels=%d sent=%ld acked=%ld failed=%ld in %.2fs ->"
	    " %.0f acked sends/s\n", mb.window, mb.nchans, mb.sent, mb.acked, mb.failed, secs,
	    (double)mb.acked / secs);
	printf("sustained: all %ld persisted %.2fs after the last ack -> %.0f sends/s with"
	    " persistence\n", mb_pg_count() - base, (double)(t_pers - t_acked) / 1e6,
	    (double)mb.acked / ((double)(t_pers - t0) / 1e6));
	mb.persist_rate = (double)mb.acked / ((double)(t_pers - t0) / 1e6);
	mb_err_print("sustained");
}

/* mb_paced_tick - every ms: send what the rate says is due by now */
static void
mb_paced_tick(void *arg)
{
	uint64_t now = pl_clock_mono_us();
	long due = (long)((double)(now - mb.paced_t0) / 1e6 * mb.rate);

	if (now >= mb.t_end_us) {
		pl_loop_timer_stop(&mb.tick);
		return;
	}
	while (mb.paced_due < due) {
		mb_send();
		mb.paced_due++;
	}
}

/* mb_cmp - qsort of doubles */
static int
mb_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* mb_paced - phase 2 */
static void
mb_paced(void)
{
	long sent0 = mb.sent, failed0 = mb.failed;

	mb.phase = 2;
	mb.paced_t0 = pl_clock_mono_us();
	mb.t_end_us = mb.paced_t0 + (uint64_t)mb.rate_seconds * 1000000;
	pl_loop_timer(mb.loop, 1, 1, mb_paced_tick, NULL, &mb.tick);
	while (mb.tick != NULL || mb.inflight > 0)
		event_base_loop(mb.base, EVLOOP_ONCE);
	qsort(mb.lat, (size_t)mb.nlat, sizeof(double), mb_cmp);
	printf("paced: rate=%d/s for %ds sent=%ld acked=%ld failed=%ld send->ack ms:"
	    " p50=%.2f p99=%.2f max=%.2f\n", mb.rate, mb.rate_seconds, mb.sent - sent0,
	    mb.nlat, mb.failed - failed0, mb.nlat ? mb.lat[mb.nlat / 2] : 0,
	    mb.nlat ? mb.lat[(long)(mb.nlat * 0.99)] : 0, mb.nlat ? mb.lat[mb.nlat - 1] : 0);
	mb_err_print("paced");
}

/* mb_boot_provision - the booting users, each joining boot_channels channels */
static int
mb_boot_provision(void)
{
	Parley__Request req;
	Parley__Caller caller;
	char name[64];
	int i, k;

	mb.users = pl_calloc((size_t)mb.boot_users, sizeof(*mb.users));
	for (i = 0; i < mb.boot_users; i++) {
		snprintf(name, sizeof(name), "booter-%d", i);
		mb_req(&req, &caller, "admin.users.create", 1);
		pl_request_param(&req, "team_id", mb.team);
		pl_request_param(&req, "name", name);
		if (mb_call_sync(&req) != 0)
			return fprintf(stderr, "user: %s\n", mb.reply_json), -1;
		mb_json_id("\"user\"", mb.users[mb.nusers++]);
		mb.as = mb.users[i];
		for (k = 0; k < mb.boot_channels && k < mb.nchans; k++) {
			mb_req(&req, &caller, "conversations.join", 0);
			pl_request_param(&req, "channel", mb.chans[(i + k) % mb.nchans]);
			if (mb_call_sync(&req) != 0) {
				mb.as = NULL;
				return fprintf(stderr, "join: %s\n", mb.reply_json), -1;
			}
		}
		mb.as = NULL;
	}
	return 0;
}

static void mb_boot_one(void);

/* mb_booted - one boot's answer */
static void
mb_booted(int rv, Parley__Reply *r, void *arg)
{
	uint64_t t0 = (uint64_t)(uintptr_t)arg;

	mb.inflight--;
	if (rv != 0 || r == NULL || !r->ok || r->boot == NULL) {
		mb.failed++;
		mb_err_note(rv, r);
	} else {
		mb.acked++;
		if (mb.nlat == mb.cap_lat) {
			mb.cap_lat = mb.cap_lat ? mb.cap_lat * 2 : 65536;
			mb.lat = pl_realloc(mb.lat, (size_t)mb.cap_lat * sizeof(double));
		}
		mb.lat[mb.nlat++] = (double)(pl_clock_mono_us() - t0) / 1000.0;
	}
	if (pl_clock_mono_us() < mb.t_end_us)
		mb_boot_one();
}

/* mb_boot_one - session.boot of the next user */
static void
mb_boot_one(void)
{
	Parley__Request req;
	Parley__Caller caller;

	mb.as = mb.users[mb.sent % mb.nusers];
	mb_req(&req, &caller, "session.boot", 0);
	mb.as = NULL;
	mb.sent++;
	mb.inflight++;
	if (pl_message_clnt_call(mb.mc, -1, &req, mb_booted,
	    (void *)(uintptr_t)pl_clock_mono_us()) != 0) {
		mb.inflight--;
		mb.failed++;
	}
	pl_request_fini(&req);
}

/* mb_boots - --boot N: N boots in flight for --seconds */
static void
mb_boots(void)
{
	uint64_t t0 = pl_clock_mono_us();
	double secs;
	int i;

	mb.t_end_us = t0 + (uint64_t)mb.seconds * 1000000;
	for (i = 0; i < mb.boot; i++)
		mb_boot_one();
	while (mb.inflight > 0)
		event_base_loop(mb.base, EVLOOP_ONCE);
	secs = (double)(pl_clock_mono_us() - t0) / 1e6;
	qsort(mb.lat, (size_t)mb.nlat, sizeof(double), mb_cmp);
	printf("boot: concurrency=%d users=%d channels/user=%d booted=%ld failed=%ld in %.2fs"
	    " -> %.0f boots/s; latency ms: p50=%.2f p99=%.2f max=%.2f\n", mb.boot, mb.nusers,
	    mb.boot_channels < mb.nchans ? mb.boot_channels : mb.nchans, mb.acked, mb.failed,
	    secs, (double)mb.acked / secs, mb.nlat ? mb.lat[mb.nlat / 2] : 0,
	    mb.nlat ? mb.lat[(long)(mb.nlat * 0.99)] : 0, mb.nlat ? mb.lat[mb.nlat - 1] : 0);
	mb_err_print("boot");
}

/* mb_baseline - the same number of rows, plain 500-row INSERT transactions
 * (durable commits) into a scratch table of shard 0's database */
static void
mb_baseline(long rows)
{
	char dsn[512], text[MB_TEXT + 1];
	PGconn *c;
	uint64_t t0;
	long done = 0, seq = 0;
	char *sql;
	size_t cap = 500 * (MB_TEXT + 160) + 256;

	memset(text, 'x', MB_TEXT);
	text[MB_TEXT] = '\0';
	snprintf(dsn, sizeof(dsn), mb.dsn_fmt, 0);
	c = PQconnectdb(dsn);
	PQclear(PQexec(c, "DROP TABLE IF EXISTS msgbench_baseline;"
	    "CREATE TABLE msgbench_baseline (LIKE messages INCLUDING DEFAULTS"
	    " INCLUDING INDEXES)"));
	sql = pl_malloc(cap);
	t0 = pl_clock_mono_us();
	while (done < rows) {
		size_t n = (size_t)snprintf(sql, cap, "INSERT INTO msgbench_baseline (channel_id,"
		    " seq, ts, ts_us, user_id, team_id, text) VALUES ");
		int k;

		for (k = 0; k < 500 && done < rows; k++, done++) {
			seq++;
			n += (size_t)snprintf(sql + n, cap - n, "%s('%s',%ld,'%ld.%06ld',%ld,'%s','%s','%s')",
			    k ? "," : "", mb.chans[seq % mb.nchans], seq, 1700000000L + seq / 1000000,
			    seq % 1000000, seq, mb.user, mb.team, text);
		}
		PQclear(PQexec(c, sql));
	}
	printf("baseline: %ld rows in 500-row INSERT transactions: %.0f rows/s -> ratio %.2f\n",
	    rows, (double)rows / ((double)(pl_clock_mono_us() - t0) / 1e6),
	    mb.persist_rate / ((double)rows / ((double)(pl_clock_mono_us() - t0) / 1e6)));
	PQclear(PQexec(c, "DROP TABLE msgbench_baseline"));
	free(sql);
	PQfinish(c);
}

/* mb_args - --name value pairs */
static int
mb_args(int argc, char **argv)
{
	static const struct { const char *name; int *v; } ints[] = {
		{ "--shards", &mb.shards }, { "--partitions", &mb.partitions },
		{ "--channels", &mb.channels }, { "--window", &mb.window },
		{ "--seconds", &mb.seconds }, { "--rate", &mb.rate },
		{ "--rate-seconds", &mb.rate_seconds }, { "--boot", &mb.boot },
		{ "--boot-users", &mb.boot_users }, { "--boot-channels", &mb.boot_channels },
	};
	int i;
	size_t k;

	mb.shards = 2, mb.partitions = 8, mb.channels = 16, mb.window = 512;
	mb.seconds = 10, mb.rate = 5000, mb.rate_seconds = 10;
	mb.boot_users = 100, mb.boot_channels = 8;
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--run-dir") == 0) {
			mb.run_dir = argv[i + 1];
			continue;
		}
		if (strcmp(argv[i], "--pg-dsn-fmt") == 0) {
			mb.dsn_fmt = argv[i + 1];
			continue;
		}
		for (k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
			if (strcmp(argv[i], ints[k].name) == 0)
				*ints[k].v = atoi(argv[i + 1]);
	}
	return mb.run_dir && mb.dsn_fmt ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct pl_message_clnt_conf conf;

	if (mb_args(argc, argv) != 0) {
		fprintf(stderr, "usage: msgbench --run-dir DIR --pg-dsn-fmt 'host=... "
		    "dbname=parley_shard_%%d' [--shards N] [--partitions P] [--channels C]"
		    " [--window W] [--seconds S] [--rate R] [--rate-seconds S]"
		    " [--boot N [--boot-users U] [--boot-channels K]]\n");
		return 2;
	}
	mb.base = event_base_new();
	mb.loop = pl_loop_event_create(mb.base);
	memset(&conf, 0, sizeof(conf));
	conf.run_dir = mb.run_dir;
	conf.shard_count = mb.shards;
	conf.partitions = mb.partitions;
	conf.timeout_ms = 10000;
	conf.resend_ms = 5000;
	conf.breaker_threshold = 1000000;
	conf.breaker_open_ms = 100;
	if (pl_message_clnt_start(mb.loop, &conf, &mb.mc) != 0 || mb_provision() != 0)
		return 1;
	if (mb.boot > 0) {
		if (mb_boot_provision() != 0)
			return 1;
		mb_boots();
	} else {
		mb_sustained();
		mb_paced();
		mb_baseline(mb.acked);
	}
	pl_message_clnt_stop(&mb.mc);
	pl_loop_free(&mb.loop);
	event_base_free(mb.base);
	free(mb.chans);
	free(mb.users);
	free(mb.lat);
	return 0;
}
