/* gw_active.h - active.c: deactivated users: a session.check cache, and the
 * mark that USER_CHANGED (deleted) leaves (see the file's comment). */
#ifndef GW_ACTIVE_H
#define GW_ACTIVE_H

typedef void (*gw_active_fn)(int rv, void *arg);
int gw_active_init(void);
void gw_active_fini(void);
/* fn(0) active, fn(PL_EPERM) deactivated, fn(PL_ENOTFOUND) unknown user,
 * else fn(rpc error); may run before returning */
void gw_active_check(const char *user, const char *team, gw_active_fn fn, void *arg);
int gw_active_deleted(const char *user);
void gw_active_deactivated(const char *user);
const char *gw_active_err_code(int rv);

#endif
