/* tcp_in.c - TCP segment arrival (RFC 9293 section 3.10.7).
 *
 * The input path, in one place:
 *
 *   tcp_input     parse and checksum (tcp_parse), find the TCB by the hash
 *                 of the 4-tuple, else a listener on the port, else none;
 *   closed_input  no TCB: 3.10.7.1, answer with a RST;
 *   listen_input  3.10.7.2: a SYN makes a child TCB in SYN_RECEIVED, with
 *                 the options the SYN offered (tcp_opt.c);
 *   syn_sent_input 3.10.7.3;
 *   other_input   3.10.7.4, for every synchronized state, in the RFC's
 *                 order: PAWS (RFC 7323 5.3), 1 sequence check, 2 RST
 *                 (with RFC 5961 section 3), 3 security (nothing to do),
 *                 4 SYN (RFC 5961 section 4), 5 ACK (RFC 5961 section 5;
 *                 the sender, tcp_snd.c, takes it from there), 6 URG,
 *                 7 text (the receiver, tcp_rcv.c), 8 FIN.
 *
 * What is sent from here: RSTs, and the receiver's immediate duplicate
 * ACKs for out-of-order data (one per segment, RFC 5681 4.2).  Other owed
 * ACKs wait for the flush, so a batch of in-order segments gets one.
 */
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"
#include "ipv4.h"
#include "seq.h"
#include "tcp.h"

/* The segment being processed is the cause of what it changes (words
 * only if a change is reported: tcb_set_state). */
static void describe(struct sk_stack *s, const struct tcp_seg *g)
{
    s->tcp.cause_seg.on = true;
    s->tcp.cause_seg.flags = g->flags;
    s->tcp.cause_seg.seq = g->seq;
    s->tcp.cause_seg.ack = g->ack;
}

/* ---- shared steps ---- */

static uint16_t our_mss(const struct sk_stack *s)
{
    /* RFC 9293 3.7.1: MTU minus the fixed IP and TCP headers. */
    return (uint16_t)(s->cfg.mtu - IP_HDR_LEN - TCP_HDR_LEN);
}

/* The peer's SYN: its MSS and the options in force. */
static void take_syn_options(struct sk_tcb *c, const struct tcp_seg *g)
{
    uint16_t peer = g->opt.mss ? g->opt.mss : TCP_DEFAULT_MSS;
    uint16_t ours = our_mss(c->stack);
    c->mss = peer < ours ? peer : ours;
    if (c->mss < 64) /* a peer announcing a tiny MSS must not make us spin */
        c->mss = 64;
    tcp_opt_negotiate(c, g);
    c->rcv_mss = (uint16_t)min_u32(c->mss, TCP_DEFAULT_MSS);
}

static void enter_time_wait(struct sk_tcb *c)
{
    tcp_set_state(c, SK_TIME_WAIT);
    tcb_time_wait_enter(c);
    c->persist = false;
    tcp_timers_clear_all(c);
    /* The ACK of the FIN is still owed: it goes at the flush. */
    tcp_timer_set(c, TCP_T_CLOSE, c->stack->now + 2000ULL * c->stack->cfg.tcp_msl_ms);
    tcb_event(c, SK_EV_CLOSED);
}

/* SYN_RECEIVED or SYN_SENT -> ESTABLISHED. */
static void establish(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    tcp_set_state(c, SK_ESTABLISHED);
    s->ctr.tcp_established++;
    c->backoff = 0;
    /* RFC 6298 5.7: if our SYN (or SYN-ACK) had to be sent again, Karn's
     * rule left no RTT sample, and data starts with a 3 s RTO rather than
     * the 1 s meant for the SYN or its backed-off value. */
    if (!c->rtt_valid && c->retransmits)
        c->rto_us = min_u32(TCP_RTO_FALLBACK, s->cfg.tcp_rto_max_ms * 1000);
    tcp_snd_start(c);
    if (c->fin_queued) { /* the app closed before the handshake finished */
        tcp_set_state(c, SK_FIN_WAIT_1);
        tcb_want_output(c);
    }
}

/* RFC 9293 3.10.7.4 second, RST in a synchronized state that matched. */
static void reset_by_peer(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    s->ctr.tcp_rst_received++;
    switch (c->state) {
    case SK_SYN_RECEIVED:
        if (c->passive) { /* back to LISTEN: the listener still is; drop the child */
            tcb_close(c, SK_ECONNREFUSED);
            return;
        }
        s->ctr.tcp_failed_opens++;
        tcb_close(c, SK_ECONNREFUSED);
        return;
    case SK_ESTABLISHED:
    case SK_FIN_WAIT_1:
    case SK_FIN_WAIT_2:
    case SK_CLOSE_WAIT:
        s->ctr.tcp_resets++;
        tcb_close(c, SK_ECONNRESET);
        return;
    default: /* CLOSING, LAST_ACK, TIME_WAIT: we were done anyway */
        tcb_close(c, 0);
        return;
    }
}

/* Step 8 once every byte before the FIN has arrived. */
static void process_fin(struct sk_tcb *c)
{
    tcp_rcv_fin(c);
    tcb_event(c, SK_EV_PEER_CLOSED | SK_EV_READABLE);
    switch (c->state) {
    case SK_ESTABLISHED: /* (SYN_RECEIVED never gets here: step 5 established it) */
        tcp_set_state(c, SK_CLOSE_WAIT);
        break;
    case SK_FIN_WAIT_1:
        /* Our FIN not yet acknowledged, or the ACK came in this segment
         * (step 5 already moved us to FIN_WAIT_2 then). */
        tcp_set_state(c, SK_CLOSING);
        break;
    case SK_FIN_WAIT_2:
        enter_time_wait(c);
        break;
    default:
        break;
    }
}

/* Whether the FIN we queued has been acknowledged. */
static bool our_fin_acked(const struct sk_tcb *c)
{
    return c->fin_sent && seq_gt(c->snd_una, c->fin_seq);
}

/* ---- 3.10.7.1: no TCB ---- */

/* A RST for a segment that found no connection.  A stack-wide budget per
 * second keeps a scan or a flood of stray segments from turning synack
 * into a RST generator (FreeBSD limits them with its ICMP limit too). */
static void rst_no_conn(struct sk_stack *s, const struct tcp_seg *g)
{
    struct tcp_table *t = &s->tcp;
    if (s->now - t->rst_refill >= 1000000) {
        t->rst_tokens = s->cfg.tcp_rst_per_sec;
        t->rst_refill = s->now;
    }
    if (!t->rst_tokens && s->cfg.tcp_rst_per_sec != SK_LIMIT_OFF) {
        s->ctr.tcp_rst_limited++;
        return;
    }
    if (t->rst_tokens)
        t->rst_tokens--;
    sk_why_out(s, SK_WHY_RST_NO_CONN, g->ack);
    sk_why_in(s, SK_WHY_RX_NO_CONN, g->seq);
    tcp_reply_rst(s, g);
}

static void closed_input(struct sk_stack *s, const struct tcp_seg *g)
{
    s->ctr.drop_tcp_no_conn++;
    if (g->flags & TCP_RST) /* never answer a RST (3.10.7.1) */
        return;
    rst_no_conn(s, g);
}

/* ---- 3.10.7.2: LISTEN ---- */

static void other_input(struct sk_tcb *c, struct tcp_seg *g);

static struct sk_tcb *oldest_half_open(struct sk_tcb *l)
{
    return list_empty(&l->synq) ? NULL : container_of(l->synq.next, struct sk_tcb, q_link);
}

/* A child of listener l for the peer of g, whose ISN is irs: in l's
 * half-open queue, still in LISTEN (a child starts as its listener's copy,
 * RFC 9293 3.10.7.2) with our ISS iss.  NULL when the table is full. */
static struct sk_tcb *new_child(struct sk_tcb *l, const struct tcp_seg *g, uint32_t irs,
                                uint32_t iss)
{
    struct sk_stack *s = l->stack;
    struct sk_tcb *c = tcb_new(s, g->daddr, g->dport, g->saddr, g->sport);
    if (!c)
        return NULL;
    c->state = SK_LISTEN;
    c->parent = l;
    c->passive = true;
    list_add_tail(&l->synq, &c->q_link);
    list_add_tail(&s->tcp.half_open, &c->ho_link);
    l->synq_len++;
    c->irs = irs;
    c->rcv_nxt = irs + 1;
    c->rcv_up = c->rcv_nxt; /* no urgent data yet: the pointer starts at the data */
    c->iss = iss;
    c->snd_una = c->snd_nxt = c->snd_max = iss;
    c->snd_wnd = g->wnd;
    c->max_snd_wnd = g->wnd;
    c->snd_wl1 = irs;
    c->last_rcv_us = s->now;
    /* The listener's options (buffers, Nagle, keep-alive, CC) pass on. */
    tcb_apply_opts(c, &l->opts);
    tcp_opt_init(c);
    return c;
}

/* Answers a SYN with a SYN-ACK whose ISN is a cookie, keeping nothing: the
 * segment is written from a TCB on the stack that is never linked
 * anywhere. */
static void syn_cookie_reply(struct sk_tcb *l, const struct tcp_seg *g)
{
    struct sk_stack *s = l->stack;
    struct sk_tcb t;
    memset(&t, 0, sizeof(t));
    t.stack = s;
    t.laddr = g->daddr;
    t.lport = g->dport;
    t.raddr = g->saddr;
    t.rport = g->sport;
    t.t.heap_idx = UINT32_MAX;
    t.rcvbuf = l->opts.rcvbuf ? l->opts.rcvbuf : s->cfg.tcp_rcvbuf;
    t.rcv_nxt = g->seq + 1;
    tcp_opt_init(&t);
    take_syn_options(&t, g);
    struct tcp_cookie_opts o = {.mss = t.mss,
                                .ts = t.ts_ok,
                                .sack = t.sack_ok,
                                .wscale = t.ws_ok ? (int8_t)t.snd_wscale : -1};
    if (!o.ts) { /* nowhere to keep them: offer neither (tcp_cookie.c) */
        t.sack_ok = t.ws_ok = false;
        t.snd_wscale = t.rcv_wscale = 0;
        o.sack = false;
        o.wscale = -1;
    } else {
        /* Our TSval carries the option bits, a little behind our clock so
         * that the connection's later TSvals never go backwards. */
        uint32_t v = tcp_ts_now(&t);
        t.ts_offset -= (v - tcp_cookie_optbits(&o)) & 0x1F;
    }
    t.iss = tcp_cookie_make(s, g, &o);
    t.state = SK_SYN_RECEIVED;
    l->cookie_sent_us = s->now ? s->now : 1;
    s->ctr.tcp_syncookies_sent++;
    sk_why_in(s, SK_WHY_RX_SYN_COOKIE, g->seq);
    sk_why_out(s, SK_WHY_SYNACK_COOKIE, t.iss);
    tcp_write_segment(&t, &(struct tcp_out_seg){.seq = t.iss, .flags = TCP_SYN | TCP_ACK});
}

/* The handshake's last ACK met the listener, not a child: if it carries a
 * cookie of ours, the child is made now, in SYN_RECEIVED as if from the
 * SYN, and the ACK is processed as the child's.  NULL if not a cookie;
 * the listener itself if it was one but no child could be made now (a full
 * accept queue or table: counted, and the ACK dropped). */
static struct sk_tcb *syn_cookie_child(struct sk_tcb *l, const struct tcp_seg *g)
{
    struct sk_stack *s = l->stack;
    struct tcp_cookie_opts o;
    if (!l->cookie_sent_us || (g->flags & (TCP_SYN | TCP_RST | TCP_FIN)) != 0 ||
        s->now - l->cookie_sent_us > (3ULL << 26))
        return NULL; /* no cookie sent lately: an ordinary stray ACK */
    if (!tcp_cookie_check(s, g, &o)) {
        s->ctr.tcp_syncookies_failed++;
        return NULL;
    }
    if (l->acceptq_len >= l->backlog) {
        /* No room to accept: the peer's next segment brings the cookie
         * again while it is young. */
        s->ctr.drop_tcp_listen_overflow++;
        return l;
    }
    struct sk_tcb *c = new_child(l, g, g->seq - 1, g->ack - 1);
    if (!c) {
        s->ctr.tcp_conns_limit++;
        return l;
    }
    c->mss = o.mss < our_mss(s) ? o.mss : our_mss(s);
    c->ts_ok = o.ts;
    c->sack_ok = o.sack;
    c->ws_ok = o.wscale >= 0;
    c->snd_wscale = c->ws_ok ? (uint8_t)o.wscale : 0;
    if (!c->ws_ok)
        c->rcv_wscale = 0;
    if (c->ts_ok) {
        c->ts_recent = g->opt.tsval;
        c->ts_recent_us = s->now;
    }
    c->mss_data = (uint16_t)(c->mss - (c->ts_ok ? 12 : 0));
    c->rcv_mss = (uint16_t)min_u32(c->mss, TCP_DEFAULT_MSS);
    /* As if our SYN-ACK had gone from this TCB: its window and ACK. */
    c->snd_nxt = c->snd_max = c->iss + 1;
    uint32_t win = tcp_rcv_window(c);
    c->rcv_wnd = min_u32(win, 65535);
    c->rcv_adv = c->rcv_nxt + win;
    c->rcv_adv_set = true;
    c->last_ack_sent = c->rcv_nxt;
    tcb_hash_insert(c);
    tcp_set_state(c, SK_SYN_RECEIVED);
    s->ctr.tcp_passive_opens++;
    s->ctr.tcp_syncookies_ok++;
    return c;
}

static void listen_input(struct sk_tcb *l, struct tcp_seg *g)
{
    struct sk_stack *s = l->stack;
    if (g->flags & TCP_RST) { /* first: ignore a RST */
        s->ctr.drop_tcp_rst_ignored++;
        return;
    }
    if (g->flags & TCP_ACK) { /* second: an ACK here is stale, <SEQ=SEG.ACK><CTL=RST> */
        struct sk_tcb *c = syn_cookie_child(l, g); /* unless it brings a cookie */
        if (c == l)
            return;
        if (c) {
            other_input(c, g);
            sk_why_in(s, SK_WHY_RX_COOKIE_ACK, g->seq);
            return;
        }
        s->ctr.drop_tcp_no_conn++;
        rst_no_conn(s, g);
        return;
    }
    if (!(g->flags & TCP_SYN)) { /* fourth: anything else is dropped */
        s->ctr.drop_tcp_no_conn++;
        return;
    }
    /* third: a SYN. */
    if (l->acceptq_len >= l->backlog) {
        s->ctr.drop_tcp_listen_overflow++;
        return;
    }
    int cookies = s->cfg.tcp_syncookies;
    uint32_t max_half_open = s->cfg.tcp_max_half_open ? s->cfg.tcp_max_half_open : l->backlog;
    bool full = l->synq_len >= max_half_open;
    if (cookies == SK_SYNCOOKIES_ALWAYS || (full && cookies != SK_SYNCOOKIES_OFF)) {
        syn_cookie_reply(l, g);
        return;
    }
    /* Without cookies, a full half-open queue (or stack) makes room by
     * evicting its oldest entry, so a flood of spoofed SYNs cannot lock a
     * real client out for long (RFC 4987 section 3.4, "random/oldest
     * drop"). */
    struct sk_tcb *victim = oldest_half_open(l);
    if (victim && full) {
        s->ctr.tcp_syn_evictions++;
        tcb_free(victim);
    }
    uint32_t iss = tcp_isn(s, g->daddr, g->dport, g->saddr, g->sport);
    struct sk_tcb *c = new_child(l, g, g->seq, iss);
    if (!c && cookies != SK_SYNCOOKIES_OFF) {
        /* The table is full: a cookie costs no TCB. */
        syn_cookie_reply(l, g);
        return;
    }
    if (!c && !list_empty(&s->tcp.half_open)) {
        /* The table is full (and holds no TIME_WAIT to recycle): the oldest
         * half-open connection of any listener makes room. */
        s->ctr.tcp_syn_evictions++;
        tcb_free(container_of(s->tcp.half_open.next, struct sk_tcb, ho_link));
        c = new_child(l, g, g->seq, iss);
    }
    if (!c) {
        s->ctr.tcp_conns_limit++;
        return;
    }
    take_syn_options(c, g);
    tcb_hash_insert(c);
    tcp_set_state(c, SK_SYN_RECEIVED);
    s->ctr.tcp_passive_opens++;
    sk_why_in(s, SK_WHY_RX_SYN, g->seq);
    /* Data and FIN on the SYN are neither acknowledged nor delivered: the
     * peer sends them again after the handshake. */
    tcb_want_output(c); /* the SYN-ACK */
}

/* ---- 3.10.7.3: SYN_SENT ---- */

static void other_text_and_fin(struct sk_tcb *c, struct tcp_seg *g);
static void trim(const struct sk_tcb *c, struct tcp_seg *g);

static void syn_sent_input(struct sk_tcb *c, struct tcp_seg *g)
{
    struct sk_stack *s = c->stack;
    bool ack_ok = false;
    if (g->flags & TCP_ACK) { /* first */
        if (seq_leq(g->ack, c->iss) || seq_gt(g->ack, c->snd_max)) {
            if (g->flags & TCP_RST) {
                s->ctr.drop_tcp_rst_ignored++;
            } else {
                sk_why_out(s, SK_WHY_RST_BAD_ACK, g->ack);
                tcp_reply_rst(s, g);
                s->ctr.drop_tcp_bad_ack++;
            }
            return;
        }
        ack_ok = true;
    }
    if (g->flags & TCP_RST) { /* second: refused, if it answers our SYN */
        if (ack_ok) {
            s->ctr.tcp_rst_received++;
            s->ctr.tcp_failed_opens++;
            sk_why_in(s, SK_WHY_RX_REFUSED, g->seq);
            tcb_close(c, SK_ECONNREFUSED);
        } else {
            s->ctr.drop_tcp_rst_ignored++;
        }
        return;
    }
    if (!(g->flags & TCP_SYN)) { /* fifth: neither SYN nor RST */
        s->ctr.drop_tcp_no_syn++;
        return;
    }
    /* fourth: SYN */
    c->irs = g->seq;
    c->rcv_nxt = g->seq + 1;
    c->rcv_up = c->rcv_nxt;
    take_syn_options(c, g);
    c->rcv_wnd = tcp_rcv_window(c);
    c->snd_wnd = g->wnd; /* a SYN's window is never scaled (RFC 7323 2.2) */
    c->max_snd_wnd = g->wnd;
    c->snd_wl1 = g->seq;
    c->snd_wl2 = g->ack;
    c->last_rcv_us = s->now;
    if (ack_ok) {
        /* Our SYN is acknowledged: the sender takes the ACK (its RTT). */
        tcp_snd_ack(c, g);
        establish(c);
        tcb_event(c, SK_EV_CONNECTED | SK_EV_WRITABLE);
        sk_why_in(s, SK_WHY_RX_SYNACK, g->seq);
        tcp_rcv_ack_now(c, SK_WHY_ACK_HANDSHAKE);
        /* Data or FIN in the SYN-ACK go on from step 6, cut to the window
         * we offered first (3.10.7.3: "queue them for processing", within
         * the window): more would overrun the receive ring. */
        g->seq += 1;
        g->flags &= (uint8_t)~TCP_SYN;
        trim(c, g);
        other_text_and_fin(c, g);
        return;
    }
    /* Simultaneous open: SYN_RECEIVED, and our SYN goes again with an ACK
     * (so, by Karn's rule, it is no longer timed). */
    tcp_set_state(c, SK_SYN_RECEIVED);
    c->snd_nxt = c->iss;
    tcb_want_output(c);
}

/* ---- 3.10.7.4: the synchronized states ---- */

static bool challenge_allowed(struct sk_stack *s)
{
    struct tcp_table *t = &s->tcp;
    if (s->now - t->challenge_refill >= 1000000) {
        t->challenge_tokens = TCP_CHALLENGE_PER_SEC;
        t->challenge_refill = s->now;
    }
    if (!t->challenge_tokens)
        return false;
    t->challenge_tokens--;
    return true;
}

/* At most one ACK per tcp_oow_ack_ms on a connection for segments that
 * fall outside it: otherwise each forged segment draws an ACK, and a
 * flood of them an equal flood back (Linux's tcp_invalid_ratelimit). */
static bool oow_ack_due(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    if (s->cfg.tcp_oow_ack_ms == SK_LIMIT_OFF)
        return true;
    if (c->oow_ack_us && s->now - c->oow_ack_us < 1000ULL * s->cfg.tcp_oow_ack_ms) {
        s->ctr.tcp_oow_ack_limited++;
        return false;
    }
    c->oow_ack_us = s->now ? s->now : 1;
    return true;
}

/* The ACK owed to a segment that was not acceptable, within the limit.
 * Segments with data (or a FIN) are exempt: they may be retransmissions
 * whose ACK was lost, and the answer (with a D-SACK) is what ends the
 * peer's recovery (as Linux exempts them). */
static void oow_ack(struct sk_tcb *c, const struct tcp_seg *g, int why)
{
    if ((seg_len(g) > 0 && !(g->flags & TCP_SYN)) || oow_ack_due(c))
        tcp_rcv_ack_now(c, why);
}

void tcp_challenge_ack(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    /* RFC 5961 section 7: a rate limit keeps challenge ACKs from being a
     * side channel or an amplifier: per connection, then per stack. */
    if (!oow_ack_due(c))
        return;
    if (!challenge_allowed(s)) {
        s->ctr.tcp_challenge_limited++;
        return;
    }
    s->ctr.tcp_challenge_acks++;
    tcp_rcv_ack_now(c, SK_WHY_ACK_CHALLENGE);
}

/* First: is the segment acceptable?  The four cases of RFC 9293 3.10.7.4. */
static bool acceptable(const struct sk_tcb *c, const struct tcp_seg *g)
{
    uint32_t sl = seg_len(g), wnd = c->rcv_wnd;
    uint32_t lo = c->rcv_nxt, hi = c->rcv_nxt + wnd;
    if (sl == 0)
        return wnd == 0 ? g->seq == lo : seq_in(g->seq, lo, hi);
    if (wnd == 0)
        return false;
    return seq_in(g->seq, lo, hi) || seq_in(g->seq + sl - 1, lo, hi);
}

/* Cuts what lies before RCV.NXT or past the window; keeps the FIN only if
 * it is inside. */
static void trim(const struct sk_tcb *c, struct tcp_seg *g)
{
    if (seq_lt(g->seq, c->rcv_nxt)) {
        uint32_t skip = c->rcv_nxt - g->seq;
        if (skip >= g->len) {
            /* All data is old; a FIN at seq+len is old too if before rcv_nxt. */
            if ((g->flags & TCP_FIN) && seq_lt(g->seq + g->len, c->rcv_nxt))
                g->flags &= (uint8_t)~TCP_FIN;
            g->seq += g->len;
            g->data += g->len;
            g->len = 0;
        } else {
            g->seq += skip;
            g->data += skip;
            g->len -= skip;
        }
    }
    uint32_t end = c->rcv_nxt + c->rcv_wnd;
    if (seq_gt(g->seq + g->len, end)) {
        g->len = seq_gt(end, g->seq) ? end - g->seq : 0;
        g->flags &= (uint8_t)~TCP_FIN; /* the FIN lay beyond the cut */
    }
}

/* Steps 6 to 8. */
static void other_text_and_fin(struct sk_tcb *c, struct tcp_seg *g)
{
    struct sk_stack *s = c->stack;
    bool receiving =
        c->state == SK_ESTABLISHED || c->state == SK_FIN_WAIT_1 || c->state == SK_FIN_WAIT_2;
    /* Sixth: URG.  We read the pointer; the data is delivered in line and
     * urgent mode is not offered to apps (RFC 6093 advises against it). */
    if (seq_lt(c->rcv_up, c->rcv_nxt)) /* past data: keep it within 2^31 */
        c->rcv_up = c->rcv_nxt;
    if ((g->flags & TCP_URG) && receiving && seq_gt(g->seq + g->urp, c->rcv_up))
        c->rcv_up = g->seq + g->urp;
    /* Seventh: text. */
    if (g->len && receiving) {
        if (!c->app_owned && !c->parent) {
            /* RFC 1122 4.2.2.13: data after the app closed cannot be
             * delivered; a RST says so. */
            sk_why_out(s, SK_WHY_RST_ABORT, tcp_ctl_seq(c));
            tcp_send_rst(s, c->laddr, c->lport, c->raddr, c->rport, tcp_ctl_seq(c), 0, TCP_RST);
            tcb_close(c, SK_ECONNABORTED);
            return;
        }
        tcp_rcv_text(c, g->seq, g->data, g->len);
        if (c->ooo_fin && c->ooo_fin_seq == c->rcv_nxt) {
            c->ooo_fin = false;
            process_fin(c);
        }
    }
    /* Eighth: FIN, once every byte before it is in. */
    if (g->flags & TCP_FIN) {
        uint32_t fin_seq = g->seq + g->len;
        if (c->state == SK_TIME_WAIT) {
            /* A retransmitted FIN: ACK it and restart the 2*MSL wait. */
            sk_why_in(s, SK_WHY_RX_FIN, fin_seq);
            tcp_rcv_ack_now(c, SK_WHY_ACK_FIN);
            tcp_timer_set(c, TCP_T_CLOSE, s->now + 2000ULL * s->cfg.tcp_msl_ms);
        } else if (c->fin_received) {
            sk_why_in(s, SK_WHY_RX_FIN, fin_seq);
            tcp_rcv_ack_now(c, SK_WHY_ACK_FIN);
        } else if (fin_seq == c->rcv_nxt) {
            process_fin(c);
        } else if (seq_gt(fin_seq, c->rcv_nxt)) {
            /* Held until the gap before it fills; like any out-of-order
             * segment it gets a duplicate ACK (RFC 5681 4.2): the
             * receiver sent it already if the FIN came with data. */
            c->ooo_fin = true;
            c->ooo_fin_seq = fin_seq;
            sk_why_in(s, SK_WHY_RX_OOO, fin_seq);
            if (!g->len)
                tcp_rcv_ack_now(c, SK_WHY_ACK_OOO);
        }
    }
}

static void other_input(struct sk_tcb *c, struct tcp_seg *g)
{
    struct sk_stack *s = c->stack;

    /* A duplicate of the SYN that made this child means our SYN-ACK was
     * lost: send it again (this SYN falls before the window, so the
     * sequence check would only ACK it). */
    if (c->state == SK_SYN_RECEIVED && (g->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
        g->seq == c->irs) {
        sk_why_in(s, SK_WHY_RX_SYN, g->seq);
        c->snd_nxt = c->iss;
        tcb_want_output(c);
        return;
    }

    /* RFC 7323 5.3 R1: PAWS, before the sequence check: a timestamp older
     * than TS.Recent is an old duplicate; it is answered with an ACK (not
     * a RST) and dropped. */
    if (!tcp_paws_ok(c, g)) {
        s->ctr.drop_tcp_paws++;
        sk_why_in(s, SK_WHY_RX_PAWS, g->seq);
        oow_ack(c, g, SK_WHY_ACK_PAWS);
        return;
    }

    /* First: sequence number. */
    bool ok = acceptable(c, g);
    bool counted = false; /* a drop counter has this segment already */
    if (!ok && c->rcv_wnd == 0 && g->seq == c->rcv_nxt && seg_len(g) > 0) {
        /* A zero window still takes valid ACKs, URGs and RSTs; the text is
         * dropped (and counted: it lay outside the window) and the ACK we
         * send repeats the window. */
        ok = true;
        g->len = 0;
        g->flags &= (uint8_t)~TCP_FIN;
        s->ctr.drop_tcp_unacceptable++;
        counted = true;
        tcp_rcv_ack_now(c, SK_WHY_ACK_UNACCEPTABLE);
    }
    if (!ok) {
        s->ctr.drop_tcp_unacceptable++;
        if (g->flags & TCP_RST)
            return;
        /* Data wholly before RCV.NXT is a duplicate (a lost ACK, or a
         * spurious retransmission): counted, and reported by a D-SACK
         * (RFC 2883) in the ACK that answers it. */
        if (g->len && seq_leq(g->seq + g->len, c->rcv_nxt)) {
            s->ctr.tcp_dup_segments++;
            tcp_rcv_duplicate(c, g->seq, g->seq + g->len);
        } else if ((g->flags & (TCP_SYN | TCP_RST)) == TCP_SYN) {
            /* RFC 5961 4.2: a SYN gets a challenge ACK "irrespective of the
             * sequence number", outside the window too. */
            sk_why_in(s, SK_WHY_RX_SYN_CHALLENGED, g->seq);
            tcp_challenge_ack(c);
        } else {
            sk_why_in(s, SK_WHY_RX_UNACCEPTABLE, g->seq);
            oow_ack(c, g, SK_WHY_ACK_UNACCEPTABLE);
        }
        if (c->state == SK_TIME_WAIT && (g->flags & TCP_FIN))
            tcp_timer_set(c, TCP_T_CLOSE, s->now + 2000ULL * s->cfg.tcp_msl_ms);
        return;
    }
    /* RFC 7323 4.3: TS.Recent from a segment that covers our last ACK. */
    tcp_ts_update(c, g);
    c->last_rcv_us = s->now;
    c->ka_sent = 0;
    uint32_t had_data = g->len;
    uint32_t seg_seq = g->seq; /* before trimming: the RST test needs it */
    trim(c, g);
    if (had_data && seq_lt(seg_seq, c->rcv_nxt) && !(g->flags & (TCP_SYN | TCP_RST))) {
        /* Some of it was old: RFC 2883 lets the D-SACK report that part. */
        uint32_t dup_end = seq_min(seg_seq + had_data, c->rcv_nxt);
        if (!g->len)
            s->ctr.tcp_dup_segments++;
        tcp_rcv_duplicate(c, seg_seq, dup_end);
    }

    /* Second: RST.  RFC 5961 section 3.2: only an exact match resets; any
     * other RST inside the window gets a challenge ACK. */
    if (g->flags & TCP_RST) {
        if (seg_seq == c->rcv_nxt) {
            sk_why_in(s, SK_WHY_RX_RST, seg_seq);
            reset_by_peer(c);
        } else {
            sk_why_in(s, SK_WHY_RX_RST_CHALLENGED, seg_seq);
            tcp_challenge_ack(c);
        }
        return;
    }

    /* Third: security and precedence - nothing to check (RFC 9293 3.10.7.4
     * keeps only the security compartment, which we do not implement). */

    /* Fourth: SYN.  RFC 5961 section 4.2: in any synchronized state, a SYN
     * is answered with a challenge ACK and dropped. */
    if (g->flags & TCP_SYN) {
        sk_why_in(s, SK_WHY_RX_SYN_CHALLENGED, g->seq);
        tcp_challenge_ack(c);
        return;
    }

    /* Fifth: ACK. */
    if (!(g->flags & TCP_ACK)) {
        if (!counted)
            s->ctr.drop_tcp_no_ack++;
        if (had_data)
            tcp_rcv_ack_now(c, SK_WHY_ACK_UNACCEPTABLE);
        return;
    }
    /* RFC 9293 3.10.7.4: in SYN_RECEIVED an ACK must acknowledge our SYN,
     * SND.UNA < SEG.ACK =< SND.NXT, or be answered <SEQ=SEG.ACK><CTL=RST>
     * (before RFC 5961's ACK checks, which are for synchronized states). */
    if (c->state == SK_SYN_RECEIVED &&
        !(seq_gt(g->ack, c->snd_una) && seq_leq(g->ack, c->snd_max))) {
        s->ctr.drop_tcp_bad_ack++;
        sk_why_out(s, SK_WHY_RST_BAD_ACK, g->ack);
        tcp_reply_rst(s, g);
        return;
    }
    /* RFC 5961 section 5.2: an ACK of data never sent, or older than the
     * largest window ever offered, is answered with an ACK and dropped. */
    if (seq_gt(g->ack, c->snd_max)) {
        s->ctr.drop_tcp_ack_unsent++;
        tcp_challenge_ack(c); /* rate-limited like the others (section 7) */
        return;
    }
    if (seq_lt(g->ack, c->snd_una - c->max_snd_wnd)) {
        s->ctr.drop_tcp_old_ack++;
        tcp_challenge_ack(c);
        return;
    }
    if (c->state == SK_SYN_RECEIVED) {
        struct sk_tcb *l = c->parent;
        if (l && l->acceptq_len >= l->backlog) {
            /* No room to accept: ignore the ACK as Linux does; the SYN-ACK
             * retransmission brings it back when room may have been made. */
            s->ctr.drop_tcp_listen_overflow++;
            return;
        }
        if (tcb_alloc_buffers(c) < 0) {
            /* No memory for the rings: refuse rather than stall. */
            tcp_reply_rst(s, g);
            tcb_close(c, SK_ENOMEM);
            return;
        }
        /* The handshake's last ACK: its window is the first scaled one. */
        c->snd_wnd = (uint32_t)g->wnd << c->snd_wscale;
        c->max_snd_wnd = max_u32(c->max_snd_wnd, c->snd_wnd);
        c->snd_wl1 = g->seq;
        c->snd_wl2 = g->ack;
        if (l) {
            list_del(&c->ho_link);
            list_del(&c->q_link);
            l->synq_len--;
            list_add_tail(&l->acceptq, &c->q_link);
            l->acceptq_len++;
            c->in_acceptq = true;
            tcb_event(l, SK_EV_ACCEPT);
        } else {
            tcb_event(c, SK_EV_CONNECTED | SK_EV_WRITABLE);
        }
        tcp_snd_ack(c, g);
        establish(c);
        sk_why_in(s, SK_WHY_RX_ESTABLISH, g->ack);
    } else {
        tcp_snd_ack(c, g);
    }
    switch (c->state) {
    case SK_FIN_WAIT_1:
        if (our_fin_acked(c)) {
            sk_why_in(s, SK_WHY_RX_FIN_ACKED, g->ack);
            tcp_set_state(c, SK_FIN_WAIT_2);
            tcb_orphan_timeout(c);
        }
        break;
    case SK_CLOSING:
        if (our_fin_acked(c)) {
            sk_why_in(s, SK_WHY_RX_FIN_ACKED, g->ack);
            enter_time_wait(c);
        }
        break;
    case SK_LAST_ACK:
        if (our_fin_acked(c)) {
            sk_why_in(s, SK_WHY_RX_FIN_ACKED, g->ack);
            tcb_close(c, 0);
            return;
        }
        break;
    default:
        break;
    }

    other_text_and_fin(c, g);
    /* Data cut to the window (or its old part cut off) and the rest taken:
     * --explain says so rather than plain delivery. */
    if (g->len && g->len < had_data && s->why_in == SK_WHY_RX_DATA)
        sk_why_in(s, SK_WHY_RX_TRIMMED, g->seq);
}

void tcp_input(struct sk_stack *s, const struct ipv4_hdr *ih, const uint8_t *p, size_t len)
{
    struct tcp_seg g;
    s->ctr.tcp_in++;
    /* A frame from the host's own stack over a TAP with offloads: its
     * checksum is checked (VALID), or left partial and never crossed a
     * wire (PARTIAL). */
    bool csum_done = s->rx_meta && s->rx_meta->csum != SK_CSUM_NONE;
    switch (tcp_parse(p, len, ih->src, ih->dst, csum_done, &g)) {
    case TCP_PARSE_OK:
        break;
    case TCP_PARSE_TRUNCATED:
        s->ctr.drop_tcp_truncated++;
        return;
    case TCP_PARSE_CHECKSUM:
        s->ctr.drop_tcp_checksum++;
        return;
    case TCP_PARSE_OPTIONS:
        s->ctr.drop_tcp_options++;
        return;
    }
    if (!g.sport || !g.dport) { /* port 0 is reserved */
        s->ctr.drop_tcp_bad_port++;
        return;
    }
    if (g.flags & TCP_RST)
        s->ctr.tcp_rst_in++;
    describe(s, &g);
    bool bad_flags = (g.flags & TCP_SYN) && (g.flags & (TCP_RST | TCP_FIN));
    struct sk_tcb *c = tcb_lookup(s, g.daddr, g.dport, g.saddr, g.sport);
    if (c && c->state == SK_TIME_WAIT && !bad_flags &&
        (g.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN && seq_gt(g.seq, c->rcv_nxt) &&
        tcb_listener(s, g.dport)) {
        /* RFC 1122 4.2.2.13: a new SYN above the old sequence space may
         * reopen a connection in TIME_WAIT. */
        tcb_close(c, 0);
        c = NULL;
    }
    /* SYN with RST or FIN means nothing sane to a listener or a
     * connection (Linux drops it too); but a closed port answers every
     * segment that is not a RST (RFC 9293 3.10.7.1), so SYN+FIN gets its
     * RST there and a scanner learns nothing new from the silence. */
    struct sk_tcb *l = c ? NULL : tcb_listener(s, g.dport);
    if (bad_flags && (c || l || (g.flags & TCP_RST))) {
        s->ctr.drop_tcp_bad_flags++;
        return;
    }
    if (!c) {
        if (l)
            listen_input(l, &g);
        else
            closed_input(s, &g);
        return;
    }
    if (c->state == SK_SYN_SENT)
        syn_sent_input(c, &g);
    else
        other_input(c, &g);
}
