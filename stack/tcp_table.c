/* tcp_table.c - TCP connection blocks: creation, lookup by a hash of the
 * 4-tuple, the state door (tcp_set_state), the end of a connection, and the
 * flush list.
 *
 * A TCB lives from sk_listen/sk_connect or a listener's SYN until both TCP
 * is done with it (CLOSED) and the app has let go of it (sk_close, or never
 * handed out, as for a child not yet accepted).  Segment arrival is in
 * tcp_in.c, the API in tcp_api.c, timers in tcp_timer.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "core.h"
#include "ipv4.h"
#include "seq.h"
#include "siphash.h"
#include "tcp.h"

/* Designated initializers tie each name to its value (DESIGN.md). */
static const char *const state_names[SK_STATE_COUNT] = {
    [SK_CLOSED] = "CLOSED",           [SK_LISTEN] = "LISTEN",
    [SK_SYN_SENT] = "SYN_SENT",       [SK_SYN_RECEIVED] = "SYN_RECEIVED",
    [SK_ESTABLISHED] = "ESTABLISHED", [SK_FIN_WAIT_1] = "FIN_WAIT_1",
    [SK_FIN_WAIT_2] = "FIN_WAIT_2",   [SK_CLOSE_WAIT] = "CLOSE_WAIT",
    [SK_CLOSING] = "CLOSING",         [SK_LAST_ACK] = "LAST_ACK",
    [SK_TIME_WAIT] = "TIME_WAIT",
};

const char *sk_state_name(int state)
{
    if (state < 0 || state >= SK_STATE_COUNT || !state_names[state])
        return "?";
    return state_names[state];
}

/* ---- the table ---- */

int tcp_init(struct sk_stack *s)
{
    struct tcp_table *t = &s->tcp;
    uint32_t n = 256;
    while (n < s->cfg.tcp_max_conns && n < (1u << 20))
        n <<= 1;
    t->buckets = calloc(n, sizeof(*t->buckets));
    t->bucket_mask = n - 1;
    t->heap_cap = s->cfg.tcp_max_conns;
    t->heap = calloc(t->heap_cap, sizeof(*t->heap));
    list_init(&t->all);
    list_init(&t->time_wait);
    list_init(&t->half_open);
    list_init(&t->events);
    list_init(&t->flush);
    /* 64 free chunks (1 MiB) are kept for reuse: a transfer's steady state
     * takes and gives back chunks without malloc. */
    ring_pool_init(&t->pool, 64);
    /* One draw of random bytes keys the hash (against hash flooding) and
     * the timestamp offsets; the ISN function of RFC 6528 has its own. */
    uint8_t keys[32];
    s->cfg.random(s->cfg.random_ctx, keys, sizeof(keys));
    memcpy(t->hash_key, keys, 16);
    memcpy(t->ts_key, keys + 16, 16);
    if (s->cfg.tcp_fixed_isn_key)
        memcpy(t->isn_key, s->cfg.tcp_isn_key, sizeof(t->isn_key));
    else
        s->cfg.random(s->cfg.random_ctx, t->isn_key, sizeof(t->isn_key));
    tcp_cookie_init(s);
    t->challenge_tokens = TCP_CHALLENGE_PER_SEC;
    t->challenge_refill = s->now;
    t->rst_tokens = s->cfg.tcp_rst_per_sec;
    t->rst_refill = s->now;
    return t->buckets && t->heap ? 0 : -1;
}

void tcp_free(struct sk_stack *s)
{
    struct tcp_table *t = &s->tcp;
    if (t->all.next) {
        /* Children first: freeing one updates its listener's queues. */
        for (struct link *l = t->all.next, *next; l != &t->all; l = next) {
            next = l->next;
            struct sk_tcb *c = container_of(l, struct sk_tcb, all_link);
            if (list_linked(&c->q_link))
                tcb_free(c);
        }
        while (!list_empty(&t->all))
            tcb_free(container_of(t->all.next, struct sk_tcb, all_link));
    }
    ring_pool_free(&t->pool);
    free(t->buckets);
    free(t->heap);
}

static uint32_t tuple_hash(const struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                           uint16_t rport)
{
    uint8_t b[12];
    wr32(b, laddr);
    wr32(b + 4, raddr);
    wr16(b + 8, lport);
    wr16(b + 10, rport);
    return (uint32_t)siphash24(s->tcp.hash_key, b, sizeof(b));
}

uint32_t tcp_isn(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    /* RFC 6528 section 3: ISN = M + F(localip, localport, remoteip,
     * remoteport, secretkey), M a timer ticking every 4 microseconds and F
     * a keyed PRF, here SipHash-2-4. */
    uint8_t b[12];
    wr32(b, laddr);
    wr16(b + 4, lport);
    wr32(b + 6, raddr);
    wr16(b + 10, rport);
    uint32_t m = (uint32_t)(s->now / 4);
    return m + (uint32_t)siphash24(s->tcp.isn_key, b, sizeof(b));
}

struct sk_tcb *tcb_lookup(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                          uint16_t rport)
{
    uint32_t h = tuple_hash(s, laddr, lport, raddr, rport) & s->tcp.bucket_mask;
    for (struct sk_tcb *c = s->tcp.buckets[h]; c; c = c->hnext)
        if (c->lport == lport && c->rport == rport && c->raddr == raddr && c->laddr == laddr)
            return c;
    return NULL;
}

struct sk_tcb *tcb_listener(struct sk_stack *s, uint16_t port)
{
    for (struct sk_tcb *c = s->tcp.listeners[port % TCP_LISTEN_BUCKETS]; c; c = c->hnext)
        if (c->lport == port)
            return c;
    return NULL;
}

static struct sk_tcb **chain_of(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    if (c->state == SK_LISTEN && c->rport == 0)
        return &s->tcp.listeners[c->lport % TCP_LISTEN_BUCKETS];
    return &s->tcp.buckets[tuple_hash(s, c->laddr, c->lport, c->raddr, c->rport) &
                           s->tcp.bucket_mask];
}

void tcb_hash_insert(struct sk_tcb *c)
{
    struct sk_tcb **head = chain_of(c);
    c->hnext = *head;
    *head = c;
}

static void hash_remove(struct sk_tcb *c)
{
    for (struct sk_tcb **pp = chain_of(c); *pp; pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            c->hnext = NULL;
            return;
        }
}

/* ---- TCB life ---- */

/* A full table first gives up its oldest TIME_WAIT connection nobody
 * holds: it only guards against old duplicates, a live connection matters
 * more (Linux recycles them too, RFC 6191 spirit). */
static bool recycle_time_wait(struct sk_stack *s)
{
    if (list_empty(&s->tcp.time_wait))
        return false;
    struct sk_tcb *old = container_of(s->tcp.time_wait.next, struct sk_tcb, tw_link);
    s->ctr.tcp_time_wait_recycled++;
    tcp_cause(s, "recycled for a new connection");
    tcb_close(old, 0);
    return true;
}

struct sk_tcb *tcb_new(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport)
{
    if (s->tcp.ntcbs >= s->cfg.tcp_max_conns && !recycle_time_wait(s))
        return NULL;
    struct sk_tcb *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->stack = s;
    c->laddr = laddr;
    c->lport = lport;
    c->raddr = raddr;
    c->rport = rport;
    c->state = SK_CLOSED;
    c->t.heap_idx = UINT32_MAX;
    c->rto_us = TCP_RTO_INITIAL;
    c->mss = c->mss_data = TCP_DEFAULT_MSS;
    c->ooo_last = -1;
    c->cc.ssthresh = UINT32_MAX;
    c->sb.thead = c->sb.ttail = TCP_REC_NIL;
    /* The stack's defaults; sk_conn_set_opts or the listener may change them. */
    c->opts.sndbuf = s->cfg.tcp_sndbuf;
    c->opts.rcvbuf = s->cfg.tcp_rcvbuf;
    c->opts.cc = s->cfg.tcp_cc;
    tcb_apply_opts(c, &c->opts);
    list_init(&c->ev_link);
    list_init(&c->flush_link);
    list_init(&c->q_link);
    list_init(&c->tw_link);
    list_init(&c->ho_link);
    list_init(&c->synq);
    list_init(&c->acceptq);
    list_add_tail(&s->tcp.all, &c->all_link);
    s->tcp.ntcbs++;
    return c;
}

void tcb_apply_opts(struct sk_tcb *c, const struct sk_tcp_opts *o)
{
    struct sk_stack *s = c->stack;
    if (&c->opts != o)
        c->opts = *o;
    c->sndbuf = o->sndbuf ? o->sndbuf : s->cfg.tcp_sndbuf;
    c->rcvbuf = o->rcvbuf ? o->rcvbuf : s->cfg.tcp_rcvbuf;
    c->nodelay = o->nodelay;
    c->ka_idle_us = (uint64_t)o->keepalive_idle_ms * 1000;
    c->ka_intvl_us = (uint64_t)(o->keepalive_intvl_ms ? o->keepalive_intvl_ms : 75000) * 1000;
    c->ka_count = o->keepalive_count ? o->keepalive_count : 9;
    int cc = o->cc ? o->cc : s->cfg.tcp_cc;
    c->cc.ops = cc == SK_CC_NEWRENO ? &tcp_newreno : &tcp_cubic;
    if (c->state == SK_ESTABLISHED || c->state == SK_CLOSE_WAIT)
        tcp_snd_keepalive_arm(c);
}

int tcb_alloc_buffers(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    if (c->sndq.cap)
        return 0;
    /* The receive ring has room for the slack a scaled window can announce
     * beyond the buffer: the window is rounded up to a unit of 2^wscale
     * rather than shrink (RFC 7323 2.4). */
    uint32_t slack = 1u << tcp_opt_wscale_for(c->rcvbuf);
    if (ring_init(&c->sndq, c->sndbuf, &s->tcp.pool) < 0 ||
        ring_init(&c->rcvq, c->rcvbuf + slack, &s->tcp.pool) < 0) {
        ring_free(&c->sndq);
        ring_free(&c->rcvq);
        return -1;
    }
    return 0;
}

void tcb_time_wait_enter(struct sk_tcb *c)
{
    /* Everything we sent is acknowledged: the send ring can go now, and the
     * receive ring too unless the app still has bytes to read. */
    ring_free(&c->sndq);
    tcp_snd_free(c);
    if (!c->app_owned || c->rcvq.len == 0) {
        ring_free(&c->rcvq);
        tcp_rcv_free(c);
    }
    if (!c->app_owned)
        list_add_tail(&c->stack->tcp.time_wait, &c->tw_link);
}

void tcb_free(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    hash_remove(c);
    tcp_timer_heap_remove(c);
    list_del(&c->ev_link);
    list_del(&c->flush_link);
    list_del(&c->all_link);
    list_del(&c->tw_link);
    list_del(&c->ho_link);
    if (list_linked(&c->q_link)) {
        list_del(&c->q_link);
        if (c->in_acceptq)
            c->parent->acceptq_len--;
        else
            c->parent->synq_len--;
    }
    ring_free(&c->sndq);
    ring_free(&c->rcvq);
    tcp_snd_free(c);
    tcp_rcv_free(c);
    s->tcp.ntcbs--;
    free(c);
}

/* "S seq 3136640809 ack 1": a segment as tcpdump names it, for reports. */
static void describe_seg(char *out, size_t cap, uint8_t flags, uint32_t seq, uint32_t ack)
{
    char f[8];
    int n = 0;
    if (flags & TCP_SYN)
        f[n++] = 'S';
    if (flags & TCP_FIN)
        f[n++] = 'F';
    if (flags & TCP_RST)
        f[n++] = 'R';
    if (flags & TCP_PSH)
        f[n++] = 'P';
    if (flags & TCP_URG)
        f[n++] = 'U';
    if (flags & TCP_ACK)
        f[n++] = '.';
    f[n] = '\0';
    if (n == 0)
        memcpy(f, "none", 5);
    if (flags & TCP_ACK)
        snprintf(out, cap, "%s seq %u ack %u", f, (unsigned)seq, (unsigned)ack);
    else
        snprintf(out, cap, "%s seq %u", f, (unsigned)seq);
}

/* Never inlined, so `break tcp_set_state` (and synack-break-state) stops at
 * every transition in optimized builds too. */
__attribute__((noinline)) void tcp_set_state(struct sk_tcb *c, int state)
{
    /* The one place every transition goes through: trace, gdb breakpoint. */
    int old = c->state;
    c->state = state;
    struct sk_stack *s = c->stack;
    /* Held against the diagram of tcp_states.c: a change not in it is a bug. */
    if (old != state && !sk_tcp_transition_known(old, state))
        s->ctr.tcp_bad_transitions++;
    if (s->cfg.on_state && old != state) {
        struct sk_state_change ch = {.conn = c,
                                     .laddr = c->laddr,
                                     .raddr = c->raddr,
                                     .lport = c->lport,
                                     .rport = c->rport,
                                     .from = old,
                                     .to = state};
        if (s->tcp.cause_seg.on)
            describe_seg(ch.cause, sizeof(ch.cause), s->tcp.cause_seg.flags,
                         s->tcp.cause_seg.seq, s->tcp.cause_seg.ack);
        else
            memcpy(ch.cause, s->tcp.cause, sizeof(ch.cause));
        s->cfg.on_state(s->cfg.observer_ctx, &ch, s->now);
    }
}

void tcp_cause(struct sk_stack *s, const char *why)
{
    s->tcp.cause_seg.on = false;
    snprintf(s->tcp.cause, sizeof(s->tcp.cause), "%s", why);
}

void tcb_event(struct sk_tcb *c, unsigned ev)
{
    if (!c->app_owned)
        return;
    c->ev_pending |= ev;
    if (!list_linked(&c->ev_link))
        list_add_tail(&c->stack->tcp.events, &c->ev_link);
}

void tcb_want_output(struct sk_tcb *c)
{
    if (!list_linked(&c->flush_link))
        list_add_tail(&c->stack->tcp.flush, &c->flush_link);
}

void tcb_close(struct sk_tcb *c, int error)
{
    bool was_open = c->state != SK_CLOSED && c->state != SK_TIME_WAIT;
    if (error && !c->error)
        c->error = error;
    tcp_timers_clear_all(c);
    list_del(&c->flush_link);
    list_del(&c->tw_link);
    list_del(&c->ho_link);
    hash_remove(c);
    tcp_set_state(c, SK_CLOSED);
    if (c->app_owned) {
        /* TIME_WAIT already told the app it was closed. */
        if (error)
            tcb_event(c, SK_EV_ERROR);
        else if (was_open)
            tcb_event(c, SK_EV_CLOSED);
        return;
    }
    tcb_free(c);
}

void tcb_orphan_timeout(struct sk_tcb *c)
{
    /* Nobody can read what a FIN_WAIT_2 orphan receives, and a peer that
     * never sends its FIN would hold it forever: bound it by 2*MSL, as
     * Linux bounds it by tcp_fin_timeout. */
    if (!c->app_owned && c->state == SK_FIN_WAIT_2 && !tcp_timer_on(c, TCP_T_CLOSE))
        tcp_timer_set(c, TCP_T_CLOSE, c->stack->now + 2000ULL * c->stack->cfg.tcp_msl_ms);
}

void tcp_flush(struct sk_stack *s)
{
    /* Take the list as it is: a connection that asks for output again while
     * sending (it cannot, today) waits for the next flush instead of
     * looping here. */
    struct link batch;
    list_init(&batch);
    if (!list_empty(&s->tcp.flush)) {
        batch.next = s->tcp.flush.next;
        batch.prev = s->tcp.flush.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        list_init(&s->tcp.flush);
    }
    while (!list_empty(&batch)) {
        struct sk_tcb *c = container_of(batch.next, struct sk_tcb, flush_link);
        list_del(&c->flush_link);
        tcp_output(c);
    }
}
