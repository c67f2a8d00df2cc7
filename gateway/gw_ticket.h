/* gw_ticket.h - ticket.c: rtm.connect single-use tickets (Redis SET NX EX /
 * DEL). */
#ifndef GW_TICKET_H
#define GW_TICKET_H

typedef void (*gw_ticket_fn)(int rv, void *arg);
int gw_ticket_store(const char *jti, const char *user, gw_ticket_fn fn, void *arg);
int gw_ticket_consume(const char *jti, gw_ticket_fn fn, void *arg);

#endif
