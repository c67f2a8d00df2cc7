/* gateway.h - the gateway's private contract (Parley's Flannel).
 *
 * One process, one libuv loop, one lws service thread. Everything here runs
 * on the loop thread. The modules:
 *
 *   main.c     settings table and the libuv skeleton (signals, drain, teardown)
 *   server.c   the lws context, the one protocol callback, HTTP routing
 *   conn.c     WebSocket connection lifecycle, handles, the sweep timer, writes
 *   sendq.c    the bounded per-connection send queue (frames and bytes)
 *   blob.c     refcounted, pre-padded frames shared by every recipient
 *   set.c      a small set of connections
 *   auth.c     tokens (HS256), Bearer / ?token=, admin token, Origin matching
 *   ticket.c   rtm.connect single-use tickets (Redis SET NX EX / DEL)
 *   http.c     HTTP request state: query, form and JSON body decoding, replies
 *   api.c      /api/<method>: the dispatch table
 *   rtm.c      client frames: the dispatch table
 *   cache.c    the edge cache: users, teams, channels, channel -> connections
 *   fanout.c   Kafka consumer -> render once -> write to local subscribers
 *   members.c  channels new to this gateway: hold, look up members, deliver
 *   resume.c   resume: channel.replay with a bounded holding buffer
 *   poll.c     events.poll: long polling held on the same fan-out indexes
 *   active.c   deactivated users: session.check cache, USER_CHANGED closes
 *   limits.c   connection limit, accept bucket, per-connection send rate
 *              (and the per-user / per-address connection budget)
 *   proxy.c    the PROXY protocol on accepted sockets, before lws
 *   static.c   static files of the web client
 *   metrics.c  the gateway's metrics
 *   presence.c activity and poll reports, current presence for presence_sub
 *
 * Handles: asynchronous completions (nng replies, Redis) never keep a
 * connection pointer; they keep a gw_handle (slot + generation) and look the
 * connection up when they complete, so a connection that went away is
 * simply not found. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "strmap.h"
#include "tbucket.h"
#include "parley.pb-c.h"

struct lws;
struct lws_context;
struct pl_loop;
struct pl_redis;
struct pl_message_clnt;
struct pl_presence_clnt;
struct pl_notify_clnt;
struct pl_kafka_consumer;
struct cJSON;

#define GW_ID_MAX 16

/* ---- settings (main.c) ---- */
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
struct gw_conn;

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

/* ---- blob.c: one rendered frame shared by its recipients ---- */
#define GW_BLOB_HDR_MAX 10		/* a WebSocket frame header, at most */
struct gw_blob {
	uint32_t refs;
	uint32_t len;			/* payload bytes */
	unsigned char *data;		/* payload (NUL-terminated text) */
	unsigned char *frame;		/* the whole text frame: header, payload */
	uint32_t frame_len;
};
struct gw_blob *gw_blob_create(const void *p, size_t len);
struct gw_blob *gw_blob_ref(struct gw_blob *b);
void gw_blob_unref(struct gw_blob **b);

/* ---- sendq.c: bounded FIFO of blobs ---- */
struct gw_sendq {
	struct gw_blob **v;
	uint32_t head, n, cap;
	size_t bytes;
	uint32_t max_frames;
	size_t max_bytes;
};
struct gw_sendq *gw_sendq_create(uint32_t max_frames, size_t max_bytes);
void gw_sendq_free(struct gw_sendq **q);
/* push takes a new reference; PL_ETOOBIG when a bound would be passed */
int gw_sendq_push(struct gw_sendq *q, struct gw_blob *b);
struct gw_blob *gw_sendq_peek(const struct gw_sendq *q);
/* pop: the caller gets the queue's reference */
struct gw_blob *gw_sendq_pop(struct gw_sendq *q);

/* ---- set.c: unordered set of connections ---- */
struct gw_set {
	struct gw_conn **v;
	size_t n, cap;
};
void gw_set_add(struct gw_set *s, struct gw_conn *c);
int gw_set_del(struct gw_set *s, struct gw_conn *c);
int gw_set_has(const struct gw_set *s, const struct gw_conn *c);
void gw_set_fini(struct gw_set *s);

/* ---- cache.c: the edge cache ---- */
struct gw_chan {
	char id[GW_ID_MAX + 1];
	char team[GW_ID_MAX + 1];
	char kind;			/* 'C' public, 'G' private, 'D' dm, 'M' group */
	uint32_t epoch;			/* recent-history epoch last seen (0: unknown) */
	struct gw_set subs;		/* local connections of members */
};
/* per connection and channel: the seq range written on this connection
 * (lo = first, hi = highest), so no seq is written twice or backwards */
struct gw_seen {
	int64_t lo, hi;
};
struct gw_user {
	char id[GW_ID_MAX + 1];
	char team[GW_ID_MAX + 1];
	char *name;
	struct gw_set conns;		/* this user's local connections */
	struct gw_set watchers;		/* connections with presence_sub on us */
	uint32_t presence_seq;		/* presence_change events delivered */
};
struct gw_team {
	char id[GW_ID_MAX + 1];
	char *name;
	char *domain;
	struct gw_set conns;
};
int gw_cache_init(void);
void gw_cache_fini(void);
struct gw_chan *gw_cache_chan(const char *id);
struct gw_user *gw_cache_user(const char *id);
struct gw_team *gw_cache_team(const char *id);
/* c's seq range of channel ch (NULL: c is not subscribed to ch) */
struct gw_seen *gw_cache_seen(struct gw_conn *c, const struct gw_chan *ch);
/* attach a booted connection: its user, team and channels */
void gw_cache_attach(struct gw_conn *c, const Parley__Boot *boot);
void gw_cache_detach(struct gw_conn *c);
int gw_cache_member(const struct gw_conn *c, const char *channel);
/* membership changes from the event topics */
void gw_cache_join(const char *user, const char *channel, const char *team,
    const char *kind);
void gw_cache_leave(const char *user, const char *channel);
void gw_cache_watch(struct gw_conn *c, const char *user);
size_t gw_cache_channels(void);

/* ---- conn.c ---- */
enum gw_conn_state {
	GW_CONN_HTTP = 0,		/* plain HTTP transaction */
	GW_CONN_BOOTING,		/* upgraded, waiting for session.boot */
	GW_CONN_LIVE,
	GW_CONN_CLOSING,
};
typedef uint64_t gw_handle;

struct gw_rx;
struct gw_http;
struct gw_resume;
struct gw_poll;

/* Per-session data of lws (allocated by lws for every wsi of our protocol).
 * Kept small: the heap pieces are allocated only when used. */
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

/* The up-calls of a connection, set by the front-end above (rtm.c) at its
 * init: a NULL hook is skipped. */
struct gw_conn_ops {
	/* a complete client text frame; < 0 hangs up */
	int (*frame)(struct gw_conn *c, const char *text, size_t len);
	/* a resume=1 connection booted: hold live events (before it goes live) */
	void (*hold)(struct gw_conn *c);
	/* the sweep, about once a second, of a connection with resume state */
	void (*sweep)(struct gw_conn *c, uint32_t now_s);
	/* the socket is gone: free what the front-end kept on c */
	void (*closed)(struct gw_conn *c);
};
void gw_conn_set_ops(const struct gw_conn_ops *ops);
int gw_conn_init(void);
void gw_conn_fini(void);
gw_handle gw_conn_register(struct gw_conn *c);
void gw_conn_unregister(struct gw_conn *c);
struct gw_conn *gw_conn_find(gw_handle h);
gw_handle gw_conn_handle(const struct gw_conn *c);
/* a new WebSocket: c->user/team/exp set by auth */
int gw_conn_established(struct gw_conn *c);
void gw_conn_closed(struct gw_conn *c);
/* a pong (or any control frame) arrived: the peer is alive */
void gw_conn_pong(struct gw_conn *c);
int gw_conn_receive(struct gw_conn *c, const void *in, size_t len);
/* the client's close frame: 0 to let lws echo it, -1 when it was invalid
 * (answered 1002 or 1007 and closed) */
int gw_conn_peer_close(struct gw_conn *c, const void *in, size_t len);
int gw_conn_writeable(struct gw_conn *c);
/* send text (copied); PL_ECLOSED when the connection is closing */
int gw_conn_send(struct gw_conn *c, const char *text, size_t len);
/* send a shared frame */
int gw_conn_send_blob(struct gw_conn *c, struct gw_blob *b);
/* send a channel event with seq (0: none) of ch (NULL: not tracked): a seq
 * at or below the highest already written on c for ch is dropped
 * (PL_EEXIST), so an event is never written twice or backwards */
int gw_conn_send_seq(struct gw_conn *c, struct gw_blob *b, struct gw_chan *ch,
    int64_t seq);
/* close with a WebSocket code and reason (after queued frames are written) */
void gw_conn_close(struct gw_conn *c, int code, const char *reason);
/* drain: goodbye + 1001 to every connection */
void gw_conn_drain_all(void);
size_t gw_conn_count(void);
void gw_conn_each_ws(void (*fn)(struct gw_conn *c, void *arg), void *arg);
/* boot finished (rv 0) or failed */
void gw_conn_booted(struct gw_conn *c, int rv, const Parley__Reply *reply);

/* ---- rtm.c ---- */
/* register the connection hooks (gw_conn_set_ops) */
int gw_rtm_init(void);
int gw_rtm_frame(struct gw_conn *c, const char *text, size_t len);

/* ---- reply.c: Slack error replies (Web API and RTM) ---- */
void gw_reply_api_error(struct gw_conn *c, const char *code);
void gw_reply_rtm_error(struct gw_conn *c, int64_t reply_to, const char *code,
    const char *msg);
void gw_reply_rtm_limited(struct gw_conn *c, int64_t reply_to, double wait_s);

/* ---- auth.c ---- */
struct gw_auth {
	char user[GW_ID_MAX + 1];
	char team[GW_ID_MAX + 1];
	int64_t exp_s;			/* for a ticket: the original token's */
	int64_t uexp_s;			/* tickets: the original token's exp */
	int admin;
	char jti[40];			/* tickets only */
};
/* verify a user token; PL_EPERM invalid, PL_EEXPIRED expired */
int gw_auth_token(const char *token, struct gw_auth *a);
/* admin token (constant time) */
int gw_auth_admin(const char *token);
/* "Bearer x" -> x, else NULL */
const char *gw_auth_bearer(const char *header);
/* 1 if origin may connect: no Origin (non-browser) always; the same origin
 * as host (the Host header) always; else list is comma-separated origins,
 * "*" allows all, and a "*" before a domain (as in https + *.example.com)
 * allows its subdomains */
int gw_auth_origin_ok(const char *list, const char *origin, const char *host);
/* tickets: sign a 30 s single-use ws ticket */
int gw_auth_ticket_sign(const char *user, const char *team, int64_t uexp_s,
    char **ticket_r, char **jti_r);
int gw_auth_ticket_verify(const char *ticket, struct gw_auth *a);
const char *gw_auth_err_code(int rv);
/* authenticate a WebSocket upgrade (ticket, Bearer or ?token=) */
int gw_auth_ws(struct lws *wsi, struct gw_auth *a, int *ticket_r);

/* ---- ticket.c ---- */
typedef void (*gw_ticket_fn)(int rv, void *arg);
int gw_ticket_store(const char *jti, const char *user, gw_ticket_fn fn, void *arg);
int gw_ticket_consume(const char *jti, gw_ticket_fn fn, void *arg);

/* ---- http.c ---- */
#define GW_PARAM_KEY_MAX 128	/* longest parameter name (Slack's are < 40) */
struct gw_param {
	char *key;
	char *val;
	size_t klen;
	uint32_t hash;
};
/* pairs in arrival order plus an index by key (idx: pair number + 1, 0 =
 * empty; idxcap a power of two, at least twice cap) */
struct gw_params {
	struct gw_param *v;
	size_t n, cap;
	uint32_t *idx;
	size_t idxcap;
};
/* add a pair: 0, PL_EPROTO (key too long) or PL_ETOOBIG (over the
 * PARLEY_MAX_PARAMS pairs; nothing added) */
int gw_params_add(struct gw_params *p, const char *key, size_t klen,
    const char *val, size_t vlen);
const char *gw_params_get(const struct gw_params *p, const char *key);
void gw_params_fini(struct gw_params *p);
/* decode "a=1&b=x%20y" (form / query encoding, '+' is space); the error of
 * the first pair refused (see gw_params_add) */
int gw_params_form(struct gw_params *p, const char *s, size_t len);
/* decode a JSON object body: strings kept, numbers/bools/arrays/objects as
 * their JSON text */
int gw_params_json(struct gw_params *p, const char *s, size_t len);
size_t gw_url_decode(char *s, size_t len);
/* Slack error code of a decoding failure: invalid_arguments (too many),
 * invalid_arg_name (key too long), invalid_arguments (a NUL), invalid_json */
const char *gw_params_error(int rv);
/* one fragment "key=value" of the query string, as lws split and decoded
 * it: gw_params_add's error, PL_EBADCHAR for a NUL */
int gw_params_query(struct gw_params *p, const char *frag, size_t len);

struct gw_http {
	char method[64];
	char *path;
	struct gw_params params;
	struct pl_buf body;		/* request body */
	char *ctype;
	char *auth;			/* Authorization header */
	char *host;
	int is_post;
	int too_large;			/* body over max-body: read and dropped */
	int param_err;			/* the query string's decoding error */
	size_t dropped;			/* bytes of it dropped */
	int status;
	int retry_after;
	struct pl_buf resp;
	const char *resp_type;
	int resp_ready;
	uint64_t start_us;
};
void gw_http_free(struct gw_http **h);
/* queue a response and ask for writable */
void gw_http_reply(struct gw_conn *c, int status, const char *ctype,
    const char *body, size_t len);
/* write a complete response now (inside an HTTP callback) */
int gw_http_respond(struct lws *wsi, int status, const char *ctype,
    const char *body, size_t len, int retry_after);
enum lws_token_indexes;
/* heap copies of a request header / query argument, NULL if absent */
char *gw_http_hdr(struct lws *wsi, enum lws_token_indexes h);
char *gw_http_arg(struct lws *wsi, const char *name);

/* ---- api.c ---- */
int gw_api_init(void);
void gw_api_fini(void);
/* (registers gw_api_dispatch and gw_poll_free with the server) */
/* dispatch a complete /api request (params decoded) */
void gw_api_dispatch(struct gw_conn *c);

/* ---- fanout.c ---- */
int gw_fanout_start(void);
void gw_fanout_stop(void);
int gw_fanout_ready(void);
/* deliver a rendered event to a set (used by resume too) */
void gw_fanout_deliver(const Parley__Envelope *env, int64_t ts_ms);
/* one parley.events payload (m: its Kafka message, NULL when lagged) */
struct pl_kafka_msg;
void gw_fanout_payload(const void *payload, size_t len, int64_t ts_ms,
    const struct pl_kafka_msg *m);

/* ---- members.c: the lazy membership look-up (see the file's comment) ---- */
/* the up-call of released events, set by fanout.c at its start */
struct gw_members_ops {
	/* deliver an event held during its channel's look-up, in order */
	void (*deliver)(const Parley__Envelope *env, int64_t ts_ms);
};
void gw_members_set_ops(const struct gw_members_ops *ops);
int gw_members_init(void);
void gw_members_fini(void);
/* an event of channel (parley.messages; payload is the Kafka value, copied
 * when held): 1 if held, to be delivered in order after a look-up of the
 * channel's members; 0: deliver it now */
int gw_members_hold(const char *channel, const char *team, const char *user,
    const void *payload, size_t len, int64_t ts_ms);
size_t gw_members_count(void);

/* ---- resume.c ---- */
/* resume=1 connections: hold live events from hello until the resume frame
 * has been answered (or GW_RESUME_WAIT_S without one) */
void gw_resume_wait(struct gw_conn *c);
/* the sweep: release the hold of a connection that never sent resume */
void gw_resume_expire(struct gw_conn *c, uint32_t now_s);
int gw_resume_start(struct gw_conn *c, int64_t reply_to, const struct cJSON *last_seq,
    const struct cJSON *epochs);
/* a live event for a resuming connection: 1 if held */
int gw_resume_hold(struct gw_conn *c, struct gw_blob *b, const char *channel,
    int64_t seq);
void gw_resume_free(struct gw_conn *c);

/* ---- poll.c ---- */
/* events.poll on HTTP connection c (authenticated as a) */
void gw_poll_start(struct gw_conn *c, const struct gw_auth *a);
/* the request's cursor/last_seq as an object (NULL: malformed) and its
 * timeout in ms (-1: malformed): events.poll's argument parsing */
struct cJSON *gw_poll_asked(const struct gw_params *params);
int64_t gw_poll_timeout_ms(const struct gw_params *params);
/* a live event for a held poll (fanout.c) */
void gw_poll_event(struct gw_conn *c, const struct gw_blob *b,
    const char *channel, int64_t seq);
/* the HTTP connection closed: drop its poll */
void gw_poll_free(struct gw_conn *c);
void gw_poll_drain_all(void);
/* answer a held poll {"ok":false,"error":code} and end it */
void gw_poll_refuse(struct gw_conn *c, const char *code);
size_t gw_poll_count(void);
int gw_poll_init(void);
void gw_poll_fini(void);

/* ---- limits.c ---- */
#define GW_ADDR_MAX 46			/* INET6_ADDRSTRLEN */
int gw_limits_init(void);
void gw_limits_fini(void);
/* Connection budget. Per client address (every accepted socket, HTTP or
 * WebSocket): take at accept, put when lws destroys the socket. The peer
 * entry is shared by the sockets of one address and freed with the last. */
struct gw_peer;
/* 0 with *peer_r, or PL_EAGAIN over PARLEY_MAX_CONNS_IP (exempt addresses
 * are counted but never refused) */
int gw_limits_peer_take(const char *addr, struct gw_peer **peer_r);
void gw_limits_peer_put(struct gw_peer **peer);
size_t gw_limits_peer_count(const char *addr);
/* 1 if addr (text) is a trusted proxy (PARLEY_TRUSTED_PROXIES) */
int gw_limits_trusted(const char *addr);
/* per user: WebSockets of user on this process below PARLEY_MAX_CONNS_USER:
 * 0, or PL_EAGAIN with *retry_after_r */
int gw_limits_user_admit(const char *user, int *retry_after_r);
void gw_limits_user_add(struct gw_conn *c);
void gw_limits_user_del(struct gw_conn *c);
/* admit a new WebSocket while conns are open: 0, or PL_EAGAIN with
 * *retry_after_r seconds */
int gw_limits_admit(size_t conns, int *retry_after_r);
/* per-connection send rate: 1 allowed, 0 limited with *retry_after_s */
int gw_limits_send(struct gw_conn *c, double *retry_after_s);
/* Web API: one call from key's bucket (per_min per minute, burst); 0, or
 * PL_EAGAIN with *retry_after_r seconds. Off with PARLEY_RATE_LIMITS=0. */
int gw_limits_api_init(void);
void gw_limits_api_fini(void);
int gw_limits_api(const char *key, double per_min, double burst,
    int *retry_after_r);
size_t gw_limits_api_buckets(void);

/* ---- proxy.c: the PROXY protocol before lws sees a socket ---- */
struct gw_proxy_hdr {
	size_t len;			/* bytes of the header */
	char addr[GW_ADDR_MAX];		/* client address; "" for LOCAL/UNKNOWN */
};
/* 1 complete, PL_EAGAIN more bytes needed, PL_EPROTO invalid */
int gw_proxy_parse(const unsigned char *p, size_t n, struct gw_proxy_hdr *h);
/* 1 if a PROXY header starts at p, 0 if not, PL_EAGAIN if too short to say */
int gw_proxy_looks(const unsigned char *p, size_t n);
/* Where a socket goes once its first bytes are read, set by server.c at
 * its start (an up-call: the server hands sockets down to proxy.c). */
struct gw_proxy_ops {
	/* from a trusted proxy: charge addr (the header's client address) for
	 * fd and give it to lws, or refuse it (503, closed) */
	void (*admit)(int fd, const char *addr);
	/* not a PROXY header: give fd to lws with the budget peer already
	 * holds (owned, may be NULL) */
	void (*adopt)(int fd, struct gw_peer *peer);
};
void gw_proxy_set_ops(const struct gw_proxy_ops *ops);
/* hold an accepted socket until its first bytes (see proxy.c): held is
 * the budget an untrusted peer already took (owned), NULL from a trusted
 * proxy (its sockets are charged to the header's address) */
void gw_proxy_wait(int fd, const char *peer, struct gw_peer *held);
void gw_proxy_fini(void);

/* ---- static.c ---- */
int gw_static_serve(struct lws *wsi, const char *path);
/* register gw_static_serve with the server (gw_server_set_files) */
int gw_static_init(void);

/* ---- metrics.c ---- */
struct pl_metric;
struct gw_metrics {
	struct pl_metric *conns;
	struct pl_metric *connects;
	struct pl_metric *refused_limit, *refused_origin, *refused_auth;
	struct pl_metric *refused_user, *refused_ip, *refused_proxy_header,
	    *refused_proxy_untrusted;
	struct pl_metric *frames_in, *frames_out, *bytes_in, *bytes_out;
	struct pl_metric *sendq_closes;
	struct pl_metric *delivery_s, *fanout_s;
	struct pl_metric *rpc_s;
	struct pl_metric *events_in, *events_bad, *events_delivered;
	struct pl_metric *api_calls, *api_limited;
	struct pl_metric *rtm_limited;
	struct pl_metric *resumes, *resyncs;
	struct pl_metric *dups_dropped, *resume_hold_expired;
	struct pl_metric *channels_capped;
	struct pl_metric *http_timeouts;
	struct pl_metric *params_refused_count, *params_refused_key,
	    *params_refused_syntax;
};
extern struct gw_metrics gw_m;
void gw_metrics_init(void);
/* disconnect counter by reason */
void gw_metrics_disconnect(const char *reason);

/* ---- server.c ---- */
/* The HTTP front-ends above the server register at their init. */
struct gw_server_api_ops {
	/* a complete /api/<method> request, parameters decoded (api.c) */
	void (*dispatch)(struct gw_conn *c);
	/* an HTTP connection went away: drop what a front-end held on it
	 * (a held events.poll) */
	void (*closed)(struct gw_conn *c);
};
void gw_server_set_api(const struct gw_server_api_ops *ops);
/* any other GET: a static file (static.c); returns as an lws callback */
typedef int (*gw_server_file_fn)(struct lws *wsi, const char *path);
void gw_server_set_files(gw_server_file_fn fn);
int gw_server_start(void);
/* stop listening (drain); existing connections stay */
void gw_server_deprecate(void);
void gw_server_stop(void);
/* after the loop ran dry: lws frees the context (foreign loop) */
void gw_server_free(void);

/* ---- services.c: the daemons and stores the gateway talks to ---- */
int gw_services_start(void);
void gw_services_stop(void);
/* the Kafka bootstrap list (setting or file); heap */
char *gw_services_brokers(void);
/* presence report (connect/disconnect/heartbeat/typing) to presence-svc */
void gw_services_presence(const struct gw_conn *c, const char *what,
    const char *channel);

/* ---- active.c: deactivated users (see the file's comment) ---- */
typedef void (*gw_active_fn)(int rv, void *arg);
int gw_active_init(void);
void gw_active_fini(void);
/* fn(0) active, fn(PL_EPERM) deactivated, fn(PL_ENOTFOUND) unknown user,
 * else fn(rpc error); may run before returning */
void gw_active_check(const char *user, const char *team, gw_active_fn fn, void *arg);
int gw_active_deleted(const char *user);
void gw_active_deactivated(const char *user);
const char *gw_active_err_code(int rv);

/* ---- presence.c ---- */
struct cJSON;
void gw_presence_activity(const char *user, const char *team);
/* the same for a connection's frames, at most one a second per connection */
void gw_presence_conn_activity(struct gw_conn *c);
/* a presence query of n users by c may go now (a bucket of users per
 * connection): 1, or 0 with *wait_s */
int gw_presence_query_ok(struct gw_conn *c, int n, double *wait_s);
void gw_presence_poll(const struct gw_conn *c);
/* the current presence of ids (a JSON array) as batched presence_change;
 * watched: c watches them (presence_sub), so users with a live change
 * delivered while the query was out are left out of the batch */
void gw_presence_query(struct gw_conn *c, const struct cJSON *ids, int watched);

/* state.c */
void gw_request_caller(Parley__Request *req, Parley__Caller *caller,
    const char *user, const char *team, int admin, const char *session);

#endif
