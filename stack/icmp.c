/* icmp.c - ICMP (RFC 792): echo replies and protocol unreachables. */
#include "icmp.h"

#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"

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
    if (p[0] != ICMP_ECHO_REQUEST || p[1] != 0) {
        /* Replies and errors to us have no taker yet (TCP does not use
         * soft errors); count them. */
        s->ctr.drop_icmp_type++;
        return;
    }
    if (len > ipv4_max_payload(s)) {
        s->ctr.drop_icmp_too_big++;
        return;
    }
    /* RFC 792: the reply is the request with type 0; identifier, sequence
     * and data unchanged.  Only the type word changes, so the checksum is
     * updated incrementally (RFC 1624) rather than recomputed. */
    uint8_t *out = ipv4_payload(s);
    memcpy(out, p, len);
    uint16_t old_word = rd16(p);
    out[0] = ICMP_ECHO_REPLY;
    wr16(out + 2, csum_update16(rd16(p + 2), old_word, rd16(out)));
    if (ipv4_send(s, ih->src, IP_PROTO_ICMP, len) == 0)
        s->ctr.icmp_echo_replies++;
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

void icmp_send_unreach(struct sk_stack *s, uint8_t code, const struct ipv4_hdr *ih,
                       const uint8_t *dgram, size_t len)
{
    if (!rate_ok(s)) {
        s->ctr.icmp_unreach_limited++;
        return;
    }
    /* RFC 792: the offending IP header plus its first 64 bits of data;
     * RFC 1812 4.3.2.3 allows more, 576 bytes in all, which helps tools. */
    size_t quote = len;
    size_t room = 576 - IP_HDR_LEN - 8;
    if (quote > room)
        quote = room;
    uint8_t *out = ipv4_payload(s);
    out[0] = ICMP_UNREACH;
    out[1] = code;
    wr16(out + 2, 0);
    wr32(out + 4, 0);
    memcpy(out + 8, dgram, quote);
    wr16(out + 2, csum(out, 8 + quote));
    if (ipv4_send(s, ih->src, IP_PROTO_ICMP, 8 + quote) == 0)
        s->ctr.icmp_unreach_sent++;
}
