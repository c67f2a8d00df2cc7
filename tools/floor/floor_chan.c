/* floor_chan.c - the floor's channels: member lists and the write() loop */
#include "floor.h"
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FLOOR_CHAN_BUCKETS 4096

struct floor_chan {
	struct floor_chan *next;
	char name[32];
	uint32_t seq;
	uint32_t n, cap;
	struct floor_conn **members;
};

static struct floor_chan *floor_chan_tab[FLOOR_CHAN_BUCKETS];
static floor_send_fn *floor_chan_send;

/* floor_chan_init - the write path the fan-out uses (main.c's floor_send) */
void
floor_chan_init(floor_send_fn *send)
{
	floor_chan_send = send;
}

/* floor_chan_get - find or create the channel called name[0..len) */
struct floor_chan *
floor_chan_get(const char *name, size_t len)
{
	uint32_t b = pl_hash_fnv1a(name, len) % FLOOR_CHAN_BUCKETS;
	struct floor_chan *ch;

	if (len == 0 || len >= sizeof(ch->name))
		return NULL;
	for (ch = floor_chan_tab[b]; ch != NULL; ch = ch->next)
		if (strlen(ch->name) == len && memcmp(ch->name, name, len) == 0)
			return ch;
	ch = calloc(1, sizeof(*ch));
	if (ch == NULL)
		abort();
	memcpy(ch->name, name, len);
	ch->next = floor_chan_tab[b];
	floor_chan_tab[b] = ch;
	return ch;
}

/* floor_chan_join - append c to the members */
void
floor_chan_join(struct floor_chan *ch, struct floor_conn *c)
{
	if (ch->n == ch->cap) {
		ch->cap = ch->cap ? ch->cap * 2 : 8;
		ch->members = realloc(ch->members, ch->cap * sizeof(*ch->members));
		if (ch->members == NULL)
			abort();
	}
	ch->members[ch->n++] = c;
}

/* floor_chan_leave - swap-remove c (searching from the end: recent joins leave first) */
void
floor_chan_leave(struct floor_chan *ch, struct floor_conn *c)
{
	for (uint32_t i = ch->n; i-- > 0;) {
		if (ch->members[i] != c)
			continue;
		ch->members[i] = ch->members[--ch->n];
		return;
	}
}

/* floor_now_us - monotonic microseconds */
static long long
floor_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* floor_chan_fanout - one frame, write()n to each member in turn */
uint32_t
floor_chan_fanout(struct floor_chan *ch, const char *text, size_t tlen)
{
	static uint8_t frame[65536 + 16];
	char body[65536];
	long long t0 = floor_now_us();
	size_t hl;
	int n;

	ch->seq++;
	n = snprintf(body, sizeof(body),
	    "{\"type\":\"message\",\"channel\":\"%s\",\"seq\":%u,\"text\":\"%.*s\"}",
	    ch->name, ch->seq, (int)tlen, text);
	if (n < 0 || (size_t)n >= sizeof(body))
		return ch->seq;
	hl = floor_ws_header(frame, 0x1, (size_t)n);
	memcpy(frame + hl, body, (size_t)n);
	for (uint32_t i = 0; i < ch->n; i++)
		floor_chan_send(ch->members[i], frame, hl + (size_t)n);
	if (ch->n >= 1000)
		fprintf(stderr, "floor-fanout channel=%s members=%u us=%lld\n",
		    ch->name, ch->n, floor_now_us() - t0);
	return ch->seq;
}
