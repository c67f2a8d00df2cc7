/* fuzz_api_params.c - the Web API parameter parser (gateway/http.c): the
 * first byte picks the decoder the server would use, the rest is its input:
 *   0  an application/x-www-form-urlencoded body   (gw_params_form)
 *   1  an application/json body                      (gw_params_json)
 *   2  a query string: lws splits it at '&' and url-decodes each fragment,
 *      then gw_params_query takes "key=value"       (gw_url_decode as lws)
 * then reads back the parameters the handlers ask for. Keep inputs small
 * (-max_len=4096): gw_params_add is linear per key (h-gwparse bounds it). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_gw.h"
#include "gw_http.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_keys[] = {
	"token", "channel", "text", "ts", "cursor", "limit", "timeout", "last_seq",
	"thread_ts", "name", "users", "error", "resume", "",
};

/* fuzz_query - split s at '&', url-decode each fragment, add it */
static void
fuzz_query(struct gw_params *p, const char *s, size_t len)
{
	char *copy = pl_strndup(s, len), *frag, *save = NULL;

	for (frag = strtok_r(copy, "&", &save); frag != NULL;
	    frag = strtok_r(NULL, "&", &save))
		gw_params_query(p, frag, gw_url_decode(frag, strlen(frag)));
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_params p;
	const char *s = (const char *)data + 1, *v;
	size_t i, len = size - 1;

	if (size < 1)
		return 0;
	memset(&p, 0, sizeof(p));
	switch (data[0] % 3) {
	case 0:
		gw_params_form(&p, s, len);
		break;
	case 1:
		gw_params_json(&p, s, len);
		break;
	default:
		fuzz_query(&p, s, len);
		break;
	}
	for (i = 0; i < sizeof(fuzz_keys) / sizeof(fuzz_keys[0]); i++)
		if ((v = gw_params_get(&p, fuzz_keys[i])) != NULL && strlen(v) > (size_t)-2)
			abort();
	gw_params_fini(&p);
	return 0;
}
