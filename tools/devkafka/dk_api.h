/* dk_api.h - the Kafka requests devkafka's native broker answers
 * (tools/devkafka/dk_api.c): ApiVersions, Metadata, Produce, Fetch,
 * ListOffsets, FindCoordinator and InitProducerId, at the versions listed in
 * dk_api.c's table (all below the flexible encodings except ApiVersions v3,
 * which librdkafka tries first). The connection layer (dk_broker.c) hands it
 * one request at a time and writes out what it appends. */
#ifndef DK_API_H
#define DK_API_H
#include <stddef.h>
#include <stdint.h>

struct pl_buf;
struct dk_fetch;		/* a Fetch that waits for data */

enum dk_verdict {
	DK_ANSWERED,		/* response appended (none for acks=0) */
	DK_PARKED,		/* a Fetch with nothing to return yet */
	DK_BAD,			/* malformed or unsupported: close the connection */
};

struct dk_broker_addr {
	int32_t id;
	int port;
};

/* dk_api_set_brokers - the brokers Metadata and FindCoordinator list */
void dk_api_set_brokers(const struct dk_broker_addr *b, int n);

/* dk_api_handle - answer one request (the frame without its size) that
 * arrived at broker `broker`; the framed response is appended to out.
 * *appended_r is set when a Produce added data (parked fetches may now be
 * answered). On DK_PARKED, *fetch_r is the Fetch to retry. */
enum dk_verdict dk_api_handle(int32_t broker, const uint8_t *req, size_t len,
    struct pl_buf *out, struct dk_fetch **fetch_r, int *appended_r);

/* dk_api_fetch_try - answer f into out when it has data, an error, or force
 * (its wait is over): 1 when answered, 0 when it must keep waiting */
int dk_api_fetch_try(struct dk_fetch *f, int force, struct pl_buf *out);
/* dk_api_fetch_wait_ms - the Fetch's max wait */
int dk_api_fetch_wait_ms(const struct dk_fetch *f);
void dk_api_fetch_free(struct dk_fetch **f);

#endif
