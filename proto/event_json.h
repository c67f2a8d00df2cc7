/* event_json.h - Slack-shaped JSON for Parley's events and message objects.
 *
 * One renderer serves every path that shows an event to a client: live
 * fan-out and resume (gateway), long polling (gateway), history and Web API
 * replies (message-svc), so the WebSocket, events.poll and history agree
 * byte for byte. Rendering appends to out; it never fails for a decodable
 * envelope (unknown types render nothing and return PL_ENOTFOUND). */
#ifndef PL_EVENT_JSON_H
#define PL_EVENT_JSON_H
#include "buf.h"
#include "parley.pb-c.h"

/* pl_event_json - the RTM event of env:
 *   MESSAGE_CREATED  {"type":"message","channel","user","text","ts","seq",
 *                     "team","client_msg_id"?,"thread_ts"?,"subtype"?}
 *   MESSAGE_CHANGED  {"type":"message","subtype":"message_changed","channel",
 *                     "hidden":true,"message":{…,"edited":{"user","ts"}},
 *                     "previous_message":{…},"ts","event_ts","seq"}
 *   MESSAGE_DELETED  {"type":"message","subtype":"message_deleted","channel",
 *                     "hidden":true,"deleted_ts","previous_message"?,"ts","seq"}
 *   REACTION_ADDED/REMOVED {"type":"reaction_added","user","reaction",
 *                     "item":{"type":"message","channel","ts"},"event_ts","seq"}
 *   CHANNEL_JOIN/LEAVE {"type":"message","subtype":"channel_join",…,"seq"}
 *   CHANNEL_CREATED  {"type":"channel_created","channel":{"id","name","created","creator"}}
 *   MEMBER_JOINED/LEFT {"type":"member_joined_channel","user","channel","channel_type","team"}
 *   USER_TYPING      {"type":"user_typing","channel","user"}
 *   PRESENCE_CHANGE  {"type":"presence_change","user","presence"}
 *   CHANNEL_MARKED   {"type":"channel_marked"|"im_marked"|"group_marked","channel","ts"}
 *   MANUAL_PRESENCE_CHANGE {"type":"manual_presence_change","presence"}
 *   DND_UPDATED      {"type":"dnd_updated","user","dnd_status":{"dnd_enabled",
 *                     "next_dnd_start_ts","next_dnd_end_ts","snooze_enabled",
 *                     "snooze_endtime"}}
 * Returns 0 or PL_ENOTFOUND. */
int pl_event_json(const Parley__Envelope *env, struct pl_buf *out);
/* pl_event_json_dnd_user - DND_UPDATED for the user's watchers:
 * {"type":"dnd_updated_user","user","dnd_status":{"dnd_enabled",
 *  "next_dnd_start_ts","next_dnd_end_ts"}} */
int pl_event_json_dnd_user(const Parley__Envelope *env, struct pl_buf *out);

/* pl_message_obj_json - a message object as in conversations.history:
 * {"type":"message","user","text","ts","seq","thread_ts"?,"reply_count"?,
 *  "client_msg_id"?,"edited"?,"reactions"?…} (reactions rendered by caller
 *  when it has them: pass NULL to omit). */
void pl_message_obj_json(const Parley__Message *m, struct pl_buf *out);

#endif
