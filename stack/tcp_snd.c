/* tcp_snd.c - the sender.
 *
 * Theory of operation.  The app's bytes wait in the send ring (c->sndq)
 * from SND.UNA on.  Every segment sent gets a record on the scoreboard
 * (c->sb): its sequence range, when it was last sent, and whether it was
 * SACKed, judged lost, or retransmitted.  The data itself stays in the
 * ring; a retransmission reads it again from there.  Nothing is ever resent
 * because it merely follows a lost segment: only records judged lost are.
 *
 * Losses are found three ways:
 *   - RACK (RFC 8985 6): a segment sent before one that was delivered, and
 *     not delivered itself within an RTT plus a reordering window, is lost.
 *     This needs SACK: with it, the records walk in order of transmission;
 *   - duplicate ACKs without SACK (RFC 5681 3.2, RFC 6582): the third one
 *     marks the first unacknowledged segment lost, a partial ACK in
 *     recovery the next one;
 *   - the retransmission timeout (RFC 6298), the last resort: the first
 *     segment and those RACK finds old enough are marked lost.
 * A tail loss probe (RFC 8985 7) makes a lost last segment of a burst cost
 * about two round trips instead of an RTO: the probe's ACK carries the
 * SACK that lets RACK see the loss.
 *
 * Recovery (RFC 6675 with PRR, RFC 6937): the first loss found while open
 * is a congestion event (cc->ops->on_congestion sets ssthresh); until
 * SND.UNA passes RecoveryPoint, each ACK lets out as much as PRR says,
 * lost records first, then new data; at the end cwnd = ssthresh.  After an
 * RTO the sender slow-starts from one segment (TCP_CA_LOSS) and resends
 * the records marked lost as cwnd allows.
 *
 * Undo: an RTO is found spurious when the first ACK after it echoes a
 * timestamp older than the retransmission's (Eifel detection, RFC 3522);
 * a fast recovery when every retransmission of it comes back D-SACKed
 * (RFC 2883 section 5, counted as Linux does).  cwnd and ssthresh then
 * go back to what they were (the response of RFC 4015).
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "core.h"
#include "seq.h"
#include "tcp.h"

/* RFC 8985 7.2: the peer may delay the ACK of a lone segment this long. */
#define TLP_MAX_ACK_DELAY_US 200000u
/* A floor for the probe timeout: below it a busy peer's ordinary ACK
 * latency would look like a tail loss (Linux's floor is two jiffies). */
#define TLP_MIN_US 10000u
#define DUPTHRESH  3

static const char *const note_names[SK_NOTE_COUNT] = {
    [SK_NOTE_RTX_RECOVERY] = "fast retransmit",
    [SK_NOTE_RTX_LOSS] = "RTO retransmit",
    [SK_NOTE_TLP] = "tail loss probe",
    [SK_NOTE_RTO] = "retransmission timeout",
    [SK_NOTE_RECOVERY] = "recovery",
    [SK_NOTE_RECOVERED] = "recovered",
    [SK_NOTE_UNDO] = "undo",
    [SK_NOTE_KEEPALIVE] = "keep-alive probe",
};

const char *sk_note_name(int kind)
{
    return kind >= 0 && kind < SK_NOTE_COUNT ? note_names[kind] : "?";
}

/* Tells the observer, if there is one (nothing is built otherwise). */
static void note(struct sk_tcb *c, int kind, uint32_t seq, uint32_t end)
{
    struct sk_stack *s = c->stack;
    if (!s->cfg.on_note)
        return;
    struct sk_tcp_note n = {.conn = c,
                            .laddr = c->laddr,
                            .raddr = c->raddr,
                            .lport = c->lport,
                            .rport = c->rport,
                            .kind = kind,
                            .seq = seq,
                            .end = end,
                            .cwnd = c->cc.cwnd,
                            .ssthresh = c->cc.ssthresh};
    s->cfg.on_note(s->cfg.observer_ctx, &n, s->now);
}

/* A connection that times out reports the last ICMP soft error it had
 * instead, if any (RFC 1122 4.2.3.9; as Linux's tcp_write_err). */
static int timeout_error(const struct sk_tcb *c)
{
    return c->soft_error ? c->soft_error : SK_ETIMEDOUT;
}

/* ---- the scoreboard: a ring of records in sequence order ---- */

static inline uint32_t sb_slot(const struct tcp_scoreboard *sb, uint32_t i)
{
    return (sb->head + i) & (sb->cap - 1);
}
static inline struct tcp_rec *sb_at(const struct tcp_scoreboard *sb, uint32_t i)
{
    return &sb->rec[sb_slot(sb, i)];
}
static inline uint32_t rec_len(const struct tcp_rec *r)
{
    return r->end - r->start;
}

/* The time-ordered list, by slot. */
static void tl_unlink(struct tcp_scoreboard *sb, uint32_t slot)
{
    struct tcp_rec *r = &sb->rec[slot];
    if (!(r->flags & REC_TLIST))
        return;
    if (r->tprev != TCP_REC_NIL)
        sb->rec[r->tprev].tnext = r->tnext;
    else
        sb->thead = r->tnext;
    if (r->tnext != TCP_REC_NIL)
        sb->rec[r->tnext].tprev = r->tprev;
    else
        sb->ttail = r->tprev;
    r->flags &= (uint16_t)~REC_TLIST;
}

static void tl_append(struct tcp_scoreboard *sb, uint32_t slot)
{
    struct tcp_rec *r = &sb->rec[slot];
    tl_unlink(sb, slot);
    r->tprev = sb->ttail;
    r->tnext = TCP_REC_NIL;
    if (sb->ttail != TCP_REC_NIL)
        sb->rec[sb->ttail].tnext = slot;
    else
        sb->thead = slot;
    sb->ttail = slot;
    r->flags |= REC_TLIST;
}

/* Arrays of the first size (TCP_SB_FIRST records) are kept on a free
 * list per stack: a connection gives its array back whenever everything
 * it sent is acknowledged, and takes one again at its next segment, so a
 * request/response exchange does no malloc per response either. */
static struct tcp_rec *sb_array_get(struct tcp_table *t, uint32_t cap)
{
    if (cap == TCP_SB_FIRST && t->sb_free) {
        struct tcp_rec *a = t->sb_free;
        memcpy(&t->sb_free, a, sizeof(t->sb_free));
        t->sb_nfree--;
        return a;
    }
    return malloc(cap * sizeof(struct tcp_rec));
}

static void sb_array_put(struct tcp_table *t, struct tcp_rec *a, uint32_t cap)
{
    if (a && cap == TCP_SB_FIRST && t->sb_nfree < TCP_SB_FREE_MAX) {
        memcpy(a, &t->sb_free, sizeof(t->sb_free));
        t->sb_free = a;
        t->sb_nfree++;
        return;
    }
    free(a);
}

static int grow(struct sk_tcb *c)
{
    struct tcp_scoreboard *sb = &c->sb;
    uint32_t cap = sb->cap ? 2 * sb->cap : TCP_SB_FIRST;
    if (cap > TCP_SB_MAX)
        return -1;
    struct tcp_rec *a = sb_array_get(&c->stack->tcp, cap);
    if (!a)
        return -1;
    /* Copy in sequence order to slots 0..n-1; the list links are slots,
     * so they move the same way. */
    uint32_t old = sb->cap;
#define MOVED(s) ((s) == TCP_REC_NIL ? TCP_REC_NIL : (((s)-sb->head) & (old - 1)))
    for (uint32_t i = 0; i < sb->n; i++) {
        a[i] = *sb_at(sb, i);
        a[i].tprev = MOVED(a[i].tprev);
        a[i].tnext = MOVED(a[i].tnext);
    }
    sb->thead = MOVED(sb->thead);
    sb->ttail = MOVED(sb->ttail);
#undef MOVED
    sb_array_put(&c->stack->tcp, sb->rec, old);
    sb->rec = a;
    sb->cap = cap;
    sb->head = 0;
    return 0;
}

static struct tcp_rec *sb_push(struct sk_tcb *c, uint32_t start, uint32_t end, uint16_t flags)
{
    struct tcp_scoreboard *sb = &c->sb;
    if (sb->n == sb->cap && grow(c) < 0)
        return NULL;
    uint32_t slot = sb_slot(sb, sb->n++);
    struct tcp_rec *r = &sb->rec[slot];
    *r = (struct tcp_rec){.start = start,
                          .end = end,
                          .xmit_us = c->stack->now,
                          .flags = flags,
                          .nxmit = 1,
                          .tprev = TCP_REC_NIL,
                          .tnext = TCP_REC_NIL};
    tl_append(sb, slot);
    return r;
}

/* The records' bytes leave the counters as they leave a state. */
static void forget(struct tcp_scoreboard *sb, struct tcp_rec *r)
{
    uint32_t len = rec_len(r);
    if (r->flags & REC_SACKED)
        sb->sacked -= len;
    if (r->flags & REC_LOST)
        sb->lost -= len;
    if (r->flags & REC_RETRANS)
        sb->retrans -= len;
}

static void sb_pop(struct tcp_scoreboard *sb)
{
    struct tcp_rec *r = sb_at(sb, 0);
    forget(sb, r);
    tl_unlink(sb, sb_slot(sb, 0));
    sb->head = (sb->head + 1) & (sb->cap - 1);
    sb->n--;
}

/* The index of the first record that ends after seq (n if none). */
static uint32_t sb_find(const struct tcp_scoreboard *sb, uint32_t seq)
{
    uint32_t lo = 0, hi = sb->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seq_leq(sb_at(sb, mid)->end, seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void mark_lost(struct sk_tcb *c, struct tcp_rec *r, uint32_t slot)
{
    struct tcp_scoreboard *sb = &c->sb;
    if (r->flags & (REC_SACKED | REC_LOST))
        return;
    if (r->flags & REC_RETRANS) {
        sb->retrans -= rec_len(r);
        r->flags &= (uint16_t)~REC_RETRANS;
    }
    if (!sb->lost || seq_lt(r->start, sb->lost_from))
        sb->lost_from = r->start;
    r->flags |= REC_LOST;
    sb->lost += rec_len(r);
    tl_unlink(sb, slot);
}

static void mark_sacked(struct sk_tcb *c, struct tcp_rec *r, uint32_t slot)
{
    struct tcp_scoreboard *sb = &c->sb;
    forget(sb, r);
    r->flags &= (uint16_t) ~(REC_LOST | REC_RETRANS);
    r->flags |= REC_SACKED;
    sb->sacked += rec_len(r);
    tl_unlink(sb, slot);
}

void tcp_snd_pool_free(struct tcp_table *t)
{
    while (t->sb_free) {
        void *next;
        memcpy(&next, t->sb_free, sizeof(next));
        free(t->sb_free);
        t->sb_free = next;
    }
    t->sb_nfree = 0;
}

void tcp_snd_free(struct sk_tcb *c)
{
    sb_array_put(&c->stack->tcp, c->sb.rec, c->sb.cap);
    memset(&c->sb, 0, sizeof(c->sb));
    c->sb.thead = c->sb.ttail = TCP_REC_NIL;
}

uint32_t tcp_snd_head_seq(const struct sk_tcb *c)
{
    /* Until our SYN is acknowledged, snd_una is the SYN's own number.  A
     * flag, not snd_una == iss: after 2^32 bytes snd_una meets iss again. */
    return c->syn_acked ? c->snd_una : c->iss + 1;
}

uint32_t tcp_snd_pipe(const struct sk_tcb *c)
{
    /* RFC 6675's pipe, as Linux counts it: what was sent and is neither
     * SACKed nor judged lost (a retransmission counts once, itself).
     * Without SACK, in recovery, each duplicate ACK stands for one segment
     * that left the network (RFC 5681 3.2 step 4's inflation, counted the
     * other way); before it, limited transmit (RFC 3042) does that job. */
    uint32_t flight = c->snd_max - c->snd_una;
    uint32_t out = c->sb.sacked + c->sb.lost;
    if (!c->sack_ok && c->ca_state == TCP_CA_RECOVERY)
        out += min_u32(c->dupacks, DUPTHRESH + 64) * (uint32_t)c->mss_data;
    return flight > out ? flight - out : 0;
}

/* ---- RTT and the RTO (RFC 6298, RFC 7323 4) ---- */

static uint32_t rto_max(const struct sk_tcb *c)
{
    return c->stack->cfg.tcp_rto_max_ms * 1000;
}

void tcp_rtt_sample(struct sk_tcb *c, uint64_t rtt_us, uint32_t samples, bool precise)
{
    uint32_t r = (uint32_t)min_u64(rtt_us, UINT32_MAX / 8);
    if (!c->rtt_valid) { /* RFC 6298 2.2 */
        c->srtt_us = r;
        c->rttvar_us = r / 2;
        c->rtt_valid = true;
    } else {
        /* 2.3, alpha 1/8 and beta 1/4; with timestamps every ACK gives a
         * sample, and RFC 7323 appendix G divides the gains by the samples
         * expected per RTT so history lasts as long as with one. */
        uint32_t k = samples ? samples : 1;
        uint32_t delta = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
        c->rttvar_us = (uint32_t)(((uint64_t)c->rttvar_us * (4 * k - 1) + delta) / (4 * k));
        c->srtt_us = (uint32_t)(((uint64_t)c->srtt_us * (8 * k - 1) + r) / (8 * k));
    }
    /* RTO = SRTT + max(G, 4*RTTVAR), G our 1 us clock; then 2.4's bounds
     * (our documented minimum, not RFC 6298's conservative 1 s). */
    uint32_t rto = c->srtt_us + max_u32(1, 4 * c->rttvar_us);
    c->rto_us = min_u32(max_u32(rto, c->stack->cfg.tcp_rto_min_ms * 1000), rto_max(c));
    /* RACK's smallest RTT only from samples of the microsecond clock: a
     * timestamp sample is whole milliseconds. */
    if (precise && (!c->rack.min_rtt_us || r < c->rack.min_rtt_us))
        c->rack.min_rtt_us = max_u32(r, 1);
}

void tcp_rtx_arm(struct sk_tcb *c)
{
    uint64_t t = (uint64_t)c->rto_us;
    tcp_timer_set(c, TCP_T_RTX, c->stack->now + t);
}

/* ---- RACK (RFC 8985 6) ---- */

/* RACK_sent_after: was (t1, s1) sent after (t2, s2)? */
static bool sent_after(uint64_t t1, uint32_t s1, uint64_t t2, uint32_t s2)
{
    return t1 > t2 || (t1 == t2 && seq_gt(s1, s2));
}

/* The TSval a record's latest transmission carried: our timestamp clock
 * is the microsecond clock in milliseconds plus the offset (tcp_ts_now). */
static uint32_t rec_tsval(const struct sk_tcb *c, const struct tcp_rec *r)
{
    return (uint32_t)(r->xmit_us / 1000) + c->ts_offset;
}

/* Step 2: a segment was delivered (cumulatively or by SACK); g is the ACK. */
static void rack_delivered(struct sk_tcb *c, const struct tcp_rec *r, const struct tcp_seg *g)
{
    struct tcp_rack *k = &c->rack;
    uint64_t now = c->stack->now;
    uint32_t rtt = (uint32_t)min_u64(now - r->xmit_us, UINT32_MAX);
    if (r->flags & REC_EVER_RETRANS) {
        /* The ACK may be for an earlier copy (6.2 step 2): with timestamps
         * the echo tells, else only a round trip at least the smallest
         * seen can be the retransmission's. */
        bool ts = c->ts_ok && g->opt.ts && g->opt.tsecr;
        if (ts ? seq_lt(g->opt.tsecr, rec_tsval(c, r)) : rtt < k->min_rtt_us)
            return;
    }
    k->rtt_us = rtt;
    k->valid = true;
    if (sent_after(r->xmit_us, r->end, k->xmit_us, k->end_seq)) {
        k->xmit_us = r->xmit_us;
        k->end_seq = r->end;
    }
}

/* Step 3: a segment delivered below the highest one SACKed, never
 * having been resent, arrived out of order: the path reorders. */
static void seen_reordering_below(struct sk_tcb *c, const struct tcp_rec *r, uint32_t fack)
{
    if (c->rack.reord || (r->flags & REC_EVER_RETRANS) || !seq_lt(r->end, fack))
        return;
    c->rack.reord = true;
    c->stack->ctr.tcp_reordering++;
}

static void seen_reordering(struct sk_tcb *c, const struct tcp_rec *r)
{
    seen_reordering_below(c, r, c->sb.fack);
}

/* Step 4: the reordering window. */
static uint32_t rack_reo_wnd(const struct sk_tcb *c)
{
    const struct tcp_rack *k = &c->rack;
    if (!k->reord) {
        /* No reordering seen: in recovery, or with DupThresh segments
         * SACKed past the hole, a hole is a loss at once. */
        if (c->ca_state != TCP_CA_OPEN)
            return 0;
        if (c->sb.sacked >= DUPTHRESH * (uint32_t)c->mss_data)
            return 0;
    }
    uint64_t w = (uint64_t)k->reo_wnd_mult * k->min_rtt_us / 4;
    return (uint32_t)min_u64(w, c->srtt_us ? c->srtt_us : w);
}

/* Step 5: marks lost what was sent before the latest delivered segment
 * and has had its RTT plus the reordering window; arms the reordering
 * timer for the rest.  The list holds neither SACKed nor lost records,
 * oldest transmission first, so the walk stops at the first record sent
 * after RACK.xmit_ts. */
static uint32_t rack_detect_loss(struct sk_tcb *c)
{
    struct tcp_scoreboard *sb = &c->sb;
    struct tcp_rack *k = &c->rack;
    uint64_t now = c->stack->now;
    uint32_t marked = 0;
    uint64_t timeout = 0;
    if (!k->valid || !c->sack_ok)
        return 0;
    uint32_t reo = rack_reo_wnd(c);
    for (uint32_t s = sb->thead; s != TCP_REC_NIL;) {
        struct tcp_rec *r = &sb->rec[s];
        uint32_t next = r->tnext;
        if (sent_after(r->xmit_us, r->end, k->xmit_us, k->end_seq))
            break;
        uint64_t when = r->xmit_us + k->rtt_us + reo;
        if (when <= now) {
            mark_lost(c, r, s);
            marked++;
        } else if (when - now > timeout) {
            timeout = when - now;
        }
        s = next;
    }
    if (timeout)
        tcp_timer_set(c, TCP_T_REO, now + timeout);
    else
        tcp_timer_clear(c, TCP_T_REO);
    c->stack->ctr.tcp_rack_lost += marked;
    return marked;
}

/* ---- congestion events and recovery ---- */

/* What a congestion event reduces from.  RFC 5681 eqn. 4 and RFC 9438 4.6
 * say FlightSize; RFC 9438 notes implementations (Linux among them) that
 * use cwnd.  We take cwnd when the sender was filling it: our ACKs arrive
 * in batches, so at the moment a loss is seen the flight has often
 * drained well below what the path was carrying.  An app-limited sender
 * reduces from its FlightSize, so an unused cwnd cannot inflate it. */
static uint32_t reduction_base(const struct sk_tcb *c)
{
    uint32_t flight = c->snd_max - c->snd_una;
    return c->cwnd_limited ? max_u32(flight, c->cc.cwnd) : flight;
}

static void save_for_undo(struct sk_tcb *c)
{
    c->prior_cwnd = c->cc.cwnd;
    c->prior_ssthresh = c->cc.ssthresh;
}

static void enter_recovery(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    uint32_t flight = c->snd_max - c->snd_una;
    save_for_undo(c);
    c->undo_dsack = c->sack_ok;
    c->undo_eifel = false;
    c->undo_retrans = 0;
    c->undo_sent = 0;
    c->undo_marker = c->snd_una;
    c->cc.ops->on_congestion(&c->cc, reduction_base(c), s->now);
    c->ca_state = TCP_CA_RECOVERY;
    c->after_rto = false;
    c->recover = c->snd_max;
    c->recover_fs = flight;
    c->prr_delivered = c->prr_out = 0;
    c->rack.tlp_active = false;
    s->ctr.tcp_congestion_events++;
    s->ctr.tcp_fast_retransmits++;
    c->n_fast_rtx++;
    note(c, SK_NOTE_RECOVERY, c->snd_una, c->snd_max);
}

static void undo(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    c->cc.cwnd = max_u32(c->cc.cwnd, c->prior_cwnd);
    if (c->prior_ssthresh == UINT32_MAX || c->prior_ssthresh > c->cc.ssthresh)
        c->cc.ssthresh = c->prior_ssthresh;
    if (c->cc.ops->undo)
        c->cc.ops->undo(&c->cc);
    c->undo_eifel = c->undo_dsack = false;
    s->ctr.tcp_spurious_undo++;
    c->n_undo++;
    note(c, SK_NOTE_UNDO, c->snd_una, c->snd_max);
}

/* Records marked lost by a spurious RTO were not lost: back on the
 * time-ordered list, in order of their (old) transmission. */
static int by_xmit(const void *a, const void *b, void *ctx)
{
    const struct tcp_scoreboard *sb = ctx;
    const struct tcp_rec *x = &sb->rec[*(const uint32_t *)a], *y = &sb->rec[*(const uint32_t *)b];
    return x->xmit_us < y->xmit_us ? -1 : x->xmit_us > y->xmit_us;
}

static void unmark_lost(struct sk_tcb *c)
{
    struct tcp_scoreboard *sb = &c->sb;
    uint32_t *slots = malloc((sb->n ? sb->n : 1) * sizeof(*slots));
    uint32_t m = 0;
    for (uint32_t i = 0; i < sb->n; i++) {
        struct tcp_rec *r = sb_at(sb, i);
        if (r->flags & REC_LOST) {
            r->flags &= (uint16_t)~REC_LOST;
            sb->lost -= rec_len(r);
        }
        if (!(r->flags & REC_SACKED) && slots) {
            tl_unlink(sb, sb_slot(sb, i));
            slots[m++] = sb_slot(sb, i);
        }
    }
    if (!slots)
        return; /* no memory: the list stays as it was, RACK only sees less */
    /* A small insertion sort: undo is rare and the records mostly in order. */
    for (uint32_t i = 1; i < m; i++)
        for (uint32_t j = i; j > 0 && by_xmit(&slots[j - 1], &slots[j], sb) > 0; j--) {
            uint32_t t = slots[j];
            slots[j] = slots[j - 1];
            slots[j - 1] = t;
        }
    for (uint32_t i = 0; i < m; i++)
        tl_append(sb, slots[i]);
    free(slots);
}

/* RFC 6937 (with the -bis changes): how many bytes this ACK lets out. */
static uint32_t prr_sndcnt(struct sk_tcb *c, uint32_t delivered, bool first)
{
    uint32_t pipe = tcp_snd_pipe(c);
    uint32_t ssthresh = c->cc.ssthresh;
    uint32_t mss = c->mss_data;
    int64_t sndcnt;
    c->prr_delivered += delivered;
    if (pipe > ssthresh) {
        /* Proportional: deliver ssthresh/RecoverFS of what left the network. */
        uint64_t fs = c->recover_fs ? c->recover_fs : 1;
        sndcnt = (int64_t)(((uint64_t)c->prr_delivered * ssthresh + fs - 1) / fs) - c->prr_out;
    } else {
        /* Slow-start reduction bound: regrow towards ssthresh, at most one
         * segment more than what was delivered. */
        int64_t limit = (int64_t)c->prr_delivered - c->prr_out;
        if (limit < (int64_t)delivered)
            limit = delivered;
        limit += mss;
        int64_t room = (int64_t)ssthresh - pipe;
        sndcnt = room < limit ? room : limit;
    }
    if (sndcnt < 0)
        sndcnt = 0;
    /* The fast retransmit itself always goes. */
    if (first && sndcnt < mss)
        sndcnt = mss;
    return (uint32_t)sndcnt;
}

static void exit_recovery(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    if (c->ca_state == TCP_CA_RECOVERY) {
        /* RFC 6937: recovery ends with cwnd = ssthresh. */
        c->cc.cwnd = max_u32(c->cc.ssthresh, 2u * c->mss_data);
        if (c->cc.ops->on_recovery_exit)
            c->cc.ops->on_recovery_exit(&c->cc, s->now);
        s->ctr.tcp_recoveries++;
    }
    /* RFC 2883 section 5: every retransmission of the episode came back as
     * a D-SACK: the originals had arrived, nothing was lost. */
    if (c->undo_dsack && c->undo_sent && c->undo_retrans <= 0)
        undo(c);
    c->undo_eifel = c->undo_dsack = false;
    if (c->ca_state != TCP_CA_OPEN)
        note(c, SK_NOTE_RECOVERED, c->snd_una, c->snd_max);
    c->ca_state = TCP_CA_OPEN;
    c->dupacks = 0;
    if (c->rack.reo_wnd_persist && --c->rack.reo_wnd_persist == 0)
        c->rack.reo_wnd_mult = 1; /* RFC 8985 6.2 step 4: decay after 16 recoveries */
}

/* ---- sending ---- */

static bool sends_data(int state)
{
    return state == SK_ESTABLISHED || state == SK_CLOSE_WAIT || state == SK_FIN_WAIT_1 ||
           state == SK_CLOSING || state == SK_LAST_ACK;
}

/* Writes the bytes of [start, end) (a FIN counted in end if fin). */
static void send_range(struct sk_tcb *c, uint32_t start, uint32_t end, bool fin, bool push)
{
    uint32_t head = tcp_snd_head_seq(c);
    uint32_t len = end - start - (fin ? 1 : 0);
    uint8_t flags = TCP_ACK | (fin ? TCP_FIN : 0) | (push ? TCP_PSH : 0);
    if (!c->stack->why_out) /* unless the caller said why */
        sk_why_out(c->stack, fin && !len ? SK_WHY_FIN : SK_WHY_DATA, start);
    tcp_write_segment(c, &(struct tcp_out_seg){
                             .seq = start, .flags = flags, .data_off = start - head, .len = len});
}

/* [start, start + len) of new data as one TSO frame of full segments,
 * which the link cuts (the scoreboard has a record for each segment). */
static void send_run(struct sk_tcb *c, uint32_t start, uint32_t len, bool push)
{
    if (len <= c->mss_data) {
        send_range(c, start, start + len, false, push);
        return;
    }
    uint32_t head = tcp_snd_head_seq(c);
    uint8_t flags = TCP_ACK | (push ? TCP_PSH : 0);
    if (!c->stack->why_out)
        sk_why_out(c->stack, SK_WHY_DATA, start);
    tcp_write_segment(c, &(struct tcp_out_seg){.seq = start,
                                               .flags = flags,
                                               .data_off = start - head,
                                               .len = len,
                                               .gso_size = c->mss_data});
}

/* Sends a record again.  `episode`: a retransmission of the loss episode
 * (not a tail loss probe), counted for undo. */
static void retransmit(struct sk_tcb *c, struct tcp_rec *r, uint32_t slot, bool episode)
{
    struct sk_stack *s = c->stack;
    struct tcp_scoreboard *sb = &c->sb;
    uint32_t data_end = tcp_snd_head_seq(c) + c->sndq.len;
    bool fin = r->flags & REC_FIN;
    sk_why_out(s,
               !episode                     ? SK_WHY_TLP
               : c->ca_state == TCP_CA_LOSS ? SK_WHY_RTX_TIMEOUT
               : c->undo_sent == 0          ? SK_WHY_RTX_FAST
                                            : SK_WHY_RTX_RECOVERY,
               r->start);
    send_range(c, r->start, r->end, fin, r->end - fin == data_end && rec_len(r) > fin);
    if (r->flags & REC_LOST) {
        r->flags &= (uint16_t)~REC_LOST;
        sb->lost -= rec_len(r);
    }
    if (!(r->flags & REC_RETRANS)) {
        r->flags |= REC_RETRANS;
        sb->retrans += rec_len(r);
    }
    r->flags |= REC_EVER_RETRANS;
    r->nxmit++;
    r->xmit_us = s->now;
    tl_append(sb, slot);
    c->retransmits++;
    s->ctr.tcp_retransmits++;
    if (c->ca_state == TCP_CA_RECOVERY && c->sack_ok)
        s->ctr.tcp_sack_rtx++;
    note(c,
         !episode                     ? SK_NOTE_TLP
         : c->ca_state == TCP_CA_LOSS ? SK_NOTE_RTX_LOSS
                                      : SK_NOTE_RTX_RECOVERY,
         r->start, r->end);
    if (!episode)
        return;
    /* The first retransmission of an episode: its TSval tells an echo of
     * the original from an echo of the copy (RFC 3522). */
    if (c->undo_sent++ == 0)
        c->undo_tsval = tcp_ts_now(c);
    c->undo_retrans++;
}

/* Sends records marked lost, in sequence order, while quota lasts. */
static uint32_t send_lost(struct sk_tcb *c, uint32_t quota)
{
    struct tcp_scoreboard *sb = &c->sb;
    uint32_t sent = 0;
    /* From the lowest lost record on, not from the front: with a large
     * window most records before it are SACKed or in flight. */
    uint32_t i = sb_find(sb, sb->lost_from);
    for (; i < sb->n && sb->lost; i++) {
        struct tcp_rec *r = sb_at(sb, i);
        if (!(r->flags & REC_LOST))
            continue;
        sb->lost_from = r->start;
        if ((rec_len(r) > quota - sent && sent) || quota <= sent)
            break;
        retransmit(c, r, sb_slot(sb, i), true);
        sent += rec_len(r);
    }
    return sent;
}

static void arm_tlp(struct sk_tcb *c);

/* New segments from snd_nxt; returns the bytes sent. */
static uint32_t send_new(struct sk_tcb *c, uint32_t quota, bool *persist_wanted)
{
    uint32_t head = tcp_snd_head_seq(c);
    uint32_t data_end = head + c->sndq.len;
    uint32_t win_end = c->snd_una + c->snd_wnd;
    uint32_t sent = 0;
    bool sws_blocked = false;
    c->cwnd_limited = false;
    /* With TSO, full segments in a row leave as one frame of up to 64 KiB
     * (an IPv4 datagram's most, less the headers of one segment). */
    uint32_t run_start = 0, run_len = 0, run_max = 0;
    bool run_push = false;
    if (c->stack->cfg.offload_tso && c->mss_data)
        run_max = (65535u - IP_HDR_LEN - TCP_HDR_LEN - (c->mss - c->mss_data)) / c->mss_data *
                  c->mss_data;
    /* Bounded: each pass sends at least one byte, or stops. */
    while (seq_lt(c->snd_nxt, data_end)) {
        uint32_t room = seq_lt(c->snd_nxt, win_end) ? win_end - c->snd_nxt : 0;
        uint32_t left = data_end - c->snd_nxt;
        uint32_t n = min_u32(min_u32(left, room), c->mss_data);
        if (n == 0)
            break;
        /* Sender SWS avoidance (RFC 9293 3.8.6.2.1): a segment goes if it
         * is full, or holds all the (pushed) data queued, or at least
         * half the largest window the peer offered - or when the
         * override timer says so.  Otherwise wait for the window. */
        if (n < c->mss_data && n < left && n < c->max_snd_wnd / 2 && !c->sws_override) {
            sws_blocked = true;
            break;
        }
        /* Nagle (RFC 9293 3.7.4, RFC 896) in Minshall's form, as Linux:
         * a short segment waits while an earlier short one is
         * unacknowledged, unless no-delay is on or it ends a stream the
         * app closed.  (The tail of one large write goes at once; a run of
         * small writes coalesces.) */
        if (n < c->mss_data && n == left && !c->nodelay && seq_gt(c->snd_sml, c->snd_una) &&
            !c->fin_queued)
            break;
        /* cwnd, counted in bytes: a segment goes whole or waits. */
        if (n > quota - sent || quota <= sent) {
            c->cwnd_limited = true;
            break;
        }
        uint32_t end = c->snd_nxt + n;
        bool fin = end == data_end && c->fin_queued;
        struct tcp_rec *r = sb_push(c, c->snd_nxt, end + fin, fin ? REC_FIN : 0);
        if (!r) {
            c->cwnd_limited = true; /* the scoreboard is full: wait for ACKs */
            break;
        }
        if (run_max && !fin && n == c->mss_data) {
            /* Segments go in order: a run ends only when it is full. */
            if (run_len && run_len + n > run_max) {
                send_run(c, run_start, run_len, run_push);
                run_len = 0;
            }
            if (!run_len)
                run_start = c->snd_nxt;
            run_len += n;
            run_push = end == data_end;
        } else {
            if (run_len) {
                send_run(c, run_start, run_len, run_push);
                run_len = 0;
            }
            send_range(c, c->snd_nxt, end + fin, fin, end == data_end);
        }
        if (fin) {
            c->fin_sent = true;
            c->fin_seq = end;
        }
        sent += n;
        if (n < c->mss_data)
            c->snd_sml = end;
        c->snd_nxt = end + fin;
        c->snd_max = seq_max(c->snd_max, c->snd_nxt);
    }
    if (run_len)
        send_run(c, run_start, run_len, run_push);
    c->sws_override = false;
    /* The FIN alone (needs no window, RFC 9293 3.10.4). */
    if (c->fin_queued && !c->fin_sent && c->snd_nxt == data_end) {
        if (sb_push(c, data_end, data_end + 1, REC_FIN)) {
            send_range(c, data_end, data_end + 1, true, false);
            c->fin_sent = true;
            c->fin_seq = data_end;
            c->snd_nxt = c->snd_max = data_end + 1;
        }
    }
    /* Zero window (or one too small to use, above) with data waiting and
     * nothing in flight: the persist timer probes it (RFC 9293 3.8.6.1)
     * or overrides the SWS rule. */
    if ((c->snd_wnd == 0 || sws_blocked) && seq_lt(c->snd_nxt, data_end) &&
        c->snd_una == c->snd_max)
        *persist_wanted = true;
    return sent;
}

void tcp_snd_output(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    if (!sends_data(c->state))
        return;
    /* In fast recovery cwnd is pipe + PRR's sndcnt, set at each ACK (RFC
     * 6937): what is sent between ACKs is what that leaves room for. */
    uint32_t pipe = tcp_snd_pipe(c);
    uint32_t cwnd = c->cc.cwnd;
    /* Limited transmit (RFC 3042): the first two duplicate ACKs each let
     * one new segment out beyond cwnd. */
    if (c->ca_state == TCP_CA_OPEN && !c->sack_ok && c->dupacks && c->dupacks < DUPTHRESH)
        cwnd += c->dupacks * (uint32_t)c->mss_data;
    uint32_t quota = cwnd > pipe ? cwnd - pipe : 0;
    /* cwnd counts bytes, and CUBIC (and PRR) make it a fraction of
     * segments; a segment goes if at least half of it fits (Linux counts
     * cwnd in whole packets, rounding), else the remainder would idle. */
    if (quota && quota < c->mss_data && 2 * quota >= c->mss_data)
        quota = c->mss_data;
    uint32_t flight_before = c->snd_max - c->snd_una;
    uint32_t sent = 0;
    if (c->sb.lost)
        sent += send_lost(c, quota);
    bool persist_wanted = false;
    uint32_t fresh = send_new(c, quota > sent ? quota - sent : 0, &persist_wanted);
    sent += fresh;
    if (c->ca_state == TCP_CA_RECOVERY)
        c->prr_out += sent;
    if (persist_wanted && !c->persist) {
        c->persist = true;
        c->backoff = 0;
        c->probes_unanswered = 0;
        tcp_timer_clear(c, TCP_T_RTX);
        tcp_timer_clear(c, TCP_T_TLP);
        tcp_timer_set(c, TCP_T_PERSIST, s->now + c->rto_us);
    }
    if (c->snd_max != c->snd_una && !c->persist) {
        /* RFC 6298 5.1: the timer runs while anything is outstanding. */
        if (!tcp_timer_on(c, TCP_T_RTX))
            tcp_rtx_arm(c);
        /* RFC 8985 7.2: new data went out: a probe follows if its ACK
         * does not come. */
        if (fresh || flight_before == 0)
            arm_tlp(c);
    }
}

/* ---- ACK processing ---- */

/* RFC 2883 4: the first block is a D-SACK if it lies below the ACK or
 * inside the second block. */
static bool is_dsack(const struct tcp_seg *g)
{
    if (!g->opt.nsack)
        return false;
    const struct tcp_sack_block *b = g->opt.sack;
    if (seq_leq(b[0].end, g->ack))
        return true;
    return g->opt.nsack > 1 && seq_leq(b[1].start, b[0].start) && seq_leq(b[0].end, b[1].end);
}

/* Marks SACKed what the blocks cover; returns the bytes newly SACKed. */
static uint32_t process_sack(struct sk_tcb *c, const struct tcp_seg *g, bool dsack)
{
    struct tcp_scoreboard *sb = &c->sb;
    uint32_t newly = 0;
    uint32_t fack_before = sb->fack;
    for (int b = dsack ? 1 : 0; b < g->opt.nsack; b++) {
        uint32_t start = g->opt.sack[b].start, end = g->opt.sack[b].end;
        /* Only blocks within what is outstanding mean anything (RFC 2018 does
         * not let a receiver SACK what it never got; a forged block must not
         * change the scoreboard's counts). */
        if (!seq_lt(start, end) || seq_leq(end, c->snd_una) || seq_gt(end, c->snd_max))
            continue;
        for (uint32_t i = sb_find(sb, start); i < sb->n; i++) {
            struct tcp_rec *r = sb_at(sb, i);
            if (seq_geq(r->start, end))
                break;
            if ((r->flags & REC_SACKED) || seq_lt(r->start, start) || seq_gt(r->end, end))
                continue;
            seen_reordering_below(c, r, fack_before);
            rack_delivered(c, r, g);
            mark_sacked(c, r, sb_slot(sb, i));
            newly += rec_len(r);
            if (seq_gt(r->end, sb->fack))
                sb->fack = r->end;
        }
    }
    return newly;
}

static void dsack_received(struct sk_tcb *c, const struct tcp_seg *g)
{
    struct sk_stack *s = c->stack;
    struct tcp_rack *k = &c->rack;
    const struct tcp_sack_block *b = &g->opt.sack[0];
    s->ctr.tcp_dsack_in++;
    /* RFC 8985 6.2 step 4: a D-SACK means the reordering window was too
     * small: widen it, once per round trip. */
    if (!k->dsack_round_valid || seq_geq(c->snd_una, k->dsack_round)) {
        k->dsack_round_valid = true;
        k->dsack_round = c->snd_max;
        if (k->reo_wnd_mult < 64)
            k->reo_wnd_mult++;
        k->reo_wnd_persist = 16;
    }
    /* A duplicate at or above the episode's start: one retransmission
     * fewer that was needed (counted as Linux counts undo_retrans). */
    if (c->undo_dsack && c->ca_state != TCP_CA_OPEN && seq_gt(b->end, c->undo_marker) &&
        seq_leq(b->end, c->snd_max))
        c->undo_retrans--;
    /* A D-SACK of the probe: the probe was not needed (RFC 8985 7.4.2). */
    if (k->tlp_active && k->tlp_retrans && seq_leq(b->end, k->tlp_end_seq) &&
        seq_gt(b->end, k->tlp_end_seq - c->mss_data - 1))
        k->tlp_active = false;
}

/* RFC 8985 7.4: the ACK of the probe tells whether it repaired a loss. */
static void tlp_ack(struct sk_tcb *c)
{
    struct tcp_rack *k = &c->rack;
    if (!k->tlp_active || seq_lt(c->snd_una, k->tlp_end_seq))
        return;
    k->tlp_active = false;
    if (!k->tlp_retrans || c->ca_state != TCP_CA_OPEN)
        return;
    /* The probe was a retransmission, acknowledged without a D-SACK:
     * one of the two copies was lost, a congestion event (7.4.2). */
    struct sk_stack *s = c->stack;
    save_for_undo(c);
    c->cc.ops->on_congestion(&c->cc, reduction_base(c), s->now);
    c->cc.cwnd = max_u32(c->cc.ssthresh, 2u * c->mss_data);
    s->ctr.tcp_congestion_events++;
    s->ctr.tcp_tlp_recoveries++;
}

static void exit_persist(struct sk_tcb *c)
{
    /* The window opened: stop probing, resume at once (3.8.6.1).  A
     * probe's octet went into a closed window and was most likely
     * dropped: mark what is outstanding lost rather than wait for an RTO. */
    c->persist = false;
    c->backoff = 0;
    tcp_timer_clear(c, TCP_T_PERSIST);
    struct tcp_scoreboard *sb = &c->sb;
    if (sb->n == 1 && rec_len(sb_at(sb, 0)) == 1 && !(sb_at(sb, 0)->flags & REC_FIN)) {
        /* Only the probe's octet is out: it goes again as the start of
         * the next segment, not as a segment of its own. */
        sb_pop(sb);
        c->snd_nxt = c->snd_max = c->snd_una;
    }
    for (uint32_t i = 0; i < sb->n; i++)
        mark_lost(c, sb_at(sb, i), sb_slot(sb, i));
    if (c->snd_una != c->snd_max)
        tcp_rtx_arm(c);
}

void tcp_snd_window(struct sk_tcb *c, const struct tcp_seg *g)
{
    /* RFC 9293 3.10.7.4 fifth: the send window, taken only from the newest
     * segment (SND.WL1, SND.WL2); scaled unless on a SYN (RFC 7323 2.2). */
    if (!seq_leq(c->snd_una, g->ack) ||
        !(seq_lt(c->snd_wl1, g->seq) || (c->snd_wl1 == g->seq && seq_leq(c->snd_wl2, g->ack))))
        return;
    uint32_t wnd = (g->flags & TCP_SYN) ? g->wnd : (uint32_t)g->wnd << c->snd_wscale;
    bool opened = wnd > c->snd_wnd;
    c->snd_wnd = wnd;
    c->snd_wl1 = g->seq;
    c->snd_wl2 = g->ack;
    c->max_snd_wnd = max_u32(c->max_snd_wnd, wnd);
    if (c->persist && c->snd_wnd)
        exit_persist(c);
    if (opened)
        tcb_want_output(c);
    /* A sender held back under memory pressure by the peer's window
     * (tcp_api.c send_room) may go on. */
    if (opened && list_linked(&c->mem_link)) {
        list_del(&c->mem_link);
        tcb_event(c, SK_EV_WRITABLE);
    }
}

void tcp_snd_ack(struct sk_tcb *c, const struct tcp_seg *g)
{
    struct sk_stack *s = c->stack;
    struct tcp_scoreboard *sb = &c->sb;
    uint32_t prior_una = c->snd_una;
    uint32_t prior_pipe = tcp_snd_pipe(c);
    bool tsok = c->ts_ok && g->opt.ts && g->opt.tsecr;
    uint32_t delivered = 0, acked = 0;
    uint64_t rtt = 0;
    bool have_rtt = false;

    if (seq_gt(g->ack, c->snd_una)) {
        acked = g->ack - c->snd_una;
        uint32_t head = tcp_snd_head_seq(c);
        if (seq_gt(g->ack, head)) {
            uint32_t data = min_u32(g->ack - head, c->sndq.len);
            ring_consume(&c->sndq, data);
            if (data)
                tcb_event(c, SK_EV_WRITABLE);
            if (c->sndq.len == 0)
                ring_trim(&c->sndq, 0);
        }
        bool only_syn = !c->syn_acked;
        c->syn_acked = true;
        if (only_syn && c->syn_timed) {
            /* The SYN's round trip, never from a resent SYN (Karn). */
            rtt = s->now - c->syn_sent_us;
            have_rtt = true;
            c->syn_timed = false;
        }
        /* Records wholly acknowledged leave; RACK hears of each. */
        while (sb->n && seq_leq(sb_at(sb, 0)->end, g->ack)) {
            struct tcp_rec *r = sb_at(sb, 0);
            if (!(r->flags & REC_SACKED)) {
                delivered += rec_len(r);
                seen_reordering(c, r);
                rack_delivered(c, r, g);
                /* Karn (RFC 6298 3): time only what was sent once. */
                if (!(r->flags & REC_EVER_RETRANS)) {
                    rtt = s->now - r->xmit_us;
                    have_rtt = true;
                }
            }
            sb_pop(sb);
        }
        if (sb->n == 0 && sb->cap && c->sndq.len == 0) {
            /* All sent is acknowledged and nothing waits: the records go
             * with the ring's chunks (an idle connection holds neither).
             * A transfer that keeps data queued keeps its array. */
            sb_array_put(&s->tcp, sb->rec, sb->cap);
            sb->rec = NULL;
            sb->cap = sb->head = 0;
        }
        if (sb->n && seq_gt(g->ack, sb_at(sb, 0)->start)) {
            /* Part of a segment: the rest stays, shorter. */
            struct tcp_rec *r = sb_at(sb, 0);
            uint32_t part = g->ack - r->start;
            forget(sb, r);
            r->start = g->ack;
            if (r->flags & REC_SACKED)
                sb->sacked += rec_len(r);
            if (r->flags & REC_LOST)
                sb->lost += rec_len(r);
            if (r->flags & REC_RETRANS)
                sb->retrans += rec_len(r);
            delivered += part;
        }
        c->snd_una = g->ack;
        c->soft_error = 0; /* the path works: forget any ICMP soft error */
        if (seq_lt(c->snd_nxt, c->snd_una))
            c->snd_nxt = c->snd_una;
        if (seq_lt(sb->fack, c->snd_una))
            sb->fack = c->snd_una;
        c->backoff = 0;
        /* RFC 7323 4: with timestamps, any ACK of new data times the
         * segment it echoes, retransmitted or not. */
        bool precise = have_rtt;
        if (!have_rtt && tsok) {
            /* A clock of 1 ms: an echo of this very tick took under one
             * tick, counted as one (as Linux counts it), never as 0. */
            uint32_t ms = tcp_ts_now(c) - g->opt.tsecr;
            if (ms < 3600000u) {
                rtt = (uint64_t)(ms ? ms : 1) * 1000;
                have_rtt = true;
            }
        }
        if (have_rtt) {
            uint32_t fs = c->snd_max - c->snd_una + acked;
            uint32_t expect = c->ts_ok ? (fs + 2u * c->mss_data - 1) / (2u * c->mss_data) : 1;
            tcp_rtt_sample(c, rtt, expect, precise);
        }
        /* Eifel (RFC 3522): the first ACK after an RTO echoes the original
         * transmission's timestamp, not the retransmission's: spurious. */
        if (c->ca_state == TCP_CA_LOSS && c->undo_eifel && tsok &&
            seq_lt(g->opt.tsecr, c->undo_tsval)) {
            undo(c);
            unmark_lost(c);
            c->ca_state = TCP_CA_OPEN;
        }
        c->undo_eifel = false; /* only the first ACK after the RTO tells */
    }

    /* SACK blocks and D-SACK (RFC 2018, RFC 2883). */
    bool dsack = false;
    if (c->sack_ok && g->opt.nsack) {
        dsack = is_dsack(g);
        if (dsack)
            dsack_received(c, g);
        delivered += process_sack(c, g, dsack);
    }

    /* Duplicate ACKs (RFC 5681 2): nothing new acknowledged, no data, the
     * same window, something outstanding.  Not with a closed window: the
     * answers to window probes say nothing of losses. */
    uint32_t wnd = (uint32_t)g->wnd << c->snd_wscale;
    bool dup = g->ack == prior_una && g->len == 0 && !(g->flags & (TCP_SYN | TCP_FIN)) &&
               wnd == c->snd_wnd && wnd != 0 && !c->persist && c->snd_max != c->snd_una && !acked;
    if (acked)
        c->dupacks = 0;
    else if (dup)
        c->dupacks++;
    /* What --explain says of it, unless its text or FIN says more. */
    sk_why_in(s, acked ? SK_WHY_RX_ACK : dup ? SK_WHY_RX_DUPACK : SK_WHY_RX_ACK_ONLY, g->ack);

    /* Loss detection. */
    if (c->sack_ok) {
        if (delivered)
            rack_detect_loss(c);
    } else if (c->ca_state == TCP_CA_OPEN && dup && c->dupacks == DUPTHRESH && sb->n &&
               (seq_gt(c->snd_una, c->recover) || (!c->after_rto && c->snd_una == c->recover))) {
        /* RFC 6582 3.2 step 2: the third duplicate ACK, above the last
         * recovery point: the first segment is lost.  (After a fast
         * recovery that ended exactly at the recovery point a new loss is
         * new; only after an RTO can such ACKs be echoes of it.) */
        mark_lost(c, sb_at(sb, 0), sb_slot(sb, 0));
        s->ctr.tcp_dupack_lost++;
    } else if (c->ca_state == TCP_CA_RECOVERY && acked && seq_lt(c->snd_una, c->recover) && sb->n) {
        /* RFC 6582 3.2 step 5: a partial ACK: the next segment is lost too. */
        struct tcp_rec *r = sb_at(sb, 0);
        if (!(r->flags & (REC_LOST | REC_RETRANS))) {
            mark_lost(c, r, sb_slot(sb, 0));
            s->ctr.tcp_dupack_lost++;
        }
    }
    if (!c->sack_ok && dup && c->ca_state == TCP_CA_RECOVERY)
        delivered += c->mss_data; /* RFC 6937: a duplicate ACK delivered a segment */

    bool first = false;
    if (c->ca_state == TCP_CA_OPEN && sb->lost) {
        enter_recovery(c);
        first = true;
    }
    bool ended = false;
    if (c->ca_state != TCP_CA_OPEN && seq_geq(c->snd_una, c->recover) && acked) {
        ended = c->ca_state == TCP_CA_RECOVERY;
        exit_recovery(c);
    }

    tlp_ack(c);

    if (c->ca_state == TCP_CA_RECOVERY) {
        c->cc.cwnd = tcp_snd_pipe(c) + prr_sndcnt(c, delivered, first);
        tcb_want_output(c);
    } else if (delivered && !ended) {
        /* (The ACK that ends fast recovery leaves cwnd = ssthresh, RFC
         * 6937; growth starts with the next.) */
        /* Outside fast recovery (also in LOSS, where cwnd slow-starts from
         * one segment): the algorithm grows cwnd. */
        bool ss = c->cc.cwnd < c->cc.ssthresh;
        bool limited = c->cwnd_limited || prior_pipe + c->mss_data >= c->cc.cwnd ||
                       (ss && 2 * prior_pipe >= c->cc.cwnd);
        struct tcp_cc_ack a = {.now = s->now,
                               .acked = delivered,
                               .rtt_us = have_rtt ? (uint32_t)min_u64(rtt, UINT32_MAX) : 0,
                               .srtt_us = c->srtt_us,
                               .min_rtt_us = c->rack.min_rtt_us,
                               .in_flight = prior_pipe,
                               .snd_una = c->snd_una,
                               .snd_nxt = c->snd_max,
                               .cwnd_limited = limited};
        c->cc.ops->on_ack(&c->cc, &a);
    }

    if (acked || delivered) {
        /* RFC 6298 5.2 and 5.3: stop the timer when all is acknowledged,
         * else restart it; the probe timer follows (RFC 8985 7.2). */
        if (!c->persist) {
            if (c->snd_una == c->snd_max) {
                tcp_timer_clear(c, TCP_T_RTX);
                tcp_timer_clear(c, TCP_T_TLP);
                tcp_timer_clear(c, TCP_T_REO);
            } else if (acked) {
                tcp_rtx_arm(c);
                arm_tlp(c);
            }
        }
        tcb_want_output(c);
    } else if (dup && !c->sack_ok) {
        tcb_want_output(c); /* limited transmit, or recovery's sends */
    }
    tcp_snd_window(c, g);
    /* A live peer may keep its window shut as long as it likes (RFC 9293
     * 3.8.6.1) - unless nobody is left to send to: an orphan's probes stay
     * bounded, or a peer could hold it forever. */
    if (c->persist && c->app_owned)
        c->probes_unanswered = 0;
}

/* ---- timers ---- */

static void arm_tlp(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    /* RFC 8985 7.2: only with SACK, while open, one probe per episode. */
    if (!c->sack_ok || c->ca_state != TCP_CA_OPEN || c->rack.tlp_active || c->persist ||
        c->snd_una == c->snd_max) {
        tcp_timer_clear(c, TCP_T_TLP);
        return;
    }
    uint64_t pto;
    if (c->rtt_valid) {
        pto = 2ULL * c->srtt_us;
        if (c->snd_max - c->snd_una <= c->mss_data + 1u)
            pto += TLP_MAX_ACK_DELAY_US; /* a lone segment's ACK may be delayed */
        if (pto < TLP_MIN_US)
            pto = TLP_MIN_US;
    } else {
        pto = 1000000; /* 7.2: 1 s without an RTT sample */
    }
    uint64_t at = s->now + pto;
    /* Never later than the RTO would fire. */
    if (tcp_timer_on(c, TCP_T_RTX) && c->t.at[TCP_T_RTX] <= at) {
        tcp_timer_clear(c, TCP_T_TLP);
        return;
    }
    tcp_timer_set(c, TCP_T_TLP, at);
}

void tcp_snd_tlp_timeout(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    struct tcp_scoreboard *sb = &c->sb;
    if (!sends_data(c->state) || c->snd_una == c->snd_max || c->ca_state != TCP_CA_OPEN ||
        c->rack.tlp_active)
        return;
    /* RFC 8985 7.3: new data if the window allows, else the last segment
     * again. */
    uint32_t data_end = tcp_snd_head_seq(c) + c->sndq.len;
    uint32_t win_end = c->snd_una + c->snd_wnd;
    uint32_t before = c->snd_max;
    if (seq_lt(c->snd_nxt, data_end) && seq_lt(c->snd_nxt, win_end)) {
        bool p = false;
        sk_why_out(c->stack, SK_WHY_TLP, c->snd_nxt);
        send_new(c, c->mss_data, &p);
        c->stack->why_out = 0; /* if nothing went */
    }
    if (c->snd_max != before) {
        c->rack.tlp_retrans = false;
        note(c, SK_NOTE_TLP, before, c->snd_max);
    } else {
        uint32_t i = sb->n;
        while (i > 0 && (sb_at(sb, i - 1)->flags & REC_SACKED))
            i--;
        if (i == 0) {
            tcp_rtx_arm(c);
            return;
        }
        retransmit(c, sb_at(sb, i - 1), sb_slot(sb, i - 1), false);
        c->rack.tlp_retrans = true;
    }
    c->rack.tlp_active = true;
    c->rack.tlp_end_seq = c->snd_max;
    s->ctr.tcp_tlp++;
    c->n_tlp++;
    tcp_rtx_arm(c);
}

void tcp_snd_reo_timeout(struct sk_tcb *c)
{
    /* RFC 8985 6.3: the reordering window ran out for some segment. */
    if (!sends_data(c->state) || !rack_detect_loss(c))
        return;
    if (c->ca_state == TCP_CA_OPEN) {
        enter_recovery(c);
        c->cc.cwnd = tcp_snd_pipe(c) + prr_sndcnt(c, 0, true);
    }
    tcb_want_output(c);
}

static void window_probe(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    if (c->snd_wnd) {
        /* The window is open but was too small for the SWS rule: the
         * override timeout has passed, send what fits (3.8.6.2.1). */
        c->persist = false;
        c->sws_override = true;
        tcb_want_output(c);
        return;
    }
    uint32_t limit = s->cfg.tcp_max_retries;
    if (++c->probes_unanswered > limit) {
        s->ctr.tcp_aborts_timeout++;
        tcb_close(c, timeout_error(c));
        return;
    }
    /* One octet of data beyond the closed window: the peer must ACK it
     * with its current window (RFC 9293 3.8.6.1).  With nothing in flight
     * it is new data, a record of its own; else the first octet again. */
    uint32_t head = tcp_snd_head_seq(c);
    if (c->sndq.len > c->snd_una - head) {
        uint32_t seq = c->snd_una;
        if (c->snd_una == c->snd_max) {
            if (sb_push(c, seq, seq + 1, 0)) {
                sk_why_out(s, SK_WHY_WINDOW_PROBE, seq);
                send_range(c, seq, seq + 1, false, false);
                c->snd_nxt = c->snd_max = seq + 1;
            }
        } else {
            sk_why_out(s, SK_WHY_WINDOW_PROBE, seq);
            tcp_write_segment(c,
                              &(struct tcp_out_seg){
                                  .seq = seq, .flags = TCP_ACK, .data_off = seq - head, .len = 1});
        }
        s->ctr.tcp_window_probes++;
    }
    if (c->backoff < 30)
        c->backoff++;
    uint64_t t = (uint64_t)c->rto_us << c->backoff;
    tcp_timer_set(c, TCP_T_PERSIST, s->now + min_u64(t, rto_max(c)));
}

void tcp_snd_persist_timeout(struct sk_tcb *c)
{
    if (c->persist)
        window_probe(c);
}

/* The SYN or SYN-ACK timed out (RFC 6298 5.5, 5.7; RFC 9293 3.8.1). */
static void syn_timeout(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    s->ctr.tcp_timeouts++;
    if (c->backoff >= s->cfg.tcp_syn_retries) {
        s->ctr.tcp_aborts_timeout++;
        if (!c->passive)
            s->ctr.tcp_failed_opens++;
        tcb_close(c, timeout_error(c));
        return;
    }
    c->backoff++;
    c->rto_us = (uint32_t)min_u64((uint64_t)c->rto_us * 2, rto_max(c));
    c->snd_nxt = c->iss; /* tcp_output sends it again */
    tcp_rtx_arm(c);
    tcb_want_output(c);
}

void tcp_snd_rto_timeout(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    struct tcp_scoreboard *sb = &c->sb;
    if (c->state == SK_SYN_SENT || c->state == SK_SYN_RECEIVED) {
        syn_timeout(c);
        return;
    }
    if (c->snd_una == c->snd_max || c->persist) /* nothing outstanding: a stale timer */
        return;
    if (c->snd_wnd == 0 && c->sndq.len && sends_data(c->state)) {
        /* The peer shrank its window to zero under data in flight, which
         * a sender must be robust against (RFC 9293 3.8.6): nothing can be
         * resent into it, so probe it as in 3.8.6.1.  A peer that answers
         * the probes keeps the connection; one that does not times out
         * there (window_probe's own limit). */
        c->persist = true;
        c->backoff = 0;
        c->probes_unanswered = 0;
        tcp_timer_clear(c, TCP_T_TLP);
        window_probe(c);
        return;
    }
    s->ctr.tcp_timeouts++;
    c->n_rto++;
    if (c->backoff >= s->cfg.tcp_max_retries) {
        s->ctr.tcp_aborts_timeout++;
        tcb_close(c, timeout_error(c));
        return;
    }
    c->backoff++;
    /* RFC 6298 5.5: back off the timer; 5.6: restart it. */
    c->rto_us = (uint32_t)min_u64((uint64_t)c->rto_us * 2, rto_max(c));
    uint32_t flight = c->snd_max - c->snd_una;
    if (c->ca_state != TCP_CA_LOSS) {
        /* One reduction per episode: a second timeout in a row keeps
         * ssthresh (as Linux). */
        save_for_undo(c);
        c->cc.ops->on_rto(&c->cc, flight, s->now);
        s->ctr.tcp_congestion_events++;
        c->undo_eifel = c->ts_ok;
        c->undo_dsack = c->sack_ok;
        c->undo_marker = c->snd_una;
        c->undo_retrans = 0;
        c->undo_sent = 0;
    } else {
        /* A second RTO in a row: no longer only a late or lost ACK. */
        c->undo_eifel = c->undo_dsack = false;
    }
    c->cc.cwnd = c->mss_data; /* RFC 5681 3.1: the loss window */
    note(c, SK_NOTE_RTO, c->snd_una, c->snd_max);
    c->ca_state = TCP_CA_LOSS;
    c->after_rto = true;
    c->recover = c->snd_max;
    c->dupacks = 0;
    c->rack.tlp_active = false;
    tcp_timer_clear(c, TCP_T_TLP);
    /* RFC 8985 6.3: the first segment is lost; the others if they have
     * been out longer than an RTT and the reordering window. */
    uint32_t reo = rack_reo_wnd(c);
    uint32_t n = 0;
    for (uint32_t i = 0; i < sb->n; i++) {
        struct tcp_rec *r = sb_at(sb, i);
        if (r->flags & (REC_SACKED | REC_LOST))
            continue;
        if (i == 0 || r->xmit_us + c->rack.rtt_us + reo <= s->now) {
            mark_lost(c, r, sb_slot(sb, i));
            n++;
        }
    }
    s->ctr.tcp_rto_lost += n;
    tcp_rtx_arm(c);
    tcb_want_output(c);
}

/* The path MTU fell (tcp_icmp.c).  As Linux's tcp_simple_retransmit:
 * what is in flight at the old size was dropped by the router that told
 * us, so every record not SACKed from the first too large one on is cut
 * to the new size, marked lost and sent again now.  Not a congestion
 * event: cwnd stays; the state is LOSS until SND.UNA passes what was
 * sent, so the next ACK does not take the marks for a fast recovery. */
void tcp_snd_mtu_reduced(struct sk_tcb *c)
{
    struct tcp_scoreboard *sb = &c->sb;
    uint32_t mss = c->mss_data;
    c->cc.mss = mss;
    uint32_t k = 0;
    for (; k < sb->n; k++) {
        const struct tcp_rec *r = sb_at(sb, k);
        if (!(r->flags & REC_SACKED) && rec_len(r) - !!(r->flags & REC_FIN) > mss)
            break;
    }
    if (k == sb->n)
        return;
    /* Records [k, n) become these many. */
    uint32_t need = k;
    for (uint32_t i = k; i < sb->n; i++) {
        const struct tcp_rec *r = sb_at(sb, i);
        uint32_t data = rec_len(r) - !!(r->flags & REC_FIN);
        need += (r->flags & REC_SACKED) || data <= mss ? 1 : (data + mss - 1) / mss;
    }
    struct tcp_rec *tail = NULL;
    while (sb->cap < need)
        if (grow(c) < 0)
            break;
    if (sb->cap >= need)
        tail = malloc((sb->n - k) * sizeof(*tail));
    if (!tail) {
        /* No room to cut them: resent whole, the router tells us again. */
        for (uint32_t i = k; i < sb->n; i++)
            mark_lost(c, sb_at(sb, i), sb_slot(sb, i));
    } else {
        uint32_t m = sb->n - k;
        for (uint32_t i = 0; i < m; i++)
            tail[i] = *sb_at(sb, k + i);
        while (sb->n > k) {
            uint32_t slot = sb_slot(sb, sb->n - 1);
            forget(sb, &sb->rec[slot]);
            tl_unlink(sb, slot);
            sb->n--;
        }
        for (uint32_t i = 0; i < m; i++) {
            const struct tcp_rec *o = &tail[i];
            uint16_t fin = o->flags & REC_FIN;
            uint32_t data_end = o->end - !!fin;
            uint32_t start = o->start;
            do {
                uint32_t end = (o->flags & REC_SACKED)  ? o->end
                               : data_end - start > mss ? start + mss
                                                        : o->end;
                struct tcp_rec *r = sb_push(c, start, end, end == o->end ? fin : 0);
                r->xmit_us = o->xmit_us;
                r->nxmit = o->nxmit;
                r->flags |= o->flags & REC_EVER_RETRANS;
                if (o->flags & REC_SACKED)
                    mark_sacked(c, r, sb_slot(sb, sb->n - 1));
                else
                    mark_lost(c, r, sb_slot(sb, sb->n - 1));
                start = end;
            } while (start != o->end);
        }
        free(tail);
    }
    if (c->ca_state != TCP_CA_LOSS) {
        c->ca_state = TCP_CA_LOSS;
        c->recover = c->snd_max;
        c->undo_eifel = c->undo_dsack = false;
    }
    tcb_want_output(c);
}

void tcp_snd_start(struct sk_tcb *c)
{
    c->cc.mss = c->mss_data;
    c->cc.cwnd = tcp_cc_initial_window(c->mss_data);
    /* More than the send buffer can never be in flight: stop there, so
     * cwnd cannot grow without bound on a long transfer. */
    c->cc.cwnd_max = max_u32(c->sndbuf, 4u * c->mss_data);
    c->cc.ops->init(&c->cc, c->stack->now);
    c->rack.reo_wnd_mult = 1;
    c->ca_state = TCP_CA_OPEN;
    c->recover = c->iss; /* RFC 6582 3.2: recover starts at the ISS */
    c->snd_sml = c->snd_una;
    c->quickack = TCP_QUICKACKS;
    c->last_rcv_us = c->stack->now;
    tcp_snd_keepalive_arm(c);
}

/* ---- keep-alive (RFC 9293 3.8.4, RFC 1122 4.2.3.6) ---- */

void tcp_snd_keepalive_arm(struct sk_tcb *c)
{
    if (!c->ka_idle_us) {
        tcp_timer_clear(c, TCP_T_KEEPALIVE);
        return;
    }
    uint64_t at = c->last_rcv_us + (c->ka_sent ? c->ka_intvl_us : c->ka_idle_us);
    if (at <= c->stack->now)
        at = c->stack->now + 1;
    tcp_timer_set(c, TCP_T_KEEPALIVE, at);
}

void tcp_snd_keepalive_timeout(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    if (!c->ka_idle_us ||
        (c->state != SK_ESTABLISHED && c->state != SK_CLOSE_WAIT && c->state != SK_FIN_WAIT_2))
        return;
    uint64_t idle = s->now - c->last_rcv_us;
    if (c->snd_una != c->snd_max || c->persist) {
        /* Data outstanding: the RTO or the window probes watch the peer. */
        c->ka_sent = 0;
        tcp_timer_set(c, TCP_T_KEEPALIVE, s->now + c->ka_idle_us);
        return;
    }
    if (!c->ka_sent && idle < c->ka_idle_us) {
        /* The peer spoke since the timer was set: wait out the rest. */
        tcp_timer_set(c, TCP_T_KEEPALIVE, c->last_rcv_us + c->ka_idle_us);
        return;
    }
    if (c->ka_sent >= c->ka_count) {
        s->ctr.tcp_aborts_keepalive++;
        tcp_cause(s, "keep-alive unanswered");
        tcb_close(c, timeout_error(c));
        return;
    }
    /* RFC 1122 4.2.3.6: SEG.SEQ = SND.NXT-1, no data: an old sequence
     * number the peer must answer with an ACK. */
    sk_why_out(s, SK_WHY_KEEPALIVE, c->snd_una - 1);
    tcp_write_segment(c, &(struct tcp_out_seg){.seq = c->snd_una - 1, .flags = TCP_ACK});
    c->ka_sent++;
    s->ctr.tcp_keepalive_probes++;
    note(c, SK_NOTE_KEEPALIVE, c->snd_una - 1, c->snd_una - 1);
    tcp_timer_set(c, TCP_T_KEEPALIVE, s->now + c->ka_intvl_us);
}
