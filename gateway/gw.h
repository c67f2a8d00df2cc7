/* gw.h - what every gateway module shares: the settings (gw_conf), the
 * process state (gw), connection handles and the Caller of a request
 * (state.c). The gateway is Parley's Flannel: one process, one libuv loop,
 * one lws service thread; everything runs on the loop thread.
 *
 * Each module has its own header, gw_<module>.h (gw_ because lib/ has a
 * metrics.h too), and a file's #include list is its dependency list. The
 * modules stand in layers, lowest first; a file includes the headers of its
 * own layer and of the layers below, never of a layer above, and no two
 * files call each other in a circle. Where a lower module must reach an
 * upper one, the upper sets an ops table at its init (as lib/loop.h does),
 * so the lower never names it.
 *
 * tests/check/circles.py reads the table below (the layer in the first
 * column, its files in the second, what they do further right; gw_<m>.h is
 * of m.c's layer, gw.h of the lowest) and fails on an include of a higher
 * layer and on a .c file the table does not place: a new module gets its
 * line here.
 *
 *   base        state.c    gw_conf, gw, gw_request_caller, gw_request_key (this header)
 *               metrics.c  counters and histograms; gauges are registered
 *                          by the module whose state they read, at its init
 *               blob.c     refcounted, pre-padded frames shared by recipients
 *               sendq.c    the bounded per-connection send queue
 *               set.c      a small set of connections
 *               cache.c    the edge cache's tables: users, teams, channels ->
 *                          connections (delivery fills them, every layer
 *                          reads them, so they sit below all)
 *               services.c the daemons and stores the gateway talks to
 *               ticket.c   rtm.connect single-use tickets (Redis)
 *   edge        http.c     HTTP request state: parameters, header copies,
 *                          responses
 *               auth.c     tokens, admin token, Origin, WebSocket upgrade auth
 *               active.c   deactivated users: the session.check cache
 *               limits.c   connection budgets, accept bucket, send and API
 *                          rates
 *               proxy.c    the PROXY protocol before lws (up: gw_proxy_ops,
 *                          set by server.c)
 *               conn.c     WebSocket connections: handles, lifecycle, the
 *                          write path, the sweep (up: gw_conn_ops, set by
 *                          rtm.c)
 *               reply.c    Slack error replies, Web API and RTM
 *               server.c   the lws context, the protocol callback, HTTP
 *                          routing (up: gw_server_set_api by api.c,
 *                          gw_server_set_files by static.c)
 *   front-ends  static.c   static files of the web client
 *               presence.c activity reports, presence queries
 *               resume.c   resume: channel.replay with a holding buffer
 *               poll.c     events.poll, long polling
 *               rtm.c      client frames: the dispatch table
 *               api.c      /api/<method>: the dispatch table
 *   delivery    members.c  the membership fence: channels new to this
 *                          gateway (up: gw_members_ops, set by fanout.c)
 *               fanout.c   Kafka consumer -> render once -> local
 *                          subscribers, held polls and resumes
 *   main        main.c     the settings table and every init, above all
 *
 * Handles: asynchronous completions (nng replies, Redis) never keep a
 * connection pointer; they keep a gw_handle (slot + generation) and look the
 * connection up when they complete (gw_conn_find), so a connection that went
 * away is simply not found. */
#ifndef GW_H
#define GW_H
#include <stddef.h>
#include <stdint.h>

#include "parley.pb-c.h"
#include "tbucket.h"

struct lws;
struct lws_context;
struct pl_loop;
struct pl_redis;
struct pl_message_clnt;
struct pl_presence_clnt;
struct pl_notify_clnt;
struct pl_search_clnt;
struct pl_kafka_consumer;
struct gw_chan;
struct gw_seen;
struct gw_user;
struct gw_team;
struct gw_sendq;
struct gw_rx;
struct gw_http;
struct gw_resume;
struct gw_poll;

#define GW_ID_MAX 16

/* a connection's handle: slot and generation (conn.c) */
typedef uint64_t gw_handle;

/* ---- settings (the table of main.c) ---- */
struct gw_settings {
	char *http_addr;
	char *http_port_file;
	char *run_dir;
	char *presence_url;		/* nng push URL (empty: ipc under run_dir) */
	char *presence_rpc_url;	/* nng req URL of presence-svc (empty: ipc under run_dir) */
	char *message_urls;
	char *search_urls;		/* search-indexer instances (search_clnt.h) */
	char *kafka_brokers;
	char *kafka_brokers_file;
	char *redis_addr;
	char *token_secret;
	char *admin_token;
	char *token_secret_file, *admin_token_file;	/* PL_CONF_FILE paths */
	char *allowed_origins;
	char *web_dir;
	char *public_url;
	char *gateway_id;
	int64_t shard_count;
	int64_t partitions;
	int64_t fetch_wait_ms;
	int64_t max_conns;
	int64_t max_frame;
	int64_t max_rtm_text;
	int64_t max_sendq_bytes;
	int64_t max_sendq_frames;
	int64_t max_body;
	int64_t max_params;		/* Web API parameters per request */
	int64_t max_user_channels;	/* channels per connection in the edge cache */
	int64_t http_header_pool;	/* lws header slots per process */
	int64_t http_header_timeout_s;	/* to complete the request headers */
	int64_t http_request_timeout_s;	/* to complete a request body */
	int64_t max_conns_user;		/* WebSockets per user and process */
	int64_t max_conns_ip;		/* sockets per client address and process */
	int conn_loopback_exempt;	/* loopback addresses skip max_conns_ip */
	char *trusted_proxies;		/* IPv4 addresses / CIDRs */
	int proxy_protocol;		/* trusted proxies send a PROXY header */
	int64_t max_hold;
	int64_t rx_buffer;
	int64_t rate_msg_per_s;
	int64_t rate_msg_burst;
	int64_t rate_accept_per_s;
	int64_t rate_accept_burst;
	int64_t rate_typing_ms;
	int64_t rate_presence_query;	/* users/s of presence queries per connection */
	int rate_limits;
	int64_t heartbeat_ms;
	int64_t ping_s;
	int64_t pong_timeout_s;
	int64_t idle_s;
	int64_t rpc_timeout_ms;
	int64_t breaker_threshold;
	int64_t breaker_open_ms;
	int64_t ticket_ttl_s;
	int64_t poll_max_s;
	int64_t max_polls;
	int64_t max_polls_user;
	int64_t api_buckets;
	int64_t test_events_lag_ms;	/* tests only: parley.events applied late */
	int64_t auth_check_s;		/* active.c: a user's state is asked again after */
	int64_t auth_cache;		/* active.c: users kept */
	int64_t test_poll_replay_delay_ms;	/* tests only: poll replays sent late */
	char *notify_url;		/* notify-svc's nng URL ("": ipc under run-dir) */
};
extern struct gw_settings gw_conf;

/* ---- process state ---- */
struct gw {
	struct pl_loop *loop;
	void *uv;			/* uv_loop_t * */
	struct lws_context *lws;
	int port;
	struct pl_redis *redis;
	struct pl_message_clnt *msg;
	struct pl_presence_clnt *presence;
	struct pl_notify_clnt *notify;
	struct pl_search_clnt *search;	/* search.messages */
	struct pl_kafka_consumer *kafka;
	int kafka_assigned;
	int draining;
	uint64_t started_ms;
	char name[32];			/* gateway id for presence reports */
	void (*drained)(void);		/* main.c: called when the last socket closed */
};
extern struct gw gw;

/* ---- the connection (conn.c) ---- */
enum gw_conn_state {
	GW_CONN_HTTP = 0,		/* plain HTTP transaction */
	GW_CONN_BOOTING,		/* upgraded, waiting for session.boot */
	GW_CONN_LIVE,
	GW_CONN_CLOSING,
};

/* Per-session data of lws (allocated by lws for every wsi of our protocol).
 * Kept small: the heap pieces are allocated only when used. Its lifecycle
 * and write path are conn.c's (gw_conn.h); the modules that keep something
 * per connection (cache, limits, http, resume, poll, presence) read and
 * write their own fields. */
struct gw_conn {
	struct lws *wsi;
	uint32_t slot, gen;
	uint8_t state;
	uint8_t ws;			/* is a WebSocket */
	uint8_t ticket;			/* authenticated by an rtm.connect ticket */
	uint8_t close_pending;
	uint8_t resume_opt;		/* ?resume=1: hold live events until resume */
	uint8_t pinged;			/* a server ping is out, no answer yet */
	uint8_t chans_capped;		/* at PARLEY_MAX_USER_CHANNELS (logged once) */
	uint8_t user_counted;		/* counted in the per-user budget */
	uint16_t close_code;
	int fd;				/* its socket: frames are sent on it */
	uint32_t last_rx_s;		/* monotonic seconds of the last client frame */
	uint32_t last_seen_s;		/* ... of anything from the client (pongs too) */
	int64_t exp_s;			/* token expiry (unix s), 0 = none */
	char user[GW_ID_MAX + 1];
	char team[GW_ID_MAX + 1];
	char session[GW_ID_MAX + 1];
	struct gw_chan **chans;
	struct gw_seen *seen;		/* parallel to chans */
	size_t nchans, capchans;	/* wide: a uint16_t wrapped at 32,768 */
	struct gw_user *u;
	struct gw_team *t;
	struct gw_sendq *q;
	struct gw_rx *rx;
	struct gw_resume *resume;
	struct gw_http *http;
	char (*psubs)[GW_ID_MAX + 1];	/* presence_sub targets */
	uint16_t npsubs;		/* <= GW_PSUB_MAX (500, rtm.c) */
	struct pl_tbucket rate;
	uint64_t typing_ms;
	uint32_t active_ms;		/* presence.c: last activity report, */
	uint32_t query_ms;		/* the query bucket's last fill (mono ms, */
	uint32_t query_tokens;		/* wraps) and its users left */
	char *jti;			/* ticket id while being consumed */
	struct gw_poll *poll;		/* an HTTP connection holding events.poll */
};

/* ---- state.c ---- */
/* fill the Caller of a Request (strings borrowed) */
void gw_request_caller(Parley__Request *req, Parley__Caller *caller,
    const char *user, const char *team, int admin, const char *session);
/* gw_request_key - a fresh request id (128 random bits, hex) in key, set as
 * req's idempotency_key (borrowed): nng REQ resends the same bytes, and
 * message-svc answers a resend with the original's reply (resend.c,
 * dedupe.c) */
void gw_request_key(Parley__Request *req, char key[33]);

#endif
