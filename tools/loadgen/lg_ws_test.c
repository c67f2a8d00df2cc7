/* lg_ws_test.c - WebSocket frames (partial reads, masking, control) and Engine.IO packets */

/* the modules this test links (Makefile, test_links): what it tests */
/* test-links: lg_eio */
#include "lg_eio.h"
#include "lg_ws.h"
#include "pl_test.h"

PL_TEST(test_roundtrip_masked)
{
	uint8_t buf[256];
	struct lg_ws_frame f;
	int n = lg_ws_encode(buf, sizeof(buf), LG_WS_TEXT, "hello", 5, 0x12345678);

	PL_CHECK_EQ_INT(n, 2 + 4 + 5);
	PL_CHECK_EQ_INT(buf[1] & 0x80, 0x80);
	PL_CHECK(memcmp(buf + 6, "hello", 5) != 0);     /* masked on the wire */
	PL_CHECK_EQ_INT(lg_ws_parse(buf, (size_t)n, &f), n);
	PL_CHECK_EQ_INT(f.opcode, LG_WS_TEXT);
	PL_CHECK_EQ_INT(f.fin, 1);
	PL_CHECK_EQ_INT(f.len, 5);
	PL_CHECK(memcmp(f.payload, "hello", 5) == 0);
}

PL_TEST(test_partial_reads)
{
	static uint8_t buf[70000], payload[70000];
	struct lg_ws_frame f;
	int n;

	memset(payload, 'x', sizeof(payload));
	/* server frames: unmasked, 16-bit and 64-bit lengths */
	buf[0] = 0x81; buf[1] = 126; buf[2] = 300 >> 8; buf[3] = 300 & 0xff;
	memcpy(buf + 4, payload, 300);
	for (size_t k = 0; k < 304; k++)
		PL_CHECK_EQ_INT(lg_ws_parse(buf, k, &f), 0);
	PL_CHECK_EQ_INT(lg_ws_parse(buf, 304, &f), 304);
	PL_CHECK_EQ_INT(f.len, 300);
	n = lg_ws_encode(buf, sizeof(buf), LG_WS_BINARY, payload, 66000, 7);
	PL_CHECK_EQ_INT(n, 10 + 4 + 66000);
	PL_CHECK_EQ_INT(lg_ws_parse(buf, 9, &f), 0);
	PL_CHECK_EQ_INT(lg_ws_parse(buf, (size_t)n - 1, &f), 0);
	PL_CHECK_EQ_INT(lg_ws_parse(buf, (size_t)n, &f), n);
	PL_CHECK_EQ_INT(f.len, 66000);
	PL_CHECK_EQ_INT(f.payload[65999], 'x');
}

PL_TEST(test_two_frames_one_read)
{
	uint8_t buf[64] = { 0x81, 2, 'h', 'i', 0x89, 1, 'p' };
	struct lg_ws_frame f;

	PL_CHECK_EQ_INT(lg_ws_parse(buf, 7, &f), 4);
	PL_CHECK_EQ_INT(lg_ws_parse(buf + 4, 3, &f), 3);
	PL_CHECK_EQ_INT(f.opcode, LG_WS_PING);
	PL_CHECK_EQ_INT(f.payload[0], 'p');
}

PL_TEST(test_control_frames)
{
	uint8_t close[] = { 0x88, 2, 0x0f, 0xa8 };            /* 4008 */
	uint8_t bad_ping[] = { 0x09, 0 };                     /* fragmented control */
	uint8_t long_ping[130] = { 0x89, 126, 0, 126 };
	uint8_t rsv[] = { 0xc1, 0 };
	struct lg_ws_frame f;

	PL_CHECK_EQ_INT(lg_ws_parse(close, 4, &f), 4);
	PL_CHECK_EQ_INT(f.opcode, LG_WS_CLOSE);
	PL_CHECK_EQ_INT(lg_ws_close_code(&f), 4008);
	PL_CHECK_EQ_INT(lg_ws_parse(bad_ping, 2, &f), LG_WS_EPROTO);
	PL_CHECK_EQ_INT(lg_ws_parse(long_ping, 130, &f), LG_WS_EPROTO);
	PL_CHECK_EQ_INT(lg_ws_parse(rsv, 2, &f), LG_WS_EPROTO);
}

PL_TEST(test_upgrade_response)
{
	const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81";
	const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n";
	char req[512];

	PL_CHECK_EQ_INT(lg_ws_response(ok, 20), 0);
	PL_CHECK_EQ_INT(lg_ws_response(ok, sizeof(ok) - 1), (int)sizeof(ok) - 2);
	PL_CHECK_EQ_INT(lg_ws_response(busy, sizeof(busy) - 1), -503);
	PL_CHECK(lg_ws_request(req, sizeof(req), "127.0.0.1:80", "/ws?token=t") > 0);
	PL_CHECK(strstr(req, "GET /ws?token=t HTTP/1.1\r\n") == req);
}

PL_TEST(test_eio_packets)
{
	struct lg_eio_pkt p;
	char name[32];
	const char *open = "0{\"sid\":\"a\",\"pingInterval\":25000}";
	const char *ev = "42[\"message\",{\"seq\":1}]";
	const char *ack = "4317[{\"ok\":true}]";
	const char *nsp = "42/chat,5[\"x\"]";

	PL_CHECK_EQ_INT(lg_eio_parse(open, strlen(open), &p), 0);
	PL_CHECK_EQ_INT(p.eio, LG_EIO_OPEN);
	PL_CHECK_EQ_INT(p.data[0], '{');
	PL_CHECK_EQ_INT(lg_eio_parse("2", 1, &p), 0);
	PL_CHECK_EQ_INT(p.eio, LG_EIO_PING);
	PL_CHECK_EQ_INT(lg_eio_parse("40", 2, &p), 0);
	PL_CHECK_EQ_INT(p.sio, LG_SIO_CONNECT);
	PL_CHECK_EQ_INT(lg_eio_parse(ev, strlen(ev), &p), 0);
	PL_CHECK_EQ_INT(p.sio, LG_SIO_EVENT);
	PL_CHECK_EQ_INT(p.ack, -1);
	PL_CHECK_EQ_INT(lg_eio_event(&p, name, sizeof(name)), 0);
	PL_CHECK_EQ_STR(name, "message");
	PL_CHECK_EQ_INT(lg_eio_parse(ack, strlen(ack), &p), 0);
	PL_CHECK_EQ_INT(p.sio, LG_SIO_ACK);
	PL_CHECK_EQ_INT(p.ack, 17);
	PL_CHECK_EQ_INT(p.data[0], '[');
	PL_CHECK_EQ_INT(lg_eio_parse(nsp, strlen(nsp), &p), 0);
	PL_CHECK_EQ_INT(p.ack, 5);
	PL_CHECK_EQ_INT(lg_eio_parse("x", 1, &p), LG_EIO_EPROTO);
	PL_CHECK_EQ_INT(lg_eio_parse("49", 2, &p), LG_EIO_EPROTO);
}

PL_TEST(test_eio_emit)
{
	char out[128];

	PL_CHECK(lg_eio_emit(out, sizeof(out), "message", "{\"a\":1}", 3) > 0);
	PL_CHECK_EQ_STR(out, "423[\"message\",{\"a\":1}]");
	PL_CHECK(lg_eio_emit(out, sizeof(out), "ping", "1", -1) > 0);
	PL_CHECK_EQ_STR(out, "42[\"ping\",1]");
	PL_CHECK_EQ_INT(lg_eio_emit(out, 8, "message", "{}", -1), -1);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_roundtrip_masked),
	PL_TEST_CASE(test_partial_reads),
	PL_TEST_CASE(test_two_frames_one_read),
	PL_TEST_CASE(test_control_frames),
	PL_TEST_CASE(test_upgrade_response),
	PL_TEST_CASE(test_eio_packets),
	PL_TEST_CASE(test_eio_emit),
};
PL_TEST_MAIN(tests)
