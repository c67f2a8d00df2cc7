/* fuzz_devkafka.c - devkafka's request decoder: one input is one Kafka
 * request as dk_broker.c hands it over (the frame without its size) to
 * dk_api_handle (tools/devkafka/dk_api.c): header, then ApiVersions,
 * Metadata, Produce (record batches appended to the real in-memory log,
 * 1 MiB retention per partition), Fetch, ListOffsets, FindCoordinator,
 * InitProducerId. A parked Fetch is answered at once (its wait is over). */
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dk_api.h"
#include "dk_log.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int done;
	struct dk_broker_addr b[2] = { { 1, 9092 }, { 2, 9093 } };
	struct dk_fetch *f = NULL;
	struct pl_buf out;
	int appended = 0;

	if (!done) {
		done = 1;
		pl_log_init("fuzz", "error");
		dk_log_init(1 << 20);
		dk_log_topic_add("parley.messages", 4, 2);
		dk_log_topic_add("parley.events", 2, 2);
		dk_api_set_brokers(b, 2);
	}
	pl_buf_init(&out);
	if (dk_api_handle(1, data, size, &out, &f, &appended) == DK_PARKED) {
		(void)dk_api_fetch_wait_ms(f);
		(void)dk_api_fetch_try(f, 1, &out);
		dk_api_fetch_free(&f);
	}
	pl_buf_fini(&out);
	return 0;
}
