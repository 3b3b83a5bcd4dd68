/* limit_notes.c - the messages of limit_notes.h.
 *
 * To tell of a new limit, add its counter and message to the table; the
 * message says what is being dropped and which option raises the limit. */
#include "limit_notes.h"

#include <stddef.h>

static const struct {
    size_t counter; /* offsetof(struct sk_counters, ...) */
    const char *message;
} limit_table[] = {
    {offsetof(struct sk_counters, tcp_conns_limit),
     "connection limit reached: SYNs are being dropped (see --max-conns)"},
    {offsetof(struct sk_counters, drop_tcp_listen_overflow),
     "accept queue full: SYNs are being dropped (see --backlog)"},
    {offsetof(struct sk_counters, drop_arp_pending),
     "packets dropped while waiting for ARP: the queue is full or the neighbour does not answer "
     "(see --arp-pending)"},
    {offsetof(struct sk_counters, drop_tcp_rcv_nomem),
     "no memory for received data: TCP segments are being dropped (see --mem-max)"},
    {offsetof(struct sk_counters, drop_tcp_ooo_full),
     "out-of-order queue full: TCP segments are being dropped (see --max-ooo)"},
    {offsetof(struct sk_counters, tcp_mem_pressure),
     "buffer memory passed 7/8 of its budget: windows held, sends limited (see --mem-max)"},
    {offsetof(struct sk_counters, tcp_mem_send_refused),
     "buffer memory budget reached: senders must wait (see --mem-max)"},
    {offsetof(struct sk_counters, tcp_syncookies_sent),
     "half-open queue full (a SYN flood?): answering SYNs with SYN cookies (see --max-half-open)"},
    {offsetof(struct sk_counters, tcp_rst_limited),
     "more than 1000 RSTs a second for closed ports: the rest are not sent (a scan?)"},
    {offsetof(struct sk_counters, drop_ip_frag_evicted),
     "reassembly memory full: fragmented datagrams are being dropped"},
};
#define N_LIMITS (sizeof(limit_table) / sizeof(limit_table[0]))
_Static_assert(N_LIMITS <= 64, "struct limits keeps one bit per limit");

void limits_check(struct limits *l, const struct sk_counters *c, FILE *out, const char *prog)
{
    /* Counters start at 0 with the stack: grown since the start is non-zero. */
    for (size_t i = 0; i < N_LIMITS; i++) {
        if (l->told & (1ull << i))
            continue;
        const uint64_t *v = (const uint64_t *)((const char *)c + limit_table[i].counter);
        if (*v == 0)
            continue;
        l->told |= 1ull << i;
        fprintf(out, "%s: %s\n", prog, limit_table[i].message);
    }
}
