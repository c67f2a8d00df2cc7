/* ms_methods.h - message-svc's method handlers: each takes the call and
 * ends it with exactly one reply. Only methods.c (the dispatch table) and
 * the handler files include this. */
#ifndef MS_METHODS_H
#define MS_METHODS_H
#include "buf.h"
#include "message_svc.h"
#include "parley.pb-c.h"

struct ms_chan;

/* ---- post.c: message methods */
int ms_post_message(struct ms_call *c);
void ms_post_message_json(const Parley__Message *m, struct pl_buf *b);

/* ---- directory.c */
int ms_dir_team_create(struct ms_call *c);
int ms_dir_user_create(struct ms_call *c);
int ms_dir_auth_test(struct ms_call *c);
int ms_dir_boot(struct ms_call *c);
int ms_dir_user_remove(struct ms_call *c);
int ms_dir_check(struct ms_call *c);

/* ---- members.c */
int ms_members_create(struct ms_call *c);
int ms_members_join(struct ms_call *c);
int ms_members_invite(struct ms_call *c);
int ms_members_leave(struct ms_call *c);
int ms_members_kick(struct ms_call *c);
int ms_members_info(struct ms_call *c);
int ms_members_members(struct ms_call *c);
/* ms_members_join_as - join user to channel (owned by this shard) for the
 * call, announced like conversations.join, then answer json (copied) */
void ms_members_join_as(struct ms_call *c, const char *channel, const char *user,
    const char *json);
/* ms_members_may_manage - the caller may kick from / archive ch: its
 * creator, or a team admin. PL_EAGAIN: not known yet, the caller's admin
 * flag is being looked up and again(c) will run the method once more */
int ms_members_may_manage(struct ms_call *c, const struct ms_chan *ch,
    int (*again)(struct ms_call *c));

/* ---- replay.c / history.c */
int ms_replay(struct ms_call *c);
int ms_history(struct ms_call *c);
int ms_history_replies(struct ms_call *c);
/* cursor: "seq:<n>" base64url-free, opaque to clients */
void ms_history_cursor(int64_t seq, char out[32]);
int ms_history_cursor_parse(const char *s, int64_t *seq_r);

/* ---- edit.c / react.c */
int ms_edit_update(struct ms_call *c);
int ms_edit_delete(struct ms_call *c);
int ms_react_add(struct ms_call *c);
int ms_react_remove(struct ms_call *c);
int ms_react_get(struct ms_call *c);

/* ---- listing.c / open.c */
int ms_list_conversations(struct ms_call *c);
int ms_list_user_conversations(struct ms_call *c);
int ms_list_users(struct ms_call *c);
int ms_list_user_info(struct ms_call *c);
int ms_list_team_info(struct ms_call *c);
int ms_list_search_scope(struct ms_call *c);
int ms_open_conversation(struct ms_call *c);
int ms_open_archive(struct ms_call *c);

#endif
