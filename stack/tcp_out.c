/* tcp_out.c - TCP segment output, retransmission (RFC 6298), window probes
 * (RFC 9293 3.8.6.1), and RSTs.
 *
 * tcp_output() is the one place a connection decides what to send: the
 * SYN (or SYN-ACK) while opening, then data from snd_nxt as far as the
 * peer's window and cwnd allow, in MSS-sized segments, a FIN after the last
 * byte once the app closed, and a bare ACK if one is owed and nothing else
 * carried it.  A retransmission timeout only moves snd_nxt back to snd_una
 * (go-back-N) and lets tcp_output send again. */
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"
#include "ipv4.h"
#include "seq.h"
#include "tcp.h"

uint32_t tcp_snd_head_seq(const struct sk_tcb *c)
{
    /* Until our SYN is acknowledged, snd_una is the SYN's own number.  A
     * flag, not snd_una == iss: after 2^32 bytes snd_una meets iss again. */
    return c->syn_acked ? c->snd_una : c->iss + 1;
}

uint32_t tcp_rcv_window(struct sk_tcb *c)
{
    /* A passive open has no ring until ESTABLISHED: offer its future size. */
    uint32_t cap = c->rcvq.buf ? c->rcvq.cap : c->stack->cfg.tcp_rcvbuf;
    uint32_t space = c->rcvq.buf ? ring_space(&c->rcvq) : cap;
    uint32_t win = min_u32(space, TCP_MAX_WINDOW);
    /* Receiver side of SWS avoidance (RFC 9293 3.8.6.2.2): move the right
     * edge only by at least min(buffer/2, MSS); never shrink it. */
    uint32_t step = min_u32(cap / 2, c->mss);
    if (win < c->rcv_wnd + step)
        win = c->rcv_wnd;
    return win;
}

static uint32_t rto_max(const struct sk_tcb *c)
{
    return c->stack->cfg.tcp_rto_max_ms * 1000;
}

void tcp_rtt_sample(struct sk_tcb *c, uint64_t rtt_us)
{
    uint32_t r = (uint32_t)min_u64(rtt_us, UINT32_MAX / 4);
    if (!c->rtt_valid) { /* RFC 6298 2.2 */
        c->srtt_us = r;
        c->rttvar_us = r / 2;
        c->rtt_valid = true;
    } else { /* 2.3, with alpha 1/8 and beta 1/4 */
        uint32_t delta = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
        c->rttvar_us = (3 * c->rttvar_us + delta) / 4;
        c->srtt_us = (7 * c->srtt_us + r) / 8;
    }
    /* RTO = SRTT + max(G, 4*RTTVAR), G our 1 us clock; then 2.4's bounds
     * (our documented minimum, not RFC 6298's conservative 1 s). */
    uint32_t rto = c->srtt_us + max_u32(1, 4 * c->rttvar_us);
    c->rto_us = min_u32(max_u32(rto, c->stack->cfg.tcp_rto_min_ms * 1000), rto_max(c));
}

void tcp_rtx_arm(struct sk_tcb *c)
{
    uint64_t t = (uint64_t)c->rto_us;
    c->rtx_deadline = c->stack->now + t;
    tcb_timer_update(c);
}

/* Builds and sends one segment from the TCB. */
static void send_segment(struct sk_tcb *c, uint32_t seq, uint8_t flags, uint32_t data_off,
                         uint32_t len)
{
    struct sk_stack *s = c->stack;
    uint8_t *p = ipv4_payload(s);
    size_t hlen = TCP_HDR_LEN;
    if (flags & TCP_SYN) {
        /* MSS option, RFC 9293 3.7.1: sent only on SYNs. */
        p[20] = 2;
        p[21] = 4;
        wr16(p + 22, (uint16_t)(s->cfg.mtu - IP_HDR_LEN - TCP_HDR_LEN));
        hlen += 4;
    }
    uint32_t win = tcp_rcv_window(c);
    c->rcv_wnd = win;
    wr16(p, c->lport);
    wr16(p + 2, c->rport);
    wr32(p + 4, seq);
    wr32(p + 8, (flags & TCP_ACK) ? c->rcv_nxt : 0);
    p[12] = (uint8_t)((hlen / 4) << 4);
    p[13] = flags;
    wr16(p + 14, (uint16_t)win);
    wr16(p + 16, 0);
    wr16(p + 18, 0);
    if (len)
        ring_peek(&c->sndq, data_off, p + hlen, len);
    size_t tot = hlen + len;
    uint32_t sum = csum_pseudo(c->laddr, c->raddr, IP_PROTO_TCP, (uint16_t)tot);
    wr16(p + 16, csum_finish(csum_partial(p, tot, sum)));
    if (flags & TCP_ACK)
        c->ack_now = false;
    /* Anything sent at or below snd_max was sent before. */
    if (seq_lt(seq, c->snd_max) && (len || (flags & (TCP_SYN | TCP_FIN)))) {
        c->retransmits++;
        s->ctr.tcp_retransmits++;
    }
    s->ctr.tcp_out++;
    ipv4_send(s, c->raddr, IP_PROTO_TCP, tot);
}

/* Marks [seq, end) as sent: moves snd_nxt and snd_max, times a new segment,
 * and makes sure the retransmission timer runs. */
static void sent(struct sk_tcb *c, uint32_t seq, uint32_t end)
{
    if (seq_geq(seq, c->snd_max) && !c->rtt_timing) {
        c->rtt_timing = true;
        c->rtt_seq = end;
        c->rtt_start = c->stack->now;
    }
    c->snd_nxt = end;
    c->snd_max = seq_max(c->snd_max, end);
    if (!c->rtx_deadline && !c->persist)
        tcp_rtx_arm(c);
}

static void fin_out(struct sk_tcb *c, uint32_t seq)
{
    c->fin_sent = true;
    c->fin_seq = seq;
}

static bool sends_data(int state)
{
    return state == SK_ESTABLISHED || state == SK_CLOSE_WAIT || state == SK_FIN_WAIT_1 ||
           state == SK_CLOSING || state == SK_LAST_ACK;
}

uint32_t tcp_ctl_seq(const struct sk_tcb *c)
{
    /* RFC 9293's SND.NXT for a segment without data.  Normally the highest
     * sequence sent: after a timeout snd_nxt is back at snd_una, below what
     * the peer may already hold, where it would be unacceptable
     * (3.10.7.4).  But while we probe a zero window, the probe's octet is
     * beyond it: a closed window accepts only SEG.SEQ = RCV.NXT, which is
     * our snd_una (as BSD sends at snd_nxt while persisting). */
    return c->persist ? c->snd_una : c->snd_max;
}

void tcp_send_ack(struct sk_tcb *c)
{
    send_segment(c, tcp_ctl_seq(c), TCP_ACK, 0, 0);
}

void tcp_output(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    switch (c->state) {
    case SK_CLOSED:
    case SK_LISTEN:
        return;
    case SK_SYN_SENT:
    case SK_SYN_RECEIVED:
        if (c->snd_nxt == c->iss) {
            uint8_t flags = TCP_SYN | (c->state == SK_SYN_RECEIVED ? TCP_ACK : 0);
            send_segment(c, c->iss, flags, 0, 0);
            sent(c, c->iss, c->iss + 1);
        }
        break;
    default:
        break;
    }

    if (sends_data(c->state)) {
        uint32_t head = tcp_snd_head_seq(c);
        uint32_t data_end = head + c->sndq.len;
        uint32_t win_end = c->snd_una + min_u32(c->snd_wnd, c->cwnd);
        bool sws_blocked = false;
        /* Bounded: each pass sends at least one byte or the FIN, or stops. */
        while (seq_lt(c->snd_nxt, data_end)) {
            uint32_t room = seq_lt(c->snd_nxt, win_end) ? win_end - c->snd_nxt : 0;
            uint32_t n = min_u32(min_u32(data_end - c->snd_nxt, room), c->mss);
            if (n == 0)
                break;
            /* Sender SWS avoidance (RFC 9293 3.8.6.2.1): a segment goes if it
             * is full, or holds all the (pushed) data queued, or at least
             * half the largest window the peer offered - or when the
             * override timer says so.  Otherwise wait for the window. */
            if (n < c->mss && n < data_end - c->snd_nxt && n < c->max_snd_wnd / 2 &&
                !c->sws_override) {
                sws_blocked = true;
                break;
            }
            uint8_t flags = TCP_ACK;
            uint32_t end = c->snd_nxt + n;
            if (end == data_end) {
                flags |= TCP_PSH; /* the last segment of what the app wrote */
                if (c->fin_queued)
                    flags |= TCP_FIN; /* FIN rides on the last data */
            }
            uint32_t seq = c->snd_nxt;
            send_segment(c, seq, flags, seq - head, n);
            if (flags & TCP_FIN)
                fin_out(c, end);
            sent(c, seq, end + !!(flags & TCP_FIN));
        }
        if (c->fin_queued && c->snd_nxt == data_end) {
            /* The FIN alone (needs no window, RFC 9293 3.10.4). */
            send_segment(c, data_end, TCP_FIN | TCP_ACK, 0, 0);
            fin_out(c, data_end);
            sent(c, data_end, data_end + 1);
        }
        c->sws_override = false;
        /* Zero window (or one too small to use, above) with data waiting and
         * nothing in flight: the persist timer probes it (RFC 9293 3.8.6.1)
         * or overrides the SWS rule; the retransmission timer stays off. */
        if ((c->snd_wnd == 0 || sws_blocked) && seq_lt(c->snd_nxt, data_end) &&
            c->snd_una == c->snd_max && !c->persist) {
            c->persist = true;
            c->backoff = 0;
            c->probes_unanswered = 0;
            c->rtx_deadline = s->now + c->rto_us;
            tcb_timer_update(c);
        }
    }
    if (c->ack_now)
        tcp_send_ack(c);
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
        tcb_close(c, SK_ETIMEDOUT);
        return;
    }
    /* One octet of new data beyond the closed window: the peer must ACK it
     * with its current window (RFC 9293 3.8.6.1). */
    uint32_t head = tcp_snd_head_seq(c);
    if (c->snd_wnd == 0 && c->sndq.len > c->snd_una - head) {
        uint32_t seq = c->snd_una;
        send_segment(c, seq, TCP_ACK, seq - head, 1);
        c->snd_nxt = seq_max(c->snd_nxt, seq + 1);
        c->snd_max = seq_max(c->snd_max, seq + 1);
        s->ctr.tcp_window_probes++;
    }
    if (c->backoff < 30)
        c->backoff++;
    uint64_t t = (uint64_t)c->rto_us << c->backoff;
    c->rtx_deadline = s->now + min_u64(t, rto_max(c));
    tcb_timer_update(c);
}

void tcp_rtx_timeout(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    if (c->persist) {
        window_probe(c);
        return;
    }
    if (c->snd_una == c->snd_max) /* nothing outstanding: a stale timer */
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
        c->rtt_timing = false;
        c->snd_nxt = c->snd_una;
        window_probe(c);
        return;
    }
    s->ctr.tcp_timeouts++;
    bool opening = c->state == SK_SYN_SENT || c->state == SK_SYN_RECEIVED;
    uint32_t limit = opening ? s->cfg.tcp_syn_retries : s->cfg.tcp_max_retries;
    if (c->backoff >= limit) {
        s->ctr.tcp_aborts_timeout++;
        if (opening && !c->passive)
            s->ctr.tcp_failed_opens++;
        tcb_close(c, SK_ETIMEDOUT);
        return;
    }
    c->backoff++;
    /* RFC 6298 5.5: back off the timer; 5.6: restart it. */
    c->rto_us = (uint32_t)min_u64((uint64_t)c->rto_us * 2, rto_max(c));
    /* RFC 5681 3.1 eqn. 4: ssthresh = max(FlightSize / 2, 2*SMSS); the
     * loss window is one segment. */
    uint32_t flight = c->snd_max - c->snd_una;
    c->ssthresh = max_u32(flight / 2, 2u * c->mss);
    c->cwnd = c->mss;
    /* Karn: no RTT sample from what is about to be retransmitted. */
    c->rtt_timing = false;
    c->snd_nxt = c->snd_una;
    tcp_rtx_arm(c);
    tcb_want_output(c);
}

void tcp_send_rst(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                  uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags)
{
    (void)laddr;
    uint8_t *p = ipv4_payload(s);
    wr16(p, lport);
    wr16(p + 2, rport);
    wr32(p + 4, seq);
    wr32(p + 8, ack);
    p[12] = (TCP_HDR_LEN / 4) << 4;
    p[13] = flags;
    wr16(p + 14, 0);
    wr16(p + 16, 0);
    wr16(p + 18, 0);
    uint32_t sum = csum_pseudo(s->cfg.addr, raddr, IP_PROTO_TCP, TCP_HDR_LEN);
    wr16(p + 16, csum_finish(csum_partial(p, TCP_HDR_LEN, sum)));
    s->ctr.tcp_out++;
    s->ctr.tcp_rst_sent++;
    ipv4_send(s, raddr, IP_PROTO_TCP, TCP_HDR_LEN);
}

void tcp_reply_rst(struct sk_stack *s, const struct tcp_seg *g)
{
    /* RFC 9293 3.10.7.1: if the ACK bit is set <SEQ=SEG.ACK><CTL=RST>,
     * else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
    if (g->flags & TCP_ACK)
        tcp_send_rst(s, g->daddr, g->dport, g->saddr, g->sport, g->ack, 0, TCP_RST);
    else
        tcp_send_rst(s, g->daddr, g->dport, g->saddr, g->sport, 0, g->seq + seg_len(g),
                     TCP_RST | TCP_ACK);
}
