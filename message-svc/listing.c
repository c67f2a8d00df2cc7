/* listing.c - the directory as the caller sees it: conversations.list,
 * users.conversations, users.list, users.info, team.info.
 *
 * These read the directory database (not the channel table of this shard:
 * it only knows the channels it owns). Pages are ordered by id and the
 * cursor is base64url("id:<last id>"), so rows created between two pages
 * never shift a page. A private channel, DM or group DM is listed only to
 * its members; is_member is the caller's. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "mem.h"
#include "message_svc.h"
#include "ms_chan.h"
#include "ms_methods.h"
#include "ms_pure.h"
#include "pg.h"

#define MS_LIST_DEFAULT 100
#define MS_LIST_MAX 1000

struct listq {
	struct ms_call *c;
	int limit;
	void (*row)(struct pg_result *res, int i, struct pl_buf *b);
	const char *array;		/* "channels" | "members" */
};

/* list_chan_row - id, name, kind, creator, created, archived, is_member,
 * num_members, other user, team, is_general */
static void
list_chan_row(struct pg_result *res, int i, struct pl_buf *b)
{
	struct ms_chan_view v;

	memset(&v, 0, sizeof(v));
	v.id = PQgetvalue(res, i, 0);
	v.name = PQgetvalue(res, i, 1);
	v.kind = PQgetvalue(res, i, 2);
	v.creator = PQgetvalue(res, i, 3);
	v.created = strtoll(PQgetvalue(res, i, 4), NULL, 10);
	v.archived = PQgetvalue(res, i, 5)[0] == 't';
	v.is_member = PQgetvalue(res, i, 6)[0] == 't';
	v.num_members = strtoll(PQgetvalue(res, i, 7), NULL, 10);
	v.user = PQgetvalue(res, i, 8);
	v.team = PQgetvalue(res, i, 9);
	v.is_general = PQgetvalue(res, i, 10)[0] == 't';
	v.last_seq = -1;
	ms_render_chan(&v, b);
}

/* list_user_row - id, team_id, name, real_name, deleted, is_admin, created, email */
static void
list_user_row(struct pg_result *res, int i, struct pl_buf *b)
{
	struct ms_user_view v;

	v.id = PQgetvalue(res, i, 0);
	v.team = PQgetvalue(res, i, 1);
	v.name = PQgetvalue(res, i, 2);
	v.real_name = PQgetvalue(res, i, 3);
	v.deleted = PQgetvalue(res, i, 4)[0] == 't';
	v.is_admin = PQgetvalue(res, i, 5)[0] == 't';
	v.updated = strtoll(PQgetvalue(res, i, 6), NULL, 10);
	v.email = PQgetvalue(res, i, 7);
	ms_render_user(&v, b);
}

/* list_done - a page of rows (limit + 1 asked: the extra one means more),
 * ending early at page-max-bytes of JSON */
static void
list_done(int rv, struct pg_result *res, void *arg)
{
	struct listq *q = arg;
	int i, n, more;
	struct pl_buf b;
	char *cur = NULL;
	size_t mark;

	if (rv != 0) {
		ms_call_rv_error(&q->c, rv);
		return;
	}
	n = PQntuples(res);
	more = n > q->limit;
	if (more)
		n = q->limit;
	pl_buf_init(&b);
	pl_buf_printf(&b, "{\"%s\":[", q->array);
	for (i = 0; i < n; i++) {
		mark = b.len;
		pl_buf_puts(&b, i ? "," : "");
		q->row(res, i, &b);
		if (!ms_page_fits(&b, mark, i, (size_t)ms_conf.page_max_bytes)) {
			more = 1;
			n = i;
			break;
		}
	}
	if (more)
		cur = ms_render_cursor("id", PQgetvalue(res, n - 1, 0));
	pl_buf_printf(&b, "],\"response_metadata\":{\"next_cursor\":\"%s\"}}", cur ? cur : "");
	free(cur);
	ms_call_json(&q->c, b.data);
	pl_buf_fini(&b);
}

/* list_start - the shared page parameters; *after_r is the cursor's id */
static struct listq *
list_start(struct ms_call *c, char after_r[PL_ID_MAX + 1], char lim_r[16])
{
	const char *cur = ms_param(c, "cursor");
	struct listq *q;
	int limit;

	after_r[0] = '\0';
	if (ms_render_limit(ms_param(c, "limit"), MS_LIST_DEFAULT, MS_LIST_MAX, &limit) != 0 ||
	    (cur[0] && ms_render_cursor_parse(cur, "id", after_r, PL_ID_MAX + 1) != 0)) {
		ms_call_error(&c, cur[0] ? "invalid_cursor" : "invalid_limit");
		return NULL;
	}
	q = pl_calloc(1, sizeof(*q));
	q->c = c;
	q->limit = limit;
	c->state = q;
	c->state_free = free;
	snprintf(lim_r, 16, "%d", limit + 1);
	return q;
}

/* list_channels - conversations.list and users.conversations */
static int
list_channels(struct ms_call *c, int member_only)
{
	const char *excl = ms_param(c, "exclude_archived"), *who = ms_param(c, "user");
	char after[PL_ID_MAX + 1], lim[16];
	struct pl_buf kinds;
	struct listq *q;
	const char *p[8];
	int rv;

	pl_buf_init(&kinds);
	if (ms_render_kinds(ms_param(c, "types"), &kinds) != 0) {
		pl_buf_fini(&kinds);
		ms_call_error(&c, "invalid_types");
		return 0;
	}
	if ((q = list_start(c, after, lim)) == NULL) {
		pl_buf_fini(&kinds);
		return 0;
	}
	q->row = list_chan_row;
	q->array = "channels";
	p[0] = c->team;
	p[1] = c->user;
	p[2] = kinds.data;
	p[3] = strcmp(excl, "true") == 0 || strcmp(excl, "1") == 0 ? "true" : "false";
	p[4] = after;
	p[5] = lim;
	p[6] = member_only ? "true" : "false";
	p[7] = who[0] ? who : c->user;
	rv = pl_pg_query(ms_state_dir(), "SELECT c.id, c.name, c.kind, c.creator, c.created,"
	    " c.archived, EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = c.id"
	    "  AND m.user_id = $2),"
	    " (SELECT count(*) FROM channel_members m WHERE m.channel_id = c.id),"
	    " coalesce((SELECT min(m.user_id) FROM channel_members m WHERE m.channel_id = c.id"
	    "  AND m.user_id <> $2), $2), c.team_id, c.is_general"
	    " FROM channels c WHERE c.team_id = $1 AND c.kind = ANY ($3::text[])"
	    " AND (NOT $4::bool OR NOT c.archived) AND c.id > $5"
	    " AND (c.kind = 'public' OR EXISTS (SELECT 1 FROM channel_members m"
	    "  WHERE m.channel_id = c.id AND m.user_id = $2))"
	    " AND (NOT $7::bool OR EXISTS (SELECT 1 FROM channel_members m"
	    "  WHERE m.channel_id = c.id AND m.user_id = $8))"
	    " ORDER BY c.id LIMIT $6::int", 8, p, list_done, q);
	pl_buf_fini(&kinds);
	if (rv != 0)
		ms_call_rv_error(&c, rv);
	return 0;
}

/* ms_list_conversations - conversations.list(types, exclude_archived, limit, cursor) */
int
ms_list_conversations(struct ms_call *c)
{
	return list_channels(c, 0);
}

/* ms_list_user_conversations - users.conversations: the user's channels */
int
ms_list_user_conversations(struct ms_call *c)
{
	return list_channels(c, 1);
}

/* ms_list_users - users.list(limit, cursor) of the caller's team */
int
ms_list_users(struct ms_call *c)
{
	char after[PL_ID_MAX + 1], lim[16];
	struct listq *q;
	const char *p[3];
	int rv;

	if ((q = list_start(c, after, lim)) == NULL)
		return 0;
	q->row = list_user_row;
	q->array = "members";
	p[0] = c->team;
	p[1] = after;
	p[2] = lim;
	rv = pl_pg_query(ms_state_dir(), "SELECT id, team_id, name, real_name, deleted, is_admin,"
	    " created, email FROM users WHERE team_id = $1 AND id > $2 ORDER BY id LIMIT $3::int",
	    3, p, list_done, q);
	if (rv != 0)
		ms_call_rv_error(&c, rv);
	return 0;
}

/* info_user_done - one user row, or user_not_found */
static void
info_user_done(int rv, struct pg_result *res, void *arg)
{
	struct ms_call *c = arg;
	struct pl_buf b;

	if (rv != 0) {
		ms_call_rv_error(&c, rv);
		return;
	}
	if (PQntuples(res) == 0) {
		ms_call_error(&c, "user_not_found");
		return;
	}
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"user\":");
	list_user_row(res, 0, &b);
	pl_buf_puts(&b, "}");
	ms_call_json(&c, b.data);
	pl_buf_fini(&b);
}

/* ms_list_user_info - users.info(user): only users of the caller's team */
int
ms_list_user_info(struct ms_call *c)
{
	const char *p[2] = { c->team, ms_param(c, "user") };

	if (p[1][0] == '\0') {
		ms_call_error(&c, "user_not_found");
		return 0;
	}
	return pl_pg_query(ms_state_dir(), "SELECT id, team_id, name, real_name, deleted, is_admin,"
	    " created, email FROM users WHERE team_id = $1 AND id = $2", 2, p, info_user_done, c);
}

/* team_done - id, name, domain */
static void
team_done(int rv, struct pg_result *res, void *arg)
{
	struct ms_call *c = arg;
	struct pl_buf b;

	if (rv != 0) {
		ms_call_rv_error(&c, rv);
		return;
	}
	if (PQntuples(res) == 0) {
		ms_call_error(&c, "team_not_found");
		return;
	}
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"team\":{\"id\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 0));
	pl_buf_puts(&b, ",\"name\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 1));
	pl_buf_puts(&b, ",\"domain\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 2));
	pl_buf_puts(&b, ",\"email_domain\":\"\",\"icon\":{\"image_default\":true}}}");
	ms_call_json(&c, b.data);
	pl_buf_fini(&b);
}

/* ms_list_team_info - team.info: the caller's team only */
int
ms_list_team_info(struct ms_call *c)
{
	const char *want = ms_param(c, "team");
	const char *p[1] = { c->team };

	if (want[0] && strcmp(want, c->team) != 0) {
		ms_call_error(&c, "team_not_found");
		return 0;
	}
	return pl_pg_query(ms_state_dir(), "SELECT id, name, domain FROM teams WHERE id = $1", 1, p,
	    team_done, c);
}

/* scope_done - [[id, name, kind, other member of a DM], ...] */
static void
scope_done(int rv, struct pg_result *res, void *arg)
{
	struct ms_call *c = arg;
	struct pl_buf b;

	if (rv != 0) {
		ms_call_rv_error(&c, rv);
		return;
	}
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"channels\":");
	pl_pg_rows_json(&b, res);
	pl_buf_puts(&b, "}");
	ms_call_json(&c, b.data);
	pl_buf_fini(&b);
}

/* ms_list_search_scope - search.scope (internal, for search-indexer): the
 * channels the caller can read now: every public channel of their team
 * and the private channels, DMs and group DMs they are a member of, read
 * from the directory at the time of the call (a user who left a channel
 * no longer has it). For a DM, the other member (in:@user). Internal: a
 * request that came through a gateway (it names its source) is refused. */
int
ms_list_search_scope(struct ms_call *c)
{
	const char *p[2] = { c->team, c->user };
	int rv;

	if (c->req->source != NULL && c->req->source[0] != '\0') {
		ms_call_error(&c, "unknown_method");
		return 0;
	}

	rv = pl_pg_query(ms_state_dir(), "SELECT c.id, c.name, c.kind, CASE WHEN c.kind = 'dm'"
	    " THEN coalesce((SELECT min(m.user_id) FROM channel_members m"
	    "  WHERE m.channel_id = c.id AND m.user_id <> $2), $2) ELSE '' END"
	    " FROM channels c WHERE c.team_id = $1 AND (c.kind = 'public'"
	    " OR EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = c.id"
	    "  AND m.user_id = $2))", 2, p, scope_done, c);
	if (rv != 0)
		ms_call_rv_error(&c, rv);
	return 0;
}
