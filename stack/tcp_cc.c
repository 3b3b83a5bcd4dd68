/* tcp_cc.c - what NewReno and CUBIC share: growing cwnd under its cap and
 * standard slow start.  The algorithms themselves are tcp_newreno.c and
 * tcp_cubic.c; docs/congestion.md tells how they fit with the sender. */
#include "tcp_cc.h"

void tcp_cc_grow(struct tcp_cc *cc, uint32_t inc)
{
    /* cwnd_max bounds growth only: a cwnd already above it (the send
     * buffer shrank) is left for the sender to judge. */
    if (cc->cwnd >= cc->cwnd_max)
        return;
    uint32_t room = cc->cwnd_max - cc->cwnd;
    cc->cwnd += inc < room ? inc : room;
}

uint32_t tcp_cc_slow_start(struct tcp_cc *cc, uint32_t acked)
{
    if (cc->cwnd >= cc->ssthresh)
        return acked;
    /* RFC 5681 3.1 grows cwnd by at most one SMSS per ACK; RFC 3465 2.2
     * by the bytes acked, up to L = 2 SMSS.  We count every byte, as Linux
     * does: a receiver that coalesces (GRO, LRO, one ACK per batch, as
     * ours does) sends stretch ACKs, and a per-ACK limit would make slow
     * start slower than one doubling per round trip.  Only the part that
     * takes cwnd to ssthresh is slow start; the rest is returned to the
     * caller's congestion avoidance (RFC 5681 3.1: at cwnd == ssthresh
     * either may be used; we use congestion avoidance). */
    uint32_t room = cc->ssthresh - cc->cwnd;
    uint32_t ss = acked < room ? acked : room;
    tcp_cc_grow(cc, ss);
    return acked - ss;
}
