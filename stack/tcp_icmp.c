/* tcp_icmp.c - ICMP errors about our TCP segments (RFC 1122 4.2.3.9,
 * RFC 5927, RFC 1191).
 *
 * icmp.c hands over an error whose quoted datagram we sent to TCP: the
 * quoted IP header and the first 8 bytes of our TCP header (ports and
 * sequence number).  Anyone can forge such a message, so (RFC 5927):
 *   - it must name a connection we have, and its quoted sequence number
 *     must be one we sent and is not yet acknowledged, SND.UNA =< SEQ <
 *     SND.MAX (RFC 5927 4.1; our snd_max is RFC 9293's SND.NXT);
 *   - a hard error ends only a connection still opening (SYN_SENT): RFC
 *     1122 4.2.3.9 says TCP SHOULD abort on one, but against an
 *     established connection that is the blind reset of RFC 5927 5,
 *     so there, as in Linux, it is only noted, like a soft error;
 *   - a soft error never ends a connection (RFC 1122 4.2.3.9 MUST NOT);
 *     the last one is kept and reported instead of a plain time-out if
 *     the connection later times out (as Linux's sk_err_soft), and
 *     forgotten when an ACK shows progress (tcp_snd.c);
 *   - "fragmentation needed" (RFC 1191) lowers the path MTU of that one
 *     connection, never below TCP_PMTU_MIN and never upwards, and what
 *     is in flight at the old size is sent again at the new one.
 *
 * The floor: RFC 1191 3 lets a path MTU fall to 68, the IPv4 minimum.
 * At 68 bytes a segment carries 28 bytes of data (16 with timestamps):
 * a forged message would cut a connection's throughput by fifty times
 * (RFC 5927 7).  576 is what every host must accept (RFC 1122 3.3.3,
 * RFC 791), and RFC 9293 3.7.1's default MSS of 536 assumes it; Linux's
 * floor (min_pmtu) is 552.  A path that cannot carry 576 bytes cannot
 * carry our segments; that we accept. */
#include "bytes.h"
#include "core.h"
#include "icmp.h"
#include "ipv4.h"
#include "seq.h"
#include "tcp.h"

/* What an error means to the app, and whether it is hard: RFC 1122
 * 4.2.3.9 for unreachable codes 0-5, time exceeded and parameter
 * problem; Linux's icmp_err_convert for the codes RFC 1122 does not list
 * (RFC 1812 5.2.7.1's administratively prohibited among them: hard). */
static int classify(uint8_t type, uint8_t code, bool *hard)
{
    *hard = false;
    if (type == ICMP_TIME_EXCEEDED)
        return SK_EHOSTUNREACH;
    if (type == ICMP_PARAM_PROBLEM)
        return SK_EPROTO;
    switch (code) {
    case ICMP_UNREACH_NET:
    case ICMP_UNREACH_TOSNET:
        return SK_ENETUNREACH;
    case ICMP_UNREACH_HOST:
    case ICMP_UNREACH_SRCFAIL:
    case ICMP_UNREACH_TOSHOST:
        return SK_EHOSTUNREACH;
    case ICMP_UNREACH_PROTO:
        *hard = true;
        return SK_ENOPROTOOPT;
    case ICMP_UNREACH_PORT:
        *hard = true;
        return SK_ECONNREFUSED;
    case ICMP_UNREACH_NET_UNKNOWN:
    case ICMP_UNREACH_NET_PROHIB:
        *hard = true;
        return SK_ENETUNREACH;
    case ICMP_UNREACH_HOST_UNKNOWN:
    case ICMP_UNREACH_ISOLATED:
    case ICMP_UNREACH_HOST_PROHIB:
    case ICMP_UNREACH_FILTER:
    case ICMP_UNREACH_PREC_VIOL:
    case ICMP_UNREACH_PREC_CUTOFF:
        *hard = true;
        return SK_EHOSTUNREACH;
    default:
        return SK_EHOSTUNREACH;
    }
}

/* RFC 1191 7: without a next-hop MTU (a router older than RFC 1191), the
 * plateau below the length of the datagram that was too big. */
static uint32_t plateau_below(uint32_t len)
{
    static const uint16_t plateau[] = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};
    for (size_t i = 0; i < sizeof(plateau) / sizeof(plateau[0]); i++)
        if (plateau[i] < len)
            return plateau[i];
    return 68;
}

static bool has_data_in_flight_state(int state)
{
    return state == SK_ESTABLISHED || state == SK_CLOSE_WAIT || state == SK_FIN_WAIT_1 ||
           state == SK_CLOSING || state == SK_LAST_ACK;
}

static void frag_needed(struct sk_tcb *c, uint32_t mtu, const struct ipv4_hdr *q)
{
    struct sk_stack *s = c->stack;
    if (mtu == 0)
        mtu = plateau_below(q->total_len);
    if (mtu < TCP_PMTU_MIN)
        mtu = TCP_PMTU_MIN;
    uint32_t cur = (uint32_t)c->mss + IP_HDR_LEN + TCP_HDR_LEN;
    /* RFC 1191 6.1: a host MUST NOT raise its estimate from such a
     * message; one not below what we send tells us nothing. */
    if (mtu >= cur || !has_data_in_flight_state(c->state)) {
        s->ctr.drop_icmp_pmtu_ignored++;
        return;
    }
    uint16_t mss = (uint16_t)(mtu - IP_HDR_LEN - TCP_HDR_LEN);
    /* mss_data is mss less the options every segment carries. */
    c->mss_data = (uint16_t)(c->mss_data - (c->mss - mss));
    c->mss = mss;
    s->ctr.tcp_pmtu_lowered++;
    tcp_snd_mtu_reduced(c);
}

void tcp_icmp_error(struct sk_stack *s, uint8_t type, uint8_t code, uint16_t mtu,
                    const struct ipv4_hdr *q, const uint8_t *th)
{
    uint16_t sport = rd16(th), dport = rd16(th + 2);
    uint32_t seq = rd32(th + 4);
    struct sk_tcb *c = tcb_lookup(s, q->src, sport, q->dst, dport);
    if (!c || c->state == SK_LISTEN || c->state == SK_CLOSED) {
        s->ctr.drop_icmp_err_no_conn++;
        return;
    }
    /* RFC 5927 4.1: only about a segment in flight. */
    if (!seq_in(seq, c->snd_una, c->snd_max)) {
        s->ctr.drop_icmp_err_seq++;
        return;
    }
    if (type == ICMP_UNREACH && code == ICMP_UNREACH_NEEDFRAG) {
        frag_needed(c, mtu, q);
        return;
    }
    bool hard;
    int err = classify(type, code, &hard);
    if (hard && c->state == SK_SYN_SENT) {
        s->ctr.tcp_icmp_aborts++;
        s->ctr.tcp_failed_opens++;
        tcp_cause(s, "ICMP hard error");
        tcb_close(c, err);
        return;
    }
    c->soft_error = err;
    s->ctr.tcp_icmp_soft_errors++;
}
