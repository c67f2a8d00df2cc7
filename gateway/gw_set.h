/* gw_set.h - set.c: an unordered set of connections. */
#ifndef GW_SET_H
#define GW_SET_H
#include <stddef.h>

struct gw_conn;

struct gw_set {
	struct gw_conn **v;
	size_t n, cap;
};
void gw_set_add(struct gw_set *s, struct gw_conn *c);
int gw_set_del(struct gw_set *s, struct gw_conn *c);
int gw_set_has(const struct gw_set *s, const struct gw_conn *c);
void gw_set_fini(struct gw_set *s);

#endif
