/* json.h - small helpers over cJSON. */
#ifndef PL_JSON_H
#define PL_JSON_H
#include <stdint.h>
#include <cjson/cJSON.h>

/* string member or NULL if missing / not a string */
const char *pl_json_str(const cJSON *o, const char *key);
/* integer member into *v; 0 on success, PL_EINVAL if missing / not integral */
int pl_json_int(const cJSON *o, const char *key, int64_t *v);
/* pl_json_print - compact text (heap) */
char *pl_json_print(const cJSON *o);

#endif
