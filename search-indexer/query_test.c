/* query_test.c - the search language parser and its SQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "query.h"
#include "pl_test.h"

/* parse - si_query_parse of a C string; the error code or NULL */
static const char *
parse(const char *s, struct si_query *q)
{
	const char *err = NULL;

	if (si_query_parse(s, strlen(s), q, &err) != 0)
		return err ? err : "?";
	return NULL;
}

PL_TEST(test_words_phrases_exclusions)
{
	struct si_query q;

	PL_CHECK(parse("  deploy \"release train\" -flaky -\"not this\" ", &q) == NULL);
	PL_CHECK_EQ_INT(q.nterms, 4);
	PL_CHECK_EQ_STR(q.terms[0].text, "deploy");
	PL_CHECK(!q.terms[0].phrase && !q.terms[0].neg);
	PL_CHECK_EQ_STR(q.terms[1].text, "release train");
	PL_CHECK(q.terms[1].phrase && !q.terms[1].neg);
	PL_CHECK_EQ_STR(q.terms[2].text, "flaky");
	PL_CHECK(!q.terms[2].phrase && q.terms[2].neg);
	PL_CHECK_EQ_STR(q.terms[3].text, "not this");
	PL_CHECK(q.terms[3].phrase && q.terms[3].neg);
	si_query_fini(&q);
	/* unbalanced: the phrase runs to the end; "-" alone is a word */
	PL_CHECK(parse("a \"open phrase here", &q) == NULL);
	PL_CHECK_EQ_INT(q.nterms, 2);
	PL_CHECK_EQ_STR(q.terms[1].text, "open phrase here");
	PL_CHECK(q.terms[1].phrase);
	si_query_fini(&q);
	PL_CHECK(parse("- x", &q) == NULL);
	PL_CHECK_EQ_INT(q.nterms, 2);
	PL_CHECK_EQ_STR(q.terms[0].text, "-");
	si_query_fini(&q);
}

PL_TEST(test_modifiers)
{
	struct si_query q;

	PL_CHECK(parse("in:#general in:random in:@bob from:@carol from:dave from:me to:me"
	    " has:link has::tada: is:thread word", &q) == NULL);
	PL_CHECK_EQ_INT(q.nin_chan, 2);
	PL_CHECK_EQ_STR(q.in_chan[0], "general");
	PL_CHECK_EQ_STR(q.in_chan[1], "random");
	PL_CHECK_EQ_INT(q.nin_user, 1);
	PL_CHECK_EQ_STR(q.in_user[0], "bob");
	PL_CHECK_EQ_INT(q.nfrom, 2);
	PL_CHECK_EQ_STR(q.from[0], "carol");
	PL_CHECK_EQ_STR(q.from[1], "dave");
	PL_CHECK(q.from_me && q.to_me && q.has_link && q.is_thread);
	PL_CHECK_EQ_INT(q.nemoji, 1);
	PL_CHECK_EQ_STR(q.emoji[0], "tada");
	PL_CHECK_EQ_INT(q.nterms, 1);
	PL_CHECK_EQ_STR(q.terms[0].text, "word");
	si_query_fini(&q);
	/* values a modifier does not understand are words */
	PL_CHECK(parse("has:wings is:cool before:soon in: from:@ http://x.y", &q) == NULL);
	PL_CHECK_EQ_INT(q.nterms, 6);
	PL_CHECK_EQ_STR(q.terms[0].text, "has:wings");
	PL_CHECK_EQ_STR(q.terms[2].text, "before:soon");
	PL_CHECK_EQ_STR(q.terms[3].text, "in:");
	PL_CHECK_EQ_STR(q.terms[4].text, "from:@");
	PL_CHECK_EQ_STR(q.terms[5].text, "http://x.y");
	PL_CHECK(q.before_us == INT64_MAX && q.after_us == 0);
	si_query_fini(&q);
	/* a quoted or excluded modifier is text */
	PL_CHECK(parse("\"in:#general\" -from:me", &q) == NULL);
	PL_CHECK_EQ_INT(q.nterms, 2);
	PL_CHECK(q.nin_chan == 0 && !q.from_me);
	si_query_fini(&q);
}

PL_TEST(test_dates)
{
	static const struct {
		const char *q;
		int64_t after, before;
	} cases[] = {
		{ "on:2024-02-29", 1709164800000000LL, 1709251200000000LL },
		{ "during:2024-02", 1706745600000000LL, 1709251200000000LL },
		{ "during:2023", 1672531200000000LL, 1704067200000000LL },
		{ "during:2023-12", 1701388800000000LL, 1704067200000000LL },
		{ "after:2024-01-31", 1706745600000000LL, INT64_MAX },
		{ "before:2024-01-01", 0, 1704067200000000LL },
		{ "after:2023 before:2024-03", 1704067200000000LL, 1709251200000000LL },
	};
	struct si_query q;
	int64_t lo, hi;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		PL_CHECK(parse(cases[i].q, &q) == NULL);
		PL_CHECK_EQ_INT(q.after_us, cases[i].after);
		PL_CHECK_EQ_INT(q.before_us, cases[i].before);
		PL_CHECK_EQ_INT(q.nterms, 0);
		si_query_fini(&q);
	}
	PL_CHECK(si_query_date("2023-02-29", &lo, &hi) != 0);
	PL_CHECK(si_query_date("2024-13", &lo, &hi) != 0);
	PL_CHECK(si_query_date("1969", &lo, &hi) != 0);
	PL_CHECK(si_query_date("2024-1-01", &lo, &hi) != 0);
	PL_CHECK(si_query_date("2000-02-29", &lo, &hi) == 0);
	PL_CHECK(si_query_date("1900-02-29", &lo, &hi) != 0);
	PL_CHECK(parse("on:2023-02-29", &q) == NULL);	/* not a date: a word */
	PL_CHECK_EQ_INT(q.nterms, 1);
	si_query_fini(&q);
}

PL_TEST(test_limits_and_bad_input)
{
	struct si_query q;
	struct pl_buf b;
	int i;

	PL_CHECK_EQ_STR(parse("", &q), "no_query");
	PL_CHECK_EQ_STR(parse("   \"\"  \"  ", &q), "no_query");
	PL_CHECK_EQ_STR(parse("bad \xff utf8", &q), "invalid_query");
	PL_CHECK_EQ_STR(parse("overlong \xc0\xaf", &q), "invalid_query");
	PL_CHECK_EQ_STR(parse("surrogate \xed\xa0\x80", &q), "invalid_query");
	PL_CHECK_EQ_STR(parse("cut \xe2\x82", &q), "invalid_query");
	PL_CHECK(parse("caf\xc3\xa9 \xf0\x9f\x8e\x89 \xe2\x80\x8b '; DROP TABLE x; --", &q) == NULL);
	PL_CHECK_EQ_INT(q.nterms, 8);
	si_query_fini(&q);
	pl_buf_init(&b);
	for (i = 0; i < SI_QUERY_MAX_TERMS; i++)
		pl_buf_puts(&b, "w ");
	PL_CHECK(parse(b.data, &q) == NULL);
	si_query_fini(&q);
	pl_buf_puts(&b, "one-more");
	PL_CHECK_EQ_STR(parse(b.data, &q), "too_many_terms");
	pl_buf_reset(&b);
	for (i = 0; i <= SI_QUERY_MAX_MODS; i++)
		pl_buf_puts(&b, "in:#c ");
	PL_CHECK_EQ_STR(parse(b.data, &q), "too_many_terms");
	pl_buf_reset(&b);
	for (i = 0; i < 100 * 1024; i++)
		pl_buf_puts(&b, "x");
	PL_CHECK_EQ_STR(parse(b.data, &q), "query_too_long");
	pl_buf_fini(&b);
}

PL_TEST(test_array_literal)
{
	const char *v[] = { "C1", "a\"b", "back\\slash", "" };
	struct pl_buf b;

	pl_buf_init(&b);
	si_query_array(&b, v, 4);
	PL_CHECK_EQ_STR(b.data, "{\"C1\",\"a\\\"b\",\"back\\\\slash\",\"\"}");
	pl_buf_reset(&b);
	si_query_array(&b, v, 0);
	PL_CHECK_EQ_STR(b.data, "{}");
	pl_buf_fini(&b);
}

/* max_param - the highest $n in sql */
static int
max_param(const char *sql)
{
	int max = 0;

	for (; (sql = strchr(sql, '$')) != NULL; sql++)
		if (atoi(sql + 1) > max)
			max = atoi(sql + 1);
	return max;
}

/* the SQL holds no byte of the query's text: everything is a parameter */
PL_TEST(test_sql_parameters)
{
	const char *chans[] = { "C1", "C2" }, *ids[] = { "U9" }, *dms[] = { "D1" };
	struct si_query_scope s = { .team = "T1", .user = "U1", .chans = chans, .nchans = 2,
	    .from_ids = ids, .nfrom_ids = 1, .from_given = 1, .dms = dms, .ndms = 1,
	    .sort_score = 1, .highlight = 1, .limit = 20, .offset = 40, .window = 1060 };
	struct si_query q;
	struct si_query_sql r;
	int i, found = 0;

	PL_CHECK(parse("robert'); \"drop table\" -students from:@bob from:me to:me"
	    " has::x: on:2024-01-02 has:link is:thread", &q) == NULL);
	si_query_sql(&q, &s, &r);
	PL_CHECK(strstr(r.sql, "robert") == NULL && strstr(r.sql, "drop") == NULL);
	PL_CHECK(strstr(r.sql, "students") == NULL);
	PL_CHECK(strstr(r.sql, "!!plainto_tsquery('simple', $3)") != NULL);
	PL_CHECK(strstr(r.sql, "phraseto_tsquery('simple', $2)") != NULL);
	/* ranked within the newest matches of the window */
	PL_CHECK(strstr(r.sql, "ts_rank(hits.tsv, q.q) DESC") != NULL);
	PL_CHECK(strstr(r.sql, "ORDER BY m.ts_us DESC") != NULL);
	PL_CHECK(strstr(r.sql, "ts_headline") != NULL);
	for (i = 0; i < r.nparams; i++)
		if (strcmp(r.params[i], "robert');") == 0 || strcmp(r.params[i], "x") == 0)
			found++;
	PL_CHECK_EQ_INT(found, 2);
	PL_CHECK_EQ_STR(r.params[0], "robert');");
	PL_CHECK_EQ_STR(r.params[3], "T1");
	PL_CHECK_EQ_STR(r.params[4], "{\"C1\",\"C2\"}");
	/* every parameter is used, and only those */
	PL_CHECK_EQ_INT(max_param(r.sql), r.nparams);
	for (i = 1; i <= r.nparams; i++) {
		char n[16];

		snprintf(n, sizeof(n), "$%d", i);
		PL_CHECK(strstr(r.sql, n) != NULL);
	}
	PL_CHECK_EQ_STR(r.params[r.nparams - 4], "1060");
	si_query_sql_fini(&r);
	si_query_fini(&q);
	/* modifiers only: no tsquery, by time even when score is asked */
	PL_CHECK(parse("in:#general", &q) == NULL);
	s.from_given = 0;
	s.asc = 1;
	si_query_sql(&q, &s, &r);
	PL_CHECK(strstr(r.sql, "NULL::tsquery") != NULL);
	PL_CHECK(strstr(r.sql, "@@") == NULL && strstr(r.sql, "ts_rank") == NULL);
	PL_CHECK(strstr(r.sql, "ts_headline") == NULL);
	PL_CHECK(strstr(r.sql, "ORDER BY m.ts_us ASC") != NULL);
	PL_CHECK_EQ_INT(max_param(r.sql), r.nparams);
	si_query_sql_fini(&r);
	si_query_fini(&q);
}

/* the statements of a query over several instances: parameters only, the
 * window and order of si_query_sql's */
PL_TEST(test_sql_keys_and_rows)
{
	const char *chans[] = { "C1", "C2" }, *tss[] = { "1.000001", "2.000002" };
	struct si_query_scope s = { .team = "T1", .user = "U1", .chans = chans, .nchans = 2,
	    .sort_score = 1, .limit = 40, .window = 1050 };
	struct si_query q;
	struct si_query_sql r;
	int i;

	PL_CHECK(parse("robert'); \"drop table\" -students has::x:", &q) == NULL);
	PL_CHECK(si_query_scored(&q, 1) && !si_query_scored(&q, 0));
	si_query_sql_keys(&q, &s, &r);
	PL_CHECK(strstr(r.sql, "robert") == NULL && strstr(r.sql, "drop") == NULL);
	PL_CHECK(strstr(r.sql, "ts_rank(m.tsv, q.q)") != NULL);
	PL_CHECK(strstr(r.sql, "ORDER BY m.ts_us DESC, m.channel_id DESC LIMIT") != NULL);
	PL_CHECK_EQ_INT(max_param(r.sql), r.nparams);
	PL_CHECK_EQ_STR(r.params[r.nparams - 1], "1050");
	si_query_sql_fini(&r);
	s.sort_score = 0;
	s.asc = 1;
	si_query_sql_keys(&q, &s, &r);
	PL_CHECK(strstr(r.sql, "ts_rank") == NULL);
	PL_CHECK(strstr(r.sql, "ORDER BY m.ts_us ASC, m.channel_id ASC") != NULL);
	PL_CHECK_EQ_STR(r.params[r.nparams - 1], "40");
	PL_CHECK_EQ_INT(max_param(r.sql), r.nparams);
	si_query_sql_fini(&r);
	si_query_sql_rows(&q, "T1", chans, tss, 2, 1, &r);
	PL_CHECK(strstr(r.sql, "robert") == NULL && strstr(r.sql, "ts_headline") != NULL);
	PL_CHECK_EQ_INT(max_param(r.sql), r.nparams);
	for (i = 1; i <= r.nparams; i++) {
		char n[16];

		snprintf(n, sizeof(n), "$%d", i);
		PL_CHECK(strstr(r.sql, n) != NULL);
	}
	PL_CHECK_EQ_STR(r.params[r.nparams - 2], "{\"1.000001\",\"2.000002\"}");
	si_query_sql_fini(&r);
	si_query_fini(&q);
	/* modifiers only: by time, no highlight */
	PL_CHECK(parse("in:#general", &q) == NULL);
	PL_CHECK(!si_query_scored(&q, 1));
	si_query_sql_rows(&q, "T1", chans, tss, 2, 1, &r);
	PL_CHECK(strstr(r.sql, "NULL::tsquery") != NULL && strstr(r.sql, "ts_headline") == NULL);
	PL_CHECK_EQ_INT(max_param(r.sql), r.nparams);
	si_query_sql_fini(&r);
	si_query_fini(&q);
}

/* check_params - every $1..$n used and none beyond */
static void
check_params(const struct si_query_sql *r)
{
	int i;

	PL_CHECK_EQ_INT(max_param(r->sql), r->nparams);
	for (i = 1; i <= r->nparams; i++) {
		char n[16];

		snprintf(n, sizeof(n), "$%d", i);
		PL_CHECK(strstr(r->sql, n) != NULL);
	}
}

/* a word query walks time blocks (newest first, or oldest first by time
 * ascending); from:, in: and to:me and only-negative queries do not; a
 * phrase of plain words also asks for its word pairs, others do not */
PL_TEST(test_sql_walk_and_pairs)
{
	const char *chans[] = { "C1" }, *ids[] = { "U9" };
	struct si_query_scope s = { .team = "T1", .user = "U1", .chans = chans, .nchans = 1,
	    .from_ids = ids, .nfrom_ids = 1, .limit = 20, .offset = 0, .window = 1020,
	    .probe_hours = 16 };
	static const struct {
		const char *q;
		int walk, pairs;
	} cases[] = {
		{ "deploy", 1, 0 },
		{ "deploy after:2024 before:2025", 1, 0 },
		{ "\"red fox\"", 1, 1 },
		{ "\"Red  Fox jumps\" \"a b\"", 1, 2 },
		{ "\"red, fox\"", 1, 0 },
		{ "\"\xc3\xbc ber\"", 1, 0 },
		{ "\"single\"", 1, 0 },
		{ "-\"red fox\" deploy", 1, 0 },
		{ "-deploy", 0, 0 },
		{ "deploy from:@bob", 0, 0 },
		{ "deploy from:me", 0, 0 },
		{ "deploy in:#general", 0, 0 },
		{ "deploy in:@bob", 0, 0 },
		{ "deploy to:me", 0, 0 },
		{ "\"red fox\" in:#general", 0, 1 },
	};
	struct si_query q;
	struct si_query_sql r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p;
		int n = 0, sc, j;

		for (sc = 0; sc < 2; sc++) {
			PL_CHECK(parse(cases[i].q, &q) == NULL);
			s.sort_score = sc;
			s.from_given = strstr(cases[i].q, "from:@") != NULL;
			si_query_sql(&q, &s, &r);
			PL_CHECK_EQ_INT(strstr(r.sql, "si_walk(") != NULL, cases[i].walk);
			/* the probe: the whole stack in one scan, never when off */
			PL_CHECK_EQ_INT(strstr(r.sql, "si_hour(m.ts_us) ") != NULL,
			    cases[i].walk);
			for (n = 0, j = 0; j < r.nparams; j++)
				n |= strcmp(r.params[j], "16") == 0;
			PL_CHECK_EQ_INT(n, cases[i].walk);
			for (n = 0, p = r.sql; (p = strstr(p, "m.bg @> si_bigrams(")) != NULL; p++)
				n++;
			/* the filters appear 3 times in the walk (block, probe, hour) */
			PL_CHECK_EQ_INT(n, cases[i].pairs * (cases[i].walk ? 3 : sc ? 1 : 2));
			check_params(&r);
			si_query_sql_fini(&r);
			/* an instance's part (several instances) walks the same way */
			si_query_sql_keys(&q, &s, &r);
			PL_CHECK_EQ_INT(strstr(r.sql, "si_walk(") != NULL, cases[i].walk);
			check_params(&r);
			si_query_sql_fini(&r);
			si_query_fini(&q);
		}
	}
	/* by time ascending the walk starts at the oldest block */
	PL_CHECK(parse("deploy", &q) == NULL);
	s.sort_score = 0;
	s.asc = 1;
	s.from_given = 0;
	si_query_sql(&q, &s, &r);
	PL_CHECK(strstr(r.sql, "si_walk(e.a, e.z, false)") != NULL);
	PL_CHECK(strstr(r.sql, "ORDER BY m.ts_us ASC") != NULL);
	si_query_sql_fini(&r);
	/* by score always the newest window, whatever the direction */
	s.sort_score = 1;
	si_query_sql(&q, &s, &r);
	PL_CHECK(strstr(r.sql, "si_walk(e.a, e.z, true)") != NULL);
	PL_CHECK(strstr(r.sql, "ts_rank(hits.tsv, q.q) ASC") != NULL);
	si_query_sql_fini(&r);
	si_query_fini(&q);
}

/* the most terms and modifiers a query may have fit the parameters */
PL_TEST(test_sql_most_parameters)
{
	const char *chans[] = { "C1" }, *ids[] = { "U9" }, *dms[] = { "D1" };
	struct si_query_scope s = { .team = "T1", .user = "U1", .chans = chans, .nchans = 1,
	    .from_ids = ids, .nfrom_ids = 1, .dms = dms, .ndms = 1, .highlight = 1,
	    .limit = 20, .window = 1020 };
	struct si_query q;
	struct si_query_sql r;
	struct pl_buf b;
	int i;

	pl_buf_init(&b);
	for (i = 0; i < SI_QUERY_MAX_TERMS; i++)
		pl_buf_printf(&b, "\"w%d x%d\" ", i, i);
	for (i = 0; i < SI_QUERY_MAX_MODS; i++)
		pl_buf_printf(&b, "has::e%d: ", i);
	pl_buf_puts(&b, "to:me after:2020 before:2030 has:link is:thread");
	PL_CHECK(parse(b.data, &q) == NULL);
	for (s.sort_score = 0; s.sort_score < 2; s.sort_score++) {
		si_query_sql(&q, &s, &r);
		PL_CHECK(r.nparams <= SI_QUERY_MAX_PARAMS);
		check_params(&r);
		si_query_sql_fini(&r);
	}
	si_query_fini(&q);
	pl_buf_fini(&b);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_words_phrases_exclusions),
	PL_TEST_CASE(test_modifiers),
	PL_TEST_CASE(test_dates),
	PL_TEST_CASE(test_limits_and_bad_input),
	PL_TEST_CASE(test_array_literal),
	PL_TEST_CASE(test_sql_parameters),
	PL_TEST_CASE(test_sql_keys_and_rows),
	PL_TEST_CASE(test_sql_walk_and_pairs),
	PL_TEST_CASE(test_sql_most_parameters),
};
PL_TEST_MAIN(tests)
