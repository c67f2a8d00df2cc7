/* directory.c - teams, users and the caller's view of them: admin
 * provisioning (a team comes with its #general, a user joins it, a user is
 * deactivated), auth.test, session.boot, session.check.
 *
 * Creates are idempotent per request: the row remembers the request's
 * idempotency key, so an nng resend of the same request gets the same row
 * back where a different request for the same name gets name_taken. */
#include <hiredis/hiredis.h>
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
#include "pg.h"
#include "redis.h"
#include "shard.h"

/* dir_idem - the request's idempotency key ("" when none) */
static const char *
dir_idem(const struct ms_call *c)
{
	return c->req->idempotency_key ? c->req->idempotency_key : "";
}

/* dir_valid_name - 1..80 chars of letters, digits, '-', '_', '.' */
static int
dir_valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 80)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return 0;
	}
	return 1;
}

/* dir_team_created - RETURNING id, name, general (no row: the name is
 * someone else's) */
static void
dir_team_created(int rv, struct pg_result *res, void *arg)
{
	struct ms_call *c = arg;
	struct pl_buf b;

	if (rv != 0) {
		ms_call_rv_error(&c, rv);
		return;
	}
	if (PQntuples(res) == 0) {
		ms_call_error(&c, "name_taken");
		return;
	}
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"team\":{\"id\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 0));
	pl_buf_puts(&b, ",\"name\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 1));
	pl_buf_puts(&b, ",\"domain\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 1));
	pl_buf_puts(&b, "},\"general_channel\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 2));
	pl_buf_puts(&b, "}");
	pl_log_info("MS-TEAM-CREATE", "team=%s name=%s general=%s", PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	ms_call_json(&c, b.data);
	pl_buf_fini(&b);
}

/* dir_general_id - a new channel id on the shard of team: admin.users.create
 * is routed by team, so that shard owns #general and joins new users to it
 * through the channel's own log (ms_members_join_as). A miss after 1000
 * draws (p < 1e-6 with 64 shards) only costs that: see dir_user_general. */
static void
dir_general_id(const char *team, char id[PL_ID_MAX + 1])
{
	int n = (int)ms_conf.shard_count, i;
	int want = pl_shard_of_team(team, ms.partitions, n);

	for (i = 0; i < 1000; i++) {
		pl_id_new('C', id);
		if (pl_shard_of_channel(id, ms.partitions, n) == want)
			return;
	}
}

/* ms_dir_team_create - admin.teams.create(name): the team and its #general
 * in one statement (a resend of the same request gets both back). Its
 * creator is Slack's system user USLACKBOT: no user of the team exists yet */
int
ms_dir_team_create(struct ms_call *c)
{
	char id[PL_ID_MAX + 1], gen[PL_ID_MAX + 1], now[32];
	const char *p[5];

	if (!dir_valid_name(ms_param(c, "name"))) {
		ms_call_error(&c, "invalid_name");
		return 0;
	}
	pl_id_new('T', id);
	dir_general_id(id, gen);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000000));
	p[0] = id;
	p[1] = ms_param(c, "name");
	p[2] = now;
	p[3] = dir_idem(c);
	p[4] = gen;
	return pl_pg_query(ms_state_dir(), "WITH t AS (INSERT INTO teams (id, name, domain, created,"
	    " create_key) VALUES ($1, $2, $2, $3, $4) ON CONFLICT (name) DO UPDATE"
	    " SET name = EXCLUDED.name WHERE teams.create_key = $4 AND $4 <> ''"
	    " RETURNING id, name), g AS (INSERT INTO channels (id, team_id, kind, name,"
	    " creator, created, is_general) SELECT $5, t.id, 'public', 'general', 'USLACKBOT',"
	    " $3, true"
	    " FROM t ON CONFLICT DO NOTHING RETURNING id)"
	    " SELECT t.id, t.name, coalesce((SELECT id FROM g), (SELECT c.id FROM channels c"
	    " WHERE c.team_id = t.id AND c.is_general), '') FROM t", 5, p,
	    dir_team_created, c);
}

/* dir_user_general - join the new user to the team's #general (general:
 * its id, "" when the team has none), then answer json. #general lives on
 * the team's shard (dir_general_id), which is this one unless the shard
 * count changed since the team was made: then the user is not joined here
 * (a membership change must go through the channel's owner) and joins
 * with conversations.join; logged. */
static void
dir_user_general(struct ms_call *c, const char *user, const char *general,
    const char *json)
{
	if (general[0] == '\0') {
		ms_call_json(&c, json);
		return;
	}
	if (pl_shard_of_channel(general, ms.partitions, (int)ms_conf.shard_count) !=
	    (int)ms_conf.shard_index) {
		pl_log_warn("MS-GENERAL-REMOTE", "user=%s channel=%s", user, general);
		ms_call_json(&c, json);
		return;
	}
	ms_members_join_as(c, general, user, json);
}

/* dir_user_created - id, name, team_id, team_exists, is_admin, general */
static void
dir_user_created(int rv, struct pg_result *res, void *arg)
{
	struct ms_call *c = arg;
	char *token = NULL;
	struct pl_buf b;

	if (rv != 0) {
		ms_call_rv_error(&c, rv);
		return;
	}
	if (PQgetvalue(res, 0, 0)[0] == '\0') {
		ms_call_error(&c, PQgetvalue(res, 0, 3)[0] == 't' ? "name_taken" :
		    "team_not_found");
		return;
	}
	if ((rv = ms_tokens_issue(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2), &token)) != 0) {
		ms_call_rv_error(&c, rv);
		return;
	}
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"user\":{\"id\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 0));
	pl_buf_puts(&b, ",\"name\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 1));
	pl_buf_puts(&b, ",\"team_id\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 2));
	pl_buf_printf(&b, ",\"is_admin\":%s},\"token\":",
	    PQgetvalue(res, 0, 4)[0] == 't' ? "true" : "false");
	pl_buf_json_str(&b, token);
	pl_buf_puts(&b, "}");
	pl_log_info("MS-USER-CREATE", "user=%s team=%s admin=%s", PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 4));
	dir_user_general(c, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 5), b.data);
	pl_buf_fini(&b);
	free(token);
}

/* dir_valid_email - "" (none), or 3..254 bytes of printable ASCII without
 * spaces or the characters mail headers would trip on, with exactly one '@'
 * neither first nor last */
static int
dir_valid_email(const char *s)
{
	size_t n = strlen(s), i, at = 0, ats = 0;

	if (n == 0)
		return 1;
	if (n < 3 || n > 254)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch <= ' ' || ch > '~' || strchr("<>()[]\\,;:\"", ch) != NULL)
			return 0;
		if (ch == '@') {
			at = i;
			ats++;
		}
	}
	return ats == 1 && at > 0 && at < n - 1;
}

/* dir_bool_param - "true"/"1" -> "true", else "false" */
static const char *
dir_bool_param(const struct ms_call *c, const char *key)
{
	const char *v = ms_param(c, key);

	return strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ? "true" : "false";
}

/* ms_dir_user_create - admin.users.create(team_id, name, is_admin, email) */
int
ms_dir_user_create(struct ms_call *c)
{
	char id[PL_ID_MAX + 1], now[32];
	const char *p[7];

	if (!dir_valid_name(ms_param(c, "name"))) {
		ms_call_error(&c, "invalid_name");
		return 0;
	}
	if (!dir_valid_email(ms_param(c, "email"))) {
		ms_call_error(&c, "invalid_email");
		return 0;
	}
	pl_id_new('U', id);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000000));
	p[0] = id;
	p[1] = ms_param(c, "team_id");
	p[2] = ms_param(c, "name");
	p[3] = now;
	p[4] = dir_idem(c);
	p[5] = dir_bool_param(c, "is_admin");
	p[6] = ms_param(c, "email");
	return pl_pg_query(ms_state_dir(), "WITH ins AS (INSERT INTO users (id, team_id, name, created,"
	    " create_key, is_admin, email) SELECT $1, $2, $3, $4, $5, $6::bool, $7 WHERE EXISTS (SELECT 1"
	    " FROM teams WHERE id = $2) ON CONFLICT (team_id, name) DO UPDATE SET name ="
	    " EXCLUDED.name WHERE users.create_key = $5 AND $5 <> '' RETURNING id, name, team_id,"
	    " is_admin) SELECT id, name, team_id, true, is_admin, coalesce((SELECT c.id FROM"
	    " channels c WHERE c.team_id = $2 AND c.is_general), '') FROM ins UNION ALL"
	    " SELECT '', '', '', EXISTS (SELECT 1 FROM teams WHERE id = $2), false, ''"
	    " WHERE NOT EXISTS (SELECT 1 FROM ins)", 7, p, dir_user_created, c);
}

/* ---- admin.users.remove: deactivate. The row says deleted first, then
 * USER_CHANGED (deleted) goes on parley.events (key = team): every gateway
 * drops the user from its edge cache and closes its sockets with 4004, and
 * from then on refuses the user's tokens (session.check, session.boot). */

struct remove {
	struct ms_call *c;
	char user[PL_ID_MAX + 1];
};

/* dir_removed_acked - USER_CHANGED is on parley.events */
static void
dir_removed_acked(int rv, Parley__Message *m, void *arg)
{
	struct remove *st = arg;

	(void)m;
	if (rv != 0)
		ms_call_rv_error(&st->c, rv);
	else
		ms_call_json(&st->c, "{}");
}

/* dir_removed - RETURNING team_id, name, real_name, is_admin */
static void
dir_removed(int rv, struct pg_result *res, void *arg)
{
	struct remove *st = arg;
	Parley__Envelope env;
	Parley__User u;
	char idem[64];

	if (rv != 0) {
		ms_call_rv_error(&st->c, rv);
		return;
	}
	if (PQntuples(res) == 0) {
		ms_call_error(&st->c, "user_not_found");
		return;
	}
	pl_log_info("MS-USER-REMOVE", "user=%s team=%s", st->user, PQgetvalue(res, 0, 0));
	snprintf(idem, sizeof(idem), "ud:%s", st->user);
	ms_send_env_init(&env, PARLEY__EVENT_TYPE__USER_CHANGED, PQgetvalue(res, 0, 0), idem);
	parley__user__init(&u);
	u.id = st->user;
	u.team = PQgetvalue(res, 0, 0);
	u.name = PQgetvalue(res, 0, 1);
	u.real_name = PQgetvalue(res, 0, 2);
	u.is_admin = PQgetvalue(res, 0, 3)[0] == 't';
	u.deleted = 1;
	env.body_case = PARLEY__ENVELOPE__BODY_USER;
	env.user = &u;
	if ((rv = ms_send_event(&env, dir_removed_acked, st)) != 0)
		ms_call_rv_error(&st->c, rv);
}

/* ms_dir_user_remove - admin.users.remove(user_id, team_id?): idempotent (a
 * second call announces again, which every reader ignores) */
int
ms_dir_user_remove(struct ms_call *c)
{
	const char *user = ms_param(c, "user_id"), *p[2];
	struct remove *st;

	if (user[0] == '\0')
		user = ms_param(c, "user");
	if (!pl_id_valid(user, "UW")) {
		ms_call_error(&c, "user_not_found");
		return 0;
	}
	st = pl_calloc(1, sizeof(*st));
	st->c = c;
	snprintf(st->user, sizeof(st->user), "%s", user);
	c->state = st;
	c->state_free = free;
	p[0] = st->user;
	p[1] = ms_param(c, "team_id");
	return pl_pg_query(ms_state_dir(), "UPDATE users SET deleted = true WHERE id = $1"
	    " AND ($2 = '' OR team_id = $2) RETURNING team_id, name, real_name, is_admin", 2, p,
	    dir_removed, st);
}

/* dir_checked - deleted of the caller's row (none: not a user of the team) */
static void
dir_checked(int rv, struct pg_result *res, void *arg)
{
	struct ms_call *c = arg;

	if (rv != 0)
		ms_call_rv_error(&c, rv);
	else if (PQntuples(res) == 0)
		ms_call_error(&c, "invalid_auth");
	else if (PQgetvalue(res, 0, 0)[0] == 't')
		ms_call_error(&c, "account_inactive");
	else
		ms_call_json(&c, "{}");
}

/* ms_dir_check - session.check (internal): is the caller an active user of
 * its team; the gateway caches the answer (gateway/active.c) */
int
ms_dir_check(struct ms_call *c)
{
	const char *p[2] = { c->user, c->team };

	return pl_pg_query(ms_state_dir(), "SELECT deleted FROM users WHERE id = $1"
	    " AND team_id = $2", 2, p, dir_checked, c);
}

/* dir_auth_done - user name, team name, domain */
static void
dir_auth_done(int rv, struct pg_result *res, void *arg)
{
	struct ms_call *c = arg;
	struct pl_buf b;

	if (rv != 0) {
		ms_call_rv_error(&c, rv);
		return;
	}
	if (PQntuples(res) == 0) {
		ms_call_error(&c, "invalid_auth");
		return;
	}
	pl_buf_init(&b);
	pl_buf_printf(&b, "{\"url\":\"https://%s.parley.local/\",\"team\":",
	    PQgetvalue(res, 0, 2));
	pl_buf_json_str(&b, PQgetvalue(res, 0, 1));
	pl_buf_puts(&b, ",\"user\":");
	pl_buf_json_str(&b, PQgetvalue(res, 0, 0));
	pl_buf_puts(&b, ",\"team_id\":");
	pl_buf_json_str(&b, c->team);
	pl_buf_puts(&b, ",\"user_id\":");
	pl_buf_json_str(&b, c->user);
	pl_buf_puts(&b, "}");
	ms_call_json(&c, b.data);
	pl_buf_fini(&b);
}

/* ms_dir_auth_test - auth.test */
int
ms_dir_auth_test(struct ms_call *c)
{
	const char *p[2] = { c->user, c->team };

	return pl_pg_query(ms_state_dir(), "SELECT u.name, t.name, t.domain FROM users u"
	    " JOIN teams t ON t.id = u.team_id WHERE u.id = $1 AND u.team_id = $2"
	    " AND NOT u.deleted", 2, p, dir_auth_done, c);
}

/* ---- session.boot */

struct boot {
	struct ms_call *c;
	Parley__Boot boot;
	Parley__User self;
	Parley__Team team;
	Parley__Channel *chans;
	Parley__Channel **chanp;
	char **strs;		/* heap strings the protos point at */
	size_t nstrs, capstrs;
	struct boot_look *looks;	/* one per channel (Redis callbacks' args) */
	int pending;		/* Redis look-ups in flight */
};

struct boot_look {
	struct boot *st;
	Parley__Channel *pc;
};

static void boot_states(struct boot *st);

/* boot_str - keep a copy of s for the reply's lifetime */
static char *
boot_str(struct boot *st, const char *s)
{
	st->strs = pl_grow(st->strs, &st->capstrs, st->nstrs + 1, 64, sizeof(char *));
	return st->strs[st->nstrs++] = pl_strdup(s);
}

static void
boot_free(void *p)
{
	struct boot *st = p;
	size_t i;

	for (i = 0; i < st->nstrs; i++)
		free(st->strs[i]);
	free(st->strs);
	free(st->chans);
	free(st->chanp);
	free(st->looks);
	free(st);
}

/* boot_json - {"self":{…},"team":{…},"channels":[{id,name,kind,last_seq,epoch}]} */
static void
boot_json(const struct boot *st, struct pl_buf *b)
{
	size_t i;

	pl_buf_puts(b, "{\"self\":{\"id\":");
	pl_buf_json_str(b, st->self.id);
	pl_buf_puts(b, ",\"name\":");
	pl_buf_json_str(b, st->self.name);
	pl_buf_puts(b, "},\"team\":{\"id\":");
	pl_buf_json_str(b, st->team.id);
	pl_buf_puts(b, ",\"name\":");
	pl_buf_json_str(b, st->team.name);
	pl_buf_puts(b, ",\"domain\":");
	pl_buf_json_str(b, st->team.domain);
	pl_buf_puts(b, "},\"channels\":[");
	for (i = 0; i < st->boot.n_channels; i++) {
		const Parley__Channel *ch = st->boot.channels[i];

		pl_buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
		pl_buf_json_str(b, ch->id);
		pl_buf_puts(b, ",\"name\":");
		pl_buf_json_str(b, ch->name);
		pl_buf_puts(b, ",\"kind\":");
		pl_buf_json_str(b, ch->kind);
		pl_buf_printf(b, ",\"is_archived\":%s,\"last_seq\":%lld,\"epoch\":%u}",
		    ch->archived ? "true" : "false", (long long)ch->last_seq, ch->epoch);
	}
	pl_buf_puts(b, "]}");
}

/* boot_finish - answer once every look-up is back */
static void
boot_finish(struct boot *st)
{
	Parley__Reply r;
	struct pl_buf b;

	if (--st->pending > 0)
		return;
	pl_buf_init(&b);
	boot_json(st, &b);
	parley__reply__init(&r);
	r.ok = 1;
	r.boot = &st->boot;
	r.json = b.data;
	ms_call_reply(&st->c, &r);
	pl_buf_fini(&b);
}

/* boot_meta - the HMGET {ch:ID}:meta seq epoch of every channel not in
 * memory, sent together (one pipelined write; each key is its own slot, so
 * no multi-key command): arg is the channel's struct boot_look */
static void
boot_meta(int rv, struct redisReply *r, void *arg)
{
	struct boot *st = ((struct boot_look *)arg)->st;
	Parley__Channel *ch = ((struct boot_look *)arg)->pc;

	if (rv == 0 && r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
		if (r->element[0]->type == REDIS_REPLY_STRING) {
			int64_t seq = strtoll(r->element[0]->str, NULL, 10);

			if (seq > ch->last_seq)
				ch->last_seq = seq;
		}
		if (r->element[1]->type == REDIS_REPLY_STRING && ch->epoch == 0)
			ch->epoch = (uint32_t)strtoul(r->element[1]->str, NULL, 10);
	}
	boot_finish(st);
}

/* boot_states - last_seq and epoch: ours from memory, others' from Redis */
static void
boot_states(struct boot *st)
{
	size_t i, k;
	char key[64];

	st->looks = pl_calloc(st->boot.n_channels + 1, sizeof(*st->looks));
	st->pending = 1;
	for (i = 0; i < st->boot.n_channels; i++) {
		Parley__Channel *pc = &st->chans[i];
		struct ms_chan *ch = ms_chan_peek(pc->id);
		const char *argv[4];
		size_t argl[4];

		if (ch != NULL && ch->seq_state == MS_CHAN_READY) {
			pc->last_seq = ch->next_seq - 1;
			pc->epoch = ch->epoch;
			continue;
		}
		if (ms.redis == NULL)
			continue;
		snprintf(key, sizeof(key), "{ch:%s}:meta", pc->id);
		argv[0] = "HMGET", argv[1] = key, argv[2] = "seq", argv[3] = "epoch";
		for (k = 0; k < 4; k++)
			argl[k] = strlen(argv[k]);
		st->looks[i].st = st;
		st->looks[i].pc = pc;
		st->pending++;
		if (pl_redis_cmd(ms.redis, boot_meta, &st->looks[i], 4, argv, argl) != 0)
			st->pending--;
	}
	boot_finish(st);
}

/* boot_row_channel - columns 4.. of row i: one channel of the caller */
static void
boot_row_channel(struct boot *st, struct pg_result *res, int i, Parley__Channel *pc)
{
	parley__channel__init(pc);
	pc->id = boot_str(st, PQgetvalue(res, i, 4));
	pc->kind = boot_str(st, PQgetvalue(res, i, 5));
	pc->name = boot_str(st, PQgetvalue(res, i, 6));
	pc->archived = PQgetvalue(res, i, 7)[0] == 't';
	pc->creator = boot_str(st, PQgetvalue(res, i, 8));
	pc->created = strtoll(PQgetvalue(res, i, 9), NULL, 10);
	pc->last_seq = strtoll(PQgetvalue(res, i, 10), NULL, 10);
	pc->team = boot_str(st, PQgetvalue(res, i, 11));
}

/* boot_loaded - one row per channel of the caller (one row with NULL
 * channel columns when none): user name, team name, domain, is_admin, then
 * id, kind, name, archived, creator, created, last_seq, team of the channel,
 * then the user's deleted (a deactivated user boots nothing: account_inactive) */
static void
boot_loaded(int rv, struct pg_result *res, void *arg)
{
	struct boot *st = arg;
	int i, n;

	if (rv != 0 || PQntuples(res) == 0) {
		if (rv != 0)
			ms_call_rv_error(&st->c, rv);
		else
			ms_call_error(&st->c, "invalid_auth");
		return;
	}
	if (PQgetvalue(res, 0, 12)[0] == 't') {
		ms_call_error(&st->c, "account_inactive");
		return;
	}
	st->self.id = (char *)st->c->user;
	st->self.team = (char *)st->c->team;
	st->self.name = boot_str(st, PQgetvalue(res, 0, 0));
	st->self.is_admin = PQgetvalue(res, 0, 3)[0] == 't';
	st->team.id = (char *)st->c->team;
	st->team.name = boot_str(st, PQgetvalue(res, 0, 1));
	st->team.domain = boot_str(st, PQgetvalue(res, 0, 2));
	n = PQgetisnull(res, 0, 4) ? 0 : PQntuples(res);
	st->chans = pl_calloc((size_t)n + 1, sizeof(*st->chans));
	st->chanp = pl_calloc((size_t)n + 1, sizeof(*st->chanp));
	for (i = 0; i < n; i++) {
		boot_row_channel(st, res, i, &st->chans[i]);
		st->chanp[i] = &st->chans[i];
	}
	st->boot.channels = st->chanp;
	st->boot.n_channels = (size_t)n;
	boot_states(st);
}

/* ms_dir_boot - session.boot: self, team, the caller's channels */
int
ms_dir_boot(struct ms_call *c)
{
	struct boot *st = pl_calloc(1, sizeof(*st));
	const char *p[2] = { c->user, c->team };
	int rv;

	st->c = c;
	parley__boot__init(&st->boot);
	parley__user__init(&st->self);
	parley__team__init(&st->team);
	st->boot.self = &st->self;
	st->boot.team = &st->team;
	c->state = st;
	c->state_free = boot_free;
	/* one round trip: the user and team row repeated on each channel row */
	rv = pl_pg_query(ms_state_dir(), "SELECT u.name, t.name, t.domain, u.is_admin, c.id,"
	    " c.kind, c.name, c.archived, c.creator, c.created, c.last_seq, c.team_id,"
	    " u.deleted FROM users u JOIN teams t ON t.id = u.team_id"
	    " LEFT JOIN (channel_members m JOIN channels c ON c.id = m.channel_id)"
	    " ON m.user_id = u.id WHERE u.id = $1 AND u.team_id = $2"
	    " ORDER BY c.created, c.id", 2, p, boot_loaded, st);
	if (rv != 0)
		ms_call_rv_error(&c, rv);
	return 0;
}
