/* tcp.c - TCP connection blocks: creation, lookup by a hash of the 4-tuple,
 * the timer heap, state changes, and the public socket-like API.
 *
 * Segment arrival is in tcp_in.c, segment output and retransmission in
 * tcp_out.c.  A TCB lives from sk_listen/sk_connect or a listener's SYN
 * until both TCP is done with it (CLOSED) and the app has let go of it
 * (sk_close, or never handed out, as for a child not yet accepted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "core.h"
#include "ipv4.h"
#include "seq.h"
#include "siphash.h"
#include "tcp.h"

#define HEAP_NONE UINT32_MAX

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
    /* One draw of random bytes keys both the hash (against hash flooding)
     * and the ISN function of RFC 6528. */
    s->cfg.random(s->cfg.random_ctx, t->hash_key, sizeof(t->hash_key));
    if (s->cfg.tcp_fixed_isn_key)
        memcpy(t->isn_key, s->cfg.tcp_isn_key, sizeof(t->isn_key));
    else
        s->cfg.random(s->cfg.random_ctx, t->isn_key, sizeof(t->isn_key));
    t->challenge_tokens = TCP_CHALLENGE_PER_SEC;
    t->challenge_refill = s->now;
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

/* ---- the timer heap: a binary min-heap on tcb->deadline ---- */

static void heap_swap(struct tcp_table *t, uint32_t i, uint32_t j)
{
    struct sk_tcb *a = t->heap[i];
    t->heap[i] = t->heap[j];
    t->heap[j] = a;
    t->heap[i]->heap_idx = i;
    t->heap[j]->heap_idx = j;
}

static void heap_fix(struct tcp_table *t, uint32_t i)
{
    while (i > 0 && t->heap[(i - 1) / 2]->deadline > t->heap[i]->deadline) {
        heap_swap(t, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->heap_len && t->heap[l]->deadline < t->heap[m]->deadline)
            m = l;
        if (r < t->heap_len && t->heap[r]->deadline < t->heap[m]->deadline)
            m = r;
        if (m == i)
            break;
        heap_swap(t, i, m);
        i = m;
    }
}

static void heap_remove(struct tcp_table *t, struct sk_tcb *c)
{
    uint32_t i = c->heap_idx;
    if (i == HEAP_NONE)
        return;
    c->heap_idx = HEAP_NONE;
    if (i != --t->heap_len) {
        t->heap[i] = t->heap[t->heap_len];
        t->heap[i]->heap_idx = i;
        heap_fix(t, i);
    }
}

void tcb_timer_update(struct sk_tcb *c)
{
    struct tcp_table *t = &c->stack->tcp;
    uint64_t d = UINT64_MAX;
    if (c->rtx_deadline)
        d = c->rtx_deadline;
    if (c->tw_deadline)
        d = min_u64(d, c->tw_deadline);
    if (d == UINT64_MAX) {
        heap_remove(t, c);
        return;
    }
    c->deadline = d;
    if (c->heap_idx == HEAP_NONE) {
        /* heap_cap == tcp_max_conns bounds the TCBs, so there is room. */
        c->heap_idx = t->heap_len;
        t->heap[t->heap_len++] = c;
    }
    heap_fix(t, c->heap_idx);
}

uint64_t tcp_next_deadline(const struct sk_stack *s)
{
    return s->tcp.heap_len ? s->tcp.heap[0]->deadline : UINT64_MAX;
}

void tcp_timers(struct sk_stack *s)
{
    struct tcp_table *t = &s->tcp;
    /* Each pass either frees the TCB, removes its timer or moves it into the
     * future, so the loop ends. */
    while (t->heap_len && t->heap[0]->deadline <= s->now) {
        struct sk_tcb *c = t->heap[0];
        if (c->tw_deadline && c->tw_deadline <= s->now) {
            c->tw_deadline = 0;
            tcp_cause(s, c->state == SK_TIME_WAIT ? "2*MSL timer" : "FIN_WAIT_2 orphan timer");
            tcb_close(c, 0); /* 2*MSL is over (RFC 9293 3.10.8) */
        } else if (c->rtx_deadline && c->rtx_deadline <= s->now) {
            c->rtx_deadline = 0;
            tcp_cause(s, c->persist ? "persist timer" : "retransmission timer");
            tcb_timer_update(c);
            tcp_rtx_timeout(c);
        } else {
            tcb_timer_update(c);
        }
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
    c->heap_idx = HEAP_NONE;
    c->rto_us = TCP_RTO_INITIAL;
    c->mss = TCP_DEFAULT_MSS;
    c->ssthresh = UINT32_MAX;
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

int tcb_alloc_buffers(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    if (c->sndq.buf)
        return 0;
    if (ring_init(&c->sndq, s->cfg.tcp_sndbuf) < 0 || ring_init(&c->rcvq, s->cfg.tcp_rcvbuf) < 0) {
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
    if (!c->app_owned || c->rcvq.len == 0)
        ring_free(&c->rcvq);
    if (!c->app_owned)
        list_add_tail(&c->stack->tcp.time_wait, &c->tw_link);
}

void tcb_free(struct sk_tcb *c)
{
    struct sk_stack *s = c->stack;
    hash_remove(c);
    heap_remove(&s->tcp, c);
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
    s->tcp.ntcbs--;
    free(c);
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
        memcpy(ch.cause, s->tcp.cause, sizeof(ch.cause));
        s->cfg.on_state(s->cfg.observer_ctx, &ch, s->now);
    }
}

void tcp_cause(struct sk_stack *s, const char *why)
{
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
    c->rtx_deadline = c->tw_deadline = 0;
    heap_remove(&c->stack->tcp, c);
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

void tcp_flush(struct sk_stack *s)
{
    struct link *l = &s->tcp.flush;
    /* tcp_output never adds its own TCB back, so this ends. */
    while (!list_empty(l)) {
        struct sk_tcb *c = container_of(l->next, struct sk_tcb, flush_link);
        list_del(&c->flush_link);
        tcp_output(c);
    }
}

/* ---- the API ---- */

size_t sk_poll(sk_stack *s, struct sk_event *out, size_t max)
{
    size_t n = 0;
    while (n < max && !list_empty(&s->tcp.events)) {
        struct sk_tcb *c = container_of(s->tcp.events.next, struct sk_tcb, ev_link);
        list_del(&c->ev_link);
        out[n].conn = c;
        out[n].events = c->ev_pending;
        c->ev_pending = 0;
        n++;
    }
    return n;
}

sk_conn *sk_listen(sk_stack *s, uint16_t port, unsigned backlog, int *err)
{
    int e = SK_EINVAL;
    struct sk_tcb *c = NULL;
    if (port == 0)
        goto out;
    e = SK_EADDRINUSE;
    if (tcb_listener(s, port))
        goto out;
    e = SK_ENOMEM;
    c = tcb_new(s, s->cfg.addr, port, 0, 0);
    if (!c)
        goto out;
    e = 0;
    c->backlog = backlog ? backlog : 128;
    c->app_owned = true;
    tcp_cause(s, "app: listen");
    tcp_set_state(c, SK_LISTEN);
    tcb_hash_insert(c);
out:
    if (err)
        *err = e;
    return c;
}

sk_conn *sk_accept(sk_conn *l)
{
    if (!l || l->state != SK_LISTEN || list_empty(&l->acceptq))
        return NULL;
    struct sk_tcb *c = container_of(l->acceptq.next, struct sk_tcb, q_link);
    list_del(&c->q_link);
    l->acceptq_len--;
    c->in_acceptq = false;
    c->parent = NULL;
    c->app_owned = true;
    /* What happened before the app took it. */
    unsigned ev = SK_EV_WRITABLE;
    if (c->rcvq.len)
        ev |= SK_EV_READABLE;
    if (c->fin_received)
        ev |= SK_EV_PEER_CLOSED | SK_EV_READABLE;
    tcb_event(c, ev);
    return c;
}

sk_conn *sk_connect(sk_stack *s, uint32_t raddr, uint16_t rport, uint16_t lport, uint64_t now,
                    int *err)
{
    int e = SK_EINVAL;
    struct sk_tcb *c = NULL;
    s->now = now;
    if (rport == 0 || raddr == 0 || raddr == s->cfg.addr)
        goto out;
    e = SK_ENOROUTE;
    if (!sk_on_link(s, raddr) && !s->cfg.gateway)
        goto out;
    e = SK_EADDRINUSE;
    if (lport == 0) {
        /* A random ephemeral port (RFC 6056 section 3.3.1), a bounded search. */
        for (int tries = 0; tries < 64 && lport == 0; tries++) {
            uint16_t r;
            s->cfg.random(s->cfg.random_ctx, &r, sizeof(r));
            uint16_t p = (uint16_t)(49152 + r % 16384);
            if (!tcb_lookup(s, s->cfg.addr, p, raddr, rport) && !tcb_listener(s, p))
                lport = p;
        }
        if (lport == 0)
            goto out;
    } else if (tcb_lookup(s, s->cfg.addr, lport, raddr, rport)) {
        goto out;
    }
    e = SK_ENOMEM;
    c = tcb_new(s, s->cfg.addr, lport, raddr, rport);
    if (c && tcb_alloc_buffers(c) < 0) {
        tcb_free(c);
        c = NULL;
    }
    if (!c)
        goto out;
    e = 0;
    c->app_owned = true;
    c->iss = tcp_isn(s, c->laddr, lport, raddr, rport);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->mss = (uint16_t)(s->cfg.mtu - 40);
    tcb_hash_insert(c);
    tcp_cause(s, "app: connect");
    tcp_set_state(c, SK_SYN_SENT);
    s->ctr.tcp_active_opens++;
    tcb_want_output(c);
out:
    if (err)
        *err = e;
    return c;
}

static bool can_send(const struct sk_tcb *c)
{
    switch (c->state) {
    case SK_SYN_SENT:
    case SK_SYN_RECEIVED:
    case SK_ESTABLISHED:
    case SK_CLOSE_WAIT:
        return !c->fin_queued;
    default:
        return false;
    }
}

long sk_send(sk_conn *c, const void *buf, size_t len)
{
    if (c->error)
        return -c->error;
    if (c->state == SK_LISTEN)
        return -SK_EINVAL;
    if (!can_send(c))
        return -SK_EPIPE;
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    uint32_t n = ring_write(&c->sndq, buf, (uint32_t)len);
    if (n == 0)
        return len ? -SK_EAGAIN : 0;
    tcb_want_output(c);
    return n;
}

size_t sk_send_space(const sk_conn *c)
{
    return can_send(c) ? ring_space(&c->sndq) : 0;
}

long sk_recv(sk_conn *c, void *buf, size_t len)
{
    if (c->state == SK_LISTEN)
        return -SK_EINVAL;
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    uint32_t before = tcp_rcv_window(c);
    uint32_t n = ring_read(&c->rcvq, buf, (uint32_t)len);
    if (n) {
        /* RFC 9293 3.8.6.2.2: tcp_rcv_window moves the right edge only by
         * min(RCV.BUFF/2, MSS) or more (receiver SWS avoidance).  When it
         * moves, a window update goes at once if the peer may be stalled
         * on a window below one segment, or if the window at least
         * doubled; otherwise the next ACK carries it.  (Waiting for an
         * opening of a whole MSS would never reopen a zero window whose
         * buffer is smaller than an MSS: the peer would have to probe.) */
        uint32_t after = tcp_rcv_window(c);
        if (c->state != SK_CLOSED && after > before && (before < c->mss || after >= 2 * before)) {
            c->ack_now = true;
            tcb_want_output(c);
        }
        return n;
    }
    if (c->fin_received)
        return 0;
    if (c->error)
        return -c->error;
    if (c->state == SK_CLOSED)
        return 0;
    return -SK_EAGAIN;
}

/* RFC 9293 3.10.4 CLOSE, the sending half. */
int sk_shutdown(sk_conn *c)
{
    if (c->fin_queued)
        return 0;
    switch (c->state) {
    case SK_SYN_SENT:
    case SK_SYN_RECEIVED:
        /* The FIN waits until ESTABLISHED (tcp_in.c establish()). */
        c->fin_queued = true;
        return 0;
    case SK_ESTABLISHED:
        c->fin_queued = true;
        tcp_cause(c->stack, "app: close");
        tcp_set_state(c, SK_FIN_WAIT_1);
        tcb_want_output(c);
        return 0;
    case SK_CLOSE_WAIT:
        c->fin_queued = true;
        tcp_cause(c->stack, "app: close");
        tcp_set_state(c, SK_LAST_ACK);
        tcb_want_output(c);
        return 0;
    case SK_LISTEN:
        return -SK_EINVAL;
    default:
        return c->error ? -c->error : -SK_ENOTCONN;
    }
}

static void close_listener(struct sk_tcb *l)
{
    /* Children nobody accepted are reset, as Linux does. */
    struct link *queues[2] = {&l->synq, &l->acceptq};
    for (int q = 0; q < 2; q++)
        while (!list_empty(queues[q])) {
            struct sk_tcb *c = container_of(queues[q]->next, struct sk_tcb, q_link);
            tcp_send_rst(c->stack, c->laddr, c->lport, c->raddr, c->rport, tcp_ctl_seq(c), 0,
                         TCP_RST);
            tcb_free(c);
        }
    tcb_free(l);
}

static void reset_conn(struct sk_tcb *c)
{
    switch (c->state) {
    case SK_SYN_RECEIVED:
    case SK_ESTABLISHED:
    case SK_FIN_WAIT_1:
    case SK_FIN_WAIT_2:
    case SK_CLOSE_WAIT:
        /* RFC 9293 3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>, SND.NXT as the
         * peer's window takes it (tcp_ctl_seq). */
        tcp_send_rst(c->stack, c->laddr, c->lport, c->raddr, c->rport, tcp_ctl_seq(c), 0, TCP_RST);
        break;
    default:
        break;
    }
}

void sk_close(sk_conn *c)
{
    if (!c)
        return;
    tcp_cause(c->stack, "app: close");
    c->app_owned = false;
    list_del(&c->ev_link);
    if (c->state == SK_TIME_WAIT && !list_linked(&c->tw_link))
        list_add_tail(&c->stack->tcp.time_wait, &c->tw_link);
    switch (c->state) {
    case SK_LISTEN:
        close_listener(c);
        return;
    case SK_CLOSED:
        tcb_free(c);
        return;
    case SK_SYN_SENT:
        tcb_close(c, 0);
        return;
    default:
        break;
    }
    if (c->rcvq.len) {
        /* RFC 1122 4.2.2.13: closing with unread data resets, so the peer
         * learns the data was lost. */
        reset_conn(c);
        tcb_close(c, SK_ECONNABORTED);
        return;
    }
    sk_shutdown(c);
    if (c->state == SK_FIN_WAIT_2)
        tcb_orphan_timeout(c);
}

void tcb_orphan_timeout(struct sk_tcb *c)
{
    /* Nobody can read what a FIN_WAIT_2 orphan receives, and a peer that
     * never sends its FIN would hold it forever: bound it by 2*MSL, as
     * Linux bounds it by tcp_fin_timeout. */
    if (!c->app_owned && c->state == SK_FIN_WAIT_2 && !c->tw_deadline) {
        c->tw_deadline = c->stack->now + 2000ULL * c->stack->cfg.tcp_msl_ms;
        tcb_timer_update(c);
    }
}

void sk_abort(sk_conn *c)
{
    if (!c)
        return;
    tcp_cause(c->stack, "app: abort");
    if (c->state == SK_LISTEN) {
        c->app_owned = false;
        close_listener(c);
        return;
    }
    reset_conn(c);
    c->app_owned = false;
    list_del(&c->ev_link);
    if (c->state == SK_CLOSED)
        tcb_free(c);
    else
        tcb_close(c, SK_ECONNABORTED);
}

int sk_conn_state(const sk_conn *c)
{
    return c->state;
}
int sk_conn_error(const sk_conn *c)
{
    return c->error;
}
void sk_conn_set_user(sk_conn *c, void *user)
{
    c->user = user;
}
void *sk_conn_user(const sk_conn *c)
{
    return c->user;
}

void sk_conn_endpoints(const sk_conn *c, uint32_t *laddr, uint16_t *lport, uint32_t *raddr,
                       uint16_t *rport)
{
    if (laddr)
        *laddr = c->laddr;
    if (lport)
        *lport = c->lport;
    if (raddr)
        *raddr = c->raddr;
    if (rport)
        *rport = c->rport;
}

void sk_conn_info(const sk_conn *c, struct sk_conn_info *i)
{
    memset(i, 0, sizeof(*i));
    i->state = c->state;
    i->laddr = c->laddr;
    i->raddr = c->raddr;
    i->lport = c->lport;
    i->rport = c->rport;
    i->iss = c->iss;
    i->irs = c->irs;
    i->snd_una = c->snd_una;
    i->snd_nxt = c->snd_nxt;
    i->snd_wnd = c->snd_wnd;
    i->rcv_nxt = c->rcv_nxt;
    i->rcv_wnd = c->rcv_wnd;
    i->cwnd = c->cwnd;
    i->ssthresh = c->ssthresh;
    i->mss = c->mss;
    i->srtt_us = c->srtt_us;
    i->rttvar_us = c->rttvar_us;
    i->rto_us = c->rto_us;
    i->unacked = c->snd_max - c->snd_una;
    i->send_queued = c->sndq.len;
    i->recv_queued = c->rcvq.len;
    i->retransmits = c->retransmits;
}

void sk_foreach_conn(const sk_stack *s, void (*fn)(void *ctx, const sk_conn *c), void *ctx)
{
    for (const struct link *l = s->tcp.all.next; l != &s->tcp.all; l = l->next)
        fn(ctx, container_of(l, struct sk_tcb, all_link));
}
