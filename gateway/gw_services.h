/* gw_services.h - services.c: the daemons and stores the gateway talks to:
 * message-svc, presence-svc, notify-svc, search-indexer, Redis, the Kafka
 * bootstrap list. */
#ifndef GW_SERVICES_H
#define GW_SERVICES_H

struct gw_conn;

int gw_services_start(void);
void gw_services_stop(void);
/* the Kafka bootstrap list (setting or file); heap */
char *gw_services_brokers(void);
/* presence report (connect/disconnect/heartbeat/typing) to presence-svc */
void gw_services_presence(const struct gw_conn *c, const char *what,
    const char *channel);

#endif
