/* query.c - Slack's search language and its SQL (see query.h).
 *
 * The parser copies each token into an arena (at most the query's length
 * plus one NUL per token), so the tree owns its strings and the caller's
 * text may go. The SQL builder writes only fixed fragments and "$n"
 * placeholders; every value (words, names, ids, dates) is a parameter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "mem.h"
#include "query.h"
#include "utf8.h"

#define SI_HL_OPTS "StartSel=\"\xee\x80\x80\", StopSel=\"\xee\x80\x81\", HighlightAll=true"

/* si_query_days - days since 1970-01-01 of a civil date (proleptic Gregorian) */
static int64_t
si_query_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* si_query_digits - n decimal digits at s, or -1 */
static int
si_query_digits(const char *s, int n)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* si_query_date - [lo, hi) of a day, month or year (see query.h) */
int
si_query_date(const char *s, int64_t *lo_r, int64_t *hi_r)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t len = strlen(s);
	int y, m = 1, d = 1, leap;
	int64_t lo, hi;

	if ((len != 4 && len != 7 && len != 10) || (y = si_query_digits(s, 4)) < 1970)
		return -1;
	if (len >= 7 && (s[4] != '-' || (m = si_query_digits(s + 5, 2)) < 1 || m > 12))
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (len == 10 && (s[7] != '-' || (d = si_query_digits(s + 8, 2)) < 1 ||
	    d > mdays[m - 1] || (m == 2 && d == 29 && !leap)))
		return -1;
	lo = si_query_days(y, m, d);
	if (len == 4)
		hi = si_query_days(y + 1, 1, 1);
	else if (len == 7)
		hi = m == 12 ? si_query_days(y + 1, 1, 1) : si_query_days(y, m + 1, 1);
	else
		hi = lo + 1;
	*lo_r = lo * 86400 * 1000000;
	*hi_r = hi * 86400 * 1000000;
	return 0;
}

/* si_query_ws - the separators of tokens */
static int
si_query_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* si_query_add_mod - append v to a modifier list; -1 when full */
static int
si_query_add_mod(const char **list, int *n, const char *v)
{
	if (*n >= SI_QUERY_MAX_MODS)
		return -1;
	list[(*n)++] = v;
	return 0;
}

/* si_query_name - a user or channel reference without its sigil; NULL if empty */
static const char *
si_query_name(const char *v, char sigil)
{
	if (*v == sigil)
		v++;
	return *v ? v : NULL;
}

/* si_query_dates - before:/after:/on:/during: narrow [after_us, before_us);
 * 1 if key is one of them and v a date, 0 if not a date modifier or value */
static int
si_query_dates(struct si_query *q, const char *key, const char *v)
{
	int64_t lo, hi;

	if (strcmp(key, "before") != 0 && strcmp(key, "after") != 0 &&
	    strcmp(key, "on") != 0 && strcmp(key, "during") != 0)
		return 0;
	if (si_query_date(v, &lo, &hi) != 0)
		return 0;
	if (strcmp(key, "before") == 0)
		hi = lo, lo = 0;
	else if (strcmp(key, "after") == 0)
		lo = hi, hi = INT64_MAX;
	if (lo > q->after_us)
		q->after_us = lo;
	if (hi < q->before_us)
		q->before_us = hi;
	return 1;
}

/* si_query_modifier - key:value at tok (in the arena, cut at ':'); 1 taken,
 * 0 not a modifier (a word), -1 over a limit */
static int
si_query_modifier(struct si_query *q, char *tok)
{
	char *colon = strchr(tok, ':');
	const char *v, *name;
	size_t vl;

	if (colon == NULL || colon == tok || colon[1] == '\0')
		return 0;
	*colon = '\0';
	v = colon + 1;
	vl = strlen(v);
	if (strcmp(tok, "in") == 0 && (name = si_query_name(v, v[0] == '@' ? '@' : '#'))) {
		if (v[0] == '@')
			return si_query_add_mod(q->in_user, &q->nin_user, name) ? -1 : 1;
		return si_query_add_mod(q->in_chan, &q->nin_chan, name) ? -1 : 1;
	}
	if (strcmp(tok, "from") == 0 && (name = si_query_name(v, '@'))) {
		if (strcmp(name, "me") == 0) {
			q->from_me = 1;
			return 1;
		}
		return si_query_add_mod(q->from, &q->nfrom, name) ? -1 : 1;
	}
	if (strcmp(tok, "to") == 0 && (strcmp(v, "me") == 0 || strcmp(v, "@me") == 0)) {
		q->to_me = 1;
		return 1;
	}
	if (si_query_dates(q, tok, v))
		return 1;
	if (strcmp(tok, "has") == 0 && strcmp(v, "link") == 0) {
		q->has_link = 1;
		return 1;
	}
	if (strcmp(tok, "has") == 0 && vl > 2 && v[0] == ':' && v[vl - 1] == ':' &&
	    strchr(v + 1, ':') == v + vl - 1) {
		colon[vl] = '\0';	/* the closing colon, in the arena */
		return si_query_add_mod(q->emoji, &q->nemoji, v + 1) ? -1 : 1;
	}
	if (strcmp(tok, "is") == 0 && strcmp(v, "thread") == 0) {
		q->is_thread = 1;
		return 1;
	}
	*colon = ':';
	return 0;
}

/* si_query_term - a word or phrase; -1 when there are too many */
static int
si_query_term(struct si_query *q, const char *text, int phrase, int neg)
{
	if (q->nterms >= SI_QUERY_MAX_TERMS)
		return -1;
	q->terms[q->nterms].text = text;
	q->terms[q->nterms].phrase = phrase;
	q->terms[q->nterms].neg = neg;
	q->nterms++;
	return 0;
}

/* si_query_parse - tokenize and classify (see query.h) */
int
si_query_parse(const char *text, size_t len, struct si_query *q, const char **err_r)
{
	size_t i = 0;
	char *out;
	int rv;

	memset(q, 0, sizeof(*q));
	q->before_us = INT64_MAX;
	if (len > SI_QUERY_MAX_BYTES) {
		*err_r = "query_too_long";
		return PL_EINVAL;
	}
	if (!pl_utf8_valid(text, len)) {
		*err_r = "invalid_query";
		return PL_EINVAL;
	}
	q->arena = out = pl_malloc(len * 2 + 2);
	while (i < len) {
		int neg = 0, phrase = 0;
		char *tok = out;

		while (i < len && si_query_ws(text[i]))
			i++;
		if (i == len)
			break;
		if (text[i] == '-' && i + 1 < len && !si_query_ws(text[i + 1])) {
			neg = 1;
			i++;
		}
		if (text[i] == '"') {
			phrase = 1;
			for (i++; i < len && text[i] != '"'; i++)
				*out++ = text[i];
			i += i < len;	/* the closing quote; unbalanced runs to the end */
		} else {
			for (; i < len && !si_query_ws(text[i]); i++)
				*out++ = text[i];
		}
		*out++ = '\0';
		if (phrase && tok[strspn(tok, " \t\r\n\f\v")] == '\0')
			continue;	/* "" or "   ": nothing to look for */
		rv = !neg && !phrase ? si_query_modifier(q, tok) : 0;
		if (rv == 0)
			rv = si_query_term(q, tok, phrase, neg) ? -1 : 1;
		if (rv < 0) {
			si_query_fini(q);
			*err_r = "too_many_terms";
			return PL_EINVAL;
		}
	}
	if (q->nterms == 0 && q->nin_chan == 0 && q->nin_user == 0 && q->nfrom == 0 &&
	    !q->from_me && !q->to_me && q->after_us == 0 && q->before_us == INT64_MAX &&
	    !q->has_link && !q->is_thread && q->nemoji == 0) {
		si_query_fini(q);
		*err_r = "no_query";
		return PL_EINVAL;
	}
	return 0;
}

/* si_query_fini - free the arena */
void
si_query_fini(struct si_query *q)
{
	pl_free(&q->arena);
	q->nterms = 0;
}

/* si_query_array - a text[] literal: every element quoted, " and \ escaped */
void
si_query_array(struct pl_buf *b, const char *const *strs, int n)
{
	int i;

	pl_buf_puts(b, "{");
	for (i = 0; i < n; i++) {
		const char *s = strs[i];

		pl_buf_puts(b, i ? ",\"" : "\"");
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				pl_buf_append(b, "\\", 1);
			pl_buf_append(b, s, 1);
		}
		pl_buf_puts(b, "\"");
	}
	pl_buf_puts(b, "}");
}

/* si_query_param - add a parameter (copied); its number */
static int
si_query_param(struct si_query_sql *r, const char *v)
{
	r->params[r->nparams] = pl_strdup(v);
	return ++r->nparams;
}

/* si_query_param_array - add an array parameter; its number */
static int
si_query_param_array(struct si_query_sql *r, const char *const *strs, int n)
{
	struct pl_buf b;

	pl_buf_init(&b);
	si_query_array(&b, strs, n);
	r->params[r->nparams] = pl_buf_steal(&b, NULL);
	return ++r->nparams;
}

/* si_query_tsquery - the words and phrases as one tsquery expression, or
 * nothing when the query has none (only modifiers) */
static void
si_query_tsquery(const struct si_query *q, struct si_query_sql *r, struct pl_buf *b)
{
	int i, n;

	for (i = 0; i < q->nterms; i++) {
		const struct si_term *t = &q->terms[i];

		n = si_query_param(r, t->text);
		pl_buf_printf(b, "%s%s%s('simple', $%d)", i ? " && " : "", t->neg ? "!!" : "",
		    t->phrase ? "phraseto_tsquery" : "plainto_tsquery", n);
	}
}

/* si_query_bigrams - 1 when phrase is at least two words of ASCII letters
 * and digits (at most 64 each) separated by white space: to_tsvector makes
 * exactly one lexeme of each, so si_bigrams (schema.c) of the phrase is
 * never empty and never cut, and the messages that hold the phrase are
 * among those whose bg holds all its word pairs. Other phrases (punctuation,
 * other scripts) are found by their words alone. */
static int
si_query_bigrams(const char *phrase)
{
	int words = 0, len = 0;
	const char *p;

	for (p = phrase;; p++) {
		if (*p == '\0' || si_query_ws(*p)) {
			words += len > 0;
			len = 0;
			if (*p == '\0')
				break;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9')) || ++len > 64)
			return 0;
	}
	return words >= 2;
}

/* si_query_range - the query's dates as conditions on column col */
static void
si_query_range(const struct si_query *q, struct si_query_sql *r, struct pl_buf *b,
    const char *col)
{
	char num[24];

	if (q->after_us > 0) {
		snprintf(num, sizeof(num), "%lld", (long long)q->after_us);
		pl_buf_printf(b, " AND %s >= $%d::bigint", col, si_query_param(r, num));
	}
	if (q->before_us < INT64_MAX) {
		snprintf(num, sizeof(num), "%lld", (long long)q->before_us);
		pl_buf_printf(b, " AND %s < $%d::bigint", col, si_query_param(r, num));
	}
}

/* si_query_where - the filters shared by both statements */
static void
si_query_where(const struct si_query *q, const struct si_query_scope *s,
    struct si_query_sql *r, struct pl_buf *w, int has_tsq)
{
	int i, n;

	n = si_query_param(r, s->team);
	pl_buf_printf(w, " WHERE m.team_id = $%d", n);
	n = si_query_param_array(r, s->chans, s->nchans);
	pl_buf_printf(w, " AND m.channel_id = ANY ($%d::text[]) AND NOT m.deleted", n);
	if (has_tsq)
		pl_buf_puts(w, " AND m.tsv @@ q.q");
	for (i = 0; i < q->nterms; i++)
		if (q->terms[i].phrase && !q->terms[i].neg && si_query_bigrams(q->terms[i].text))
			pl_buf_printf(w, " AND m.bg @> si_bigrams(to_tsvector('simple', $%d))",
			    si_query_param(r, q->terms[i].text));
	if (s->from_given || q->from_me) {
		n = si_query_param_array(r, s->from_ids, s->nfrom_ids);
		pl_buf_printf(w, " AND (m.user_id = ANY ($%d::text[])", n);
		if (q->from_me) {
			n = si_query_param(r, s->user);
			pl_buf_printf(w, " OR m.user_id = $%d", n);
		}
		pl_buf_puts(w, ")");
	}
	if (q->to_me) {
		int u = si_query_param(r, s->user);

		n = si_query_param_array(r, s->dms, s->ndms);
		pl_buf_printf(w, " AND ((m.channel_id = ANY ($%d::text[]) AND m.user_id <> $%d)"
		    " OR m.mentions @> ARRAY[$%d::text])", n, u, u);
	}
	si_query_range(q, r, w, "m.ts_us");
	if (q->has_link)
		pl_buf_puts(w, " AND m.has_link");
	if (q->is_thread)
		pl_buf_puts(w, " AND m.thread_ts <> ''");
	for (i = 0; i < q->nemoji; i++)
		pl_buf_printf(w, " AND EXISTS (SELECT 1 FROM search_reactions x WHERE"
		    " x.channel_id = m.channel_id AND x.ts = m.ts AND x.name = $%d)",
		    si_query_param(r, q->emoji[i]));
}

/* si_query_walks - whether q's matches are found by walking time blocks:
 * it has a word or phrase that must appear (the index finds a block's
 * matches of it) and no from:, in: or to:me (their own indexes or the
 * channel narrow the candidates to few: one scan, sorted, is cheaper) */
static int
si_query_walks(const struct si_query *q, const struct si_query_scope *s)
{
	int i, pos = 0;

	for (i = 0; i < q->nterms; i++)
		pos |= !q->terms[i].neg;
	return pos && !s->from_given && !q->from_me && !q->to_me && q->nin_chan == 0 &&
	    q->nin_user == 0;
}

/* si_query_walk - the CTEs of the block walk (schema.c migration 2), after
 * `q`, that find the window: the first `window` matches in the walk's time
 * order (desc: newest first), as row ids (the statement's snapshot).
 *   e     the first and last hour of the team's messages within the
 *         query's dates;
 *   b     the blocks (i, k) covering them, in walk order (si_walk);
 *   c     one row per step, s the blocks still to walk (a stack), n the
 *         matches taken so far, t the row ids this step took, h the hours
 *         of the blocks taken whole, r the hours of e, p whether the rest
 *         was probed. A step reads at most 4 * need + 1 matches of the
 *         block on top (need = window - n, in no order, each with its sort
 *         key): if they are at most need, it takes them all; if at most
 *         4 * need, they are all of the block's and it takes their first
 *         need in the walk's order, which ends the walk; else it replaces
 *         the block by its four sub-blocks (si_children), and an hour
 *         (level 0) takes its first need, sorted. Once the density is
 *         known (probe_hours > 0 walked), a block expected to hold more than
 *         4 * need (n / h * its hours) is split without being read. It
 *         stops when n = window or nothing is left;
 *   z     the probe: once at least s->probe_hours hours were taken and the
 *         matches so far, spread over the hours left, would be at most
 *         twice need (n * (r - h) <= 2 * need * h), one step reads the
 *         whole stack at once (the hours of its blocks: older than the
 *         block on top's end, or from its start by time ascending; the
 *         words' GIN scan alone, the hours checked on the rows, the n rows
 *         already taken read again), taken as one block: all of it or its
 *         first need; if it holds more than
 *         4 * need, nothing is taken and the walk goes on as if it had not
 *         probed (once) - a sparse word pair is one scan instead of a step
 *         per block;
 *   walk  n (min(matches, window): the total) and t (every row id taken).
 * Blocks are disjoint and walked in time order, so every match taken is
 * newer than every match not taken: t is exactly "the first `window`
 * matches", whatever order PostgreSQL reads a block's rows in, probe or
 * not; one statement, one snapshot. A step costs a GIN scan of (words,
 * block keys) and at most 4 * need + 1 heap visits, and a block is split at
 * most 8 times. */
static void
si_query_walk(const struct si_query *q, const struct si_query_scope *s,
    struct si_query_sql *r, const char *w, int desc, int win, struct pl_buf *b)
{
	const char *d = desc ? "DESC" : "ASC", *pd = desc ? "true" : "false";
	char v[24];
	int ph;

	pl_buf_printf(b, ", e AS MATERIALIZED (SELECT si_hour(min(ts_us)) AS a,"
	    " si_hour(max(ts_us)) AS z FROM search_messages WHERE team_id = $%d",
	    si_query_param(r, s->team));
	si_query_range(q, r, b, "ts_us");
	snprintf(v, sizeof(v), "%d", s->probe_hours > 0 ? s->probe_hours : 0);
	ph = si_query_param(r, v);
	pl_buf_printf(b, "), b AS MATERIALIZED (SELECT x.i, x.k FROM e, si_walk(e.a, e.z, %s) x),"
	    " c (s, n, t, h, r, p) AS (SELECT coalesce((SELECT array_agg(b.k ORDER BY b.i)"
	    " FROM b), '{}'::int[]), 0::bigint, '{}'::tid[], 0::bigint,"
	    " coalesce((SELECT e.z - e.a + 1 FROM e), 0)::bigint, $%d::int = 0"
	    " UNION ALL SELECT"
	    " CASE WHEN z.sp THEN si_children(c.s[1], %s) || c.s[2:]"
	    " WHEN x.cnt <= $%d::int - c.n AND NOT z.pr THEN c.s[2:]"
	    " WHEN x.cnt <= 4 * ($%d::int - c.n) THEN '{}'::int[]"
	    " WHEN z.pr THEN c.s"
	    " WHEN c.s[1] >= 16777216 THEN si_children(c.s[1], %s) || c.s[2:]"
	    " ELSE '{}'::int[] END,"
	    " CASE WHEN z.sp THEN c.n WHEN x.cnt <= $%d::int - c.n THEN c.n + x.cnt"
	    " WHEN x.cnt <= 4 * ($%d::int - c.n) THEN $%d::bigint"
	    " WHEN z.pr OR c.s[1] >= 16777216 THEN c.n ELSE $%d::bigint END,"
	    " CASE WHEN z.sp THEN '{}'::tid[] WHEN x.cnt <= $%d::int - c.n THEN x.t"
	    " WHEN x.cnt <= 4 * ($%d::int - c.n) THEN x.t[1:$%d::int - c.n]"
	    " WHEN z.pr OR c.s[1] >= 16777216 THEN '{}'::tid[]"
	    " ELSE (SELECT array_agg(y.ctid) FROM (SELECT m.ctid FROM search_messages m, q%s"
	    " AND m.tb @> ARRAY[c.s[1]] ORDER BY m.ts_us + 0 %s, m.channel_id %s"
	    " LIMIT $%d::int - c.n) y) END,"
	    " CASE WHEN NOT z.pr AND NOT z.sp AND x.cnt <= $%d::int - c.n"
	    " THEN c.h + (1::bigint << (2 * (c.s[1] >> 24))) ELSE c.h END,"
	    " c.r, c.p OR z.pr"
	    " FROM c, LATERAL (SELECT a.pr, NOT a.pr AND $%d::int > 0 AND c.h >= $%d::int"
	    " AND c.s[1] >= 16777216"
	    " AND c.n * (1::bigint << (2 * (c.s[1] >> 24))) > 4 * ($%d::int - c.n) * c.h AS sp"
	    " FROM (SELECT NOT c.p AND cardinality(c.s) > 1 AND c.h >= $%d::int"
	    " AND c.n * greatest(c.r - c.h, 1) <= 2 * ($%d::int - c.n) * c.h AS pr) a) z,"
	    " LATERAL (SELECT count(*) AS cnt, coalesce(array_agg(y.ctid ORDER BY y.ts_us %s,"
	    " y.channel_id %s), '{}') AS t FROM ((SELECT m.ctid, m.ts_us, m.channel_id"
	    " FROM search_messages m, q%s AND m.tb @> ARRAY[c.s[1]] LIMIT CASE WHEN z.pr"
	    " OR z.sp THEN 0 ELSE 4 * ($%d::int - c.n) + 1 END) UNION ALL (SELECT m.ctid, m.ts_us,"
	    " m.channel_id FROM search_messages m, q%s AND si_hour(m.ts_us) %s"
	    " ((c.s[1] & 16777215) + %d) << (2 * (c.s[1] >> 24)) LIMIT CASE WHEN z.pr"
	    " THEN 4 * ($%d::int - c.n) + 1 ELSE 0 END)) y) x"
	    " WHERE c.n < $%d::int AND cardinality(c.s) > 0),"
	    " walk AS MATERIALIZED (SELECT (SELECT max(c.n) FROM c) AS n,"
	    " (SELECT array_agg(u) FROM c, unnest(c.t) u) AS t)",
	    pd, ph, pd, win, win, pd, win, win, win, win, win, win, win, w, d, d, win, win,
	    ph, ph, win, ph, win, d, d, w, win, w, desc ? "<" : ">=", desc ? 1 : 0, win, win);
}

/* si_query_sql - one statement: the window of matches, its size, and the
 * page ordered within it (see query.h). A word query walks time blocks
 * (si_query_walk) so that only the blocks that hold the window are read;
 * the others are one scan of their indexes. */
void
si_query_sql(const struct si_query *q, const struct si_query_scope *s,
    struct si_query_sql *r)
{
	struct pl_buf tsq, w, sql, hlx, walk;
	int has_tsq, score, hl = 0, win, lim, off;
	const char *dir = s->asc ? "ASC" : "DESC";
	char v[24];

	memset(r, 0, sizeof(*r));
	pl_buf_init(&tsq);
	pl_buf_init(&w);
	pl_buf_init(&sql);
	pl_buf_init(&hlx);
	pl_buf_init(&walk);
	si_query_tsquery(q, r, &tsq);
	has_tsq = tsq.len > 0;
	score = s->sort_score && has_tsq;
	si_query_where(q, s, r, &w, has_tsq);
	snprintf(v, sizeof(v), "%d", s->window);
	win = si_query_param(r, v);
	snprintf(v, sizeof(v), "%d", s->limit);
	lim = si_query_param(r, v);
	snprintf(v, sizeof(v), "%d", s->offset);
	off = si_query_param(r, v);
	if (s->highlight && has_tsq)
		hl = si_query_param(r, SI_HL_OPTS);
	if (hl)
		pl_buf_printf(&hlx, "ts_headline('simple', h.text, q.q, $%d)", hl);
	else
		pl_buf_puts(&hlx, "h.text");
	if (si_query_walks(q, s)) {
		/* the window is the first matches of the walk (newest first, or
		 * oldest first for sort=timestamp&sort_dir=asc); by score they
		 * are ranked, by time the page is their first rows */
		si_query_walk(q, s, r, w.data, score || !s->asc, win, &walk);
		pl_buf_printf(&sql, "WITH RECURSIVE q AS NOT MATERIALIZED (SELECT %s AS q)%s,"
		    " hits AS MATERIALIZED (SELECT m.channel_id, m.ts, m.user_id, m.text,"
		    " m.ts_us, m.tsv FROM search_messages m WHERE m.team_id = $%d AND"
		    " m.ctid = ANY ((SELECT walk.t FROM walk)::tid[]) ORDER BY m.ts_us %s,"
		    " m.channel_id %s LIMIT ", tsq.data, walk.data, si_query_param(r, s->team),
		    score ? "DESC" : dir, score ? "DESC" : dir);
		if (score)
			pl_buf_printf(&sql, "$%d::int)", win);
		else
			pl_buf_printf(&sql, "$%d::int + $%d::int)", lim, off);
		pl_buf_printf(&sql, " SELECT h.channel_id, h.ts, h.user_id, %s, h.ts_us,"
		    " coalesce(walk.n, 0) FROM q, walk LEFT JOIN LATERAL (SELECT hits.* FROM hits,"
		    " q ORDER BY ", hlx.data);
		if (score)
			pl_buf_printf(&sql, "ts_rank(hits.tsv, q.q) %s, ", dir);
		pl_buf_printf(&sql, "hits.ts_us %s, hits.channel_id %s LIMIT $%d::int"
		    " OFFSET $%d::int) h ON true", dir, dir, lim, off);
	} else if (score) {
		/* ranked among the newest `window` matches, which are counted */
		pl_buf_printf(&sql, "WITH q AS NOT MATERIALIZED (SELECT %s AS q), hits AS MATERIALIZED"
		    " (SELECT m.channel_id, m.ts, m.user_id, m.text, m.ts_us, m.tsv"
		    " FROM search_messages m, q%s ORDER BY m.ts_us DESC, m.channel_id DESC"
		    " LIMIT $%d::int) SELECT h.channel_id, h.ts, h.user_id, %s, h.ts_us, c.n"
		    " FROM q, (SELECT count(*) AS n FROM hits) c LEFT JOIN LATERAL"
		    " (SELECT hits.* FROM hits, q ORDER BY ts_rank(hits.tsv, q.q) %s,"
		    " hits.ts_us %s, hits.channel_id %s LIMIT $%d::int OFFSET $%d::int) h ON true",
		    tsq.data, w.data, win, hlx.data, dir, dir, dir, lim, off);
	} else {
		/* the page straight from the time order (an index scan that stops
		 * early), and a count of any `window` matches (no order needed) */
		pl_buf_printf(&sql, "WITH q AS NOT MATERIALIZED (SELECT %s AS q) SELECT h.channel_id, h.ts,"
		    " h.user_id, %s, h.ts_us, c.n FROM q, (SELECT count(*) AS n FROM (SELECT 1"
		    " FROM search_messages m, q%s LIMIT $%d::int) x) c LEFT JOIN LATERAL"
		    " (SELECT m.channel_id, m.ts, m.user_id, m.text, m.ts_us FROM search_messages m,"
		    " q%s ORDER BY m.ts_us %s, m.channel_id %s LIMIT $%d::int OFFSET $%d::int)"
		    " h ON true", has_tsq ? tsq.data : "NULL::tsquery", hlx.data, w.data, win,
		    w.data, dir, dir, lim, off);
	}
	r->sql = pl_buf_steal(&sql, NULL);
	pl_buf_fini(&tsq);
	pl_buf_fini(&w);
	pl_buf_fini(&hlx);
	pl_buf_fini(&walk);
}

/* si_query_sql_fini - free the statements and parameters */
void
si_query_sql_fini(struct si_query_sql *r)
{
	int i;

	for (i = 0; i < r->nparams; i++)
		pl_free(&r->params[i]);
	pl_free(&r->sql);
	r->nparams = 0;
}

/* si_query_scored - by score only when asked and there are words (see query.h) */
int
si_query_scored(const struct si_query *q, int sort_score)
{
	return sort_score && q->nterms > 0;
}

/* si_query_sql_keys - one part's sort keys and total (see query.h) */
void
si_query_sql_keys(const struct si_query *q, const struct si_query_scope *s,
    struct si_query_sql *r)
{
	struct pl_buf tsq, w, sql;
	const char *dir = s->asc ? "ASC" : "DESC";
	int win, lim;
	char v[24];

	memset(r, 0, sizeof(*r));
	pl_buf_init(&tsq);
	pl_buf_init(&w);
	pl_buf_init(&sql);
	si_query_tsquery(q, r, &tsq);
	si_query_where(q, s, r, &w, tsq.len > 0);
	snprintf(v, sizeof(v), "%d", s->window);
	win = si_query_param(r, v);
	if (si_query_walks(q, s)) {
		/* the window from the block walk, as si_query_sql's (by score
		 * every row of it, by time its first `limit`) */
		int sc = si_query_scored(q, s->sort_score), t;
		struct pl_buf walk;

		pl_buf_init(&walk);
		si_query_walk(q, s, r, w.data, sc || !s->asc, win, &walk);
		t = si_query_param(r, s->team);
		snprintf(v, sizeof(v), "%d", sc ? s->window : s->limit);
		lim = si_query_param(r, v);
		pl_buf_printf(&sql, "WITH RECURSIVE q AS NOT MATERIALIZED (SELECT %s AS q)%s,"
		    " hits AS MATERIALIZED (SELECT m.channel_id, m.ts, m.ts_us, %s AS r FROM"
		    " search_messages m, q WHERE m.team_id = $%d AND m.ctid = ANY ((SELECT walk.t"
		    " FROM walk)::tid[]) ORDER BY m.ts_us %s, m.channel_id %s LIMIT $%d::int)"
		    " SELECT h.channel_id, h.ts, h.ts_us, h.r, coalesce(walk.n, 0) FROM walk"
		    " LEFT JOIN hits h ON true", tsq.data, walk.data,
		    sc ? "ts_rank(m.tsv, q.q)::text" : "NULL::text", t, sc ? "DESC" : dir,
		    sc ? "DESC" : dir, lim);
		pl_buf_fini(&walk);
	} else if (si_query_scored(q, s->sort_score))
		pl_buf_printf(&sql, "WITH q AS NOT MATERIALIZED (SELECT %s AS q), hits AS"
		    " MATERIALIZED (SELECT m.channel_id, m.ts, m.ts_us, ts_rank(m.tsv, q.q) AS r"
		    " FROM search_messages m, q%s ORDER BY m.ts_us DESC, m.channel_id DESC"
		    " LIMIT $%d::int) SELECT h.channel_id, h.ts, h.ts_us, h.r::text, c.n"
		    " FROM (SELECT count(*) AS n FROM hits) c LEFT JOIN hits h ON true",
		    tsq.data, w.data, win);
	else {
		snprintf(v, sizeof(v), "%d", s->limit);
		lim = si_query_param(r, v);
		pl_buf_printf(&sql, "WITH q AS NOT MATERIALIZED (SELECT %s AS q) SELECT"
		    " h.channel_id, h.ts, h.ts_us, NULL::text, c.n FROM q, (SELECT count(*) AS n"
		    " FROM (SELECT 1 FROM search_messages m, q%s LIMIT $%d::int) x) c LEFT JOIN"
		    " LATERAL (SELECT m.channel_id, m.ts, m.ts_us FROM search_messages m, q%s"
		    " ORDER BY m.ts_us %s, m.channel_id %s LIMIT $%d::int) h ON true",
		    tsq.len > 0 ? tsq.data : "NULL::tsquery", w.data, win, w.data, dir, dir, lim);
	}
	r->sql = pl_buf_steal(&sql, NULL);
	pl_buf_fini(&tsq);
	pl_buf_fini(&w);
}

/* si_query_sql_rows - the page's rows by (channel, ts) (see query.h) */
void
si_query_sql_rows(const struct si_query *q, const char *team,
    const char *const *chans, const char *const *tss, int n, int highlight,
    struct si_query_sql *r)
{
	struct pl_buf tsq, sql;
	int t, c, k, hl = 0;

	memset(r, 0, sizeof(*r));
	pl_buf_init(&tsq);
	pl_buf_init(&sql);
	si_query_tsquery(q, r, &tsq);
	t = si_query_param(r, team);
	c = si_query_param_array(r, chans, n);
	k = si_query_param_array(r, tss, n);
	if (highlight && tsq.len > 0)
		hl = si_query_param(r, SI_HL_OPTS);
	pl_buf_printf(&sql, "WITH q AS NOT MATERIALIZED (SELECT %s AS q) SELECT m.channel_id,"
	    " m.ts, m.user_id, ", tsq.len > 0 ? tsq.data : "NULL::tsquery");
	if (hl)
		pl_buf_printf(&sql, "ts_headline('simple', m.text, q.q, $%d)", hl);
	else
		pl_buf_puts(&sql, "m.text");
	pl_buf_printf(&sql, " FROM q, unnest($%d::text[], $%d::text[]) AS k(c, t),"
	    " search_messages m WHERE m.team_id = $%d AND m.channel_id = k.c AND m.ts = k.t"
	    " AND NOT m.deleted", c, k, t);
	r->sql = pl_buf_steal(&sql, NULL);
	pl_buf_fini(&tsq);
}
