/* dk_broker.c - devkafka's native broker: the listening sockets (one per
 * broker id, all in this process), the client connections and the Fetch
 * requests that wait for data.
 *
 * One loop thread does everything. A connection's requests are answered in
 * order, one at a time, as Kafka does: while a Fetch waits (up to its
 * max_wait_ms, the consumer's fetch.wait.max.ms) the requests behind it stay
 * in the input buffer. Every Produce that appends data re-tries the waiting
 * fetches at once, so a consumer gets new data as soon as it is acknowledged
 * instead of at the end of its wait. Output is written at once; a connection
 * whose unsent output passes DK_OUT_HIGH is not read until it drains (every
 * buffer is bounded by that plus one response). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "daemon.h"
#include "devkafka.h"
#include "dk_api.h"
#include "dk_log.h"
#include "dk_wire.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "metrics.h"
#include "names.h"
#include "ops.h"

#define DK_MAX_REQUEST (64 << 20)	/* a larger frame closes the connection */
#define DK_OUT_HIGH (8 << 20)		/* stop reading beyond this much unsent */
#define DK_READ_CHUNK (256 << 10)

struct dk_conn {
	int fd;
	int32_t broker;
	struct pl_watch *w;
	struct pl_buf in, out;
	size_t in_off, out_off;
	struct dk_fetch *parked;	/* the Fetch waiting for data */
	struct pl_timer *park_timer;	/* its max wait */
	int pending;			/* on db.pending: input to process */
	struct dk_conn *prev, *next;	/* every connection */
};

struct dk_listener {
	int fd;
	struct dk_broker_addr addr;
	struct pl_watch *w;
};

static struct {
	struct pl_loop *loop;
	struct dk_listener *ls;
	int nls;
	struct dk_conn *conns;
	int nconns;
	struct dk_conn **pending;	/* unparked, their input not processed */
	size_t npending, cap_pending;
	int file_written;
	struct pl_metric *m_conns, *m_parked, *m_wakes;
} db;

static void conn_process(struct dk_conn *c);

/* conn_close - forget the connection entirely */
static void
conn_close(struct dk_conn *c, const char *why)
{
	size_t i;

	pl_log_debug("DK-CONN-CLOSE", "broker=%d fd=%d why=%s", (int)c->broker,
	    c->fd, why);
	for (i = 0; i < db.npending; i++)
		if (db.pending[i] == c)
			db.pending[i] = NULL;
	if (c->parked != NULL)
		pl_metrics_add(db.m_parked, -1);
	dk_api_fetch_free(&c->parked);
	pl_loop_timer_stop(&c->park_timer);
	pl_loop_unwatch(&c->w);
	close(c->fd);
	pl_buf_fini(&c->in);
	pl_buf_fini(&c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		db.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	db.nconns--;
	pl_metrics_set(db.m_conns, db.nconns);
	free(c);
}

/* conn_interest - read unless too much output waits; write while it does */
static void
conn_interest(struct dk_conn *c)
{
	size_t unsent = c->out.len - c->out_off;
	int ev = unsent > 0 ? PL_LOOP_WRITE : 0;

	if (unsent < DK_OUT_HIGH)
		ev |= PL_LOOP_READ;
	pl_loop_io_set(c->w, ev);
}

/* conn_flush - write what is pending; -1 when the connection died */
static int
conn_flush(struct dk_conn *c)
{
	ssize_t n;

	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
		    MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_close(c, "write");
		return -1;
	}
	if (c->out_off == c->out.len) {
		c->out_off = 0;
		pl_buf_reset(&c->out);
		if (c->out.cap > (4u << 20))
			pl_buf_fini(&c->out);
	}
	conn_interest(c);
	return 0;
}

/* pending_add - c's input is to be processed after the current event */
static void
pending_add(struct dk_conn *c)
{
	if (c->pending)
		return;
	db.pending = pl_grow(db.pending, &db.cap_pending, db.npending + 1, 16,
	    sizeof(*db.pending));
	db.pending[db.npending++] = c;
	c->pending = 1;
}

/* pending_run - process the input of every unparked connection; new ones
 * may be added while this runs (a Produce in that input) */
static void
pending_run(void)
{
	size_t i;

	for (i = 0; i < db.npending; i++) {
		struct dk_conn *c = db.pending[i];

		if (c == NULL)
			continue;
		c->pending = 0;
		db.pending[i] = NULL;
		conn_process(c);
	}
	db.npending = 0;
}

/* unpark - the Fetch was answered: the connection goes on */
static void
unpark(struct dk_conn *c)
{
	dk_api_fetch_free(&c->parked);
	pl_loop_timer_stop(&c->park_timer);
	pl_metrics_add(db.m_parked, -1);
	pending_add(c);
}

/* wake_fetches - data arrived: answer every waiting Fetch that now has some */
static void
wake_fetches(void)
{
	struct dk_conn *c, *next;

	for (c = db.conns; c != NULL; c = next) {
		next = c->next;
		if (c->parked == NULL || !dk_api_fetch_try(c->parked, 0, &c->out))
			continue;
		pl_metrics_inc(db.m_wakes);
		unpark(c);
	}
}

/* park_expired - the Fetch's max wait is over: answer with what there is */
static void
park_expired(void *arg)
{
	struct dk_conn *c = arg;

	if (c->parked == NULL)
		return;
	dk_api_fetch_try(c->parked, 1, &c->out);
	unpark(c);
	pending_run();
}

/* conn_process - answer the complete requests in the input, in order, until
 * a Fetch parks or the output is too large; then write */
static void
conn_process(struct dk_conn *c)
{
	struct dk_fetch *f;
	int32_t size;
	int appended;
	enum dk_verdict v;

	while (c->parked == NULL && c->out.len - c->out_off < DK_OUT_HIGH &&
	    c->in.len - c->in_off >= 4) {
		size = dk_be32((const uint8_t *)c->in.data + c->in_off);
		if (size <= 0 || size > DK_MAX_REQUEST) {
			pl_log_warn("DK-BAD-FRAME", "broker=%d size=%d",
			    (int)c->broker, (int)size);
			conn_close(c, "frame");
			return;
		}
		if (c->in.len - c->in_off - 4 < (size_t)size)
			break;
		v = dk_api_handle(c->broker, (const uint8_t *)c->in.data +
		    c->in_off + 4, (size_t)size, &c->out, &f, &appended);
		c->in_off += 4 + (size_t)size;
		if (v == DK_BAD) {
			pl_log_warn("DK-BAD-REQUEST", "broker=%d size=%d",
			    (int)c->broker, (int)size);
			conn_close(c, "request");
			return;
		}
		if (v == DK_PARKED) {
			c->parked = f;
			pl_metrics_add(db.m_parked, 1);
			if (pl_loop_timer(db.loop, (uint64_t)dk_api_fetch_wait_ms(f),
			    0, park_expired, c, &c->park_timer) != 0) {
				conn_close(c, "timer");
				return;
			}
		}
		if (appended)
			wake_fetches();
	}
	if (c->in_off == c->in.len) {
		c->in_off = 0;
		pl_buf_reset(&c->in);
	} else if (c->in_off > c->in.len / 2) {
		memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in_off = 0;
	}
	conn_flush(c);
}

/* conn_read - one read of what the socket has */
static int
conn_read(struct dk_conn *c)
{
	ssize_t n;

	pl_buf_reserve(&c->in, DK_READ_CHUNK);
	n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
	if (n > 0) {
		c->in.len += (size_t)n;
		return 0;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	conn_close(c, n == 0 ? "eof" : "read");
	return -1;
}

/* conn_io - socket ready */
static void
conn_io(int events, void *arg)
{
	struct dk_conn *c = arg;

	if ((events & PL_LOOP_WRITE) && conn_flush(c) != 0)
		return;
	if ((events & PL_LOOP_READ) && conn_read(c) != 0)
		return;
	conn_process(c);
	pending_run();
}

/* on_accept - every waiting connection of one listener */
static void
on_accept(void *arg)
{
	struct dk_listener *l = arg;
	struct dk_conn *c;
	int fd, one = 1;

	while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = pl_calloc(1, sizeof(*c));
		c->fd = fd;
		c->broker = l->addr.id;
		pl_buf_init(&c->in);
		pl_buf_init(&c->out);
		if (pl_loop_io(db.loop, fd, PL_LOOP_READ, conn_io, c, &c->w) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = db.conns;
		if (db.conns)
			db.conns->prev = c;
		db.conns = c;
		db.nconns++;
		pl_metrics_set(db.m_conns, db.nconns);
	}
}

/* listener_open - 127.0.0.1 on a free port */
static int
listener_open(struct dk_listener *l, int32_t id)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sa);
	int one = 1;

	l->addr.id = id;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(l->fd, 1024) != 0 ||
	    getsockname(l->fd, (struct sockaddr *)&sa, &slen) != 0)
		return -errno;
	l->addr.port = ntohs(sa.sin_port);
	return pl_loop_watch(db.loop, l->fd, on_accept, l, &l->w);
}

static double
log_bytes_metric(void *arg)
{
	return (double)dk_log_bytes();
}

/* dk_ready_check - /readyz: listening and the brokers file is written */
static int
dk_ready_check(void *arg, struct pl_buf *why)
{
	if (!db.file_written)
		pl_buf_puts(why, "brokers file not written");
	return db.file_written;
}

int
dk_broker_init(struct event_base *base, struct pl_loop *loop)
{
	struct dk_broker_addr *addrs;
	struct pl_buf list;
	int i, rv;

	db.loop = loop;
	db.m_conns = pl_metrics_gauge("devkafka_connections",
	    "open client connections", NULL);
	db.m_parked = pl_metrics_gauge("devkafka_fetches_waiting",
	    "Fetch requests waiting for data", NULL);
	db.m_wakes = pl_metrics_counter("devkafka_fetch_wakeups_total",
	    "waiting Fetch requests answered because a Produce appended data",
	    NULL);
	pl_metrics_gauge_fn("devkafka_log_bytes", "bytes held by every "
	    "partition log", NULL, log_bytes_metric, NULL);
	dk_log_init((size_t)dk_conf.retention_bytes);
	for (i = 0; i < DK_NTOPICS; i++) {
		dk_log_topic_add(dk_topics[i].name, (int32_t)*dk_topics[i].partitions,
		    (int32_t)dk_conf.brokers);
		pl_log_info("DK-TOPIC", "topic=%s partitions=%d",
		    dk_topics[i].name, (int)*dk_topics[i].partitions);
	}
	db.nls = (int)dk_conf.brokers;
	db.ls = pl_calloc((size_t)db.nls, sizeof(*db.ls));
	addrs = pl_calloc((size_t)db.nls, sizeof(*addrs));
	pl_buf_init(&list);
	for (i = 0; i < db.nls; i++)
		db.ls[i].fd = -1;
	for (i = 0; i < db.nls; i++) {
		if ((rv = listener_open(&db.ls[i], i + 1)) != 0) {
			pl_log_error("DK-LISTEN-FAIL", "broker=%d err=%s", i + 1,
			    pl_err_str(rv));
			free(addrs);
			pl_buf_fini(&list);
			return rv;
		}
		addrs[i] = db.ls[i].addr;
		pl_buf_printf(&list, "%s127.0.0.1:%d", i ? "," : "",
		    db.ls[i].addr.port);
	}
	dk_api_set_brokers(addrs, db.nls);
	free(addrs);
	pl_ops_add_check("kafka", dk_ready_check, NULL);
	rv = pl_write_file(dk_conf.brokers_file, list.data);
	if (rv != 0)
		pl_log_error("DK-FILE-FAIL", "path=%s err=%s", dk_conf.brokers_file,
		    pl_err_str(rv));
	else {
		db.file_written = 1;
		pl_log_info("DK-BROKER-UP", "engine=native brokers=%d bootstrap=%s "
		    "file=%s retention_bytes=%lld", db.nls, list.data,
		    dk_conf.brokers_file, (long long)dk_conf.retention_bytes);
	}
	pl_buf_fini(&list);
	return rv;
}

/* dk_broker_drain - nothing is owed to anyone: stop now */
void
dk_broker_drain(void)
{
	pl_daemon_stop();
}

void
dk_broker_fini(void)
{
	int i;

	if (db.file_written && unlink(dk_conf.brokers_file) != 0)
		pl_log_warn("DK-FILE-RM", "path=%s errno=%d", dk_conf.brokers_file,
		    errno);
	while (db.conns != NULL)
		conn_close(db.conns, "shutdown");
	for (i = 0; i < db.nls; i++) {
		pl_loop_unwatch(&db.ls[i].w);
		if (db.ls[i].fd >= 0)
			close(db.ls[i].fd);
	}
	free(db.ls);
	free(db.pending);
	dk_log_fini();
	memset(&db, 0, sizeof(db));
	pl_log_info("DK-BROKER-DOWN", "engine=native");
}
