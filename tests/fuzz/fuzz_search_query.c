/* fuzz_search_query.c - libFuzzer target: search-indexer's query parser and
 * its SQL builders (search-indexer/query.c: the one-index statement and the
 * keys and rows statements of a query over several instances) on arbitrary
 * bytes.
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks what the
 * module promises: a parse either fails with one of the documented error
 * codes or yields a tree within the limits, and the SQL built from it names
 * only parameters that exist (every $n <= nparams), so nothing of the
 * input can be spliced into the statement. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

/* fuzz_max_param - the highest $n in sql */
static int
fuzz_max_param(const char *sql)
{
	int max = 0;

	for (; (sql = strchr(sql, '$')) != NULL; sql++) {
		int n = atoi(sql + 1);

		if (n > max)
			max = n;
	}
	return max;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *chans[] = { "C1", "C2" }, *ids[] = { "U2" }, *dms[] = { "D1" };
	struct si_query_scope s = { .team = "T1", .user = "U1", .chans = chans, .nchans = 2,
	    .from_ids = ids, .nfrom_ids = 1, .dms = dms, .ndms = 1, .limit = 20,
	    .window = 1020 };
	struct si_query q;
	struct si_query_sql r;
	const char *err = NULL;
	int i;

	if (si_query_parse((const char *)data, size, &q, &err) != 0) {
		if (err == NULL || (strcmp(err, "no_query") != 0 &&
		    strcmp(err, "query_too_long") != 0 && strcmp(err, "too_many_terms") != 0 &&
		    strcmp(err, "invalid_query") != 0))
			abort();
		return 0;
	}
	if (q.nterms > SI_QUERY_MAX_TERMS || q.nin_chan > SI_QUERY_MAX_MODS ||
	    q.nfrom > SI_QUERY_MAX_MODS || q.nemoji > SI_QUERY_MAX_MODS ||
	    q.after_us < 0 || q.before_us <= 0)
		abort();
	for (i = 0; i < q.nterms; i++)
		if (strlen(q.terms[i].text) > size)
			abort();
	s.from_given = q.nfrom > 0;
	s.sort_score = size & 1;
	s.highlight = (size >> 1) & 1;
	s.asc = (size >> 2) & 1;
	si_query_sql(&q, &s, &r);
	if (r.nparams > SI_QUERY_MAX_PARAMS || fuzz_max_param(r.sql) != r.nparams)
		abort();
	si_query_sql_fini(&r);
	si_query_sql_keys(&q, &s, &r);
	if (r.nparams > SI_QUERY_MAX_PARAMS || fuzz_max_param(r.sql) != r.nparams)
		abort();
	si_query_sql_fini(&r);
	si_query_sql_rows(&q, s.team, chans, dms, 1, s.highlight, &r);
	if (r.nparams > SI_QUERY_MAX_PARAMS || fuzz_max_param(r.sql) != r.nparams)
		abort();
	si_query_sql_fini(&r);
	si_query_fini(&q);
	return 0;
}
