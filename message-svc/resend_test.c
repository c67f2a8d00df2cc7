/* resend_test.c - the replies kept for resends: a resend waits for a running
 * original or gets its stored reply; another request under the same key
 * runs; the bounds on count, bytes and age drop the oldest. */
/* test-links: state */
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "mem.h"
#include "message_svc.h"
#include "pl_test.h"

struct got {
	int n;
	char reply[64];
};

/* got_fn - a waiter / replayed answer: keeps the bytes */
static void
got_fn(const void *reply, size_t len, void *arg)
{
	struct got *g = arg;

	g->n++;
	memcpy(g->reply, reply, len < sizeof(g->reply) - 1 ? len : sizeof(g->reply) - 1);
	g->reply[len < sizeof(g->reply) - 1 ? len : sizeof(g->reply) - 1] = '\0';
}

/* rs_begin - what call.c does: find, and begin when there is no entry */
static int
rs_begin(const char *key, const void *req, size_t len, struct got *g)
{
	int rv = ms_resend_find(key, req, len, got_fn, g);

	if (rv == MS_RESEND_NEW)
		PL_CHECK_EQ_INT(ms_resend_begin(key, req, len), 1);
	return rv;
}

/* rs_setup - a fresh store with the given bounds */
static void
rs_setup(int64_t max, int64_t max_bytes, int64_t ttl_s)
{
	ms_conf.resend_max = max;
	ms_conf.resend_max_bytes = max_bytes;
	ms_conf.resend_ttl_s = ttl_s;
	ms_resend_init();
}

/* rs_key - the key of method for user with idempotency key idem */
static void
rs_key(const char *method, const char *user, const char *idem, int admin,
    struct pl_buf *key)
{
	Parley__Request req = PARLEY__REQUEST__INIT;
	Parley__Caller caller = PARLEY__CALLER__INIT;

	caller.user = (char *)user;
	caller.team = "T1";
	caller.admin = admin;
	req.caller = &caller;
	req.method = (char *)method;
	req.idempotency_key = (char *)idem;
	ms_resend_key(&req, "bytes", 5, key);
}

PL_TEST(test_key_scoped)
{
	struct pl_buf a, b;

	pl_buf_init(&a);
	pl_buf_init(&b);
	rs_key("conversations.invite", "U1", "k1", 0, &a);
	PL_CHECK(a.data[0] != '\0');
	rs_key("conversations.kick", "U1", "k1", 0, &b);
	PL_CHECK(strcmp(a.data, b.data) != 0);
	rs_key("conversations.invite", "U2", "k1", 0, &b);
	PL_CHECK(strcmp(a.data, b.data) != 0);
	rs_key("conversations.invite", "U1", "k1", 1, &b);
	PL_CHECK(strcmp(a.data, b.data) != 0);
	/* fields cannot run into each other */
	rs_key("conversations.invite", "U1|k", "1", 0, &b);
	PL_CHECK(strcmp(a.data, b.data) != 0);
	rs_key("conversations.invite", "U1", "", 0, &b);
	PL_CHECK_EQ_STR(b.data, "");
	/* another request under the same key has a key of its own */
	{
		Parley__Request req = PARLEY__REQUEST__INIT;
		Parley__Caller caller = PARLEY__CALLER__INIT;

		caller.user = "U1";
		caller.team = "T1";
		req.caller = &caller;
		req.method = "conversations.invite";
		req.idempotency_key = "k1";
		ms_resend_key(&req, "other", 5, &b);
		PL_CHECK(strcmp(a.data, b.data) != 0);
		ms_resend_key(&req, "bytes", 5, &b);
		PL_CHECK_EQ_STR(a.data, b.data);
	}
	pl_buf_fini(&a);
	pl_buf_fini(&b);
}

PL_TEST(test_wait_then_replay)
{
	struct got w1 = { 0 }, w2 = { 0 }, late = { 0 };

	rs_setup(100, 1 << 20, 60);
	PL_CHECK_EQ_INT(rs_begin("k", "req", 3, &w1), MS_RESEND_NEW);
	/* resends while the original runs: parked */
	PL_CHECK_EQ_INT(rs_begin("k", "req", 3, &w1), MS_RESEND_WAIT);
	PL_CHECK_EQ_INT(rs_begin("k", "req", 3, &w2), MS_RESEND_WAIT);
	PL_CHECK_EQ_INT(w1.n + w2.n, 0);
	ms_resend_finish("k", "ok-reply", 8);
	PL_CHECK_EQ_INT(w1.n, 1);
	PL_CHECK_EQ_INT(w2.n, 1);
	PL_CHECK_EQ_STR(w1.reply, "ok-reply");
	PL_CHECK_EQ_STR(w2.reply, "ok-reply");
	PL_CHECK_EQ_INT(ms_resend_count(), 1);
	/* a resend after the reply: the same bytes, at once */
	PL_CHECK_EQ_INT(rs_begin("k", "req", 3, &late), MS_RESEND_DONE);
	PL_CHECK_EQ_INT(late.n, 1);
	PL_CHECK_EQ_STR(late.reply, "ok-reply");
	/* a second finish changes nothing */
	ms_resend_finish("k", "other", 5);
	PL_CHECK_EQ_INT(rs_begin("k", "req", 3, &late), MS_RESEND_DONE);
	PL_CHECK_EQ_STR(late.reply, "ok-reply");
	ms_resend_fini();
}

PL_TEST(test_other_request_same_key)
{
	struct got g = { 0 };

	rs_setup(100, 1 << 20, 60);
	PL_CHECK_EQ_INT(rs_begin("", "req", 3, &g), MS_RESEND_OTHER);
	PL_CHECK_EQ_INT(rs_begin("k", "req", 3, &g), MS_RESEND_NEW);
	PL_CHECK_EQ_INT(rs_begin("k", "reX", 3, &g), MS_RESEND_OTHER);
	PL_CHECK_EQ_INT(rs_begin("k", "req+", 4, &g), MS_RESEND_OTHER);
	PL_CHECK_EQ_INT(ms_resend_begin("k", "reX", 3), 0);	/* the first's stays */
	PL_CHECK_EQ_INT(ms_resend_begin("", "req", 3), 0);
	ms_resend_finish("k", "r", 1);
	PL_CHECK_EQ_INT(rs_begin("k", "reX", 3, &g), MS_RESEND_OTHER);
	PL_CHECK_EQ_INT(g.n, 0);
	ms_resend_fini();
}

PL_TEST(test_bounds)
{
	struct got g = { 0 };
	char key[16];
	int i;

	/* count: 16 kept, the oldest go first */
	rs_setup(16, 1 << 20, 60);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		PL_CHECK_EQ_INT(rs_begin(key, "q", 1, &g), MS_RESEND_NEW);
		ms_resend_finish(key, "r", 1);
	}
	PL_CHECK_EQ_INT(ms_resend_count(), 16);
	PL_CHECK_EQ_INT(rs_begin("k3", "q", 1, &g), MS_RESEND_NEW);
	PL_CHECK_EQ_INT(rs_begin("k19", "q", 1, &g), MS_RESEND_DONE);
	ms_resend_fini();

	/* bytes: replies of 20,000 bytes under a 65,536-byte bound: 3 fit */
	rs_setup(1000, 65536, 60);
	{
		char *big = pl_calloc(1, 20000);

		for (i = 0; i < 5; i++) {
			snprintf(key, sizeof(key), "b%d", i);
			PL_CHECK_EQ_INT(rs_begin(key, "q", 1, &g),
			    MS_RESEND_NEW);
			ms_resend_finish(key, big, 20000);
			PL_CHECK(ms_resend_bytes() <= 65536);
		}
		PL_CHECK_EQ_INT(ms_resend_count(), 3);
		/* a reply larger than the whole bound is not kept; waiters
		 * still get it */
		g.n = 0;
		PL_CHECK_EQ_INT(rs_begin("huge", "q", 1, &g), MS_RESEND_NEW);
		PL_CHECK_EQ_INT(rs_begin("huge", "q", 1, &g), MS_RESEND_WAIT);
		free(big);
		big = pl_calloc(1, 70000);
		ms_resend_finish("huge", big, 70000);
		PL_CHECK_EQ_INT(g.n, 1);
		PL_CHECK_EQ_INT(ms_resend_count(), 3);
		PL_CHECK_EQ_INT(rs_begin("huge", "q", 1, &g), MS_RESEND_NEW);
		free(big);
	}
	ms_resend_fini();

	/* age: gone after resend-ttl-s; pending ones stay */
	rs_setup(1000, 1 << 20, 5);
	PL_CHECK_EQ_INT(rs_begin("old", "q", 1, &g), MS_RESEND_NEW);
	ms_resend_finish("old", "r", 1);
	PL_CHECK_EQ_INT(rs_begin("run", "q", 1, &g), MS_RESEND_NEW);
	ms_resend_expire(pl_clock_mono_ms() + 4000);
	PL_CHECK_EQ_INT(ms_resend_count(), 1);
	ms_resend_expire(pl_clock_mono_ms() + 6000);
	PL_CHECK_EQ_INT(ms_resend_count(), 0);
	PL_CHECK_EQ_INT(rs_begin("old", "q", 1, &g), MS_RESEND_NEW);
	PL_CHECK_EQ_INT(rs_begin("run", "q", 1, &g), MS_RESEND_WAIT);
	ms_resend_fini();
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_key_scoped),
	PL_TEST_CASE(test_wait_then_replay),
	PL_TEST_CASE(test_other_request_same_key),
	PL_TEST_CASE(test_bounds),
};
PL_TEST_MAIN(tests)
