/* tcp_out.c - writing segments: the header, the options every segment of a
 * connection carries (timestamps, SACK blocks; MSS, window scale and
 * SACK-permitted on SYNs), the payload from the send ring; and RSTs.
 *
 * tcp_output() is what a flush runs for a connection: the SYN (or
 * SYN-ACK) while opening, then whatever the sender (tcp_snd.c) decides, and
 * a bare ACK if one is still owed after that. */
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"
#include "ipv4.h"
#include "seq.h"
#include "tcp.h"

static bool sends_data(int state)
{
    return state == SK_ESTABLISHED || state == SK_CLOSE_WAIT || state == SK_FIN_WAIT_1 ||
           state == SK_CLOSING || state == SK_LAST_ACK;
}

static uint8_t *put_ts(const struct sk_tcb *c, uint8_t *p, uint32_t ecr)
{
    p[0] = 8;
    p[1] = 10;
    wr32(p + 2, tcp_ts_now(c));
    wr32(p + 6, ecr);
    return p + 10;
}

/* The options of a SYN or SYN-ACK, laid out as Linux does (tcpdump shows
 * "mss 1460,sackOK,TS val .. ecr ..,nop,wscale 7").  An active open offers
 * what the config allows; a SYN-ACK only what is in force. */
static size_t syn_options(const struct sk_tcb *c, uint8_t *opt)
{
    const struct sk_config *cfg = &c->stack->cfg;
    bool synack = c->state == SK_SYN_RECEIVED;
    bool sack = synack ? c->sack_ok : !cfg->tcp_no_sack;
    bool ts = synack ? c->ts_ok : !cfg->tcp_no_timestamps;
    bool ws = synack ? c->ws_ok : !cfg->tcp_no_wscale;
    uint8_t *p = opt;
    /* MSS, RFC 9293 3.7.1: sent only on SYNs, from our MTU. */
    p[0] = 2;
    p[1] = 4;
    wr16(p + 2, (uint16_t)(cfg->mtu - IP_HDR_LEN - TCP_HDR_LEN));
    p += 4;
    if (sack && ts) {
        p[0] = 4;
        p[1] = 2;
        p = put_ts(c, p + 2, synack ? c->ts_recent : 0);
    } else if (sack) {
        p[0] = 1;
        p[1] = 1;
        p[2] = 4;
        p[3] = 2;
        p += 4;
    } else if (ts) {
        p[0] = 1;
        p[1] = 1;
        p = put_ts(c, p + 2, synack ? c->ts_recent : 0);
    }
    if (ws) {
        p[0] = 1;
        p[1] = 3;
        p[2] = 3;
        p[3] = c->rcv_wscale;
        p += 4;
    }
    return (size_t)(p - opt);
}

/* Timestamps on every segment once in force (RFC 7323 3.2), SACK blocks
 * on ACKs while the receiver holds out-of-order data or a duplicate to
 * report (RFC 2018 4, RFC 2883): 3 blocks fit beside timestamps, 4 alone,
 * and on a full data segment only as many as the MTU leaves room for
 * (`room` bytes of options; mss_data already left room for timestamps). */
static size_t data_options(struct sk_tcb *c, uint8_t *opt, uint8_t flags, size_t room)
{
    uint8_t *p = opt;
    if (c->ts_ok) {
        p[0] = 1;
        p[1] = 1;
        p = put_ts(c, p + 2, c->ts_recent);
    }
    size_t used = (size_t)(p - opt);
    int fit = room > used + 4 ? (int)((room - used - 4) / 8) : 0;
    if (c->sack_ok && (flags & TCP_ACK) && !(flags & TCP_RST) && fit > 0) {
        struct tcp_sack_block b[4];
        int max = c->ts_ok ? 3 : 4;
        int n = tcp_rcv_sack_blocks(c, b, fit < max ? fit : max);
        if (n) {
            p[0] = 1;
            p[1] = 1;
            p[2] = 5;
            p[3] = (uint8_t)(2 + 8 * n);
            p += 4;
            for (int i = 0; i < n; i++) {
                wr32(p, b[i].start);
                wr32(p + 4, b[i].end);
                p += 8;
            }
            c->stack->ctr.tcp_sack_blocks_out++;
        }
    }
    return (size_t)(p - opt);
}

void tcp_write_segment(struct sk_tcb *c, const struct tcp_out_seg *o)
{
    struct sk_stack *s = c->stack;
    uint8_t *p = ipv4_payload(s);
    /* A TSO frame: each segment the link cuts from it repeats the header
     * and its options, so they get only the room one segment leaves. */
    bool tso = o->gso_size && o->len > o->gso_size;
    size_t max = ipv4_max_payload(s) - TCP_HDR_LEN; /* header options and data */
    size_t room = tso ? (size_t)(c->mss - o->gso_size) : o->len < max ? max - o->len : 0;
    if (room > TCP_OPT_MAX)
        room = TCP_OPT_MAX;
    size_t olen = (o->flags & TCP_SYN) ? syn_options(c, p + TCP_HDR_LEN)
                                       : data_options(c, p + TCP_HDR_LEN, o->flags, room);
    size_t hlen = TCP_HDR_LEN + olen;
    /* The window: RFC 7323 2.2, a SYN's is never scaled. */
    uint32_t win = tcp_rcv_window(c);
    uint32_t field;
    if (o->flags & TCP_SYN) {
        field = min_u32(win, 65535);
    } else {
        /* Rounded up to the scale's unit: the edge the peer sees is at
         * most 2^wscale - 1 bytes past what the buffer has (the ring's
         * slack holds them, tcb_alloc_buffers), and may seem to move left
         * by less than a unit as RCV.NXT moves, as RFC 7323 2.4 allows;
         * the edge itself, rcv_adv, never does. */
        uint32_t unit = (1u << c->rcv_wscale) - 1;
        field = min_u32((win + unit) >> c->rcv_wscale, 65535);
    }
    uint32_t announced = (o->flags & TCP_SYN) ? field : field << c->rcv_wscale;
    c->rcv_wnd = announced; /* what the peer may send: acceptance uses it */
    if (o->flags & TCP_ACK) {
        c->rcv_adv = c->rcv_nxt + win;
        c->rcv_adv_set = true;
    }
    wr16(p, c->lport);
    wr16(p + 2, c->rport);
    wr32(p + 4, o->seq);
    wr32(p + 8, (o->flags & TCP_ACK) ? c->rcv_nxt : 0);
    p[12] = (uint8_t)((hlen / 4) << 4);
    p[13] = o->flags;
    wr16(p + 14, (uint16_t)field);
    wr16(p + 16, 0);
    wr16(p + 18, 0);
    if (o->len)
        ring_peek(&c->sndq, o->data_off, p + hlen, o->len);
    size_t tot = hlen + o->len;
    uint32_t sum = csum_pseudo(c->laddr, c->raddr, IP_PROTO_TCP, (uint16_t)tot);
    if (tso || s->cfg.offload_csum) {
        /* Left to the link: the field holds the pseudo-header's sum, and
         * the link sums the rest (virtio-net's NEEDS_CSUM). */
        wr16(p + 16, (uint16_t)~csum_finish(sum));
        s->tx_meta = (struct sk_frame_meta){.csum = SK_CSUM_PARTIAL,
                                            .csum_start = ETH_HDR_LEN + IP_HDR_LEN,
                                            .csum_offset = 16,
                                            .gso_size = tso ? o->gso_size : 0};
    } else {
        wr16(p + 16, csum_finish(csum_partial(p, tot, sum)));
    }
    if (o->flags & TCP_ACK) {
        c->last_ack_sent = c->rcv_nxt;
        tcp_rcv_ack_sent(c);
    }
    ipv4_send(s, c->raddr, IP_PROTO_TCP, tot); /* tcp_out counts it as it leaves (arp.c) */
}

uint32_t tcp_ctl_seq(const struct sk_tcb *c)
{
    /* RFC 9293's SND.NXT for a segment without data: the highest sequence
     * sent.  But while we probe a zero window, the probe's octet is beyond
     * it: a closed window accepts only SEG.SEQ = RCV.NXT, which is our
     * snd_una (as BSD sends at snd_nxt while persisting). */
    return c->persist ? c->snd_una : c->snd_max;
}

void tcp_send_ack_why(struct sk_tcb *c, int why)
{
    sk_why_out(c->stack, why, c->rcv_nxt);
    tcp_send_ack(c);
}

void tcp_send_ack(struct sk_tcb *c)
{
    if (!c->stack->why_out)
        sk_why_out(c->stack, c->ack_why ? c->ack_why : SK_WHY_ACK, c->rcv_nxt);
    tcp_write_segment(c, &(struct tcp_out_seg){.seq = tcp_ctl_seq(c), .flags = TCP_ACK});
}

static void send_syn(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    uint8_t flags = TCP_SYN | (c->state == SK_SYN_RECEIVED ? TCP_ACK : 0);
    bool again = seq_gt(c->snd_max, c->iss);
    bool synack = flags & TCP_ACK;
    sk_why_out(s,
               again ? (synack ? SK_WHY_SYNACK_AGAIN : SK_WHY_SYN_AGAIN)
                     : (synack ? SK_WHY_SYNACK : SK_WHY_SYN),
               c->iss);
    tcp_write_segment(c, &(struct tcp_out_seg){.seq = c->iss, .flags = flags});
    if (again) {
        c->retransmits++;
        s->ctr.tcp_retransmits++;
        c->syn_timed = false; /* Karn (RFC 6298 3): the ACK may answer either copy */
    } else {
        c->syn_timed = true;
        c->syn_sent_us = s->now;
    }
    c->snd_nxt = c->iss + 1;
    c->snd_max = c->iss + 1;
    if (!tcp_timer_on(c, TCP_T_RTX))
        tcp_rtx_arm(c);
}

void tcp_output(struct sk_tcb *c)
{
    switch (c->state) {
    case SK_CLOSED:
    case SK_LISTEN:
        return;
    case SK_SYN_SENT:
    case SK_SYN_RECEIVED:
        if (c->snd_nxt == c->iss)
            send_syn(c);
        break;
    default:
        break;
    }
    if (sends_data(c->state))
        tcp_snd_output(c);
    if (c->ack_now)
        tcp_send_ack(c);
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
