/* harness.c - see harness.h. */
#include "harness.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "bytes.h"
#include "checksum.h"
#include "eth.h"
#include "ipv4.h"

const uint8_t US_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

static void capture(void *ctx, const uint8_t *frame, size_t len)
{
    struct harness *h = ctx;
    ck_assert_int_lt(h->nout, H_MAX_FRAMES);
    ck_assert_uint_le(len, H_FRAME_MAX);
    memcpy(h->out[h->nout], frame, len);
    h->out_len[h->nout++] = len;
}

/* A deterministic "random" source: tests must be repeatable. */
static void fake_random(void *ctx, void *buf, size_t len)
{
    struct harness *h = ctx;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        h->rand_state = h->rand_state * 1103515245u + 12345u;
        p[i] = (uint8_t)(h->rand_state >> 16);
    }
}

struct harness *h_new(void (*tweak)(struct sk_config *cfg))
{
    struct harness *h = calloc(1, sizeof(*h));
    ck_assert_ptr_nonnull(h);
    h->now = 1000000;
    h->rand_state = 42;
    memcpy(h->cfg.mac, US_MAC, 6);
    h->cfg.addr = US_IP;
    h->cfg.prefix_len = 24;
    h->cfg.mtu = 1500;
    h->cfg.output = capture;
    h->cfg.output_ctx = h;
    h->cfg.random = fake_random;
    h->cfg.random_ctx = h;
    h->cfg.tcp_fixed_isn_key = true;
    for (int i = 0; i < 16; i++)
        h->cfg.tcp_isn_key[i] = (uint8_t)i;
    /* Tests answer one segment after another at the same instant: the
     * per-connection limit on ACKs for out-of-window segments would hide
     * all but the first.  Its own tests (test_tcp_hostile.c) turn it on. */
    h->cfg.tcp_oow_ack_ms = SK_LIMIT_OFF;
    if (tweak)
        tweak(&h->cfg);
    int err = -1;
    h->s = sk_stack_new(&h->cfg, h->now, &err);
    ck_assert_ptr_nonnull(h->s);
    ck_assert_int_eq(err, 0);
    h_clear(h);
    return h;
}

void h_free(struct harness *h)
{
    /* Every test also checks that no state change left the diagram. */
    ck_assert_uint_eq(sk_counters(h->s)->tcp_bad_transitions, 0);
    sk_stack_free(h->s);
    free(h);
}

void h_clear(struct harness *h)
{
    h->nout = 0;
}

void h_input(struct harness *h, const uint8_t *frame, size_t len)
{
    sk_input(h->s, frame, len, h->now);
    sk_flush(h->s, h->now);
}

void h_advance(struct harness *h, uint64_t us)
{
    h->now += us;
    sk_timers(h->s, h->now);
    sk_flush(h->s, h->now);
}

size_t h_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    eth_build(f, dst, src, type);
    return ETH_HDR_LEN;
}

size_t h_ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *payload,
              size_t len)
{
    size_t o = h_eth(f, US_MAC, PEER_MAC, ETHERTYPE_IP);
    uint8_t *ip = f + o;
    memset(ip, 0, IP_HDR_LEN);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(IP_HDR_LEN + len));
    wr16(ip + 4, 0x1234);
    ip[8] = 64;
    ip[9] = proto;
    wr32(ip + 12, src);
    wr32(ip + 16, dst);
    wr16(ip + 10, csum(ip, IP_HDR_LEN));
    memcpy(ip + IP_HDR_LEN, payload, len);
    return o + IP_HDR_LEN + len;
}

size_t h_arp(uint8_t *f, uint16_t oper, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
             uint32_t tpa)
{
    size_t o = h_eth(f, oper == ARP_OP_REQUEST ? eth_broadcast : US_MAC, sha, ETHERTYPE_ARP);
    struct arp_pkt a = {.oper = oper, .spa = spa, .tpa = tpa};
    memcpy(a.sha, sha, 6);
    memcpy(a.tha, tha, 6);
    arp_build(f + o, &a);
    return o + ARP_PKT_LEN;
}

void h_learn_peer(struct harness *h)
{
    uint8_t f[64];
    static const uint8_t zero[6];
    size_t n = h_arp(f, ARP_OP_REQUEST, PEER_MAC, PEER_IP, zero, US_IP);
    h_input(h, f, n);
    h_clear(h);
}

size_t h_tcp(uint8_t *f, const struct h_seg *g)
{
    uint8_t seg[H_FRAME_MAX];
    uint8_t opt[60];
    size_t ol = 0;
    /* Options in the order Linux sends them, NOP-padded to 4 bytes. */
    if (g->mss) {
        opt[ol++] = 2;
        opt[ol++] = 4;
        wr16(opt + ol, g->mss);
        ol += 2;
    }
    if (g->sack_ok) {
        opt[ol++] = 1;
        opt[ol++] = 1;
        opt[ol++] = 4;
        opt[ol++] = 2;
    }
    if (g->ts) {
        opt[ol++] = 1;
        opt[ol++] = 1;
        opt[ol++] = 8;
        opt[ol++] = 10;
        wr32(opt + ol, g->tsval);
        wr32(opt + ol + 4, g->tsecr);
        ol += 8;
    }
    if (g->has_ws) {
        opt[ol++] = 1;
        opt[ol++] = 3;
        opt[ol++] = 3;
        opt[ol++] = g->ws;
    }
    if (g->nsack) {
        opt[ol++] = 1;
        opt[ol++] = 1;
        opt[ol++] = 5;
        opt[ol++] = (uint8_t)(2 + 8 * g->nsack);
        for (int i = 0; i < g->nsack; i++) {
            wr32(opt + ol, g->sack[i][0]);
            wr32(opt + ol + 4, g->sack[i][1]);
            ol += 8;
        }
    }
    ck_assert_uint_le(ol, 40);
    size_t hl = TCP_HDR_LEN + ol;
    memset(seg, 0, TCP_HDR_LEN);
    memcpy(seg + TCP_HDR_LEN, opt, ol);
    wr16(seg, g->sport);
    wr16(seg + 2, g->dport);
    wr32(seg + 4, g->seq);
    wr32(seg + 8, g->ack);
    seg[12] = (uint8_t)((hl / 4) << 4);
    seg[13] = g->flags;
    wr16(seg + 14, g->wnd);
    wr16(seg + 18, g->urp);
    if (g->len)
        memcpy(seg + hl, g->data, g->len);
    size_t tot = hl + g->len;
    uint32_t sum = csum_pseudo(PEER_IP, US_IP, IP_PROTO_TCP, (uint16_t)tot);
    wr16(seg + 16, csum_finish(csum_partial(seg, tot, sum)));
    return h_ipv4(f, PEER_IP, US_IP, IP_PROTO_TCP, seg, tot);
}

void h_send(struct harness *h, const struct h_seg *g)
{
    uint8_t f[H_FRAME_MAX];
    size_t n = h_tcp(f, g);
    h_input(h, f, n);
}

bool h_out_tcp(struct harness *h, int i, struct tcp_seg *g)
{
    if (i < 0 || i >= h->nout)
        return false;
    const uint8_t *f = h->out[i];
    size_t len = h->out_len[i];
    if (len < ETH_HDR_LEN + IP_HDR_LEN || rd16(f + 12) != ETHERTYPE_IP)
        return false;
    struct ipv4_hdr ih;
    if (ipv4_parse(f + ETH_HDR_LEN, len - ETH_HDR_LEN, &ih) != IPV4_OK || ih.proto != IP_PROTO_TCP)
        return false;
    /* The checksum must verify: tcp_parse checks it. */
    return tcp_parse(f + ETH_HDR_LEN + ih.ihl, ih.total_len - ih.ihl, ih.src, ih.dst, false, g) ==
           TCP_PARSE_OK;
}

struct tcp_seg h_last_tcp(struct harness *h)
{
    struct tcp_seg g;
    for (int i = h->nout - 1; i >= 0; i--)
        if (h_out_tcp(h, i, &g))
            return g;
    ck_abort_msg("no TCP segment was sent");
    return g;
}

int h_ntcp(struct harness *h)
{
    struct tcp_seg g;
    int n = 0;
    for (int i = 0; i < h->nout; i++)
        n += h_out_tcp(h, i, &g);
    return n;
}

struct tcp_seg h_out_tcp_at(struct harness *h, int i)
{
    struct tcp_seg g;
    ck_assert_msg(h_out_tcp(h, i, &g), "frame %d is not a TCP segment", i);
    return g;
}

void h_flush(struct harness *h)
{
    sk_flush(h->s, h->now);
}

unsigned h_events_of(struct harness *h, const sk_conn *c)
{
    struct sk_event ev[16];
    unsigned e = 0;
    size_t n;
    while ((n = sk_poll(h->s, ev, 16)) > 0)
        for (size_t i = 0; i < n; i++)
            if (ev[i].conn == c)
                e |= ev[i].events;
    return e;
}

static void count_one(void *ctx, const sk_conn *c)
{
    (void)c;
    ++*(int *)ctx;
}

int h_count_conns(struct harness *h)
{
    int n = 0;
    sk_foreach_conn(h->s, count_one, &n);
    return n;
}

sk_conn *h_listen(struct harness *h, uint16_t port, unsigned backlog)
{
    int err = -1;
    sk_conn *l = sk_listen(h->s, port, backlog, &err);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(err, 0);
    ck_assert_int_eq(sk_conn_state(l), SK_LISTEN);
    return l;
}

struct tcp_seg h_syn(struct harness *h, uint16_t sport, uint16_t dport, uint32_t isn, uint16_t wnd,
                     uint16_t mss)
{
    h_clear(h);
    h_send(
        h,
        &(struct h_seg){
            .sport = sport, .dport = dport, .seq = isn, .flags = TCP_SYN, .wnd = wnd, .mss = mss});
    ck_assert_int_eq(h_ntcp(h), 1);
    struct tcp_seg g = h_out_tcp_at(h, 0);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(g.ack, isn + 1);
    h_clear(h);
    return g;
}

int h_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
