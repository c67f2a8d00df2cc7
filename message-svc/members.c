/* members.c - channels and memberships: conversations.create, join, invite,
 * leave, kick, archive, info, members, open.
 *
 * A change is written to the directory first, then announced: a
 * CHANNEL_JOIN/CHANNEL_LEAVE message on parley.messages (it takes the
 * channel's seq, so members see it in order) and a MEMBER_JOINED/MEMBER_LEFT
 * (or CHANNEL_CREATED/ARCHIVED) on parley.events keyed by team, which the
 * gateways use for their edge caches. The reply goes after both acks. */
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "ms_chan.h"
#include "ms_methods.h"
#include "ms_pure.h"
#include "pg.h"
#include "pgarr.h"
#include "slack_err.h"

#define MS_INVITE_MAX 1000	/* users per conversations.invite, as Slack */

/* ---- shared */

/* mem_chan_error - the Slack code of a failed channel look-up */
static void
mem_chan_error(struct ms_call **c, int rv)
{
	ms_call_error(c, pl_slack_chan_error(rv));
}

/* mem_reply_chan - {"channel":{…}} plus extra members */
static void
mem_reply_chan(struct ms_call **c, const struct ms_chan *ch, const char *extra)
{
	struct pl_buf b;

	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"channel\":");
	ms_chan_obj_json(ch, (*c)->user, &b);
	if (extra != NULL)
		pl_buf_puts(&b, extra);
	pl_buf_puts(&b, "}");
	ms_call_json(c, b.data);
	pl_buf_fini(&b);
}

/* mem_membership_event - MEMBER_JOINED / MEMBER_LEFT on parley.events */
static int
mem_membership_event(const struct ms_chan *ch, const char *user, const char *actor,
    int joined, ms_send_fn fn, void *arg)
{
	Parley__Envelope env;
	Parley__Membership mb;
	char idem[96];

	snprintf(idem, sizeof(idem), "%s:%s:%s:%llu", joined ? "mj" : "ml", ch->id, user,
	    (unsigned long long)pl_clock_wall_us());
	ms_send_env_init(&env, joined ? PARLEY__EVENT_TYPE__MEMBER_JOINED :
	    PARLEY__EVENT_TYPE__MEMBER_LEFT, ch->team, idem);
	parley__membership__init(&mb);
	mb.channel = (char *)ch->id;
	mb.user = (char *)user;
	mb.team = (char *)ch->team;
	mb.actor = (char *)actor;
	mb.kind = (char *)ch->kind;
	env.body_case = PARLEY__ENVELOPE__BODY_MEMBERSHIP;
	env.membership = &mb;
	return ms_send_event(&env, fn, arg);
}

/* ---- a membership change of one or many users: directory, log messages,
 * events.
 *
 * Bulk by design (conversations.invite takes up to MS_INVITE_MAX users): the
 * member set changes at once (optimistic, so a resend sees it), the directory
 * rows change in one statement, then every CHANNEL_JOIN/LEAVE message (each
 * takes the next seq, in list order) and every MEMBER_JOINED/LEFT event is
 * produced at once; the reply goes when all of them are acknowledged. The
 * idempotent producer keeps them in order per partition, so members still
 * see the channel_join messages in seq order. */

struct mannounce {
	Parley__Message m;
	char text[128];
};

struct mchange {
	struct ms_call *c;
	struct ms_chan *ch;
	char **users;		/* to change, in order */
	int nusers;
	int join;
	int pending;		/* acks outstanding */
	int failed;
	struct mannounce *ann;	/* one per user, alive until its ack */
	const char *reply_extra;
	char *reply_json;	/* answer this instead (heap; ms_members_join_as) */
};

static void
mchange_free(void *p)
{
	struct mchange *st = p;
	int i;

	for (i = 0; i < st->nusers; i++) {
		free(st->users[i]);
		if (st->ann != NULL && st->ann[i].m.ts != NULL &&
		    st->ann[i].m.ts != protobuf_c_empty_string)
			free(st->ann[i].m.ts);
	}
	free(st->users);
	free(st->ann);
	free(st->reply_json);
	free(st);
}

/* mchange_done - every announcement is settled: answer */
static void
mchange_done(struct mchange *st)
{
	if (st->failed)
		ms_call_error(&st->c, "internal_error");
	else if (st->reply_json != NULL)
		ms_call_json(&st->c, st->reply_json);
	else if (st->join)
		mem_reply_chan(&st->c, st->ch, st->reply_extra);
	else
		ms_call_json(&st->c, "{}");
}

/* mchange_acked - one announcement is acknowledged (or failed) */
static void
mchange_acked(int rv, Parley__Message *m, void *arg)
{
	struct mchange *st = arg;

	if (rv != 0)
		st->failed = 1;
	if (--st->pending == 0)
		mchange_done(st);
}

/* mchange_announce_one - user i's channel_join/leave message and member
 * event (pending counts both before either can answer) */
static void
mchange_announce_one(struct mchange *st, int i)
{
	struct mannounce *a = &st->ann[i];
	const char *user = st->users[i];

	parley__message__init(&a->m);
	snprintf(a->text, sizeof(a->text), "<@%s> has %s the channel", user,
	    st->join ? "joined" : "left");
	a->m.user = (char *)user;
	a->m.text = a->text;
	a->m.subtype = st->join ? "channel_join" : "channel_leave";
	if (ms_send_append(st->ch, st->join ? PARLEY__EVENT_TYPE__CHANNEL_JOIN :
	    PARLEY__EVENT_TYPE__CHANNEL_LEAVE, &a->m, NULL, mchange_acked, st) != 0) {
		st->failed = 1;
		st->pending--;
	}
	if (mem_membership_event(st->ch, user, st->c->user, st->join, mchange_acked,
	    st) != 0) {
		st->failed = 1;
		st->pending--;
	}
}

/* mchange_written - the directory rows changed: announce every user */
static void
mchange_written(int rv, struct pg_result *res, void *arg)
{
	struct mchange *st = arg;
	int i;

	if (rv != 0 || (st->join && atoi(PQgetvalue(res, 0, 0)) > 0)) {
		/* undo the optimistic member set change and stop here */
		for (i = 0; i < st->nusers; i++)
			ms_chan_member_set(st->ch, st->users[i], !st->join);
		if (rv != 0)
			ms_call_rv_error(&st->c, rv);
		else
			ms_call_error(&st->c, "too_many_channels");
		return;
	}
	st->ann = pl_calloc((size_t)st->nusers, sizeof(*st->ann));
	st->pending = 2 * st->nusers + 1;	/* + 1: no answer while producing */
	for (i = 0; i < st->nusers; i++) {
		pl_log_info(st->join ? "MS-MEMBER-JOIN" : "MS-MEMBER-LEAVE",
		    "channel=%s user=%s actor=%s", st->ch->id, st->users[i], st->c->user);
		mchange_announce_one(st, i);
	}
	mchange_acked(0, NULL, st);
}

/* mchange_begin - change users (heap list of ids, taken) of ch for the
 * call; answer json (copied) when not NULL */
static void
mchange_begin(struct ms_call *c, struct ms_chan *ch, char **users, int n, int join,
    const char *json)
{
	struct mchange *st = pl_calloc(1, sizeof(*st));
	struct pl_buf list;
	const char *p[5];
	char now[32], cap[24];
	int i, rv;

	st->reply_json = json ? pl_strdup(json) : NULL;
	st->c = c;
	st->ch = ch;
	st->users = users;
	st->nusers = n;
	st->join = join;
	c->state = st;
	c->state_free = mchange_free;
	pl_buf_init(&list);
	pl_pgarr_begin(&list);
	for (i = 0; i < n; i++) {
		/* optimistic: a concurrent resend sees the member and answers at once */
		ms_chan_member_set(ch, users[i], join);
		pl_pgarr_text(&list, users[i]);
	}
	pl_pgarr_end(&list);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000000));
	snprintf(cap, sizeof(cap), "%lld", (long long)ms_conf.user_chans_max);
	p[0] = ch->id;
	p[1] = list.data;
	p[2] = ch->team;
	p[3] = now;
	p[4] = cap;
	/* the per-user cap is checked in the insert's own statement: nobody
	 * joins if one of the users is at it (count: how many are) */
	if (join)
		rv = pl_pg_query(ms_state_dir(), "WITH capped AS (SELECT user_id FROM"
		    " channel_members WHERE user_id = ANY ($2::text[]) GROUP BY user_id"
		    " HAVING count(*) >= $5::bigint), ins AS (INSERT INTO channel_members"
		    " (channel_id, user_id, team_id, joined) SELECT $1, u, $3, $4"
		    " FROM unnest($2::text[]) u WHERE NOT EXISTS (SELECT 1 FROM capped)"
		    " ON CONFLICT DO NOTHING) SELECT count(*) FROM capped", 5, p,
		    mchange_written, st);
	else
		rv = pl_pg_query(ms_state_dir(), "DELETE FROM channel_members WHERE channel_id = $1"
		    " AND user_id = ANY ($2::text[])", 2, p, mchange_written, st);
	pl_buf_fini(&list);
	if (rv != 0)
		mchange_written(rv, NULL, st);
}

/* mchange_start - change users (heap list of ids, taken) of ch for the call */
static void
mchange_start(struct ms_call *c, struct ms_chan *ch, char **users, int n, int join)
{
	mchange_begin(c, ch, users, n, join, NULL);
}

/* mem_one - a heap list of one user */
static char **
mem_one(const char *user)
{
	char **v = pl_malloc(sizeof(*v));

	v[0] = pl_strdup(user);
	return v;
}

/* ---- conversations.join */

static void
join_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct ms_call *c = arg;

	if (rv != 0 || !ms_chan_visible(ch, c->team, c->user)) {
		mem_chan_error(&c, rv ? rv : PL_ENOTFOUND);
		return;
	}
	if (strcmp(ch->kind, "public") != 0) {
		ms_call_error(&c, "method_not_supported_for_channel_type");
		return;
	}
	if (ch->archived) {
		ms_call_error(&c, "is_archived");
		return;
	}
	if (ms_chan_is_member(ch, c->user)) {
		mem_reply_chan(&c, ch, ",\"already_in_channel\":true");
		return;
	}
	mchange_start(c, ch, mem_one(c->user), 1, 1);
}

int
ms_members_join(struct ms_call *c)
{
	ms_chan_get(ms_param(c, "channel"), join_ready, c);
	return 0;
}

/* ---- conversations.leave / kick */

static void
leave_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct ms_call *c = arg;
	const char *target = ms_param(c, "user");
	int kick = strcmp(c->req->method, "conversations.kick") == 0;

	if (rv != 0 || !ms_chan_visible(ch, c->team, c->user)) {
		mem_chan_error(&c, rv ? rv : PL_ENOTFOUND);
		return;
	}
	if (strcmp(ch->kind, "dm") == 0) {
		ms_call_error(&c, "method_not_supported_for_channel_type");
		return;
	}
	if (!kick) {
		if (ch->is_general)
			ms_call_error(&c, "cant_leave_general");
		else if (!ms_chan_is_member(ch, c->user))
			ms_call_json(&c, "{\"not_in_channel\":true}");
		else
			mchange_start(c, ch, mem_one(c->user), 1, 0);
		return;
	}
	if (!ms_chan_is_member(ch, c->user))
		ms_call_error(&c, "not_in_channel");
	else if (ch->is_general)
		ms_call_error(&c, "cant_kick_from_general");
	else if (target[0] == '\0')
		ms_call_error(&c, "user_not_found");
	else if (strcmp(target, c->user) == 0)
		ms_call_error(&c, "cant_kick_self");
	else if (!ms_chan_is_member(ch, target))
		ms_call_error(&c, "not_in_channel");
	else if ((rv = ms_members_may_manage(c, ch, ms_members_kick)) == PL_EAGAIN)
		return;			/* looked up; the method runs again */
	else if (rv != 0)
		ms_call_error(&c, "restricted_action");
	else
		mchange_start(c, ch, mem_one(target), 1, 0);
}

int
ms_members_leave(struct ms_call *c)
{
	ms_chan_get(ms_param(c, "channel"), leave_ready, c);
	return 0;
}

int
ms_members_kick(struct ms_call *c)
{
	ms_chan_get(ms_param(c, "channel"), leave_ready, c);
	return 0;
}

/* ---- conversations.invite */

struct invite {
	struct ms_call *c;
	struct ms_chan *ch;
};

/* invite_users - the team's users among the requested ones */
static void
invite_users(int rv, struct pg_result *res, void *arg)
{
	struct invite *iv = arg;
	struct ms_call *c = iv->c;
	struct ms_chan *ch = iv->ch;
	char **v = NULL;
	size_t cap = 0;
	int i, n = 0, asked;
	char **want;

	free(iv);
	c->state = NULL;
	if (rv != 0) {
		ms_call_rv_error(&c, rv);
		return;
	}
	want = pl_pgarr_split(PQgetvalue(res, 0, 1), &asked);
	if (PQntuples(res) == 0 || atoi(PQgetvalue(res, 0, 0)) != asked || asked == 0) {
		pl_pgarr_free(&want, asked);
		ms_call_error(&c, "user_not_found");
		return;
	}
	for (i = 0; i < asked; i++) {
		if (ms_chan_is_member(ch, want[i]))
			continue;
		v = pl_grow(v, &cap, (size_t)n + 1, 8, sizeof(*v));
		v[n++] = pl_strdup(want[i]);
	}
	pl_pgarr_free(&want, asked);
	if (n == 0) {
		free(v);
		ms_call_error(&c, "already_in_channel");
		return;
	}
	mchange_start(c, ch, v, n, 1);
}

static void
invite_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct ms_call *c = arg;
	struct pl_buf list;
	struct invite *iv;
	const char *p[2];
	char *users, *save = NULL, *u;

	if (rv != 0 || !ms_chan_visible(ch, c->team, c->user)) {
		mem_chan_error(&c, rv ? rv : PL_ENOTFOUND);
		return;
	}
	if (!ms_chan_is_member(ch, c->user)) {
		ms_call_error(&c, "not_in_channel");
		return;
	}
	if (ch->archived) {
		ms_call_error(&c, "is_archived");
		return;
	}
	if (strcmp(ch->kind, "dm") == 0) {
		ms_call_error(&c, "method_not_supported_for_channel_type");
		return;
	}
	pl_buf_init(&list);
	pl_pgarr_begin(&list);
	users = pl_strdup(ms_param(c, "users"));
	for (u = strtok_r(users, ", ", &save); u; u = strtok_r(NULL, ", ", &save))
		pl_pgarr_text(&list, u);
	pl_pgarr_end(&list);
	free(users);
	iv = pl_calloc(1, sizeof(*iv));
	iv->c = c;
	iv->ch = ch;
	c->state = iv;
	c->state_free = free;
	p[0] = ch->team;
	p[1] = list.data;
	rv = pl_pg_query(ms_state_dir(), "SELECT count(DISTINCT u.id), (SELECT array_agg(DISTINCT x)"
	    " FROM unnest($2::text[]) x) FROM users u WHERE u.team_id = $1"
	    " AND u.id = ANY ($2::text[]) AND NOT u.deleted", 2, p, invite_users, iv);
	pl_buf_fini(&list);
	if (rv != 0)
		ms_call_rv_error(&c, rv);
}

/* invite_count - ids in a "U1,U2" list */
static int
invite_count(const char *users)
{
	int n = 0, in = 0;

	for (; *users != '\0'; users++) {
		int sep = *users == ',' || *users == ' ';

		if (!sep && !in)
			n++;
		in = !sep;
	}
	return n;
}

int
ms_members_invite(struct ms_call *c)
{
	if (ms_param(c, "users")[0] == '\0') {
		ms_call_error(&c, "no_user");
		return 0;
	}
	if (invite_count(ms_param(c, "users")) > MS_INVITE_MAX) {
		ms_call_error(&c, "too_many_users");
		return 0;
	}
	ms_chan_get(ms_param(c, "channel"), invite_ready, c);
	return 0;
}

/* ---- conversations.info / members */

static void
info_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct ms_call *c = arg;

	if (rv != 0 || !ms_chan_visible(ch, c->team, c->user))
		mem_chan_error(&c, rv ? rv : PL_ENOTFOUND);
	else
		mem_reply_chan(&c, ch, NULL);
}

int
ms_members_info(struct ms_call *c)
{
	ms_chan_get(ms_param(c, "channel"), info_ready, c);
	return 0;
}

/* members_collect - one member id after the cursor into the vector */
struct members_ids {
	struct pl_buf v;
	const char *after;
};

static void
members_collect(const char *key, void *val, void *arg)
{
	struct members_ids *m = arg;

	if (strcmp(key, m->after) > 0)
		pl_buf_append(&m->v, &key, sizeof(key));
}

/* members_cmp - qsort of borrowed ids */
static int
members_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* members_page - ids after `after`, in id order, up to limit or
 * page-max-bytes; the cursor base64url("id:<last>") when more follow (like
 * listing.c). Only the ids after the cursor are sorted. */
static void
members_page(const struct ms_chan *ch, const char *after, int limit, struct pl_buf *b)
{
	struct members_ids m;
	const char **ids;
	char *cur = NULL;
	size_t n, i, mark;
	int kept = 0;

	pl_buf_init(&m.v);
	m.after = after;
	pl_strmap_each(ch->members, members_collect, &m);
	ids = (const char **)m.v.data;
	n = m.v.len / sizeof(*ids);
	if (n > 0)
		qsort(ids, n, sizeof(*ids), members_cmp);
	pl_buf_puts(b, "{\"members\":[");
	for (i = 0; i < n; i++) {
		if (kept == limit) {
			cur = ms_render_cursor("id", ids[i - 1]);
			break;
		}
		mark = b->len;
		pl_buf_puts(b, kept ? "," : "");
		pl_buf_json_str(b, ids[i]);
		if (!ms_page_fits(b, mark, kept, (size_t)ms_conf.page_max_bytes)) {
			cur = ms_render_cursor("id", ids[i - 1]);
			break;
		}
		kept++;
	}
	pl_buf_printf(b, "],\"response_metadata\":{\"next_cursor\":\"%s\"}}", cur ? cur : "");
	free(cur);
	pl_buf_fini(&m.v);
}

#define MS_MEMBERS_DEFAULT 100
#define MS_MEMBERS_MAX 1000

struct members_q {
	struct ms_call *c;
	int limit;
	char after[PL_ID_MAX + 1];
};

static void
members_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct members_q *q = arg;
	struct pl_buf b;

	if (rv != 0 || !ms_chan_visible(ch, q->c->team, q->c->user)) {
		mem_chan_error(&q->c, rv ? rv : PL_ENOTFOUND);
		return;
	}
	pl_buf_init(&b);
	members_page(ch, q->after, q->limit, &b);
	ms_call_json(&q->c, b.data);
	pl_buf_fini(&b);
}

/* ms_members_members - conversations.members(channel, limit, cursor): 100
 * per page by default, at most 1000 (Slack's); the gateway's membership
 * look-up (gateway/members.c) pages through with the cursor. */
int
ms_members_members(struct ms_call *c)
{
	const char *cur = ms_param(c, "cursor");
	struct members_q *q = pl_calloc(1, sizeof(*q));

	q->c = c;
	c->state = q;
	c->state_free = free;
	if (cur[0] && ms_render_cursor_parse(cur, "id", q->after, sizeof(q->after)) != 0) {
		ms_call_error(&c, "invalid_cursor");
		return 0;
	}
	if (ms_render_limit(ms_param(c, "limit"), MS_MEMBERS_DEFAULT, MS_MEMBERS_MAX,
	    &q->limit) != 0) {
		ms_call_error(&c, "invalid_limit");
		return 0;
	}
	ms_chan_get(ms_param(c, "channel"), members_ready, q);
	return 0;
}

/* ---- conversations.create */

struct create {
	struct ms_call *c;
	struct ms_chan tmp;	/* the new channel, for rendering and events */
	int pending;
	int failed;
};

static void
create_free(void *p)
{
	struct create *st = p;

	pl_strmap_free(&st->tmp.members, NULL);
	free(st->tmp.name);
	free(st);
}

/* create_acked - CHANNEL_CREATED and the creator's MEMBER_JOINED */
static void
create_acked(int rv, Parley__Message *m, void *arg)
{
	struct create *st = arg;

	if (rv != 0)
		st->failed = 1;
	if (--st->pending > 0)
		return;
	if (st->failed)
		ms_call_error(&st->c, "internal_error");
	else
		mem_reply_chan(&st->c, &st->tmp, NULL);
}

/* create_done - RETURNING id, created (no row: name_taken; NULLs: the
 * creator is at the per-user channel cap) */
static void
create_done(int rv, struct pg_result *res, void *arg)
{
	struct create *st = arg;
	Parley__Envelope env;
	Parley__Channel pc;
	char idem[64];

	if (rv != 0) {
		ms_call_rv_error(&st->c, rv);
		return;
	}
	if (PQntuples(res) == 0) {
		ms_call_error(&st->c, "name_taken");
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		ms_call_error(&st->c, "too_many_channels");
		return;
	}
	snprintf(st->tmp.id, sizeof(st->tmp.id), "%s", PQgetvalue(res, 0, 0));
	st->tmp.created = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	pl_log_info("MS-CHANNEL-CREATE", "channel=%s team=%s kind=%s creator=%s", st->tmp.id,
	    st->tmp.team, st->tmp.kind, st->tmp.creator);
	snprintf(idem, sizeof(idem), "cc:%s", st->tmp.id);
	ms_send_env_init(&env, PARLEY__EVENT_TYPE__CHANNEL_CREATED, st->tmp.team, idem);
	ms_chan_to_proto(&st->tmp, &pc);
	pc.members = (char **)&st->c->user;
	pc.n_members = 1;
	env.body_case = PARLEY__ENVELOPE__BODY_CHANNEL;
	env.channel = &pc;
	st->pending = 2;
	if ((rv = ms_send_event(&env, create_acked, st)) != 0)
		create_acked(rv, NULL, st);
	if ((rv = mem_membership_event(&st->tmp, st->c->user, st->c->user, 1, create_acked,
	    st)) != 0)
		create_acked(rv, NULL, st);
}

/* create_name_error - Slack's rule for channel names: 1..80 of lowercase
 * letters, digits, '-', '_', '.', not only punctuation; the error or NULL */
static const char *
create_name_error(const char *s)
{
	size_t n = strlen(s), i, punct = 0;

	if (n == 0)
		return "invalid_name_required";
	if (n > 80)
		return "invalid_name_maxlength";
	for (i = 0; i < n; i++) {
		if (s[i] == '-' || s[i] == '_' || s[i] == '.')
			punct++;
		else if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return "invalid_name_specials";
	}
	return punct == n ? "invalid_name_punctuation" : NULL;
}

int
ms_members_create(struct ms_call *c)
{
	const char *name = ms_param(c, "name"), *priv = ms_param(c, "is_private");
	int is_private = strcmp(priv, "true") == 0 || strcmp(priv, "1") == 0;
	struct create *st;
	char id[PL_ID_MAX + 1], now[32], cap[24];
	const char *p[8], *why;

	if ((why = create_name_error(name)) != NULL) {
		ms_call_error(&c, why);
		return 0;
	}
	pl_id_new(is_private ? 'G' : 'C', id);
	st = pl_calloc(1, sizeof(*st));
	st->c = c;
	c->state = st;
	c->state_free = create_free;
	snprintf(st->tmp.team, sizeof(st->tmp.team), "%s", c->team);
	snprintf(st->tmp.kind, sizeof(st->tmp.kind), "%s", is_private ? "private" : "public");
	snprintf(st->tmp.creator, sizeof(st->tmp.creator), "%s", c->user);
	st->tmp.name = pl_strdup(name);
	st->tmp.members = pl_strmap_create();
	pl_strmap_put(st->tmp.members, c->user, (void *)1);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000000));
	p[0] = id;
	p[1] = c->team;
	p[2] = st->tmp.kind;
	p[3] = name;
	p[4] = c->user;
	p[5] = now;
	p[6] = c->req->idempotency_key ? c->req->idempotency_key : "";
	snprintf(cap, sizeof(cap), "%lld", (long long)ms_conf.user_chans_max);
	p[7] = cap;
	return pl_pg_query(ms_state_dir(), "WITH capped AS (SELECT 1 FROM channel_members"
	    " WHERE user_id = $5 HAVING count(*) >= $8::bigint),"
	    " ins AS (INSERT INTO channels (id, team_id, kind, name,"
	    " creator, created, create_key) SELECT $1, $2, $3, $4, $5, $6, $7"
	    " WHERE NOT EXISTS (SELECT 1 FROM capped)"
	    " ON CONFLICT (team_id, name) WHERE kind IN ('public', 'private')"
	    " DO UPDATE SET name = EXCLUDED.name WHERE channels.create_key = $7 AND $7 <> ''"
	    " RETURNING id, created), mem AS (INSERT INTO channel_members (channel_id, user_id,"
	    " team_id, joined) SELECT id, $5, $2, created FROM ins ON CONFLICT DO NOTHING)"
	    " SELECT id, created FROM ins UNION ALL SELECT NULL, NULL FROM capped", 8, p,
	    create_done, st);
}

/* ---- rights: who may kick and archive (h-authz) */

/* members_admin_loaded - is_admin of the caller (no row: not an admin):
 * run the method again from the start, without the state of the first run */
static void
members_admin_loaded(int rv, struct pg_result *res, void *arg)
{
	struct ms_call *c = arg;

	if (rv != 0) {
		ms_call_rv_error(&c, rv);
		return;
	}
	c->user_admin_known = 1;
	c->user_admin = PQntuples(res) > 0 && PQgetvalue(res, 0, 0)[0] == 't';
	if (c->state_free != NULL && c->state != NULL)
		c->state_free(c->state);
	c->state = NULL;
	c->state_free = NULL;
	if ((rv = c->admin_again(c)) != 0)
		ms_call_rv_error(&c, rv);
}

/* ms_members_may_manage - 0: the caller created ch or is an admin of its
 * team; PL_EPERM: neither (restricted_action); PL_EAGAIN: the admin flag is
 * being read, and again(c) then runs the method from the start (its checks
 * see the channel as it is by then). The caller must not touch c or its
 * state after PL_EAGAIN. */
int
ms_members_may_manage(struct ms_call *c, const struct ms_chan *ch,
    int (*again)(struct ms_call *c))
{
	const char *p[2] = { c->user, c->team };
	int rv;

	if (strcmp(ch->creator, c->user) == 0)
		return 0;
	if (c->user_admin_known)
		return c->user_admin ? 0 : PL_EPERM;
	c->admin_again = again;
	rv = pl_pg_query(ms_state_dir(), "SELECT is_admin FROM users WHERE id = $1"
	    " AND team_id = $2 AND NOT deleted", 2, p, members_admin_loaded, c);
	if (rv != 0)
		ms_call_rv_error(&c, rv);
	return PL_EAGAIN;
}

/* ---- #general: a new user joins it (directory.c) */

struct join_as {
	struct ms_call *c;
	char user[PL_ID_MAX + 1];
	char *json;
};

/* join_as_ready - #general is loaded: join (or answer if already in) */
static void
join_as_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct join_as *ja = arg;
	struct ms_call *c = ja->c;

	if (rv != 0) {
		pl_log_warn("MS-GENERAL-JOIN", "user=%s err=%s", ja->user, pl_err_str(rv));
		mem_chan_error(&c, rv);
	} else if (ch->archived || ms_chan_is_member(ch, ja->user)) {
		ms_call_json(&c, ja->json);
	} else {
		mchange_begin(c, ch, mem_one(ja->user), 1, 1, ja->json);
	}
	free(ja->json);
	free(ja);
}

/* ms_members_join_as - join user to channel (ours), then answer json */
void
ms_members_join_as(struct ms_call *c, const char *channel, const char *user,
    const char *json)
{
	struct join_as *ja = pl_calloc(1, sizeof(*ja));

	ja->c = c;
	snprintf(ja->user, sizeof(ja->user), "%s", user);
	ja->json = pl_strdup(json);
	ms_chan_get(channel, join_as_ready, ja);
}
