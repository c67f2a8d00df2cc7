/* target.c - the current state of one message (the target of an edit, a
 * delete or a reaction): its PostgreSQL row and reactions, with the
 * channel's tail (tail.c: events not yet committed, including pending
 * appends) applied on top in seq order. See tail.c for why the two agree. */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "message_svc.h"
#include "ms_chan.h"
#include "pg.h"
#include "pgarr.h"

struct target_op {
	char channel[PL_ID_MAX + 1];
	char *ts;
	ms_target_fn fn;
	void *arg;
};

/* target_set - replace a heap string */
static void
target_set(char **dst, const char *v)
{
	free(*dst);
	*dst = pl_strdup(v ? v : "");
}

/* rx_key - "name user" (a name never holds a space), or "name" alone */
static const char *
rx_key(char *buf, size_t n, const char *name, const char *user)
{
	if (user != NULL)
		snprintf(buf, n, "%s %s", name, user);
	else
		snprintf(buf, n, "%s", name);
	return buf;
}

#define RX_KEY_MAX (104 + 2 + 64)

/* ms_target_has_rx - 1 if user reacted with name on t */
int
ms_target_has_rx(const struct ms_target *t, const char *name, const char *user)
{
	char k[RX_KEY_MAX];

	return t->rx_idx != NULL &&
	    pl_strmap_get(t->rx_idx, rx_key(k, sizeof(k), name, user)) != NULL;
}

/* ms_target_rx_has_emoji - name has a live reaction on t */
int
ms_target_rx_has_emoji(const struct ms_target *t, const char *name)
{
	char k[RX_KEY_MAX];

	return t->rx_idx != NULL &&
	    pl_strmap_get(t->rx_idx, rx_key(k, sizeof(k), name, NULL)) != NULL;
}

/* rx_emoji - the entry of name (created at the end when new) */
static struct ms_rx *
rx_emoji(struct ms_target *t, const char *name)
{
	char k[RX_KEY_MAX];
	intptr_t i = (intptr_t)pl_strmap_get(t->rx_idx, rx_key(k, sizeof(k), name, NULL));
	struct ms_rx *e;

	if (i > 0)
		return &t->rx[i - 1];
	if (t->nrx_emoji == t->cap_rx) {
		t->cap_rx = t->cap_rx ? t->cap_rx * 2 : 4;
		t->rx = pl_realloc(t->rx, (size_t)t->cap_rx * sizeof(*t->rx));
	}
	e = &t->rx[t->nrx_emoji++];
	memset(e, 0, sizeof(*e));
	e->name = pl_strdup(name);
	pl_strmap_put(t->rx_idx, k, (void *)(intptr_t)t->nrx_emoji);
	t->nemoji++;
	return e;
}

/* ms_target_rx_add / ms_target_rx_del - one reaction of one user (also
 * used by history.c for the reactions of a page's rows); O(1) each */
void
ms_target_rx_add(struct ms_target *t, const char *name, const char *user)
{
	char k[RX_KEY_MAX];
	struct ms_rx *e;

	if (t->rx_idx == NULL)
		t->rx_idx = pl_strmap_create();
	if (pl_strmap_get(t->rx_idx, rx_key(k, sizeof(k), name, user)) != NULL)
		return;
	e = rx_emoji(t, name);
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 4;
		e->users = pl_realloc(e->users, (size_t)e->cap * sizeof(char *));
	}
	e->users[e->n++] = pl_strdup(user);
	e->live++;
	t->nrx++;
	/* where: emoji index and user index, both + 1, in one pointer */
	pl_strmap_put(t->rx_idx, rx_key(k, sizeof(k), name, user),
	    (void *)(((intptr_t)(e - t->rx) + 1) << 32 | (intptr_t)e->n));
}

void
ms_target_rx_del(struct ms_target *t, const char *name, const char *user)
{
	char k[RX_KEY_MAX];
	intptr_t at;
	struct ms_rx *e;

	if (t->rx_idx == NULL ||
	    (at = (intptr_t)pl_strmap_del(t->rx_idx, rx_key(k, sizeof(k), name, user))) == 0)
		return;
	e = &t->rx[(at >> 32) - 1];
	free(e->users[(at & 0xffffffff) - 1]);
	e->users[(at & 0xffffffff) - 1] = NULL;
	e->live--;
	t->nrx--;
	if (e->live > 0)
		return;
	/* the emoji's last reaction: it is gone (re-added, it goes last) */
	pl_strmap_del(t->rx_idx, rx_key(k, sizeof(k), name, NULL));
	free(e->name);
	e->name = NULL;
	t->nemoji--;
}

/* target_created - t becomes the created message m */
static void
target_created(struct ms_target *t, const Parley__Message *m)
{
	t->found = 1;
	t->deleted = 0;
	t->seq = m->seq;
	target_set(&t->user, m->user);
	target_set(&t->text, m->text);
	target_set(&t->thread_ts, m->thread_ts);
	target_set(&t->subtype, m->subtype);
	target_set(&t->cmid, m->client_msg_id);
}

/* ms_target_apply - one event of the channel, if it concerns t->ts */
void
ms_target_apply(struct ms_target *t, int type, const Parley__Message *m)
{
	if (type == PARLEY__EVENT_TYPE__MESSAGE_CREATED) {
		if (strcmp(m->ts, t->ts) == 0)
			target_created(t, m);
		else if (m->thread_ts[0] && strcmp(m->thread_ts, t->ts) == 0 &&
		    strcmp(m->ts, t->ts) != 0)
			t->reply_count++;
		return;
	}
	if (m->target_ts == NULL || strcmp(m->target_ts, t->ts) != 0 || !t->found)
		return;
	if (type == PARLEY__EVENT_TYPE__MESSAGE_CHANGED) {
		target_set(&t->text, m->text);
		target_set(&t->edited_ts, m->ts);
	} else if (type == PARLEY__EVENT_TYPE__MESSAGE_DELETED) {
		t->deleted = 1;
	} else if (type == PARLEY__EVENT_TYPE__REACTION_ADDED) {
		ms_target_rx_add(t, m->reaction, m->user);
	} else if (type == PARLEY__EVENT_TYPE__REACTION_REMOVED) {
		ms_target_rx_del(t, m->reaction, m->user);
	}
}

/* ms_target_fini - free t's strings */
void
ms_target_fini(struct ms_target *t)
{
	int i, k;

	free(t->ts);
	free(t->user);
	free(t->text);
	free(t->thread_ts);
	free(t->subtype);
	free(t->edited_ts);
	free(t->cmid);
	for (i = 0; i < t->nrx_emoji; i++) {
		for (k = 0; k < t->rx[i].n; k++)
			free(t->rx[i].users[k]);
		free(t->rx[i].users);
		free(t->rx[i].name);
	}
	free(t->rx);
	pl_strmap_free(&t->rx_idx, NULL);
	memset(t, 0, sizeof(*t));
}

/* target_row - fill t from the row (seq, user, text, thread_ts, subtype,
 * edited_ts, cmid, deleted, reply_count, rx names[], rx users[]) */
static void
target_row(struct ms_target *t, struct pg_result *res)
{
	char **names, **users;
	int nn = 0, nu = 0, i;

	t->found = 1;
	t->seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	target_set(&t->user, PQgetvalue(res, 0, 1));
	target_set(&t->text, PQgetvalue(res, 0, 2));
	target_set(&t->thread_ts, PQgetvalue(res, 0, 3));
	target_set(&t->subtype, PQgetvalue(res, 0, 4));
	target_set(&t->edited_ts, PQgetvalue(res, 0, 5));
	target_set(&t->cmid, PQgetvalue(res, 0, 6));
	t->deleted = PQgetvalue(res, 0, 7)[0] == 't';
	t->reply_count = atoi(PQgetvalue(res, 0, 8));
	names = pl_pgarr_split(PQgetvalue(res, 0, 9), &nn);
	users = pl_pgarr_split(PQgetvalue(res, 0, 10), &nu);
	for (i = 0; i < nn && i < nu; i++)
		ms_target_rx_add(t, names[i], users[i]);
	pl_pgarr_free(&names, nn);
	pl_pgarr_free(&users, nu);
}

/* target_done - PostgreSQL answered: apply the tail, hand t over */
static void
target_done(int rv, struct pg_result *res, void *arg)
{
	struct target_op *op = arg;
	const struct ms_tail_ev *ev;
	struct ms_target t;
	size_t n, i;

	memset(&t, 0, sizeof(t));
	t.ts = pl_strdup(op->ts);
	if (rv == 0 && PQntuples(res) > 0)
		target_row(&t, res);
	ev = ms_tail_events(op->channel, &n);
	for (i = 0; i < n; i++)
		ms_target_apply(&t, ev[i].type, ev[i].m);
	/* PostgreSQL down: the tail alone is the answer only if it created it */
	if (rv != 0 && !t.found)
		op->fn(PL_EUNAVAIL, NULL, op->arg);
	else
		op->fn(0, &t, op->arg);
	ms_target_fini(&t);
	free(op->ts);
	free(op);
}

/* ms_target_get - the message ts of ch, as it is now */
void
ms_target_get(const struct ms_chan *ch, const char *ts, ms_target_fn fn, void *arg)
{
	struct target_op *op = pl_calloc(1, sizeof(*op));
	const char *p[2];
	int rv;

	memcpy(op->channel, ch->id, sizeof(op->channel));
	op->ts = pl_strdup(ts);
	op->fn = fn;
	op->arg = arg;
	p[0] = ch->id;
	p[1] = ts;
	rv = pl_pg_query(ms.pg, "SELECT m.seq, m.user_id, m.text, m.thread_ts, m.subtype,"
	    " m.edited_ts, m.client_msg_id, m.deleted, m.reply_count,"
	    " coalesce((SELECT array_agg(r.name ORDER BY r.seq) FROM reactions r"
	    "  WHERE r.channel_id = m.channel_id AND r.ts = m.ts), '{}'),"
	    " coalesce((SELECT array_agg(r.user_id ORDER BY r.seq) FROM reactions r"
	    "  WHERE r.channel_id = m.channel_id AND r.ts = m.ts), '{}')"
	    " FROM messages m WHERE m.channel_id = $1 AND m.ts = $2", 2, p, target_done, op);
	if (rv != 0)
		target_done(rv, NULL, op);
}

/* ms_target_rx_json - ,"reactions":[{"name","users":[…],"count"}] grouped by name
 * in order of first use; nothing when there are none. Linear in t's
 * reactions (target.c keeps them grouped). */
void
ms_target_rx_json(const struct ms_target *t, struct pl_buf *b)
{
	const struct ms_rx *e;
	int i, k, first = 1, count;

	if (t->nrx == 0)
		return;
	pl_buf_puts(b, ",\"reactions\":[");
	for (i = 0; i < t->nrx_emoji; i++) {
		e = &t->rx[i];
		if (e->name == NULL || e->live == 0)
			continue;
		pl_buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
		first = 0;
		pl_buf_json_str(b, e->name);
		pl_buf_puts(b, ",\"users\":[");
		for (k = 0, count = 0; k < e->n; k++) {
			if (e->users[k] == NULL)
				continue;
			pl_buf_puts(b, count++ ? "," : "");
			pl_buf_json_str(b, e->users[k]);
		}
		pl_buf_printf(b, "],\"count\":%d}", count);
	}
	pl_buf_puts(b, "]");
}
