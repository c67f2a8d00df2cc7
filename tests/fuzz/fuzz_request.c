/* fuzz_request.c - message-svc's request decoder: one input is one nng
 * request body, decoded as ms_methods_handle decodes it (protobuf-c Request),
 * wrapped in a call (ms_call_create: the caller), checked against the method
 * table (ms_methods_check: unknown method, caller, readiness), its common
 * parameters read, and answered (ms_call_error packs the Reply). The
 * handlers themselves need PostgreSQL and Redis and are not reached: with no
 * shard state, ms_state_ready() is false, and methods that do not need it are
 * stopped here before their handler. Undecodable input is counted as
 * ms_methods_handle counts it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "message_svc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_keys[] = {
	"channel", "text", "ts", "thread_ts", "client_msg_id", "cursor", "limit",
	"oldest", "latest", "name", "users", "user", "after_seq", "",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int done;
	Parley__Request *req;
	struct ms_call *c;
	const char *why;
	size_t i, n = 0;

	if (!done) {
		done = 1;
		pl_log_init("fuzz", "error");
		ms_svc_metrics();
	}
	req = parley__request__unpack(NULL, size, data);
	if (req == NULL)
		return 0;
	c = ms_call_create(NULL, req);
	if (ms_methods_check(c, &why) == NULL && why == NULL)
		why = "fuzz";
	for (i = 0; i < sizeof(fuzz_keys) / sizeof(fuzz_keys[0]); i++)
		n += strlen(ms_param(c, fuzz_keys[i]));
	(void)n;
	ms_call_error(&c, why != NULL ? why : "fuzz");
	return 0;
}
