/* TAP offloads in the core: frames taken with metadata (a checksum
 * checked already or left partial, a TSO frame standing for several
 * segments) and frames sent with it (a partial checksum the link
 * completes, full segments in a row as one TSO frame). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "harness.h"
#include "ipv4.h"
#include "tcp_fixture.h"

#define PISN 0xC0000000u
#define MAXF 64

/* Frames sent through output_meta: a copy each, with its metadata. */
static struct sent {
    uint8_t *f;
    size_t len;
    struct sk_frame_meta m;
} sent[MAXF];
static int nsent;
static sk_output_fn harness_out;
static void *harness_ctx;

static void capture_meta(void *ctx, const uint8_t *frame, size_t len, const struct sk_frame_meta *m)
{
    (void)ctx;
    if (nsent < MAXF) {
        sent[nsent].f = malloc(len);
        memcpy(sent[nsent].f, frame, len);
        sent[nsent].len = len;
        sent[nsent].m = *m;
        nsent++;
    }
    /* The harness sees every frame that fits it, checksums completed, so
     * its parser (which checks them) reads them. */
    if (len <= H_FRAME_MAX) {
        uint8_t copy[H_FRAME_MAX];
        memcpy(copy, frame, len);
        if (m->csum == SK_CSUM_PARTIAL)
            csum_complete(copy, len, m);
        harness_out(harness_ctx, copy, len);
    }
}

static void reset_sent(void)
{
    for (int i = 0; i < nsent; i++)
        free(sent[i].f);
    nsent = 0;
}

static void offloads(struct sk_config *cfg)
{
    harness_out = cfg->output;
    harness_ctx = cfg->output_ctx;
    cfg->output_meta = capture_meta;
    cfg->offload_csum = true;
    cfg->offload_tso = true;
}

static void csum_only(struct sk_config *cfg)
{
    offloads(cfg);
    cfg->offload_tso = false;
}

/* Whether a TCP/IPv4 frame's checksum is right once its partial sum is
 * completed. */
static bool csum_good_after_completion(const struct sent *s)
{
    uint8_t *f = malloc(s->len);
    memcpy(f, s->f, s->len);
    csum_complete(f, s->len, &s->m);
    const uint8_t *ip = f + ETH_HDR_LEN;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = rd16(ip + 2);
    uint32_t sum = csum_pseudo(rd32(ip + 12), rd32(ip + 16), IP_PROTO_TCP, (uint16_t)(tot - ihl));
    bool ok = csum_finish(csum_partial(ip + ihl, tot - ihl, sum)) == 0;
    free(f);
    return ok;
}

START_TEST(tso_frame_in_taken_in_one_pass)
{
    struct tcp_fx f;
    fx_open_passive(&f, NULL, PISN, 65535, 1460);
    /* Ten segments' worth in one frame, as the kernel hands a TSO frame to
     * a TAP with TUN_F_TSO4; its checksum left partial (not filled). */
    static uint8_t frame[ETH_HDR_LEN + 20 + 20 + 14600];
    static uint8_t seg[20 + 14600];
    static uint8_t data[14600];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    memset(seg, 0, 20);
    wr16(seg, f.pport);
    wr16(seg + 2, f.lport);
    wr32(seg + 4, f.pseq);
    wr32(seg + 8, f.pack);
    seg[12] = 5 << 4;
    seg[13] = TCP_ACK | TCP_PSH;
    wr16(seg + 14, 65535);
    wr16(seg + 16, 0x1234); /* a partial sum, not a checksum */
    memcpy(seg + 20, data, sizeof(data));
    size_t n = h_ipv4(frame, PEER_IP, US_IP, IP_PROTO_TCP, seg, sizeof(seg));
    struct sk_frame_meta m = {.csum = SK_CSUM_PARTIAL,
                              .csum_start = ETH_HDR_LEN + 20,
                              .csum_offset = 16,
                              .gso_size = 1460};
    h_clear(f.h);
    sk_input_meta(f.h->s, frame, n, &m, f.h->now);
    h_flush(f.h);
    /* All delivered, one ACK for it all. */
    static uint8_t got[16000];
    ck_assert_int_eq(sk_recv(f.c, got, sizeof(got)), (long)sizeof(data));
    ck_assert_mem_eq(got, data, sizeof(data));
    ck_assert_int_eq(h_ntcp(f.h), 1);
    ck_assert_uint_eq(h_last_tcp(f.h).ack, f.pseq + sizeof(data));
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_checksum, 0);
    /* "Full-sized" is the segment's size, not the frame's. */
    ck_assert_uint_eq(((struct sk_tcb *)f.c)->rcv_mss, 1460);
    /* The same frame without metadata: its checksum is wrong. */
    sk_input(f.h->s, frame, n, f.h->now);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_checksum, 1);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(checksum_valid_trusted)
{
    struct tcp_fx f;
    fx_open_passive(&f, NULL, PISN, 65535, 1460);
    uint8_t frame[H_FRAME_MAX];
    size_t n = h_tcp(frame, &(struct h_seg){.sport = f.pport,
                                            .dport = f.lport,
                                            .seq = f.pseq,
                                            .ack = f.pack,
                                            .flags = TCP_ACK,
                                            .wnd = 65535,
                                            .data = "abc",
                                            .len = 3});
    frame[n - 1] ^= 0xff; /* the data changes; the checksum does not */
    struct sk_frame_meta m = {.csum = SK_CSUM_VALID};
    sk_input_meta(f.h->s, frame, n, &m, f.h->now);
    char got[8];
    ck_assert_int_eq(sk_recv(f.c, got, sizeof(got)), 3);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_checksum, 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(tso_frame_out_one_record_per_segment)
{
    struct tcp_fx f;
    nsent = 0;
    fx_open_passive(&f, offloads, PISN, 65535, 1460);
    uint32_t mss = 1460; /* no timestamps: the whole MSS is data */
    static char data[10 * 1460];
    memset(data, 'z', sizeof(data));
    reset_sent();
    ck_assert_int_eq(sk_send(f.c, data, sizeof(data)), (long)sizeof(data));
    h_flush(f.h);
    /* The initial window holds them all: one TSO frame of 10 segments. */
    ck_assert_int_eq(nsent, 1);
    ck_assert_uint_eq(sent[0].m.gso_size, mss);
    ck_assert_uint_eq(sent[0].m.csum, SK_CSUM_PARTIAL);
    ck_assert_uint_eq(sent[0].m.csum_start, ETH_HDR_LEN + 20);
    ck_assert_uint_eq(sent[0].m.csum_offset, 16);
    ck_assert_uint_eq(sent[0].len, ETH_HDR_LEN + 20 + 20 + sizeof(data));
    ck_assert(csum_good_after_completion(&sent[0]));
    ck_assert_uint_eq(((struct sk_tcb *)f.c)->sb.n, 10);
    /* The third segment lost: an ACK of the first two, then three
     * duplicates (no SACK on this connection).  Only it goes again, as one
     * segment. */
    uint32_t s1 = f.iss + 1;
    reset_sent();
    for (int k = 0; k < 4; k++)
        h_send(f.h, &(struct h_seg){.sport = f.pport,
                                    .dport = f.lport,
                                    .seq = f.pseq,
                                    .ack = s1 + 2 * mss,
                                    .flags = TCP_ACK,
                                    .wnd = 65535,
                                    .nsack = 1,
                                    .sack = {{s1 + 3 * mss, s1 + (4 + (uint32_t)k) * mss}}});
    h_flush(f.h);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_fast_retransmits, 1);
    ck_assert_int_ge(nsent, 1);
    ck_assert_uint_eq(sent[0].m.gso_size, 0);
    ck_assert_uint_eq(sent[0].len, ETH_HDR_LEN + 20 + 20 + mss);
    ck_assert_uint_eq(rd32(sent[0].f + ETH_HDR_LEN + 20 + 4), s1 + 2 * mss);
    sk_abort(f.c);
    fx_free(&f);
    reset_sent(); /* the RST of the abort too */
}
END_TEST

START_TEST(csum_offload_only_no_tso)
{
    struct tcp_fx f;
    nsent = 0;
    fx_open_passive(&f, csum_only, PISN, 65535, 1460);
    static char data[4 * 1460];
    memset(data, 'q', sizeof(data));
    reset_sent();
    ck_assert_int_eq(sk_send(f.c, data, sizeof(data)), (long)sizeof(data));
    h_flush(f.h);
    ck_assert_int_eq(nsent, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(sent[i].m.gso_size, 0);
        ck_assert_uint_eq(sent[i].m.csum, SK_CSUM_PARTIAL);
        ck_assert(csum_good_after_completion(&sent[i]));
    }
    sk_abort(f.c);
    fx_free(&f);
    reset_sent(); /* the RST of the abort too */
}
END_TEST

START_TEST(parked_for_arp)
{
    /* Frames waiting for ARP leave later without metadata: a partial
     * checksum is completed first, a TSO frame dropped. */
    struct harness *h = h_new(offloads);
    reset_sent();
    int err;
    sk_conn *c = sk_connect(h->s, PEER_IP, 80, 40001, h->now, &err);
    ck_assert_ptr_nonnull(c);
    h_flush(h);
    /* The SYN waits for ARP; the peer answers ARP: it leaves, complete. */
    h_learn_peer(h);
    int syn = -1;
    for (int i = 0; i < nsent; i++)
        if (sent[i].len > ETH_HDR_LEN + 20 && rd16(sent[i].f + 12) == ETHERTYPE_IP)
            syn = i;
    ck_assert_int_ge(syn, 0);
    ck_assert_uint_eq(sent[syn].m.csum, SK_CSUM_NONE);
    const uint8_t *ip = sent[syn].f + ETH_HDR_LEN;
    uint32_t sum =
        csum_pseudo(rd32(ip + 12), rd32(ip + 16), IP_PROTO_TCP, (uint16_t)(rd16(ip + 2) - 20));
    ck_assert_uint_eq(csum_finish(csum_partial(ip + 20, rd16(ip + 2) - 20u, sum)), 0);
    sk_abort(c);
    h_free(h);
    reset_sent();
}
END_TEST

static void tso_without_output_meta(struct sk_config *cfg)
{
    cfg->offload_tso = true;
}

START_TEST(offload_needs_output_meta)
{
    struct sk_config cfg;
    struct harness *h = h_new(NULL);
    cfg = h->cfg;
    tso_without_output_meta(&cfg);
    int e = 0;
    ck_assert_ptr_null(sk_stack_new(&cfg, 0, &e));
    ck_assert_int_eq(e, SK_EINVAL);
    h_free(h);
}
END_TEST

/* ---- receiving in place (sk_rx_place, sk_input_placed) ---- */

/* A segment from the peer as the kernel hands it with offloads (checksum
 * VALID): n bytes of data at seq from the port sport, with the timestamps
 * option (NOP, NOP, TS) if ts. */
static size_t peer_frame(const struct tcp_fx *f, uint8_t *frame, uint16_t sport, uint32_t seq,
                         const uint8_t *data, size_t n, bool ts)
{
    static uint8_t seg[32 + 65536];
    size_t hl = ts ? 32 : 20;
    memset(seg, 0, hl);
    wr16(seg, sport);
    wr16(seg + 2, f->lport);
    wr32(seg + 4, seq);
    wr32(seg + 8, f->pack);
    seg[12] = (uint8_t)((hl / 4) << 4);
    seg[13] = TCP_ACK;
    wr16(seg + 14, 65535);
    if (ts) {
        seg[20] = 1, seg[21] = 1, seg[22] = 8, seg[23] = 10;
        wr32(seg + 24, f->ptsval);
        wr32(seg + 28, f->ptsecr);
    }
    if (n)
        memcpy(seg + hl, data, n);
    return h_ipv4(frame, PEER_IP, US_IP, IP_PROTO_TCP, seg, hl + n);
}

/* What tap/'s readv does with the place: the headers to hdr, the rest to
 * the pieces, and what goes past them to a buffer of its own.  Returns
 * the bytes after the headers (more than the place when it was short). */
static size_t read_into(const struct sk_rx_place *pl, const uint8_t *frame, size_t n, uint8_t *hdr)
{
    size_t h = n < pl->hdr_len ? n : pl->hdr_len, at = h;
    memcpy(hdr, frame, h);
    for (int i = 0; i < pl->n && at < n; i++) {
        size_t k = n - at < pl->span[i].len ? n - at : pl->span[i].len;
        memcpy(pl->span[i].base, frame + at, k);
        at += k;
    }
    return n - h;
}

static uint8_t big[ETH_HDR_LEN + 20 + 32 + 65536];
static uint8_t payload[60000];

/* Each test fills it: check runs each in a process of its own, or not
 * (CK_FORK=no, as under valgrind). */
static void fill_payload(void)
{
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
}

START_TEST(segment_read_into_the_ring)
{
    struct tcp_fx f;
    fx_open_passive(&f, NULL, PISN, 65535, 1460);
    struct sk_rx_place pl;
    /* No in-order data yet, then one segment of it: no place.  The
     * second in a row makes the connection a stream to place for. */
    ck_assert_int_eq(sk_rx_place(f.h->s, 65536, &pl), 0);
    fx_seg(&f, TCP_ACK, "a", 1);
    ck_assert_int_eq(sk_rx_place(f.h->s, 65536, &pl), 0);
    fx_seg(&f, TCP_ACK, "bc", 2);
    char got3[3];
    ck_assert_int_eq(sk_recv(f.c, got3, 3), 3);
    fill_payload();
    /* 20,000 bytes from stream offset 3: across a chunk's end. */
    int n = sk_rx_place(f.h->s, 65536, &pl);
    ck_assert_int_ge(n, 2);
    ck_assert_uint_eq(pl.hdr_len, ETH_HDR_LEN + 20 + 20); /* no timestamps agreed */
    size_t len = peer_frame(&f, big, f.pport, f.pseq, payload, 20000, false);
    uint8_t hdr[128];
    size_t placed = read_into(&pl, big, len, hdr);
    ck_assert_uint_eq(placed, 20000);
    struct sk_frame_meta m = {.csum = SK_CSUM_VALID, .gso_size = 1460};
    h_clear(f.h);
    ck_assert_int_eq(sk_input_placed(f.h->s, hdr, pl.hdr_len, placed, &m, f.h->now), 0);
    f.pseq += 20000;
    h_flush(f.h);
    static uint8_t got[30000];
    ck_assert_int_eq(sk_recv(f.c, got, sizeof(got)), 20000);
    ck_assert_mem_eq(got, payload, 20000);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_rx_placed, 1);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    ck_assert_uint_eq(h_last_tcp(f.h).ack, f.pseq);
    /* A pure ACK fits the headers exactly: taken, nothing placed. */
    ck_assert_int_gt(sk_rx_place(f.h->s, 65536, &pl), 0);
    len = peer_frame(&f, big, f.pport, f.pseq, NULL, 0, false);
    ck_assert_uint_eq(read_into(&pl, big, len, hdr), 0);
    ck_assert_int_eq(sk_input_placed(f.h->s, hdr, pl.hdr_len, 0, &m, f.h->now), 0);
    /* What the place took and nobody filled went back. */
    ck_assert_uint_eq(ring_chunks(&((struct sk_tcb *)f.c)->rcvq), 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(other_frames_refused_then_taken_whole)
{
    struct tcp_fx f;
    fx_open_passive(&f, NULL, PISN, 65535, 1460);
    fx_seg(&f, TCP_ACK, "a", 1);
    fx_seg(&f, TCP_ACK, "bc", 2);
    fill_payload();
    struct sk_tcb *c = (struct sk_tcb *)f.c;
    struct sk_frame_meta m = {.csum = SK_CSUM_VALID};
    uint8_t hdr[128];
    struct sk_rx_place pl;
    /* Each frame: refused, then put together and given whole. */
    struct {
        uint16_t sport;
        uint32_t seq_off;
        bool ts;
        uint8_t csum;
    } cases[] = {
        {FX_PPORT, 1000, false, SK_CSUM_VALID},  /* another sequence number */
        {FX_PPORT + 1, 0, false, SK_CSUM_VALID}, /* another connection */
        {FX_PPORT, 0, true, SK_CSUM_VALID},      /* headers longer than placed for */
        {FX_PPORT, 0, false, SK_CSUM_NONE},      /* a checksum to check */
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        ck_assert_int_gt(sk_rx_place(f.h->s, 65536, &pl), 0);
        size_t len = peer_frame(&f, big, cases[k].sport, f.pseq + cases[k].seq_off, payload, 3000,
                                cases[k].ts);
        size_t placed = read_into(&pl, big, len, hdr);
        m.csum = cases[k].csum;
        ck_assert_msg(sk_input_placed(f.h->s, hdr, pl.hdr_len, placed, &m, f.h->now) < 0,
                      "case %zu taken", k);
        /* Whole, as the TAP side puts it together. */
        sk_input_meta(f.h->s, big, len, &m, f.h->now);
        h_flush(f.h);
    }
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_rx_placed, 0);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_ooo_segments, 1); /* case 0 */
    /* The places given after case 0 stopped short of its bytes, which a
     * refused frame read into them would have overwritten. */
    /* Case 2 was the next segment (and case 3 its duplicate): with case
     * 0's, 1,000 bytes on, 4,000 bytes in order. */
    static uint8_t got[8000];
    ck_assert_int_eq(sk_recv(f.c, got, sizeof(got)), 3 + 4000);
    ck_assert_mem_eq(got + 3, payload, 3000);
    ck_assert_mem_eq(got + 3003, payload + 2000, 1000);
    /* What the places took went back: the ring holds only its head's. */
    ck_assert_uint_le(ring_chunks(&c->rcvq), 1);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

static void watch_frames(void *ctx, enum sk_dir dir, const uint8_t *frame, size_t len, uint64_t now)
{
    (void)ctx, (void)dir, (void)frame, (void)len, (void)now;
}
static void with_observer(struct sk_config *cfg)
{
    cfg->on_frame = watch_frames; /* as --trace and --pcap do */
}

START_TEST(no_place_while_frames_are_watched)
{
    struct tcp_fx f;
    fx_open_passive(&f, with_observer, PISN, 65535, 1460);
    fx_seg(&f, TCP_ACK, "a", 1);
    fx_seg(&f, TCP_ACK, "bc", 2);
    struct sk_rx_place pl;
    ck_assert_int_eq(sk_rx_place(f.h->s, 65536, &pl), 0);
    sk_abort(f.c);
    fx_free(&f);
    /* Timestamps agreed: the headers are 12 bytes longer. */
    fx_listen(&f, NULL, 0);
    fx_accept_with(&f, FX_PPORT,
                   &(struct h_seg){.seq = PISN, .wnd = 65535, .mss = 1460, .ts = true, .tsval = 5});
    fx_seg(&f, TCP_ACK, "a", 1);
    fx_seg(&f, TCP_ACK, "bc", 2);
    ck_assert_int_gt(sk_rx_place(f.h->s, 65536, &pl), 0);
    ck_assert_uint_eq(pl.hdr_len, ETH_HDR_LEN + 20 + 32);
    /* After the peer's FIN there is nothing more to place for. */
    fx_seg(&f, TCP_ACK | TCP_FIN, NULL, 0);
    ck_assert_int_eq(sk_rx_place(f.h->s, 65536, &pl), 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* One byte from the peer's port pport, as the fixture would send it. */
static void byte_from(struct tcp_fx *f, uint16_t pport, uint32_t seq, uint32_t ack, const char *c)
{
    struct tcp_fx from = {.h = f->h, .lport = f->lport, .pport = pport, .pwnd = 65535};
    fx_seg_at(&from, seq, ack, TCP_ACK, c, 1);
}

START_TEST(interleaved_streams_get_no_place)
{
    /* Two connections' segments in turn: each frame would be refused and
     * put together again, so no place is given until one connection's
     * segments come twice in a row. */
    struct tcp_fx f;
    fx_listen(&f, NULL, 8);
    fx_accept(&f, FX_PPORT, PISN, 65535, 1460);
    sk_conn *a = f.c;
    uint32_t a_seq = f.pseq, a_ack = f.pack;
    fx_accept(&f, FX_PPORT + 1, PISN, 65535, 1460);
    sk_conn *b = f.c;
    uint32_t b_seq = f.pseq, b_ack = f.pack;
    struct sk_rx_place pl;
    for (uint32_t i = 0; i < 3; i++) {
        byte_from(&f, FX_PPORT, a_seq + i, a_ack, "x");
        ck_assert_int_eq(sk_rx_place(f.h->s, 65536, &pl), 0);
        byte_from(&f, FX_PPORT + 1, b_seq + i, b_ack, "y");
        ck_assert_int_eq(sk_rx_place(f.h->s, 65536, &pl), 0);
    }
    byte_from(&f, FX_PPORT + 1, b_seq + 3, b_ack, "y");
    ck_assert_int_gt(sk_rx_place(f.h->s, 65536, &pl), 0);
    char buf[8];
    ck_assert_int_eq(sk_recv(a, buf, sizeof(buf)), 3);
    ck_assert_int_eq(sk_recv(b, buf, sizeof(buf)), 4);
    sk_abort(a);
    sk_abort(b);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("offload");
    TCase *tc = tcase_create("offload");
    tcase_add_test(tc, tso_frame_in_taken_in_one_pass);
    tcase_add_test(tc, checksum_valid_trusted);
    tcase_add_test(tc, tso_frame_out_one_record_per_segment);
    tcase_add_test(tc, csum_offload_only_no_tso);
    tcase_add_test(tc, parked_for_arp);
    tcase_add_test(tc, offload_needs_output_meta);
    tcase_add_test(tc, segment_read_into_the_ring);
    tcase_add_test(tc, other_frames_refused_then_taken_whole);
    tcase_add_test(tc, no_place_while_frames_are_watched);
    tcase_add_test(tc, interleaved_streams_get_no_place);
    suite_add_tcase(s, tc);
    return h_run(s);
}
