/* Unit tests of ICMP and IP output: the echo reply to a request larger
 * than the MTU goes out in fragments; a request with a non-zero code is
 * answered with its TOS; IP identifications toward two destinations are
 * independent and TCP's segments are atomic (DF, ID 0); ICMP errors about
 * our TCP segments: port unreachable aborts a connection attempt, soft
 * errors never kill an established connection but name its time-out,
 * fragmentation needed lowers the MSS and the segments in flight go again
 * smaller, a quoted sequence number outside the window is ignored. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "eth.h"
#include "harness.h"
#include "icmp.h"
#include "ipv4.h"
#include "tcp_fixture.h"

#define CTR(h, name) (sk_counters((h)->s)->name)

/* 10.0.0.7, another on-link host, at X_MAC; 10.0.0.254, a router. */
#define X_IP      0x0a000007u
#define ROUTER_IP 0x0a0000feu
static const uint8_t X_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x07};

static uint32_t prng = 99;
static uint8_t rnd8(void)
{
    prng = prng * 1664525u + 1013904223u;
    return (uint8_t)(prng >> 24);
}

/* An echo request of n data bytes, type code as given. */
static size_t echo_msg(uint8_t *m, uint8_t code, uint16_t seq, size_t n)
{
    m[0] = ICMP_ECHO_REQUEST;
    m[1] = code;
    wr16(m + 2, 0);
    wr16(m + 4, 0x5151);
    wr16(m + 6, seq);
    for (size_t i = 0; i < n; i++)
        m[8 + i] = rnd8();
    wr16(m + 2, csum(m, 8 + n));
    return 8 + n;
}

/* A frame from src (Ethernet source mac) carrying payload [off, off+len)
 * of datagram id, with TOS tos. */
static size_t ip_frame(uint8_t *f, const uint8_t *mac, uint32_t src, uint8_t tos, uint16_t id,
                       uint32_t off, bool mf, const uint8_t *payload, size_t len)
{
    size_t o = h_eth(f, US_MAC, mac, ETHERTYPE_IP);
    uint8_t *ip = f + o;
    memset(ip, 0, IP_HDR_LEN);
    ip[0] = 0x45;
    ip[1] = tos;
    wr16(ip + 2, (uint16_t)(IP_HDR_LEN + len));
    wr16(ip + 4, id);
    wr16(ip + 6, (uint16_t)((mf ? IP_FLAG_MF : 0) | (off / 8)));
    ip[8] = 64;
    ip[9] = IP_PROTO_ICMP;
    wr32(ip + 12, src);
    wr32(ip + 16, US_IP);
    wr16(ip + 10, csum(ip, IP_HDR_LEN));
    memcpy(ip + IP_HDR_LEN, payload, len);
    return o + IP_HDR_LEN + len;
}

static struct ipv4_hdr out_ip(struct harness *h, int i)
{
    struct ipv4_hdr ih;
    ck_assert_int_lt(i, h->nout);
    ck_assert_int_eq(ipv4_parse(h->out[i] + ETH_HDR_LEN, h->out_len[i] - ETH_HDR_LEN, &ih),
                     IPV4_OK);
    return ih;
}

static uint8_t req[9000], got[9000];

START_TEST(echo_large_reply_fragmented)
{
    /* ping -s 8000: the request comes in fragments, the reply leaves in
     * fragments of our MTU with the right offsets and MF bits, and put
     * together it is the request's data. */
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    size_t ml = echo_msg(req, 0, 1, 8000);
    static uint8_t f[H_FRAME_MAX];
    for (size_t off = 0; off < ml; off += 1480) {
        size_t len = ml - off < 1480 ? ml - off : 1480;
        h_input(h, f,
                ip_frame(f, PEER_MAC, PEER_IP, 0, 0x1111, (uint32_t)off, off + len < ml, req + off,
                         len));
    }
    /* 8,008 bytes in 1,480-byte pieces: 6 fragments. */
    ck_assert_int_eq(h->nout, 6);
    size_t have = 0;
    uint16_t id = out_ip(h, 0).id;
    for (int i = 0; i < h->nout; i++) {
        struct ipv4_hdr ih = out_ip(h, i);
        ck_assert_uint_le(ih.total_len, 1500);
        ck_assert_uint_eq(ih.id, id); /* one datagram */
        ck_assert_uint_eq(ih.src, US_IP);
        ck_assert_uint_eq(ih.dst, PEER_IP);
        ck_assert_uint_eq(ih.proto, IP_PROTO_ICMP);
        ck_assert_uint_eq(ih.frag & IP_FLAG_DF, 0);
        ck_assert_uint_eq((size_t)(ih.frag & IP_OFF_MASK) * 8, have);
        ck_assert_uint_eq(!!(ih.frag & IP_FLAG_MF), i < 5);
        size_t len = ih.total_len - IP_HDR_LEN;
        if (i < 5)
            ck_assert_uint_eq(len, 1480);
        memcpy(got + have, h->out[i] + ETH_HDR_LEN + IP_HDR_LEN, len);
        have += len;
    }
    ck_assert_uint_eq(have, ml);
    ck_assert_uint_eq(got[0], ICMP_ECHO_REPLY);
    ck_assert_uint_eq(got[1], 0);
    ck_assert_uint_eq(csum(got, ml), 0);
    ck_assert_mem_eq(got + 4, req + 4, ml - 4);
    ck_assert_uint_eq(CTR(h, icmp_echo_replies), 1);
    ck_assert_uint_eq(CTR(h, ip_fragmented), 1);
    ck_assert_uint_eq(CTR(h, ip_frags_out), 6);

    /* The largest: 65,507 bytes of data, one 65,535-byte datagram each way. */
    h_clear(h);
    static uint8_t big[65515];
    ml = echo_msg(big, 0, 2, 65507);
    for (size_t off = 0; off < ml; off += 1480) {
        size_t len = ml - off < 1480 ? ml - off : 1480;
        h_input(h, f,
                ip_frame(f, PEER_MAC, PEER_IP, 0, 0x2222, (uint32_t)off, off + len < ml, big + off,
                         len));
    }
    ck_assert_int_eq(h->nout, 45);
    struct ipv4_hdr last = out_ip(h, 44);
    ck_assert_uint_eq((last.frag & IP_OFF_MASK) * 8u + last.total_len - IP_HDR_LEN, 65515);
    h_free(h);
}
END_TEST

START_TEST(echo_any_code_and_tos)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    static uint8_t f[H_FRAME_MAX];
    static const struct {
        uint8_t code, tos, want_tos;
    } cases[] = {{0, 0x10, 0x10}, {1, 0, 0}, {255, 0xb8, 0xb8}, {7, 0xb9, 0xb8}, {0, 0x03, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t ml = echo_msg(req, cases[i].code, (uint16_t)i, 56);
        h_clear(h);
        h_input(h, f, ip_frame(f, PEER_MAC, PEER_IP, cases[i].tos, 1, 0, false, req, ml));
        ck_assert_msg(h->nout == 1, "code %u: no reply", cases[i].code);
        struct ipv4_hdr ih = out_ip(h, 0);
        /* The TOS less the ECN bits (RFC 1349 5.1, RFC 3168 5). */
        ck_assert_uint_eq(ih.tos, cases[i].want_tos);
        const uint8_t *m = h->out[0] + ETH_HDR_LEN + IP_HDR_LEN;
        ck_assert_uint_eq(m[0], ICMP_ECHO_REPLY);
        ck_assert_uint_eq(m[1], 0);
        ck_assert_uint_eq(csum(m, ml), 0);
        ck_assert_mem_eq(m + 4, req + 4, ml - 4);
    }
    ck_assert_uint_eq(CTR(h, icmp_echo_replies), 5);
    h_free(h);
}
END_TEST

/* Echo replies' IDs toward PEER_IP and X_IP. */
static uint16_t reply_id(struct harness *h, const uint8_t *mac, uint32_t src)
{
    static uint8_t f[H_FRAME_MAX];
    size_t ml = echo_msg(req, 0, 1, 8);
    h_clear(h);
    h_input(h, f, ip_frame(f, mac, src, 0, 1, 0, false, req, ml));
    ck_assert_int_eq(h->nout, 1);
    struct ipv4_hdr ih = out_ip(h, 0);
    ck_assert_uint_eq(ih.dst, src);
    return ih.id;
}

START_TEST(ip_ids_per_destination)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t f[64];
    static const uint8_t zero[6];
    h_input(h, f, h_arp(f, 1, X_MAC, X_IP, zero, US_IP));
    /* Each destination sees a sequence of its own: what we send to one
     * does not move the other's (the idle scan reads exactly that). */
    uint16_t a0 = reply_id(h, PEER_MAC, PEER_IP);
    uint16_t x0 = ipv4_peek_id(h->s, X_IP, IP_PROTO_ICMP);
    for (int i = 1; i <= 20; i++)
        ck_assert_uint_eq(reply_id(h, PEER_MAC, PEER_IP), (uint16_t)(a0 + i));
    ck_assert_uint_eq(ipv4_peek_id(h->s, X_IP, IP_PROTO_ICMP), x0);
    ck_assert_uint_eq(reply_id(h, X_MAC, X_IP), x0);
    ck_assert_uint_eq(reply_id(h, X_MAC, X_IP), (uint16_t)(x0 + 1));
    ck_assert_uint_eq(ipv4_peek_id(h->s, PEER_IP, IP_PROTO_ICMP), (uint16_t)(a0 + 21));
    /* And their starting points are not one counter's neighbours. */
    ck_assert_uint_ne(x0, (uint16_t)(a0 + 21));
    ck_assert_uint_ne(x0, (uint16_t)(a0 + 1));
    h_free(h);
}
END_TEST

START_TEST(ip_ids_keyed_per_stack)
{
    /* The secret comes from the random source: another seed, other IDs. */
    struct harness *h1 = h_new(NULL);
    struct harness *h2 = h_new(NULL);
    h2->rand_state = 4242;
    sk_stack_free(h2->s);
    h2->s = sk_stack_new(&h2->cfg, h2->now, NULL);
    int differ = 0;
    for (uint32_t d = 1; d < 9; d++)
        differ += ipv4_peek_id(h1->s, 0x0a000000u + d, IP_PROTO_ICMP) !=
                  ipv4_peek_id(h2->s, 0x0a000000u + d, IP_PROTO_ICMP);
    ck_assert_int_ge(differ, 7);
    h_free(h1);
    h_free(h2);
}
END_TEST

START_TEST(tcp_segments_atomic)
{
    /* RFC 6864: TCP's segments are atomic datagrams, DF set, ID 0 (not a
     * counter anyone can watch): the SYN-ACK, a RST, data. */
    struct tcp_fx fx;
    fx_open_passive(&fx, NULL, 5000, 65535, 1460);
    static const char data[100] = "atomic";
    ck_assert_int_eq(sk_send(fx.c, data, sizeof(data)), sizeof(data));
    h_flush(fx.h);
    ck_assert_int_ge(fx.h->nout, 1);
    h_send(fx.h, &(struct h_seg){.sport = 999, .dport = 4444, .seq = 1, .flags = TCP_SYN});
    ck_assert_int_ge(fx.h->nout, 2);
    for (int i = 0; i < fx.h->nout; i++) {
        struct ipv4_hdr ih = out_ip(fx.h, i);
        ck_assert_uint_eq(ih.proto, IP_PROTO_TCP);
        ck_assert_uint_eq(ih.frag, IP_FLAG_DF);
        ck_assert_uint_eq(ih.id, 0);
    }
    sk_abort(fx.c);
    fx_free(&fx);
}
END_TEST

/* ---- ICMP errors about our TCP segments ---- */

/* An ICMP error from the router quoting our segment sport -> dport at
 * seq (a quoted datagram of qlen bytes), next-hop MTU mtu. */
static void icmp_error(struct harness *h, uint8_t type, uint8_t code, uint16_t mtu, uint16_t sport,
                       uint16_t dport, uint32_t seq, uint16_t qlen)
{
    uint8_t m[8 + IP_HDR_LEN + 8];
    memset(m, 0, sizeof(m));
    m[0] = type;
    m[1] = code;
    wr16(m + 6, mtu);
    uint8_t *q = m + 8;
    q[0] = 0x45;
    wr16(q + 2, qlen);
    wr16(q + 6, IP_FLAG_DF);
    q[8] = 63;
    q[9] = IP_PROTO_TCP;
    wr32(q + 12, US_IP);
    wr32(q + 16, PEER_IP);
    wr16(q + 10, csum(q, IP_HDR_LEN));
    wr16(q + 20, sport);
    wr16(q + 22, dport);
    wr32(q + 24, seq);
    wr16(m + 2, csum(m, sizeof(m)));
    static uint8_t f[H_FRAME_MAX];
    size_t n = h_ipv4(f, ROUTER_IP, US_IP, IP_PROTO_ICMP, m, sizeof(m));
    h_input(h, f, n);
}

START_TEST(icmp_port_unreachable_aborts_syn_sent)
{
    struct tcp_fx fx;
    fx_connect(&fx, NULL);
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_PORT, 0, FX_CPORT, FX_RPORT, fx.iss, 60);
    ck_assert_int_eq(sk_conn_state(fx.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(fx.c), SK_ECONNREFUSED);
    ck_assert(h_events_of(fx.h, fx.c) & SK_EV_ERROR);
    ck_assert_uint_eq(CTR(fx.h, tcp_icmp_aborts), 1);
    ck_assert_uint_eq(CTR(fx.h, tcp_failed_opens), 1);
    sk_close(fx.c);
    fx_free(&fx);

    /* Administratively prohibited (RFC 1812 5.2.7.1, code 13) is hard too;
     * protocol unreachable names its own error. */
    fx_connect(&fx, NULL);
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_FILTER, 0, FX_CPORT, FX_RPORT, fx.iss, 60);
    ck_assert_int_eq(sk_conn_error(fx.c), SK_EHOSTUNREACH);
    sk_close(fx.c);
    fx_free(&fx);
    fx_connect(&fx, NULL);
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_PROTO, 0, FX_CPORT, FX_RPORT, fx.iss, 60);
    ck_assert_int_eq(sk_conn_error(fx.c), SK_ENOPROTOOPT);
    ck_assert_str_eq(sk_strerror(SK_ENOPROTOOPT), "Protocol not available");
    sk_close(fx.c);
    fx_free(&fx);
}
END_TEST

static void two_retries(struct sk_config *cfg)
{
    cfg->tcp_max_retries = 2;
    cfg->tcp_syn_retries = 2;
}

START_TEST(icmp_soft_error_syn_sent_reported_at_timeout)
{
    /* Host unreachable is soft (RFC 1122 4.2.3.9): the attempt goes on,
     * and when it times out the app hears "No route to host". */
    struct tcp_fx fx;
    fx_connect(&fx, two_retries);
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_HOST, 0, FX_CPORT, FX_RPORT, fx.iss, 60);
    ck_assert_int_eq(sk_conn_state(fx.c), SK_SYN_SENT);
    ck_assert_uint_eq(CTR(fx.h, tcp_icmp_soft_errors), 1);
    for (int i = 0; i < 20 && sk_conn_state(fx.c) != SK_CLOSED; i++)
        h_advance(fx.h, 10000000);
    ck_assert_int_eq(sk_conn_state(fx.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(fx.c), SK_EHOSTUNREACH);
    sk_close(fx.c);
    fx_free(&fx);
}
END_TEST

/* An established connection with `n` bytes of data in flight. */
static void open_with_flight(struct tcp_fx *fx, void (*tweak)(struct sk_config *), size_t n)
{
    fx_open_active(fx, tweak, 7000, 10000);
    static uint8_t data[20000];
    memset(data, 'd', sizeof(data));
    ck_assert_int_eq(sk_send(fx->c, data, n), (long)n);
    h_flush(fx->h);
    ck_assert_uint_eq(fx->c->snd_max - fx->c->snd_una, n);
    h_clear(fx->h);
}

START_TEST(icmp_soft_error_established_survives)
{
    struct tcp_fx fx;
    open_with_flight(&fx, two_retries, 1000);
    uint32_t una = fx.c->snd_una;
    /* Soft errors of each kind, and hard ones too (RFC 5927 5): none
     * ends an established connection. */
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_NET, 0, FX_CPORT, FX_RPORT, una, 1040);
    icmp_error(fx.h, ICMP_TIME_EXCEEDED, 0, 0, FX_CPORT, FX_RPORT, una, 1040);
    icmp_error(fx.h, ICMP_PARAM_PROBLEM, 0, 0, FX_CPORT, FX_RPORT, una, 1040);
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_PORT, 0, FX_CPORT, FX_RPORT, una, 1040);
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_HOST, 0, FX_CPORT, FX_RPORT, una + 999, 1040);
    ck_assert_int_eq(sk_conn_state(fx.c), SK_ESTABLISHED);
    ck_assert_int_eq(sk_conn_error(fx.c), 0);
    ck_assert_uint_eq(CTR(fx.h, tcp_icmp_soft_errors), 5);
    ck_assert_uint_eq(CTR(fx.h, tcp_icmp_aborts), 0);
    ck_assert_int_eq(fx.h->nout, 0); /* nothing sent because of them */
    /* An ACK of progress forgets them. */
    fx_ack(&fx, una + 500);
    ck_assert_int_eq(fx.c->soft_error, 0);
    /* The last one before the time-out is what the app hears. */
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_NET, 0, FX_CPORT, FX_RPORT, una + 500, 540);
    for (int i = 0; i < 40 && sk_conn_state(fx.c) != SK_CLOSED; i++)
        h_advance(fx.h, 10000000);
    ck_assert_int_eq(sk_conn_state(fx.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(fx.c), SK_ENETUNREACH);
    ck_assert_str_eq(sk_strerror(SK_ENETUNREACH), "Network is unreachable");
    sk_close(fx.c);
    fx_free(&fx);
}
END_TEST

START_TEST(icmp_frag_needed_lowers_mss)
{
    struct tcp_fx fx;
    open_with_flight(&fx, NULL, 3 * 1460);
    struct sk_tcb *c = fx.c;
    ck_assert_uint_eq(c->mss_data, 1460);
    uint32_t una = c->snd_una, max = c->snd_max;
    /* A router with a 1,000-byte MTU: the segments in flight go again at
     * once, cut to 960 bytes of data, and cover what was in flight. */
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, 1000, FX_CPORT, FX_RPORT, una + 1460,
               1500);
    ck_assert_uint_eq(c->mss, 960);
    ck_assert_uint_eq(c->mss_data, 960);
    ck_assert_uint_eq(CTR(fx.h, tcp_pmtu_lowered), 1);
    /* Each 1,460-byte segment becomes 960 + 500 (as Linux cuts each). */
    ck_assert_int_eq(h_ntcp(fx.h), 6);
    uint32_t next = una;
    for (int i = 0; i < fx.h->nout; i++) {
        struct tcp_seg g = h_out_tcp_at(fx.h, i);
        struct ipv4_hdr ih = out_ip(fx.h, i);
        ck_assert_uint_le(ih.total_len, 1000);
        ck_assert_uint_le(g.len, 960);
        ck_assert_uint_eq(g.seq, next);
        next += g.len;
    }
    ck_assert_uint_eq(next, max);
    ck_assert_uint_eq(c->snd_max, max);
    /* New data after the ACK is cut the same way. */
    h_clear(fx.h);
    fx_ack(&fx, max);
    static uint8_t more[3000];
    ck_assert_int_eq(sk_send(c, more, sizeof(more)), (long)sizeof(more));
    h_flush(fx.h);
    ck_assert_int_ge(h_ntcp(fx.h), 3);
    for (int i = 0; i < fx.h->nout; i++)
        ck_assert_uint_le(h_out_tcp_at(fx.h, i).len, 960);
    uint32_t seq = c->snd_una;
    /* Not lower than what we use: ignored.  Below the floor: 576. */
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, 1200, FX_CPORT, FX_RPORT, seq, 1000);
    ck_assert_uint_eq(c->mss, 960);
    ck_assert_uint_eq(CTR(fx.h, drop_icmp_pmtu_ignored), 1);
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, 300, FX_CPORT, FX_RPORT, seq, 1000);
    ck_assert_uint_eq(c->mss, TCP_PMTU_MIN - 40);
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    sk_abort(c);
    fx_free(&fx);
}
END_TEST

START_TEST(icmp_frag_needed_keeps_sacked_and_fin)
{
    /* With SACK: a segment the peer holds is not sent again; the FIN
     * stays on the last piece of the last segment. */
    struct tcp_fx fx;
    fx_connect(&fx, NULL);
    h_advance(fx.h, 100000); /* an RTT of 100 ms: RACK waits 25 ms more */
    fx.pseq = 9001;
    fx.pack = fx.iss + 1;
    h_send(fx.h, &(struct h_seg){.sport = FX_RPORT,
                                 .dport = FX_CPORT,
                                 .seq = 9000,
                                 .ack = fx.pack,
                                 .flags = TCP_SYN | TCP_ACK,
                                 .wnd = 65535,
                                 .mss = 1460,
                                 .sack_ok = true});
    ck_assert_int_eq(sk_conn_state(fx.c), SK_ESTABLISHED);
    struct sk_tcb *c = fx.c;
    ck_assert(c->sack_ok);
    h_events_of(fx.h, fx.c);
    static uint8_t data[4 * 1460];
    ck_assert_int_eq(sk_send(c, data, sizeof(data)), (long)sizeof(data));
    ck_assert_int_eq(sk_shutdown(c), 0);
    h_clear(fx.h);
    h_flush(fx.h);
    ck_assert_int_eq(h_ntcp(fx.h), 4);
    ck_assert(h_out_tcp_at(fx.h, 3).flags & TCP_FIN);
    uint32_t s1 = c->snd_una, s3 = s1 + 2 * 1460, s4 = s1 + 3 * 1460;
    /* The peer has the third segment only. */
    h_send(fx.h, &(struct h_seg){.sport = FX_RPORT,
                                 .dport = FX_CPORT,
                                 .seq = fx.pseq,
                                 .ack = s1,
                                 .flags = TCP_ACK,
                                 .wnd = 65535,
                                 .nsack = 1,
                                 .sack = {{s3, s3 + 1460}}});
    ck_assert_uint_eq(c->sb.sacked, 1460);
    ck_assert_uint_eq(c->sb.lost, 0);
    h_clear(fx.h);
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, 1000, FX_CPORT, FX_RPORT, s1, 1500);
    ck_assert_uint_eq(c->mss_data, 960);
    static const uint32_t want[][3] = {{0, 960, 0},        {960, 500, 0},
                                       {1460, 960, 0},     {2420, 500, 0},
                                       {3 * 1460, 960, 0}, {3 * 1460 + 960, 500, 1}};
    ck_assert_int_eq(h_ntcp(fx.h), 6);
    for (int i = 0; i < 6; i++) {
        struct tcp_seg g = h_out_tcp_at(fx.h, i);
        ck_assert_uint_eq(g.seq, s1 + want[i][0]);
        ck_assert_uint_eq(g.len, want[i][1]);
        ck_assert_uint_eq(!!(g.flags & TCP_FIN), want[i][2]);
    }
    (void)s4;
    /* The scoreboard: 7 records (6 pieces and the SACKed one), in order. */
    ck_assert_uint_eq(c->sb.n, 7);
    ck_assert_uint_eq(c->sb.sacked, 1460);
    ck_assert_uint_eq(c->sb.lost, 0);
    /* All acknowledged: the connection goes on. */
    h_send(fx.h, &(struct h_seg){.sport = FX_RPORT,
                                 .dport = FX_CPORT,
                                 .seq = fx.pseq,
                                 .ack = s1 + 4 * 1460 + 1,
                                 .flags = TCP_ACK,
                                 .wnd = 65535});
    ck_assert_int_eq(sk_conn_state(c), SK_FIN_WAIT_2);
    ck_assert_uint_eq(c->sb.n, 0);
    sk_abort(c);
    fx_free(&fx);
}
END_TEST

START_TEST(icmp_frag_needed_without_mtu_uses_plateau)
{
    /* An old router sends no next-hop MTU (RFC 1191 5): the plateau below
     * the quoted length, 1,492 for a 1,500-byte datagram. */
    struct tcp_fx fx;
    open_with_flight(&fx, NULL, 1460);
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, 0, FX_CPORT, FX_RPORT, fx.c->snd_una,
               1500);
    ck_assert_uint_eq(fx.c->mss, 1492 - 40);
    ck_assert_int_eq(h_ntcp(fx.h), 2);
    sk_abort(fx.c);
    fx_free(&fx);
}
END_TEST

START_TEST(icmp_out_of_window_ignored)
{
    struct tcp_fx fx;
    open_with_flight(&fx, NULL, 3 * 1460);
    struct sk_tcb *c = fx.c;
    uint32_t una = c->snd_una, max = c->snd_max;
    /* RFC 5927 4.1: SND.UNA =< SEQ < SND.MAX, else ignored and counted. */
    uint32_t seqs[] = {max, max + 1000, una - 1, una - 100000};
    for (size_t i = 0; i < 4; i++) {
        icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, 600, FX_CPORT, FX_RPORT, seqs[i],
                   1500);
        icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_PORT, 0, FX_CPORT, FX_RPORT, seqs[i], 1500);
    }
    ck_assert_uint_eq(CTR(fx.h, drop_icmp_err_seq), 8);
    ck_assert_uint_eq(c->mss, 1460);
    ck_assert_int_eq(c->soft_error, 0);
    ck_assert_int_eq(fx.h->nout, 0);
    /* Other ports, and datagrams not from us, are no one's. */
    icmp_error(fx.h, ICMP_UNREACH, ICMP_UNREACH_PORT, 0, FX_CPORT + 1, FX_RPORT, una, 1500);
    ck_assert_uint_eq(CTR(fx.h, drop_icmp_err_no_conn), 1);
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    ck_assert_uint_eq(CTR(fx.h, icmp_errors_in), 9);
    sk_abort(c);
    fx_free(&fx);
}
END_TEST

START_TEST(icmp_error_not_ours_or_not_tcp)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t m[8 + IP_HDR_LEN + 8], f[128];
    memset(m, 0, sizeof(m));
    m[0] = ICMP_UNREACH;
    m[1] = ICMP_UNREACH_PORT;
    uint8_t *q = m + 8;
    q[0] = 0x45;
    q[9] = 17; /* UDP */
    wr32(q + 12, US_IP);
    wr32(q + 16, PEER_IP);
    wr16(m + 2, csum(m, sizeof(m)));
    h_input(h, f, h_ipv4(f, ROUTER_IP, US_IP, IP_PROTO_ICMP, m, sizeof(m)));
    ck_assert_uint_eq(CTR(h, drop_icmp_err_proto), 1);
    q[9] = IP_PROTO_TCP;
    wr32(q + 12, X_IP); /* not our datagram */
    wr16(m + 2, 0);
    wr16(m + 2, csum(m, sizeof(m)));
    h_input(h, f, h_ipv4(f, ROUTER_IP, US_IP, IP_PROTO_ICMP, m, sizeof(m)));
    ck_assert_uint_eq(CTR(h, drop_icmp_err_not_ours), 1);
    /* Too short to hold a header and 8 bytes. */
    wr16(m + 2, 0);
    wr16(m + 2, csum(m, 8 + IP_HDR_LEN + 4));
    h_input(h, f, h_ipv4(f, ROUTER_IP, US_IP, IP_PROTO_ICMP, m, 8 + IP_HDR_LEN + 4));
    ck_assert_uint_eq(CTR(h, drop_icmp_err_short), 1);
    ck_assert_int_eq(h->nout, 0);
    h_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("icmp");
    TCase *echo = tcase_create("echo");
    tcase_add_test(echo, echo_large_reply_fragmented);
    tcase_add_test(echo, echo_any_code_and_tos);
    suite_add_tcase(s, echo);
    TCase *ids = tcase_create("ip_id");
    tcase_add_test(ids, ip_ids_per_destination);
    tcase_add_test(ids, ip_ids_keyed_per_stack);
    tcase_add_test(ids, tcp_segments_atomic);
    suite_add_tcase(s, ids);
    TCase *err = tcase_create("errors");
    tcase_add_test(err, icmp_port_unreachable_aborts_syn_sent);
    tcase_add_test(err, icmp_soft_error_syn_sent_reported_at_timeout);
    tcase_add_test(err, icmp_soft_error_established_survives);
    tcase_add_test(err, icmp_frag_needed_lowers_mss);
    tcase_add_test(err, icmp_frag_needed_keeps_sacked_and_fin);
    tcase_add_test(err, icmp_frag_needed_without_mtu_uses_plateau);
    tcase_add_test(err, icmp_out_of_window_ignored);
    tcase_add_test(err, icmp_error_not_ours_or_not_tcp);
    suite_add_tcase(s, err);
    return h_run(s);
}
