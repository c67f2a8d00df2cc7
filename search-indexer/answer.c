/* answer.c - search.messages: the query, the caller's permissions at query
 * time, the index, and Slack's response.
 *
 * A call goes through these steps, each an asynchronous hop on the loop:
 *   1. parse the request and the query (query.c): bad input is answered
 *      here with a Slack error code, before any I/O;
 *   2. ask message-svc (search.scope) which channels the caller can read
 *      now: public channels of their team, and the private channels, DMs
 *      and group DMs they are a member of. Nothing is cached, so a user who
 *      leaves a private channel stops finding it with the next query;
 *   3. if the query names users (from:, in:@), look their ids up in the
 *      directory, within the caller's team only;
 *   4. narrow the readable channels by in: (a name that is not among them,
 *      existing or not, leaves nothing: no result and no error tells a
 *      private channel from a missing one), then run the capped count and
 *      the page on the index, both restricted to those channels - or, with
 *      several instances, on every instance's index (gather.c: each holds
 *      only its partitions), merged;
 *   5. the names of the page's users from the directory, and the reply.
 * SQL errors are logged and answered internal_error: their text never
 * reaches the caller. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
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

#define SI_COUNT_DEFAULT 20
struct si_call {
	struct pl_rpc_req *rpc;
	Parley__Request *req;
	const char *user, *team, *query;
	uint64_t t0;
	struct si_query q;
	int sort_score, asc, highlight, count, page;
	cJSON *scope;			/* [[id, name, kind, other member], ...] */
	const char **chans, **dms, **ids;
	int nchans, ndms, nids;
	char **user_ids;		/* from:/in:@ names resolved (heap) */
	char **user_names;
	int nusers;
	struct si_query_scope s;	/* what 4. resolved (for gather.c) */
	struct si_query_sql sql;
	int64_t total;
	struct si_row *rows;
	int nrows;
	const PGresult *names;		/* the page's user names (borrowed) */
};

/* si_answer_free - everything the call holds */
static void
si_answer_free(struct si_call *c)
{
	int i;

	for (i = 0; i < c->nusers; i++) {
		free(c->user_ids[i]);
		free(c->user_names[i]);
	}
	for (i = 0; i < c->nrows; i++) {
		free(c->rows[i].channel);
		free(c->rows[i].ts);
		free(c->rows[i].user);
		free(c->rows[i].text);
	}
	free(c->rows);
	free(c->user_ids);
	free(c->user_names);
	free(c->chans);
	free(c->dms);
	free(c->ids);
	si_query_sql_fini(&c->sql);
	si_query_fini(&c->q);
	cJSON_Delete(c->scope);
	parley__request__free_unpacked(c->req, NULL);
	free(c);
}

/* si_answer_reply - send ok (with json) or an error code; free the call */
static void
si_answer_reply(struct si_call *c, const char *error, const char *json)
{
	si_reply_send(c->rpc, error, json);
	if (error != NULL && (strcmp(error, "internal_error") == 0 ||
	    strcmp(error, "service_unavailable") == 0))
		pl_metrics_inc(si_m.err_query);
	else if (error != NULL)
		pl_metrics_inc(si_m.err_client);
	pl_metrics_observe(si_m.query_s, (double)(pl_clock_mono_us() - c->t0) / 1e6);
	pl_log_debug("SI-QUERY", "user=%s ok=%d error=%s us=%llu", c->user, error == NULL,
	    error ? error : "", (unsigned long long)(pl_clock_mono_us() - c->t0));
	si_answer_free(c);
}

/* si_answer_param - a request parameter, "" when missing */
static const char *
si_answer_param(const struct si_call *c, const char *key)
{
	const char *v = pl_request_get(c->req, key);

	return v ? v : "";
}

/* si_answer_int - a bounded integer parameter: def when missing, clamped
 * into [1, max] like Slack; -1 when it is not a number */
static int
si_answer_int(const struct si_call *c, const char *key, int def, int max)
{
	const char *v = si_answer_param(c, key);
	char *end;
	long n;

	if (v[0] == '\0')
		return def;
	n = strtol(v, &end, 10);
	if (*end != '\0' || end == v)
		return -1;
	return n < 1 ? 1 : n > max ? max : (int)n;
}

/* si_answer_bool - "true" or "1" */
static int
si_answer_bool(const char *v)
{
	return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* si_answer_channel - the match's channel object (is_private etc. from its kind) */
static void
si_answer_channel(struct pl_buf *b, const char *id, const char *name, const char *kind)
{
	pl_buf_puts(b, "\"channel\":{\"id\":");
	pl_buf_json_str(b, id);
	pl_buf_puts(b, ",\"name\":");
	pl_buf_json_str(b, name);
	pl_buf_printf(b, ",\"is_channel\":%s,\"is_private\":%s,\"is_im\":%s,\"is_mpim\":%s}",
	    strcmp(kind, "public") == 0 ? "true" : "false",
	    strcmp(kind, "public") != 0 ? "true" : "false",
	    strcmp(kind, "dm") == 0 ? "true" : "false",
	    strcmp(kind, "group") == 0 ? "true" : "false");
}

/* si_answer_scope_of - the scope entry [id, name, kind, other] of channel id */
static const cJSON *
si_answer_scope_of(const struct si_call *c, const char *id)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, c->scope) {
		const cJSON *v = cJSON_GetArrayItem(e, 0);

		if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0)
			return e;
	}
	return NULL;
}

/* si_answer_str - string item i of a scope entry, "" if absent */
static const char *
si_answer_str(const cJSON *e, int i)
{
	const cJSON *v = cJSON_GetArrayItem(e, i);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* si_answer_username - the name of user id among the page's names */
static const char *
si_answer_username(const struct si_call *c, const char *id)
{
	int i;

	for (i = 0; c->names != NULL && i < PQntuples(c->names); i++)
		if (strcmp(PQgetvalue(c->names, i, 0), id) == 0)
			return PQgetvalue(c->names, i, 1);
	return "";
}

/* si_answer_match - one element of messages.matches */
static void
si_answer_match(const struct si_call *c, const struct si_row *r, struct pl_buf *b)
{
	const cJSON *e = si_answer_scope_of(c, r->channel);
	const char *p;

	pl_buf_puts(b, "{\"type\":\"message\",\"iid\":");
	pl_buf_printf(b, "\"%s-%s\",", r->channel, r->ts);
	si_answer_channel(b, r->channel, si_answer_str(e, 1), si_answer_str(e, 2));
	pl_buf_puts(b, ",\"team\":");
	pl_buf_json_str(b, c->team);
	pl_buf_puts(b, ",\"user\":");
	pl_buf_json_str(b, r->user);
	pl_buf_puts(b, ",\"username\":");
	pl_buf_json_str(b, si_answer_username(c, r->user));
	pl_buf_puts(b, ",\"ts\":");
	pl_buf_json_str(b, r->ts);
	pl_buf_puts(b, ",\"text\":");
	pl_buf_json_str(b, r->text);
	pl_buf_puts(b, ",\"permalink\":\"");
	pl_buf_puts(b, si_conf.permalink_base ? si_conf.permalink_base : "");
	pl_buf_printf(b, "/archives/%s/p", r->channel);
	for (p = r->ts; *p; p++)
		if (*p != '.')
			pl_buf_append(b, p, 1);
	pl_buf_puts(b, "\"}");
}

/* si_answer_render - Slack's messages object: matches, total, paging, pagination */
static void
si_answer_render(struct si_call *c)
{
	int64_t total = c->total, pages = (total + c->count - 1) / c->count;
	int64_t first = total ? (int64_t)(c->page - 1) * c->count + 1 : 0;
	int64_t last = (int64_t)c->page * c->count < total ? (int64_t)c->page * c->count : total;
	struct pl_buf b;
	int i;

	if (first > total)
		first = last = 0;
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"query\":");
	pl_buf_json_str(&b, c->query);
	pl_buf_puts(&b, ",\"messages\":{\"matches\":[");
	for (i = 0; i < c->nrows; i++) {
		pl_buf_puts(&b, i ? "," : "");
		si_answer_match(c, &c->rows[i], &b);
	}
	pl_buf_printf(&b, "],\"total\":%lld,\"paging\":{\"count\":%d,\"total\":%lld,"
	    "\"page\":%d,\"pages\":%lld},\"pagination\":{\"total_count\":%lld,\"page\":%d,"
	    "\"per_page\":%d,\"page_count\":%lld,\"first\":%lld,\"last\":%lld}}}",
	    (long long)total, c->count, (long long)total, c->page, (long long)pages,
	    (long long)total, c->page, c->count, (long long)pages, (long long)first,
	    (long long)last);
	si_answer_reply(c, NULL, b.data);
	pl_buf_fini(&b);
}

/* si_answer_names_done - the page's user names: answer (inside the
 * callback, while res is valid) */
static void
si_answer_names_done(int rv, struct pg_result *res, void *arg)
{
	struct si_call *c = arg;

	if (rv != 0) {
		pl_log_warn("SI-NAMES-FAIL", "err=%s", pl_err_str(rv));
		si_answer_reply(c, "internal_error", NULL);
		return;
	}
	c->names = res;
	si_answer_render(c);
}

/* si_answer_dir_users - ids and names of the caller's team's users whose
 * column ("id" or "name") is one of vals, from the directory, to done */
static void
si_answer_dir_users(struct si_call *c, const char *column, const char *const *vals,
    int n, pl_pg_fn done)
{
	const char *p[2];
	struct pl_buf arr, sql;
	int rv;

	pl_buf_init(&arr);
	pl_buf_init(&sql);
	si_query_array(&arr, vals, n);
	pl_buf_printf(&sql, "SELECT id, name FROM users WHERE team_id = $1"
	    " AND %s = ANY ($2::text[])", column);
	p[0] = c->team;
	p[1] = arr.data;
	rv = pl_pg_query(si.dir, sql.data, 2, p, done, c);
	pl_buf_fini(&arr);
	pl_buf_fini(&sql);
	if (rv != 0)
		done(rv, NULL, c);
}

/* si_answer_rows - the page's rows are in: their user names, then the reply */
static void
si_answer_rows(struct si_call *c)
{
	const char **ids;
	int i;

	if (c->nrows == 0) {
		si_answer_render(c);
		return;
	}
	ids = pl_calloc((size_t)c->nrows + 1, sizeof(*ids));
	for (i = 0; i < c->nrows; i++)
		ids[i] = c->rows[i].user;
	si_answer_dir_users(c, "id", ids, c->nrows, si_answer_names_done);
	free(ids);
}

/* si_answer_page_done - the window's size and the page's rows: copy them,
 * then the user names */
static void
si_answer_page_done(int rv, struct pg_result *res, void *arg)
{
	struct si_call *c = arg;
	int i, n;

	if (rv != 0 || PQntuples(res) < 1 || PQnfields(res) != 6) {
		pl_log_warn("SI-QUERY-FAIL", "err=%s", pl_err_str(rv ? rv : PL_EPROTO));
		si_answer_reply(c, "internal_error", NULL);
		return;
	}
	n = PQntuples(res);
	c->total = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	c->rows = pl_calloc((size_t)n + 1, sizeof(*c->rows));
	for (i = 0; i < n; i++) {
		struct si_row *r = &c->rows[c->nrows];

		if (PQgetisnull(res, i, 0))
			continue;	/* the empty page's one row */
		r->channel = pl_strdup(PQgetvalue(res, i, 0));
		r->ts = pl_strdup(PQgetvalue(res, i, 1));
		r->user = pl_strdup(PQgetvalue(res, i, 2));
		r->text = pl_strdup(PQgetvalue(res, i, 3));
		c->nrows++;
	}
	si_answer_rows(c);
}

/* si_answer_gathered - every instance answered (or one failed: the whole
 * query fails with its code) */
static void
si_answer_gathered(const char *error, struct si_row *rows, int nrows, int64_t total,
    void *arg)
{
	struct si_call *c = arg;

	if (error != NULL) {
		si_answer_reply(c, error, NULL);
		return;
	}
	c->rows = rows;
	c->nrows = nrows;
	c->total = total;
	si_answer_rows(c);
}

/* si_answer_empty - a query nothing can match: answer without the index */
static void
si_answer_empty(struct si_call *c)
{
	c->total = 0;
	si_answer_render(c);
}

/* si_answer_run - narrow the scope, build the SQL, count and page */
static void
si_answer_run(struct si_call *c)
{
	struct si_query_scope *s;
	const cJSON *e;
	int i, n = cJSON_GetArraySize(c->scope), narrow = c->q.nin_chan + c->q.nin_user > 0;
	int rv;

	c->chans = pl_calloc((size_t)n + 1, sizeof(*c->chans));
	c->dms = pl_calloc((size_t)n + 1, sizeof(*c->dms));
	cJSON_ArrayForEach(e, c->scope) {
		const char *id = si_answer_str(e, 0), *name = si_answer_str(e, 1);
		const char *kind = si_answer_str(e, 2), *other = si_answer_str(e, 3);
		int keep = !narrow;

		if (id[0] == '\0')
			continue;
		if (strcmp(kind, "dm") == 0 || strcmp(kind, "group") == 0)
			c->dms[c->ndms++] = id;
		for (i = 0; !keep && i < c->q.nin_chan; i++)
			keep = (strcmp(kind, "public") == 0 || strcmp(kind, "private") == 0) &&
			    strcmp(name, c->q.in_chan[i]) == 0;
		for (i = 0; !keep && strcmp(kind, "dm") == 0 && i < c->q.nin_user; i++) {
			int k;

			for (k = 0; !keep && k < c->nusers; k++)
				keep = strcmp(c->user_names[k], c->q.in_user[i]) == 0 &&
				    strcmp(c->user_ids[k], other) == 0;
		}
		if (keep)
			c->chans[c->nchans++] = id;
	}
	c->ids = pl_calloc((size_t)c->nusers + 1, sizeof(*c->ids));
	for (i = 0; i < c->nusers; i++) {
		int k;

		for (k = 0; k < c->q.nfrom; k++)
			if (strcmp(c->user_names[i], c->q.from[k]) == 0) {
				c->ids[c->nids++] = c->user_ids[i];
				break;
			}
	}
	if (c->nchans == 0 || (c->q.nfrom > 0 && c->nids == 0 && !c->q.from_me)) {
		si_answer_empty(c);
		return;
	}
	s = &c->s;
	s->team = c->team;
	s->user = c->user;
	s->chans = c->chans;
	s->nchans = c->nchans;
	s->from_ids = c->ids;
	s->nfrom_ids = c->nids;
	s->from_given = c->q.nfrom > 0;
	s->dms = c->dms;
	s->ndms = c->ndms;
	s->sort_score = c->sort_score;
	s->asc = c->asc;
	s->highlight = c->highlight;
	s->limit = c->count;
	s->offset = (c->page - 1) * c->count;
	s->window = s->offset + s->limit + (int)si_conf.count_cap;
	s->probe_hours = (int)si_conf.walk_probe_hours;
	if (si_conf.count > 1) {
		si_gather_run(c->query, &c->q, s, si_answer_gathered, c);
		return;
	}
	si_query_sql(&c->q, s, &c->sql);
	rv = pl_pg_query(si_pool_pg(), c->sql.sql, c->sql.nparams,
	    (const char *const *)c->sql.params, si_answer_page_done, c);
	if (rv != 0)
		si_answer_page_done(rv, NULL, c);
}

/* si_answer_users_done - ids of the names in from: and in:@ */
static void
si_answer_users_done(int rv, struct pg_result *res, void *arg)
{
	struct si_call *c = arg;
	int i;

	if (rv != 0) {
		pl_log_warn("SI-USERS-FAIL", "err=%s", pl_err_str(rv));
		si_answer_reply(c, "internal_error", NULL);
		return;
	}
	c->nusers = PQntuples(res);
	c->user_ids = pl_calloc((size_t)c->nusers + 1, sizeof(char *));
	c->user_names = pl_calloc((size_t)c->nusers + 1, sizeof(char *));
	for (i = 0; i < c->nusers; i++) {
		c->user_ids[i] = pl_strdup(PQgetvalue(res, i, 0));
		c->user_names[i] = pl_strdup(PQgetvalue(res, i, 1));
	}
	si_answer_run(c);
}

/* si_answer_users - look up the names of from: and in:@ (or go on) */
static void
si_answer_users(struct si_call *c)
{
	const char *names[2 * SI_QUERY_MAX_MODS];
	int i, n = 0;

	for (i = 0; i < c->q.nfrom; i++)
		names[n++] = c->q.from[i];
	for (i = 0; i < c->q.nin_user; i++)
		names[n++] = c->q.in_user[i];
	if (n == 0) {
		si_answer_run(c);
		return;
	}
	si_answer_dir_users(c, "name", names, n, si_answer_users_done);
}

/* si_answer_scope_done - message-svc's list of the caller's readable channels */
static void
si_answer_scope_done(int rv, Parley__Reply *reply, void *arg)
{
	struct si_call *c = arg;
	cJSON *o = NULL, *chans;

	if (rv != 0 || reply == NULL || !reply->ok) {
		pl_log_warn("SI-SCOPE-FAIL", "err=%s error=%s", pl_err_str(rv),
		    reply && reply->error ? reply->error : "");
		si_answer_reply(c, reply && reply->error && strcmp(reply->error, "not_authed") == 0 ?
		    "not_authed" : "internal_error", NULL);
		return;
	}
	if (reply->json == NULL || (o = cJSON_Parse(reply->json)) == NULL ||
	    !cJSON_IsArray(chans = cJSON_GetObjectItem(o, "channels"))) {
		cJSON_Delete(o);
		pl_log_warn("SI-SCOPE-BAD", "len=%zu", reply->json ? strlen(reply->json) : 0);
		si_answer_reply(c, "internal_error", NULL);
		return;
	}
	c->scope = cJSON_DetachItemViaPointer(o, chans);
	cJSON_Delete(o);
	si_answer_users(c);
}

/* si_answer_scope - ask message-svc for the caller's readable channels */
static void
si_answer_scope(struct si_call *c)
{
	Parley__Request req;
	Parley__Caller caller = PARLEY__CALLER__INIT;
	int rv;

	pl_request_init(&req, "search.scope");
	caller.user = (char *)c->user;
	caller.team = (char *)c->team;
	req.caller = &caller;
	rv = pl_message_clnt_call(si.msg, -1, &req, si_answer_scope_done, c);
	req.caller = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		si_answer_scope_done(rv, NULL, c);
}

/* si_answer_params - sort, sort_dir, count, page, highlight; an error code or NULL */
static const char *
si_answer_params(struct si_call *c)
{
	const char *sort = si_answer_param(c, "sort"), *dir = si_answer_param(c, "sort_dir");

	if (sort[0] && strcmp(sort, "score") != 0 && strcmp(sort, "timestamp") != 0)
		return "invalid_sort";
	if (dir[0] && strcmp(dir, "asc") != 0 && strcmp(dir, "desc") != 0)
		return "invalid_sort_dir";
	c->sort_score = strcmp(sort, "timestamp") != 0;
	c->asc = strcmp(dir, "asc") == 0;
	c->highlight = si_answer_bool(si_answer_param(c, "highlight"));
	c->count = si_answer_int(c, "count", SI_COUNT_DEFAULT, SI_COUNT_MAX);
	c->page = si_answer_int(c, "page", 1, SI_PAGE_MAX);
	if (c->count < 0 || c->page < 0)
		return "invalid_arguments";
	return NULL;
}

/* si_answer_handle - the rpc handler: decode, check, parse, start the steps */
void
si_answer_handle(struct pl_rpc_req *rpc, const void *data, size_t len, void *arg)
{
	struct si_call *c;
	Parley__Request *req;
	const char *err = NULL;

	if ((req = parley__request__unpack(NULL, len, data)) == NULL) {
		Parley__Reply r = PARLEY__REPLY__INIT;
		uint8_t buf[64];

		pl_metrics_inc(si_m.bad_input);
		r.error = "invalid_request";
		pl_rpc_reply(rpc, buf, parley__reply__pack(&r, buf));
		return;
	}
	if (req->method != NULL && (strcmp(req->method, "search.partial") == 0 ||
	    strcmp(req->method, "search.rows") == 0)) {
		si_gather_handle(rpc, req);
		return;
	}
	pl_metrics_inc(si_m.queries);
	c = pl_calloc(1, sizeof(*c));
	c->rpc = rpc;
	c->req = req;
	c->t0 = pl_clock_mono_us();
	c->user = req->caller && req->caller->user ? req->caller->user : "";
	c->team = req->caller && req->caller->team ? req->caller->team : "";
	c->query = si_answer_param(c, "query");
	if (req->method == NULL || strcmp(req->method, "search.messages") != 0)
		err = "unknown_method";
	else if (c->user[0] == '\0' || c->team[0] == '\0')
		err = "not_authed";
	else if ((err = si_answer_params(c)) == NULL &&
	    si_query_parse(c->query, strlen(c->query), &c->q, &err) != 0 && err == NULL)
		err = "invalid_query";
	if (err != NULL) {
		si_answer_reply(c, err, NULL);
		return;
	}
	si_answer_scope(c);
}
