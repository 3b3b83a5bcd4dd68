/* tcp_rcv.c - the receiver: the receive queue and its out-of-order ranges,
 * the SACK and D-SACK blocks that describe them (RFC 2018, RFC 2883), the
 * window we announce (RFC 9293 3.8.6.2.2, RFC 7323 2), and when to ACK.
 *
 * The ACK policy:
 *   - in-order data is ACKed at least every second full-sized segment
 *     (RFC 5681 4.2), else by the delayed-ACK timer, tcp_delack_ms (40 ms
 *     by default, at most 200 ms, RFC 1122 4.2.3.2).  In a steady stream
 *     a batch of frames shares one ACK, sent at the flush (as GRO makes
 *     Linux do): an ACK per two segments would cost a write each;
 *   - the first TCP_QUICKACKS ACKs of a connection, and those after
 *     out-of-order data or a duplicate segment, go without delay, so a
 *     peer in slow start or in recovery is not held back by our timer
 *     (Linux's quick-ACK mode).  In that phase the second full-sized
 *     segment is ACKed at once, inside the batch: a single ACK for a whole
 *     batch is a stretch ACK (RFC 2525 2.13), and a sender with a small
 *     window that loses it has nothing left to learn from but its RTO;
 *   - every out-of-order segment gets its own duplicate ACK at once, with
 *     SACK blocks as they are at that moment (RFC 5681 4.2, RFC 2018 4):
 *     never one for a batch, since the sender counts them;
 *   - data that fills all or part of a gap is ACKed at once too (RFC 5681
 *     4.2), its ACK covering just what it joined;
 *   - a duplicate (with its D-SACK), a FIN, and a window that opened are
 *     ACKed at the next flush.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "core.h"
#include "seq.h"
#include "tcp.h"

uint32_t tcp_rcv_window(struct sk_tcb *c)
{
    /* A passive open has no ring until ESTABLISHED: offer its future size. */
    uint32_t cap = c->rcvbuf;
    uint32_t used = c->rcvq.len;
    uint32_t space = used < cap ? cap - used : 0;
    uint32_t max = c->ws_ok ? (uint32_t)min_u64((uint64_t)65535 << c->rcv_wscale, 1u << 30) : 65535;
    uint32_t unit = c->ws_ok ? 1u << c->rcv_wscale : 1;
    /* What the buffer really has, in whole units of the scale: the window
     * field rounds up from here (tcp_write_segment). */
    uint32_t win = min_u32(space, max) & ~(unit - 1);
    uint32_t cur = c->rcv_adv_set && seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    /* Receiver side of SWS avoidance (RFC 9293 3.8.6.2.2): move the right
     * edge only by at least min(buffer/2, MSS); never move it left
     * (3.8.6.2.1: the window must not shrink). */
    uint32_t step = min_u32(cap / 2, c->mss);
    if (win < cur + step)
        win = cur;
    /* Buffer memory under pressure (past 7/8 of sk_config.tcp_mem_max):
     * the right edge stays where it is, so the window only shrinks as
     * data comes, and the peer is refused new data gracefully rather than
     * have it dropped at the budget.  A connection holding no chunk may
     * still open up to one, so none stalls for good. */
    if (win > cur && tcp_mem_pressure(c->stack)) {
        uint32_t one = 0;
        if (!c->rcvq.nheld)
            one = min_u32(win, RING_CHUNK - (c->rcvq.head & (RING_CHUNK - 1))) & ~(unit - 1);
        win = max_u32(cur, one);
    }
    return win;
}

void tcp_rcv_ack_now(struct sk_tcb *c, int why)
{
    c->ack_now = true;
    c->ack_why = (uint8_t)why;
    tcb_want_output(c);
}

void tcp_rcv_ack_sent(struct sk_tcb *c)
{
    if (c->rcv_unacked && c->quickack)
        c->quickack--;
    c->ack_now = false;
    c->ack_why = 0;
    c->rcv_unacked = 0;
    c->dsack_pending = false;
    tcp_timer_clear(c, TCP_T_DELACK);
}

void tcp_rcv_delack_timeout(struct sk_tcb *c)
{
    if (c->state == SK_CLOSED || c->state == SK_LISTEN)
        return;
    c->stack->ctr.tcp_delayed_acks++;
    tcp_rcv_ack_now(c, SK_WHY_ACK_DELAYED);
}

/* In-order data arrived: ACK now or later (the policy above). */
static void ack_policy(struct sk_tcb *c, uint32_t len)
{
    struct sk_stack *s = c->stack;
    c->rcv_unacked += len;
    /* "Full-sized" is the peer's segment, also when a TAP hands over
     * several at once (a TSO frame: its gso_size). */
    uint32_t seg = s->rx_meta && s->rx_meta->gso_size ? s->rx_meta->gso_size : len;
    if (seg > c->rcv_mss)
        c->rcv_mss = (uint16_t)min_u32(seg, UINT16_MAX);
    bool second = c->rcv_unacked >= 2u * c->rcv_mss;
    if (second && c->quickack) {
        /* no stretch ACK while ACKs are quick (above) */
        tcp_send_ack_why(c, SK_WHY_ACK_QUICK);
        return;
    }
    if (c->quickack || second) {
        tcp_rcv_ack_now(c, second ? SK_WHY_ACK_SECOND : SK_WHY_ACK_QUICK);
        return;
    }
    if (!tcp_timer_on(c, TCP_T_DELACK))
        tcp_timer_set(c, TCP_T_DELACK, s->now + 1000ULL * s->cfg.tcp_delack_ms);
}

/* ---- out-of-order ranges: sorted by start, all above rcv_nxt ---- */

uint32_t tcp_rcv_ooo_extent(const struct sk_tcb *c)
{
    return c->n_ooo ? c->ooo[c->n_ooo - 1].end - c->rcv_nxt : 0;
}

static void ooo_remove(struct sk_tcb *c, int i)
{
    memmove(&c->ooo[i], &c->ooo[i + 1], (size_t)(c->n_ooo - i - 1) * sizeof(c->ooo[0]));
    c->n_ooo--;
    if (c->ooo_last == i)
        c->ooo_last = -1;
    else if (c->ooo_last > i)
        c->ooo_last--;
}

/* Records [start, end) as held; false if it could not be (the table is
 * full: the bytes are then forgotten and the peer sends them again). */
static bool ooo_add(struct sk_tcb *c, uint32_t start, uint32_t end)
{
    struct sk_stack *s = c->stack;
    /* A duplicate of what a range holds already: D-SACK it, with the
     * range as the next block (RFC 2883 4.1 (2)). */
    for (int i = 0; i < c->n_ooo; i++)
        if (seq_leq(c->ooo[i].start, start) && seq_leq(end, c->ooo[i].end)) {
            c->dsack = (struct tcp_sack_block){start, end};
            c->dsack_pending = true;
            c->ooo_last = (int16_t)i;
            s->ctr.tcp_dsack_out++;
            return true;
        }
    /* Merge every range that touches [start, end). */
    int first = -1, n = 0;
    for (int i = 0; i < c->n_ooo; i++) {
        struct tcp_ooo *r = &c->ooo[i];
        if (seq_leq(r->start, end) && seq_leq(start, r->end)) {
            start = seq_min(start, r->start);
            end = seq_max(end, r->end);
            if (first < 0)
                first = i;
            n++;
        }
    }
    if (first >= 0) {
        c->ooo[first].start = start;
        c->ooo[first].end = end;
        c->ooo[first].stamp = ++c->ooo_stamp;
        for (int k = 1; k < n; k++)
            ooo_remove(c, first + 1); /* the ones merged were consecutive */
        c->ooo_last = (int16_t)first;
        return true;
    }
    if (c->n_ooo == c->ooo_cap) {
        /* Doubling up to the stack's limit (sk_config.tcp_max_ooo). */
        uint32_t cap = c->ooo_cap ? 2u * c->ooo_cap : 8;
        if (cap > s->cfg.tcp_max_ooo)
            cap = s->cfg.tcp_max_ooo;
        struct tcp_ooo *a = cap > c->ooo_cap ? realloc(c->ooo, cap * sizeof(*a)) : NULL;
        if (!a) {
            s->ctr.drop_tcp_ooo_full++;
            return false;
        }
        c->ooo = a;
        c->ooo_cap = (uint16_t)cap;
    }
    int at = 0;
    while (at < c->n_ooo && seq_lt(c->ooo[at].start, start))
        at++;
    memmove(&c->ooo[at + 1], &c->ooo[at], (size_t)(c->n_ooo - at) * sizeof(c->ooo[0]));
    c->ooo[at] = (struct tcp_ooo){start, end, ++c->ooo_stamp};
    c->n_ooo++;
    if (c->ooo_last >= at)
        c->ooo_last++;
    c->ooo_last = (int16_t)at;
    return true;
}

/* Moves rcv_nxt over the ranges the new data reached; true if it did. */
static bool ooo_merge(struct sk_tcb *c)
{
    bool moved = false;
    while (c->n_ooo && seq_leq(c->ooo[0].start, c->rcv_nxt)) {
        if (seq_gt(c->ooo[0].end, c->rcv_nxt)) {
            uint32_t n = c->ooo[0].end - c->rcv_nxt;
            c->rcvq.len += n; /* the bytes are already in place */
            c->rcv_nxt += n;
            c->rcv_wnd -= min_u32(n, c->rcv_wnd);
            moved = true;
        }
        ooo_remove(c, 0);
    }
    /* The gaps are filled: the array goes (an idle connection holds none;
     * a new one is taken at the next loss, not per segment). */
    if (c->n_ooo == 0)
        tcp_rcv_free(c);
    return moved;
}

void tcp_rcv_text(struct sk_tcb *c, uint32_t seq, const uint8_t *data, uint32_t len)
{
    struct sk_stack *s = c->stack;
    uint32_t off = seq - c->rcv_nxt;
    if (s->rx_placed) {
        /* Read into the ring where sk_rx_place said, at RCV.NXT: the
         * frame was checked to be that segment (tcp_rx_placed_ok). */
        if (off != 0)
            return; /* cannot be: its bytes are not where they belong */
        s->ctr.tcp_rx_placed++;
    } else if (ring_write_at(&c->rcvq, c->rcvq.len + off, data, len) < 0) {
        /* The window we announced never exceeds the ring, so the bytes
         * fit, unless memory ran out. */
        s->ctr.drop_tcp_rcv_nomem++;
        return;
    }
    if (off == 0) {
        if (s->tcp.last_data != c) {
            s->tcp.last_data = c;
            s->tcp.data_streak = 0;
        }
        if (s->tcp.data_streak < 255)
            s->tcp.data_streak++;
        bool gap = c->n_ooo != 0;
        c->rcvq.len += len;
        c->rcv_nxt += len;
        c->rcv_wnd -= min_u32(len, c->rcv_wnd);
        tcb_event(c, SK_EV_READABLE);
        sk_why_in(s, gap ? SK_WHY_RX_GAP : SK_WHY_RX_DATA, seq);
        if (gap) {
            /* All or part of a gap filled: ACK at once, not at the flush,
             * so the sender's recovery moves on (RFC 5681 4.2) and the
             * segments after it in the batch get ACKs of their own. */
            ooo_merge(c);
            c->rcv_unacked += len;
            if (c->ooo_fin && c->ooo_fin_seq == c->rcv_nxt)
                tcp_rcv_ack_now(c, SK_WHY_ACK_GAP); /* the held FIN is next: one ACK for both */
            else
                tcp_send_ack_why(c, SK_WHY_ACK_GAP);
            return;
        }
        ack_policy(c, len);
        return;
    }
    s->ctr.tcp_ooo_segments++;
    if (!ooo_add(c, seq, seq + len))
        return;
    sk_why_in(s, SK_WHY_RX_OOO, seq);
    /* One duplicate ACK per out-of-order segment, now (RFC 5681 4.2): the
     * sender counts them.  What follows the gap is ACKed at once too. */
    c->quickack = TCP_QUICKACKS;
    s->ctr.tcp_dupacks_out++;
    tcp_send_ack_why(c, SK_WHY_ACK_OOO);
}

/* ---- receiving in place (sk_rx_place, sk_input_placed) ----
 *
 * A 64 KiB TSO frame read from a TAP and then copied into the receive
 * ring is two copies of every byte; read straight into the ring it is
 * one.  The place is given for the connection in-order data came to last
 * twice in a row or more (a bulk receiver's), at RCV.NXT, for as much as its window allows; the
 * headers go to a buffer of the caller's, as long as that connection's
 * segments carry.  A frame that is not that segment is refused, and the
 * caller hands it over whole, as any other. */

int tcp_rx_place(struct sk_stack *s, size_t max, struct sk_rx_place *p)
{
    tcp_rx_place_done(s); /* one given before and never used */
    p->n = 0;
    /* Only for a connection whose segments come in a row: with streams
     * interleaved frame by frame, most frames would be refused and put
     * together again, one copy more than reading them whole. */
    struct sk_tcb *c = s->tcp.last_data;
    if (!c || s->tcp.data_streak < 2 || !c->app_owned || c->fin_received ||
        (c->state != SK_ESTABLISHED && c->state != SK_FIN_WAIT_1 && c->state != SK_FIN_WAIT_2))
        return 0;
    uint32_t room = c->rcv_wnd < max ? c->rcv_wnd : (uint32_t)max;
    /* Never over out-of-order data already in the ring: a frame read there
     * that is not the next segment would overwrite it. */
    if (c->n_ooo && c->ooo[0].start - c->rcv_nxt < room)
        room = c->ooo[0].start - c->rcv_nxt;
    struct ring_span sp[SK_RX_SPANS];
    int n = room ? ring_place(&c->rcvq, c->rcvq.len, room, sp, SK_RX_SPANS) : 0;
    if (n == 0)
        return 0;
    /* Ethernet, IPv4 without options, TCP with the timestamps option as
     * every segment of a connection that agreed to them carries it (RFC
     * 7323 3.2), 12 bytes with its two NOPs as Linux and we send it. */
    uint32_t hdr_len = 14 + 20 + 20 + (c->ts_ok ? 12 : 0);
    s->tcp.place = (struct tcp_place){.given = true,
                                      .laddr = c->laddr,
                                      .raddr = c->raddr,
                                      .lport = c->lport,
                                      .rport = c->rport,
                                      .seq = c->rcv_nxt,
                                      .head = c->rcvq.head,
                                      .len = c->rcvq.len,
                                      .room = room,
                                      .hdr_len = hdr_len};
    p->hdr_len = hdr_len;
    p->n = n;
    for (int i = 0; i < n; i++) {
        p->span[i].base = sp[i].base;
        p->span[i].len = sp[i].len;
    }
    return n;
}

bool tcp_rx_placed_ok(struct sk_stack *s, const uint8_t *f, size_t len, size_t placed)
{
    const struct tcp_place *pl = &s->tcp.place;
    if (!pl->given || len != pl->hdr_len || placed > pl->room)
        return false;
    const uint8_t *ip = f + 14, *tcp = ip + 20;
    /* IPv4 (ethertype 0x0800), version 4 with a 20-byte header, as long
     * as the headers and the placed bytes, not a fragment, TCP, between
     * the place's two ends, with a TCP header of the length expected and
     * the sequence number placed for. */
    if (rd16(f + 12) != 0x0800 || ip[0] != 0x45 || rd16(ip + 2) != len - 14 + placed ||
        (rd16(ip + 6) & 0x3fff) != 0 || ip[9] != 6 || rd32(ip + 12) != pl->raddr ||
        rd32(ip + 16) != pl->laddr || rd16(tcp) != pl->rport || rd16(tcp + 2) != pl->lport ||
        (size_t)(tcp[12] >> 4) * 4 != len - 34 || rd32(tcp + 4) != pl->seq)
        return false;
    /* The connection, and its ring, as they were when the place was given. */
    struct sk_tcb *c = tcb_lookup(s, pl->laddr, pl->lport, pl->raddr, pl->rport);
    return c && c == s->tcp.last_data && c->rcv_nxt == pl->seq && c->rcvq.head == pl->head &&
           c->rcvq.len == pl->len;
}

void tcp_rx_place_done(struct sk_stack *s)
{
    struct tcp_place *pl = &s->tcp.place;
    if (!pl->given)
        return;
    pl->given = false;
    struct sk_tcb *c = tcb_lookup(s, pl->laddr, pl->lport, pl->raddr, pl->rport);
    if (c)
        ring_trim(&c->rcvq, c->rcvq.len + tcp_rcv_ooo_extent(c));
}

void tcp_rcv_duplicate(struct sk_tcb *c, uint32_t seq, uint32_t end)
{
    /* The peer sent again what we have: it is recovering (its timeout, or
     * our ACKs lost), so ACK quickly while it rebuilds its window. */
    c->quickack = TCP_QUICKACKS;
    /* RFC 2883 4.1 (1): the first block reports the duplicate. */
    if (c->sack_ok) {
        c->dsack = (struct tcp_sack_block){seq, end};
        c->dsack_pending = true;
        c->stack->ctr.tcp_dsack_out++;
    }
    sk_why_in(c->stack, SK_WHY_RX_DUP, seq);
    tcp_rcv_ack_now(c, SK_WHY_ACK_DUP);
}

void tcp_rcv_fin(struct sk_tcb *c)
{
    c->rcv_nxt += 1;
    if (c->rcv_wnd)
        c->rcv_wnd -= 1;
    c->fin_received = true;
    /* The FIN is the stream's last octet (RFC 9293 3.4): out-of-order data
     * beyond it can never be delivered, and its ranges, left starting at or
     * past rcv_nxt, would be reported in SACK blocks and never merged.
     * Forget them and give back their chunks. */
    if (c->n_ooo) {
        c->n_ooo = 0;
        c->ooo_last = -1;
        ring_trim(&c->rcvq, c->rcvq.len);
    }
    sk_why_in(c->stack, SK_WHY_RX_FIN, c->rcv_nxt - 1);
    tcp_rcv_ack_now(c, SK_WHY_ACK_FIN);
}

int tcp_rcv_sack_blocks(struct sk_tcb *c, struct tcp_sack_block *b, int max)
{
    int n = 0;
    if (c->dsack_pending)
        b[n++] = c->dsack;
    /* RFC 2018 4: first the block of the most recent segment (with a
     * D-SACK, the range holding the duplicate: RFC 2883 4.1), then the
     * others, most recently changed first. */
    int taken[4];
    int ntaken = 0;
    if (c->ooo_last >= 0 && c->ooo_last < c->n_ooo && n < max) {
        b[n++] = (struct tcp_sack_block){c->ooo[c->ooo_last].start, c->ooo[c->ooo_last].end};
        taken[ntaken++] = c->ooo_last;
    }
    while (n < max) {
        int best = -1;
        for (int i = 0; i < c->n_ooo; i++) {
            bool used = false;
            for (int k = 0; k < ntaken; k++)
                used |= taken[k] == i;
            if (!used && (best < 0 || c->ooo[i].stamp > c->ooo[best].stamp))
                best = i;
        }
        if (best < 0)
            break;
        b[n++] = (struct tcp_sack_block){c->ooo[best].start, c->ooo[best].end};
        taken[ntaken++] = best;
    }
    return n;
}

void tcp_rcv_app_read(struct sk_tcb *c, uint32_t before)
{
    /* RFC 9293 3.8.6.2.2: tcp_rcv_window moves the right edge only by
     * min(RCV.BUFF/2, MSS) or more (receiver SWS avoidance).  When it
     * moves, a window update goes at once if the peer may be stalled on a
     * window below one segment, or if the window at least doubled;
     * otherwise the next ACK carries it.  (Waiting for an opening of a
     * whole MSS would never reopen a zero window whose buffer is smaller
     * than an MSS: the peer would have to probe.) */
    uint32_t after = tcp_rcv_window(c);
    if (c->state != SK_CLOSED && c->state != SK_TIME_WAIT && after > before &&
        (before < c->mss || after >= 2 * before))
        tcp_rcv_ack_now(c, SK_WHY_ACK_WINDOW);
    /* A drained queue gives its memory back. */
    if (c->rcvq.len == 0)
        ring_trim(&c->rcvq, tcp_rcv_ooo_extent(c));
}

void tcp_rcv_free(struct sk_tcb *c)
{
    free(c->ooo);
    c->ooo = NULL;
    c->n_ooo = c->ooo_cap = 0;
    c->ooo_last = -1;
}
