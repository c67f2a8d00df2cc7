/* fuzz_rtm_frame.c - the RTM frame handler: one input is one client text
 * frame, handed to gw_rtm_frame (gateway/rtm.c: parse, dispatch by type,
 * validate, answer) on a booted connection that is a member of C1, C2, G3
 * (fuzz_gw.h). Covers message, ping, typing, presence_sub and resume
 * (gateway/resume.c) with what message-svc would be asked failing fast. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_gw.h"
#include "gw.h"
#include "gw_rtm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_conn *c = fuzz_gw_conn();

	if (size > (size_t)gw_conf.max_frame)	/* gw_conn_receive closes 1009 */
		return 0;
	gw_rtm_frame(c, (const char *)data, size);
	return 0;
}
