/* stack.c - the stack object: configuration, frame dispatch, timers.
 *
 * Theory of operation: sk_input() takes one Ethernet frame and walks it up
 * (eth -> arp | ipv4 -> icmp | tcp) in one call; nothing is queued on the
 * way in.  Replies are built in s->tx and leave through eth_emit() at once,
 * except TCP's ACKs and data, which wait for sk_flush() so one batch of
 * input yields one ACK per connection.  Time only moves when the caller
 * passes `now`. */
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "core.h"
#include "eth.h"
#include "icmp.h"
#include "ip_frag.h"
#include "ipv4.h"

/* Worded as libc's strerror, so apps print what nc would. */
static const char *const error_names[SK_ERROR_COUNT] = {
    [SK_OK] = "Success",
    [SK_EAGAIN] = "Resource temporarily unavailable",
    [SK_EINVAL] = "Invalid argument",
    [SK_ENOMEM] = "Out of memory or over a configured limit",
    [SK_EADDRINUSE] = "Address already in use",
    [SK_ENOTCONN] = "Transport endpoint is not connected",
    [SK_ECONNREFUSED] = "Connection refused",
    [SK_ECONNRESET] = "Connection reset by peer",
    [SK_ETIMEDOUT] = "Connection timed out",
    [SK_EPIPE] = "Broken pipe",
    [SK_ECONNABORTED] = "Software caused connection abort",
    [SK_ENOROUTE] = "No route to host",
    [SK_ENETUNREACH] = "Network is unreachable",
    [SK_EHOSTUNREACH] = "No route to host",
    [SK_ENOPROTOOPT] = "Protocol not available",
    [SK_EPROTO] = "Protocol error",
};

const char *sk_strerror(int err)
{
    if (err < 0)
        err = -err;
    if (err >= SK_ERROR_COUNT || !error_names[err])
        return "unknown error";
    return error_names[err];
}

static int fill_defaults(struct sk_config *c)
{
    if ((!c->output && !c->output_meta) || !c->random)
        return -1;
    /* Offloads hand the link work it must be told of (the metadata). */
    if ((c->offload_csum || c->offload_tso) && !c->output_meta)
        return -1;
    if (c->mtu == 0)
        c->mtu = 1500;
    if (c->mtu < 576 || c->mtu > 65520)
        return -1;
    if (c->prefix_len < 1 || c->prefix_len > 30)
        return -1;
    if (c->mac[0] & 1) /* a multicast MAC cannot be a station address */
        return -1;
    /* 4 MiB each way covers 100 MB/s at a 20 ms round trip with room for
     * recovery; memory is taken only as bytes are queued (ring.h). */
    if (!c->tcp_sndbuf)
        c->tcp_sndbuf = 4 * 1024 * 1024;
    if (!c->tcp_rcvbuf)
        c->tcp_rcvbuf = 4 * 1024 * 1024;
    if (c->tcp_sndbuf < 1024 || c->tcp_rcvbuf < 1024 || c->tcp_sndbuf > (1u << 30) ||
        c->tcp_rcvbuf > (1u << 30))
        return -1;
    /* RFC 1122 4.2.3.2: an ACK may be delayed, but less than 0.5 s; Linux
     * waits 40 ms at least and 200 ms at most. */
    if (!c->tcp_delack_ms)
        c->tcp_delack_ms = 40;
    if (c->tcp_delack_ms > 200)
        return -1;
    if (!c->tcp_cc)
        c->tcp_cc = SK_CC_CUBIC;
    if (c->tcp_cc < 0 || c->tcp_cc >= SK_CC_COUNT)
        return -1;
    if (!c->tcp_msl_ms)
        c->tcp_msl_ms = 30000;
    if (c->tcp_syncookies < 0 || c->tcp_syncookies > SK_SYNCOOKIES_ALWAYS)
        return -1;
    /* The ARP queue's bounds (arp_init fills the defaults). */
    if (c->arp_pending > SK_ARP_PENDING_MAX || c->arp_pending_total > 65536)
        return -1;
    if (!c->tcp_rst_per_sec)
        c->tcp_rst_per_sec = 1000;
    /* Linux's tcp_invalid_ratelimit. */
    if (!c->tcp_oow_ack_ms)
        c->tcp_oow_ack_ms = 500;
    /* The table grows as connections come (tcp_table.c), so the default
     * only bounds memory: 262,144 idle connections hold about 0.5 GiB. */
    if (!c->tcp_max_conns)
        c->tcp_max_conns = 262144;
    if (c->tcp_max_conns > SK_MAX_CONNS_CEILING)
        return -1;
    if (!c->tcp_max_ooo)
        c->tcp_max_ooo = 256;
    if (c->tcp_max_ooo > 16384) /* the ranges' count and index are 16-bit (tcp.h) */
        return -1;
    /* 256 MiB of buffers: 64 connections with full 4 MiB windows, or
     * 16,384 with a 16 KiB chunk queued each.  A fixed figure: the core
     * does not ask the system how much memory it has; an app may. */
    if (!c->tcp_mem_max)
        c->tcp_mem_max = 256ull << 20;
    if (c->tcp_mem_max < (1ull << 20) || c->tcp_mem_max > (1ull << 40))
        return -1;
    if (!c->tcp_rto_min_ms)
        c->tcp_rto_min_ms = 200;
    if (!c->tcp_rto_max_ms)
        c->tcp_rto_max_ms = 60000;
    if (c->tcp_rto_max_ms < c->tcp_rto_min_ms)
        return -1;
    if (!c->tcp_max_retries)
        c->tcp_max_retries = 10;
    if (!c->tcp_syn_retries)
        c->tcp_syn_retries = 5;
    if (!c->arp_lifetime_ms)
        c->arp_lifetime_ms = 60000;
    /* Reassembly (ip_frag.c says why these): 1 MiB holds 16 datagrams of
     * the largest size or hundreds of usual ones; 64 at once. */
    if (!c->ip_frag_mem)
        c->ip_frag_mem = IP_FRAG_MEM_DEF;
    if (!c->ip_frag_max)
        c->ip_frag_max = IP_FRAG_MAX_DEF;
    if (!c->ip_frag_timeout_ms)
        c->ip_frag_timeout_ms = IP_FRAG_TIMEOUT_MS;
    if (c->ip_frag_max > IP_FRAG_MAX_MAX || c->ip_frag_mem > (1u << 30))
        return -1;
    return 0;
}

sk_stack *sk_stack_new(const struct sk_config *cfg, uint64_t now, int *err)
{
    struct sk_config c = *cfg;
    int e = SK_EINVAL;
    if (fill_defaults(&c) < 0)
        goto fail;
    uint32_t mask = 0xffffffffu << (32 - c.prefix_len);
    uint32_t host = c.addr & ~mask;
    if (host == 0 || host == ~mask) /* network or broadcast address */
        goto fail;
    if (c.gateway && (c.gateway & mask) != (c.addr & mask))
        goto fail;

    e = SK_ENOMEM;
    struct sk_stack *s = calloc(1, sizeof(*s));
    if (!s)
        goto fail;
    s->cfg = c;
    s->netmask = mask;
    s->now = now;
    s->frame_max = ETH_HDR_LEN + c.mtu;
    /* With TSO a TCP frame may hold a whole IPv4 datagram's worth. */
    s->tx = malloc(c.offload_tso ? ETH_HDR_LEN + 65535 : s->frame_max);
    s->icmp_tokens = ICMP_RATE_BURST;
    s->icmp_refill = now;
    if (!s->tx || arp_init(s) < 0 || tcp_init(s) < 0) {
        sk_stack_free(s);
        goto fail;
    }
    /* After TCP's draw, so its keys stay what they were. */
    ipv4_init(s);
    if (ip_frag_init(s) < 0) {
        sk_stack_free(s);
        goto fail;
    }
    /* Gratuitous ARP: tell the link who we are (RFC 5227 section 3). */
    arp_announce(s);
    if (err)
        *err = 0;
    return s;
fail:
    if (err)
        *err = e;
    return NULL;
}

void sk_stack_free(sk_stack *s)
{
    if (!s)
        return;
    tcp_free(s);
    ip_frag_free(s);
    arp_free(s);
    free(s->tx);
    free(s);
}

static const struct {
    const char *text, *rfc;
} whys[SK_WHY_COUNT] = {
#define SK_WHY_ROW(name, words, section) [SK_WHY_##name] = {words, section},
    SK_WHYS(SK_WHY_ROW)
#undef SK_WHY_ROW
};

const char *sk_why_text(int why)
{
    return why > 0 && why < SK_WHY_COUNT ? whys[why].text : "";
}

const char *sk_why_rfc(int why)
{
    return why > 0 && why < SK_WHY_COUNT ? whys[why].rfc : "";
}

static const char *const counter_descs[] = {
#define SK_COUNTER_DESC(name, desc) desc,
    SK_COUNTERS(SK_COUNTER_DESC)
#undef SK_COUNTER_DESC
};
#define N_COUNTERS (sizeof(counter_descs) / sizeof(counter_descs[0]))

const char *sk_counter_desc(int index)
{
    return index >= 0 && (size_t)index < N_COUNTERS ? counter_descs[index] : "";
}

/* Which drop counter the frame just processed moved, as its index: what
 * became of a frame no rule explained (only while someone asks why). */
static int dropped_by(const struct sk_counters *before, const struct sk_counters *after)
{
    static const char *const names[] = {
#define SK_COUNTER_NAME(name, desc) #name,
        SK_COUNTERS(SK_COUNTER_NAME)
#undef SK_COUNTER_NAME
    };
    const uint64_t *a = (const uint64_t *)before, *b = (const uint64_t *)after;
    for (size_t i = 0; i < N_COUNTERS; i++)
        if (a[i] != b[i] && strncmp(names[i], "drop_", 5) == 0)
            return (int)i;
    return -1;
}

static void input(struct sk_stack *s, const uint8_t *frame, size_t len, uint64_t now);

void sk_input_meta(sk_stack *s, const uint8_t *frame, size_t len, const struct sk_frame_meta *meta,
                   uint64_t now)
{
    s->rx_meta = meta && (meta->csum || meta->gso_size) ? meta : NULL;
    sk_input(s, frame, len, now);
    s->rx_meta = NULL;
}

int sk_rx_place(sk_stack *s, size_t max, struct sk_rx_place *p)
{
    p->n = 0;
    /* An observer of frames would be handed the headers alone. */
    return s->cfg.on_frame ? 0 : tcp_rx_place(s, max, p);
}

int sk_input_placed(sk_stack *s, const uint8_t *hdr, size_t len, size_t placed,
                    const struct sk_frame_meta *meta, uint64_t now)
{
    /* The payload is not in hand to sum: the link must have checked it. */
    if (!meta || meta->csum == SK_CSUM_NONE || !tcp_rx_placed_ok(s, hdr, len, placed))
        return -1;
    /* The layers see the frame's whole length; the only reader of the
     * payload, tcp_rcv_text, finds it in the ring. */
    s->rx_placed = (uint32_t)placed;
    sk_input_meta(s, hdr, len + placed, meta, now);
    s->rx_placed = 0;
    tcp_rx_place_done(s);
    return 0;
}

void sk_input(sk_stack *s, const uint8_t *frame, size_t len, uint64_t now)
{
    if (s->tcp.place.given && !s->rx_placed)
        tcp_rx_place_done(s); /* refused: the frame came whole instead */
    if (!s->cfg.on_why) {
        input(s, frame, len, now);
        return;
    }
    /* --explain: the rule that took the frame, or the drop counter it
     * moved.  A copy of the counters per frame, only while asked. */
    struct sk_counters before = s->ctr;
    s->why_in = 0;
    input(s, frame, len, now);
    int why = s->why_in, arg = (int)s->why_in_arg;
    if (!why) {
        int d = dropped_by(&before, &s->ctr);
        if (d >= 0) {
            why = SK_WHY_RX_DROPPED;
            arg = d;
        }
    }
    if (why)
        s->cfg.on_why(s->cfg.observer_ctx, SK_DIR_IN, why, (uint32_t)arg, now);
    s->why_out = 0;
}

static void input(struct sk_stack *s, const uint8_t *frame, size_t len, uint64_t now)
{
    struct eth_hdr eh;
    s->now = now;
    s->ctr.eth_in++;
    if (s->cfg.on_frame)
        s->cfg.on_frame(s->cfg.observer_ctx, SK_DIR_IN, frame, len, now);
    if (eth_parse(frame, len, &eh) < 0) {
        s->ctr.drop_eth_runt++;
        return;
    }
    if (memcmp(eh.dst, s->cfg.mac, ETH_ALEN) != 0 && memcmp(eh.dst, eth_broadcast, ETH_ALEN) != 0) {
        s->ctr.drop_eth_not_ours++;
        return;
    }
    const uint8_t *p = frame + ETH_HDR_LEN;
    size_t plen = len - ETH_HDR_LEN;
    switch (eh.type) {
    case ETHERTYPE_ARP:
        arp_input(s, &eh, p, plen);
        break;
    case ETHERTYPE_IP:
        ipv4_input(s, p, plen);
        break;
    default:
        s->ctr.drop_eth_type++;
        break;
    }
}

void sk_flush(sk_stack *s, uint64_t now)
{
    s->now = now;
    tcp_rx_place_done(s);
    tcp_flush(s);
}

uint64_t sk_next_deadline(const sk_stack *s)
{
    return min_u64(min_u64(arp_next_deadline(s), tcp_next_deadline(s)), ip_frag_next_deadline(s));
}

void sk_timers(sk_stack *s, uint64_t now)
{
    s->now = now;
    arp_timers(s);
    ip_frag_timers(s);
    tcp_timers(s);
    /* Retransmissions wait for sk_flush like everything else, so an app
     * acting on this round's events shares their segments. */
}

const struct sk_counters *sk_counters(const sk_stack *s)
{
    return &s->ctr;
}
