/* gateway_test.c - unit tests of the gateway's pure pieces: parameter
 * decoding (query/form/JSON), Origin matching, the send queue's bounds,
 * the frames of blobs (the string map and UTF-8 length: lib/). */

/* the modules this test links (Makefile, test_links): what it tests and
 * what those need (no call circle in gateway/ any more: tests/check/circles.py) */
/* test-links: auth blob cache http limits metrics proxy sendq set state */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "gw.h"
#include "gw_auth.h"
#include "gw_blob.h"
#include "gw_cache.h"
#include "gw_http.h"
#include "gw_limits.h"
#include "gw_metrics.h"
#include "gw_proxy.h"
#include "gw_sendq.h"
#include "pl_test.h"

PL_TEST(test_form)
{
	struct gw_params p = { 0 };

	gw_params_form(&p, "a=1&b=x%20y+z&c=&d&e=%26%3D&a=2", 31);
	PL_CHECK_EQ_STR(gw_params_get(&p, "a"), "2");
	PL_CHECK_EQ_STR(gw_params_get(&p, "b"), "x y z");
	PL_CHECK_EQ_STR(gw_params_get(&p, "c"), "");
	PL_CHECK_EQ_STR(gw_params_get(&p, "d"), "");
	PL_CHECK_EQ_STR(gw_params_get(&p, "e"), "&=");
	PL_CHECK(gw_params_get(&p, "zz") == NULL);
	gw_params_fini(&p);
}

PL_TEST(test_url_decode_bad_escape)
{
	char s[] = "100%zz%4";

	PL_CHECK_EQ_INT(gw_url_decode(s, strlen(s)), 8);
	PL_CHECK_EQ_STR(s, "100%zz%4");
}

PL_TEST(test_json_body)
{
	struct gw_params p = { 0 };
	const char *j = "{\"channel\":\"C1\",\"limit\":10,\"inclusive\":true,\"x\":null,\"blocks\":[1]}";

	PL_CHECK_EQ_INT(gw_params_json(&p, j, strlen(j)), 0);
	PL_CHECK_EQ_STR(gw_params_get(&p, "channel"), "C1");
	PL_CHECK_EQ_STR(gw_params_get(&p, "limit"), "10");
	PL_CHECK_EQ_STR(gw_params_get(&p, "inclusive"), "true");
	PL_CHECK(gw_params_get(&p, "x") == NULL);
	PL_CHECK_EQ_STR(gw_params_get(&p, "blocks"), "[1]");
	gw_params_fini(&p);
	PL_CHECK_EQ_INT(gw_params_json(&p, "[1,2]", 5), PL_EINVAL);
	PL_CHECK_EQ_INT(gw_params_json(&p, "{bad", 4), PL_EINVAL);
	gw_params_fini(&p);
}

PL_TEST(test_origin)
{
	const char *l = "https://app.example.com, https://*.parley.dev";

	PL_CHECK(gw_auth_origin_ok(l, NULL, "h:1"));
	PL_CHECK(gw_auth_origin_ok(l, "", "h:1"));
	PL_CHECK(gw_auth_origin_ok("", "http://127.0.0.1:8080", "127.0.0.1:8080"));
	PL_CHECK(!gw_auth_origin_ok("", "http://evil.com", "127.0.0.1:8080"));
	PL_CHECK(gw_auth_origin_ok(l, "https://app.example.com", "x"));
	PL_CHECK(gw_auth_origin_ok(l, "HTTPS://APP.EXAMPLE.COM", "x"));
	PL_CHECK(!gw_auth_origin_ok(l, "http://app.example.com", "x"));
	PL_CHECK(gw_auth_origin_ok(l, "https://a.parley.dev", "x"));
	PL_CHECK(!gw_auth_origin_ok(l, "https://parley.dev", "x"));
	PL_CHECK(!gw_auth_origin_ok(l, "https://evil.com/.parley.dev", "x"));
	PL_CHECK(!gw_auth_origin_ok(l, "https://app.example.com.evil.com", "x"));
	PL_CHECK(gw_auth_origin_ok("*", "https://anything", "x"));
}

PL_TEST(test_bearer)
{
	PL_CHECK_EQ_STR(gw_auth_bearer("Bearer abc"), "abc");
	PL_CHECK_EQ_STR(gw_auth_bearer("bearer  abc"), "abc");
	PL_CHECK(gw_auth_bearer("Basic abc") == NULL);
	PL_CHECK(gw_auth_bearer("Bearer ") == NULL);
	PL_CHECK(gw_auth_bearer(NULL) == NULL);
}

PL_TEST(test_sendq_bounds)
{
	struct gw_sendq *q = gw_sendq_create(3, 10);
	struct gw_blob *a = gw_blob_create("1234", 4), *b;

	PL_CHECK_EQ_INT(gw_sendq_push(q, a), 0);
	PL_CHECK_EQ_INT(gw_sendq_push(q, a), 0);
	PL_CHECK_EQ_INT(gw_sendq_push(q, a), PL_ETOOBIG);	/* 12 bytes > 10 */
	PL_CHECK_EQ_INT(q->n, 2);
	PL_CHECK_EQ_INT(q->bytes, 8);
	PL_CHECK_EQ_INT(a->refs, 3);
	b = gw_sendq_pop(q);
	PL_CHECK(b == a);
	gw_blob_unref(&b);
	PL_CHECK_EQ_INT(q->bytes, 4);
	gw_sendq_free(&q);
	PL_CHECK(q == NULL);
	PL_CHECK_EQ_INT(a->refs, 1);
	gw_blob_unref(&a);
}

PL_TEST(test_sendq_frames_and_order)
{
	struct gw_sendq *q = gw_sendq_create(20, 1000);
	struct gw_blob *v[20], *b;
	char t[8];
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(t, sizeof(t), "%d", i);
		v[i] = gw_blob_create(t, strlen(t));
		PL_CHECK_EQ_INT(gw_sendq_push(q, v[i]), 0);
		if (i % 3 == 2) {	/* interleave pops to wrap the ring */
			b = gw_sendq_pop(q);
			gw_blob_unref(&b);
		}
	}
	PL_CHECK_EQ_INT(gw_sendq_push(q, v[0]), 0);
	b = gw_sendq_pop(q);
	PL_CHECK(b == v[6]);
	gw_blob_unref(&b);
	gw_sendq_free(&q);
	for (i = 0; i < 20; i++)
		gw_blob_unref(&v[i]);
}

PL_TEST(test_blob_frame)
{
	/* payload length -> header length and its length bytes (RFC 6455 5.2) */
	static const struct {
		size_t len;
		uint32_t hl;
		unsigned char hdr[GW_BLOB_HDR_MAX];
	} cases[] = {
		{ 0, 2, { 0x81, 0 } },
		{ 125, 2, { 0x81, 125 } },
		{ 126, 4, { 0x81, 126, 0, 126 } },
		{ 65535, 4, { 0x81, 126, 0xff, 0xff } },
		{ 65536, 10, { 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 } },
		{ 70000, 10, { 0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70 } },
	};
	char *p = malloc(70000);
	struct gw_blob *b;
	size_t i;

	memset(p, 'x', 70000);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = gw_blob_create(p, cases[i].len);
		PL_CHECK_EQ_INT(b->len, cases[i].len);
		PL_CHECK_EQ_INT(b->frame_len, cases[i].hl + cases[i].len);
		PL_CHECK(memcmp(b->frame, cases[i].hdr, cases[i].hl) == 0);
		PL_CHECK(b->frame + cases[i].hl == b->data);
		PL_CHECK(memcmp(b->data, p, cases[i].len) == 0);
		PL_CHECK_EQ_INT(b->data[cases[i].len], 0);
		gw_blob_unref(&b);
	}
	free(p);
}

/* test_params_bounded - a body of many distinct keys stops at the pair cap
 * (PL_ETOOBIG, nothing past it kept); repeats of one key replace without
 * counting; a key over GW_PARAM_KEY_MAX is refused (PL_EPROTO) */
PL_TEST(test_params_bounded)
{
	struct gw_params p = { 0 };
	struct pl_buf b;
	char key[GW_PARAM_KEY_MAX + 2];
	int i;

	pl_buf_init(&b);
	for (i = 0; i < 260000; i++)
		pl_buf_printf(&b, "%sk%d=%d", i ? "&" : "", i, i);
	PL_CHECK_EQ_INT(gw_params_form(&p, b.data, b.len), PL_ETOOBIG);
	PL_CHECK_EQ_INT(p.n, 100);
	PL_CHECK_EQ_STR(gw_params_get(&p, "k99"), "99");
	PL_CHECK(gw_params_get(&p, "k100") == NULL);
	gw_params_fini(&p);
	pl_buf_reset(&b);
	for (i = 0; i < 100000; i++)
		pl_buf_printf(&b, "%sa=%d", i ? "&" : "", i);
	PL_CHECK_EQ_INT(gw_params_form(&p, b.data, b.len), 0);
	PL_CHECK_EQ_INT(p.n, 1);
	PL_CHECK_EQ_STR(gw_params_get(&p, "a"), "99999");
	gw_params_fini(&p);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = 0;
	PL_CHECK_EQ_INT(gw_params_add(&p, key, GW_PARAM_KEY_MAX, "v", 1), 0);
	PL_CHECK_EQ_INT(gw_params_add(&p, key, GW_PARAM_KEY_MAX + 1, "v", 1), PL_EPROTO);
	PL_CHECK_EQ_INT(p.n, 1);
	gw_params_fini(&p);
	pl_buf_reset(&b);
	pl_buf_puts(&b, "{");
	for (i = 0; i < 101; i++)
		pl_buf_printf(&b, "%s\"j%d\":%d", i ? "," : "", i, i);
	pl_buf_puts(&b, "}");
	PL_CHECK_EQ_INT(gw_params_json(&p, b.data, b.len), PL_ETOOBIG);
	PL_CHECK_EQ_INT(p.n, 100);
	PL_CHECK_EQ_STR(gw_params_get(&p, "j42"), "42");
	gw_params_fini(&p);
	PL_CHECK_EQ_STR(gw_params_error(PL_ETOOBIG), "invalid_arguments");
	PL_CHECK_EQ_STR(gw_params_error(PL_EPROTO), "invalid_arg_name");
	PL_CHECK_EQ_STR(gw_params_error(PL_EINVAL), "invalid_json");
	pl_buf_fini(&b);
}

/* test_cache_many_channels - one connection in 40,000 channels: past the
 * 32,768 where a uint16_t capacity wrapped to 0 (then a 1-byte realloc
 * and a heap overflow); with a cap of 1,000 the rest are not subscribed
 * and counted; a boot listing a channel twice subscribes it once */
PL_TEST(test_cache_many_channels)
{
	enum { N = 40000 };
	Parley__Boot boot = PARLEY__BOOT__INIT;
	Parley__Channel *chs = calloc(N, sizeof(*chs)), **v = calloc(N, sizeof(*v));
	char (*ids)[16] = calloc(N, sizeof(*ids));
	struct gw_conn *c = calloc(1, sizeof(*c)), *d = calloc(1, sizeof(*d));
	struct gw_chan *last;
	int i;

	gw_metrics_init();
	PL_CHECK_EQ_INT(gw_cache_init(), 0);
	for (i = 0; i < N; i++) {
		parley__channel__init(&chs[i]);
		snprintf(ids[i], sizeof(ids[i]), "C%07d", i);
		chs[i].id = ids[i];
		v[i] = &chs[i];
	}
	v[N - 1] = &chs[N - 2];		/* listed twice */
	boot.channels = v;
	boot.n_channels = N;
	gw_conf.max_user_channels = 100000;
	snprintf(c->user, sizeof(c->user), "U1");
	snprintf(c->team, sizeof(c->team), "T1");
	gw_cache_attach(c, &boot);
	PL_CHECK_EQ_INT(c->nchans, N - 1);
	PL_CHECK(c->capchans >= c->nchans);
	last = gw_cache_chan("C0039998");
	PL_CHECK(last != NULL && last->subs.n == 1);
	PL_CHECK(gw_cache_seen(c, last) != NULL);
	PL_CHECK(gw_cache_member(c, "C0000000"));
	gw_conf.max_user_channels = 1000;
	snprintf(d->user, sizeof(d->user), "U2");
	snprintf(d->team, sizeof(d->team), "T1");
	gw_cache_attach(d, &boot);
	PL_CHECK_EQ_INT(d->nchans, 1000);
	PL_CHECK(gw_cache_member(d, "C0000999"));
	PL_CHECK(!gw_cache_member(d, "C0001000"));
	gw_cache_detach(c);
	gw_cache_detach(d);
	PL_CHECK_EQ_INT(gw_cache_channels(), 0);
	gw_cache_fini();
	gw_conf.max_user_channels = 0;
	free(c);
	free(d);
	free(ids);
	free(v);
	free(chs);
}

/* test_proxy_v1 - text headers: complete, partial, UNKNOWN, malformed */
PL_TEST(test_proxy_v1)
{
	static const char ok[] = "PROXY TCP4 127.9.8.7 127.0.0.1 5555 80\r\nGET / HTTP/1.1\r\n";
	static const char six[] = "PROXY TCP6 2001:db8::1 ::1 5555 80\r\n";
	struct gw_proxy_hdr h;
	char longline[200];

	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)ok, sizeof(ok) - 1, &h), 1);
	PL_CHECK_EQ_INT(h.len, 40);
	PL_CHECK_EQ_STR(h.addr, "127.9.8.7");
	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)ok, 20, &h), PL_EAGAIN);
	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)"PRO", 3, &h), PL_EAGAIN);
	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)six, sizeof(six) - 1, &h), 1);
	PL_CHECK_EQ_STR(h.addr, "2001:db8::1");
	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)"PROXY UNKNOWN\r\n", 15, &h), 1);
	PL_CHECK_EQ_INT(h.len, 15);
	PL_CHECK_EQ_STR(h.addr, "");
	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)
	    "PROXY TCP4 999.1.1.1 127.0.0.1 1 2\r\n", 36, &h), PL_EPROTO);
	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)
	    "PROXY TCP4 1.1.1.1 127.0.0.1 1 99999\r\n", 39, &h), PL_EPROTO);
	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)
	    "PROXY TCP4 1.1.1.1 127.0.0.1 1\r\n", 33, &h), PL_EPROTO);
	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)"GET / HTTP/1.1\r\n", 16, &h),
	    PL_EPROTO);
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "PROXY ", 6);
	PL_CHECK_EQ_INT(gw_proxy_parse((const unsigned char *)longline, sizeof(longline), &h),
	    PL_EPROTO);
	PL_CHECK_EQ_INT(gw_proxy_looks((const unsigned char *)"GET /", 5), 0);
	PL_CHECK_EQ_INT(gw_proxy_looks((const unsigned char *)"POST /", 6), 0);
	PL_CHECK_EQ_INT(gw_proxy_looks((const unsigned char *)"PRO", 3), PL_EAGAIN);
	PL_CHECK_EQ_INT(gw_proxy_looks((const unsigned char *)ok, sizeof(ok) - 1), 1);
}

/* test_proxy_v2 - binary headers: PROXY TCP4 / TCP6, LOCAL, partial, bad */
PL_TEST(test_proxy_v2)
{
	unsigned char b[64] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55,
	    0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 127, 3, 2, 1, 127, 0, 0, 1,
	    0x15, 0xb3, 0x00, 0x50 };
	struct gw_proxy_hdr h;

	PL_CHECK_EQ_INT(gw_proxy_looks(b, 12), 1);
	PL_CHECK_EQ_INT(gw_proxy_parse(b, 28, &h), 1);
	PL_CHECK_EQ_INT(h.len, 28);
	PL_CHECK_EQ_STR(h.addr, "127.3.2.1");
	PL_CHECK_EQ_INT(gw_proxy_parse(b, 20, &h), PL_EAGAIN);
	b[12] = 0x20;			/* LOCAL */
	PL_CHECK_EQ_INT(gw_proxy_parse(b, 28, &h), 1);
	PL_CHECK_EQ_STR(h.addr, "");
	b[12] = 0x31;			/* version 3 */
	PL_CHECK_EQ_INT(gw_proxy_parse(b, 28, &h), PL_EPROTO);
	b[12] = 0x21;
	b[15] = 4;			/* TCP4 with 4 bytes of addresses */
	PL_CHECK_EQ_INT(gw_proxy_parse(b, 28, &h), PL_EPROTO);
	b[14] = 0x10;			/* 4 KiB: over what we take */
	PL_CHECK_EQ_INT(gw_proxy_parse(b, 28, &h), PL_EPROTO);
	b[13] = 0x21;			/* TCP6, 36 bytes */
	b[14] = 0;
	b[15] = 36;
	memset(b + 16, 0, 36);
	b[31] = 1;			/* ::1 */
	PL_CHECK_EQ_INT(gw_proxy_parse(b, 52, &h), 1);
	PL_CHECK_EQ_STR(h.addr, "::1");
}

/* test_peer_budget - per-address socket counts: the cap, give back,
 * loopback exempt or not, trusted proxies exempt */
PL_TEST(test_peer_budget)
{
	struct gw_peer *p[4];

	gw_conf.max_conns_ip = 2;
	gw_conf.conn_loopback_exempt = 0;
	gw_conf.trusted_proxies = "10.0.0.0/8, 192.168.1.7";
	PL_CHECK_EQ_INT(gw_limits_init(), 0);
	PL_CHECK(gw_limits_trusted("10.1.2.3"));
	PL_CHECK(gw_limits_trusted("192.168.1.7"));
	PL_CHECK(!gw_limits_trusted("192.168.1.8"));
	PL_CHECK_EQ_INT(gw_limits_peer_take("127.0.0.2", &p[0]), 0);
	PL_CHECK_EQ_INT(gw_limits_peer_take("127.0.0.2", &p[1]), 0);
	PL_CHECK_EQ_INT(gw_limits_peer_take("127.0.0.2", &p[2]), PL_EAGAIN);
	PL_CHECK(p[2] == NULL);
	PL_CHECK_EQ_INT(gw_limits_peer_take("127.0.0.3", &p[2]), 0);
	gw_limits_peer_put(&p[0]);
	PL_CHECK(p[0] == NULL);
	PL_CHECK_EQ_INT(gw_limits_peer_count("127.0.0.2"), 1);
	PL_CHECK_EQ_INT(gw_limits_peer_take("127.0.0.2", &p[0]), 0);
	gw_limits_peer_put(&p[0]);
	gw_limits_peer_put(&p[1]);
	gw_limits_peer_put(&p[2]);
	PL_CHECK_EQ_INT(gw_limits_peer_count("127.0.0.2"), 0);
	PL_CHECK_EQ_INT(gw_limits_peer_take("10.9.9.9", &p[0]), 0);
	PL_CHECK_EQ_INT(gw_limits_peer_take("10.9.9.9", &p[1]), 0);
	PL_CHECK_EQ_INT(gw_limits_peer_take("10.9.9.9", &p[2]), 0);	/* trusted */
	gw_limits_peer_put(&p[0]);
	gw_limits_peer_put(&p[1]);
	gw_limits_peer_put(&p[2]);
	gw_limits_fini();
	gw_conf.conn_loopback_exempt = 1;
	gw_conf.trusted_proxies = "10.0.0.0/33";
	PL_CHECK_EQ_INT(gw_limits_init(), PL_EINVAL);
	gw_limits_fini();
	gw_conf.trusted_proxies = "";
	PL_CHECK_EQ_INT(gw_limits_init(), 0);
	PL_CHECK_EQ_INT(gw_limits_peer_take("127.0.0.2", &p[0]), 0);
	PL_CHECK_EQ_INT(gw_limits_peer_take("127.0.0.2", &p[1]), 0);
	PL_CHECK_EQ_INT(gw_limits_peer_take("127.0.0.2", &p[2]), 0);	/* loopback */
	gw_limits_peer_put(&p[0]);
	gw_limits_peer_put(&p[1]);
	gw_limits_peer_put(&p[2]);
	gw_limits_fini();
	gw_conf.trusted_proxies = NULL;
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_form),
	PL_TEST_CASE(test_url_decode_bad_escape),
	PL_TEST_CASE(test_json_body),
	PL_TEST_CASE(test_params_bounded),
	PL_TEST_CASE(test_cache_many_channels),
	PL_TEST_CASE(test_proxy_v1),
	PL_TEST_CASE(test_proxy_v2),
	PL_TEST_CASE(test_peer_budget),
	PL_TEST_CASE(test_origin),
	PL_TEST_CASE(test_bearer),
	PL_TEST_CASE(test_sendq_bounds),
	PL_TEST_CASE(test_sendq_frames_and_order),
	PL_TEST_CASE(test_blob_frame),
};
PL_TEST_MAIN(tests)
