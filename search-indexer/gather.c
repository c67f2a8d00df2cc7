/* gather.c - a query over several instances: scatter, exact merge, gather.
 *
 * Instance i of N indexes only the partitions p % N == i (index.c), so a
 * team's messages are spread over every instance. The instance the gateway
 * picked (the coordinator) resolves the caller's permissions and names
 * once (answer.c), then:
 *   1. keys: it asks every instance - itself on its own database, the
 *      others with the internal method search.partial - for its part's sort
 *      keys and total (si_query_sql_keys): by time its first page*count
 *      matches, by score every match of its window with its ts_rank;
 *   2. merge: by time, the parts' keys in the asked order; by score, the
 *      newest `window` keys of all the parts (the window one index would
 *      have taken) ranked by (rank, ts_us, channel). ts_rank uses no corpus
 *      statistics: an instance ranks a message as one index holding
 *      everything would, so the page and the total are exactly one index's;
 *   3. rows: it asks the instances that hold the page's messages for their
 *      user and text (search.rows; highlighted there), in the merged order.
 * An instance that does not answer within PARLEY_SEARCH_PEER_TIMEOUT_MS, or
 * answers an error, fails the whole query (service_unavailable, or the
 * instance's error): never a partial result. Counted per instance in
 * parley_search_peer_errors_total.
 *
 * search.partial and search.rows are internal: a request that came through
 * a gateway (it names its source) is refused with unknown_method (the
 * gateway routes only search.messages here anyway). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "parley.pb-c.h"
#include "pg.h"
#include "query.h"
#include "rpc.h"
#include "search.h"
#include "search_clnt.h"
#include "slack_err.h"

/* one sort key of a part */
struct si_key {
	char *chan, *ts;
	int64_t ts_us;
	float rank;
	int inst;
};

/* what one instance answered */
struct si_part {
	int64_t total;
	struct si_key *keys;
	int nkeys;
};

struct si_gather;

/* a call to instance inst (the callback's argument) */
struct si_gather_call {
	struct si_gather *g;
	int inst;
};

struct si_gather {
	const char *text;		/* the query, for the peers (borrowed) */
	const struct si_query *q;	/* borrowed until done */
	const struct si_query_scope *s;
	int scored;
	si_gather_done done;
	void *arg;
	int n;				/* instances */
	int pending;			/* calls not answered (+1 while launching) */
	const char *error;		/* the first failure */
	struct si_gather_call *calls;
	struct si_part *parts;
	struct si_key **page;		/* the merged page (into parts) */
	int npage;
	struct si_row *rows;		/* by page position; channel NULL = gone */
	int64_t total;
};

/* si_gather_free - everything but what was handed to done */
static void
si_gather_free(struct si_gather *g)
{
	int i, k;

	for (i = 0; i < g->n; i++) {
		for (k = 0; k < g->parts[i].nkeys; k++) {
			free(g->parts[i].keys[k].chan);
			free(g->parts[i].keys[k].ts);
		}
		free(g->parts[i].keys);
	}
	for (k = 0; g->rows != NULL && k < g->npage; k++) {
		free(g->rows[k].channel);
		free(g->rows[k].ts);
		free(g->rows[k].user);
		free(g->rows[k].text);
	}
	free(g->rows);
	free(g->page);
	free(g->parts);
	free(g->calls);
	free(g);
}

/* si_gather_fail - remember the first failure of a call to inst */
static void
si_gather_fail(struct si_gather *g, int inst, int rv, const char *error)
{
	if (inst != si_conf.index)
		pl_metrics_inc(si.peer_err[inst]);
	pl_log_warn("SI-GATHER-FAIL", "instance=%d err=%s error=%s", inst, pl_err_str(rv),
	    error ? error : "");
	if (g->error == NULL)
		g->error = error != NULL && error[0] != '\0' ? error :
		    inst == si_conf.index ? "internal_error" : pl_slack_rpc_error(rv);
}

/* si_gather_finish - hand the rows in page order (the ones still there) */
static void
si_gather_finish(struct si_gather *g)
{
	struct si_row *rows;
	int k, n = 0;

	if (g->error != NULL) {
		g->done(g->error, NULL, 0, 0, g->arg);
		si_gather_free(g);
		return;
	}
	rows = pl_calloc((size_t)g->npage + 1, sizeof(*rows));
	for (k = 0; k < g->npage; k++)
		if (g->rows[k].channel != NULL) {
			rows[n++] = g->rows[k];
			memset(&g->rows[k], 0, sizeof(g->rows[k]));
		}
	g->done(NULL, rows, n, g->total, g->arg);
	si_gather_free(g);
}

/* si_gather_row - one row of instance inst into its page position */
static void
si_gather_row(struct si_gather *g, int inst, const char *chan, const char *ts,
    const char *user, const char *text)
{
	int k;

	for (k = 0; k < g->npage; k++) {
		const struct si_key *e = g->page[k];

		if (e->inst == inst && g->rows[k].channel == NULL &&
		    strcmp(e->chan, chan) == 0 && strcmp(e->ts, ts) == 0) {
			g->rows[k].channel = pl_strdup(chan);
			g->rows[k].ts = pl_strdup(ts);
			g->rows[k].user = pl_strdup(user);
			g->rows[k].text = pl_strdup(text);
			return;
		}
	}
}

/* si_gather_rows_left - one call of the rows step answered */
static void
si_gather_rows_left(struct si_gather *g)
{
	if (--g->pending == 0)
		si_gather_finish(g);
}

/* si_gather_rows_local - this instance's rows of the page */
static void
si_gather_rows_local(int rv, struct pg_result *res, void *arg)
{
	struct si_gather_call *call = arg;
	int i;

	if (rv != 0 || PQnfields(res) != 4)
		si_gather_fail(call->g, call->inst, rv ? rv : PL_EPROTO, NULL);
	else
		for (i = 0; i < PQntuples(res); i++)
			si_gather_row(call->g, call->inst, PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	si_gather_rows_left(call->g);
}

/* si_gather_rows_peer - a peer's rows of the page: {"rows":[[c,ts,u,text],..]} */
static void
si_gather_rows_peer(int rv, Parley__Reply *reply, void *arg)
{
	struct si_gather_call *call = arg;
	cJSON *o = NULL, *rows, *e;

	if (rv != 0 || reply == NULL || !reply->ok) {
		si_gather_fail(call->g, call->inst, rv ? rv : PL_EPROTO, reply ? reply->error : NULL);
	} else if ((o = cJSON_Parse(reply->json)) == NULL ||
	    !cJSON_IsArray(rows = cJSON_GetObjectItem(o, "rows"))) {
		si_gather_fail(call->g, call->inst, PL_EPROTO, NULL);
	} else {
		cJSON_ArrayForEach(e, rows) {
			const char *v[4];
			int k;

			for (k = 0; k < 4; k++) {
				const cJSON *x = cJSON_GetArrayItem(e, k);

				v[k] = cJSON_IsString(x) ? x->valuestring : NULL;
			}
			if (v[0] && v[1] && v[2] && v[3])
				si_gather_row(call->g, call->inst, v[0], v[1], v[2], v[3]);
		}
	}
	cJSON_Delete(o);
	si_gather_rows_left(call->g);
}

/* si_gather_rows_of - ask instance inst for its rows of the page */
static int
si_gather_rows_of(struct si_gather *g, int inst)
{
	const char **chans = pl_calloc((size_t)g->npage + 1, sizeof(*chans));
	const char **tss = pl_calloc((size_t)g->npage + 1, sizeof(*tss));
	int k, n = 0, rv;

	for (k = 0; k < g->npage; k++)
		if (g->page[k]->inst == inst) {
			chans[n] = g->page[k]->chan;
			tss[n++] = g->page[k]->ts;
		}
	if (n == 0) {
		rv = 1;		/* nothing to ask */
	} else if (inst == si_conf.index) {
		struct si_query_sql sql;

		si_query_sql_rows(g->q, g->s->team, chans, tss, n, g->s->highlight, &sql);
		rv = pl_pg_query(si_pool_pg(), sql.sql, sql.nparams,
		    (const char *const *)sql.params, si_gather_rows_local, &g->calls[inst]);
		si_query_sql_fini(&sql);
	} else {
		Parley__Request req;
		Parley__Caller caller = PARLEY__CALLER__INIT;
		struct pl_buf b;

		pl_buf_init(&b);
		pl_buf_puts(&b, "[");
		for (k = 0; k < n; k++) {
			pl_buf_puts(&b, k ? ",[" : "[");
			pl_buf_json_str(&b, chans[k]);
			pl_buf_puts(&b, ",");
			pl_buf_json_str(&b, tss[k]);
			pl_buf_puts(&b, "]");
		}
		pl_buf_puts(&b, "]");
		pl_request_init(&req, "search.rows");
		caller.user = (char *)g->s->user;
		caller.team = (char *)g->s->team;
		req.caller = &caller;
		pl_request_param(&req, "query", g->text);
		pl_request_param(&req, "highlight", g->s->highlight ? "true" : "false");
		pl_request_param(&req, "rows", b.data);
		rv = pl_search_clnt_call_to(si.peers, inst, &req, si_gather_rows_peer,
		    &g->calls[inst]);
		req.caller = NULL;
		pl_request_fini(&req);
		pl_buf_fini(&b);
	}
	free(chans);
	free(tss);
	return rv;
}

/* si_gather_rows - the rows step: every instance holding part of the page */
static void
si_gather_rows(struct si_gather *g)
{
	int i, rv;

	g->rows = pl_calloc((size_t)g->npage + 1, sizeof(*g->rows));
	g->pending = 1;
	for (i = 0; i < g->n; i++) {
		g->pending++;
		if ((rv = si_gather_rows_of(g, i)) != 0) {
			if (rv < 0)
				si_gather_fail(g, i, rv, NULL);
			g->pending--;
		}
	}
	si_gather_rows_left(g);
}

/* si_gather_cmp_time - by (ts_us, channel), in the direction *asc says */
static int
si_gather_cmp_time(const void *a, const void *b, void *asc)
{
	const struct si_key *x = *(struct si_key *const *)a, *y = *(struct si_key *const *)b;
	int c = x->ts_us < y->ts_us ? -1 : x->ts_us > y->ts_us ? 1 : strcmp(x->chan, y->chan);

	return *(int *)asc ? c : -c;
}

/* si_gather_cmp_rank - by (rank, ts_us, channel), in the direction *asc says */
static int
si_gather_cmp_rank(const void *a, const void *b, void *asc)
{
	const struct si_key *x = *(struct si_key *const *)a, *y = *(struct si_key *const *)b;

	if (x->rank != y->rank)
		return (x->rank < y->rank) == (*(int *)asc != 0) ? -1 : 1;
	return si_gather_cmp_time(a, b, asc);
}

/* si_gather_merge - the page and the total from every part (see the top) */
static void
si_gather_merge(struct si_gather *g)
{
	struct si_key **all;
	int i, k, n = 0, desc = 0, asc = g->s->asc;
	int64_t sum = 0;

	for (i = 0; i < g->n; i++) {
		n += g->parts[i].nkeys;
		sum += g->parts[i].total;
	}
	all = pl_calloc((size_t)n + 1, sizeof(*all));
	for (n = 0, i = 0; i < g->n; i++)
		for (k = 0; k < g->parts[i].nkeys; k++)
			all[n++] = &g->parts[i].keys[k];
	g->total = sum < g->s->window ? sum : g->s->window;
	if (g->scored) {
		/* the window: the newest `window` of all, then ranked */
		qsort_r(all, (size_t)n, sizeof(*all), si_gather_cmp_time, &desc);
		if (n > g->s->window)
			n = g->s->window;
		qsort_r(all, (size_t)n, sizeof(*all), si_gather_cmp_rank, &asc);
	} else {
		qsort_r(all, (size_t)n, sizeof(*all), si_gather_cmp_time, &asc);
	}
	g->page = pl_calloc((size_t)g->s->limit + 1, sizeof(*g->page));
	for (k = g->s->offset; k < n && g->npage < g->s->limit; k++)
		g->page[g->npage++] = all[k];
	free(all);
	pl_log_debug("SI-GATHER-MERGE", "keys=%d total=%lld page=%d", n,
	    (long long)g->total, g->npage);
}

/* si_gather_keys_left - one call of the keys step answered: merge when all
 * have, then the rows */
static void
si_gather_keys_left(struct si_gather *g)
{
	if (--g->pending > 0)
		return;
	if (g->error != NULL) {
		si_gather_finish(g);
		return;
	}
	si_gather_merge(g);
	if (g->npage == 0) {
		si_gather_finish(g);
		return;
	}
	si_gather_rows(g);
}

/* si_gather_key_set - fill key e (strings copied) */
static void
si_gather_key_set(struct si_key *e, int inst, const char *chan, const char *ts,
    const char *ts_us, const char *rank)
{
	e->inst = inst;
	e->chan = pl_strdup(chan);
	e->ts = pl_strdup(ts);
	e->ts_us = strtoll(ts_us, NULL, 10);
	e->rank = rank ? strtof(rank, NULL) : 0;
}

/* si_gather_keys_res - a keys statement's result into part (see query.h):
 * 0, or PL_EPROTO when it is not one */
static int
si_gather_keys_res(const PGresult *res, struct si_part *part, int inst)
{
	int i, n = PQntuples(res);

	if (n < 1 || PQnfields(res) != 5)
		return PL_EPROTO;
	part->total = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	part->keys = pl_calloc((size_t)n, sizeof(*part->keys));
	for (i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 0))
			continue;	/* nothing matched: the one row */
		si_gather_key_set(&part->keys[part->nkeys++], inst, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		    PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
	}
	return 0;
}

/* si_gather_keys_local - this instance's part */
static void
si_gather_keys_local(int rv, struct pg_result *res, void *arg)
{
	struct si_gather_call *call = arg;

	if (rv != 0 || (rv = si_gather_keys_res(res, &call->g->parts[call->inst],
	    call->inst)) != 0)
		si_gather_fail(call->g, call->inst, rv, NULL);
	si_gather_keys_left(call->g);
}

/* si_gather_keys_peer - a peer's part: {"total":N,"keys":[[c,ts,"ts_us",rank|null],..]} */
static void
si_gather_keys_peer(int rv, Parley__Reply *reply, void *arg)
{
	struct si_gather_call *call = arg;
	struct si_part *part = &call->g->parts[call->inst];
	cJSON *o = NULL, *keys, *total, *e;

	if (rv != 0 || reply == NULL || !reply->ok) {
		si_gather_fail(call->g, call->inst, rv ? rv : PL_EPROTO, reply ? reply->error : NULL);
	} else if ((o = cJSON_Parse(reply->json)) == NULL ||
	    !cJSON_IsArray(keys = cJSON_GetObjectItem(o, "keys")) ||
	    !cJSON_IsNumber(total = cJSON_GetObjectItem(o, "total"))) {
		si_gather_fail(call->g, call->inst, PL_EPROTO, NULL);
	} else {
		part->total = (int64_t)total->valuedouble;
		part->keys = pl_calloc((size_t)cJSON_GetArraySize(keys) + 1, sizeof(*part->keys));
		cJSON_ArrayForEach(e, keys) {
			const cJSON *v[4];
			int k;

			for (k = 0; k < 4; k++)
				v[k] = cJSON_GetArrayItem(e, k);
			if (!cJSON_IsString(v[0]) || !cJSON_IsString(v[1]) || !cJSON_IsString(v[2]))
				continue;
			si_gather_key_set(&part->keys[part->nkeys++], call->inst, v[0]->valuestring,
			    v[1]->valuestring, v[2]->valuestring,
			    cJSON_IsString(v[3]) ? v[3]->valuestring : NULL);
		}
	}
	cJSON_Delete(o);
	si_gather_keys_left(call->g);
}

/* si_gather_array_json - strs as a JSON array */
static void
si_gather_array_json(struct pl_buf *b, const char *const *strs, int n)
{
	int i;

	pl_buf_puts(b, "[");
	for (i = 0; i < n; i++) {
		pl_buf_puts(b, i ? "," : "");
		pl_buf_json_str(b, strs[i]);
	}
	pl_buf_puts(b, "]");
}

/* si_gather_keys_of - ask instance inst for its part */
static int
si_gather_keys_of(struct si_gather *g, int inst, const struct si_query_scope *ks)
{
	Parley__Request req;
	Parley__Caller caller = PARLEY__CALLER__INIT;
	struct pl_buf b;
	char v[24];
	int rv;

	if (inst == si_conf.index) {
		struct si_query_sql sql;

		si_query_sql_keys(g->q, ks, &sql);
		rv = pl_pg_query(si_pool_pg(), sql.sql, sql.nparams,
		    (const char *const *)sql.params, si_gather_keys_local, &g->calls[inst]);
		si_query_sql_fini(&sql);
		return rv;
	}
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"chans\":");
	si_gather_array_json(&b, ks->chans, ks->nchans);
	pl_buf_puts(&b, ",\"from\":");
	si_gather_array_json(&b, ks->from_ids, ks->nfrom_ids);
	pl_buf_puts(&b, ",\"dms\":");
	si_gather_array_json(&b, ks->dms, ks->ndms);
	pl_buf_printf(&b, ",\"from_given\":%s}", ks->from_given ? "true" : "false");
	pl_request_init(&req, "search.partial");
	caller.user = (char *)ks->user;
	caller.team = (char *)ks->team;
	req.caller = &caller;
	pl_request_param(&req, "query", g->text);
	pl_request_param(&req, "sort", ks->sort_score ? "score" : "timestamp");
	pl_request_param(&req, "sort_dir", ks->asc ? "asc" : "desc");
	snprintf(v, sizeof(v), "%d", ks->limit);
	pl_request_param(&req, "limit", v);
	snprintf(v, sizeof(v), "%d", ks->window);
	pl_request_param(&req, "window", v);
	pl_request_param(&req, "scope", b.data);
	rv = pl_search_clnt_call_to(si.peers, inst, &req, si_gather_keys_peer, &g->calls[inst]);
	req.caller = NULL;
	pl_request_fini(&req);
	pl_buf_fini(&b);
	return rv;
}

/* si_gather_run - scatter q under s to every instance (see search.h) */
void
si_gather_run(const char *text, const struct si_query *q, const struct si_query_scope *s,
    si_gather_done done, void *arg)
{
	struct si_gather *g = pl_calloc(1, sizeof(*g));
	struct si_query_scope ks = *s;
	int i, rv;

	g->text = text;
	g->q = q;
	g->s = s;
	g->scored = si_query_scored(q, s->sort_score);
	g->done = done;
	g->arg = arg;
	g->n = (int)si_conf.count;
	g->calls = pl_calloc((size_t)g->n, sizeof(*g->calls));
	g->parts = pl_calloc((size_t)g->n, sizeof(*g->parts));
	/* every part's first offset+limit: any of them may land on the page */
	ks.limit = s->offset + s->limit;
	ks.offset = 0;
	g->pending = 1;
	for (i = 0; i < g->n; i++) {
		g->calls[i].g = g;
		g->calls[i].inst = i;
		g->pending++;
		if ((rv = si_gather_keys_of(g, i, &ks)) != 0) {
			si_gather_fail(g, i, rv, NULL);
			g->pending--;
		}
	}
	si_gather_keys_left(g);
}

/* ---- the other side: answering a coordinator ---- */

/* a search.partial or search.rows being answered */
struct si_peer_req {
	struct pl_rpc_req *rpc;
	Parley__Request *req;
	struct si_query q;
	int parsed;
	cJSON *json;			/* the scope or the rows (strings borrowed) */
	const char **a, **b, **c;	/* chans, from ids, dms; or chans, tss */
	int na, nb, nc;
};

/* si_gather_peer_reply - ok with json, or an error code; free p */
static void
si_gather_peer_reply(struct si_peer_req *p, const char *error, const char *json)
{
	si_reply_send(p->rpc, error, json);
	if (error != NULL)
		pl_log_warn("SI-PARTIAL-FAIL", "method=%s error=%s", p->req->method, error);
	if (p->parsed)
		si_query_fini(&p->q);
	cJSON_Delete(p->json);
	free(p->a);
	free(p->b);
	free(p->c);
	parley__request__free_unpacked(p->req, NULL);
	free(p);
}

/* si_gather_peer_strs - the strings of JSON array arr (borrowed); -1 if it
 * is not an array of at most max strings */
static int
si_gather_peer_strs(const cJSON *arr, int max, const char ***out)
{
	const cJSON *e;
	int n = 0;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > max)
		return -1;
	*out = pl_calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(**out));
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsString(e))
			return -1;
		(*out)[n++] = e->valuestring;
	}
	return n;
}

/* si_gather_peer_int - a number parameter within [1, max], or -1 */
static int
si_gather_peer_int(const Parley__Request *req, const char *key, int max)
{
	const char *v = pl_request_get(req, key);
	char *end;
	long n;

	if (v == NULL || v[0] == '\0')
		return -1;
	n = strtol(v, &end, 10);
	return *end != '\0' || n < 1 || n > max ? -1 : (int)n;
}

/* si_gather_partial_done - this instance's part, as JSON */
static void
si_gather_partial_done(int rv, struct pg_result *res, void *arg)
{
	struct si_peer_req *p = arg;
	struct pl_buf b;
	int i, n = 0;

	if (rv != 0 || PQntuples(res) < 1 || PQnfields(res) != 5) {
		si_gather_peer_reply(p, "internal_error", NULL);
		return;
	}
	pl_buf_init(&b);
	pl_buf_printf(&b, "{\"total\":%s,\"keys\":[", PQgetvalue(res, 0, 4));
	for (i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 0))
			continue;
		pl_buf_puts(&b, n++ ? ",[" : "[");
		pl_buf_json_str(&b, PQgetvalue(res, i, 0));
		pl_buf_puts(&b, ",");
		pl_buf_json_str(&b, PQgetvalue(res, i, 1));
		pl_buf_puts(&b, ",");
		pl_buf_json_str(&b, PQgetvalue(res, i, 2));
		pl_buf_puts(&b, ",");
		if (PQgetisnull(res, i, 3))
			pl_buf_puts(&b, "null");
		else
			pl_buf_json_str(&b, PQgetvalue(res, i, 3));
		pl_buf_puts(&b, "]");
	}
	pl_buf_puts(&b, "]}");
	si_gather_peer_reply(p, NULL, b.data);
	pl_buf_fini(&b);
}

/* si_gather_partial - search.partial: this instance's sort keys and total
 * under the scope the coordinator resolved */
static void
si_gather_partial(struct si_peer_req *p)
{
	const Parley__Request *req = p->req;
	const char *sort = pl_request_get(req, "sort"), *dir = pl_request_get(req, "sort_dir");
	const char *scope = pl_request_get(req, "scope");
	struct si_query_scope s;
	struct si_query_sql sql;
	int limit = si_gather_peer_int(req, "limit", SI_COUNT_MAX * SI_PAGE_MAX);
	int window = si_gather_peer_int(req, "window", SI_COUNT_MAX * SI_PAGE_MAX +
	    (int)si_conf.count_cap);
	const cJSON *fg;

	memset(&s, 0, sizeof(s));
	if (limit < 0 || window < 0 || scope == NULL ||
	    (p->json = cJSON_Parse(scope)) == NULL ||
	    (p->na = si_gather_peer_strs(cJSON_GetObjectItem(p->json, "chans"), 1 << 20,
	    &p->a)) < 0 ||
	    (p->nb = si_gather_peer_strs(cJSON_GetObjectItem(p->json, "from"),
	    2 * SI_QUERY_MAX_MODS, &p->b)) < 0 ||
	    (p->nc = si_gather_peer_strs(cJSON_GetObjectItem(p->json, "dms"), 1 << 20,
	    &p->c)) < 0) {
		si_gather_peer_reply(p, "invalid_arguments", NULL);
		return;
	}
	fg = cJSON_GetObjectItem(p->json, "from_given");
	s.team = req->caller->team;
	s.user = req->caller->user;
	s.chans = p->a;
	s.nchans = p->na;
	s.from_ids = p->b;
	s.nfrom_ids = p->nb;
	s.from_given = cJSON_IsTrue(fg);
	s.dms = p->c;
	s.ndms = p->nc;
	s.sort_score = sort == NULL || strcmp(sort, "timestamp") != 0;
	s.asc = dir != NULL && strcmp(dir, "asc") == 0;
	s.limit = limit;
	s.window = window;
	s.probe_hours = (int)si_conf.walk_probe_hours;
	si_query_sql_keys(&p->q, &s, &sql);
	if (pl_pg_query(si_pool_pg(), sql.sql, sql.nparams, (const char *const *)sql.params,
	    si_gather_partial_done, p) != 0)
		si_gather_peer_reply(p, "internal_error", NULL);
	si_query_sql_fini(&sql);
}

/* si_gather_rows_done - the asked rows, as JSON */
static void
si_gather_rows_done(int rv, struct pg_result *res, void *arg)
{
	struct si_peer_req *p = arg;
	struct pl_buf b;

	if (rv != 0 || PQnfields(res) != 4) {
		si_gather_peer_reply(p, "internal_error", NULL);
		return;
	}
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"rows\":");
	pl_pg_rows_json(&b, res);
	pl_buf_puts(&b, "}");
	si_gather_peer_reply(p, NULL, b.data);
	pl_buf_fini(&b);
}

/* si_gather_rows_answer - search.rows: user and text of the page's rows */
static void
si_gather_rows_answer(struct si_peer_req *p)
{
	const char *rows = pl_request_get(p->req, "rows");
	const char *hl = pl_request_get(p->req, "highlight");
	struct si_query_sql sql;
	const cJSON *e;

	if (rows == NULL || (p->json = cJSON_Parse(rows)) == NULL || !cJSON_IsArray(p->json) ||
	    cJSON_GetArraySize(p->json) > SI_COUNT_MAX) {
		si_gather_peer_reply(p, "invalid_arguments", NULL);
		return;
	}
	p->a = pl_calloc((size_t)cJSON_GetArraySize(p->json) + 1, sizeof(*p->a));
	p->b = pl_calloc((size_t)cJSON_GetArraySize(p->json) + 1, sizeof(*p->b));
	cJSON_ArrayForEach(e, p->json) {
		const cJSON *c = cJSON_GetArrayItem(e, 0), *t = cJSON_GetArrayItem(e, 1);

		if (!cJSON_IsString(c) || !cJSON_IsString(t)) {
			si_gather_peer_reply(p, "invalid_arguments", NULL);
			return;
		}
		p->a[p->na++] = c->valuestring;
		p->b[p->nb++] = t->valuestring;
	}
	si_query_sql_rows(&p->q, p->req->caller->team, p->a, p->b, p->na,
	    hl != NULL && strcmp(hl, "true") == 0, &sql);
	if (pl_pg_query(si_pool_pg(), sql.sql, sql.nparams, (const char *const *)sql.params,
	    si_gather_rows_done, p) != 0)
		si_gather_peer_reply(p, "internal_error", NULL);
	si_query_sql_fini(&sql);
}

/* si_gather_handle - search.partial or search.rows from a coordinator */
void
si_gather_handle(struct pl_rpc_req *rpc, Parley__Request *req)
{
	struct si_peer_req *p = pl_calloc(1, sizeof(*p));
	const char *query = pl_request_get(req, "query"), *err = NULL;

	p->rpc = rpc;
	p->req = req;
	pl_metrics_inc(si_m.partials);
	if (req->source != NULL && req->source[0] != '\0') {
		si_gather_peer_reply(p, "unknown_method", NULL);
		return;
	}
	if (req->caller == NULL || req->caller->team == NULL || req->caller->team[0] == '\0' ||
	    req->caller->user == NULL || req->caller->user[0] == '\0') {
		si_gather_peer_reply(p, "not_authed", NULL);
		return;
	}
	if (query == NULL || si_query_parse(query, strlen(query), &p->q, &err) != 0) {
		si_gather_peer_reply(p, err ? err : "invalid_query", NULL);
		return;
	}
	p->parsed = 1;
	if (strcmp(req->method, "search.partial") == 0)
		si_gather_partial(p);
	else
		si_gather_rows_answer(p);
}
