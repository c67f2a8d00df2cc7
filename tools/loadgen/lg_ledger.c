/* lg_ledger.c - per-connection per-channel delivery ledger; see lg_ledger.h */
#include "lg_ledger.h"

#include <stdlib.h>
#include <string.h>

static const char *const lg_ledger_names[LG_LEDGER_NKIND] = {
	"ok", "gap", "duplicate", "reorder", "foreign",
};

/* lg_ledger_init - room for cap slots over nconn connections */
void
lg_ledger_init(struct lg_ledger *l, uint32_t nconn, uint32_t cap)
{
	memset(l, 0, sizeof(*l));
	l->nconn = nconn;
	l->cap = cap ? cap : 1;
	l->first = calloc((size_t)nconn + 1, sizeof(*l->first));
	l->slots = calloc(l->cap, sizeof(*l->slots));
	if (l->first == NULL || l->slots == NULL)
		abort();
}

/* lg_ledger_fini - free the tables */
void
lg_ledger_fini(struct lg_ledger *l)
{
	free(l->first);
	free(l->slots);
	memset(l, 0, sizeof(*l));
}

/* lg_ledger_add - append a slot; conns above the last one added stay empty */
int
lg_ledger_add(struct lg_ledger *l, uint32_t conn, uint32_t chan)
{
	if (conn >= l->nconn || l->nslots >= l->cap)
		return -1;
	if (l->nslots > 0 && conn < l->upto)
		return -1;                      /* out of connection order */
	for (uint32_t c = l->upto + 1; c <= conn; c++)
		l->first[c] = l->nslots;
	l->slots[l->nslots++] = (struct lg_slot){ .chan = chan };
	l->first[conn + 1] = l->nslots;
	l->upto = conn;
	return 0;
}

/* lg_ledger_find - the slot of (conn, chan), NULL when not a member */
static struct lg_slot *
lg_ledger_find(const struct lg_ledger *l, uint32_t conn, uint32_t chan)
{
	if (conn >= l->nconn)
		return NULL;
	for (uint32_t i = l->first[conn]; i < l->first[conn + 1]; i++)
		if (l->slots[i].chan == chan)
			return &l->slots[i];
	return NULL;
}

/* lg_ledger_late - seq below last: a duplicate if seen, else a reorder */
static int
lg_ledger_late(struct lg_slot *s, uint32_t seq)
{
	uint32_t back = s->last - seq;          /* >= 1 */

	if (back > 64)
		return LG_LEDGER_REORDER;       /* too old to tell: call it reordered */
	if (s->window & (1ull << (back - 1)))
		return LG_LEDGER_DUP;
	s->window |= 1ull << (back - 1);
	return LG_LEDGER_REORDER;
}

/* lg_ledger_advance - seq above last; shifts the window */
static int
lg_ledger_advance(struct lg_ledger *l, struct lg_slot *s, uint32_t seq)
{
	uint32_t step = seq - s->last;

	s->window = step >= 64 ? 0 : s->window << step;
	if (step <= 64)
		s->window |= 1ull << (step - 1); /* the old last */
	s->last = seq;
	if (step == 1)
		return LG_LEDGER_OK;
	l->missing += step - 1;
	return LG_LEDGER_GAP;
}

/* lg_ledger_classify - compare seq with the slot */
static int
lg_ledger_classify(struct lg_ledger *l, struct lg_slot *s, uint32_t seq)
{
	if (s->last == LG_LEDGER_ANY) {
		s->last = seq;
		s->window = 0;
		return LG_LEDGER_OK;
	}
	if (seq == s->last)
		return LG_LEDGER_DUP;
	if (seq < s->last)
		return lg_ledger_late(s, seq);
	return lg_ledger_advance(l, s, seq);
}

/* lg_ledger_check - classify and count */
int
lg_ledger_check(struct lg_ledger *l, uint32_t conn, uint32_t chan, uint32_t seq)
{
	struct lg_slot *s = lg_ledger_find(l, conn, chan);
	int kind = s ? lg_ledger_classify(l, s, seq) : LG_LEDGER_FOREIGN;

	l->count[kind]++;
	return kind;
}

/* lg_ledger_any - forget the position of (conn, chan) */
void
lg_ledger_any(struct lg_ledger *l, uint32_t conn, uint32_t chan)
{
	struct lg_slot *s = lg_ledger_find(l, conn, chan);

	if (s != NULL)
		s->last = LG_LEDGER_ANY;
}

/* lg_ledger_last - for resume's last_seq */
uint32_t
lg_ledger_last(const struct lg_ledger *l, uint32_t conn, uint32_t chan)
{
	struct lg_slot *s = lg_ledger_find(l, conn, chan);

	return s == NULL || s->last == LG_LEDGER_ANY ? 0 : s->last;
}

/* lg_ledger_violations - everything that is not ok */
uint64_t
lg_ledger_violations(const struct lg_ledger *l)
{
	return l->count[LG_LEDGER_GAP] + l->count[LG_LEDGER_DUP] +
	    l->count[LG_LEDGER_REORDER] + l->count[LG_LEDGER_FOREIGN];
}

/* lg_ledger_kind - printable name of a LG_LEDGER_* */
const char *
lg_ledger_kind(int kind)
{
	return kind >= 0 && kind < LG_LEDGER_NKIND ? lg_ledger_names[kind] : "?";
}
