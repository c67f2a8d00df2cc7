/* dk_log.c - topics, partitions, record-batch logs and producer state of the
 * native broker (see dk_log.h). Runs on the broker's loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "dk_log.h"
#include "dk_wire.h"
#include "mem.h"

#define DK_MAX_BATCH (8u << 20)	/* a larger batch is MESSAGE_TOO_LARGE */
#define DK_MAX_PRODUCERS 64	/* producer states per partition (LRU beyond) */

static struct {
	struct dk_topic *topics;
	int ntopics;
	size_t retention;
} dl;

void
dk_log_init(size_t retention_bytes)
{
	dl.retention = retention_bytes;
}

void
dk_log_fini(void)
{
	int i, j;
	size_t k;

	for (i = 0; i < dl.ntopics; i++) {
		for (j = 0; j < dl.topics[i].nparts; j++) {
			struct dk_part *p = &dl.topics[i].parts[j];

			for (k = 0; k < p->n; k++)
				free(p->ring[(p->head + k) % p->cap].data);
			free(p->ring);
			free(p->prod);
		}
		free(dl.topics[i].parts);
		free(dl.topics[i].name);
	}
	free(dl.topics);
	memset(&dl, 0, sizeof(dl));
}

struct dk_topic *
dk_log_topic_add(const char *name, int32_t nparts, int32_t nbrokers)
{
	struct dk_topic *t;
	int32_t i;

	dl.topics = pl_realloc(dl.topics, (size_t)(dl.ntopics + 1) *
	    sizeof(*dl.topics));
	t = &dl.topics[dl.ntopics];
	t->name = pl_strdup(name);
	t->nparts = nparts;
	t->parts = pl_calloc((size_t)nparts, sizeof(*t->parts));
	for (i = 0; i < nparts; i++) {
		t->parts[i].index = i;
		t->parts[i].leader = (dl.ntopics + i) % nbrokers + 1;
	}
	dl.ntopics++;
	return t;
}

int
dk_log_ntopics(void)
{
	return dl.ntopics;
}

struct dk_topic *
dk_log_topic_at(int i)
{
	return i >= 0 && i < dl.ntopics ? &dl.topics[i] : NULL;
}

struct dk_topic *
dk_log_topic(const char *name, int32_t len)
{
	int i;

	for (i = 0; i < dl.ntopics; i++)
		if ((int32_t)strlen(dl.topics[i].name) == len &&
		    memcmp(dl.topics[i].name, name, (size_t)len) == 0)
			return &dl.topics[i];
	return NULL;
}

struct dk_part *
dk_log_part(const char *topic, int32_t len, int32_t index)
{
	struct dk_topic *t = dk_log_topic(topic, len);

	if (t == NULL || index < 0 || index >= t->nparts)
		return NULL;
	return &t->parts[index];
}

const struct dk_batch *
dk_part_batch(const struct dk_part *p, size_t i)
{
	return &p->ring[(p->head + i) % p->cap];
}

size_t
dk_part_find(const struct dk_part *p, int64_t off)
{
	size_t lo = 0, hi = p->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (dk_part_batch(p, mid)->last < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int64_t
dk_part_offset_for_ts(const struct dk_part *p, int64_t ts)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (dk_part_batch(p, i)->max_ts >= ts)
			return dk_part_batch(p, i)->base;
	return -1;
}

size_t
dk_log_bytes(void)
{
	size_t sum = 0;
	int i, j;

	for (i = 0; i < dl.ntopics; i++)
		for (j = 0; j < dl.topics[i].nparts; j++)
			sum += dl.topics[i].parts[j].bytes;
	return sum;
}

/* batch_check - a well-formed v2 batch of at most len bytes: its length */
static int
batch_check(const uint8_t *b, size_t len, size_t *blen_r)
{
	int32_t blen;
	size_t total;

	if (len < DK_BATCH_HEADER)
		return DK_ERR_CORRUPT_MESSAGE;
	blen = dk_be32(b + 8);
	total = (size_t)blen + 12;
	if (blen < DK_BATCH_HEADER - 12 || total > len)
		return DK_ERR_CORRUPT_MESSAGE;
	if (total > DK_MAX_BATCH)
		return DK_ERR_MESSAGE_TOO_LARGE;
	if (b[16] != 2 || dk_be32(b + 23) < 0)
		return DK_ERR_CORRUPT_MESSAGE;
	if ((uint32_t)dk_be32(b + 17) != dk_crc32c(b + 21, total - 21))
		return DK_ERR_CORRUPT_MESSAGE;
	*blen_r = total;
	return DK_ERR_NONE;
}

/* producer_get - the state of pid in p, created (evicting the least
 * recently used beyond DK_MAX_PRODUCERS) when new */
static struct dk_producer *
producer_get(struct dk_part *p, int64_t pid, int *fresh)
{
	struct dk_producer *pr;
	int i, old = 0;

	*fresh = 0;
	for (i = 0; i < p->nprod; i++)
		if (p->prod[i].pid == pid)
			return &p->prod[i];
	if (p->nprod < DK_MAX_PRODUCERS) {
		p->prod = pl_realloc(p->prod, (size_t)(p->nprod + 1) *
		    sizeof(*p->prod));
		old = p->nprod++;
	} else {
		for (i = 1; i < p->nprod; i++)
			if (p->prod[i].used < p->prod[old].used)
				old = i;
	}
	pr = &p->prod[old];
	memset(pr, 0, sizeof(*pr));
	pr->pid = pid;
	*fresh = 1;
	return pr;
}

/* producer_check - idempotence of one batch: DK_ERR_NONE and *dup = 1 with
 * *base_r for a batch seen before, DK_ERR_NONE and *dup = 0 to append, or
 * the error. */
static int
producer_check(struct dk_part *p, const uint8_t *b, int *dup, int64_t *base_r,
    struct dk_producer **pr_r)
{
	int64_t pid = dk_be64(b + 43);
	int16_t epoch = dk_be16(b + 51);
	int32_t seq = dk_be32(b + 53), last = seq + dk_be32(b + 23);
	struct dk_producer *pr;
	int fresh, i;

	*dup = 0;
	*pr_r = NULL;
	if (pid < 0)
		return DK_ERR_NONE;
	pr = producer_get(p, pid, &fresh);
	pr->used = ++p->appends;
	*pr_r = pr;
	if (fresh || epoch > pr->epoch) {
		/* a new producer or epoch (also after a devkafka restart):
		 * whatever sequence it continues with is its start */
		pr->epoch = epoch;
		pr->nrecent = 0;
		pr->last_seq = seq - 1;
		return DK_ERR_NONE;
	}
	if (epoch < pr->epoch)
		return DK_ERR_INVALID_PRODUCER_EPOCH;
	for (i = 0; i < pr->nrecent; i++)
		if (pr->recent[i].first == seq && pr->recent[i].last == last) {
			*dup = 1;
			*base_r = pr->recent[i].base;
			return DK_ERR_NONE;
		}
	if (seq != (int32_t)((uint32_t)pr->last_seq + 1) &&
	    !(pr->last_seq == INT32_MAX && seq == 0))
		return DK_ERR_OUT_OF_ORDER_SEQUENCE;
	return DK_ERR_NONE;
}

/* producer_note - remember an appended batch */
static void
producer_note(struct dk_producer *pr, const uint8_t *b, int64_t base)
{
	int32_t seq = dk_be32(b + 53);

	if (pr == NULL)
		return;
	pr->last_seq = seq + dk_be32(b + 23);
	pr->recent[pr->pos].first = seq;
	pr->recent[pr->pos].last = pr->last_seq;
	pr->recent[pr->pos].base = base;
	pr->pos = (pr->pos + 1) % DK_RECENT;
	if (pr->nrecent < DK_RECENT)
		pr->nrecent++;
}

/* part_push - append a copy of the batch at the log's end */
static void
part_push(struct dk_part *p, const uint8_t *b, size_t len)
{
	struct dk_batch *bt;
	size_t i;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct dk_batch *ring = pl_malloc(cap * sizeof(*ring));

		for (i = 0; i < p->n; i++)
			ring[i] = p->ring[(p->head + i) % p->cap];
		free(p->ring);
		p->ring = ring;
		p->head = 0;
		p->cap = cap;
	}
	bt = &p->ring[(p->head + p->n) % p->cap];
	bt->data = pl_memdup(b, len);
	bt->len = (uint32_t)len;
	bt->base = p->end;
	bt->last = p->end + dk_be32(b + 23);
	bt->max_ts = dk_be64(b + 35);
	dk_put_be64(bt->data, bt->base);
	p->end = bt->last + 1;
	p->bytes += len;
	p->n++;
	if (p->n == 1)
		p->start = bt->base;
}

/* part_trim - retention: drop the oldest batches beyond the byte budget */
static void
part_trim(struct dk_part *p)
{
	struct dk_batch *bt;

	while (p->n > 1 && p->bytes > dl.retention) {
		bt = &p->ring[p->head];
		p->bytes -= bt->len;
		free(bt->data);
		p->head = (p->head + 1) % p->cap;
		p->n--;
		p->start = p->ring[p->head].base;
	}
}

int
dk_part_append(struct dk_part *p, const uint8_t *records, size_t len,
    int64_t *base_r)
{
	struct dk_producer *pr;
	size_t off = 0, blen;
	int err, dup, first = 1;
	int64_t base;

	*base_r = -1;
	if (len == 0)
		return DK_ERR_CORRUPT_MESSAGE;
	for (off = 0; off < len; off += blen)
		if ((err = batch_check(records + off, len - off, &blen)) != 0)
			return err;
	for (off = 0; off < len; off += blen) {
		const uint8_t *b = records + off;

		blen = (size_t)dk_be32(b + 8) + 12;
		if ((err = producer_check(p, b, &dup, &base, &pr)) != 0)
			return err;
		if (!dup) {
			base = p->end;
			part_push(p, b, blen);
			producer_note(pr, b, base);
		}
		if (first)
			*base_r = base;
		first = 0;
	}
	part_trim(p);
	return DK_ERR_NONE;
}
