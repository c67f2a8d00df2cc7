/* gw_poll.h - poll.c: events.poll: long polling held on the same fan-out
 * indexes as WebSockets. */
#ifndef GW_POLL_H
#define GW_POLL_H
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct gw_auth;
struct gw_blob;
struct gw_conn;
struct gw_params;

/* events.poll on HTTP connection c (authenticated as a) */
void gw_poll_start(struct gw_conn *c, const struct gw_auth *a);
/* the request's cursor/last_seq as an object (NULL: malformed) and its
 * timeout in ms (-1: malformed): events.poll's argument parsing */
struct cJSON *gw_poll_asked(const struct gw_params *params);
int64_t gw_poll_timeout_ms(const struct gw_params *params);
/* a live event for a held poll (fanout.c) */
void gw_poll_event(struct gw_conn *c, const struct gw_blob *b,
    const char *channel, int64_t seq);
/* the HTTP connection closed: drop its poll */
void gw_poll_free(struct gw_conn *c);
void gw_poll_drain_all(void);
/* answer a held poll {"ok":false,"error":code} and end it */
void gw_poll_refuse(struct gw_conn *c, const char *code);
size_t gw_poll_count(void);
int gw_poll_init(void);
void gw_poll_fini(void);

#endif
