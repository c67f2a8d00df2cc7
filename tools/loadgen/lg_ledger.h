/*
 * lg_ledger.h - the delivery ledger: what each connection may receive, and
 * whether what it did receive is in order.
 *
 * Each connection owns a few slots, one per channel it is a member of
 * (added with lg_ledger_add in connection order). A slot keeps the last seq
 * seen and a 64-bit window of the seqs below it, so a late arrival can be
 * told apart from a duplicate. Per delivery, lg_ledger_check() answers one
 * of LG_LEDGER_* and counts it. A slot starts at "expect seq 1"; after
 * lg_ledger_any() (or a resync) the next seq is taken as the new base.
 */
#ifndef LG_LEDGER_H
#define LG_LEDGER_H

#include <stdint.h>

enum { LG_LEDGER_OK, LG_LEDGER_GAP, LG_LEDGER_DUP, LG_LEDGER_REORDER,
	LG_LEDGER_FOREIGN, LG_LEDGER_NKIND };

#define LG_LEDGER_ANY UINT32_MAX

struct lg_slot {
	uint32_t chan;
	uint32_t last;          /* LG_LEDGER_ANY: take the next seq as base */
	uint64_t window;        /* bit i: seq last-1-i was seen */
};

struct lg_ledger {
	uint32_t nconn;
	uint32_t nslots, cap;
	uint32_t upto;          /* the last conn given slots */
	uint32_t *first;        /* nconn + 1 offsets into slots */
	struct lg_slot *slots;
	uint64_t count[LG_LEDGER_NKIND];
	uint64_t missing;       /* seqs skipped by gaps */
};

void lg_ledger_init(struct lg_ledger *l, uint32_t nconn, uint32_t cap);
void lg_ledger_fini(struct lg_ledger *l);
/* lg_ledger_add - conn is a member of chan; conns in non-decreasing order; 0 or -1 */
int lg_ledger_add(struct lg_ledger *l, uint32_t conn, uint32_t chan);
/* lg_ledger_check - record a delivery of (chan, seq) to conn; LG_LEDGER_* */
int lg_ledger_check(struct lg_ledger *l, uint32_t conn, uint32_t chan, uint32_t seq);
/* lg_ledger_any - the next seq of (conn, chan) becomes the base (resync, unknown start) */
void lg_ledger_any(struct lg_ledger *l, uint32_t conn, uint32_t chan);
/* lg_ledger_last - the last seq seen by conn on chan, 0 if none */
uint32_t lg_ledger_last(const struct lg_ledger *l, uint32_t conn, uint32_t chan);
uint64_t lg_ledger_violations(const struct lg_ledger *l);
const char *lg_ledger_kind(int kind);

#endif
