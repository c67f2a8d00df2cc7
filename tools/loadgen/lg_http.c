/*
 * lg_http.c - provisioning over Parley's Web API, and loading the result.
 *
 * One keep-alive HTTP/1.1 connection, form POSTs, answers parsed with
 * cJSON: a team (admin.teams.create), one user per connection
 * (admin.users.create, which returns the user's token), then each channel
 * of the layout created by its first member (conversations.create) with the
 * others invited in batches (conversations.invite). The result goes to a
 * file the workers read:   user <u> <id> <token>  /  layout <sig>  /  chan <k> <id>
 * A later run against the same stack reuses the users of that file, and its
 * channels too when the layout (scenario kind, users, channels, large,
 * small per user) is the same: Parley's invites are the slow part.
 */
#include "loadgen.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LG_HTTP_MIN_BATCH 50
#define LG_HTTP_CHECK_S 120            /* membership check: at most this long */
#define LG_HTTP_RETRIES 6
#define LG_HTTP_PAR 4                  /* invite connections at once */
#define LG_SCEN_MAX 64

struct lg_http {
	const struct lg_cfg *cfg;
	int fd;
	char *buf;
	size_t cap;
};

/* lg_http_connect - (re)open the keep-alive connection; 0 or -errno */
static int
lg_http_connect(struct lg_http *h)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)h->cfg->port) };

	if (h->fd >= 0)
		close(h->fd);
	h->fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, h->cfg->host, &sa.sin_addr);
	if (h->fd < 0 || connect(h->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	return 0;
}

/* lg_http_recv - one whole response (Content-Length) into h->buf; body or NULL */
static char *
lg_http_recv(struct lg_http *h)
{
	size_t len = 0, need = 0;
	char *body = NULL;

	for (;;) {
		ssize_t r;

		if (len + 65536 > h->cap) {
			h->cap = (len + 65536) * 2;
			h->buf = realloc(h->buf, h->cap);
			if (h->buf == NULL)
				abort();
		}
		if (body && len >= need)
			break;
		/* no delayed ACK: a server that writes head and body apart would
		 * otherwise wait 40 ms (Nagle) for every call on this connection */
		setsockopt(h->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 }, sizeof(int));
		r = read(h->fd, h->buf + len, h->cap - len - 1);
		if (r <= 0)
			return NULL;
		len += (size_t)r;
		h->buf[len] = '\0';
		if (body == NULL && (body = strstr(h->buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(h->buf, "\r\nContent-Length:");

			body += 4;
			need = (size_t)(body - h->buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
		}
	}
	h->buf[need] = '\0';
	return body;
}

/* lg_http_str - js.a.b as a string, or "" */
static const char *
lg_http_str(const cJSON *js, const char *a, const char *b)
{
	const cJSON *o = cJSON_GetObjectItem(js, a);

	if (b != NULL)
		o = cJSON_GetObjectItem(o, b);
	return cJSON_IsString(o) ? o->valuestring : "";
}

/* lg_http_call - POST /api/<method> with a form body; parsed answer (ok checked) or NULL */
static cJSON *
lg_http_call(struct lg_http *h, const char *method, const char *token, const char *form)
{
	size_t flen = strlen(form), rlen = flen + strlen(token) + 512;
	char *req = malloc(rlen), *body;
	cJSON *js = NULL;
	int n, tries;

	n = snprintf(req, rlen, "POST /api/%s HTTP/1.1\r\nHost: %s:%d\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: %zu\r\n\r\n%s", method, h->cfg->host, h->cfg->port, token, flen, form);
	for (tries = 0; tries < 3 && js == NULL; tries++) {
		if ((h->fd < 0 || tries > 0) && lg_http_connect(h) < 0)
			continue;
		if (write(h->fd, req, (size_t)n) != n || (body = lg_http_recv(h)) == NULL)
			continue;
		js = cJSON_Parse(body);
	}
	free(req);
	/* a retried invite that the server had carried out after all */
	if (js != NULL && !cJSON_IsTrue(cJSON_GetObjectItem(js, "ok")) &&
	    strcmp(lg_http_str(js, "error", NULL), "already_in_channel") != 0) {
		char *s = cJSON_PrintUnformatted(js);

		fprintf(stderr, "loadgen: %s: %s\n", method, s);
		free(s);
		cJSON_Delete(js);
		return NULL;
	}
	return js;
}

/* lg_http_retry - lg_http_call, again after a backoff while the answer is not ok */
static cJSON *
lg_http_retry(struct lg_http *h, const char *method, const char *token, const char *form)
{
	cJSON *js = NULL;

	for (int i = 0; i < LG_HTTP_RETRIES && js == NULL; i++) {
		if (i > 0)
			usleep(200000u << i);   /* 0.4, 0.8, ... 6.4 s */
		js = lg_http_call(h, method, token, form);
	}
	return js;
}

/* lg_http_users - one user per connection; ids and tokens into the arrays */
static int
lg_http_users(struct lg_http *h, const char *team, const char *stamp, char **ids, char **toks)
{
	char form[256];

	for (int u = 0; u < h->cfg->conns; u++) {
		cJSON *js;

		snprintf(form, sizeof(form), "team_id=%s&name=lg%s-u%d", team, stamp, u);
		if ((js = lg_http_call(h, "admin.users.create", h->cfg->admin_token, form)) == NULL)
			return -1;
		ids[u] = strdup(lg_http_str(js, "user", "id"));
		toks[u] = strdup(lg_http_str(js, "token", NULL));
		cJSON_Delete(js);
		if (u > 0 && u % 2000 == 0)
			fprintf(stderr, "loadgen: provisioned %d users\n", u);
	}
	return 0;
}

/* lg_http_members - the users of channel k, in user order */
static uint32_t
lg_http_members(const struct lg_cfg *cfg, uint32_t k, uint32_t *out)
{
	uint32_t n = 0, mine[LG_SCEN_MAX];

	for (uint32_t u = 0; u < (uint32_t)cfg->conns; u++) {
		int m = lg_scen_layout(cfg, u, mine, LG_SCEN_MAX);

		for (int i = 0; i < m; i++)
			if (mine[i] == k)
				out[n++] = u;
	}
	return n;
}

/* lg_http_invite - members[i .. i+n) into channel cid; a batch the server
 * does not take (a timeout, an error) is split in halves down to
 * LG_HTTP_MIN_BATCH, then retried with backoff. A retried invite of users
 * already in answers already_in_channel, which counts as done. */
static int
lg_http_invite(struct lg_http *h, const char *cid, const char *tok, char **ids,
    const uint32_t *members, uint32_t i, uint32_t n)
{
	size_t cap = 64 + 20 * (size_t)n, off;
	char *form = malloc(cap);
	cJSON *js = NULL;

	off = (size_t)snprintf(form, cap, "channel=%s&users=", cid);
	for (uint32_t j = i; j < i + n; j++)
		off += (size_t)snprintf(form + off, cap - off, "%s%s",
		    j > i ? "%2C" : "", ids[members[j]]);
	if (n > LG_HTTP_MIN_BATCH) {
		js = lg_http_call(h, "conversations.invite", tok, form);
		free(form);
		cJSON_Delete(js);
		if (js != NULL)
			return 0;
		fprintf(stderr, "loadgen: invite of %u failed: halves\n", n);
		return lg_http_invite(h, cid, tok, ids, members, i, n / 2) < 0 ||
		    lg_http_invite(h, cid, tok, ids, members, i + n / 2, n - n / 2) < 0 ? -1 : 0;
	}
	js = lg_http_retry(h, "conversations.invite", tok, form);
	free(form);
	cJSON_Delete(js);
	return js == NULL ? -1 : 0;
}

/* lg_http_invite_share - a forked helper: every LG_HTTP_PAR-th batch of every channel */
static int
lg_http_invite_share(const struct lg_cfg *cfg, int part, char **cids, uint32_t nchan,
    char **ids, char **toks)
{
	struct lg_http h = { .cfg = cfg, .fd = -1 };
	uint32_t *members = calloc((size_t)cfg->conns + 1, sizeof(uint32_t)), job = 0;
	uint32_t batch = (uint32_t)cfg->invite_batch;
	int rv = 0;

	for (uint32_t k = 0; k < nchan && rv == 0; k++) {
		uint32_t n = cids[k] ? lg_http_members(cfg, k, members) : 0;

		for (uint32_t i = 1; i < n && rv == 0; i += batch, job++)
			if (job % LG_HTTP_PAR == (uint32_t)part)
				rv = lg_http_invite(&h, cids[k], toks[members[0]], ids, members, i,
				    n - i < batch ? n - i : batch);
	}
	return rv;
}

/* lg_http_invite_all - invites over LG_HTTP_PAR connections at once (joins are slow) */
static int
lg_http_invite_all(const struct lg_cfg *cfg, char **cids, uint32_t nchan, char **ids,
    char **toks)
{
	pid_t pids[LG_HTTP_PAR];
	int rv = 0, status;

	fflush(NULL);
	for (int p = 0; p < LG_HTTP_PAR; p++) {
		pids[p] = fork();
		if (pids[p] == 0)
			_exit(lg_http_invite_share(cfg, p, cids, nchan, ids, toks) == 0 ? 0 : 1);
	}
	for (int p = 0; p < LG_HTTP_PAR; p++)
		if (pids[p] < 0 || waitpid(pids[p], &status, 0) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rv = -1;
	return rv;
}

/* lg_http_short - how many channels still have fewer members than the layout */
static uint32_t
lg_http_short(struct lg_http *h, const struct lg_chan *chans, uint32_t nchan, char **cids,
    char **toks, uint8_t *done)
{
	char form[128];
	uint32_t left = 0;

	for (uint32_t k = 0; k < nchan; k++) {
		const cJSON *num;
		cJSON *js;

		if (done[k] || cids[k] == NULL)
			continue;
		snprintf(form, sizeof(form), "channel=%s", cids[k]);
		js = lg_http_call(h, "conversations.info", toks[chans[k].first], form);
		num = cJSON_GetObjectItem(cJSON_GetObjectItem(js, "channel"), "num_members");
		if (cJSON_IsNumber(num) && (uint32_t)num->valuedouble >= chans[k].members)
			done[k] = 1;
		else
			left++;
		cJSON_Delete(js);
	}
	return left;
}

/* lg_http_check - wait (bounded) until every channel has all its members:
 * a timed-out invite may still be carried out after its retry was answered.
 * Only then may a client connect (their channel_join events are not fanned
 * out to connected clients of the run). 0, or -1 if some stayed short. */
static int
lg_http_check(struct lg_http *h, const struct lg_chan *chans, uint32_t nchan, char **cids,
    char **toks)
{
	uint8_t *done = calloc(nchan + 1, 1);
	time_t end = time(NULL) + LG_HTTP_CHECK_S;
	uint32_t left;

	while ((left = lg_http_short(h, chans, nchan, cids, toks, done)) > 0 && time(NULL) < end)
		sleep(1);
	free(done);
	if (left > 0)
		fprintf(stderr, "loadgen: %u channels still short of members after %d s\n",
		    left, LG_HTTP_CHECK_S);
	return left > 0 ? -1 : 0;
}

/* lg_http_channels - create each channel as its first member, then invite the rest */
static int
lg_http_channels(struct lg_http *h, const char *stamp, char **ids, char **toks, FILE *f)
{
	struct lg_chan *chans;
	uint32_t nchan, *members = calloc((size_t)h->cfg->conns + 1, sizeof(uint32_t));
	char form[256], **cids;
	int rv = 0;

	lg_scen_channels(h->cfg, &chans, &nchan);
	cids = calloc(nchan + 1, sizeof(char *));
	for (uint32_t k = 0; k < nchan && rv == 0; k++) {
		uint32_t n = lg_http_members(h->cfg, k, members);
		cJSON *js;

		if (n == 0)
			continue;
		snprintf(form, sizeof(form), "name=lg%s-c%u", stamp, k);
		if ((js = lg_http_retry(h, "conversations.create", toks[members[0]], form)) == NULL) {
			rv = -1;
			break;
		}
		cids[k] = strdup(lg_http_str(js, "channel", "id"));
		fprintf(f, "chan %u %s\n", k, cids[k]);
		cJSON_Delete(js);
	}
	if (rv == 0)
		rv = lg_http_invite_all(h->cfg, cids, nchan, ids, toks);
	if (rv == 0)
		rv = lg_http_check(h, chans, nchan, cids, toks);
	for (uint32_t k = 0; k < nchan; k++)
		free(cids[k]);
	free(cids);
	free(members);
	free(chans);
	return rv;
}

/* lg_http_cached - users of an earlier run from path (same stack); how many */
static int
lg_http_cached(const struct lg_cfg *cfg, const char *path, char **ids, char **toks)
{
	FILE *f = fopen(path, "r");
	char line[1024], a[256], b[512];
	unsigned u;
	int n = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "user %u %255s %511s", &u, a, b) == 3 &&
		    u < (unsigned)cfg->conns && ids[u] == NULL) {
			ids[u] = strdup(a);
			toks[u] = strdup(b);
			n++;
		}
	if (f != NULL)
		fclose(f);
	return n;
}

/* lg_http_reuse - copy the chan lines of path into f if path was made for layout sig */
static int
lg_http_reuse(const char *path, const char *sig, FILE *f)
{
	FILE *in = fopen(path, "r");
	char line[1024], want[160];
	int same = 0, n = 0;

	snprintf(want, sizeof(want), "layout %s\n", sig);
	while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, "layout ", 7) == 0)
			same = strcmp(line, want) == 0;
		else if (same && strncmp(line, "chan ", 5) == 0 && fputs(line, f) >= 0)
			n++;
	}
	if (in != NULL)
		fclose(in);
	return n;
}

/* lg_http_keep - copy the user lines from index `from` on: a smaller run keeps them */
static void
lg_http_keep(const char *path, int from, FILE *f)
{
	FILE *in = fopen(path, "r");
	char line[1024];
	int u;

	while (in != NULL && fgets(line, sizeof(line), in) != NULL)
		if (sscanf(line, "user %d ", &u) == 1 && u >= from)
			fputs(line, f);
	if (in != NULL)
		fclose(in);
}

/* lg_http_team_users - a new team and its users (0), unless path already has them (1) */
static int
lg_http_team_users(struct lg_http *h, const char *stamp, char **ids, char **toks)
{
	char form[128];
	cJSON *js;
	int rv;

	if (lg_http_cached(h->cfg, h->cfg->provision, ids, toks) == h->cfg->conns) {
		fprintf(stderr, "loadgen: reusing the %d users of %s\n", h->cfg->conns,
		    h->cfg->provision);
		return 1;
	}
	snprintf(form, sizeof(form), "name=lg%s", stamp);
	if ((js = lg_http_call(h, "admin.teams.create", h->cfg->admin_token, form)) == NULL)
		return -1;
	fprintf(stderr, "loadgen: team %s\n", lg_http_str(js, "team", "id"));
	rv = lg_http_users(h, lg_http_str(js, "team", "id"), stamp, ids, toks);
	cJSON_Delete(js);
	return rv;
}

/* lg_http_provision - users (new or reused), this run's channels; the map into path */
int
lg_http_provision(const struct lg_cfg *cfg, const char *path)
{
	struct lg_http h = { .cfg = cfg, .fd = -1 };
	char stamp[32], tmp[4096], sig[128];
	char **ids = calloc((size_t)cfg->conns, sizeof(char *));
	char **toks = calloc((size_t)cfg->conns, sizeof(char *));
	FILE *f = NULL;
	int rv = -1, reused = 0;

	snprintf(stamp, sizeof(stamp), "%lx%x", (long)time(NULL), (unsigned)getpid() & 0xfff);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path ? path : "");
	snprintf(sig, sizeof(sig), "%s:%d:%d:%d:%d", strcmp(cfg->scenario, "broadcast") == 0 ?
	    "bcast" : "mix", cfg->conns, cfg->channels, cfg->large, cfg->small_per_user);
	if (cfg->admin_token == NULL || path == NULL ||
	    (reused = lg_http_team_users(&h, stamp, ids, toks)) < 0 ||
	    (f = fopen(tmp, "w")) == NULL)
		goto out;
	for (int u = 0; u < cfg->conns; u++)
		fprintf(f, "user %d %s %s\n", u, ids[u], toks[u]);
	if (reused)
		lg_http_keep(path, cfg->conns, f);
	rv = 0;
	fprintf(f, "layout %s\n", sig);
	if (lg_http_reuse(path, sig, f) > 0)
		fprintf(stderr, "loadgen: reusing the channels of %s\n", path);
	else
		rv = lg_http_channels(&h, stamp, ids, toks, f);
out:
	/* renamed even when a channel failed: the next run reuses the users */
	if (f != NULL && (fclose(f) != 0 || rename(tmp, path) != 0))
		rv = -1;
	if (h.fd >= 0)
		close(h.fd);
	for (int u = 0; u < cfg->conns; u++) {
		free(ids[u]);
		free(toks[u]);
	}
	free(ids);
	free(toks);
	free(h.buf);
	return rv;
}

/* lg_http_load - this worker's tokens and every channel id from the map */
int
lg_http_load(struct lg_worker *w, const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[1024], a[256], b[512];
	unsigned k;
	int found = 0;

	if (f == NULL)
		return -1;
	w->tokens = calloc(w->hi - w->lo + 1, sizeof(char *));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "chan %u %255s", &k, a) == 2 && k < w->nchan)
			snprintf(w->chans[k].name, sizeof(w->chans[k].name), "%.23s", a);
		else if (sscanf(line, "user %u %255s %511s", &k, a, b) == 3 &&
		    k >= w->lo && k < w->hi) {
			w->tokens[k - w->lo] = strdup(b);
			found++;
		}
	}
	fclose(f);
	return found == (int)(w->hi - w->lo) ? 0 : -1;
}
