/* Unit tests of the foundation layer: Ethernet, ARP (answering, the cache,
 * resolution with its pending queue and retries), IPv4 validation and
 * output, ICMP echo and protocol unreachable.  Frames in through the
 * harness at a fixed clock; the captured frames out are parsed and checked
 * field by field. */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "bytes.h"
#include "checksum.h"
#include "eth.h"
#include "harness.h"
#include "icmp.h"
#include "ipv4.h"

#define CTR(h, name) (sk_counters((h)->s)->name)

/* 10.0.0.7: an on-link host the stack has never heard of, at MAC X_MAC. */
#define X_IP 0x0a000007u
static const uint8_t X_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x07};
static const uint8_t ZERO_MAC[6];

/* ---- counters by name, so a drop can be checked against all the others */

struct ctr_field {
    const char *name;
    size_t off;
};
static const struct ctr_field ctr_fields[] = {
#define CTR_FIELD(n, desc) {#n, offsetof(struct sk_counters, n)},
    SK_COUNTERS(CTR_FIELD)
#undef CTR_FIELD
};
#define N_CTR_FIELDS (sizeof(ctr_fields) / sizeof(ctr_fields[0]))

static uint64_t ctr_at(const struct sk_counters *c, size_t off)
{
    uint64_t v;
    memcpy(&v, (const uint8_t *)c + off, sizeof(v));
    return v;
}

/* Checks that counter `name` grew by n since `before` and that no other
 * drop_* counter moved. */
static void expect_counter(struct harness *h, const struct sk_counters *before, const char *name,
                           uint64_t n)
{
    const struct sk_counters *now = sk_counters(h->s);
    int found = 0;
    for (size_t i = 0; i < N_CTR_FIELDS; i++) {
        uint64_t d = ctr_at(now, ctr_fields[i].off) - ctr_at(before, ctr_fields[i].off);
        if (strcmp(ctr_fields[i].name, name) == 0) {
            found = 1;
            ck_assert_msg(d == n, "%s grew by %llu, expected %llu", name, (unsigned long long)d,
                          (unsigned long long)n);
        } else if (strncmp(ctr_fields[i].name, "drop_", 5) == 0) {
            ck_assert_msg(d == 0, "expected %s, but %s grew by %llu", name, ctr_fields[i].name,
                          (unsigned long long)d);
        }
    }
    ck_assert_msg(found, "no counter named %s", name);
}

/* Feeds a frame that must be dropped: nothing is sent and exactly the
 * counter `name` grows by one. */
static void input_dropped(struct harness *h, const uint8_t *f, size_t n, const char *name)
{
    struct sk_counters before = *sk_counters(h->s);
    h_clear(h);
    h_input(h, f, n);
    expect_counter(h, &before, name, 1);
    ck_assert_msg(h->nout == 0, "%s: %d frames were sent for a dropped frame", name, h->nout);
}

/* ---- frame builders beyond the harness's */

static uint32_t prng_state = 12345;
static void fill_pattern(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        prng_state = prng_state * 1664525u + 1013904223u;
        p[i] = (uint8_t)(prng_state >> 24);
    }
}

/* An ICMP echo request message; returns its length. */
static size_t icmp_echo(uint8_t *m, uint16_t id, uint16_t seq, const uint8_t *data, size_t n)
{
    m[0] = ICMP_ECHO_REQUEST;
    m[1] = 0;
    wr16(m + 2, 0);
    wr16(m + 4, id);
    wr16(m + 6, seq);
    if (n)
        memcpy(m + 8, data, n);
    wr16(m + 2, csum(m, 8 + n));
    return 8 + n;
}

/* A whole frame: echo request from `src` (Ethernet source PEER_MAC). */
static size_t echo_frame(uint8_t *f, uint32_t src, uint16_t id, uint16_t seq, const uint8_t *data,
                         size_t n)
{
    uint8_t m[H_FRAME_MAX];
    size_t ml = icmp_echo(m, id, seq, data, n);
    return h_ipv4(f, src, US_IP, IP_PROTO_ICMP, m, ml);
}

/* Recomputes the IPv4 header checksum of a frame after a field was edited
 * (over the header length in the IHL field, at least 20 bytes). */
static void ip_fix_csum(uint8_t *f)
{
    uint8_t *ip = f + ETH_HDR_LEN;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (ihl < IP_HDR_LEN)
        ihl = IP_HDR_LEN;
    wr16(ip + 10, 0);
    wr16(ip + 10, csum(ip, ihl));
}

/* ---- checks on captured frames */

static void check_eth(struct harness *h, int i, const uint8_t *dst, uint16_t type)
{
    ck_assert_int_lt(i, h->nout);
    struct eth_hdr eh;
    ck_assert_int_eq(eth_parse(h->out[i], h->out_len[i], &eh), 0);
    ck_assert_mem_eq(eh.dst, dst, 6);
    ck_assert_mem_eq(eh.src, US_MAC, 6);
    ck_assert_uint_eq(eh.type, type);
    ck_assert_uint_ge(h->out_len[i], 60); /* the Ethernet minimum (without FCS) */
}

/* The i-th frame is our IPv4 packet to dst; returns its parsed header and
 * checks what every packet we send must have. */
static struct ipv4_hdr check_ip(struct harness *h, int i, const uint8_t *dst_mac, uint32_t dst,
                                uint8_t proto)
{
    check_eth(h, i, dst_mac, ETHERTYPE_IP);
    const uint8_t *ip = h->out[i] + ETH_HDR_LEN;
    size_t len = h->out_len[i] - ETH_HDR_LEN;
    struct ipv4_hdr ih;
    ck_assert_int_eq(ipv4_parse(ip, len, &ih), IPV4_OK);
    ck_assert_uint_eq(ih.version, 4);
    ck_assert_uint_eq(ih.ihl, IP_HDR_LEN);
    ck_assert_uint_eq(csum(ip, IP_HDR_LEN), 0); /* valid header checksum */
    ck_assert_uint_eq(ih.ttl, 64);
    /* TCP's segments are atomic (DF); the rest may be fragmented on the
     * way (no DF); none of these is a fragment. */
    ck_assert_uint_eq(ih.frag, proto == IP_PROTO_TCP ? IP_FLAG_DF : 0);
    ck_assert_uint_eq(ih.proto, proto);
    ck_assert_uint_eq(ih.src, US_IP);
    ck_assert_uint_eq(ih.dst, dst);
    /* The frame is the packet, plus zero padding to 60 bytes if short. */
    size_t want = ETH_HDR_LEN + ih.total_len < 60 ? 60 : ETH_HDR_LEN + ih.total_len;
    ck_assert_uint_eq(h->out_len[i], want);
    for (size_t k = ih.total_len; k < len; k++)
        ck_assert_msg(ip[k] == 0, "padding byte %zu is 0x%02x", k, ip[k]);
    return ih;
}

/* The i-th frame is the exact echo reply to (id, seq, data). */
static struct ipv4_hdr check_echo_reply(struct harness *h, int i, const uint8_t *dst_mac,
                                        uint32_t dst, uint16_t id, uint16_t seq,
                                        const uint8_t *data, size_t n)
{
    struct ipv4_hdr ih = check_ip(h, i, dst_mac, dst, IP_PROTO_ICMP);
    ck_assert_uint_eq(ih.total_len, IP_HDR_LEN + 8 + n);
    const uint8_t *m = h->out[i] + ETH_HDR_LEN + IP_HDR_LEN;
    ck_assert_uint_eq(m[0], ICMP_ECHO_REPLY);
    ck_assert_uint_eq(m[1], 0);
    ck_assert_uint_eq(rd16(m + 4), id);
    ck_assert_uint_eq(rd16(m + 6), seq);
    if (n)
        ck_assert_mem_eq(m + 8, data, n);
    ck_assert_uint_eq(csum(m, 8 + n), 0);
    return ih;
}

/* The i-th frame is an ARP packet from us; returns it parsed. */
static struct arp_pkt check_arp(struct harness *h, int i, const uint8_t *eth_dst, uint16_t oper)
{
    check_eth(h, i, eth_dst, ETHERTYPE_ARP);
    struct arp_pkt a;
    ck_assert_int_eq(arp_parse(h->out[i] + ETH_HDR_LEN, h->out_len[i] - ETH_HDR_LEN, &a), 0);
    ck_assert_uint_eq(a.htype, 1);
    ck_assert_uint_eq(a.ptype, ETHERTYPE_IP);
    ck_assert_uint_eq(a.hlen, 6);
    ck_assert_uint_eq(a.plen, 4);
    ck_assert_uint_eq(a.oper, oper);
    ck_assert_mem_eq(a.sha, US_MAC, 6);
    ck_assert_uint_eq(a.spa, US_IP);
    return a;
}

/* The i-th frame is our broadcast ARP request for `ip`. */
static void check_arp_request(struct harness *h, int i, uint32_t ip)
{
    struct arp_pkt a = check_arp(h, i, eth_broadcast, ARP_OP_REQUEST);
    ck_assert_uint_eq(a.tpa, ip);
}

/* ================================================================
 * Ethernet
 * ================================================================ */

START_TEST(eth_parse_build_round_trip)
{
    static const uint8_t dst[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    static const uint8_t src[6] = {0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    static const uint16_t types[] = {ETHERTYPE_IP, ETHERTYPE_ARP, 0x86dd, 0x0000, 0xffff};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        uint8_t f[ETH_HDR_LEN + 2];
        memset(f, 0xa5, sizeof(f));
        eth_build(f, dst, src, types[t]);
        /* On the wire: destination, source, type in network order. */
        ck_assert_mem_eq(f, dst, 6);
        ck_assert_mem_eq(f + 6, src, 6);
        ck_assert_uint_eq(f[12], types[t] >> 8);
        ck_assert_uint_eq(f[13], types[t] & 0xff);
        ck_assert_uint_eq(f[14], 0xa5); /* nothing written past the header */
        struct eth_hdr eh;
        ck_assert_int_eq(eth_parse(f, ETH_HDR_LEN, &eh), 0);
        ck_assert_mem_eq(eh.dst, dst, 6);
        ck_assert_mem_eq(eh.src, src, 6);
        ck_assert_uint_eq(eh.type, types[t]);
    }
    uint8_t f[ETH_HDR_LEN] = {0};
    struct eth_hdr eh;
    for (size_t len = 0; len < ETH_HDR_LEN; len++)
        ck_assert_int_eq(eth_parse(f, len, &eh), -1);
}
END_TEST

START_TEST(eth_runt_dropped)
{
    struct harness *h = h_new(NULL);
    uint8_t f[64];
    size_t n = h_arp(f, ARP_OP_REQUEST, PEER_MAC, PEER_IP, ZERO_MAC, US_IP);
    ck_assert_uint_gt(n, ETH_HDR_LEN);
    for (size_t len = 0; len < ETH_HDR_LEN; len++)
        input_dropped(h, f, len, "drop_eth_runt");
    ck_assert_uint_eq(CTR(h, drop_eth_runt), ETH_HDR_LEN);
    ck_assert_uint_eq(CTR(h, eth_in), ETH_HDR_LEN);
    ck_assert_uint_eq(CTR(h, arp_in), 0);
    h_free(h);
}
END_TEST

START_TEST(eth_not_ours_dropped)
{
    struct harness *h = h_new(NULL);
    /* An ARP request for us, but in a frame to somebody else's MAC: if the
     * MAC filter were missing it would be answered. */
    static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x99};
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    uint8_t f[64];
    size_t n = h_arp(f, ARP_OP_REQUEST, PEER_MAC, PEER_IP, ZERO_MAC, US_IP);
    memcpy(f, other, 6);
    input_dropped(h, f, n, "drop_eth_not_ours");
    memcpy(f, mcast, 6);
    input_dropped(h, f, n, "drop_eth_not_ours");
    ck_assert_uint_eq(CTR(h, arp_in), 0);
    /* The same frame to our MAC, and to broadcast, is taken. */
    memcpy(f, US_MAC, 6);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    h_clear(h);
    memcpy(f, eth_broadcast, 6);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    ck_assert_uint_eq(CTR(h, drop_eth_not_ours), 2);
    h_free(h);
}
END_TEST

START_TEST(eth_unknown_type_dropped)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t f[128];
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* A valid echo request labelled IPv6, then LLDP: neither is read. */
    size_t n = echo_frame(f, PEER_IP, 1, 1, data, sizeof(data));
    wr16(f + 12, 0x86dd);
    input_dropped(h, f, n, "drop_eth_type");
    wr16(f + 12, 0x88cc);
    input_dropped(h, f, n, "drop_eth_type");
    ck_assert_uint_eq(CTR(h, ip_in), 0);
    /* Labelled IPv4 it is answered. */
    wr16(f + 12, ETHERTYPE_IP);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    h_free(h);
}
END_TEST

/* ================================================================
 * ARP
 * ================================================================ */

START_TEST(arp_request_for_us_answered)
{
    struct harness *h = h_new(NULL);
    uint8_t f[64];
    size_t n = h_arp(f, ARP_OP_REQUEST, PEER_MAC, PEER_IP, ZERO_MAC, US_IP);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    /* Sent straight back to the requester, not broadcast (RFC 826). */
    struct arp_pkt a = check_arp(h, 0, PEER_MAC, ARP_OP_REPLY);
    ck_assert_mem_eq(a.tha, PEER_MAC, 6);
    ck_assert_uint_eq(a.tpa, PEER_IP);
    ck_assert_uint_eq(CTR(h, arp_in), 1);
    ck_assert_uint_eq(CTR(h, arp_replies_sent), 1);
    /* The requester was learned on the way (RFC 826's merge). */
    const uint8_t *mac = arp_lookup(h->s, PEER_IP);
    ck_assert_ptr_nonnull(mac);
    ck_assert_mem_eq(mac, PEER_MAC, 6);
    h_free(h);
}
END_TEST

START_TEST(arp_request_for_other_ignored)
{
    struct harness *h = h_new(NULL);
    uint8_t f[64];
    size_t n = h_arp(f, ARP_OP_REQUEST, PEER_MAC, PEER_IP, ZERO_MAC, 0x0a000003u);
    input_dropped(h, f, n, "drop_arp_not_ours");
    ck_assert_uint_eq(CTR(h, arp_replies_sent), 0);
    /* A stranger asking for someone else is not put in our cache. */
    ck_assert_ptr_null(arp_lookup(h->s, PEER_IP));
    h_free(h);
}
END_TEST

START_TEST(arp_malformed_dropped)
{
    struct harness *h = h_new(NULL);
    uint8_t good[64], f[64];
    size_t n = h_arp(good, ARP_OP_REQUEST, PEER_MAC, PEER_IP, ZERO_MAC, US_IP);
    uint8_t *a = f + ETH_HDR_LEN;

    /* Truncated: one byte short of the 28-byte Ethernet/IPv4 form. */
    memcpy(f, good, n);
    input_dropped(h, f, ETH_HDR_LEN + ARP_PKT_LEN - 1, "drop_arp_malformed");
    input_dropped(h, f, ETH_HDR_LEN, "drop_arp_malformed");
    /* Hardware type not Ethernet (6 is IEEE 802). */
    memcpy(f, good, n);
    wr16(a, 6);
    input_dropped(h, f, n, "drop_arp_malformed");
    /* Protocol type not IPv4. */
    memcpy(f, good, n);
    wr16(a + 2, 0x86dd);
    input_dropped(h, f, n, "drop_arp_malformed");
    /* Hardware address length not 6. */
    memcpy(f, good, n);
    a[4] = 8;
    input_dropped(h, f, n, "drop_arp_malformed");
    /* Protocol address length not 4. */
    memcpy(f, good, n);
    a[5] = 16;
    input_dropped(h, f, n, "drop_arp_malformed");
    /* An operation that is neither request nor reply. */
    memcpy(f, good, n);
    wr16(a + 6, 3);
    input_dropped(h, f, n, "drop_arp_malformed");
    /* A multicast sender hardware address: never a station. */
    memcpy(f, good, n);
    a[8] |= 1;
    input_dropped(h, f, n, "drop_arp_malformed");

    ck_assert_uint_eq(CTR(h, drop_arp_malformed), 8);
    ck_assert_uint_eq(CTR(h, arp_replies_sent), 0);
    ck_assert_ptr_null(arp_lookup(h->s, PEER_IP));
    /* The unmodified request is answered (the mutations were the cause). */
    h_input(h, good, n);
    ck_assert_int_eq(h->nout, 1);
    h_free(h);
}
END_TEST

START_TEST(arp_gratuitous_at_creation)
{
    struct harness *h = h_new(NULL);
    ck_assert_uint_eq(CTR(h, arp_gratuitous_sent), 1);
    ck_assert_uint_eq(CTR(h, eth_out), 1);
    /* h_new cleared the frame; a second stack with the same config sends
     * its announcement into the same capture. */
    int err = -1;
    sk_stack *s2 = sk_stack_new(&h->cfg, h->now, &err);
    ck_assert_ptr_nonnull(s2);
    ck_assert_int_eq(err, 0);
    ck_assert_int_eq(h->nout, 1);
    /* RFC 5227's announcement: a broadcast request with sender and target
     * protocol address both ours. */
    struct arp_pkt a = check_arp(h, 0, eth_broadcast, ARP_OP_REQUEST);
    ck_assert_uint_eq(a.tpa, US_IP);
    ck_assert_mem_eq(a.tha, ZERO_MAC, 6);
    ck_assert_uint_eq(sk_counters(s2)->arp_gratuitous_sent, 1);
    sk_stack_free(s2);
    h_free(h);
}
END_TEST

START_TEST(arp_learns_requester)
{
    struct harness *h = h_new(NULL);
    uint8_t f[128];
    size_t n = h_arp(f, ARP_OP_REQUEST, X_MAC, X_IP, ZERO_MAC, US_IP);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    h_clear(h);
    /* An echo request from it (the Ethernet source deliberately another MAC:
     * the stack learns from ARP, not from IP frames) is answered at once to
     * the MAC it announced, without an ARP request. */
    uint8_t data[4] = {9, 8, 7, 6};
    n = echo_frame(f, X_IP, 0x77, 1, data, sizeof(data));
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_echo_reply(h, 0, X_MAC, X_IP, 0x77, 1, data, sizeof(data));
    ck_assert_uint_eq(CTR(h, arp_requests_sent), 0);
    h_free(h);
}
END_TEST

/* An echo request from X_IP in a frame from X_MAC, which the stack has no
 * ARP entry for. */
static size_t echo_from_x(uint8_t *f, uint16_t seq, const uint8_t *data, size_t n)
{
    size_t len = echo_frame(f, X_IP, 0x4242, seq, data, n);
    memcpy(f + 6, X_MAC, 6);
    return len;
}

static void arp_reply_from_x(struct harness *h)
{
    uint8_t f[64];
    size_t n = h_arp(f, ARP_OP_REPLY, X_MAC, X_IP, US_MAC, US_IP);
    h_input(h, f, n);
}

START_TEST(arp_resolution_holds_then_sends)
{
    struct harness *h = h_new(NULL);
    uint8_t f[256], data[32];
    fill_pattern(data, sizeof(data));
    size_t n = echo_from_x(f, 1, data, sizeof(data));
    h_input(h, f, n);
    /* The reply waits; only the ARP request for 10.0.0.7 goes out. */
    ck_assert_int_eq(h->nout, 1);
    check_arp_request(h, 0, X_IP);
    ck_assert_uint_eq(CTR(h, arp_requests_sent), 1);
    ck_assert_uint_eq(CTR(h, icmp_echo_replies), 1);
    ck_assert_ptr_null(arp_lookup(h->s, X_IP));
    ck_assert_uint_eq(sk_next_deadline(h->s), h->now + ARP_RETRY_US);

    /* Half a second later the reply comes: the held echo reply leaves for
     * the MAC it names, and no ARP reply is sent to a reply. */
    h_advance(h, ARP_RETRY_US / 2);
    h_clear(h);
    arp_reply_from_x(h);
    ck_assert_int_eq(h->nout, 1);
    check_echo_reply(h, 0, X_MAC, X_IP, 0x4242, 1, data, sizeof(data));
    ck_assert_uint_eq(CTR(h, arp_replies_sent), 0);
    const uint8_t *mac = arp_lookup(h->s, X_IP);
    ck_assert_ptr_nonnull(mac);
    ck_assert_mem_eq(mac, X_MAC, 6);
    ck_assert_uint_eq(sk_next_deadline(h->s), UINT64_MAX);
    /* Nothing more when the old retry time passes. */
    h_clear(h);
    h_advance(h, ARP_RETRY_US);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_uint_eq(CTR(h, arp_requests_sent), 1);

    /* The next one goes straight out. */
    n = echo_from_x(f, 2, data, sizeof(data));
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_echo_reply(h, 0, X_MAC, X_IP, 0x4242, 2, data, sizeof(data));
    ck_assert_uint_eq(CTR(h, drop_arp_pending), 0);
    h_free(h);
}
END_TEST

START_TEST(arp_retries_then_gives_up)
{
    struct harness *h = h_new(NULL);
    uint8_t f[256], data[8] = {0};
    size_t n = echo_from_x(f, 1, data, sizeof(data));
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_arp_request(h, 0, X_IP);
    /* One request per ARP_RETRY_US, ARP_MAX_TRIES in all. */
    for (int tries = 1; tries < ARP_MAX_TRIES; tries++) {
        ck_assert_uint_eq(sk_next_deadline(h->s), h->now + ARP_RETRY_US);
        h_clear(h);
        h_advance(h, ARP_RETRY_US - 1);
        ck_assert_int_eq(h->nout, 0); /* not early */
        h_advance(h, 1);
        ck_assert_int_eq(h->nout, 1);
        check_arp_request(h, 0, X_IP);
        ck_assert_uint_eq(CTR(h, arp_requests_sent), (uint64_t)tries + 1);
        ck_assert_uint_eq(CTR(h, arp_resolve_failed), 0);
    }
    /* One more interval without an answer: give up, drop what waited. */
    ck_assert_uint_eq(sk_next_deadline(h->s), h->now + ARP_RETRY_US);
    h_clear(h);
    h_advance(h, ARP_RETRY_US);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_uint_eq(CTR(h, arp_requests_sent), ARP_MAX_TRIES);
    ck_assert_uint_eq(CTR(h, arp_resolve_failed), 1);
    ck_assert_uint_eq(CTR(h, drop_arp_pending), 1);
    ck_assert_uint_eq(sk_next_deadline(h->s), UINT64_MAX);
    h_advance(h, 10 * ARP_RETRY_US);
    ck_assert_int_eq(h->nout, 0);

    /* A late reply finds nothing held: the dropped frame stays dropped. */
    arp_reply_from_x(h);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_uint_eq(CTR(h, drop_arp_pending), 1);
    h_free(h);
}
END_TEST

START_TEST(arp_new_resolution_after_failure)
{
    struct harness *h = h_new(NULL);
    uint8_t f[256], data[8] = {0};
    size_t n = echo_from_x(f, 1, data, sizeof(data));
    h_input(h, f, n);
    /* Timers run at each deadline, as an event loop would run them. */
    for (int i = 0; i < ARP_MAX_TRIES; i++)
        h_advance(h, sk_next_deadline(h->s) - h->now);
    ck_assert_uint_eq(CTR(h, arp_resolve_failed), 1);
    /* Later traffic starts a fresh resolution. */
    h_clear(h);
    n = echo_from_x(f, 2, data, sizeof(data));
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_arp_request(h, 0, X_IP);
    ck_assert_uint_eq(CTR(h, arp_requests_sent), ARP_MAX_TRIES + 1);
    h_clear(h);
    arp_reply_from_x(h);
    ck_assert_int_eq(h->nout, 1);
    check_echo_reply(h, 0, X_MAC, X_IP, 0x4242, 2, data, sizeof(data));
    h_free(h);
}
END_TEST

/* A small queue, to see both bounds with few frames: 8 per address, 32
 * for all. */
#define SMALL_PENDING       8
#define SMALL_PENDING_TOTAL 32
static void small_arp_queue(struct sk_config *cfg)
{
    cfg->arp_pending = SMALL_PENDING;
    cfg->arp_pending_total = SMALL_PENDING_TOTAL;
}

START_TEST(arp_pending_bounded_per_address)
{
    struct harness *h = h_new(small_arp_queue);
    uint8_t f[256], data[16];
    fill_pattern(data, sizeof(data));
    const int burst = SMALL_PENDING + 3;
    for (int i = 0; i < burst; i++) {
        size_t n = echo_from_x(f, (uint16_t)i, data, sizeof(data));
        h_input(h, f, n);
    }
    /* One request, not one per packet; the overflow is dropped and counted. */
    ck_assert_int_eq(h->nout, 1);
    check_arp_request(h, 0, X_IP);
    ck_assert_uint_eq(CTR(h, arp_requests_sent), 1);
    ck_assert_uint_eq(CTR(h, drop_arp_pending), burst - SMALL_PENDING);
    /* The reply releases the first SMALL_PENDING, oldest first. */
    h_clear(h);
    arp_reply_from_x(h);
    ck_assert_int_eq(h->nout, SMALL_PENDING);
    for (int i = 0; i < SMALL_PENDING; i++)
        check_echo_reply(h, i, X_MAC, X_IP, 0x4242, (uint16_t)i, data, sizeof(data));
    ck_assert_uint_eq(CTR(h, drop_arp_pending), burst - SMALL_PENDING);
    h_free(h);
}
END_TEST

START_TEST(arp_pending_pool_shared)
{
    /* The pool holds SMALL_PENDING_TOTAL frames for all addresses together:
     * fill it from several unresolved hosts, then one more host. */
    struct harness *h = h_new(small_arp_queue);
    const int naddr = SMALL_PENDING_TOTAL / SMALL_PENDING + 1;
    uint8_t f[256], data[4] = {1, 2, 3, 4};
    for (int a = 0; a < naddr; a++)
        for (int i = 0; i < SMALL_PENDING; i++) {
            size_t n = echo_frame(f, 0x0a000010u + (uint32_t)a, (uint16_t)a, (uint16_t)i, data,
                                  sizeof(data));
            h_input(h, f, n);
        }
    ck_assert_int_eq(h->nout, naddr); /* one request per address */
    ck_assert_uint_eq(CTR(h, drop_arp_pending), naddr * SMALL_PENDING - SMALL_PENDING_TOTAL);
    ck_assert_uint_eq(CTR(h, ip_out), 0);
    /* Every answer releases what was held for that host, and only that. */
    int released = 0;
    for (int a = 0; a < naddr; a++) {
        uint8_t mac[6] = {0x02, 0, 0, 0, 0x10, (uint8_t)a};
        size_t n = h_arp(f, ARP_OP_REPLY, mac, 0x0a000010u + (uint32_t)a, US_MAC, US_IP);
        h_clear(h);
        h_input(h, f, n);
        for (int i = 0; i < h->nout; i++)
            check_echo_reply(h, i, mac, 0x0a000010u + (uint32_t)a, (uint16_t)a, (uint16_t)i, data,
                             sizeof(data));
        released += h->nout;
    }
    ck_assert_int_eq(released, SMALL_PENDING_TOTAL);
    ck_assert_uint_eq(CTR(h, ip_out), SMALL_PENDING_TOTAL);
    /* The slots are free again: a new burst fits whole. */
    h_clear(h);
    for (int i = 0; i < SMALL_PENDING; i++) {
        size_t n = echo_from_x(f, (uint16_t)i, data, sizeof(data));
        h_input(h, f, n);
    }
    h_clear(h);
    arp_reply_from_x(h);
    ck_assert_int_eq(h->nout, SMALL_PENDING);
    h_free(h);
}
END_TEST

/* ---- what is counted as sent, and the ARP queue's bounds */

/* A SYN-ACK to a peer not yet resolved waits for the ARP reply: it is
 * counted as sent when it leaves, not when it is queued. */
START_TEST(sent_counted_when_frame_leaves)
{
    struct harness *h = h_new(NULL);
    h_listen(h, 80, 0);
    h_clear(h);
    uint64_t ip0 = CTR(h, ip_out), tcp0 = CTR(h, tcp_out);
    h_send(
        h,
        &(struct h_seg){
            .sport = 40000, .dport = 80, .seq = 1000, .flags = TCP_SYN, .wnd = 65535, .mss = 1460});
    ck_assert_int_eq(h->nout, 1);
    check_arp_request(h, 0, PEER_IP);
    ck_assert_uint_eq(CTR(h, ip_out), ip0);
    ck_assert_uint_eq(CTR(h, tcp_out), tcp0);
    /* The reply releases it: now it is sent. */
    h_clear(h);
    uint8_t f[64];
    size_t n = h_arp(f, ARP_OP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP);
    h_input(h, f, n);
    ck_assert_int_eq(h_ntcp(h), 1);
    ck_assert_uint_eq(CTR(h, ip_out), ip0 + 1);
    ck_assert_uint_eq(CTR(h, tcp_out), tcp0 + 1);
    h_free(h);
}
END_TEST

/* A frame dropped because its next hop never answered counts only in
 * drop_arp_pending, never as sent. */
START_TEST(dropped_in_arp_queue_not_sent)
{
    struct harness *h = h_new(NULL);
    uint8_t f[256], data[8] = {0};
    size_t n = echo_from_x(f, 1, data, sizeof(data));
    h_input(h, f, n);
    for (int i = 0; i < ARP_MAX_TRIES; i++)
        h_advance(h, sk_next_deadline(h->s) - h->now);
    ck_assert_uint_eq(CTR(h, arp_resolve_failed), 1);
    ck_assert_uint_eq(CTR(h, drop_arp_pending), 1);
    ck_assert_uint_eq(CTR(h, ip_out), 0);
    ck_assert_uint_eq(CTR(h, tcp_out), 0);
    h_free(h);
}
END_TEST

/* n echo requests from the unresolved X_IP, then X's ARP reply: returns
 * how many echo replies left (checked in order, seq 0 to n - 1). */
static int burst_from_x(struct harness *h, int n)
{
    uint8_t f[256], data[16];
    fill_pattern(data, sizeof(data));
    for (int i = 0; i < n; i++) {
        size_t len = echo_from_x(f, (uint16_t)i, data, sizeof(data));
        h_input(h, f, len);
    }
    ck_assert_int_eq(h->nout, 1); /* one ARP request for the whole burst */
    check_arp_request(h, 0, X_IP);
    h_clear(h);
    arp_reply_from_x(h);
    for (int i = 0; i < h->nout; i++)
        check_echo_reply(h, i, X_MAC, X_IP, 0x4242, (uint16_t)i, data, sizeof(data));
    return h->nout;
}

/* The default queue takes a burst of 64 frames to one new neighbour (a
 * listener's SYN-ACKs, say): all leave after the ARP reply, none lost. */
START_TEST(arp_default_queue_takes_a_burst)
{
    struct harness *h = h_new(NULL);
    ck_assert_int_eq(burst_from_x(h, 64), 64);
    ck_assert_uint_eq(CTR(h, drop_arp_pending), 0);
    ck_assert_uint_eq(CTR(h, ip_out), 64);
    ck_assert_uint_eq(CTR(h, arp_requests_sent), 1);
    h_free(h);
}
END_TEST

/* Above the default (64 per address) the extra frames are dropped and
 * counted, the first 64 leave. */
START_TEST(arp_default_queue_bounded)
{
    struct harness *h = h_new(NULL);
    ck_assert_int_eq(burst_from_x(h, 64 + 5), 64);
    ck_assert_uint_eq(CTR(h, drop_arp_pending), 5);
    ck_assert_uint_eq(CTR(h, ip_out), 64);
    h_free(h);
}
END_TEST

static void pending_100(struct sk_config *cfg)
{
    cfg->arp_pending = 100;
}

START_TEST(arp_pending_configured)
{
    struct harness *h = h_new(pending_100);
    ck_assert_int_eq(burst_from_x(h, 130), 100);
    ck_assert_uint_eq(CTR(h, drop_arp_pending), 30);
    ck_assert_uint_eq(CTR(h, ip_out), 100);
    h_free(h);
}
END_TEST

/* A config beyond the documented maximum is refused, not trimmed, as a
 * bad config (SK_EINVAL) like every other out-of-range field. */
START_TEST(arp_pending_over_max_refused)
{
    struct harness *h = h_new(NULL);
    struct sk_config c = h->cfg;
    c.arp_pending = SK_ARP_PENDING_MAX + 1;
    int e = 0;
    ck_assert_ptr_null(sk_stack_new(&c, h->now, &e));
    ck_assert_int_eq(e, SK_EINVAL);
    c.arp_pending = SK_ARP_PENDING_MAX;
    sk_stack *s = sk_stack_new(&c, h->now, &e);
    ck_assert_ptr_nonnull(s);
    sk_stack_free(s);
    h_free(h);
}
END_TEST

#define SHORT_LIFETIME_MS 500
static void short_arp_lifetime(struct sk_config *cfg)
{
    cfg->arp_lifetime_ms = SHORT_LIFETIME_MS;
}

START_TEST(arp_entry_expires)
{
    struct harness *h = h_new(short_arp_lifetime);
    h_learn_peer(h);
    uint64_t learned = h->now;
    uint8_t f[256], data[8] = {1, 1, 2, 3, 5, 8, 13, 21};
    size_t n = echo_frame(f, PEER_IP, 5, 1, data, sizeof(data));

    /* Within the lifetime: answered directly. */
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_echo_reply(h, 0, PEER_MAC, PEER_IP, 5, 1, data, sizeof(data));
    h_clear(h);
    h_advance(h, (SHORT_LIFETIME_MS - 1) * 1000ULL);
    ck_assert_ptr_nonnull(arp_lookup(h->s, PEER_IP));
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_echo_reply(h, 0, PEER_MAC, PEER_IP, 5, 1, data, sizeof(data));
    ck_assert_uint_eq(CTR(h, arp_requests_sent), 0);

    /* Past it: the entry is gone and the address is asked for again. */
    h_clear(h);
    h_advance(h, learned + (SHORT_LIFETIME_MS + 1) * 1000ULL - h->now);
    ck_assert_int_eq(h->nout, 0); /* expiry itself sends nothing */
    ck_assert_ptr_null(arp_lookup(h->s, PEER_IP));
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_arp_request(h, 0, PEER_IP);
    ck_assert_uint_eq(CTR(h, arp_requests_sent), 1);
    ck_assert_uint_eq(sk_next_deadline(h->s), h->now + ARP_RETRY_US);
    /* The answer releases the held reply and refreshes the entry. */
    h_clear(h);
    n = h_arp(f, ARP_OP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_echo_reply(h, 0, PEER_MAC, PEER_IP, 5, 1, data, sizeof(data));
    ck_assert_ptr_nonnull(arp_lookup(h->s, PEER_IP));
    ck_assert_uint_eq(sk_next_deadline(h->s), UINT64_MAX);
    h_free(h);
}
END_TEST

/* ================================================================
 * IPv4
 * ================================================================ */

/* A harness that knows the peer, and a valid echo request from it whose
 * IP header the tests then break one field at a time. */
static struct harness *ip_setup(uint8_t *f, size_t *n)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    static const uint8_t data[12] = "synack-test";
    *n = echo_frame(f, PEER_IP, 0x0101, 7, data, sizeof(data));
    return h;
}

START_TEST(ip_valid_accepted)
{
    uint8_t f[128];
    size_t n;
    struct harness *h = ip_setup(f, &n);
    struct sk_counters before = *sk_counters(h->s);
    h_input(h, f, n);
    expect_counter(h, &before, "ip_in", 1); /* and no drop */
    ck_assert_int_eq(h->nout, 1);
    check_echo_reply(h, 0, PEER_MAC, PEER_IP, 0x0101, 7, (const uint8_t *)"synack-test", 12);
    ck_assert_uint_eq(CTR(h, ip_out), 1);
    /* DF alone is not a fragment. */
    h_clear(h);
    wr16(f + ETH_HDR_LEN + 6, IP_FLAG_DF);
    ip_fix_csum(f);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    h_free(h);
}
END_TEST

START_TEST(ip_truncated_dropped)
{
    uint8_t f[128];
    size_t n;
    struct harness *h = ip_setup(f, &n);
    for (size_t k = 0; k < IP_HDR_LEN; k++)
        input_dropped(h, f, ETH_HDR_LEN + k, "drop_ip_truncated");
    ck_assert_uint_eq(CTR(h, drop_ip_truncated), IP_HDR_LEN);
    h_free(h);
}
END_TEST

START_TEST(ip_bad_version_dropped)
{
    uint8_t f[128];
    size_t n;
    struct harness *h = ip_setup(f, &n);
    static const uint8_t versions[] = {0, 5, 6, 15};
    for (size_t i = 0; i < sizeof(versions); i++) {
        f[ETH_HDR_LEN] = (uint8_t)(versions[i] << 4 | 5);
        ip_fix_csum(f);
        input_dropped(h, f, n, "drop_ip_version");
    }
    ck_assert_uint_eq(CTR(h, drop_ip_version), sizeof(versions));
    h_free(h);
}
END_TEST

START_TEST(ip_bad_ihl_dropped)
{
    uint8_t f[128] = {0}; /* ip_fix_csum at IHL 15 sums 60 bytes */
    size_t n;
    struct harness *h = ip_setup(f, &n);
    /* Below the 20-byte minimum. */
    for (uint8_t ihl = 0; ihl < 5; ihl++) {
        f[ETH_HDR_LEN] = (uint8_t)(0x40 | ihl);
        ip_fix_csum(f);
        input_dropped(h, f, n, "drop_ip_ihl");
    }
    /* Beyond the packet: 60 bytes of header in a 40-byte packet. */
    f[ETH_HDR_LEN] = 0x4f;
    ip_fix_csum(f);
    ck_assert_uint_lt(n - ETH_HDR_LEN, 60);
    input_dropped(h, f, n, "drop_ip_ihl");
    /* 24 bytes of header, 22 bytes of frame. */
    f[ETH_HDR_LEN] = 0x46;
    ip_fix_csum(f);
    input_dropped(h, f, ETH_HDR_LEN + 22, "drop_ip_ihl");
    ck_assert_uint_eq(CTR(h, drop_ip_ihl), 7);
    h_free(h);
}
END_TEST

START_TEST(ip_total_length_dropped)
{
    uint8_t f[128];
    size_t n;
    struct harness *h = ip_setup(f, &n);
    uint8_t *ip = f + ETH_HDR_LEN;
    uint16_t total = rd16(ip + 2);
    ck_assert_uint_eq(total, n - ETH_HDR_LEN);
    /* Claims one byte more than the frame carries. */
    wr16(ip + 2, (uint16_t)(total + 1));
    ip_fix_csum(f);
    input_dropped(h, f, n, "drop_ip_truncated");
    /* Claims the maximum. */
    wr16(ip + 2, 0xffff);
    ip_fix_csum(f);
    input_dropped(h, f, n, "drop_ip_truncated");
    /* The right total length, but the frame was cut short. */
    wr16(ip + 2, total);
    ip_fix_csum(f);
    input_dropped(h, f, n - 1, "drop_ip_truncated");
    /* Shorter than its own header. */
    wr16(ip + 2, IP_HDR_LEN - 1);
    ip_fix_csum(f);
    input_dropped(h, f, n, "drop_ip_truncated");
    ck_assert_uint_eq(CTR(h, drop_ip_truncated), 4);
    h_free(h);
}
END_TEST

START_TEST(ip_bad_checksum_dropped)
{
    uint8_t f[128];
    size_t n;
    struct harness *h = ip_setup(f, &n);
    uint8_t *ip = f + ETH_HDR_LEN;
    /* A wrong checksum field... */
    ip[10] ^= 0x01;
    input_dropped(h, f, n, "drop_ip_checksum");
    ip[10] ^= 0x01;
    /* ...and a header field changed under a correct-looking checksum. */
    ip[8] -= 1; /* TTL */
    input_dropped(h, f, n, "drop_ip_checksum");
    ip[8] += 1;
    ck_assert_uint_eq(CTR(h, drop_ip_checksum), 2);
    h_clear(h);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1); /* restored, it is accepted */
    h_free(h);
}
END_TEST

START_TEST(ip_not_ours_dropped)
{
    uint8_t f[128];
    size_t n;
    struct harness *h = ip_setup(f, &n);
    static const uint32_t dsts[] = {0x0a000003u, 0x0a0000ffu, 0xffffffffu, 0xe0000001u,
                                    0x0b000002u};
    for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
        wr32(f + ETH_HDR_LEN + 16, dsts[i]);
        ip_fix_csum(f);
        input_dropped(h, f, n, "drop_ip_not_ours");
    }
    h_free(h);
}
END_TEST

START_TEST(ip_fragments_to_reassembly)
{
    uint8_t f[128];
    size_t n;
    struct harness *h = ip_setup(f, &n);
    /* The 20-byte echo as fragments: not 8-byte aligned while MF is set
     * (first, middle, and MF with DF), one beyond 65,535 bytes; the last
     * fragment at offset 8 is held for reassembly (ip_frag.c; the whole
     * rules are in test_ip_frag.c). */
    static const struct {
        uint16_t frag;
        const char *counter;
    } cases[] = {
        {IP_FLAG_MF, "drop_ip_frag_bad_len"},
        {IP_FLAG_MF | 100, "drop_ip_frag_bad_len"},
        {IP_OFF_MASK, "drop_ip_frag_too_big"},
        {IP_FLAG_DF | IP_FLAG_MF, "drop_ip_frag_bad_len"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wr16(f + ETH_HDR_LEN + 6, cases[i].frag);
        ip_fix_csum(f);
        input_dropped(h, f, n, cases[i].counter);
    }
    wr16(f + ETH_HDR_LEN + 6, 1);
    ip_fix_csum(f);
    struct sk_counters before = *sk_counters(h->s);
    h_clear(h);
    h_input(h, f, n);
    expect_counter(h, &before, "ip_frags_in", 1);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_uint_eq(CTR(h, ip_frags_in), 5);
    h_free(h);
}
END_TEST

START_TEST(ip_bad_source_dropped)
{
    uint8_t f[128];
    size_t n;
    struct harness *h = ip_setup(f, &n);
    /* Limited and subnet broadcast, multicast, class E, and our own address
     * (RFC 1122 3.2.1.3). */
    static const uint32_t srcs[] = {0xffffffffu, 0x0a0000ffu, 0xe0000001u,
                                    0xeffffffau, 0xf0000001u, US_IP};
    for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
        wr32(f + ETH_HDR_LEN + 12, srcs[i]);
        ip_fix_csum(f);
        input_dropped(h, f, n, "drop_ip_bad_src");
    }
    ck_assert_uint_eq(CTR(h, drop_ip_bad_src), 6);
    h_free(h);
}
END_TEST

static void with_gateway(struct sk_config *cfg)
{
    cfg->gateway = 0x0a0000feu;
}

START_TEST(ip_martian_source_dropped)
{
    /* Loopback (RFC 1122 3.2.1.3 (g): MUST NOT appear outside a host) and
     * "this network" sources.  With a gateway configured, an answer to them
     * would leak off the link. */
    struct harness *h = h_new(with_gateway);
    h_learn_peer(h);
    uint8_t f[128];
    static const uint8_t data[4] = {1, 2, 3, 4};
    static const uint32_t srcs[] = {0x7f000001u, 0x7fffffffu, 0x00000000u, 0x00000005u};
    for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
        size_t n = echo_frame(f, srcs[i], 1, (uint16_t)i, data, sizeof(data));
        input_dropped(h, f, n, "drop_ip_bad_src");
    }
    /* An off-link source is answered through the gateway (an ARP request
     * for it, since its MAC is unknown). */
    size_t n = echo_frame(f, 0x0b000001u, 1, 9, data, sizeof(data));
    h_clear(h);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_arp_request(h, 0, 0x0a0000feu);
    h_free(h);
}
END_TEST

START_TEST(ip_ethernet_padding_not_data)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t f[128];
    static const uint8_t data[4] = {0xde, 0xad, 0xbe, 0xef};
    size_t n = echo_frame(f, PEER_IP, 0x3030, 9, data, sizeof(data));
    ck_assert_uint_lt(n, 60);
    /* Pad to the Ethernet minimum with non-zero junk, as some NICs do. */
    memset(f + n, 0xee, 60 - n);
    h_input(h, f, 60);
    ck_assert_int_eq(h->nout, 1);
    struct ipv4_hdr ih = check_echo_reply(h, 0, PEER_MAC, PEER_IP, 0x3030, 9, data, sizeof(data));
    ck_assert_uint_eq(ih.total_len, IP_HDR_LEN + 8 + sizeof(data));
    ck_assert_uint_eq(CTR(h, drop_icmp_checksum), 0);
    h_free(h);
}
END_TEST

START_TEST(ip_options_skipped)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t m[64], f[128];
    static const uint8_t data[10] = "options!!";
    size_t ml = icmp_echo(m, 0x0606, 3, data, sizeof(data));
    /* IHL 6: one option word of four NOPs (RFC 791 option type 1). */
    size_t o = h_eth(f, US_MAC, PEER_MAC, ETHERTYPE_IP);
    uint8_t *ip = f + o;
    memset(ip, 0, 24);
    ip[0] = 0x46;
    wr16(ip + 2, (uint16_t)(24 + ml));
    wr16(ip + 4, 0x4444);
    ip[8] = 64;
    ip[9] = IP_PROTO_ICMP;
    wr32(ip + 12, PEER_IP);
    wr32(ip + 16, US_IP);
    memset(ip + 20, 1, 4);
    wr16(ip + 10, csum(ip, 24));
    memcpy(ip + 24, m, ml);
    h_input(h, f, o + 24 + ml);
    ck_assert_uint_eq(CTR(h, ip_options_skipped), 1);
    ck_assert_int_eq(h->nout, 1);
    /* The reply carries no options (check_ip asserts IHL 5). */
    check_echo_reply(h, 0, PEER_MAC, PEER_IP, 0x0606, 3, data, sizeof(data));

    /* The checksum covers the options too. */
    h_clear(h);
    ip[21] = 0; /* NOP -> EOL, checksum not updated */
    struct sk_counters before = *sk_counters(h->s);
    h_input(h, f, o + 24 + ml);
    expect_counter(h, &before, "drop_ip_checksum", 1);
    ck_assert_int_eq(h->nout, 0);
    h_free(h);
}
END_TEST

START_TEST(ip_output_header)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t f[128], data[20];
    fill_pattern(data, sizeof(data));
    size_t n = echo_frame(f, PEER_IP, 1, 1, data, sizeof(data));
    h_input(h, f, n);
    n = echo_frame(f, PEER_IP, 1, 2, data, sizeof(data));
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 2);
    /* check_ip: TTL 64, DF, valid header checksum, our source. */
    struct ipv4_hdr a = check_echo_reply(h, 0, PEER_MAC, PEER_IP, 1, 1, data, sizeof(data));
    struct ipv4_hdr b = check_echo_reply(h, 1, PEER_MAC, PEER_IP, 1, 2, data, sizeof(data));
    ck_assert_uint_eq(b.id, (uint16_t)(a.id + 1));
    ck_assert_uint_eq(a.tos, 0);
    h_free(h);
}
END_TEST

/* ================================================================
 * ICMP
 * ================================================================ */

START_TEST(icmp_echo_reply_sizes)
{
    static const size_t sizes[] = {0, 1, 56, 1472, 2, 7, 8, 9, 63, 64, 1471};
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    static uint8_t f[H_FRAME_MAX], data[1472];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t sz = sizes[i];
        fill_pattern(data, sz);
        uint16_t id = (uint16_t)(0xbe00 + i), seq = (uint16_t)(0xfff0 + i);
        size_t n = echo_frame(f, PEER_IP, id, seq, data, sz);
        h_clear(h);
        h_input(h, f, n);
        ck_assert_msg(h->nout == 1, "payload %zu: %d frames", sz, h->nout);
        check_echo_reply(h, 0, PEER_MAC, PEER_IP, id, seq, data, sz);
    }
    /* 1472 bytes of data fill a 1500-byte MTU exactly. */
    ck_assert_uint_eq(IP_HDR_LEN + 8 + 1472, h->cfg.mtu);
    ck_assert_uint_eq(CTR(h, icmp_echo_replies), sizeof(sizes) / sizeof(sizes[0]));
    h_free(h);
}
END_TEST

START_TEST(icmp_echo_beyond_mtu_fragmented)
{
    /* A request whose reply does not fit our MTU (a host side with a
     * larger MTU could send one) is answered in fragments (test_icmp.c
     * checks them). */
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    static uint8_t f[H_FRAME_MAX], data[1473];
    fill_pattern(data, sizeof(data));
    size_t n = echo_frame(f, PEER_IP, 1, 1, data, sizeof(data));
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 2);
    ck_assert_uint_eq(CTR(h, icmp_echo_replies), 1);
    ck_assert_uint_eq(CTR(h, ip_fragmented), 1);
    ck_assert_uint_eq(CTR(h, ip_frags_out), 2);
    h_free(h);
}
END_TEST

START_TEST(icmp_bad_checksum_dropped)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t f[128], data[16];
    fill_pattern(data, sizeof(data));
    size_t n = echo_frame(f, PEER_IP, 1, 1, data, sizeof(data));
    uint8_t *m = f + ETH_HDR_LEN + IP_HDR_LEN;
    m[2] ^= 0x80; /* the checksum field */
    input_dropped(h, f, n, "drop_icmp_checksum");
    m[2] ^= 0x80;
    m[8 + 5] ^= 0x04; /* a data byte */
    input_dropped(h, f, n, "drop_icmp_checksum");
    m[8 + 5] ^= 0x04;
    ck_assert_uint_eq(CTR(h, icmp_echo_replies), 0);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    h_free(h);
}
END_TEST

START_TEST(icmp_truncated_dropped)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t m[8], f[128];
    icmp_echo(m, 1, 1, NULL, 0);
    for (size_t len = 0; len < 8; len++) {
        size_t n = h_ipv4(f, PEER_IP, US_IP, IP_PROTO_ICMP, m, len);
        input_dropped(h, f, n, "drop_icmp_truncated");
    }
    ck_assert_uint_eq(CTR(h, drop_icmp_truncated), 8);
    h_free(h);
}
END_TEST

START_TEST(icmp_other_types_not_answered)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t m[16], f[128];
    /* An echo reply to us is not answered (no ping storms). */
    icmp_echo(m, 1, 1, NULL, 0);
    m[0] = ICMP_ECHO_REPLY;
    wr16(m + 2, 0);
    wr16(m + 2, csum(m, 8));
    size_t n = h_ipv4(f, PEER_IP, US_IP, IP_PROTO_ICMP, m, 8);
    input_dropped(h, f, n, "drop_icmp_type");
    /* Nor is a destination unreachable. */
    m[0] = ICMP_UNREACH;
    m[1] = ICMP_UNREACH_PORT;
    wr16(m + 2, 0);
    wr16(m + 2, csum(m, 8));
    n = h_ipv4(f, PEER_IP, US_IP, IP_PROTO_ICMP, m, 8);
    input_dropped(h, f, n, "drop_icmp_err_short"); /* and it quotes nothing */
    h_free(h);
}
END_TEST

/* The i-th frame is a protocol unreachable quoting the datagram at `dgram`
 * (its IP header and data, dlen bytes). */
static void check_proto_unreach(struct harness *h, int i, const uint8_t *dgram, size_t dlen)
{
    struct ipv4_hdr ih = check_ip(h, i, PEER_MAC, PEER_IP, IP_PROTO_ICMP);
    const uint8_t *m = h->out[i] + ETH_HDR_LEN + IP_HDR_LEN;
    size_t mlen = ih.total_len - IP_HDR_LEN;
    ck_assert_uint_ge(mlen, 8);
    ck_assert_uint_eq(m[0], ICMP_UNREACH);
    ck_assert_uint_eq(m[1], ICMP_UNREACH_PROTO);
    ck_assert_uint_eq(csum(m, mlen), 0);
    ck_assert_uint_eq(rd32(m + 4), 0); /* unused, zero */
    /* RFC 792: at least the IP header and 64 bits of data; RFC 1812
     * 4.3.2.3: the error stays within 576 bytes. */
    size_t quote = mlen - 8;
    size_t min_quote = dlen < IP_HDR_LEN + 8 ? dlen : IP_HDR_LEN + 8;
    ck_assert_uint_ge(quote, min_quote);
    ck_assert_uint_le(quote, dlen);
    ck_assert_uint_le(ih.total_len, 576);
    ck_assert_mem_eq(m + 8, dgram, quote);
}

START_TEST(icmp_protocol_unreachable)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    static uint8_t f[H_FRAME_MAX], data[1400];
    fill_pattern(data, sizeof(data));
    size_t n = h_ipv4(f, PEER_IP, US_IP, 99, data, 30);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_proto_unreach(h, 0, f + ETH_HDR_LEN, n - ETH_HDR_LEN);
    ck_assert_uint_eq(CTR(h, drop_ip_proto), 1);
    ck_assert_uint_eq(CTR(h, icmp_unreach_sent), 1);
    /* A small datagram is quoted whole. */
    ck_assert_uint_eq(rd16(h->out[0] + ETH_HDR_LEN + 2), IP_HDR_LEN + 8 + IP_HDR_LEN + 30);

    /* A big one is quoted in part, within 576 bytes. */
    h_clear(h);
    n = h_ipv4(f, PEER_IP, US_IP, 99, data, sizeof(data));
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_proto_unreach(h, 0, f + ETH_HDR_LEN, n - ETH_HDR_LEN);

    /* Another unassigned protocol, with a few bytes of data. */
    h_clear(h);
    n = h_ipv4(f, PEER_IP, US_IP, 253, data, 12);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    check_proto_unreach(h, 0, f + ETH_HDR_LEN, n - ETH_HDR_LEN);
    ck_assert_uint_eq(CTR(h, icmp_unreach_sent), 3);
    h_free(h);
}
END_TEST

/* Feeds `count` protocol-99 datagrams at the current instant; returns how
 * many unreachables came out. */
static int unreach_burst(struct harness *h, int count)
{
    uint8_t f[128], data[8] = {0};
    size_t n = h_ipv4(f, PEER_IP, US_IP, 99, data, sizeof(data));
    h_clear(h);
    for (int i = 0; i < count; i++)
        h_input(h, f, n);
    for (int i = 0; i < h->nout; i++)
        check_proto_unreach(h, i, f + ETH_HDR_LEN, n - ETH_HDR_LEN);
    return h->nout;
}

START_TEST(icmp_unreachable_rate_limited)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int sent = unreach_burst(h, 100);
    ck_assert_int_ge(sent, 1);
    ck_assert_int_le(sent, ICMP_RATE_BURST);
    ck_assert_uint_eq(CTR(h, icmp_unreach_sent), (uint64_t)sent);
    ck_assert_uint_eq(CTR(h, icmp_unreach_limited), (uint64_t)(100 - sent));
    ck_assert_uint_eq(CTR(h, drop_ip_proto), 100);
    /* Still the same instant: nothing. */
    ck_assert_int_eq(unreach_burst(h, 5), 0);
    /* One token's worth of time buys one. */
    h_advance(h, 1000000 / ICMP_RATE_PER_SEC);
    ck_assert_int_eq(unreach_burst(h, 5), 1);
    /* A second refills the bucket: a full burst again, and no more. */
    h_advance(h, 1000000);
    sent = unreach_burst(h, 100);
    ck_assert_int_eq(sent, ICMP_RATE_BURST);
    /* Echo replies are not limited by it. */
    uint8_t f[128], data[4] = {0};
    size_t n = echo_frame(f, PEER_IP, 1, 1, data, sizeof(data));
    h_clear(h);
    h_input(h, f, n);
    ck_assert_int_eq(h->nout, 1);
    h_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("link");

    TCase *eth = tcase_create("eth");
    tcase_add_test(eth, eth_parse_build_round_trip);
    tcase_add_test(eth, eth_runt_dropped);
    tcase_add_test(eth, eth_not_ours_dropped);
    tcase_add_test(eth, eth_unknown_type_dropped);
    suite_add_tcase(s, eth);

    TCase *arp = tcase_create("arp");
    tcase_add_test(arp, arp_request_for_us_answered);
    tcase_add_test(arp, arp_request_for_other_ignored);
    tcase_add_test(arp, arp_malformed_dropped);
    tcase_add_test(arp, arp_gratuitous_at_creation);
    tcase_add_test(arp, arp_learns_requester);
    tcase_add_test(arp, arp_resolution_holds_then_sends);
    tcase_add_test(arp, arp_retries_then_gives_up);
    tcase_add_test(arp, arp_new_resolution_after_failure);
    tcase_add_test(arp, arp_pending_bounded_per_address);
    tcase_add_test(arp, arp_pending_pool_shared);
    tcase_add_test(arp, arp_entry_expires);
    tcase_add_test(arp, sent_counted_when_frame_leaves);
    tcase_add_test(arp, dropped_in_arp_queue_not_sent);
    tcase_add_test(arp, arp_default_queue_takes_a_burst);
    tcase_add_test(arp, arp_default_queue_bounded);
    tcase_add_test(arp, arp_pending_configured);
    tcase_add_test(arp, arp_pending_over_max_refused);
    suite_add_tcase(s, arp);

    TCase *ip = tcase_create("ipv4");
    tcase_add_test(ip, ip_valid_accepted);
    tcase_add_test(ip, ip_truncated_dropped);
    tcase_add_test(ip, ip_bad_version_dropped);
    tcase_add_test(ip, ip_bad_ihl_dropped);
    tcase_add_test(ip, ip_total_length_dropped);
    tcase_add_test(ip, ip_bad_checksum_dropped);
    tcase_add_test(ip, ip_not_ours_dropped);
    tcase_add_test(ip, ip_fragments_to_reassembly);
    tcase_add_test(ip, ip_bad_source_dropped);
    tcase_add_test(ip, ip_martian_source_dropped);
    tcase_add_test(ip, ip_ethernet_padding_not_data);
    tcase_add_test(ip, ip_options_skipped);
    tcase_add_test(ip, ip_output_header);
    suite_add_tcase(s, ip);

    TCase *icmp = tcase_create("icmp");
    tcase_add_test(icmp, icmp_echo_reply_sizes);
    tcase_add_test(icmp, icmp_echo_beyond_mtu_fragmented);
    tcase_add_test(icmp, icmp_bad_checksum_dropped);
    tcase_add_test(icmp, icmp_truncated_dropped);
    tcase_add_test(icmp, icmp_other_types_not_answered);
    tcase_add_test(icmp, icmp_protocol_unreachable);
    tcase_add_test(icmp, icmp_unreachable_rate_limited);
    suite_add_tcase(s, icmp);

    return h_run(s);
}
