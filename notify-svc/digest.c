/* digest.c - email digests: at most one mail per user per digest-interval-s
 * listing the mentions and DM messages still unread digest-delay-s after
 * they arrived, grouped by channel, plain text and HTML, through SMTP with
 * libcurl on the loop (http.c).
 *
 * Items: the expander (push.c) writes one ns_digest_items row per (recipient,
 * message) with the text kept at consume time. A scan
 *   1. deletes the items read or deleted meanwhile (reading first cancels),
 *   2. takes the users whose oldest item is due and who had no digest
 *      within the interval, one at a time: their items, the channels they
 *      are still members of and their address (directory, at compose time:
 *      nothing about a channel they left, no mail without an address), then
 *      one statement writes the digest (its Message-ID is the key) and
 *      deletes the items it covers,
 *   3. sends pending digests (leased like pushes: a crash resends with the
 *      same Message-ID until the server accepts it).
 * A failed send retries with full jitter backoff (push-backoff-*). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "notify.h"
#include "pg.h"

#define NS_DIGEST_USERS 10	/* users composed per scan */
#define NS_DIGEST_ITEMS 200	/* items in one digest at most */
#define NS_DIGEST_TIMEOUT_MS 30000

struct dg_user {
	char user[NS_ID_MAX + 1], team[NS_ID_MAX + 1];
};

struct dg_item {
	char channel[NS_ID_MAX + 1], ts[NS_ID_MAX + 1], author[NS_ID_MAX + 1];
	char kind[16];
	char *text;
	char *chan_name, *chan_kind, *author_name;	/* NULL: no longer a member */
};

static struct {
	struct pl_timer *scan;
	int busy, stopping;
	struct dg_user *users;
	int nusers, at;
	struct dg_item *items;
	int nitems;
	char rcpt[256];
	int sending;
	struct pl_metric *m_sent, *m_cancelled, *m_retried, *m_dropped, *m_items;
} dg;

static void dg_next_user(void);
static void dg_send_pending(void);

/* dg_now - wall ms as text */
static void
dg_now(char buf[24], int64_t plus_ms)
{
	snprintf(buf, 24, "%lld", (long long)(pl_clock_wall_us() / 1000) + (long long)plus_ms);
}

/* dg_free_items - the current user's items */
static void
dg_free_items(void)
{
	int i;

	for (i = 0; i < dg.nitems; i++) {
		free(dg.items[i].text);
		free(dg.items[i].chan_name);
		free(dg.items[i].chan_kind);
		free(dg.items[i].author_name);
	}
	pl_free(&dg.items);
	dg.nitems = 0;
}

/* dg_end - the scan is over */
static void
dg_end(void)
{
	dg_free_items();
	pl_free(&dg.users);
	dg.nusers = dg.at = 0;
	dg.busy = 0;
	dg_send_pending();
}

/* ---------------------------------------------------------------- send */

struct dg_op {
	char id[160];
	int attempts;
};

/* dg_ignore - bookkeeping statements (a failure: the lease runs out) */
static void
dg_ignore(int rv, struct pg_result *res, void *arg)
{
	(void)res;
	(void)arg;
	if (rv != 0)
		pl_log_warn("NS-DIGEST-STATE-FAIL", "err=%s", pl_err_str(rv));
}

/* dg_sent - the SMTP server answered */
static void
dg_sent(int code, int rv, void *arg)
{
	struct dg_op *op = arg;
	char now[24], next[24];
	const char *p[3];

	dg.sending--;
	p[0] = op->id;
	if (rv == 0) {
		pl_metrics_inc(dg.m_sent);
		pl_log_info("NS-DIGEST-SENT", "message_id=%s code=%d", op->id, code);
		dg_now(now, 0);
		p[1] = now;
		(void)pl_pg_query(ns.db, "UPDATE ns_digests SET state = 'sent', done_ms = $2"
		    " WHERE message_id = $1", 2, p, dg_ignore, NULL);
	} else {
		uint64_t cap = (uint64_t)ns_conf.push_backoff_cap_ms, d;
		int sh = op->attempts < 30 ? op->attempts : 30;

		d = (uint64_t)ns_conf.push_backoff_base_ms << sh;
		if (d > cap || d >> sh != (uint64_t)ns_conf.push_backoff_base_ms)
			d = cap;
		d = pl_jitter_ms(0, d);
		pl_metrics_inc(dg.m_retried);
		pl_log_warn("NS-DIGEST-RETRY", "message_id=%s code=%d err=%s delay_ms=%llu",
		    op->id, code, pl_err_str(rv), (unsigned long long)d);
		dg_now(next, (int64_t)d);
		p[1] = next;
		(void)pl_pg_query(ns.db, "UPDATE ns_digests SET next_ms = $2 WHERE"
		    " message_id = $1 AND state = 'pending'", 2, p, dg_ignore, NULL);
	}
	free(op);
}

/* dg_leased - pending digests are ours for a while: send each */
static void
dg_leased(int rv, struct pg_result *res, void *arg)
{
	int i;

	(void)arg;
	if (dg.stopping || rv != 0)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		struct dg_op *op = pl_calloc(1, sizeof(*op));

		snprintf(op->id, sizeof(op->id), "%s", PQgetvalue(res, i, 0));
		op->attempts = atoi(PQgetvalue(res, i, 3));
		if (ns_http_mail(ns_conf.smtp_url, ns_conf.digest_from, PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), NS_DIGEST_TIMEOUT_MS, dg_sent, op) != 0) {
			free(op);
			continue;	/* the lease runs out: again later */
		}
		dg.sending++;
	}
}

/* dg_send_pending - lease due pending digests */
static void
dg_send_pending(void)
{
	static const char sql[] = "UPDATE ns_digests d SET next_ms = $2, attempts ="
	    " d.attempts + 1 FROM (SELECT message_id FROM ns_digests WHERE state = 'pending'"
	    " AND next_ms <= $1 ORDER BY next_ms LIMIT 10 FOR UPDATE SKIP LOCKED) s"
	    " WHERE d.message_id = s.message_id"
	    " RETURNING d.message_id, d.rcpt, d.body, d.attempts";
	char now[24], lease[24];
	const char *p[2];

	if (dg.sending > 0)
		return;
	dg_now(now, 0);
	dg_now(lease, NS_DIGEST_TIMEOUT_MS * 2);
	p[0] = now;
	p[1] = lease;
	(void)pl_pg_query(ns.db, sql, 2, p, dg_leased, NULL);
}

/* ---------------------------------------------------------------- compose */

/* dg_html - text with & < > " ' escaped */
static void
dg_html(struct pl_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': pl_buf_puts(b, "&amp;"); break;
		case '<': pl_buf_puts(b, "&lt;"); break;
		case '>': pl_buf_puts(b, "&gt;"); break;
		case '"': pl_buf_puts(b, "&quot;"); break;
		case '\'': pl_buf_puts(b, "&#39;"); break;
		case '\r': case '\n': pl_buf_puts(b, " "); break;
		default: pl_buf_append(b, s, 1);
		}
	}
}

/* dg_plain - text with line breaks as spaces (one item per line) */
static void
dg_plain(struct pl_buf *b, const char *s)
{
	for (; *s; s++)
		pl_buf_append(b, *s == '\r' || *s == '\n' ? " " : s, 1);
}

/* dg_label - how a channel is named in the digest */
static void
dg_label(struct pl_buf *b, const struct dg_item *it, int html)
{
	if (strcmp(it->chan_kind, "dm") == 0)
		pl_buf_puts(b, "Direct messages");
	else if (strcmp(it->chan_kind, "group") == 0)
		pl_buf_puts(b, "Group messages");
	else {
		pl_buf_puts(b, "#");
		if (html)
			dg_html(b, it->chan_name);
		else
			dg_plain(b, it->chan_name);
	}
}

/* dg_compose - the whole message of the items still in a member channel */
static int
dg_compose(struct pl_buf *m, const char *mid, int n)
{
	char date[64], boundary[64];
	time_t now = time(NULL);
	struct tm tm;
	int i, pass;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(boundary, sizeof(boundary), "parley-%llx",
	    (unsigned long long)pl_clock_wall_us());
	pl_buf_printf(m, "From: Parley <%s>\r\nTo: <%s>\r\nSubject: You have %d unread "
	    "message%s in Parley\r\nDate: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n",
	    ns_conf.digest_from, dg.rcpt, n, n == 1 ? "" : "s", date, mid, boundary);
	for (pass = 0; pass < 2; pass++) {
		const char *prev = "";

		pl_buf_printf(m, "--%s\r\nContent-Type: text/%s; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n", boundary, pass ? "html" : "plain");
		pl_buf_printf(m, pass ? "<html><body><p>You have %d unread message%s in "
		    "Parley.</p>\r\n" : "You have %d unread message%s in Parley.\r\n", n,
		    n == 1 ? "" : "s");
		for (i = 0; i < dg.nitems; i++) {
			const struct dg_item *it = &dg.items[i];

			if (it->chan_kind == NULL)
				continue;
			if (strcmp(prev, it->channel) != 0) {
				if (pass) {
					pl_buf_puts(m, *prev ? "</ul>\r\n<h3>" : "<h3>");
					dg_label(m, it, 1);
					pl_buf_puts(m, "</h3>\r\n<ul>\r\n");
				} else {
					pl_buf_puts(m, "\r\n");
					dg_label(m, it, 0);
					pl_buf_puts(m, "\r\n");
				}
				prev = it->channel;
			}
			if (pass) {
				pl_buf_puts(m, "<li><b>");
				dg_html(m, it->author_name);
				pl_buf_puts(m, "</b>: ");
				dg_html(m, it->text);
				pl_buf_puts(m, "</li>\r\n");
			} else {
				pl_buf_puts(m, "  ");
				dg_plain(m, it->author_name);
				pl_buf_puts(m, ": ");
				dg_plain(m, it->text);
				pl_buf_puts(m, "\r\n");
			}
		}
		pl_buf_puts(m, pass ? (*prev ? "</ul>\r\n</body></html>\r\n" :
		    "</body></html>\r\n") : "\r\n");
	}
	pl_buf_printf(m, "--%s--\r\n", boundary);
	return 0;
}

/* dg_stored - the digest is written and its items gone: next user */
static void
dg_stored(int rv, struct pg_result *res, void *arg)
{
	(void)res;
	(void)arg;
	if (dg.stopping)
		return;
	if (rv != 0) {
		pl_log_warn("NS-DIGEST-STORE-FAIL", "user=%s err=%s", dg.users[dg.at].user,
		    pl_err_str(rv));
		dg_end();
		return;
	}
	dg_free_items();
	dg.at++;
	dg_next_user();
}

/* dg_checked - the directory's view: address, channels still joined, names */
static void
dg_checked(int rv, struct pg_result *res, void *arg)
{
	static const char sql[] = "WITH d AS (INSERT INTO ns_digests (message_id, user_id,"
	    " rcpt, body, items, next_ms, created_ms) SELECT $1, $2, $3, $4, $5::int, $6, $6"
	    " WHERE $5::int > 0 AND $3 <> '' ON CONFLICT DO NOTHING RETURNING 1)"
	    " DELETE FROM ns_digest_items WHERE user_id = $2 AND (channel, ts) IN"
	    " (SELECT * FROM unnest($7::text[], $8::text[]))";
	const struct dg_user *u = &dg.users[dg.at];
	struct pl_buf msg, chans, tss;
	char mid[160], now[24], cnt[16];
	const char *p[8];
	int i, n = 0;

	(void)arg;
	if (dg.stopping)
		return;
	if (rv != 0) {
		pl_log_warn("NS-DIGEST-DIR-FAIL", "err=%s", pl_err_str(rv));
		dg_end();
		return;
	}
	dg.rcpt[0] = 0;
	for (i = 0; i < PQntuples(res); i++) {
		int k = atoi(PQgetvalue(res, i, 0)) - 1;

		if (k < 0 || k >= dg.nitems)
			continue;
		dg.items[k].chan_name = pl_strdup(PQgetvalue(res, i, 1));
		dg.items[k].chan_kind = pl_strdup(PQgetvalue(res, i, 2));
		dg.items[k].author_name = pl_strdup(PQgetvalue(res, i, 3));
		snprintf(dg.rcpt, sizeof(dg.rcpt), "%s", PQgetvalue(res, i, 4));
		n++;
	}
	if (n < dg.nitems)
		pl_metrics_add(dg.m_dropped, (double)(dg.nitems - n));
	if (dg.rcpt[0] == '\0' && n > 0) {
		pl_metrics_add(dg.m_dropped, (double)n);
		pl_log_info("NS-DIGEST-DROPPED", "user=%s why=no_email items=%d", u->user, n);
		n = 0;
	}
	dg_now(now, 0);
	snprintf(mid, sizeof(mid), "<digest.%s.%s@parley>", u->user, now);
	snprintf(cnt, sizeof(cnt), "%d", n);
	pl_buf_init(&msg);
	pl_buf_init(&chans);
	pl_buf_init(&tss);
	if (n > 0)
		dg_compose(&msg, mid, n);
	pl_buf_puts(&msg, "");
	pl_buf_puts(&chans, "{");
	pl_buf_puts(&tss, "{");
	for (i = 0; i < dg.nitems; i++) {
		pl_buf_printf(&chans, "%s%s", i ? "," : "", dg.items[i].channel);
		pl_buf_printf(&tss, "%s%s", i ? "," : "", dg.items[i].ts);
	}
	pl_buf_puts(&chans, "}");
	pl_buf_puts(&tss, "}");
	p[0] = mid;
	p[1] = u->user;
	p[2] = dg.rcpt;
	p[3] = msg.data;
	p[4] = cnt;
	p[5] = now;
	p[6] = chans.data;
	p[7] = tss.data;
	if (n > 0)
		pl_metrics_add(dg.m_items, (double)n);
	rv = pl_pg_query(ns.db, sql, 8, p, dg_stored, NULL);
	pl_buf_fini(&msg);
	pl_buf_fini(&chans);
	pl_buf_fini(&tss);
	if (rv != 0)
		dg_end();
}

/* dg_items - the user's items: ask the directory about them */
static void
dg_items(int rv, struct pg_result *res, void *arg)
{
	static const char sql[] = "SELECT x.i, ch.name, ch.kind, coalesce(au.name, x.a),"
	    " coalesce((SELECT email FROM users WHERE id = $1 AND team_id = $2"
	    " AND NOT deleted), '') FROM unnest($3::text[], $4::text[]) WITH ORDINALITY"
	    " AS x(c, a, i) JOIN channels ch ON ch.id = x.c AND ch.team_id = $2"
	    " JOIN channel_members m ON m.channel_id = x.c AND m.user_id = $1"
	    " JOIN users me ON me.id = $1 AND me.team_id = $2 AND NOT me.deleted"
	    " LEFT JOIN users au ON au.id = x.a ORDER BY x.i";
	const struct dg_user *u = &dg.users[dg.at];
	struct pl_buf chans, authors;
	const char *p[4];
	int i, n;

	(void)arg;
	if (dg.stopping)
		return;
	if (rv != 0) {
		dg_end();
		return;
	}
	n = PQntuples(res);
	dg.items = pl_calloc((size_t)n + 1, sizeof(*dg.items));
	pl_buf_init(&chans);
	pl_buf_init(&authors);
	pl_buf_puts(&chans, "{");
	pl_buf_puts(&authors, "{");
	for (i = 0; i < n; i++) {
		struct dg_item *it = &dg.items[dg.nitems++];

		snprintf(it->channel, sizeof(it->channel), "%s", PQgetvalue(res, i, 0));
		snprintf(it->ts, sizeof(it->ts), "%s", PQgetvalue(res, i, 1));
		snprintf(it->author, sizeof(it->author), "%s", PQgetvalue(res, i, 2));
		snprintf(it->kind, sizeof(it->kind), "%s", PQgetvalue(res, i, 3));
		it->text = pl_strdup(PQgetvalue(res, i, 4));
		pl_buf_printf(&chans, "%s%s", i ? "," : "", it->channel);
		pl_buf_printf(&authors, "%s%s", i ? "," : "", it->author);
	}
	pl_buf_puts(&chans, "}");
	pl_buf_puts(&authors, "}");
	p[0] = u->user;
	p[1] = u->team;
	p[2] = chans.data;
	p[3] = authors.data;
	rv = n ? pl_pg_query(ns.dir, sql, 4, p, dg_checked, NULL) : PL_ENOTFOUND;
	pl_buf_fini(&chans);
	pl_buf_fini(&authors);
	if (rv != 0) {
		dg.at++;
		dg_free_items();
		dg_next_user();
	}
}

/* dg_next_user - compose the next due user's digest, or end the scan */
static void
dg_next_user(void)
{
	static const char sql[] = "SELECT channel, ts, author, kind, text FROM"
	    " ns_digest_items WHERE user_id = $1 ORDER BY channel, ts LIMIT 200";
	const char *p[1];

	if (dg.at >= dg.nusers) {
		dg_end();
		return;
	}
	p[0] = dg.users[dg.at].user;
	if (pl_pg_query(ns.db, sql, 1, p, dg_items, NULL) != 0)
		dg_end();
}

/* dg_due - the users whose digest is due */
static void
dg_due(int rv, struct pg_result *res, void *arg)
{
	int i, n;

	(void)arg;
	if (dg.stopping)
		return;
	if (rv != 0) {
		dg_end();
		return;
	}
	n = PQntuples(res);
	dg.users = pl_calloc((size_t)n + 1, sizeof(*dg.users));
	for (i = 0; i < n; i++) {
		snprintf(dg.users[i].user, NS_ID_MAX + 1, "%s", PQgetvalue(res, i, 0));
		snprintf(dg.users[i].team, NS_ID_MAX + 1, "%s", PQgetvalue(res, i, 1));
	}
	dg.nusers = n;
	dg.at = 0;
	dg_next_user();
}

/* dg_cancelled - read or deleted items are gone: who is due */
static void
dg_cancelled(int rv, struct pg_result *res, void *arg)
{
	static const char sql[] = "SELECT i.user_id, i.team_id FROM ns_digest_items i"
	    " GROUP BY i.user_id, i.team_id HAVING min(i.created_ms) <= $1::bigint - $2::bigint"
	    " AND NOT EXISTS (SELECT 1 FROM ns_digests d WHERE d.user_id = i.user_id"
	    " AND d.created_ms > $1::bigint - $3::bigint) ORDER BY min(i.created_ms) LIMIT 10";
	char now[24], delay[24], interval[24];
	const char *p[3];

	(void)arg;
	if (dg.stopping)
		return;
	if (rv == 0) {
		const char *t = PQcmdTuples(res);

		if (t && *t && atoll(t) > 0)
			pl_metrics_add(dg.m_cancelled, (double)atoll(t));
	}
	dg_now(now, 0);
	snprintf(delay, sizeof(delay), "%lld", (long long)ns_conf.digest_delay_s * 1000);
	snprintf(interval, sizeof(interval), "%lld", (long long)ns_conf.digest_interval_s * 1000);
	p[0] = now;
	p[1] = delay;
	p[2] = interval;
	if (pl_pg_query(ns.db, sql, 3, p, dg_due, NULL) != 0)
		dg_end();
}

/* dg_scan - the timer: cancel what was read, compose what is due, send */
static void
dg_scan(void *arg)
{
	static const char sql[] = "DELETE FROM ns_digest_items i WHERE EXISTS (SELECT 1"
	    " FROM ns_markers k WHERE k.user_id = i.user_id AND k.channel = i.channel"
	    " AND k.thread_ts = i.thread_ts AND k.last_read >= i.ts) OR EXISTS (SELECT 1"
	    " FROM ns_log l WHERE l.channel = i.channel AND l.ts = i.ts AND l.deleted)";

	(void)arg;
	if (dg.busy) {
		dg_send_pending();
		return;
	}
	dg.busy = 1;
	if (pl_pg_query(ns.db, sql, 0, NULL, dg_cancelled, NULL) != 0)
		dg.busy = 0;
}

/* dg_counter - parley_notify_digests_total{outcome} */
static struct pl_metric *
dg_counter(const char *outcome)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "outcome=\"%s\"", outcome);
	return pl_metrics_counter("parley_notify_digests_total",
	    "Email digests: sent (the server took it), retried; items: cancelled "
	    "(read or deleted first), dropped (no longer a member, no address), "
	    "mailed (in a digest).", labels);
}

/* ns_digest_start - metrics, HTTP/SMTP, timer (nothing when digests are off) */
int
ns_digest_start(void)
{
	int rv;

	if (ns_conf.smtp_url == NULL || ns_conf.smtp_url[0] == '\0')
		return 0;
	dg.m_sent = dg_counter("sent");
	dg.m_retried = dg_counter("retried");
	dg.m_cancelled = dg_counter("items_cancelled");
	dg.m_dropped = dg_counter("items_dropped");
	dg.m_items = dg_counter("items_mailed");
	if ((rv = ns_http_init(ns.loop)) != 0)
		return rv;
	if ((rv = pl_loop_timer(ns.loop, (uint64_t)ns_conf.digest_scan_ms, 1, dg_scan, NULL,
	    &dg.scan)) != 0)
		return rv;
	pl_log_info("NS-DIGEST", "smtp=%s delay_s=%lld interval_s=%lld", ns_conf.smtp_url,
	    (long long)ns_conf.digest_delay_s, (long long)ns_conf.digest_interval_s);
	return 0;
}

/* ns_digest_stop - timer; callbacks after this return at once */
void
ns_digest_stop(void)
{
	dg.stopping = 1;
	if (dg.scan)
		pl_loop_timer_stop(&dg.scan);
	dg_free_items();
	pl_free(&dg.users);
}
