/* dk_api_test.c - devkafka's request handlers (dk_api.c) on hand-made
 * requests: the regressions of what tests/fuzz/fuzz_devkafka found. */
/* test-links: dk_wire dk_log */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "dk_api.h"
#include "dk_log.h"
#include "dk_wire.h"
#include "pl_test.h"

/* a Fetch v4 of one topic whose 2-byte name is NUL bytes, one partition:
 * the name was copied with strndup (0 bytes) and echoed as 2 bytes, a heap
 * overflow (tests/fuzz/corpus/devkafka/crash-fetch-topic-name-nul) */
PL_TEST(fetch_topic_name_with_nul_is_echoed_exactly)
{
	struct dk_broker_addr b = { 1, 9092 };
	struct dk_fetch *f = NULL;
	struct pl_buf req, out;
	int appended = 0;
	enum dk_verdict v;
	const uint8_t *p;

	dk_log_init(1 << 20);
	dk_log_topic_add("parley.messages", 1, 1);
	dk_api_set_brokers(&b, 1);
	pl_buf_init(&req);
	pl_buf_init(&out);
	dk_wr_i16(&req, 1);		/* Fetch */
	dk_wr_i16(&req, 4);
	dk_wr_i32(&req, 77);		/* correlation id */
	dk_wr_str(&req, "t");		/* client id */
	dk_wr_i32(&req, -1);		/* replica */
	dk_wr_i32(&req, 0);		/* max wait: answer now */
	dk_wr_i32(&req, 1);
	dk_wr_i32(&req, 1 << 20);
	dk_wr_i8(&req, 0);
	dk_wr_i32(&req, 1);		/* one topic */
	dk_wr_strn(&req, "\0\0", 2);
	dk_wr_i32(&req, 1);		/* one partition */
	dk_wr_i32(&req, 0);
	dk_wr_i64(&req, 0);
	dk_wr_i32(&req, 1 << 20);
	v = dk_api_handle(1, (const uint8_t *)req.data, req.len, &out, &f, &appended);
	PL_CHECK_EQ_INT(v, DK_ANSWERED);
	PL_CHECK(f == NULL);
	/* size, corr, throttle, ntopics, then the name: int16 2, "\0\0" */
	PL_CHECK(out.len >= 4 + 4 + 4 + 4 + 2 + 2);
	if (out.len >= 20) {
		p = (const uint8_t *)out.data;
		PL_CHECK_EQ_INT(dk_be32(p + 4), 77);
		PL_CHECK_EQ_INT(dk_be32(p + 12), 1);
		PL_CHECK_EQ_INT(dk_be16(p + 16), 2);
		PL_CHECK(p[18] == 0 && p[19] == 0);
	}
	pl_buf_fini(&req);
	pl_buf_fini(&out);
	dk_log_fini();
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(fetch_topic_name_with_nul_is_echoed_exactly),
};
PL_TEST_MAIN(tests)
