/* dk_api.c - request handlers of devkafka's native broker (see dk_api.h).
 *
 * Every response is framed here: int32 size, int32 correlation id, body.
 * Versions are the table below; a request at another version is
 * UNSUPPORTED_VERSION for ApiVersions (answered at v0, as Kafka does, so the
 * client can pick again) and closes the connection for anything else. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "dk_api.h"
#include "dk_log.h"
#include "dk_wire.h"
#include "log.h"
#include "mem.h"

enum {
	API_PRODUCE = 0, API_FETCH = 1, API_LIST_OFFSETS = 2, API_METADATA = 3,
	API_FIND_COORDINATOR = 10, API_API_VERSIONS = 18,
	API_INIT_PRODUCER_ID = 22,
};

static const struct { int16_t key, min, max; } dk_apis[] = {
	{ API_PRODUCE, 3, 7 },
	{ API_FETCH, 4, 4 },
	{ API_LIST_OFFSETS, 1, 2 },
	{ API_METADATA, 0, 4 },
	{ API_FIND_COORDINATOR, 0, 2 },
	{ API_API_VERSIONS, 0, 3 },
	{ API_INIT_PRODUCER_ID, 0, 1 },
};
#define DK_NAPIS (int)(sizeof(dk_apis) / sizeof(dk_apis[0]))

static struct {
	struct dk_broker_addr *brokers;
	int nbrokers;
	int64_t next_pid;
} da;

struct dk_fetch_part {
	int32_t index;
	int64_t offset;
	int32_t max_bytes;
};
struct dk_fetch_topic {
	char *name;
	int32_t len;
	struct dk_topic *topic;		/* looked up once; NULL: unknown */
	int nparts;
	struct dk_fetch_part *parts;
};
struct dk_fetch {
	int32_t corr;
	int32_t broker;
	int32_t max_wait, min_bytes, max_bytes;
	int ntopics;
	struct dk_fetch_topic *topics;
};

void
dk_api_set_brokers(const struct dk_broker_addr *b, int n)
{
	free(da.brokers);
	da.brokers = pl_memdup(b, (size_t)n * sizeof(*b));
	da.nbrokers = n;
}

/* frame_begin - a slot for the size, then the correlation id; returns
 * the frame's start for frame_end */
static size_t
frame_begin(struct pl_buf *out, int32_t corr)
{
	size_t at = out->len;

	dk_wr_i32(out, 0);
	dk_wr_i32(out, corr);
	return at;
}

static void
frame_end(struct pl_buf *out, size_t at)
{
	dk_wr_i32_at(out, at, (int32_t)(out->len - at - 4));
}

/* api_supported - 1 when the table has key at ver */
static int
api_supported(int16_t key, int16_t ver)
{
	int i;

	for (i = 0; i < DK_NAPIS; i++)
		if (dk_apis[i].key == key)
			return ver >= dk_apis[i].min && ver <= dk_apis[i].max;
	return 0;
}

/* h_api_versions - the table; v3 in the flexible encoding */
static void
h_api_versions(int16_t ver, int16_t err, int32_t corr, struct pl_buf *out)
{
	size_t at = frame_begin(out, corr);
	int i;

	dk_wr_i16(out, err);
	if (ver >= 3)
		dk_wr_uvarint(out, DK_NAPIS + 1);
	else
		dk_wr_i32(out, DK_NAPIS);
	for (i = 0; i < DK_NAPIS; i++) {
		dk_wr_i16(out, dk_apis[i].key);
		dk_wr_i16(out, dk_apis[i].min);
		dk_wr_i16(out, dk_apis[i].max);
		if (ver == 3)
			dk_wr_uvarint(out, 0);
	}
	if (ver >= 1 && ver <= 3)
		dk_wr_i32(out, 0);		/* throttle */
	if (ver == 3)
		dk_wr_uvarint(out, 0);
	frame_end(out, at);
}

/* md_topic - one topic of a Metadata response */
static void
md_topic(int16_t ver, const struct dk_topic *t, const char *name, int32_t len,
    struct pl_buf *out)
{
	int32_t i, r, nrep = da.nbrokers < 3 ? da.nbrokers : 3;

	dk_wr_i16(out, t ? DK_ERR_NONE : DK_ERR_UNKNOWN_TOPIC_OR_PART);
	dk_wr_strn(out, name, len);
	if (ver >= 1)
		dk_wr_i8(out, 0);		/* is_internal */
	dk_wr_i32(out, t ? t->nparts : 0);
	for (i = 0; t && i < t->nparts; i++) {
		const struct dk_part *p = &t->parts[i];

		dk_wr_i16(out, DK_ERR_NONE);
		dk_wr_i32(out, p->index);
		dk_wr_i32(out, p->leader);
		for (r = 0; r < 2; r++) {	/* replicas, then isr */
			int32_t k;

			dk_wr_i32(out, nrep);
			for (k = 0; k < nrep; k++)
				dk_wr_i32(out, (p->leader - 1 + k) % da.nbrokers + 1);
		}
	}
}

/* h_metadata - brokers and the requested (or all) topics */
static int
h_metadata(int16_t ver, int32_t corr, struct dk_rd *rd, struct pl_buf *out)
{
	int32_t n, i, all;
	size_t at;
	struct dk_str *names = NULL;

	all = ver == 0 ? 0 : (rd->end - rd->p >= 4 && dk_be32(rd->p) == -1);
	n = dk_rd_array(rd, 2);
	if (ver == 0 && n == 0)
		all = 1;
	names = pl_calloc((size_t)(n ? n : 1), sizeof(*names));
	for (i = 0; i < n; i++)
		names[i] = dk_rd_str(rd);
	if (ver >= 4)
		(void)dk_rd_i8(rd);		/* allow_auto_topic_creation: no */
	if (rd->err) {
		free(names);
		return -1;
	}
	at = frame_begin(out, corr);
	if (ver >= 3)
		dk_wr_i32(out, 0);
	dk_wr_i32(out, da.nbrokers);
	for (i = 0; i < da.nbrokers; i++) {
		dk_wr_i32(out, da.brokers[i].id);
		dk_wr_str(out, "127.0.0.1");
		dk_wr_i32(out, da.brokers[i].port);
		if (ver >= 1)
			dk_wr_str(out, NULL);	/* rack */
	}
	if (ver >= 2)
		dk_wr_str(out, "devkafka");	/* cluster id */
	if (ver >= 1)
		dk_wr_i32(out, da.brokers[0].id);	/* controller */
	if (all) {
		dk_wr_i32(out, dk_log_ntopics());
		for (i = 0; i < dk_log_ntopics(); i++) {
			struct dk_topic *t = dk_log_topic_at(i);

			md_topic(ver, t, t->name, (int32_t)strlen(t->name), out);
		}
	} else {
		dk_wr_i32(out, n);
		for (i = 0; i < n; i++)
			md_topic(ver, names[i].p ? dk_log_topic(names[i].p,
			    names[i].len) : NULL, names[i].p, names[i].len, out);
	}
	frame_end(out, at);
	free(names);
	return 0;
}

/* h_produce - append each partition's batches; the answer after the append
 * is acks=all for a broker that is its own only replica */
static int
h_produce(int16_t ver, int32_t corr, int32_t broker, struct dk_rd *rd,
    struct pl_buf *out, int *appended)
{
	struct pl_buf body;
	int16_t acks;
	int32_t nt, np, t, p;
	int err;

	pl_buf_init(&body);
	(void)dk_rd_str(rd);			/* transactional_id */
	acks = dk_rd_i16(rd);
	(void)dk_rd_i32(rd);			/* timeout */
	nt = dk_rd_array(rd, 6);
	dk_wr_i32(&body, nt);
	for (t = 0; t < nt && !rd->err; t++) {
		struct dk_str name = dk_rd_str(rd);

		dk_wr_strn(&body, name.p, name.len < 0 ? 0 : name.len);
		np = dk_rd_array(rd, 8);
		dk_wr_i32(&body, np);
		for (p = 0; p < np && !rd->err; p++) {
			int32_t idx = dk_rd_i32(rd);
			struct dk_str rec = dk_rd_bytes(rd);
			struct dk_part *part = name.p ? dk_log_part(name.p,
			    name.len, idx) : NULL;
			int64_t base = -1;

			if (rd->err)
				break;
			if (part == NULL)
				err = DK_ERR_UNKNOWN_TOPIC_OR_PART;
			else if (part->leader != broker)
				err = DK_ERR_NOT_LEADER;
			else if (rec.len <= 0)
				err = DK_ERR_CORRUPT_MESSAGE;
			else if ((err = dk_part_append(part, (const uint8_t *)
			    rec.p, (size_t)rec.len, &base)) == DK_ERR_NONE)
				*appended = 1;
			if (err != DK_ERR_NONE)
				pl_log_debug("DK-PRODUCE-ERR", "topic=%.*s "
				    "partition=%d err=%d", (int)(name.len < 0 ? 0 :
				    name.len), name.p ? name.p : "", (int)idx, err);
			dk_wr_i32(&body, idx);
			dk_wr_i16(&body, (int16_t)err);
			dk_wr_i64(&body, base);
			dk_wr_i64(&body, -1);	/* log_append_time */
			if (ver >= 5)
				dk_wr_i64(&body, part ? part->start : -1);
		}
	}
	if (rd->err) {
		pl_buf_fini(&body);
		return -1;
	}
	if (acks != 0) {
		size_t at = frame_begin(out, corr);

		pl_buf_append(out, body.data, body.len);
		dk_wr_i32(out, 0);		/* throttle */
		frame_end(out, at);
	}
	pl_buf_fini(&body);
	return 0;
}

void
dk_api_fetch_free(struct dk_fetch **fp)
{
	struct dk_fetch *f = *fp;
	int i;

	if (f == NULL)
		return;
	for (i = 0; i < f->ntopics; i++) {
		free(f->topics[i].name);
		free(f->topics[i].parts);
	}
	free(f->topics);
	free(f);
	*fp = NULL;
}

int
dk_api_fetch_wait_ms(const struct dk_fetch *f)
{
	return f->max_wait;
}

/* fetch_parse - a Fetch v4 request */
static struct dk_fetch *
fetch_parse(int32_t corr, int32_t broker, struct dk_rd *rd)
{
	struct dk_fetch *f = pl_calloc(1, sizeof(*f));
	int i, j;

	f->corr = corr;
	f->broker = broker;
	(void)dk_rd_i32(rd);			/* replica_id */
	f->max_wait = dk_rd_i32(rd);
	f->min_bytes = dk_rd_i32(rd);
	f->max_bytes = dk_rd_i32(rd);
	(void)dk_rd_i8(rd);			/* isolation_level */
	f->ntopics = dk_rd_array(rd, 6);
	f->topics = pl_calloc((size_t)(f->ntopics ? f->ntopics : 1),
	    sizeof(*f->topics));
	for (i = 0; i < f->ntopics && !rd->err; i++) {
		struct dk_fetch_topic *t = &f->topics[i];
		struct dk_str name = dk_rd_str(rd);

		t->len = name.len < 0 ? 0 : name.len;
		/* all len bytes: a Kafka string may hold a NUL, and the answer
		 * echoes t->len bytes of it (found by tests/fuzz/fuzz_devkafka) */
		t->name = pl_malloc((size_t)t->len + 1);
		if (t->len > 0)
			memcpy(t->name, name.p, (size_t)t->len);
		t->name[t->len] = '\0';
		t->topic = dk_log_topic(t->name, t->len);
		t->nparts = dk_rd_array(rd, 16);
		t->parts = pl_calloc((size_t)(t->nparts ? t->nparts : 1),
		    sizeof(*t->parts));
		for (j = 0; j < t->nparts && !rd->err; j++) {
			t->parts[j].index = dk_rd_i32(rd);
			t->parts[j].offset = dk_rd_i64(rd);
			t->parts[j].max_bytes = dk_rd_i32(rd);
		}
	}
	if (rd->err || f->max_wait < 0) {
		dk_api_fetch_free(&f);
		return NULL;
	}
	return f;
}

/* fetch_part_state - the error of one fetched partition and whether it has
 * data at its offset (re-checked on every Produce while the Fetch waits,
 * so the topic was looked up once, at parse) */
static int
fetch_part_state(const struct dk_fetch *f, const struct dk_fetch_topic *t,
    const struct dk_fetch_part *fp, struct dk_part **part_r, int *has_data)
{
	struct dk_part *p = t->topic != NULL && fp->index >= 0 &&
	    fp->index < t->topic->nparts ? &t->topic->parts[fp->index] : NULL;

	*part_r = p;
	*has_data = 0;
	if (p == NULL)
		return DK_ERR_UNKNOWN_TOPIC_OR_PART;
	if (p->leader != f->broker)
		return DK_ERR_NOT_LEADER;
	if (fp->offset < p->start || fp->offset > p->end)
		return DK_ERR_OFFSET_OUT_OF_RANGE;
	*has_data = fp->offset < p->end;
	return DK_ERR_NONE;
}

/* fetch_ready - an error to report, or at least min_bytes to return */
static int
fetch_ready(const struct dk_fetch *f)
{
	int64_t avail = 0;
	struct dk_part *p;
	int i, j, has;
	size_t k;

	for (i = 0; i < f->ntopics; i++)
		for (j = 0; j < f->topics[i].nparts; j++) {
			const struct dk_fetch_part *fp = &f->topics[i].parts[j];

			if (fetch_part_state(f, &f->topics[i], fp, &p, &has) != 0)
				return 1;
			for (k = has ? dk_part_find(p, fp->offset) : p->n;
			    k < p->n; k++) {
				avail += dk_part_batch(p, k)->len;
				if (avail >= f->min_bytes)
					return 1;
			}
		}
	return 0;
}

int
dk_api_fetch_try(struct dk_fetch *f, int force, struct pl_buf *out)
{
	int i, j, err, has;
	int64_t total = 0;
	struct dk_part *p;
	size_t at, len_at, k;

	if (!force && !fetch_ready(f))
		return 0;
	at = frame_begin(out, f->corr);
	dk_wr_i32(out, 0);			/* throttle */
	dk_wr_i32(out, f->ntopics);
	for (i = 0; i < f->ntopics; i++) {
		struct dk_fetch_topic *t = &f->topics[i];

		dk_wr_strn(out, t->name, t->len);
		dk_wr_i32(out, t->nparts);
		for (j = 0; j < t->nparts; j++) {
			struct dk_fetch_part *fp = &t->parts[j];
			int64_t pbytes = 0;

			err = fetch_part_state(f, t, fp, &p, &has);
			dk_wr_i32(out, fp->index);
			dk_wr_i16(out, (int16_t)err);
			dk_wr_i64(out, p ? p->end : -1);	/* high watermark */
			dk_wr_i64(out, p ? p->end : -1);	/* last stable */
			dk_wr_i32(out, 0);		/* aborted transactions */
			len_at = out->len;
			dk_wr_i32(out, 0);
			for (k = has ? dk_part_find(p, fp->offset) : p ? p->n : 0;
			    has && k < p->n; k++) {
				const struct dk_batch *b = dk_part_batch(p, k);

				if (pbytes > 0 && pbytes + b->len > fp->max_bytes)
					break;
				if (total > 0 && total + b->len > f->max_bytes)
					break;
				pl_buf_append(out, b->data, b->len);
				pbytes += b->len;
				total += b->len;
			}
			dk_wr_i32_at(out, len_at, (int32_t)pbytes);
		}
	}
	frame_end(out, at);
	return 1;
}

/* h_list_offsets - earliest (-2), latest (-1) or by timestamp */
static int
h_list_offsets(int16_t ver, int32_t corr, int32_t broker, struct dk_rd *rd,
    struct pl_buf *out)
{
	struct pl_buf body;
	int32_t nt, np, t, i;

	pl_buf_init(&body);
	(void)dk_rd_i32(rd);			/* replica_id */
	if (ver >= 2)
		(void)dk_rd_i8(rd);		/* isolation_level */
	nt = dk_rd_array(rd, 6);
	dk_wr_i32(&body, nt);
	for (t = 0; t < nt && !rd->err; t++) {
		struct dk_str name = dk_rd_str(rd);

		dk_wr_strn(&body, name.p, name.len < 0 ? 0 : name.len);
		np = dk_rd_array(rd, 12);
		dk_wr_i32(&body, np);
		for (i = 0; i < np && !rd->err; i++) {
			int32_t idx = dk_rd_i32(rd);
			int64_t ts = dk_rd_i64(rd), off = -1;
			struct dk_part *p = name.p ? dk_log_part(name.p,
			    name.len, idx) : NULL;
			int err = DK_ERR_NONE;

			if (p == NULL)
				err = DK_ERR_UNKNOWN_TOPIC_OR_PART;
			else if (p->leader != broker)
				err = DK_ERR_NOT_LEADER;
			else if (ts == -1)
				off = p->end;
			else if (ts == -2)
				off = p->start;
			else if ((off = dk_part_offset_for_ts(p, ts)) < 0)
				off = p->end;
			dk_wr_i32(&body, idx);
			dk_wr_i16(&body, (int16_t)err);
			dk_wr_i64(&body, -1);		/* timestamp */
			dk_wr_i64(&body, off);
		}
	}
	if (!rd->err) {
		size_t at = frame_begin(out, corr);

		if (ver >= 2)
			dk_wr_i32(out, 0);
		pl_buf_append(out, body.data, body.len);
		frame_end(out, at);
	}
	pl_buf_fini(&body);
	return rd->err ? -1 : 0;
}

/* h_find_coordinator - the first broker coordinates every group (groups
 * are never joined by Parley's consumers; librdkafka still asks) */
static int
h_find_coordinator(int16_t ver, int32_t corr, struct dk_rd *rd,
    struct pl_buf *out)
{
	size_t at;

	(void)dk_rd_str(rd);
	if (ver >= 1)
		(void)dk_rd_i8(rd);
	if (rd->err)
		return -1;
	at = frame_begin(out, corr);
	if (ver >= 1)
		dk_wr_i32(out, 0);
	dk_wr_i16(out, DK_ERR_NONE);
	if (ver >= 1)
		dk_wr_str(out, NULL);
	dk_wr_i32(out, da.brokers[0].id);
	dk_wr_str(out, "127.0.0.1");
	dk_wr_i32(out, da.brokers[0].port);
	frame_end(out, at);
	return 0;
}

/* h_init_producer_id - a new producer id at epoch 0 */
static int
h_init_producer_id(int32_t corr, struct dk_rd *rd, struct pl_buf *out)
{
	size_t at;

	(void)dk_rd_str(rd);			/* transactional_id */
	(void)dk_rd_i32(rd);			/* transaction timeout */
	if (rd->err)
		return -1;
	if (da.next_pid == 0)	/* distinct from the ids of an earlier run */
		da.next_pid = (int64_t)(pl_clock_wall_ms() / 1000) * 1000;
	at = frame_begin(out, corr);
	dk_wr_i32(out, 0);
	dk_wr_i16(out, DK_ERR_NONE);
	dk_wr_i64(out, da.next_pid++);
	dk_wr_i16(out, 0);
	frame_end(out, at);
	return 0;
}

enum dk_verdict
dk_api_handle(int32_t broker, const uint8_t *req, size_t len,
    struct pl_buf *out, struct dk_fetch **fetch_r, int *appended_r)
{
	struct dk_rd rd;
	int16_t key, ver;
	int32_t corr;
	int rv = 0;

	*fetch_r = NULL;
	*appended_r = 0;
	dk_rd_init(&rd, req, len);
	key = dk_rd_i16(&rd);
	ver = dk_rd_i16(&rd);
	corr = dk_rd_i32(&rd);
	(void)dk_rd_str(&rd);			/* client_id */
	if (rd.err)
		return DK_BAD;
	if (key == API_API_VERSIONS) {
		if (ver >= 3)
			dk_rd_tags(&rd);
		if (ver > 3)	/* a v0 answer says which versions exist */
			h_api_versions(0, DK_ERR_UNSUPPORTED_VERSION, corr, out);
		else
			h_api_versions(ver, DK_ERR_NONE, corr, out);
		return DK_ANSWERED;
	}
	if (!api_supported(key, ver)) {
		pl_log_warn("DK-UNSUPPORTED", "api=%d version=%d", key, ver);
		return DK_BAD;
	}
	switch (key) {
	case API_METADATA:
		rv = h_metadata(ver, corr, &rd, out);
		break;
	case API_PRODUCE:
		rv = h_produce(ver, corr, broker, &rd, out, appended_r);
		break;
	case API_FETCH:
		if ((*fetch_r = fetch_parse(corr, broker, &rd)) == NULL)
			return DK_BAD;
		if (dk_api_fetch_try(*fetch_r, (*fetch_r)->max_wait == 0 ||
		    (*fetch_r)->min_bytes <= 0, out)) {
			dk_api_fetch_free(fetch_r);
			return DK_ANSWERED;
		}
		return DK_PARKED;
	case API_LIST_OFFSETS:
		rv = h_list_offsets(ver, corr, broker, &rd, out);
		break;
	case API_FIND_COORDINATOR:
		rv = h_find_coordinator(ver, corr, &rd, out);
		break;
	case API_INIT_PRODUCER_ID:
		rv = h_init_producer_id(corr, &rd, out);
		break;
	}
	return rv == 0 ? DK_ANSWERED : DK_BAD;
}
