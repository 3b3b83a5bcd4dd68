/* tcp_timer.c - each connection's timers: one deadline per kind (enum
 * tcp_timer), and a binary min-heap of connections on their earliest
 * deadline, so the stack finds the next due timer in O(1) and runs each
 * in O(log n).  Time is the stack's `now`: nothing here reads a clock. */
#include <stdlib.h>

#include "core.h"
#include "tcp.h"

#define HEAP_NONE UINT32_MAX

static void heap_swap(struct tcp_table *t, uint32_t i, uint32_t j)
{
    struct sk_tcb *a = t->heap[i];
    t->heap[i] = t->heap[j];
    t->heap[j] = a;
    t->heap[i]->t.heap_idx = i;
    t->heap[j]->t.heap_idx = j;
}

static void heap_fix(struct tcp_table *t, uint32_t i)
{
    while (i > 0 && t->heap[(i - 1) / 2]->t.deadline > t->heap[i]->t.deadline) {
        heap_swap(t, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->heap_len && t->heap[l]->t.deadline < t->heap[m]->t.deadline)
            m = l;
        if (r < t->heap_len && t->heap[r]->t.deadline < t->heap[m]->t.deadline)
            m = r;
        if (m == i)
            break;
        heap_swap(t, i, m);
        i = m;
    }
}

void tcp_timer_heap_remove(struct sk_tcb *c)
{
    struct tcp_table *t = &c->stack->tcp;
    uint32_t i = c->t.heap_idx;
    if (i == HEAP_NONE)
        return;
    c->t.heap_idx = HEAP_NONE;
    if (i != --t->heap_len) {
        t->heap[i] = t->heap[t->heap_len];
        t->heap[i]->t.heap_idx = i;
        heap_fix(t, i);
    }
}

int tcp_timer_heap_reserve(struct tcp_table *t, uint32_t n)
{
    if (n <= t->heap_cap)
        return 0;
    /* Doubling: a connection costs amortized O(1) copies, and the array
     * is never more than twice the TCBs (it does not shrink: a stack that
     * once held n connections may well hold them again). */
    uint32_t cap = t->heap_cap ? t->heap_cap : TCP_HEAP_MIN;
    while (cap < n)
        cap *= 2;
    struct sk_tcb **a = realloc(t->heap, (size_t)cap * sizeof(*a));
    if (!a)
        return -1;
    t->heap = a;
    t->heap_cap = cap;
    return 0;
}

/* Puts the connection where its earliest deadline belongs. */
static void timers_update(struct sk_tcb *c)
{
    struct tcp_table *t = &c->stack->tcp;
    uint64_t d = UINT64_MAX;
    for (int k = 0; k < TCP_T_COUNT; k++)
        if (c->t.at[k] && c->t.at[k] < d)
            d = c->t.at[k];
    if (d == UINT64_MAX) {
        tcp_timer_heap_remove(c);
        return;
    }
    if (c->t.heap_idx != HEAP_NONE && d == c->t.deadline)
        return;
    c->t.deadline = d;
    if (c->t.heap_idx == HEAP_NONE) {
        /* tcb_new reserved a place for every TCB, so there is room. */
        c->t.heap_idx = t->heap_len;
        t->heap[t->heap_len++] = c;
    }
    heap_fix(t, c->t.heap_idx);
}

void tcp_timer_set(struct sk_tcb *c, enum tcp_timer k, uint64_t at)
{
    c->t.at[k] = at ? at : 1; /* 0 means off */
    timers_update(c);
}

void tcp_timer_clear(struct sk_tcb *c, enum tcp_timer k)
{
    if (!c->t.at[k])
        return;
    c->t.at[k] = 0;
    timers_update(c);
}

void tcp_timers_clear_all(struct sk_tcb *c)
{
    for (int k = 0; k < TCP_T_COUNT; k++)
        c->t.at[k] = 0;
    tcp_timer_heap_remove(c);
}

uint64_t tcp_next_deadline(const struct sk_stack *s)
{
    return s->tcp.heap_len ? s->tcp.heap[0]->t.deadline : UINT64_MAX;
}

static void close_timeout(struct sk_tcb *c)
{
    tcp_cause(c->stack, c->state == SK_TIME_WAIT ? "2*MSL timer" : "FIN_WAIT_2 orphan timer");
    tcb_close(c, 0); /* 2*MSL is over (RFC 9293 3.10.8) */
}

/* What each kind does when it fires; a handler may free the TCB. */
static void (*const handlers[TCP_T_COUNT])(struct sk_tcb *) = {
    [TCP_T_RTX] = tcp_snd_rto_timeout,       [TCP_T_TLP] = tcp_snd_tlp_timeout,
    [TCP_T_REO] = tcp_snd_reo_timeout,       [TCP_T_PERSIST] = tcp_snd_persist_timeout,
    [TCP_T_DELACK] = tcp_rcv_delack_timeout, [TCP_T_KEEPALIVE] = tcp_snd_keepalive_timeout,
    [TCP_T_CLOSE] = close_timeout,
};

static const char *const causes[TCP_T_COUNT] = {
    [TCP_T_RTX] = "retransmission timer",  [TCP_T_TLP] = "tail loss probe timer",
    [TCP_T_REO] = "RACK reordering timer", [TCP_T_PERSIST] = "persist timer",
    [TCP_T_DELACK] = "delayed-ACK timer",  [TCP_T_KEEPALIVE] = "keep-alive timer",
    [TCP_T_CLOSE] = "2*MSL timer",
};

void tcp_timers(struct sk_stack *s)
{
    struct tcp_table *t = &s->tcp;
    /* Each pass turns one due timer off before its handler runs (which may
     * set it again, in the future, or free the TCB), so the loop ends. */
    while (t->heap_len && t->heap[0]->t.deadline <= s->now) {
        struct sk_tcb *c = t->heap[0];
        int due = -1;
        for (int k = 0; k < TCP_T_COUNT && due < 0; k++)
            if (c->t.at[k] && c->t.at[k] <= s->now)
                due = k;
        if (due < 0) { /* stale key: cannot happen, but never spin */
            timers_update(c);
            continue;
        }
        c->t.at[due] = 0;
        timers_update(c);
        tcp_cause(s, causes[due]);
        handlers[due](c);
    }
}
