/* searchbench - issue #14's figures against a running stack (make bench,
 * mode search):
 *
 *   1. provision one team with --users users and --channels public channels
 *      straight into the directory database;
 *   2. produce --messages generated messages to parley.messages (Zipf-
 *      distributed words from a 20,000-word vocabulary, 6-18 words each, 2 %
 *      with a link, ts spread over the last year) and time until the index
 *      holds them all: messages/s, and the index's bytes per message;
 *   3. typical queries over the indexer's nng RPC (proto/search_clnt.h, as
 *      the gateway sends them, permissions from message-svc included), one
 *      at a time, each kind with sort=timestamp and sort=score: p50/p99;
 *   4. --rate messages/s for --rate-seconds with ts = now, then the delta of
 *      the indexer's parley_search_index_lag_seconds histogram: p50/p99
 *      (the upper bound of the bucket that holds it).
 *
 *   searchbench --run-dir DIR --dir-dsn DSN --index-dsn DSN --brokers B
 *               --ops HOST:PORT [--messages N] [--channels C] [--users U]
 *               [--queries Q] [--rate R] [--rate-seconds S] [--team T]
 *
 * --team T skips phases 1 and 2 and queries team T, already indexed by an
 * earlier run against the same stack (--messages, --channels and --users
 * must be that run's): for iterating on queries without re-indexing.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "kafka.h"
#include "loop.h"
#include "mem.h"
#include "message_clnt.h"
#include "names.h"
#include "parley.pb-c.h"
#include "search_clnt.h"

#define SB_VOCAB 20000
#define SB_LAG_BUCKETS 15

static const char *const sb_syl[20] = {
	"ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu",
	"ba", "de", "fi", "go", "hu", "ja", "ke", "li", "mo", "ny",
};

static struct {
	const char *run_dir, *dir_dsn, *index_dsn, *brokers, *ops, *reuse;
	long messages, channels, users, queries, rate, rate_seconds;
	struct event_base *base;
	struct pl_loop *loop;
	struct pl_kafka_producer *prod;
	struct pl_search_clnt *sc;
	char team[32];
	char words[SB_VOCAB][16];
	double cdf[SB_VOCAB];
	int64_t *seq;			/* per channel */
	long acked, failed;
	/* the query in flight */
	int done, ok;
	long total;
} sb;

/* sb_rand - uniform in [0, 1) */
static double
sb_rand(void)
{
	return (double)(random() & 0x7fffffff) / 2147483648.0;
}

/* sb_vocab - pseudo-words (base-20 syllables) and the Zipf CDF */
static void
sb_vocab(void)
{
	double sum = 0;
	int i;

	for (i = 0; i < SB_VOCAB; i++) {
		int v = i + 400, n = 0;

		sb.words[i][0] = '\0';
		while (v > 0 && n < 7) {
			strcat(sb.words[i], sb_syl[v % 20]);
			v /= 20;
			n++;
		}
		sum += 1.0 / (i + 1);
		sb.cdf[i] = sum;
	}
	for (i = 0; i < SB_VOCAB; i++)
		sb.cdf[i] /= sum;
}

/* sb_word - a word drawn from the Zipf distribution */
static const char *
sb_word(void)
{
	double u = sb_rand();
	int lo = 0, hi = SB_VOCAB - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (sb.cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return sb.words[lo];
}

/* sb_exec - one blocking statement; 0 or -1 (printed) */
static int
sb_exec(const char *dsn, const char *sql, PGresult **res_r)
{
	PGconn *conn = PQconnectdb(dsn);
	PGresult *res;
	int ok;

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "searchbench: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	res = PQexec(conn, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "searchbench: %s", PQerrorMessage(conn));
	if (ok && res_r != NULL)
		*res_r = res;
	else
		PQclear(res);
	PQfinish(conn);
	return ok ? 0 : -1;
}

/* sb_count - one number from the index database, -1 on error */
static long
sb_count(const char *sql)
{
	PGresult *res = NULL;
	long n;

	if (sb_exec(sb.index_dsn, sql, &res) != 0)
		return -1;
	n = PQntuples(res) ? atol(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	return n;
}

/* sb_provision - the team, its users and channels, in the directory */
static int
sb_provision(void)
{
	char sql[2048];

	snprintf(sb.team, sizeof(sb.team), "TSB%lx", (long)(pl_clock_wall_us() % 0xffffff));
	snprintf(sql, sizeof(sql), "BEGIN;"
	    "INSERT INTO teams (id, name, created) VALUES ('%s', '%s', 0);"
	    "INSERT INTO users (id, team_id, name, created) SELECT '%s-U' || g, '%s',"
	    " 'user' || g, 0 FROM generate_series(0, %ld) g;"
	    "INSERT INTO channels (id, team_id, kind, name, creator, created)"
	    " SELECT '%s-C' || g, '%s', 'public', 'chan' || g, '%s-U0', 0"
	    " FROM generate_series(0, %ld) g; COMMIT;", sb.team, sb.team, sb.team, sb.team,
	    sb.users - 1, sb.team, sb.team, sb.team, sb.channels - 1);
	return sb_exec(sb.dir_dsn, sql, NULL);
}

/* sb_spin - run the loop for about ms */
static void
sb_spin(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(sb.base, &tv);
	event_base_dispatch(sb.base);
}

/* sb_dr - a produce acknowledged or failed */
static void
sb_dr(int rv, int32_t partition, int64_t offset, void *opaque)
{
	if (rv == 0)
		sb.acked++;
	else
		sb.failed++;
}

/* sb_produce - one generated message of channel ch at ts_us */
static void
sb_produce(long ch, int64_t ts_us)
{
	Parley__Envelope env = PARLEY__ENVELOPE__INIT;
	Parley__Message m = PARLEY__MESSAGE__INIT;
	char chan[48], user[48], ts[32], text[512];
	uint8_t buf[1024];
	size_t len = 0, n;
	int i, words = 6 + (int)(sb_rand() * 13);

	snprintf(chan, sizeof(chan), "%s-C%ld", sb.team, ch);
	snprintf(user, sizeof(user), "%s-U%ld", sb.team, (long)(sb_rand() * sb.users));
	snprintf(ts, sizeof(ts), "%lld.%06lld", (long long)(ts_us / 1000000),
	    (long long)(ts_us % 1000000));
	text[0] = '\0';
	for (i = 0; i < words; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s", i ? " " : "",
		    sb_word());
	if (sb_rand() < 0.02)
		snprintf(text + len, sizeof(text) - len, " https://example.com/%s", sb_word());
	m.channel = chan;
	m.team = sb.team;
	m.seq = ++sb.seq[ch];
	m.ts = ts;
	m.user = user;
	m.text = text;
	env.type = PARLEY__EVENT_TYPE__MESSAGE_CREATED;
	env.version = PL_ENVELOPE_VERSION;
	env.team = sb.team;
	env.produced_us = (int64_t)pl_clock_wall_us();
	env.body_case = PARLEY__ENVELOPE__BODY_MESSAGE;
	env.message = &m;
	n = parley__envelope__pack(&env, buf);
	while (pl_kafka_produce(sb.prod, PL_TOPIC_MESSAGES, -1, chan, strlen(chan), buf, n,
	    sb_dr, NULL) == PL_EAGAIN)
		sb_spin(5);
}

/* sb_wait_indexed - until the team has n rows in the index; seconds waited */
static double
sb_wait_indexed(long n, double limit_s)
{
	char sql[256];
	uint64_t t0 = pl_clock_mono_us();
	long have = 0;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM search_messages WHERE team_id = '%s'",
	    sb.team);
	while ((double)(pl_clock_mono_us() - t0) / 1e6 < limit_s) {
		if ((have = sb_count(sql)) >= n)
			break;
		sb_spin(200);
	}
	if (have < n)
		fprintf(stderr, "searchbench: only %ld of %ld indexed\n", have, n);
	return (double)(pl_clock_mono_us() - t0) / 1e6;
}

/* sb_index - phase 2 */
static void
sb_index(void)
{
	int64_t now = (int64_t)pl_clock_wall_us(), year = 365LL * 86400 * 1000000;
	uint64_t t0 = pl_clock_mono_us();
	double prod_s, total_s;
	long i, bytes;

	for (i = 0; i < sb.messages; i++) {
		sb_produce((long)(sb_rand() * sb.channels),
		    now - year + (int64_t)((double)i * (double)year / (double)sb.messages));
		if (i % 1000 == 0)
			event_base_loop(sb.base, EVLOOP_NONBLOCK);
	}
	while (sb.acked + sb.failed < sb.messages)
		sb_spin(10);
	prod_s = (double)(pl_clock_mono_us() - t0) / 1e6;
	sb_wait_indexed(sb.messages, 3600);
	total_s = (double)(pl_clock_mono_us() - t0) / 1e6;
	bytes = sb_count("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
	    " JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class p ON p.oid = i.inhparent"
	    " WHERE p.relname = 'search_messages'");
	printf("index messages=%ld produced_s=%.1f indexed_s=%.1f rate_msgs_s=%.0f"
	    " index_bytes=%ld bytes_per_msg=%.0f failed=%ld\n", sb.messages, prod_s, total_s,
	    (double)sb.messages / total_s, bytes, (double)bytes / (double)sb.messages,
	    sb.failed);
	fflush(stdout);
}

/* sb_query_done - the reply of the query in flight */
static void
sb_query_done(int rv, Parley__Reply *reply, void *arg)
{
	const char *t;

	sb.done = 1;
	sb.ok = rv == 0 && reply != NULL && reply->ok;
	sb.total = -1;
	if (sb.ok && (t = strstr(reply->json, "\"total\":")) != NULL)
		sb.total = atol(t + 8);
	if (!sb.ok)
		fprintf(stderr, "searchbench: query failed rv=%d error=%s\n", rv,
		    reply && reply->error ? reply->error : "");
}

/* sb_query - one search.messages, waited for; its latency in ms or -1 */
static double
sb_query(const char *q, const char *sort)
{
	Parley__Request req;
	Parley__Caller caller = PARLEY__CALLER__INIT;
	char user[48];
	uint64_t t0;

	snprintf(user, sizeof(user), "%s-U0", sb.team);
	pl_request_init(&req, "search.messages");
	caller.user = user;
	caller.team = sb.team;
	req.caller = &caller;
	pl_request_param(&req, "query", q);
	pl_request_param(&req, "sort", sort);
	pl_request_param(&req, "count", "20");
	sb.done = 0;
	t0 = pl_clock_mono_us();
	if (pl_search_clnt_call(sb.sc, &req, sb_query_done, NULL) != 0) {
		req.caller = NULL;
		pl_request_fini(&req);
		return -1;
	}
	req.caller = NULL;
	pl_request_fini(&req);
	while (!sb.done)
		event_base_loop(sb.base, EVLOOP_ONCE);
	return sb.ok ? (double)(pl_clock_mono_us() - t0) / 1e3 : -1;
}

/* sb_cmp - doubles ascending */
static int
sb_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* sb_rank - a word of a rank in [lo, hi) */
static const char *
sb_rank(int lo, int hi)
{
	return sb.words[lo + (int)(sb_rand() * (hi - lo))];
}

/* sb_make_query - the text of query kind k */
static void
sb_make_query(int k, char *q, size_t size)
{
	switch (k) {
	case 0: snprintf(q, size, "%s", sb_rank(100, 200)); break;
	case 1: snprintf(q, size, "%s %s", sb_rank(20, 60), sb_rank(20, 60)); break;
	case 2: snprintf(q, size, "\"%s %s\"", sb_rank(0, 10), sb_rank(0, 10)); break;
	case 3: snprintf(q, size, "from:@user%ld %s", (long)(sb_rand() * sb.users),
	    sb_rank(20, 60)); break;
	case 4: snprintf(q, size, "in:#chan%ld %s", (long)(sb_rand() * sb.channels),
	    sb_rank(20, 60)); break;
	case 5: snprintf(q, size, "%s", sb_rank(10000, SB_VOCAB)); break;
	default: snprintf(q, size, "%s", sb_rank(0, 3)); break;
	}
}

/* sb_queries - phase 3 */
static void
sb_queries(void)
{
	static const char *const kinds[] = { "one_word", "two_words", "phrase",
	    "from_word", "in_word", "rare_word", "common_word" };
	static const char *const sorts[] = { "timestamp", "score" };
	double *lat = pl_calloc((size_t)sb.queries, sizeof(double));
	char q[256];
	int k, s;
	long i, n, totals;

	sb_query("warmup", "score");
	for (k = 0; k < 7; k++) {
		for (s = 0; s < 2; s++) {
			for (i = n = totals = 0; i < sb.queries; i++) {
				double ms;

				sb_make_query(k, q, sizeof(q));
				if ((ms = sb_query(q, sorts[s])) < 0)
					continue;
				lat[n++] = ms;
				totals += sb.total;
			}
			qsort(lat, (size_t)n, sizeof(double), sb_cmp);
			printf("query kind=%s sort=%s n=%ld p50_ms=%.1f p99_ms=%.1f max_ms=%.1f"
			    " avg_total=%ld\n", kinds[k], sorts[s], n,
			    n ? lat[n / 2] : -1, n ? lat[(n * 99 - 1) / 100] : -1,
			    n ? lat[n - 1] : -1, n ? totals / n : 0);
			fflush(stdout);
		}
	}
	free(lat);
}

/* sb_scrape - the lag histogram's cumulative buckets from the indexer's
 * /metrics (le bounds into le_r); the number of buckets or -1 */
static int
sb_scrape(double *le_r, double *cnt_r)
{
	char host[64], *colon, *body, *p;
	struct sockaddr_in sa = { 0 };
	size_t len = 0, cap = 1 << 20;
	int fd, n = 0;
	ssize_t r;

	snprintf(host, sizeof(host), "%s", sb.ops);
	if ((colon = strchr(host, ':')) == NULL)
		return -1;
	*colon = '\0';
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	inet_pton(AF_INET, host, &sa.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, "GET /metrics HTTP/1.0\r\n\r\n", 25) != 25) {
		close(fd);
		return -1;
	}
	body = pl_malloc(cap);
	while (len < cap - 1 && (r = read(fd, body + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	body[len] = '\0';
	close(fd);
	for (p = body; n < SB_LAG_BUCKETS + 1 &&
	    (p = strstr(p, "parley_search_index_lag_seconds_bucket{le=\"")) != NULL; n++) {
		p += strlen("parley_search_index_lag_seconds_bucket{le=\"");
		le_r[n] = strncmp(p, "+Inf", 4) == 0 ? INFINITY : strtod(p, NULL);
		p = strchr(p, '}');
		cnt_r[n] = p ? strtod(p + 1, NULL) : 0;
	}
	free(body);
	return n;
}

/* sb_quantile - the upper bound of the bucket holding quantile q of the
 * delta (after - before) of cumulative buckets */
static double
sb_quantile(const double *le, const double *b, const double *a, int n, double q)
{
	double total = a[n - 1] - b[n - 1];
	int i;

	for (i = 0; i < n; i++)
		if (a[i] - b[i] >= q * total)
			return le[i];
	return INFINITY;
}

/* sb_lag - phase 4: paced produce at --rate, lag from the indexer's histogram */
static void
sb_lag(void)
{
	double le[SB_LAG_BUCKETS + 1], before[SB_LAG_BUCKETS + 1], after[SB_LAG_BUCKETS + 1];
	long target = sb.rate * sb.rate_seconds, sent = 0, base_rows, tick = 0;
	uint64_t t0;
	int n;

	if ((n = sb_scrape(le, before)) <= 0) {
		fprintf(stderr, "searchbench: no lag histogram at %s\n", sb.ops);
		return;
	}
	base_rows = sb.messages;
	sb.acked = sb.failed = 0;
	t0 = pl_clock_mono_us();
	while (sent < target) {
		long due = (long)((double)(pl_clock_mono_us() - t0) / 1e6 * (double)sb.rate);

		for (; sent < due && sent < target; sent++)
			sb_produce((long)(sb_rand() * sb.channels), (int64_t)pl_clock_wall_us());
		sb_spin(2);
		tick++;
	}
	while (sb.acked + sb.failed < target)
		sb_spin(10);
	sb_wait_indexed(base_rows + target, 600);
	sb_spin(200);
	if (sb_scrape(le, after) != n)
		return;
	printf("lag rate_msgs_s=%ld seconds=%ld messages=%.0f p50_s<=%g p99_s<=%g"
	    " produce_s=%.1f\n", sb.rate, sb.rate_seconds, after[n - 1] - before[n - 1],
	    sb_quantile(le, before, after, n, 0.50), sb_quantile(le, before, after, n, 0.99),
	    (double)(pl_clock_mono_us() - t0) / 1e6);
	fflush(stdout);
}

/* sb_args - flags; -1 when one is missing */
static int
sb_args(int argc, char **argv)
{
	int i;

	sb.messages = 1000000;
	sb.channels = 1000;
	sb.users = 10000;
	sb.queries = 40;
	sb.rate = 2000;
	sb.rate_seconds = 20;
	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--run-dir") == 0) sb.run_dir = v;
		else if (strcmp(k, "--dir-dsn") == 0) sb.dir_dsn = v;
		else if (strcmp(k, "--index-dsn") == 0) sb.index_dsn = v;
		else if (strcmp(k, "--brokers") == 0) sb.brokers = v;
		else if (strcmp(k, "--ops") == 0) sb.ops = v;
		else if (strcmp(k, "--messages") == 0) sb.messages = atol(v);
		else if (strcmp(k, "--channels") == 0) sb.channels = atol(v);
		else if (strcmp(k, "--users") == 0) sb.users = atol(v);
		else if (strcmp(k, "--queries") == 0) sb.queries = atol(v);
		else if (strcmp(k, "--rate") == 0) sb.rate = atol(v);
		else if (strcmp(k, "--rate-seconds") == 0) sb.rate_seconds = atol(v);
		else if (strcmp(k, "--team") == 0) sb.reuse = v;
		else return -1;
	}
	return sb.run_dir && sb.dir_dsn && sb.index_dsn && sb.brokers && sb.ops &&
	    sb.messages > 0 && sb.channels > 0 && sb.users > 0 && sb.queries > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct pl_search_clnt_conf sc = { 0 };

	if (sb_args(argc, argv) != 0) {
		fprintf(stderr, "usage: searchbench --run-dir DIR --dir-dsn DSN --index-dsn DSN"
		    " --brokers B --ops HOST:PORT [--messages N] [--channels C] [--users U]"
		    " [--queries Q] [--rate R] [--rate-seconds S] [--team T]\n");
		return 2;
	}
	srandom(14);
	sb_vocab();
	sb.seq = pl_calloc((size_t)sb.channels, sizeof(*sb.seq));
	sb.base = event_base_new();
	sb.loop = pl_loop_event_create(sb.base);
	sc.run_dir = sb.run_dir;
	sc.timeout_ms = 30000;
	if (pl_kafka_producer_start(sb.loop, sb.brokers, "linger.ms=5", &sb.prod) != 0 ||
	    pl_search_clnt_start(sb.loop, &sc, &sb.sc) != 0)
		return 1;
	if (sb.reuse != NULL) {
		snprintf(sb.team, sizeof(sb.team), "%s", sb.reuse);
	} else {
		if (sb_provision() != 0)
			return 1;
		sb_index();
	}
	sb_queries();
	if (sb.rate > 0 && sb.rate_seconds > 0)
		sb_lag();
	pl_search_clnt_stop(&sb.sc);
	pl_kafka_producer_stop(&sb.prod, 5000);
	pl_loop_free(&sb.loop);
	event_base_free(sb.base);
	free(sb.seq);
	return 0;
}
