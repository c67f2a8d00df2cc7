/* gw_presence.h - presence.c: activity and poll reports to presence-svc, and
 * the current presence of users for presence_sub / presence_query. */
#ifndef GW_PRESENCE_H
#define GW_PRESENCE_H

struct cJSON;
struct gw_conn;

void gw_presence_activity(const char *user, const char *team);
/* the same for a connection's frames, at most one a second per connection */
void gw_presence_conn_activity(struct gw_conn *c);
/* a presence query of n users by c may go now (a bucket of users per
 * connection): 1, or 0 with *wait_s */
int gw_presence_query_ok(struct gw_conn *c, int n, double *wait_s);
void gw_presence_poll(const struct gw_conn *c);
/* the current presence of ids (a JSON array) as batched presence_change;
 * watched: c watches them (presence_sub), so users with a live change
 * delivered while the query was out are left out of the batch */
void gw_presence_query(struct gw_conn *c, const struct cJSON *ids, int watched);

#endif
