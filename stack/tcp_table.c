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
    /* Both start small and double on demand (tcb_new, tcb_hash_insert):
     * a stack with a few connections holds a few KiB, one with 100,000
     * about 1 MiB of buckets and 1 MiB of heap. */
    t->buckets = calloc(TCP_HASH_MIN, sizeof(*t->buckets));
    t->bucket_mask = TCP_HASH_MIN - 1;
    t->heap_cap = TCP_HEAP_MIN;
    t->heap = calloc(t->heap_cap, sizeof(*t->heap));
    list_init(&t->all);
    list_init(&t->time_wait);
    list_init(&t->half_open);
    list_init(&t->events);
    list_init(&t->flush);
    /* Free chunks are kept for reuse, 256 (4 MiB, a default receive
     * buffer): a transfer's steady state takes and gives back
     * chunks without malloc, whose heap would otherwise hand the pages of a
     * window's worth back to the kernel (glibc trims a free top past 128
     * KiB) and take page faults to get them again, at 64 KiB frames a
     * fifth of the stack's time. */
    ring_pool_init(&t->pool, 256, (s->cfg.tcp_mem_max + RING_CHUNK - 1) >> RING_CHUNK_SHIFT);
    list_init(&t->mem_wait);
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
    tcp_snd_pool_free(t);
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

static bool has_tuple(const struct sk_tcb *c, uint32_t laddr, uint16_t lport, uint32_t raddr,
                      uint16_t rport)
{
    return c->lport == lport && c->rport == rport && c->raddr == raddr && c->laddr == laddr;
}

struct sk_tcb *tcb_lookup(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                          uint16_t rport)
{
    /* The keyed hash costs as much as the rest of a segment's lookup and
     * header checks together: the last connection found is tried first.
     * It is in the table (hash_remove forgets it). */
    struct sk_tcb *c = s->tcp.last_found;
    if (c && has_tuple(c, laddr, lport, raddr, rport))
        return c;
    uint32_t h = tuple_hash(s, laddr, lport, raddr, rport) & s->tcp.bucket_mask;
    for (c = s->tcp.buckets[h]; c; c = c->hnext)
        if (has_tuple(c, laddr, lport, raddr, rport)) {
            s->tcp.last_found = c;
            return c;
        }
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

/* Doubles the buckets when there are more connections than buckets (a
 * load of 1), so a chain stays about one long: lookup is O(1) at any
 * size.  The rehash walks every chain once, O(n), but only when n
 * doubled: amortized O(1) per connection.  Without memory for the new
 * array the old one goes on serving, with longer chains. */
static void hash_grow(struct tcp_table *t)
{
    uint32_t n = t->bucket_mask + 1;
    if (t->ntcbs <= n || n >= TCP_HASH_MAX)
        return;
    struct sk_tcb **nb = calloc(2 * (size_t)n, sizeof(*nb));
    if (!nb)
        return;
    struct sk_stack *s = container_of(t, struct sk_stack, tcp);
    uint32_t mask = 2 * n - 1;
    for (uint32_t i = 0; i < n; i++)
        for (struct sk_tcb *c = t->buckets[i], *next; c; c = next) {
            next = c->hnext;
            uint32_t h = tuple_hash(s, c->laddr, c->lport, c->raddr, c->rport) & mask;
            c->hnext = nb[h];
            nb[h] = c;
        }
    free(t->buckets);
    t->buckets = nb;
    t->bucket_mask = mask;
}

void tcb_hash_insert(struct sk_tcb *c)
{
    if (!(c->state == SK_LISTEN && c->rport == 0))
        hash_grow(&c->stack->tcp);
    struct sk_tcb **head = chain_of(c);
    c->hnext = *head;
    *head = c;
}

static void hash_remove(struct sk_tcb *c)
{
    if (c->stack->tcp.last_found == c)
        c->stack->tcp.last_found = NULL;
    if (c->stack->tcp.last_data == c)
        c->stack->tcp.last_data = NULL;
    for (struct sk_tcb **pp = chain_of(c); *pp; pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            c->hnext = NULL;
            return;
        }
}

/* ---- buffer memory (sk_config.tcp_mem_max) ---- */

bool tcp_mem_pressure(struct sk_stack *s)
{
    /* Past 7/8 of the budget, as Linux's tcp_mem pressure mark sits below
     * its hard limit: windows stop opening and sk_send is held to one
     * chunk per connection before anything has to be dropped. */
    const struct ring_pool *p = &s->tcp.pool;
    bool on = p->chunks >= p->limit - p->limit / 8;
    if (on && !s->tcp.mem_pressed)
        s->ctr.tcp_mem_pressure++;
    s->tcp.mem_pressed = on;
    return on;
}

void tcp_mem_wait(struct sk_tcb *c)
{
    if (!list_linked(&c->mem_link))
        list_add_tail(&c->stack->tcp.mem_wait, &c->mem_link);
}

/* Called at every flush: while memory is under the pressure mark again,
 * senders refused for memory hear SK_EV_WRITABLE, oldest first, about as
 * many as there are chunks to take below the mark (each takes one at
 * least), so a flush does bounded work and nobody waits forever. */
static void mem_wake(struct sk_stack *s)
{
    struct tcp_table *t = &s->tcp;
    if (list_empty(&t->mem_wait))
        return;
    uint64_t mark = t->pool.limit - t->pool.limit / 8;
    uint64_t room = t->pool.chunks < mark ? mark - t->pool.chunks : 0;
    while (room-- && !list_empty(&t->mem_wait)) {
        struct sk_tcb *c = container_of(t->mem_wait.next, struct sk_tcb, mem_link);
        list_del(&c->mem_link);
        s->ctr.tcp_mem_send_woken++;
        tcb_event(c, SK_EV_WRITABLE);
    }
}

size_t tcb_mem_bytes(const struct sk_tcb *c)
{
    return sizeof(*c) + ring_mem_bytes(&c->sndq) + ring_mem_bytes(&c->rcvq) +
           (size_t)c->sb.cap * sizeof(*c->sb.rec) + (size_t)c->ooo_cap * sizeof(*c->ooo);
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
    /* Every TCB may sit in the timer heap: make room for one more first,
     * so arming a timer never needs memory (tcp_timer.c). */
    if (tcp_timer_heap_reserve(&s->tcp, s->tcp.ntcbs + 1) < 0)
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
    list_init(&c->mem_link);
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
    list_del(&c->mem_link);
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
            describe_seg(ch.cause, sizeof(ch.cause), s->tcp.cause_seg.flags, s->tcp.cause_seg.seq,
                         s->tcp.cause_seg.ack);
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
    list_del(&c->mem_link);
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
    mem_wake(s);
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
