/* tcp_opt.c - TCP options: parsing (every length checked against the
 * header), what the SYNs negotiate (MSS, window scale, timestamps, SACK),
 * and the timestamp rules: our clock, TS.Recent and PAWS (RFC 7323).
 *
 * Negotiation, as RFC 7323 2.2, 3.2 and RFC 2018 2 ask: an option is in
 * force only when both SYNs carried it.  Our SYN offers all three (unless
 * the stack's config switches one off); our SYN-ACK answers only what the
 * peer's SYN offered. */
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"
#include "ipv4.h"
#include "seq.h"
#include "siphash.h"
#include "tcp.h"

int tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->wscale = -1;
    size_t i = 0;
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == 0) /* end of option list */
            break;
        if (kind == 1) { /* no-operation */
            i++;
            continue;
        }
        /* Every other kind has a length byte that counts kind and length
         * (RFC 9293 3.1); an impossible one ends parsing with an error rather
         * than reading past the header. */
        if (i + 1 >= len)
            return -1;
        uint8_t olen = p[i + 1];
        if (olen < 2 || i + olen > len)
            return -1;
        const uint8_t *v = p + i + 2;
        switch (kind) {
        case 2: /* MSS, RFC 9293 3.7.1 */
            if (olen != 4)
                return -1;
            o->mss = rd16(v);
            break;
        case 3: /* window scale, RFC 7323 2.2 */
            if (olen != 3)
                return -1;
            /* RFC 7323 2.3: a shift above 14 is taken as 14. */
            o->wscale = (int8_t)(v[0] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : v[0]);
            break;
        case 4: /* SACK permitted, RFC 2018 2 */
            if (olen != 2)
                return -1;
            o->sack_ok = true;
            break;
        case 5: /* SACK blocks, RFC 2018 3: pairs of sequence numbers */
            if ((olen - 2) % 8 != 0 || olen == 2)
                return -1;
            for (int k = 0; k < (olen - 2) / 8 && o->nsack < 4; k++) {
                o->sack[o->nsack].start = rd32(v + 8 * k);
                o->sack[o->nsack].end = rd32(v + 8 * k + 4);
                o->nsack++;
            }
            break;
        case 8: /* timestamps, RFC 7323 3.2 */
            if (olen != 10)
                return -1;
            o->ts = true;
            o->tsval = rd32(v);
            o->tsecr = rd32(v + 4);
            break;
        default:
            break; /* unknown kinds are skipped by their length */
        }
        i += olen;
    }
    return 0;
}

enum tcp_parse_err tcp_parse(const uint8_t *p, size_t len, uint32_t saddr, uint32_t daddr,
                             bool csum_done, struct tcp_seg *g)
{
    if (len < TCP_HDR_LEN)
        return TCP_PARSE_TRUNCATED;
    size_t off = (size_t)(p[12] >> 4) * 4;
    if (off < TCP_HDR_LEN || off > len)
        return TCP_PARSE_TRUNCATED;
    if (!csum_done) {
        uint32_t sum = csum_pseudo(saddr, daddr, IP_PROTO_TCP, (uint16_t)len);
        if (csum_finish(csum_partial(p, len, sum)) != 0)
            return TCP_PARSE_CHECKSUM;
    }
    g->saddr = saddr;
    g->daddr = daddr;
    g->sport = rd16(p);
    g->dport = rd16(p + 2);
    g->seq = rd32(p + 4);
    g->ack = rd32(p + 8);
    g->flags = p[13];
    g->wnd = rd16(p + 14);
    g->urp = rd16(p + 18);
    g->data = p + off;
    g->len = (uint32_t)(len - off);
    if (off == TCP_HDR_LEN) { /* the common case of no options at all */
        memset(&g->opt, 0, sizeof(g->opt));
        g->opt.wscale = -1;
        return TCP_PARSE_OK;
    }
    if (tcp_parse_options(p + TCP_HDR_LEN, off - TCP_HDR_LEN, &g->opt) < 0)
        return TCP_PARSE_OPTIONS;
    return TCP_PARSE_OK;
}

uint8_t tcp_opt_wscale_for(uint32_t rcvbuf)
{
    /* The smallest shift that lets the window cover the whole buffer. */
    uint8_t s = 0;
    while (s < TCP_MAX_WSCALE && ((uint64_t)65535 << s) < rcvbuf)
        s++;
    return s;
}

uint32_t tcp_ts_now(const struct sk_tcb *c)
{
    /* RFC 7323 5.4: a clock of 1 ms, started at a random value per
     * connection (the offset), so it leaks neither uptime nor a global
     * counter. */
    return (uint32_t)(c->stack->now / 1000) + c->ts_offset;
}

static uint32_t ts_offset_for(const struct sk_tcb *c)
{
    uint8_t b[12];
    wr32(b, c->laddr);
    wr16(b + 4, c->lport);
    wr32(b + 6, c->raddr);
    wr16(b + 10, c->rport);
    return (uint32_t)siphash24(c->stack->tcp.ts_key, b, sizeof(b));
}

void tcp_opt_init(struct sk_tcb *c)
{
    c->ts_offset = ts_offset_for(c);
    c->rcv_wscale = tcp_opt_wscale_for(c->rcvbuf);
}

void tcp_opt_negotiate(struct sk_tcb *c, const struct tcp_seg *g)
{
    const struct sk_config *cfg = &c->stack->cfg;
    /* One rule for both ends: an active open offered everything not
     * switched off, a passive one answers what the SYN offered. */
    c->sack_ok = g->opt.sack_ok && !cfg->tcp_no_sack;
    c->ts_ok = g->opt.ts && !cfg->tcp_no_timestamps;
    c->ws_ok = g->opt.wscale >= 0 && !cfg->tcp_no_wscale;
    if (c->ws_ok) {
        c->snd_wscale = (uint8_t)g->opt.wscale;
        c->rcv_wscale = tcp_opt_wscale_for(c->rcvbuf);
    } else {
        /* RFC 7323 2.2: without both options, both shifts are zero. */
        c->snd_wscale = c->rcv_wscale = 0;
    }
    if (c->ts_ok) {
        c->ts_recent = g->opt.tsval;
        c->ts_recent_us = c->stack->now;
    }
    /* Every segment after the SYN carries the 12 bytes of the timestamp
     * option (with its two NOPs): that much less data fits in an MSS. */
    c->mss_data = (uint16_t)(c->mss - (c->ts_ok ? 12 : 0));
}

bool tcp_paws_ok(const struct sk_tcb *c, const struct tcp_seg *g)
{
    if (!c->ts_ok || !g->opt.ts || (g->flags & TCP_RST))
        return true;
    if (!seq_lt(g->opt.tsval, c->ts_recent))
        return true;
    /* RFC 7323 5.5: after 24 days idle TS.Recent may have wrapped: it
     * no longer tells old from new. */
    return c->stack->now - c->ts_recent_us > TCP_PAWS_IDLE_US;
}

void tcp_ts_update(struct sk_tcb *c, const struct tcp_seg *g)
{
    /* RFC 7323 4.3 (2): remember the TSval of a segment that covers the
     * last ACK we sent, so our echo measures the peer's whole round trip
     * even with delayed ACKs. */
    if (!c->ts_ok || !g->opt.ts)
        return;
    /* After 24 days idle TS.Recent no longer orders anything (RFC 7323
     * 5.5): the segment PAWS let through sets it afresh. */
    bool stale = c->stack->now - c->ts_recent_us > TCP_PAWS_IDLE_US;
    if ((stale || seq_geq(g->opt.tsval, c->ts_recent)) && seq_leq(g->seq, c->last_ack_sent)) {
        c->ts_recent = g->opt.tsval;
        c->ts_recent_us = c->stack->now;
    }
}
