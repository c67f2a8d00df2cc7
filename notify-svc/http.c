/* http.c - HTTP POSTs with libcurl's multi interface on the daemon's loop:
 * curl tells which sockets to watch (CURLMOPT_SOCKETFUNCTION -> pl_loop_io)
 * and when to wake it (CURLMOPT_TIMERFUNCTION -> a one-shot pl_loop_timer);
 * every transfer runs on the loop thread, none has a thread of its own.
 * A finished transfer calls back once with the HTTP status (0 when there
 * was none: connection refused, timeout) and a PL_E* (0 when an answer
 * came, PL_ETIMEDOUT, PL_EIO). */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "notify.h"

struct ns_http_req {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	ns_http_fn fn;
	void *arg;
	char err[CURL_ERROR_SIZE];
	size_t sent;			/* mail: bytes of body uploaded */
	struct curl_slist *rcpt;
	struct ns_http_req *prev, *next;	/* nh.head: every running transfer */
};

static struct {
	struct pl_loop *loop;
	CURLM *multi;
	struct pl_timer *timer;
	int inflight;
	struct ns_http_req *head;
} nh;

/* http_unlink - off the running list */
static void
http_unlink(struct ns_http_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		nh.head = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

/* http_done - read finished transfers and call their owners */
static void
http_done(void)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(nh.multi, &left)) != NULL) {
		struct ns_http_req *r = NULL;
		long status = 0;
		int rv = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (msg->data.result == CURLE_OK)
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		else
			rv = msg->data.result == CURLE_OPERATION_TIMEDOUT ? PL_ETIMEDOUT : PL_EIO;
		if (rv != 0)
			pl_log_debug("NS-HTTP-FAIL", "err=\"%s\"", r->err[0] ? r->err :
			    curl_easy_strerror(msg->data.result));
		curl_multi_remove_handle(nh.multi, msg->easy_handle);
		curl_easy_cleanup(msg->easy_handle);
		curl_slist_free_all(r->headers);
		curl_slist_free_all(r->rcpt);
		free(r->body);
		nh.inflight--;
		http_unlink(r);
		r->fn((int)status, rv, r->arg);
		free(r);
	}
}

/* http_io - a watched socket is ready */
static void
http_io(int events, void *arg)
{
	curl_socket_t fd = (curl_socket_t)(intptr_t)arg;
	int running, flags = 0;

	if (events & PL_LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (events & PL_LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(nh.multi, fd, flags, &running);
	http_done();
}

/* http_socket - curl's socket callback: watch, change or forget fd */
static int
http_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct pl_watch *w = socketp;
	int ev = (what == CURL_POLL_IN ? PL_LOOP_READ : 0) |
	    (what == CURL_POLL_OUT ? PL_LOOP_WRITE : 0) |
	    (what == CURL_POLL_INOUT ? PL_LOOP_READ | PL_LOOP_WRITE : 0);

	(void)easy;
	(void)userp;
	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			pl_loop_unwatch(&w);
			curl_multi_assign(nh.multi, fd, NULL);
		}
		return 0;
	}
	if (w == NULL) {
		if (pl_loop_io(nh.loop, (int)fd, ev, http_io, (void *)(intptr_t)fd, &w) != 0)
			return -1;
		curl_multi_assign(nh.multi, fd, w);
		return 0;
	}
	return pl_loop_io_set(w, ev) == 0 ? 0 : -1;
}

/* http_timeout - the timer curl asked for fired */
static void
http_timeout(void *arg)
{
	int running;

	(void)arg;
	pl_loop_timer_stop(&nh.timer);
	curl_multi_socket_action(nh.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_done();
}

/* http_timer - curl's timer callback: (re)arm or cancel */
static int
http_timer(CURLM *multi, long ms, void *userp)
{
	(void)multi;
	(void)userp;
	if (nh.timer != NULL)
		pl_loop_timer_stop(&nh.timer);
	if (ms < 0)
		return 0;
	return pl_loop_timer(nh.loop, (uint64_t)ms, 0, http_timeout, NULL, &nh.timer) == 0 ?
	    0 : -1;
}

/* ns_http_init - the multi handle on loop */
int
ns_http_init(struct pl_loop *loop)
{
	if (nh.multi != NULL)
		return 0;		/* push and digests share it */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return PL_EIO;
	nh.loop = loop;
	if ((nh.multi = curl_multi_init()) == NULL)
		return PL_EIO;
	curl_multi_setopt(nh.multi, CURLMOPT_SOCKETFUNCTION, http_socket);
	curl_multi_setopt(nh.multi, CURLMOPT_TIMERFUNCTION, http_timer);
	curl_multi_setopt(nh.multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
	return 0;
}

/* ns_http_post - POST body (copied) as JSON with the extra header lines;
 * fn runs exactly once, never from inside this call */
int
ns_http_post(const char *url, const char *body, const char *const *headers, int nh_,
    long timeout_ms, ns_http_fn fn, void *arg)
{
	struct ns_http_req *r;
	int i;

	if (nh.multi == NULL)
		return PL_EUNAVAIL;
	r = pl_calloc(1, sizeof(*r));
	if ((r->easy = curl_easy_init()) == NULL) {
		free(r);
		return PL_EIO;
	}
	r->body = pl_strdup(body);
	r->fn = fn;
	r->arg = arg;
	r->headers = curl_slist_append(NULL, "Content-Type: application/json");
	r->headers = curl_slist_append(r->headers, "Expect:");
	for (i = 0; i < nh_; i++)
		r->headers = curl_slist_append(r->headers, headers[i]);
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->err);
	if (curl_multi_add_handle(nh.multi, r->easy) != CURLM_OK) {
		curl_easy_cleanup(r->easy);
		curl_slist_free_all(r->headers);
		free(r->body);
		free(r);
		return PL_EIO;
	}
	nh.inflight++;
	r->next = nh.head;
	if (nh.head)
		nh.head->prev = r;
	nh.head = r;
	return 0;
}

/* http_read - curl reads the mail's bytes */
static size_t
http_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct ns_http_req *r = arg;
	size_t left = strlen(r->body) - r->sent, n = size * nitems;

	if (n > left)
		n = left;
	memcpy(buf, r->body + r->sent, n);
	r->sent += n;
	return n;
}

/* ns_http_mail - send payload (copied) from -> rcpt through the SMTP server
 * at url; fn(code, rv) once: rv 0 when the server took it */
int
ns_http_mail(const char *url, const char *from, const char *rcpt, const char *payload,
    long timeout_ms, ns_http_fn fn, void *arg)
{
	struct ns_http_req *r;

	if (nh.multi == NULL)
		return PL_EUNAVAIL;
	r = pl_calloc(1, sizeof(*r));
	if ((r->easy = curl_easy_init()) == NULL) {
		free(r);
		return PL_EIO;
	}
	r->body = pl_strdup(payload);
	r->fn = fn;
	r->arg = arg;
	r->rcpt = curl_slist_append(NULL, rcpt);
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(r->easy, CURLOPT_MAIL_RCPT, r->rcpt);
	curl_easy_setopt(r->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(r->easy, CURLOPT_READFUNCTION, http_read);
	curl_easy_setopt(r->easy, CURLOPT_READDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_INFILESIZE, (long)strlen(r->body));
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->err);
	if (curl_multi_add_handle(nh.multi, r->easy) != CURLM_OK) {
		curl_easy_cleanup(r->easy);
		curl_slist_free_all(r->rcpt);
		free(r->body);
		free(r);
		return PL_EIO;
	}
	nh.inflight++;
	r->next = nh.head;
	if (nh.head)
		nh.head->prev = r;
	nh.head = r;
	return 0;
}

/* ns_http_inflight - transfers running */
int
ns_http_inflight(void)
{
	return nh.inflight;
}

/* ns_http_fini - abandon what runs (their callbacks do not run) */
void
ns_http_fini(void)
{
	if (nh.multi == NULL)
		return;
	if (nh.timer != NULL)
		pl_loop_timer_stop(&nh.timer);
	if (nh.multi != NULL) {
		while (nh.head != NULL) {
			struct ns_http_req *r = nh.head;

			http_unlink(r);
			curl_multi_remove_handle(nh.multi, r->easy);
			curl_easy_cleanup(r->easy);
			curl_slist_free_all(r->headers);
			curl_slist_free_all(r->rcpt);
			free(r->body);
			free(r);
		}
		curl_multi_cleanup(nh.multi);
		nh.multi = NULL;
	}
	curl_global_cleanup();
}
