/* page.c - the message objects of one conversations.history / replies
 * page: rows borrowed from a PostgreSQL result or from the tail, what Slack
 * shows on them beyond the message itself (reactions; on a thread root
 * reply_count, reply_users_count, reply_users, latest_reply; on a reply
 * parent_user_id), and the tail's later events applied on top in seq order
 * (edits, deletes, new replies, reactions). Pure: no I/O. */
#include <stdlib.h>
#include <string.h>

#include "event_json.h"
#include "mem.h"
#include "message_svc.h"
#include "ms_chan.h"

#define MS_PAGE_REPLY_USERS 5	/* Slack shows at most five reply_users */

/* ms_page_add - one more row (strings borrowed); the pointer is valid
 * until the next add */
struct ms_page_row *
ms_page_add(struct ms_page *pg, const Parley__Message *m)
{
	struct ms_page_row *r;

	pg->v = pl_grow(pg->v, &pg->cap, (size_t)pg->n + 1, 64, sizeof(*pg->v));
	r = &pg->v[pg->n++];
	memset(r, 0, sizeof(*r));
	r->m = *m;
	r->latest_reply = "";
	r->parent_user = "";
	return r;
}

/* ms_page_reply_user - user replied in r's thread (kept once, in order) */
void
ms_page_reply_user(struct ms_page_row *r, const char *user)
{
	int i;

	for (i = 0; i < r->nreply_users; i++)
		if (strcmp(r->reply_users[i], user) == 0)
			return;
	r->reply_users = pl_realloc(r->reply_users,
	    (size_t)(r->nreply_users + 1) * sizeof(char *));
	r->reply_users[r->nreply_users++] = pl_strdup(user);
}

/* page_created - a new message: a reply to r counts on r */
static void
page_created(struct ms_page_row *r, const Parley__Message *m)
{
	Parley__Message *rm = &r->m;

	if (m->thread_ts[0] == '\0' || strcmp(m->thread_ts, rm->ts) != 0 ||
	    strcmp(m->ts, rm->ts) == 0 || m->seq <= rm->seq)
		return;
	rm->reply_count++;
	rm->thread_ts = rm->ts;
	r->latest_reply = m->ts;
	ms_page_reply_user(r, m->user);
}

/* page_deleted - r itself is deleted, or one of its replies is. A deleted
 * reply lowers reply_count; reply_users and latest_reply are recomputed
 * only when PostgreSQL commits the delete. */
static void
page_deleted(struct ms_page_row *r, const Parley__Message *m)
{
	if (strcmp(m->target_ts, r->m.ts) == 0)
		r->drop = 1;
	else if (m->thread_ts[0] && strcmp(m->thread_ts, r->m.ts) == 0 &&
	    r->m.reply_count > 0)
		r->m.reply_count--;
}

/* page_apply_row - one tail event's effect on one row */
static void
page_apply_row(struct ms_page_row *r, int type, const Parley__Message *m)
{
	if (type == PARLEY__EVENT_TYPE__MESSAGE_CREATED) {
		page_created(r, m);
		return;
	}
	if (m->target_ts == NULL)
		return;
	if (type == PARLEY__EVENT_TYPE__MESSAGE_DELETED) {
		page_deleted(r, m);
		return;
	}
	if (strcmp(m->target_ts, r->m.ts) != 0)
		return;
	if (type == PARLEY__EVENT_TYPE__MESSAGE_CHANGED) {
		r->m.text = m->text;
		r->m.edited_ts = m->ts;
	} else if (type == PARLEY__EVENT_TYPE__REACTION_ADDED) {
		ms_target_rx_add(&r->rx, m->reaction, m->user);
	} else if (type == PARLEY__EVENT_TYPE__REACTION_REMOVED) {
		ms_target_rx_del(&r->rx, m->reaction, m->user);
	}
}

/* ms_page_apply - one (acknowledged) tail event applied to every row */
void
ms_page_apply(struct ms_page *pg, int type, const Parley__Message *m)
{
	int i;

	for (i = 0; i < pg->n; i++)
		page_apply_row(&pg->v[i], type, m);
}

/* page_thread_json - a thread root's summary */
static void
page_thread_json(const struct ms_page_row *r, struct pl_buf *b)
{
	int i;

	pl_buf_printf(b, ",\"reply_users_count\":%d,\"reply_users\":[", r->nreply_users);
	for (i = 0; i < r->nreply_users && i < MS_PAGE_REPLY_USERS; i++) {
		pl_buf_puts(b, i ? "," : "");
		pl_buf_json_str(b, r->reply_users[i]);
	}
	pl_buf_puts(b, "],\"latest_reply\":");
	pl_buf_json_str(b, r->latest_reply);
	pl_buf_puts(b, ",\"is_locked\":false");
}

/* ms_page_row_json - the message object of r */
void
ms_page_row_json(const struct ms_page_row *r, struct pl_buf *b)
{
	const Parley__Message *m = &r->m;
	int root = m->reply_count > 0 && m->thread_ts[0] && strcmp(m->thread_ts, m->ts) == 0;
	int reply = m->thread_ts[0] && strcmp(m->thread_ts, m->ts) != 0;

	pl_message_obj_json(m, b);
	b->len--;			/* reopen the object */
	if (root)
		page_thread_json(r, b);
	if (reply && r->parent_user[0]) {
		pl_buf_puts(b, ",\"parent_user_id\":");
		pl_buf_json_str(b, r->parent_user);
	}
	ms_target_rx_json(&r->rx, b);
	pl_buf_puts(b, "}");
}

/* ms_page_fini - the rows' own memory (the borrowed strings stay) */
void
ms_page_fini(struct ms_page *pg)
{
	int i, k;

	for (i = 0; i < pg->n; i++) {
		ms_target_fini(&pg->v[i].rx);
		for (k = 0; k < pg->v[i].nreply_users; k++)
			free(pg->v[i].reply_users[k]);
		free(pg->v[i].reply_users);
	}
	free(pg->v);
	memset(pg, 0, sizeof(*pg));
}

/* ms_page_fits - the page byte budget: undo the item that crossed it */
int
ms_page_fits(struct pl_buf *b, size_t mark, int kept, size_t max)
{
	if (kept == 0 || b->len <= max)
		return 1;
	b->len = mark;
	b->data[mark] = '\0';
	return 0;
}
