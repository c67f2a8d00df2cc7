/* fuzz_poll_args.c - the resume and events.poll arguments. The first byte
 * picks what the rest is:
 *   0  an events.poll form body (gw_params_form), then the poll's argument
 *      parsing (gw_poll_asked: cursor (base64url JSON) or last_seq;
 *      gw_poll_timeout_ms: timeout)
 *   1  a resume frame's arguments {"last_seq":{...},"epoch":{...}} handed to
 *      gw_resume_start on a booted connection in C1, C2, G3, as gw_rtm_frame
 *      hands them over (the replays it asks for fail fast: fuzz_gw.h) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "fuzz_gw.h"
#include "gw.h"
#include "gw_http.h"
#include "gw_poll.h"
#include "gw_resume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_poll - events.poll's parameters */
static void
fuzz_poll(const char *s, size_t len)
{
	struct gw_params p;
	cJSON *asked;

	memset(&p, 0, sizeof(p));
	gw_params_form(&p, s, len);
	(void)gw_poll_timeout_ms(&p);
	if ((asked = gw_poll_asked(&p)) != NULL)
		cJSON_Delete(asked);
	gw_params_fini(&p);
}

/* fuzz_resume - a resume on the booted connection */
static void
fuzz_resume(const char *s, size_t len)
{
	struct gw_conn *c = fuzz_gw_conn();
	cJSON *o = cJSON_ParseWithLength(s, len);
	const cJSON *ls = cJSON_GetObjectItemCaseSensitive(o, "last_seq");
	const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "epoch");

	if (cJSON_IsObject(ls) && (ep == NULL || cJSON_IsObject(ep)))
		gw_resume_start(c, 1, ls, ep);
	cJSON_Delete(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_gw_conn();
	if (data[0] % 2 == 0)
		fuzz_poll((const char *)data + 1, size - 1);
	else
		fuzz_resume((const char *)data + 1, size - 1);
	return 0;
}
