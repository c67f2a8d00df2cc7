/* presence_test.c - unit tests of presence-svc's pure pieces: the time-
 * ordered bounded table, the in-memory view of connection sets (first
 * session, last session, expiry, hand-back to Redis) and the typing
 * throttle (one publish per pair per window, expiry, the bound). */

/* the modules this test links (Makefile, test_links): what it tests */
/* test-links: memview publish table typing */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "metrics.h"
#include "pl_test.h"
#include "presence.h"

struct ps_conf ps_conf;	/* main.c's, which a unit test does not link */

/* ps_test_metric - a sample's value from the rendered registry, -1 if none */
static double
ps_test_metric(const char *sample)
{
	struct pl_buf b;
	double v = -1;
	char *p;

	pl_buf_init(&b);
	pl_metrics_render(&b);
	pl_buf_puts(&b, "");
	for (p = b.data; p != NULL && p < b.data + b.len; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, sample, strlen(sample)) == 0 && p[strlen(sample)] == ' ')
			v = strtod(p + strlen(sample) + 1, NULL);
	pl_buf_fini(&b);
	return v;
}

PL_TEST(test_table_order_and_bound)
{
	struct ps_table *t = ps_table_create(3);
	struct ps_entry *e;
	int created;

	PL_CHECK_EQ_INT(ps_table_put(t, "a", 1, &e, &created), 0);
	PL_CHECK_EQ_INT(created, 1);
	PL_CHECK_EQ_INT(ps_table_put(t, "b", 2, &e, &created), 0);
	PL_CHECK_EQ_INT(ps_table_put(t, "c", 3, &e, &created), 0);
	PL_CHECK_EQ_INT(ps_table_put(t, "d", 4, &e, &created), PL_ETOOBIG);
	/* re-stamping moves an entry to the young end */
	PL_CHECK_EQ_INT(ps_table_put(t, "a", 5, &e, &created), 0);
	PL_CHECK_EQ_INT(created, 0);
	PL_CHECK_EQ_STR(ps_table_oldest(t)->key, "b");
	ps_table_del(t, ps_table_oldest(t));
	PL_CHECK_EQ_STR(ps_table_oldest(t)->key, "c");
	PL_CHECK(ps_table_get(t, "b") == NULL);
	PL_CHECK(ps_table_get(t, "a") != NULL);
	PL_CHECK_EQ_INT((long long)ps_table_count(t), 2);
	ps_table_free(&t);
	PL_CHECK(t == NULL);
}

PL_TEST(test_table_grows)
{
	struct ps_table *t = ps_table_create(10000);
	struct ps_entry *e;
	char key[32];
	int i, created, found = 0;

	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "U%d|C%d", i, i % 7);
		PL_CHECK_EQ_INT(ps_table_put(t, key, (uint64_t)i, &e, &created), 0);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "U%d|C%d", i, i % 7);
		found += ps_table_get(t, key) != NULL;
	}
	PL_CHECK_EQ_INT(found, 5000);
	PL_CHECK_EQ_INT((long long)ps_table_oldest(t)->at_ms, 0);
	ps_table_free(&t);
}

static char ps_test_gone[256];

/* ps_test_gone_fn - record who went away */
static void
ps_test_gone_fn(const char *user, const char *team)
{
	size_t n = strlen(ps_test_gone);

	snprintf(ps_test_gone + n, sizeof(ps_test_gone) - n, "%s/%s;", user, team);
}

PL_TEST(test_memview_first_and_last)
{
	int64_t left;

	ps_conf.mem_max = 100;
	ps_memview_init();
	PL_CHECK_EQ_INT(ps_memview_touch("U1", "T1", "s1", 100), 1);
	PL_CHECK_EQ_INT(ps_memview_touch("U1", "T1", "s1", 200), 0);	/* heartbeat */
	PL_CHECK_EQ_INT(ps_memview_touch("U1", "T1", "s2", 200), 0);	/* 2nd tab */
	PL_CHECK_EQ_INT(ps_memview_drop("U1", "s1", &left), 1);
	PL_CHECK_EQ_INT(left, 1);
	PL_CHECK_EQ_INT(ps_memview_drop("U1", "s1", &left), 0);	/* twice */
	PL_CHECK_EQ_INT(ps_memview_drop("U1", "s2", &left), 1);
	PL_CHECK_EQ_INT(left, 0);
	PL_CHECK_EQ_INT(ps_memview_touch("U1", "T1", "s3", 300), 1);	/* first again */
	ps_memview_fini();
}

PL_TEST(test_memview_expire_and_forget)
{
	ps_conf.mem_max = 100;
	ps_memview_init();
	ps_test_gone[0] = '\0';
	/* stamps are monotonic, as the daemon's clock gives them */
	(void)ps_memview_touch("U1", "T1", "a", 100);
	(void)ps_memview_touch("U2", "T1", "b", 150);
	(void)ps_memview_touch("U3", "T2", "d", 160);
	(void)ps_memview_touch("U2", "T1", "c", 400);
	(void)ps_memview_touch("U1", "T1", "a", 500);	/* a heartbeat keeps U1 */
	ps_memview_expire(1000, 700, ps_test_gone_fn);	/* older than 300 go */
	PL_CHECK_EQ_STR(ps_test_gone, "U3/T2;");
	ps_memview_expire(1050, 700, ps_test_gone_fn);
	PL_CHECK_EQ_STR(ps_test_gone, "U3/T2;");	/* U2 still has c */
	/* Redis holds U1's session again: forgotten here without a "gone" */
	PL_CHECK_EQ_INT(ps_memview_forget("U1", "a"), 1);
	PL_CHECK_EQ_INT(ps_memview_forget("U1", "a"), 0);
	ps_memview_expire(5000, 700, ps_test_gone_fn);
	PL_CHECK_EQ_STR(ps_test_gone, "U3/T2;U2/T1;");
	ps_memview_fini();
}

PL_TEST(test_memview_bounded)
{
	ps_conf.mem_max = 2;
	ps_memview_init();
	PL_CHECK_EQ_INT(ps_memview_touch("U1", "T1", "a", 1), 1);
	PL_CHECK_EQ_INT(ps_memview_touch("U2", "T1", "b", 1), 1);
	PL_CHECK_EQ_INT(ps_memview_touch("U3", "T1", "c", 1), PL_ETOOBIG);
	ps_memview_fini();
}

PL_TEST(test_typing_throttle)
{
	struct ps_report r = { .what = "typing", .user = "U1", .team = "T1",
	    .channel = "C1" };
	struct ps_report other = r;

	other.channel = "C2";
	ps_conf.typing_ms = 3000;
	ps_conf.typing_max = 2;
	ps_publish_init(NULL);	/* no producer: every publish is a counted error */
	ps_typing_init();
	ps_typing_report(&r, 10000);
	ps_typing_report(&r, 10500);
	ps_typing_report(&r, 12999);
	ps_typing_report(&other, 11000);	/* another channel: its own window */
	PL_CHECK_EQ_INT((long long)ps_test_metric("parley_presence_typing_throttled_total"), 2);
	PL_CHECK_EQ_INT((long long)ps_test_metric("parley_presence_produce_errors_total"), 2);
	ps_typing_report(&r, 13000);		/* the window has passed */
	PL_CHECK_EQ_INT((long long)ps_test_metric("parley_presence_produce_errors_total"), 3);
	/* full of live pairs: a new pair is dropped, not published */
	r.channel = "C3";
	ps_typing_report(&r, 13001);
	PL_CHECK_EQ_INT((long long)ps_test_metric("parley_presence_typing_dropped_total"), 1);
	PL_CHECK_EQ_INT((long long)ps_test_metric("parley_presence_produce_errors_total"), 3);
	ps_typing_expire(20000);
	PL_CHECK_EQ_INT((long long)ps_test_metric("parley_presence_typing_entries"), 0);
	ps_typing_fini();
	ps_publish_fini();
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_table_order_and_bound),
	PL_TEST_CASE(test_table_grows),
	PL_TEST_CASE(test_memview_first_and_last),
	PL_TEST_CASE(test_memview_expire_and_forget),
	PL_TEST_CASE(test_memview_bounded),
	PL_TEST_CASE(test_typing_throttle),
};
PL_TEST_MAIN(tests)
