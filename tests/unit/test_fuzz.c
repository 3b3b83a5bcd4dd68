/* A deterministic fuzz test: no frame, however broken, may crash the core,
 * read out of bounds (ASan and valgrind run this too), or break its
 * invariants.  Frames are valid ones (ARP, ICMP, TCP handshakes and data
 * to a listener and to established connections) with random mutations:
 * flipped bits, cut lengths, random header fields and options. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "harness.h"
#include "ipv4.h"

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Recomputes the IPv4 and TCP checksums so mutations reach deep layers
 * (half the time; the other half tests the checksum checks). */
static void fix_checksums(uint8_t *f, size_t len)
{
    if (len < ETH_HDR_LEN + IP_HDR_LEN || rd16(f + 12) != ETHERTYPE_IP)
        return;
    uint8_t *ip = f + ETH_HDR_LEN;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    size_t tot = rd16(ip + 2);
    if (ihl < IP_HDR_LEN || ihl > len - ETH_HDR_LEN)
        return;
    wr16(ip + 10, 0);
    wr16(ip + 10, csum(ip, ihl));
    if (tot < ihl || tot > len - ETH_HDR_LEN || ip[9] != IP_PROTO_TCP || tot - ihl < 20)
        return;
    uint8_t *t = ip + ihl;
    size_t tl = tot - ihl;
    wr16(t + 16, 0);
    uint32_t sum = csum_pseudo(rd32(ip + 12), rd32(ip + 16), IP_PROTO_TCP, (uint16_t)tl);
    wr16(t + 16, csum_finish(csum_partial(t, tl, sum)));
}

static void mutate(uint8_t *f, size_t *len)
{
    int kind = (int)(rnd() % 6);
    switch (kind) {
    case 0: /* flip a few bits anywhere */
        for (int i = 0; i < 1 + (int)(rnd() % 4); i++)
            f[rnd() % *len] ^= (uint8_t)(1u << (rnd() % 8));
        break;
    case 1: /* cut it short */
        *len = rnd() % (*len + 1);
        break;
    case 2: /* random TCP flags */
        if (*len > ETH_HDR_LEN + IP_HDR_LEN + 13)
            f[ETH_HDR_LEN + IP_HDR_LEN + 13] = (uint8_t)rnd();
        break;
    case 3: /* random data offset and options bytes */
        if (*len > ETH_HDR_LEN + IP_HDR_LEN + 40) {
            f[ETH_HDR_LEN + IP_HDR_LEN + 12] = (uint8_t)(rnd() & 0xf0);
            for (int i = 20; i < 40; i++)
                f[ETH_HDR_LEN + IP_HDR_LEN + i] = (uint8_t)(rnd() % 10);
        }
        break;
    case 4: /* random seq, ack, window */
        if (*len > ETH_HDR_LEN + IP_HDR_LEN + 16)
            for (int i = 4; i < 16; i++)
                f[ETH_HDR_LEN + IP_HDR_LEN + i] = (uint8_t)rnd();
        break;
    default: /* random IP header bytes */
        for (int i = 0; i < 3; i++)
            f[ETH_HDR_LEN + rnd() % IP_HDR_LEN] = (uint8_t)rnd();
        break;
    }
    if (rnd() & 1)
        fix_checksums(f, *len);
}

START_TEST(random_mutations_never_crash)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, 5050, 4, &err);
    ck_assert_ptr_nonnull(l);
    static uint8_t f[H_FRAME_MAX], data[1400];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    uint32_t seq = 1000;
    uint32_t iss[8] = {0}; /* our ISS per client port, learned from SYN-ACKs */
    for (int round = 0; round < 60000; round++) {
        size_t len;
        int pi = (int)(rnd() % 8);
        uint16_t port = (uint16_t)(40000 + pi);
        switch (rnd() % 5) {
        case 0: {
            /* A clean handshake, so that mutations also hit live connections. */
            h_send(h, &(struct h_seg){.sport = port,
                                      .dport = 5050,
                                      .seq = seq,
                                      .flags = TCP_SYN,
                                      .wnd = 65535,
                                      .mss = 1460});
            struct tcp_seg g;
            if (h->nout && h_out_tcp(h, h->nout - 1, &g) && g.flags == (TCP_SYN | TCP_ACK)) {
                iss[pi] = g.seq;
                h_send(h, &(struct h_seg){.sport = port,
                                          .dport = 5050,
                                          .seq = seq + 1,
                                          .ack = g.seq + 1,
                                          .flags = TCP_ACK,
                                          .wnd = 65535});
            }
            len = h_tcp(f, &(struct h_seg){.sport = port,
                                           .dport = 5050,
                                           .seq = seq + 1,
                                           .ack = iss[pi] + 1,
                                           .flags = TCP_ACK | TCP_PSH,
                                           .wnd = 65535,
                                           .data = data,
                                           .len = 100});
            break;
        }
        case 1:
        case 2: {
            /* A segment for one of the connections, near its window. */
            uint8_t fl = (uint8_t)(TCP_ACK | (rnd() % 4 == 0 ? TCP_FIN : 0) | TCP_PSH);
            len = h_tcp(f, &(struct h_seg){.sport = port,
                                           .dport = 5050,
                                           .seq = seq + 1 + rnd() % 3000,
                                           .ack = iss[pi] + 1 + rnd() % 2000,
                                           .flags = fl,
                                           .wnd = (uint16_t)rnd(),
                                           .data = data,
                                           .len = rnd() % sizeof(data)});
            break;
        }
        case 3: {
            static const uint8_t zero[6];
            len = h_arp(f, (uint16_t)(1 + rnd() % 2), PEER_MAC, PEER_IP, zero, US_IP);
            break;
        }
        default: {
            uint8_t icmp[64] = {8, 0};
            wr16(icmp + 2, csum(icmp, sizeof(icmp)));
            len = h_ipv4(f, PEER_IP, US_IP, IP_PROTO_ICMP, icmp, sizeof(icmp));
            break;
        }
        }
        mutate(f, &len);
        h_input(h, f, len);
        /* The app side keeps accepting, reading, writing and closing. */
        sk_conn *c = sk_accept(l);
        if (c) {
            uint8_t buf[2048];
            sk_send(c, data, rnd() % sizeof(data));
            sk_recv(c, buf, sizeof(buf));
            if (rnd() & 1)
                sk_close(c);
            else
                sk_abort(c);
        }
        if (round % 64 == 0)
            h_advance(h, rnd() % 3000000);
        h_clear(h);
    }
    sk_close(l);
    /* The mutations must have reached every layer, or this tests nothing. */
    const struct sk_counters *k = sk_counters(h->s);
    ck_assert_uint_gt(k->tcp_established, 100);
    ck_assert_uint_gt(k->tcp_rst_received + k->tcp_challenge_acks, 10);
    ck_assert_uint_gt(k->drop_tcp_checksum, 100);
    ck_assert_uint_gt(k->drop_ip_checksum, 100);
    ck_assert_uint_gt(k->drop_tcp_options + k->drop_tcp_truncated, 10);
    ck_assert_uint_gt(k->icmp_echo_replies, 100);
    ck_assert_uint_gt(k->arp_replies_sent, 100);
    /* Every TCB left must be bounded by the configured maximum. */
    ck_assert_uint_le(h->s->tcp.ntcbs, h->cfg.tcp_max_conns ? h->cfg.tcp_max_conns : 4096);
    h_free(h);
}
END_TEST

START_TEST(options_parser_never_reads_past_the_header)
{
    /* Every option byte string up to 40 bytes from a small alphabet, sized
     * exactly (ASan/valgrind catch a read past the end). */
    for (int round = 0; round < 200000; round++) {
        size_t n = rnd() % 41;
        uint8_t *p = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)(rnd() % 12);
        struct tcp_opts o;
        int r = tcp_parse_options(p, n, &o);
        ck_assert(r == 0 || r == -1);
        free(p);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fuzz");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, random_mutations_never_crash);
    tcase_add_test(tc, options_parser_never_reads_past_the_header);
    suite_add_tcase(s, tc);
    return h_run(s);
}
