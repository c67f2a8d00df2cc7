/* history.c - conversations.history and conversations.replies.
 *
 * Pages go backwards by seq, not by ts or offset: the cursor names the seq
 * below which the next page starts, so messages arriving between two pages
 * (they get higher seqs) never shift a page, and nothing is skipped or
 * repeated. Replies go forwards (oldest first, the parent on the first
 * page) with the same cursor meaning "above seq n". Rows come from the
 * shard's messages table merged with the channel's tail (tail.c): a message
 * acknowledged a moment ago is in history even before it is committed. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "event_json.h"
#include "jwt.h"
#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "pg.h"

#define MS_HISTORY_DEFAULT 100
#define MS_HISTORY_MAX 1000

/* ms_history_cursor - the opaque cursor of "next page below seq" */
void
ms_history_cursor(int64_t seq, char out[32])
{
	char raw[32];
	char *enc;

	snprintf(raw, sizeof(raw), "seq:%lld", (long long)seq);
	enc = pl_b64url_encode(raw, strlen(raw));
	snprintf(out, 32, "%s", enc);
	free(enc);
}

/* ms_history_cursor_parse - the seq of a cursor; PL_EINVAL if it is not ours */
int
ms_history_cursor_parse(const char *s, int64_t *seq_r)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	char buf[32], *end;
	int rv = PL_EINVAL;

	if (pl_b64url_decode(s, strlen(s), &raw, &len) != 0)
		return PL_EINVAL;
	if (len > 4 && len < sizeof(buf) && memcmp(raw, "seq:", 4) == 0) {
		memcpy(buf, raw, len);
		buf[len] = '\0';
		*seq_r = strtoll(buf + 4, &end, 10);
		if (*end == '\0' && *seq_r > 0)
			rv = 0;
	}
	free(raw);
	return rv;
}

struct hist {
	struct ms_call *c;
	int limit;
	int replies;
	uint64_t oldest, latest;	/* inclusive, us */
	int64_t seq_bound;		/* history: below it; replies: above it */
	const char *thread;		/* replies: the parent's ts */
	char channel[PL_ID_MAX + 1];
	char bounds[4][32];	/* oldest_us, latest_us, seq bound, limit+1 */
};

/* hist_row - one messages row as a Parley__Message (strings borrowed) */
static void
hist_row(struct pg_result *res, int i, Parley__Message *m)
{
	parley__message__init(m);
	m->seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	m->ts = PQgetvalue(res, i, 1);
	m->user = PQgetvalue(res, i, 2);
	m->text = PQgetvalue(res, i, 3);
	m->thread_ts = PQgetvalue(res, i, 4);
	m->client_msg_id = PQgetvalue(res, i, 5);
	m->subtype = PQgetvalue(res, i, 6);
	m->edited_ts = PQgetvalue(res, i, 7);
	m->reply_count = atoi(PQgetvalue(res, i, 8));
}

/* the page being built: rows borrowed from the PostgreSQL result and the tail */
struct hpage {
	Parley__Message *m;
	int *drop;
	int n, cap;
};

/* hpage_add - one more row (strings borrowed) */
static void
hpage_add(struct hpage *pg, const Parley__Message *m)
{
	if (pg->n == pg->cap) {
		pg->cap = pg->cap ? pg->cap * 2 : 64;
		pg->m = pl_realloc(pg->m, (size_t)pg->cap * sizeof(*pg->m));
		pg->drop = pl_realloc(pg->drop, (size_t)pg->cap * sizeof(*pg->drop));
	}
	pg->m[pg->n] = *m;
	pg->drop[pg->n] = 0;
	pg->n++;
}

/* hist_matches - a tail message that belongs on this page */
static int
hist_matches(const struct hist *st, int type, const Parley__Message *m)
{
	uint64_t us = 0;

	if (type != PARLEY__EVENT_TYPE__MESSAGE_CREATED &&
	    type != PARLEY__EVENT_TYPE__CHANNEL_JOIN && type != PARLEY__EVENT_TYPE__CHANNEL_LEAVE)
		return 0;
	if (ms_seq_ts_parse(m->ts, &us) != 0 || us < st->oldest || us > st->latest)
		return 0;
	if (st->replies)
		return m->seq > st->seq_bound && (strcmp(m->ts, st->thread) == 0 ||
		    strcmp(m->thread_ts, st->thread) == 0);
	return m->seq < st->seq_bound && (m->thread_ts[0] == '\0' ||
	    strcmp(m->thread_ts, m->ts) == 0);
}

/* hist_tail_rows - the tail's messages of the page, in page order */
static void
hist_tail_rows(const struct hist *st, const struct ms_tail_ev *ev, size_t n,
    struct hpage *pg)
{
	size_t i;

	for (i = 0; i < n; i++) {
		size_t k = st->replies ? i : n - 1 - i;

		if (!ev[k].pending && hist_matches(st, ev[k].type, ev[k].m))
			hpage_add(pg, ev[k].m);
	}
}

/* hist_apply - one tail event's effect on the rows of the page */
static void
hist_apply(struct hpage *pg, const struct ms_tail_ev *e)
{
	const Parley__Message *m = e->m;
	int i;

	for (i = 0; i < pg->n; i++) {
		Parley__Message *r = &pg->m[i];

		if (e->type == PARLEY__EVENT_TYPE__MESSAGE_CREATED) {
			if (m->thread_ts[0] && strcmp(m->thread_ts, r->ts) == 0 &&
			    strcmp(m->ts, r->ts) != 0 && m->seq > r->seq) {
				r->reply_count++;
				r->thread_ts = r->ts;
			}
			continue;
		}
		if (m->target_ts == NULL || strcmp(m->target_ts, r->ts) != 0)
			continue;
		if (e->type == PARLEY__EVENT_TYPE__MESSAGE_CHANGED) {
			r->text = m->text;
			r->edited_ts = m->ts;
		} else if (e->type == PARLEY__EVENT_TYPE__MESSAGE_DELETED) {
			pg->drop[i] = 1;
		}
	}
}

/* hist_render - the kept rows, has_more, the cursor */
static void
hist_render(const struct hist *st, const struct hpage *pg, struct pl_buf *b)
{
	int i, kept = 0;
	int64_t last = 0;
	char cur[32];

	pl_buf_puts(b, "{\"messages\":[");
	for (i = 0; i < pg->n && kept <= st->limit; i++) {
		if (pg->drop[i])
			continue;
		if (kept == st->limit) {
			kept++;
			break;
		}
		pl_buf_puts(b, kept++ ? "," : "");
		pl_message_obj_json(&pg->m[i], b);
		last = pg->m[i].seq;
	}
	pl_buf_printf(b, "],\"has_more\":%s", kept > st->limit ? "true" : "false");
	if (kept > st->limit) {
		ms_history_cursor(last, cur);
		pl_buf_printf(b, ",\"response_metadata\":{\"next_cursor\":\"%s\"}}", cur);
	} else {
		pl_buf_puts(b, ",\"response_metadata\":{\"next_cursor\":\"\"}}");
	}
}

/* hist_tail_covers - the tail alone answers the page: history needs more
 * than limit of its messages (every PostgreSQL row would be older than the
 * page), replies need the parent in the tail (every reply is newer) */
static int
hist_tail_covers(const struct hist *st, const struct hpage *pg)
{
	int i, kept = 0;

	for (i = 0; !st->replies && i < pg->n; i++)
		kept += !pg->drop[i];
	if (!st->replies)
		return kept > st->limit;
	for (i = 0; i < pg->n; i++)
		if (strcmp(pg->m[i].ts, st->thread) == 0)
			return 1;
	return 0;
}

/* hist_tail_only - PostgreSQL is down: answer from the tail (events not yet
 * committed) where it covers the page, else the error (MS-HISTORY-DEGRADED) */
static void
hist_tail_only(struct hist *st, const struct ms_tail_ev *ev, size_t n, int rv)
{
	struct hpage pg = { NULL, NULL, 0, 0 };
	struct pl_buf b;
	size_t i;

	hist_tail_rows(st, ev, n, &pg);
	for (i = 0; i < n; i++)
		if (!ev[i].pending)
			hist_apply(&pg, &ev[i]);
	if (!hist_tail_covers(st, &pg)) {
		pl_log_warn("MS-HISTORY-DEGRADED", "channel=%s tail=%d err=%s", st->channel,
		    pg.n, pl_err_str(rv));
		ms_call_rv_error(&st->c, rv);
	} else {
		pl_buf_init(&b);
		hist_render(st, &pg, &b);
		ms_call_json(&st->c, b.data);
		pl_buf_fini(&b);
	}
	free(pg.m);
	free(pg.drop);
}

/* hist_done - PostgreSQL's rows merged with the tail (events not yet
 * committed: all newer than any row), then rendered */
static void
hist_done(int rv, struct pg_result *res, void *arg)
{
	struct hist *st = arg;
	const struct ms_tail_ev *ev;
	struct hpage pg = { NULL, NULL, 0, 0 };
	struct pl_buf b;
	size_t n, i;
	int k;

	ev = ms_tail_events(st->channel, &n);
	if (rv != 0) {
		hist_tail_only(st, ev, n, rv);
		return;
	}
	if (!st->replies)
		hist_tail_rows(st, ev, n, &pg);
	for (k = 0; k < PQntuples(res); k++) {
		Parley__Message m;

		hist_row(res, k, &m);
		hpage_add(&pg, &m);
	}
	if (st->replies)
		hist_tail_rows(st, ev, n, &pg);
	for (i = 0; i < n; i++)
		if (!ev[i].pending)
			hist_apply(&pg, &ev[i]);
	pl_buf_init(&b);
	hist_render(st, &pg, &b);
	ms_call_json(&st->c, b.data);
	pl_buf_fini(&b);
	free(pg.m);
	free(pg.drop);
}

/* hist_bounds - oldest/latest/inclusive/cursor/limit into SQL parameters */
static int
hist_bounds(struct hist *st)
{
	struct ms_call *c = st->c;
	const char *o = ms_param(c, "oldest"), *l = ms_param(c, "latest");
	const char *inc = ms_param(c, "inclusive"), *cur = ms_param(c, "cursor");
	int inclusive = strcmp(inc, "true") == 0 || strcmp(inc, "1") == 0;
	uint64_t oldest = 0, latest = UINT64_MAX / 2;
	int64_t below = st->replies ? 0 : INT64_MAX;
	long lim = strtol(ms_param(c, "limit"), NULL, 10);

	if ((o[0] && ms_seq_ts_parse(o, &oldest) != 0) ||
	    (l[0] && ms_seq_ts_parse(l, &latest) != 0))
		return PL_EINVAL;
	if (cur[0] && ms_history_cursor_parse(cur, &below) != 0)
		return PL_EINVAL;
	/* exclusive bounds by default (Slack); inclusive widens both by one us */
	if (!inclusive) {
		oldest += 1;
		latest = latest > 0 ? latest - 1 : 0;
	}
	st->limit = lim > 0 ? (lim > MS_HISTORY_MAX ? MS_HISTORY_MAX : (int)lim) :
	    MS_HISTORY_DEFAULT;
	st->oldest = oldest;
	st->latest = latest;
	st->seq_bound = below;
	st->thread = ms_param(c, "ts");
	snprintf(st->bounds[0], 32, "%llu", (unsigned long long)oldest);
	snprintf(st->bounds[1], 32, "%llu", (unsigned long long)latest);
	snprintf(st->bounds[2], 32, "%lld", (long long)below);
	snprintf(st->bounds[3], 32, "%d", st->limit + 1);
	return 0;
}

/* hist_ready - membership checked: query the page */
static void
hist_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct hist *st = arg;
	const char *p[6];

	if (rv != 0 || strcmp(ch->team, st->c->team) != 0 ||
	    (strcmp(ch->kind, "public") != 0 && !ms_chan_is_member(ch, st->c->user))) {
		ms_call_error(&st->c, rv == PL_EUNAVAIL ? "service_unavailable" :
		    "channel_not_found");
		return;
	}
	snprintf(st->channel, sizeof(st->channel), "%s", ch->id);
	p[0] = ch->id;
	p[1] = st->bounds[0];
	p[2] = st->bounds[1];
	p[3] = st->bounds[2];
	p[4] = st->bounds[3];
	p[5] = ms_param(st->c, "ts");
	if (!st->replies)
		rv = pl_pg_query(ms.pg, "SELECT seq, ts, user_id, text, thread_ts, client_msg_id,"
		    " subtype, edited_ts, reply_count FROM messages WHERE channel_id = $1"
		    " AND NOT deleted AND ts_us >= $2 AND ts_us <= $3 AND seq < $4"
		    " AND (thread_ts = '' OR thread_ts = ts)"
		    " ORDER BY seq DESC LIMIT $5", 5, p, hist_done, st);
	else
		rv = pl_pg_query(ms.pg, "SELECT seq, ts, user_id, text, thread_ts, client_msg_id,"
		    " subtype, edited_ts, reply_count FROM messages WHERE channel_id = $1"
		    " AND NOT deleted AND ts_us >= $2 AND ts_us <= $3 AND seq > $4"
		    " AND (ts = $6 OR thread_ts = $6)"
		    " ORDER BY seq LIMIT $5", 6, p, hist_done, st);
	if (rv != 0)
		ms_call_rv_error(&st->c, rv);
}

/* hist_start - shared by history and replies */
static int
hist_start(struct ms_call *c, int replies)
{
	struct hist *st = pl_calloc(1, sizeof(*st));

	st->c = c;
	st->replies = replies;
	c->state = st;
	c->state_free = free;
	if (hist_bounds(st) != 0) {
		ms_call_error(&c, "invalid_arguments");
		return 0;
	}
	if (replies && ms_param(c, "ts")[0] == '\0') {
		ms_call_error(&c, "thread_not_found");
		return 0;
	}
	ms_chan_get(ms_param(c, "channel"), hist_ready, st);
	return 0;
}

int
ms_history(struct ms_call *c)
{
	return hist_start(c, 0);
}

int
ms_history_replies(struct ms_call *c)
{
	return hist_start(c, 1);
}
