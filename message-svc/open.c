/* open.c - conversations.open (direct and group messages) and
 * conversations.archive.
 *
 * A DM is the channel of a set of users: the caller plus users=, sorted and
 * de-duplicated; two (or one: a self-DM) make a `dm` (D…), three to eight a
 * `group` (G…, is_mpim). The set's key (team + sorted ids) is unique in the
 * directory, so opening the same set again - or concurrently, or through an
 * nng resend - returns the same channel. A new one is announced on
 * parley.events (CHANNEL_CREATED with its members, MEMBER_JOINED each) and
 * answered after the acks. */
#include <libpq-fe.h>
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

#define MS_OPEN_MAX_USERS 8

struct open_st {
	struct ms_call *c;
	char **users;
	int n;
	struct pl_buf arr;		/* users as text[] */
	struct pl_buf key;		/* team:U1,U2 */
	struct pl_buf name;
	char id[PL_ID_MAX + 1];
	char created[32];
	int tries;
	int pending, failed;
};

static void
open_free(void *p)
{
	struct open_st *st = p;

	pl_pgarr_free(&st->users, st->n);
	pl_buf_fini(&st->arr);
	pl_buf_fini(&st->key);
	pl_buf_fini(&st->name);
	free(st);
}

/* open_kind - "dm" for one or two users, else "group" */
static const char *
open_kind(const struct open_st *st)
{
	return st->n <= 2 ? "dm" : "group";
}

/* open_reply - {"channel":{…}} (+ no_op, already_open when it existed) */
static void
open_reply(struct open_st *st, int existed)
{
	struct ms_chan_view v;
	struct pl_buf b;
	int i;

	memset(&v, 0, sizeof(v));
	v.id = st->id;
	v.name = st->name.data;
	v.kind = open_kind(st);
	v.team = st->c->team;
	v.creator = st->c->user;
	v.created = strtoll(st->created, NULL, 10);
	v.is_member = 1;
	v.num_members = st->n;
	v.last_seq = -1;
	v.user = st->c->user;
	for (i = 0; i < st->n; i++)
		if (strcmp(st->users[i], st->c->user) != 0)
			v.user = st->users[i];
	pl_buf_init(&b);
	pl_buf_puts(&b, existed ? "{\"no_op\":true,\"already_open\":true,\"channel\":" :
	    "{\"channel\":");
	ms_render_chan(&v, &b);
	pl_buf_puts(&b, "}");
	ms_call_json(&st->c, b.data);
	pl_buf_fini(&b);
}

/* open_acked - one announcement of a new DM acknowledged */
static void
open_acked(int rv, Parley__Message *m, void *arg)
{
	struct open_st *st = arg;

	if (rv != 0)
		st->failed = 1;
	if (--st->pending > 0)
		return;
	if (st->failed)
		ms_call_error(&st->c, "internal_error");
	else
		open_reply(st, 0);
}

/* open_member_event - MEMBER_JOINED of one user of the new DM */
static int
open_member_event(struct open_st *st, const char *user)
{
	Parley__Envelope env;
	Parley__Membership mb;
	char idem[96];

	snprintf(idem, sizeof(idem), "mj:%s:%s", st->id, user);
	ms_send_env_init(&env, PARLEY__EVENT_TYPE__MEMBER_JOINED, st->c->team, idem);
	parley__membership__init(&mb);
	mb.channel = st->id;
	mb.user = (char *)user;
	mb.team = (char *)st->c->team;
	mb.actor = (char *)st->c->user;
	mb.kind = (char *)open_kind(st);
	env.body_case = PARLEY__ENVELOPE__BODY_MEMBERSHIP;
	env.membership = &mb;
	return ms_send_event(&env, open_acked, st);
}

/* open_announce - CHANNEL_CREATED + a MEMBER_JOINED per member */
static void
open_announce(struct open_st *st)
{
	Parley__Envelope env;
	Parley__Channel pc;
	char idem[64];
	int i, rv;

	snprintf(idem, sizeof(idem), "cc:%s", st->id);
	ms_send_env_init(&env, PARLEY__EVENT_TYPE__CHANNEL_CREATED, st->c->team, idem);
	parley__channel__init(&pc);
	pc.id = st->id;
	pc.team = (char *)st->c->team;
	pc.kind = (char *)open_kind(st);
	pc.name = st->name.data;
	pc.creator = (char *)st->c->user;
	pc.created = strtoll(st->created, NULL, 10);
	pc.members = st->users;
	pc.n_members = (size_t)st->n;
	env.body_case = PARLEY__ENVELOPE__BODY_CHANNEL;
	env.channel = &pc;
	st->pending = 1 + st->n + 1;	/* +1: held until every send is queued */
	if ((rv = ms_send_event(&env, open_acked, st)) != 0)
		open_acked(rv, NULL, st);
	for (i = 0; i < st->n; i++)
		if ((rv = open_member_event(st, st->users[i])) != 0)
			open_acked(rv, NULL, st);
	open_acked(0, NULL, st);
}

static void open_upsert(struct open_st *st);

/* open_upserted - (id, created, new) of the set's channel */
static void
open_upserted(int rv, struct pg_result *res, void *arg)
{
	struct open_st *st = arg;

	if (rv != 0) {
		ms_call_rv_error(&st->c, rv);
		return;
	}
	if (PQntuples(res) == 0) {
		/* a concurrent open committed after our snapshot: look again */
		if (++st->tries < 3) {
			open_upsert(st);
			return;
		}
		ms_call_error(&st->c, "internal_error");
		return;
	}
	snprintf(st->id, sizeof(st->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(st->created, sizeof(st->created), "%s", PQgetvalue(res, 0, 1));
	if (PQgetvalue(res, 0, 2)[0] != 't') {
		open_reply(st, 1);
		return;
	}
	pl_log_info("MS-DM-OPEN", "channel=%s team=%s members=%d", st->id, st->c->team, st->n);
	open_announce(st);
}

/* open_upsert - insert the set's channel and members unless it exists */
static void
open_upsert(struct open_st *st)
{
	char id[PL_ID_MAX + 1], now[32], n[16];
	const char *p[9];
	int rv;

	pl_id_new(st->n <= 2 ? 'D' : 'G', id);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000000));
	snprintf(n, sizeof(n), "%d", st->n);
	p[0] = id;
	p[1] = st->c->team;
	p[2] = open_kind(st);
	p[3] = st->name.data;
	p[4] = st->c->user;
	p[5] = now;
	p[6] = st->key.data;
	p[7] = st->arr.data;
	rv = pl_pg_query(ms_state_dir(), "WITH ins AS (INSERT INTO channels (id, team_id, kind, name,"
	    " creator, created, dm_key) VALUES ($1, $2, $3, $4, $5, $6, $7)"
	    " ON CONFLICT (dm_key) DO NOTHING RETURNING id, created),"
	    " mem AS (INSERT INTO channel_members (channel_id, user_id, team_id, joined)"
	    " SELECT ins.id, u, $2, ins.created FROM ins, unnest($8::text[]) u"
	    " ON CONFLICT DO NOTHING)"
	    " SELECT id, created, true FROM ins UNION ALL SELECT id, created, false"
	    " FROM channels WHERE dm_key = $7 AND NOT EXISTS (SELECT 1 FROM ins)", 8, p,
	    open_upserted, st);
	if (rv != 0)
		ms_call_rv_error(&st->c, rv);
}

/* open_users_checked - every member is a live user of the team */
static void
open_users_checked(int rv, struct pg_result *res, void *arg)
{
	struct open_st *st = arg;

	if (rv != 0) {
		ms_call_rv_error(&st->c, rv);
		return;
	}
	if (atoi(PQgetvalue(res, 0, 0)) != st->n) {
		ms_call_error(&st->c, "user_not_found");
		return;
	}
	open_upsert(st);
}

/* open_names - the set's key and the Slack-style name (mpdm-a--b--c-1) */
static void
open_names(struct open_st *st)
{
	int i;

	pl_buf_printf(&st->key, "%s:", st->c->team);
	pl_pgarr_begin(&st->arr);
	if (st->n > 2)
		pl_buf_puts(&st->name, "mpdm-");
	for (i = 0; i < st->n; i++) {
		pl_buf_printf(&st->key, "%s%s", i ? "," : "", st->users[i]);
		pl_pgarr_text(&st->arr, st->users[i]);
		if (st->n > 2)
			pl_buf_printf(&st->name, "%s%s", i ? "--" : "", st->users[i]);
	}
	pl_pgarr_end(&st->arr);
	if (st->n > 2)
		pl_buf_puts(&st->name, "-1");
	else
		pl_buf_puts(&st->name, "");
}

/* ms_open_conversation - conversations.open(users) */
int
ms_open_conversation(struct ms_call *c)
{
	const char *users = ms_param(c, "users");
	struct open_st *st;
	const char *p[2];
	char **v = NULL;
	int n;

	if (users[0] == '\0') {
		ms_call_error(&c, "users_list_not_supplied");
		return 0;
	}
	if ((n = ms_render_user_set(c->user, users, &v)) < 0) {
		ms_call_error(&c, "user_not_found");
		return 0;
	}
	if (n > MS_OPEN_MAX_USERS) {
		pl_pgarr_free(&v, n);
		ms_call_error(&c, "too_many_users");
		return 0;
	}
	st = pl_calloc(1, sizeof(*st));
	st->c = c;
	st->users = v;
	st->n = n;
	pl_buf_init(&st->arr);
	pl_buf_init(&st->key);
	pl_buf_init(&st->name);
	c->state = st;
	c->state_free = open_free;
	open_names(st);
	p[0] = c->team;
	p[1] = st->arr.data;
	return pl_pg_query(ms_state_dir(), "SELECT count(*) FROM users WHERE team_id = $1"
	    " AND id = ANY ($2::text[]) AND NOT deleted", 2, p, open_users_checked, st);
}

/* ---- conversations.archive */

struct archive {
	struct ms_call *c;
	struct ms_chan *ch;
};

/* archive_acked - CHANNEL_ARCHIVED is on parley.events */
static void
archive_acked(int rv, Parley__Message *m, void *arg)
{
	struct archive *st = arg;

	if (rv != 0)
		ms_call_error(&st->c, "internal_error");
	else
		ms_call_json(&st->c, "{}");
}

/* archive_written - the directory says archived: remember, announce */
static void
archive_written(int rv, struct pg_result *res, void *arg)
{
	struct archive *st = arg;
	Parley__Envelope env;
	Parley__Channel pc;
	char idem[64];

	if (rv != 0) {
		ms_call_rv_error(&st->c, rv);
		return;
	}
	st->ch->archived = 1;
	pl_log_info("MS-CHANNEL-ARCHIVE", "channel=%s user=%s", st->ch->id, st->c->user);
	snprintf(idem, sizeof(idem), "ca:%s", st->ch->id);
	ms_send_env_init(&env, PARLEY__EVENT_TYPE__CHANNEL_ARCHIVED, st->ch->team, idem);
	ms_chan_to_proto(st->ch, &pc);
	pc.archived = 1;
	env.body_case = PARLEY__ENVELOPE__BODY_CHANNEL;
	env.channel = &pc;
	if ((rv = ms_send_event(&env, archive_acked, st)) != 0)
		ms_call_rv_error(&st->c, rv);
}

/* archive_ready - checks, then the directory row */
static void
archive_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct archive *st = arg;
	const char *p[1];

	if (rv != 0) {
		ms_call_error(&st->c, pl_slack_chan_error(rv));
		return;
	}
	if (!ms_chan_visible(ch, st->c->team, st->c->user)) {
		ms_call_error(&st->c, "channel_not_found");
		return;
	}
	if (strcmp(ch->kind, "dm") == 0 || strcmp(ch->kind, "group") == 0) {
		ms_call_error(&st->c, "method_not_supported_for_channel_type");
		return;
	}
	if (ch->is_general) {
		ms_call_error(&st->c, "cant_archive_general");
		return;
	}
	if (ch->archived) {
		ms_call_error(&st->c, "already_archived");
		return;
	}
	if (!ms_chan_is_member(ch, st->c->user)) {
		ms_call_error(&st->c, "not_in_channel");
		return;
	}
	/* its creator or a team admin; PL_EAGAIN: asked, the method runs again */
	if ((rv = ms_members_may_manage(st->c, ch, ms_open_archive)) == PL_EAGAIN)
		return;
	if (rv != 0) {
		ms_call_error(&st->c, "restricted_action");
		return;
	}
	st->ch = ch;
	p[0] = ch->id;
	rv = pl_pg_query(ms_state_dir(), "UPDATE channels SET archived = true WHERE id = $1", 1, p,
	    archive_written, st);
	if (rv != 0)
		ms_call_rv_error(&st->c, rv);
}

/* ms_open_archive - conversations.archive(channel) */
int
ms_open_archive(struct ms_call *c)
{
	struct archive *st = pl_calloc(1, sizeof(*st));

	st->c = c;
	c->state = st;
	c->state_free = free;
	ms_chan_get(ms_param(c, "channel"), archive_ready, st);
	return 0;
}
