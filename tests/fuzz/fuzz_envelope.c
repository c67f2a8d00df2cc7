/* fuzz_envelope.c - the gateway's decoder of parley.messages/parley.events
 * records: one input is one Kafka payload, handed to gw_fanout_payload
 * (gateway/fanout.c: protobuf-c Envelope decode, hold for channels new to
 * this gateway (members.c), render the Slack event once and deliver it to
 * the subscribers) with a booted connection in C1, C2, G3 (fuzz_gw.h). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_gw.h"
#include "gw_fanout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)fuzz_gw_conn();
	gw_fanout_payload(data, size, 1700000000000LL, NULL);
	return 0;
}
