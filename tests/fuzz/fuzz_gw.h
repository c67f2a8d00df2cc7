/* fuzz_gw.h - the gateway state the gateway's fuzz targets run against: the
 * settings' defaults (main.c's table), the metrics, the real edge cache and
 * one booted connection, joined to channels C1..C3 through gw_cache_attach
 * as session.boot joins it. What is not there: a socket (c->ws = 0, so a
 * handler renders its answer, then gw_conn_send drops it) and a message-svc
 * client (gw.msg NULL: every call fails PL_EUNAVAIL, as when the breaker is
 * open, and the handler's failure path runs). The libuv loop exists (the
 * modules' init functions start timers on it) but never runs. */
#ifndef FUZZ_GW_H
#define FUZZ_GW_H
#include <string.h>
#include <uv.h>

#include "gw.h"
#include "gw_active.h"
#include "gw_cache.h"
#include "gw_conn.h"
#include "gw_fanout.h"
#include "gw_members.h"
#include "gw_metrics.h"
#include "log.h"
#include "loop.h"

static struct gw_conn fuzz_gw_c;
/* members.c releases held events to fan-out (set by gw_fanout_start, which
 * the targets do not run: it dials Kafka) */
static const struct gw_members_ops fuzz_gw_members = { gw_fanout_deliver };

#define FUZZ_UNUSED __attribute__((unused))

/* fuzz_gw_settings - main.c's defaults (every setting with a lower bound
 * above 0: a 0 the daemon can never run with is not a finding) */
static FUZZ_UNUSED void
fuzz_gw_settings(void)
{
	gw_conf.token_secret = "fuzz-secret-fuzz-secret-fuzz-secret!";
	gw_conf.admin_token = "";
	gw_conf.allowed_origins = "";
	gw_conf.public_url = "";
	gw_conf.shard_count = 1;
	gw_conf.max_conns = 19500;
	gw_conf.max_frame = 16384;
	gw_conf.max_rtm_text = 4000;
	gw_conf.max_sendq_bytes = 1048576;
	gw_conf.max_sendq_frames = 1024;
	gw_conf.max_body = 1048576;
	gw_conf.max_hold = 1024;
	gw_conf.rate_limits = 0;	/* else the bucket empties and send stops */
	gw_conf.rate_typing_ms = 3000;
	gw_conf.heartbeat_ms = 30000;
	gw_conf.rpc_timeout_ms = 5000;
	gw_conf.ticket_ttl_s = 30;
	gw_conf.poll_max_s = 60;
	gw_conf.max_polls = 10000;
	gw_conf.max_polls_user = 4;
	gw_conf.api_buckets = 100000;
	gw_conf.max_params = 100;
	gw_conf.max_user_channels = 10000;
	gw_conf.http_header_pool = 1024;
	gw_conf.http_header_timeout_s = 10;
	gw_conf.http_request_timeout_s = 30;
	gw_conf.max_conns_user = 50;
	gw_conf.max_conns_ip = 256;
	gw_conf.rx_buffer = 128;
	gw_conf.rate_msg_per_s = 1;
	gw_conf.rate_msg_burst = 10;
	gw_conf.rate_accept_per_s = 2000;
	gw_conf.rate_accept_burst = 4000;
	gw_conf.rate_presence_query = 100;
	gw_conf.ping_s = 30;
	gw_conf.pong_timeout_s = 10;
	gw_conf.idle_s = 300;
	gw_conf.breaker_threshold = 5;
	gw_conf.breaker_open_ms = 2000;
	gw_conf.auth_check_s = 60;
	gw_conf.auth_cache = 100000;
}

/* fuzz_gw_conn - the booted connection (set up on the first call) */
static FUZZ_UNUSED struct gw_conn *
fuzz_gw_conn(void)
{
	static int done;
	static uv_loop_t uv;
	static char *ids[] = { "C1", "C2", "G3" };
	Parley__Channel ch[3], *chp[3];
	Parley__Boot boot = PARLEY__BOOT__INIT;
	Parley__Team team = PARLEY__TEAM__INIT;
	struct gw_conn *c = &fuzz_gw_c;
	int i;

	if (done)
		return c;
	done = 1;
	pl_log_init("fuzz", "error");
	fuzz_gw_settings();
	uv_loop_init(&uv);
	gw.uv = &uv;
	gw.loop = pl_loop_uv_create(&uv);
	gw_metrics_init();
	gw_cache_init();
	gw_members_init();
	gw_members_set_ops(&fuzz_gw_members);	/* as gw_fanout_start does */
	gw_active_init();
	c->fd = -1;
	c->state = GW_CONN_LIVE;
	strcpy(c->user, "U1");
	strcpy(c->team, "T1");
	strcpy(c->session, "S1");
	gw_conn_register(c);
	team.id = "T1";
	team.name = "fuzz";
	team.domain = "fuzz";
	for (i = 0; i < 3; i++) {
		parley__channel__init(&ch[i]);
		ch[i].id = ids[i];
		ch[i].team = "T1";
		ch[i].kind = i == 2 ? "private" : "public";
		ch[i].epoch = 1;
		chp[i] = &ch[i];
	}
	boot.team = &team;
	boot.channels = chp;
	boot.n_channels = 3;
	gw_cache_attach(c, &boot);
	return c;
}

#endif
