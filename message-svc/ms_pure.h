/* ms_pure.h - message-svc's pure helpers (no I/O, no process state): ts and
 * seq (seq.c), Slack objects, cursors and parameters (render.c). */
#ifndef MS_PURE_H
#define MS_PURE_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* ---- seq.c (pure) */
#define MS_TS_MAX 32
/* ms_seq_next_ts_us - a ts strictly after last_us, as close to now_us as that allows */
uint64_t ms_seq_next_ts_us(uint64_t last_us, uint64_t now_us);
void ms_seq_ts_format(uint64_t ts_us, char out[MS_TS_MAX]);
/* ms_seq_ts_parse - "<s>.<6 digits>" (fewer digits allowed) to us; PL_EINVAL */
int ms_seq_ts_parse(const char *s, uint64_t *us_r);

/* ---- render.c (pure) */
struct ms_chan_view {
	const char *id, *name, *kind, *team, *creator, *user;	/* user: the DM's other */
	int64_t created;
	int archived, is_member;
	int64_t num_members;
	int64_t last_seq;		/* < 0: leave out */
	uint32_t epoch;
	int is_general;			/* the team's #general */
};
void ms_render_chan(const struct ms_chan_view *v, struct pl_buf *b);
struct ms_user_view {
	const char *id, *team, *name, *real_name;
	int deleted, is_admin;
	int64_t updated;
	const char *email;		/* "" or NULL: none */
};
void ms_render_user(const struct ms_user_view *v, struct pl_buf *b);
/* ms_render_cursor - base64url("<tag>:<value>"); _parse: PL_EINVAL if foreign */
char *ms_render_cursor(const char *tag, const char *value);
int ms_render_cursor_parse(const char *cursor, const char *tag, char *out, size_t n);
/* ms_render_kinds - Slack's types= list to a text[] literal of kinds
 * (default public_channel); PL_EINVAL on an unknown type */
int ms_render_kinds(const char *types, struct pl_buf *arr_r);
/* ms_render_limit - limit= within [1, max], default def; PL_EINVAL if junk */
int ms_render_limit(const char *s, int def, int max, int *r);
/* ms_render_user_set - caller + "U1,U2" sorted, unique, into v (heap strings);
 * returns the count, or PL_EINVAL for a bad id */
int ms_render_user_set(const char *caller, const char *users, char ***v_r);
/* ms_render_reaction_ok - Slack's emoji names: [a-z0-9_+'-], 1..100, colons stripped */
int ms_render_reaction_name(const char *in, char *out, size_t n);

#endif
