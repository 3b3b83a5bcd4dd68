/* tcp_cookie.c - SYN cookies (RFC 4987 section 3.6).
 *
 * When a listener's half-open queue is full, a SYN is answered without a
 * TCB: everything the connection needs later is folded into our ISN (and,
 * when the peer uses timestamps, into the low bits of our first TSval), and
 * the handshake's last ACK, which echoes both, rebuilds it.  A flood of
 * spoofed SYNs then costs a SYN-ACK each and no memory, and a real client
 * still gets through.
 *
 * Our ISN, 32 bits:
 *
 *   31..27  the time, in ticks of 2^26 us (67 s), modulo 32
 *   26..24  the MSS, as an index into mss_table
 *   23..0   a MAC: SipHash-2-4, keyed with a secret of the stack, over
 *           the 4-tuple, the peer's ISN, the whole tick, the MSS index and
 *           the option bits
 *
 * The option bits ride in our TSval (low 5 bits: window shift, 15 for
 * none, and SACK-permitted); the ACK's TSecr brings them back.  Without
 * timestamps there is nowhere to keep them: such a connection gets neither
 * window scaling nor SACK, only its MSS (the choice Linux makes too).
 * A cookie is good for two to three ticks (134 to 201 s), about as long as
 * a SYN-ACK's retransmissions would have lasted. */
#include <string.h>

#include "bytes.h"
#include "core.h"
#include "siphash.h"
#include "tcp.h"

#define TICK_SHIFT   26 /* microseconds per tick: 2^26, 67 s */
#define TICK_MAX_AGE 2
#define OPT_NONE     0xFF /* no timestamps: no option bits */
#define WS_NONE      15

/* The MSS values a cookie can say: common ones (IPv4 over Ethernet with
 * and without options, tunnels, the RFC 9293 default, jumbo frames).  A
 * peer gets the largest that does not exceed what it and we allow. */
static const uint16_t mss_table[8] = {536, 1200, 1360, 1400, 1440, 1460, 4312, 8960};

void tcp_cookie_init(struct sk_stack *s)
{
    /* A key of its own, derived from the ISN secret by the same PRF
     * (distinct labels), so no extra random draw is needed. */
    uint64_t a = siphash24(s->tcp.isn_key, "syncookie-a", 11);
    uint64_t b = siphash24(s->tcp.isn_key, "syncookie-b", 11);
    memcpy(s->tcp.cookie_key, &a, 8);
    memcpy(s->tcp.cookie_key + 8, &b, 8);
}

static uint32_t mac24(const struct sk_stack *s, const struct tcp_seg *g, uint32_t peer_isn,
                      uint32_t tick, unsigned idx, uint8_t optbits)
{
    uint8_t b[22];
    wr32(b, g->daddr);
    wr16(b + 4, g->dport);
    wr32(b + 6, g->saddr);
    wr16(b + 10, g->sport);
    wr32(b + 12, peer_isn);
    wr32(b + 16, tick);
    b[20] = (uint8_t)idx;
    b[21] = optbits;
    return (uint32_t)siphash24(s->tcp.cookie_key, b, sizeof(b)) & 0xFFFFFF;
}

uint8_t tcp_cookie_optbits(const struct tcp_cookie_opts *o)
{
    if (!o->ts)
        return OPT_NONE;
    return (uint8_t)((o->wscale >= 0 ? o->wscale : WS_NONE) | (o->sack ? 0x10 : 0));
}

uint32_t tcp_cookie_make(struct sk_stack *s, const struct tcp_seg *syn, struct tcp_cookie_opts *o)
{
    unsigned idx = 0;
    for (unsigned i = 0; i < 8; i++)
        if (mss_table[i] <= o->mss)
            idx = i;
    o->mss = mss_table[idx];
    uint32_t tick = (uint32_t)(s->now >> TICK_SHIFT);
    uint32_t mac = mac24(s, syn, syn->seq, tick, idx, tcp_cookie_optbits(o));
    return ((tick & 31) << 27) | (idx << 24) | mac;
}

bool tcp_cookie_check(struct sk_stack *s, const struct tcp_seg *ack, struct tcp_cookie_opts *o)
{
    uint32_t cookie = ack->ack - 1;
    uint32_t now_tick = (uint32_t)(s->now >> TICK_SHIFT);
    uint32_t age = (now_tick - (cookie >> 27)) & 31;
    if (age > TICK_MAX_AGE)
        return false;
    unsigned idx = (cookie >> 24) & 7;
    uint8_t optbits = OPT_NONE;
    if (ack->opt.ts)
        optbits = (uint8_t)(ack->opt.tsecr & 0x1F);
    if (mac24(s, ack, ack->seq - 1, now_tick - age, idx, optbits) != (cookie & 0xFFFFFF))
        return false;
    o->mss = mss_table[idx];
    o->ts = optbits != OPT_NONE;
    o->sack = o->ts && (optbits & 0x10);
    o->wscale = (int8_t)(o->ts && (optbits & 0xF) != WS_NONE ? (optbits & 0xF) : -1);
    return true;
}
