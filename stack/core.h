/* core.h - the stack object shared by the protocol modules (internal). */
#ifndef SK_CORE_H
#define SK_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "arp.h"
#include "bytes.h"
#include "ip_frag.h"
#include "ipv4.h"
#include "synack.h"
#include "tcp.h"

struct sk_stack {
    struct sk_config cfg; /* defaults filled in */
    uint32_t netmask;
    uint64_t now; /* time of the input or timer call in progress */
    struct sk_counters ctr;
    struct arp_table arp;
    struct tcp_table tcp;
    uint8_t *tx;      /* one frame under construction */
    size_t frame_max; /* Ethernet header + MTU */
    /* Offloads: what the link said of the frame being received (NULL for
     * none), and what goes with the frame being sent. */
    const struct sk_frame_meta *rx_meta;
    struct sk_frame_meta tx_meta;
    /* Bytes of the frame being received that are in the receive ring
     * already, not in the frame (sk_input_placed). */
    uint32_t rx_placed;
    struct ipv4_ids ip_ids;    /* identification of fragmentable datagrams (ipv4.c) */
    struct ip_frag_table frag; /* datagrams in reassembly (ip_frag.c) */
    /* ICMP error rate limit, a token bucket */
    uint32_t icmp_tokens;
    uint64_t icmp_refill;
    /* --explain: why the next segment goes out, and what became of the
     * frame being received (enum sk_why); stores only, put into words by
     * the observer. */
    uint8_t why_out, why_in;
    uint32_t why_out_arg, why_in_arg;
};

static inline void sk_why_out(struct sk_stack *s, int why, uint32_t arg)
{
    s->why_out = (uint8_t)why;
    s->why_out_arg = arg;
}
static inline void sk_why_in(struct sk_stack *s, int why, uint32_t arg)
{
    s->why_in = (uint8_t)why;
    s->why_in_arg = arg;
}

static inline bool sk_on_link(const struct sk_stack *s, uint32_t ip)
{
    return (ip & s->netmask) == (s->cfg.addr & s->netmask);
}

#endif
