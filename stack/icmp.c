/* icmp.c - ICMP (RFC 792): echo replies, the errors we send (protocol
 * unreachable, reassembly time exceeded), and the errors we receive about
 * our own TCP segments, which go to tcp_icmp.c. */
#include "icmp.h"

#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"
#include "tcp.h"

/* RFC 792: the reply is the request with type 0; identifier, sequence and
 * data unchanged (RFC 1122 3.2.2.6: all of the data, so a request larger
 * than our MTU gets a reply in fragments).
 *
 * A request with a code other than 0 is answered too, as Linux answers
 * it: RFC 792 gives echo only code 0, but RFC 1122 3.2.2 tells a host to
 * discard ICMP messages of unknown *type*, not code, and 1.2.2 to be
 * liberal in what it accepts.  The reply has code 0, RFC 792's format
 * for it.
 *
 * The reply carries the request's TOS: RFC 1122 3.2.2.6 is silent on
 * it, RFC 1349 5.1 says an ICMP reply is sent with its request's TOS, and
 * RFC 1812 4.3.2.5 (for routers) that it keeps the request's precedence.
 * Less the two ECN bits (RFC 3168 5: only an ECN-capable transport may
 * mark ECT, and ICMP is none). */
static void echo_reply(struct sk_stack *s, const struct ipv4_hdr *ih, const uint8_t *p, size_t len)
{
    uint8_t head[8];
    memcpy(head, p, sizeof(head));
    head[0] = ICMP_ECHO_REPLY;
    head[1] = 0;
    /* Only the type and code change: the checksum is updated (RFC 1624),
     * not recomputed over what may be 64 KiB. */
    wr16(head + 2, csum_update16(rd16(p + 2), rd16(p), rd16(head)));
    uint8_t tos = ih->tos & (uint8_t)~IP_TOS_ECN;
    if (ipv4_send_frag(s, ih->src, IP_PROTO_ICMP, tos, head, sizeof(head), p + 8, len - 8) == 0)
        s->ctr.icmp_echo_replies++;
}

/* An error about a datagram we sent: the quoted IP header and at least 8
 * bytes of its data follow the ICMP header (RFC 792).  Only TCP acts on
 * them. */
static void error_input(struct sk_stack *s, const uint8_t *p, size_t len)
{
    s->ctr.icmp_errors_in++;
    const uint8_t *q = p + 8;
    size_t qlen = len - 8;
    size_t qihl = qlen ? (size_t)(q[0] & 0x0f) * 4 : 0;
    if (qlen < IP_HDR_LEN || (q[0] >> 4) != 4 || qihl < IP_HDR_LEN || qlen < qihl + 8 ||
        (rd16(q + 6) & IP_OFF_MASK)) {
        /* (A later fragment's first 8 bytes are not a transport header.) */
        s->ctr.drop_icmp_err_short++;
        return;
    }
    /* The quoted header is not checked further: a router may have
     * changed it (its TTL) without its checksum. */
    struct ipv4_hdr qh = {.version = 4,
                          .ihl = (uint8_t)qihl,
                          .tos = q[1],
                          .total_len = rd16(q + 2),
                          .id = rd16(q + 4),
                          .frag = rd16(q + 6),
                          .ttl = q[8],
                          .proto = q[9],
                          .src = rd32(q + 12),
                          .dst = rd32(q + 16)};
    if (qh.src != s->cfg.addr) {
        s->ctr.drop_icmp_err_not_ours++;
        return;
    }
    if (qh.proto != IP_PROTO_TCP) {
        s->ctr.drop_icmp_err_proto++;
        return;
    }
    /* RFC 1191 4: the next-hop MTU in the low half of the unused word. */
    tcp_icmp_error(s, p[0], p[1], rd16(p + 6), &qh, q + qihl);
}

void icmp_input(struct sk_stack *s, const struct ipv4_hdr *ih, const uint8_t *p, size_t len)
{
    s->ctr.icmp_in++;
    if (len < 8) {
        s->ctr.drop_icmp_truncated++;
        return;
    }
    if (csum(p, len) != 0) {
        s->ctr.drop_icmp_checksum++;
        return;
    }
    switch (p[0]) {
    case ICMP_ECHO_REQUEST:
        echo_reply(s, ih, p, len);
        break;
    case ICMP_UNREACH:
    case ICMP_TIME_EXCEEDED:
    case ICMP_PARAM_PROBLEM:
        error_input(s, p, len);
        break;
    default:
        /* Echo replies (we send no requests), source quench (RFC 6633:
         * ignored), redirects (we route only to one gateway), the rest. */
        s->ctr.drop_icmp_type++;
        break;
    }
}

static bool rate_ok(struct sk_stack *s)
{
    uint64_t per_token = 1000000 / ICMP_RATE_PER_SEC;
    uint64_t earned = (s->now - s->icmp_refill) / per_token;
    if (earned) {
        s->icmp_tokens = (uint32_t)min_u64(ICMP_RATE_BURST, s->icmp_tokens + earned);
        s->icmp_refill += earned * per_token;
    }
    if (!s->icmp_tokens)
        return false;
    s->icmp_tokens--;
    return true;
}

/* An error of type/code to dst quoting `dgram`; 0 if it went out. */
static int send_error(struct sk_stack *s, uint8_t type, uint8_t code, uint32_t dst,
                      const uint8_t *dgram, size_t len)
{
    if (!rate_ok(s)) {
        s->ctr.icmp_unreach_limited++;
        return -1;
    }
    /* RFC 792: the offending IP header plus its first 64 bits of data;
     * RFC 1812 4.3.2.3 allows more, 576 bytes in all, which helps tools. */
    size_t quote = len;
    size_t room = 576 - IP_HDR_LEN - 8;
    if (quote > room)
        quote = room;
    uint8_t head[8] = {type, code, 0, 0, 0, 0, 0, 0};
    wr16(head + 2, csum_finish(csum_partial(dgram, quote, csum_partial(head, sizeof(head), 0))));
    return ipv4_send_frag(s, dst, IP_PROTO_ICMP, 0, head, sizeof(head), dgram, quote);
}

void icmp_send_unreach(struct sk_stack *s, uint8_t code, const struct ipv4_hdr *ih,
                       const uint8_t *dgram, size_t len)
{
    if (send_error(s, ICMP_UNREACH, code, ih->src, dgram, len) == 0)
        s->ctr.icmp_unreach_sent++;
}

void icmp_send_reasm_timeout(struct sk_stack *s, uint32_t dst, uint8_t proto, const uint8_t *quote,
                             size_t qlen)
{
    /* RFC 1122 3.2.2: never an error about an ICMP error. */
    size_t ihl = (size_t)(quote[0] & 0x0f) * 4;
    if (proto == IP_PROTO_ICMP && quote[ihl] != ICMP_ECHO_REQUEST && quote[ihl] != ICMP_ECHO_REPLY)
        return;
    if (send_error(s, ICMP_TIME_EXCEEDED, ICMP_TIMXCEED_REASS, dst, quote, qlen) == 0)
        s->ctr.icmp_time_exceeded_sent++;
}
