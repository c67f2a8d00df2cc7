/* history.c - conversations.history and conversations.replies.
 *
 * Pages go backwards by seq, not by ts or offset: the cursor names the seq
 * below which the next page starts, so messages arriving between two pages
 * (they get higher seqs) never shift a page, and nothing is skipped or
 * repeated. Replies go forwards (oldest first, the parent on the first
 * page) with the same cursor meaning "above seq n". Rows come from the
 * shard's messages table merged with the channel's tail (tail.c): a message
 * acknowledged a moment ago is in history even before it is committed.
 * page.c turns the rows into Slack's objects (reactions, thread summary).
 * Replies first resolve ts= to its thread's parent (target.c). While
 * PostgreSQL is down, the tail - joined to the Redis recent cache when
 * that reaches it without a gap - answers the pages it provably covers. */
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
#include "ms_chan.h"
#include "ms_methods.h"
#include "ms_pure.h"
#include "pg.h"
#include "pgarr.h"
#include "slack_err.h"

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
	struct ms_chan *ch;
	int limit;
	int replies;
	uint64_t oldest, latest;	/* inclusive, us */
	int64_t seq_bound;		/* history: below it; replies: above it */
	char *root;			/* replies: the thread's parent ts (heap) */
	char *root_user;		/* replies: its author, the parent_user_id */
	int pg_rv;			/* PostgreSQL's error, when it failed */
	int cut_at;			/* rows cut by bytes: the page ends before row i (else -1) */
	char channel[PL_ID_MAX + 1];
	char bounds[4][32];	/* oldest_us, latest_us, seq bound, limit+1 */
};

static void
hist_free(void *p)
{
	struct hist *st = p;

	free(st->root);
	free(st->root_user);
	free(st);
}

/* hist_row - one messages row (seq, ts, user, text, thread_ts, cmid,
 * subtype, edited_ts, reply_count, latest_reply, reaction names[], users[],
 * reply users[]) as a page row (strings borrowed from res) */
static void
hist_row(struct pg_result *res, int i, struct ms_page *pg)
{
	struct ms_page_row *r;
	Parley__Message m;
	char **names, **users, **rusers;
	int nn = 0, nu = 0, nr = 0, k;

	parley__message__init(&m);
	m.seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	m.ts = PQgetvalue(res, i, 1);
	m.user = PQgetvalue(res, i, 2);
	m.text = PQgetvalue(res, i, 3);
	m.thread_ts = PQgetvalue(res, i, 4);
	m.client_msg_id = PQgetvalue(res, i, 5);
	m.subtype = PQgetvalue(res, i, 6);
	m.edited_ts = PQgetvalue(res, i, 7);
	m.reply_count = atoi(PQgetvalue(res, i, 8));
	r = ms_page_add(pg, &m);
	r->latest_reply = PQgetvalue(res, i, 9);
	names = pl_pgarr_split(PQgetvalue(res, i, 10), &nn);
	users = pl_pgarr_split(PQgetvalue(res, i, 11), &nu);
	rusers = pl_pgarr_split(PQgetvalue(res, i, 12), &nr);
	for (k = 0; k < nn && k < nu; k++)
		ms_target_rx_add(&r->rx, names[k], users[k]);
	for (k = 0; k < nr; k++)
		ms_page_reply_user(r, rusers[k]);
	pl_pgarr_free(&names, nn);
	pl_pgarr_free(&users, nu);
	pl_pgarr_free(&rusers, nr);
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
		return m->seq > st->seq_bound && (strcmp(m->ts, st->root) == 0 ||
		    strcmp(m->thread_ts, st->root) == 0);
	return m->seq < st->seq_bound && (m->thread_ts[0] == '\0' ||
	    strcmp(m->thread_ts, m->ts) == 0);
}

/* hist_tail_rows - the tail's messages of the page, in page order */
static void
hist_tail_rows(const struct hist *st, const struct ms_tail_ev *ev, size_t n,
    struct ms_page *pg)
{
	size_t i;

	for (i = 0; i < n; i++) {
		size_t k = st->replies ? i : n - 1 - i;

		if (!ev[k].pending && hist_matches(st, ev[k].type, ev[k].m))
			ms_page_add(pg, ev[k].m);
	}
}

/* hist_merge - the tail's acknowledged events applied to the rows; a
 * reply's parent_user_id */
static void
hist_merge(const struct hist *st, const struct ms_tail_ev *ev, size_t n,
    struct ms_page *pg)
{
	size_t i;
	int k;

	for (i = 0; i < n; i++)
		if (!ev[i].pending)
			ms_page_apply(pg, ev[i].type, ev[i].m);
	for (k = 0; st->replies && k < pg->n; k++)
		if (strcmp(pg->v[k].m.ts, st->root) != 0)
			pg->v[k].parent_user = st->root_user;
}

/* hist_render - the kept rows, has_more, the cursor. A page ends at limit
 * rows or at page-max-bytes of JSON, whichever comes first (a row that
 * would cross the byte bound opens the next page): 1,000 rows of 40,000
 * emoji would be 160 MB, past what the RPC layer carries. */
static void
hist_render(const struct hist *st, const struct ms_page *pg, struct pl_buf *b)
{
	int i, kept = 0, more = 0, n = st->cut_at >= 0 ? st->cut_at : pg->n;
	int64_t last = 0;
	size_t mark;
	char cur[32];

	pl_buf_puts(b, "{\"messages\":[");
	for (i = 0; i < n && !more; i++) {
		if (pg->v[i].drop) {
			if (kept == 0)
				last = pg->v[i].m.seq;	/* the cursor if nothing is kept */
			continue;
		}
		if (kept == st->limit) {
			more = 1;
			break;
		}
		mark = b->len;
		pl_buf_puts(b, kept ? "," : "");
		ms_page_row_json(&pg->v[i], b);
		if (!ms_page_fits(b, mark, kept, (size_t)ms_conf.page_max_bytes)) {
			more = 1;
			break;
		}
		kept++;
		last = pg->v[i].m.seq;
	}
	if (st->cut_at >= 0 && last > 0)
		more = 1;		/* PostgreSQL holds more rows past the cut */
	pl_buf_printf(b, "],\"has_more\":%s", more ? "true" : "false");
	if (more) {
		ms_history_cursor(last, cur);
		pl_buf_printf(b, ",\"response_metadata\":{\"next_cursor\":\"%s\"}}", cur);
	} else {
		pl_buf_puts(b, ",\"response_metadata\":{\"next_cursor\":\"\"}}");
	}
}

/* hist_answer - render the page and reply */
static void
hist_answer(struct hist *st, const struct ms_page *pg)
{
	struct pl_buf b;

	pl_buf_init(&b);
	hist_render(st, pg, &b);
	ms_call_json(&st->c, b.data);
	pl_buf_fini(&b);
}

/* hist_covers - a suffix of the channel's events (the tail, or the Redis
 * recent cache joined to it) alone answers the page. History: it holds more
 * than limit of the page's messages (every older row would be beyond the
 * page), or it is complete from its event lo on (NULL: unknown) and that is
 * the channel's first event or the page starts at lo's ts or later. Replies: the parent is in it (every reply is newer). */
static int
hist_covers(const struct hist *st, const struct ms_page *pg, const struct ms_tail_ev *lo)
{
	uint64_t lo_us = 0;

	int i, kept = 0;

	for (i = 0; !st->replies && i < pg->n; i++)
		kept += !pg->v[i].drop;
	if (lo != NULL && ms_seq_ts_parse(lo->m->ts, &lo_us) != 0)
		lo_us = 0;
	if (!st->replies)
		return kept > st->limit || (lo != NULL && lo->m->seq == 1) ||
		    (lo_us > 0 && st->oldest >= lo_us);
	for (i = 0; i < pg->n; i++)
		if (strcmp(pg->v[i].m.ts, st->root) == 0)
			return 1;
	return 0;
}

/* hist_from_events - answer from a suffix of events if it covers the page;
 * 1 when answered */
static int
hist_from_events(struct hist *st, const struct ms_tail_ev *ev, size_t n,
    const struct ms_tail_ev *lo)
{
	struct ms_page pg = { NULL, 0, 0 };
	int covered;

	hist_tail_rows(st, ev, n, &pg);
	hist_merge(st, ev, n, &pg);
	if ((covered = hist_covers(st, &pg, lo)) != 0)
		hist_answer(st, &pg);
	ms_page_fini(&pg);
	return covered;
}

/* hist_degraded - neither PostgreSQL nor a cached suffix answers */
static void
hist_degraded(struct hist *st, const char *why)
{
	size_t n;

	ms_tail_events(st->channel, &n);
	pl_log_warn("MS-HISTORY-DEGRADED", "channel=%s tail=%zu cache=%s err=%s", st->channel,
	    n, why, pl_err_str(st->pg_rv));
	ms_call_rv_error(&st->c, st->pg_rv);
}

/* hist_suffix - the channel's newest events: the Redis recent cache below
 * the tail's first seq, then the whole tail (everything not yet committed),
 * starting where both are gap-free and join up (*n_r 0: nothing usable).
 * A gap (a cache write lost while Redis was away, a failed send) is never
 * bridged: the suffix then starts after it. */
static struct ms_tail_ev *
hist_suffix(const struct hist *st, Parley__Envelope **envs, int ne, size_t *n_r)
{
	const struct ms_tail_ev *tail;
	struct ms_tail_ev *v;
	size_t nt, n = 0, i, from = 0;
	int64_t top = 0, upper;
	int k;

	tail = ms_tail_events(st->channel, &nt);
	upper = nt > 0 ? tail[0].m->seq : st->ch->next_seq;
	v = pl_calloc((size_t)ne + nt + 1, sizeof(*v));
	for (k = 0; k < ne && envs[k]->message->seq < upper; k++) {
		if (n > 0 && envs[k]->message->seq != top + 1)
			from = n;		/* a gap: complete only after it */
		top = envs[k]->message->seq;
		v[n].type = envs[k]->type;
		v[n++].m = envs[k]->message;
	}
	if (top + 1 != upper)
		from = n;			/* the cache does not reach the tail */
	for (i = 0; i < nt; i++)
		v[n++] = tail[i];
	memmove(v, v + from, (n - from) * sizeof(*v));
	*n_r = n - from;
	return v;
}

/* hist_suffix_find - the MESSAGE_CREATED of ts in the suffix, or NULL */
static const Parley__Message *
hist_suffix_find(const struct ms_tail_ev *v, size_t n, const char *ts)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].type == PARLEY__EVENT_TYPE__MESSAGE_CREATED && !v[i].pending &&
		    strcmp(v[i].m->ts, ts) == 0)
			return v[i].m;
	return NULL;
}

/* hist_suffix_root - replies whose thread PostgreSQL could not name: find
 * the parent in the suffix (0), else PL_ENOTFOUND */
static int
hist_suffix_root(struct hist *st, const struct ms_tail_ev *v, size_t n)
{
	const Parley__Message *m = hist_suffix_find(v, n, ms_param(st->c, "ts"));

	if (m != NULL && m->thread_ts[0] && strcmp(m->thread_ts, m->ts) != 0)
		m = hist_suffix_find(v, n, m->thread_ts);
	if (m == NULL)
		return PL_ENOTFOUND;
	st->root = pl_strdup(m->ts);
	st->root_user = pl_strdup(m->user);
	return 0;
}

/* hist_cache_done - PostgreSQL is down and the tail did not cover the page:
 * try the Redis recent cache joined to the tail */
static void
hist_cache_done(int rv, Parley__Envelope **envs, int ne, void *arg)
{
	struct hist *st = arg;
	struct ms_tail_ev *v;
	size_t n;

	if (rv != 0) {
		hist_degraded(st, "down");
		return;
	}
	v = hist_suffix(st, envs, ne, &n);
	if (st->replies && st->root == NULL && hist_suffix_root(st, v, n) != 0)
		hist_degraded(st, "no-thread");
	else if (hist_from_events(st, v, n, n > 0 ? &v[0] : NULL))
		pl_log_debug("MS-HISTORY-CACHE", "channel=%s events=%zu", st->channel, n);
	else
		hist_degraded(st, "short");
	free(v);
}

/* hist_tail_only - PostgreSQL is down: answer from the tail (events not yet
 * committed) where it covers the page, else from the Redis recent cache
 * joined to the tail, else the error (MS-HISTORY-DEGRADED) */
static void
hist_tail_only(struct hist *st, const struct ms_tail_ev *ev, size_t n, int rv)
{
	/* every committed event is older than the tail's first */
	st->pg_rv = rv;
	if (hist_from_events(st, ev, n, n > 0 ? &ev[0] : NULL))
		return;
	ms_cache_range(st->channel, 0, (int)ms_conf.recent_max, hist_cache_done, st);
}

/* hist_done - PostgreSQL's rows merged with the tail (events not yet
 * committed: all newer than any row), then rendered */
static void
hist_done(int rv, struct pg_result *res, void *arg)
{
	struct hist *st = arg;
	const struct ms_tail_ev *ev;
	struct ms_page pg = { NULL, 0, 0 };
	size_t n;
	int k;

	ev = ms_tail_events(st->channel, &n);
	if (rv != 0) {
		hist_tail_only(st, ev, n, rv);
		return;
	}
	if (!st->replies)
		hist_tail_rows(st, ev, n, &pg);
	for (k = 0; k < PQntuples(res); k++)
		hist_row(res, k, &pg);
	if (k > 0 && strtoll(PQgetvalue(res, 0, 13), NULL, 10) > k)
		st->cut_at = pg.n;
	if (st->replies)
		hist_tail_rows(st, ev, n, &pg);
	hist_merge(st, ev, n, &pg);
	hist_answer(st, &pg);
	ms_page_fini(&pg);
}

/* hist_bounds_error - parse the parameters; the Slack code of a bad one, or NULL */
static const char *
hist_bounds_error(struct hist *st, uint64_t *oldest, uint64_t *latest, int64_t *below)
{
	struct ms_call *c = st->c;
	const char *o = ms_param(c, "oldest"), *l = ms_param(c, "latest");
	const char *cur = ms_param(c, "cursor");

	if (o[0] && ms_seq_ts_parse(o, oldest) != 0)
		return "invalid_ts_oldest";
	if (l[0] && ms_seq_ts_parse(l, latest) != 0)
		return "invalid_ts_latest";
	if (cur[0] && ms_history_cursor_parse(cur, below) != 0)
		return "invalid_cursor";
	if (ms_render_limit(ms_param(c, "limit"), MS_HISTORY_DEFAULT, MS_HISTORY_MAX,
	    &st->limit) != 0)
		return "invalid_limit";
	return NULL;
}

/* hist_bounds - oldest/latest/inclusive/cursor/limit into SQL parameters;
 * the Slack code of a bad one, or NULL */
static const char *
hist_bounds(struct hist *st)
{
	const char *inc = ms_param(st->c, "inclusive"), *why;
	int inclusive = strcmp(inc, "true") == 0 || strcmp(inc, "1") == 0;
	uint64_t oldest = 0, latest = UINT64_MAX / 2;
	int64_t below = st->replies ? 0 : INT64_MAX;

	if ((why = hist_bounds_error(st, &oldest, &latest, &below)) != NULL)
		return why;
	/* exclusive bounds by default (Slack); inclusive widens both by one us */
	if (!inclusive) {
		oldest += 1;
		latest = latest > 0 ? latest - 1 : 0;
	}
	st->oldest = oldest;
	st->latest = latest;
	st->seq_bound = below;
	snprintf(st->bounds[0], 32, "%llu", (unsigned long long)oldest);
	snprintf(st->bounds[1], 32, "%llu", (unsigned long long)latest);
	snprintf(st->bounds[2], 32, "%lld", (long long)below);
	snprintf(st->bounds[3], 32, "%d", st->limit + 1);
	return NULL;
}

/* the columns hist_row reads: the message, its latest_reply, its reactions
 * in order added, and (thread roots) its repliers in order of first reply.
 * FROM is the page's candidate rows (HIST_ROWS) */
#define HIST_COLS "SELECT m.seq, m.ts, m.user_id, m.text, m.thread_ts," \
	" m.client_msg_id, m.subtype, m.edited_ts, m.reply_count, m.latest_reply," \
	" coalesce(rx.names, '{}'), coalesce(rx.users, '{}')," \
	" CASE WHEN m.reply_count > 0 THEN coalesce((SELECT array_agg(x.u ORDER BY x.s)" \
	"  FROM (SELECT r.user_id u, min(r.seq) s FROM messages r" \
	"  WHERE r.channel_id = m.channel_id AND r.thread_ts = m.ts AND r.ts <> m.ts" \
	"  AND NOT r.deleted GROUP BY r.user_id) x), '{}') ELSE '{}' END, m.pg_n" \
	" FROM (SELECT * FROM (SELECT q.*, count(*) OVER () AS pg_n FROM" \
	"  (SELECT c.*, row_number() OVER w AS pg_rn," \
	"  sum(octet_length(c.text)) OVER w - octet_length(c.text) AS pg_before" \
	"  FROM messages c WHERE c.channel_id = $1 AND NOT c.deleted" \
	"  AND c.ts_us >= $2 AND c.ts_us <= $3 AND "

/* ...the page's order; then only the rows that can be on the page: a row
 * whose predecessors already hold more text than page-max-bytes is beyond
 * the byte bound (the JSON of a text is never shorter than the text), the
 * first two always come (the second tells has_more when the first alone
 * crosses the bound). pg_n counts the rows before that cut: when rows were
 * cut, the page ends with the last row PostgreSQL sent (hist_render), so
 * that a replies page never jumps over them to the tail's rows. */
#define HIST_ROWS(order) " WINDOW w AS (ORDER BY c.seq " order ")" \
	"  ORDER BY c.seq " order " LIMIT $5) q) p WHERE p.pg_rn <= 2 OR p.pg_before <= $6) m" \
	" LEFT JOIN LATERAL (SELECT array_agg(r.name ORDER BY r.seq) names," \
	"  array_agg(r.user_id ORDER BY r.seq) users FROM reactions r" \
	"  WHERE r.channel_id = m.channel_id AND r.ts = m.ts) rx ON true" \
	" ORDER BY m.seq " order

/* hist_query - the page's rows from PostgreSQL */
static void
hist_query(struct hist *st)
{
	const char *p[7];
	char budget[24];
	int rv;

	snprintf(budget, sizeof(budget), "%lld", (long long)ms_conf.page_max_bytes);
	p[0] = st->channel;
	p[1] = st->bounds[0];
	p[2] = st->bounds[1];
	p[3] = st->bounds[2];
	p[4] = st->bounds[3];
	p[5] = budget;
	p[6] = st->root;
	if (!st->replies)
		rv = pl_pg_query(ms.pg, HIST_COLS "c.seq < $4"
		    " AND (c.thread_ts = '' OR c.thread_ts = c.ts)"
		    HIST_ROWS("DESC"), 6, p, hist_done, st);
	else
		rv = pl_pg_query(ms.pg, HIST_COLS "c.seq > $4"
		    " AND (c.ts = $7 OR c.thread_ts = $7)"
		    HIST_ROWS("ASC"), 7, p, hist_done, st);
	if (rv != 0)
		ms_call_rv_error(&st->c, rv);
}

/* hist_root_found - the message named by ts= (a parent or a reply): its
 * thread's parent and that parent's author */
static void
hist_root_found(int rv, struct ms_target *t, void *arg)
{
	struct hist *st = arg;

	if (rv != 0 && st->root == NULL) {
		/* PostgreSQL is down and the tail does not know ts: the cache may */
		st->pg_rv = rv;
		ms_cache_range(st->channel, 0, (int)ms_conf.recent_max, hist_cache_done, st);
		return;
	}
	if (rv != 0) {
		ms_call_rv_error(&st->c, rv);
		return;
	}
	if (!t->found || (t->deleted && t->reply_count == 0)) {
		ms_call_error(&st->c, "thread_not_found");
		return;
	}
	if (st->root == NULL && t->thread_ts[0] && strcmp(t->thread_ts, t->ts) != 0) {
		/* ts is a reply: the thread is its parent's */
		st->root = pl_strdup(t->thread_ts);
		ms_target_get(st->ch, st->root, hist_root_found, st);
		return;
	}
	if (st->root == NULL)
		st->root = pl_strdup(t->ts);
	st->root_user = pl_strdup(t->user);
	hist_query(st);
}

/* hist_ready - membership checked: find the thread (replies), query */
static void
hist_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct hist *st = arg;

	if (rv != 0) {
		ms_call_error(&st->c, pl_slack_chan_error(rv));
		return;
	}
	if (!ms_chan_visible(ch, st->c->team, st->c->user)) {
		ms_call_error(&st->c, "channel_not_found");
		return;
	}
	st->ch = ch;
	snprintf(st->channel, sizeof(st->channel), "%s", ch->id);
	if (st->replies)
		ms_target_get(ch, ms_param(st->c, "ts"), hist_root_found, st);
	else
		hist_query(st);
}

/* hist_start - shared by history and replies */
static int
hist_start(struct ms_call *c, int replies)
{
	struct hist *st = pl_calloc(1, sizeof(*st));
	const char *why;
	uint64_t us;

	st->c = c;
	st->replies = replies;
	st->cut_at = -1;
	c->state = st;
	c->state_free = hist_free;
	if ((why = hist_bounds(st)) != NULL) {
		ms_call_error(&c, why);
		return 0;
	}
	if (replies && ms_seq_ts_parse(ms_param(c, "ts"), &us) != 0) {
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
