/* query.h - Slack's search language: text in, a query tree out, and the
 * tree as one parameterized SQL statement over the index (a pure module:
 * no I/O, no globals, fuzzed by tests/fuzz/fuzz_search_query.c).
 *
 * Grammar (tokens separated by ASCII white space):
 *   word                  a word that must appear
 *   "a phrase"            words in this order (an unbalanced quote runs to the end)
 *   -word  -"a phrase"    must not appear
 *   in:#chan  in:chan     in that channel (several in: = any of them)
 *   in:@user              in the caller's DM with user
 *   from:@user  from:me   sent by (several = any of them)
 *   to:me                 a DM to the caller, or a message that mentions the caller
 *   before:D  after:D     strictly before / after the day (or month, year) D
 *   on:D  during:D        within D; D is YYYY-MM-DD, YYYY-MM or YYYY, UTC
 *   has:link  has::emoji: is:thread
 * A modifier with a value it does not understand (has:wings, before:soon) is
 * searched as a word, as Slack does. Invalid UTF-8 and the limits below are
 * errors (Slack-style codes in *err_r); nothing in the text ever reaches SQL
 * other than as a bound parameter. */
#ifndef SI_QUERY_H
#define SI_QUERY_H
#include <stddef.h>
#include <stdint.h>

#define SI_QUERY_MAX_BYTES 2048	/* longer: query_too_long */
#define SI_QUERY_MAX_TERMS 32	/* words + phrases + exclusions: too_many_terms */
#define SI_QUERY_MAX_MODS 16	/* values per modifier (in:, from:, has::e:) */

struct si_term {
	const char *text;	/* NUL-terminated, inside the query's arena */
	int phrase;
	int neg;
};

struct si_query {
	char *arena;		/* every string of the tree; freed by si_query_fini */
	struct si_term terms[SI_QUERY_MAX_TERMS];
	int nterms;
	const char *in_chan[SI_QUERY_MAX_MODS];	/* channel names, no '#' */
	int nin_chan;
	const char *in_user[SI_QUERY_MAX_MODS];	/* user names, no '@' */
	int nin_user;
	const char *from[SI_QUERY_MAX_MODS];	/* user names, no '@' */
	int nfrom;
	int from_me;
	int to_me;
	int64_t after_us;	/* ts_us >= after_us (0: no bound) */
	int64_t before_us;	/* ts_us < before_us (INT64_MAX: no bound) */
	int has_link;
	int is_thread;
	const char *emoji[SI_QUERY_MAX_MODS];	/* reaction names, no colons */
	int nemoji;
};

/* si_query_parse - parse text[0..len); 0 and a tree to free with
 * si_query_fini, or PL_EINVAL with *err_r a Slack-style error code
 * (no_query, query_too_long, too_many_terms, invalid_query) and nothing to free */
int si_query_parse(const char *text, size_t len, struct si_query *q,
    const char **err_r);
void si_query_fini(struct si_query *q);

/* What the caller resolved from message-svc and the directory before the
 * SQL is built. chans is the caller's readable channels already narrowed by
 * in: (empty: nothing can match); users the ids that from: resolved to
 * (used when from_given); dms the caller's DM and group channels (to:me). */
struct si_query_scope {
	const char *team;
	const char *user;
	const char *const *chans;
	int nchans;
	const char *const *from_ids;
	int nfrom_ids;
	int from_given;
	const char *const *dms;
	int ndms;
	int sort_score;		/* else by timestamp */
	int asc;
	int highlight;
	int limit;		/* rows of the page */
	int offset;
	int window;		/* matches considered (and counted) at most */
	int probe_hours;	/* the walk probes the rest after this many hours (0: never) */
};

/* the terms, each phrase's word pairs, the modifiers, the walk and the page */
#define SI_QUERY_MAX_PARAMS (24 + 2 * SI_QUERY_MAX_TERMS + SI_QUERY_MAX_MODS)

/* The statement and its parameters (text; arrays as PostgreSQL array
 * literals). The matches are taken newest first (by time: in the asked
 * direction) up to `window`, then ordered (by score: ts_rank within that
 * window) and paged. Rows: channel_id, ts, user_id, text (highlighted if
 * asked), ts_us, and the window's size (the total) - at least one row: when
 * the page is empty its other columns are NULL. */
struct si_query_sql {
	char *sql;
	int nparams;
	char *params[SI_QUERY_MAX_PARAMS];
};

/* si_query_sql - build the statement for q under scope (heap, free with
 * si_query_sql_fini) */
void si_query_sql(const struct si_query *q, const struct si_query_scope *s,
    struct si_query_sql *r);
void si_query_sql_fini(struct si_query_sql *r);

/* si_query_scored - the order a query is ranked in: by score only when score
 * is asked and it has words (modifiers only: by time) */
int si_query_scored(const struct si_query *q, int sort_score);

/* For a query answered by several instances (gather.c), two statements on
 * each instance's index instead of si_query_sql's one:
 *
 * si_query_sql_keys - the sort keys of this index's part: rows channel_id,
 * ts, ts_us, rank (ts_rank as text; NULL by time), and the window's size (the
 * part's total) - at least one row, the others NULL when nothing matches. By
 * time: the first `limit` matches in the asked order (offset is ignored:
 * the merge pages). By score: every match of the window, the newest
 * `window` (ORDER BY ts_us DESC, channel_id DESC, exactly si_query_sql's
 * window), with its rank: the merge takes the newest `window` of all the
 * parts and ranks them, as si_query_sql does on one index.
 * si_query_sql_rows - the rows the merge put on the page: channel_id, ts,
 * user_id, text (highlighted as si_query_sql does) of the given (channel,
 * ts) pairs of team; deleted ones are left out. */
void si_query_sql_keys(const struct si_query *q, const struct si_query_scope *s,
    struct si_query_sql *r);
void si_query_sql_rows(const struct si_query *q, const char *team,
    const char *const *chans, const char *const *tss, int n, int highlight,
    struct si_query_sql *r);

/* si_query_array - append strs as a PostgreSQL text array literal */
struct pl_buf;
void si_query_array(struct pl_buf *b, const char *const *strs, int n);

/* si_query_date - [lo, hi) in unix microseconds of "YYYY-MM-DD", "YYYY-MM"
 * or "YYYY" (UTC); 0 or -1 if it is not a date */
int si_query_date(const char *s, int64_t *lo_r, int64_t *hi_r);


#endif
