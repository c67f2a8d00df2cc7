/* gw_resume.h - resume.c: resume: channel.replay with a bounded holding
 * buffer of the live events that arrive meanwhile. */
#ifndef GW_RESUME_H
#define GW_RESUME_H
#include <stdint.h>

struct cJSON;
struct gw_blob;
struct gw_conn;

/* resume=1 connections: hold live events from hello until the resume frame
 * has been answered (or GW_RESUME_WAIT_S without one) */
void gw_resume_wait(struct gw_conn *c);
/* the sweep: release the hold of a connection that never sent resume */
void gw_resume_expire(struct gw_conn *c, uint32_t now_s);
int gw_resume_start(struct gw_conn *c, int64_t reply_to, const struct cJSON *last_seq,
    const struct cJSON *epochs);
/* a live event for a resuming connection: 1 if held */
int gw_resume_hold(struct gw_conn *c, struct gw_blob *b, const char *channel,
    int64_t seq);
void gw_resume_free(struct gw_conn *c);

#endif
