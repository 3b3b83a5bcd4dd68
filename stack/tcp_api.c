/* tcp_api.c - the socket-like API of synack.h: listen, accept, connect,
 * send, recv, shutdown, close, abort, options and the ss-like snapshot.
 * Every call only queues and marks: segments leave at the next sk_flush. */
#include <string.h>

#include "bytes.h"
#include "core.h"
#include "seq.h"
#include "tcp.h"

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
    c->mss = c->mss_data = (uint16_t)(s->cfg.mtu - 40);
    tcp_opt_init(c);
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

/* What the send ring may take now.  Under memory pressure (tcp_table.c
 * tcp_mem_pressure) a connection keeps going on one chunk: an empty ring
 * may take one, a ring that holds some only fills the chunk it has.  At
 * the budget itself no chunk is taken at all (ring.c). */
static uint32_t send_room(struct sk_tcb *c)
{
    uint32_t room = ring_space(&c->sndq);
    if (room && tcp_mem_pressure(c->stack)) {
        const struct ring *r = &c->sndq;
        uint32_t one = RING_CHUNK - ((r->head + r->len) & (RING_CHUNK - 1));
        room = min_u32(room, r->nheld ? ring_tail_room(r) : one);
        /* Nor more than the peer's window takes now: memory holding what
         * cannot be sent only keeps it from others (a peer that does not
         * read would otherwise pin a chunk for ever).  Once established;
         * a window that opens wakes the sender (tcp_snd_window). */
        if (c->state >= SK_ESTABLISHED) {
            uint32_t wnd = c->snd_wnd > r->len ? c->snd_wnd - r->len : 0;
            room = min_u32(room, wnd);
        }
    }
    /* No more than the chunks left in the budget can hold: what this
     * says is what sk_send will take. */
    uint64_t pool = ring_pool_room(&c->stack->tcp.pool);
    uint64_t can = ring_tail_room(&c->sndq) + min_u64(pool, 1u << 18) * RING_CHUNK;
    return (uint32_t)min_u64(room, can);
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
    uint32_t want = (uint32_t)len;
    uint32_t room = send_room(c);
    if (want > room && room < ring_space(&c->sndq)) {
        /* Memory, not this connection's buffer, is what is short: count
         * it, and wake the sender when there is memory again. */
        c->stack->ctr.tcp_mem_send_refused++;
        tcp_mem_wait(c);
    }
    uint32_t n = ring_write(&c->sndq, buf, min_u32(want, room));
    if (n == 0 && len && ring_space(&c->sndq) && !list_linked(&c->mem_link))
        tcp_mem_wait(c); /* malloc itself failed: try again when memory is given back */
    if (n == 0)
        return len ? -SK_EAGAIN : 0;
    tcb_want_output(c);
    return n;
}

size_t sk_send_space(const sk_conn *cc)
{
    /* The same room sk_send would take (an app that reads only what it
     * can send, as an echo server, must not be told more).  A zero for
     * want of memory puts the connection on the wait list, as a refused
     * sk_send does, so its SK_EV_WRITABLE comes: asking is wanting. */
    struct sk_tcb *c = (struct sk_tcb *)cc;
    if (!can_send(c))
        return 0;
    uint32_t room = send_room(c);
    if (room == 0 && ring_space(&c->sndq)) {
        c->stack->ctr.tcp_mem_send_refused++;
        tcp_mem_wait(c);
    }
    return room;
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
        tcp_rcv_app_read(c, before);
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
            sk_why_out(c->stack, SK_WHY_RST_ABORT, tcp_ctl_seq(c));
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
        sk_why_out(c->stack, SK_WHY_RST_ABORT, tcp_ctl_seq(c));
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
    i->cwnd = c->cc.cwnd;
    i->ssthresh = c->cc.ssthresh;
    i->mss = c->mss_data; /* data per segment, as ss's mss (options taken off) */
    i->srtt_us = c->srtt_us;
    i->rttvar_us = c->rttvar_us;
    i->rto_us = c->rto_us;
    i->unacked = c->snd_max - c->snd_una;
    i->send_queued = c->sndq.len;
    i->recv_queued = c->rcvq.len;
    i->retransmits = c->retransmits;
    i->sack = c->sack_ok;
    i->timestamps = c->ts_ok;
    i->snd_wscale = c->ws_ok ? c->snd_wscale : -1;
    i->rcv_wscale = c->ws_ok ? c->rcv_wscale : -1;
    static const char *const ca_names[] = {
        [TCP_CA_OPEN] = "open", [TCP_CA_RECOVERY] = "recovery", [TCP_CA_LOSS] = "loss"};
    i->ca_state = ca_names[c->ca_state];
    i->cc = c->cc.ops ? c->cc.ops->name : "";
    i->in_flight = c->state >= SK_ESTABLISHED ? tcp_snd_pipe(c) : 0;
    i->sacked = c->sb.sacked;
    i->lost = c->sb.lost;
    i->min_rtt_us = c->rack.min_rtt_us;
    i->rack_rtt_us = c->rack.rtt_us;
    i->reordering = c->rack.reord;
    i->fast_retransmits = c->n_fast_rtx;
    i->timeouts = c->n_rto;
    i->tail_loss_probes = c->n_tlp;
    i->undos = c->n_undo;
    i->rcv_ooo = c->n_ooo;
}

static const char *const cc_names[SK_CC_COUNT] = {
    [SK_CC_DEFAULT] = "default", [SK_CC_CUBIC] = "cubic", [SK_CC_NEWRENO] = "newreno"};

const char *sk_cc_name(int cc)
{
    return cc >= 0 && cc < SK_CC_COUNT ? cc_names[cc] : NULL;
}

int sk_cc_from_name(const char *name)
{
    for (int i = SK_CC_CUBIC; i < SK_CC_COUNT; i++)
        if (strcmp(name, cc_names[i]) == 0)
            return i;
    return -1;
}

/* Whether the SYN that fixes our window scale has not been sent or
 * answered yet: the buffers may still change size.  A connection that has
 * ended is CLOSED too, but it sent its SYN: its rings and out-of-order
 * ranges stay as they are (remade, they lost unread data and left ranges
 * pointing past the new ring). */
static bool before_syn(const struct sk_tcb *c)
{
    return c->state == SK_LISTEN ||
           ((c->state == SK_CLOSED || c->state == SK_SYN_SENT) && c->snd_max == c->iss);
}

int sk_conn_set_opts(sk_conn *c, const struct sk_tcp_opts *o)
{
    if (!o || o->cc < 0 || o->cc >= SK_CC_COUNT)
        return -SK_EINVAL;
    /* A size of 0 keeps the stack's default: compare what would be used. */
    const struct sk_config *cfg = &c->stack->cfg;
    bool sizes = (o->sndbuf ? o->sndbuf : cfg->tcp_sndbuf) != c->sndbuf ||
                 (o->rcvbuf ? o->rcvbuf : cfg->tcp_rcvbuf) != c->rcvbuf;
    if (sizes) {
        if ((o->sndbuf && (o->sndbuf < 1024 || o->sndbuf > (1u << 30))) ||
            (o->rcvbuf && (o->rcvbuf < 1024 || o->rcvbuf > (1u << 30))))
            return -SK_EINVAL;
        if (!before_syn(c) || c->sndq.len)
            return -SK_EINVAL;
    }
    /* Keep-alive values must make sense when it is on. */
    if (o->keepalive_idle_ms && (o->keepalive_idle_ms > 86400000u * 7 ||
                                 o->keepalive_intvl_ms > 86400000u || o->keepalive_count > 1000))
        return -SK_EINVAL;
    /* The algorithm of a running connection stays: its state is its own. */
    int cc = c->state >= SK_ESTABLISHED ? c->opts.cc : o->cc;
    c->opts = *o;
    c->opts.cc = cc;
    tcb_apply_opts(c, &c->opts);
    if (sizes && c->state != SK_LISTEN)
        c->rcv_wscale = tcp_opt_wscale_for(c->rcvbuf); /* what our SYN will offer */
    if (sizes && c->sndq.cap) {
        /* Nothing was sent or queued yet: make the rings again. */
        ring_free(&c->sndq);
        ring_free(&c->rcvq);
        if (tcb_alloc_buffers(c) < 0)
            return -SK_ENOMEM;
    }
    if (!o->keepalive_idle_ms)
        tcp_timer_clear(c, TCP_T_KEEPALIVE);
    return 0;
}

void sk_conn_get_opts(const sk_conn *c, struct sk_tcp_opts *o)
{
    *o = c->opts;
    o->sndbuf = c->sndbuf;
    o->rcvbuf = c->rcvbuf;
    if (!o->cc)
        o->cc = c->cc.ops == &tcp_newreno ? SK_CC_NEWRENO : SK_CC_CUBIC;
}

void sk_foreach_conn(const sk_stack *s, void (*fn)(void *ctx, const sk_conn *c), void *ctx)
{
    for (const struct link *l = s->tcp.all.next; l != &s->tcp.all; l = l->next)
        fn(ctx, container_of(l, struct sk_tcb, all_link));
}
