/* --explain's reasons (enum sk_why): for each segment sent, the rule that
 * sent it, just before its frame; for each one received, what became of
 * it, after the frames its processing sent.  The peer's segments come from
 * the fixture; the reasons are recorded by an on_why observer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp_fixture.h"

#define PISN   0xC0000000u
#define MAXREC 256

/* What the observers saw, in order: a why (dir, code) or a frame (why -1). */
static struct rec {
    int dir, why;
    uint32_t arg;
} recs[MAXREC];
static int nrec;

static void on_why(void *ctx, enum sk_dir dir, int why, uint32_t arg, uint64_t now)
{
    (void)ctx;
    (void)now;
    if (nrec < MAXREC)
        recs[nrec++] = (struct rec){dir, why, arg};
}

static void on_frame(void *ctx, enum sk_dir dir, const uint8_t *f, size_t len, uint64_t now)
{
    (void)ctx;
    (void)f;
    (void)len;
    (void)now;
    if (nrec < MAXREC)
        recs[nrec++] = (struct rec){dir, -1, 0};
}

static void explain(struct sk_config *cfg)
{
    cfg->on_why = on_why;
    cfg->on_frame = on_frame;
}

static void clear(struct tcp_fx *f)
{
    nrec = 0;
    h_clear(f->h);
}

/* The reasons recorded for direction dir, in order, into out; how many. */
static int whys(int dir, int *out, int max)
{
    int n = 0;
    for (int i = 0; i < nrec && n < max; i++)
        if (recs[i].why >= 0 && recs[i].dir == dir)
            out[n++] = recs[i].why;
    return n;
}

/* Exactly one reason for dir since the last clear: it. */
static int only(int dir)
{
    int w[8];
    int n = whys(dir, w, 8);
    ck_assert_int_eq(n, 1);
    return w[0];
}

/* Every OUT why comes right before an OUT frame. */
static void check_out_order(void)
{
    for (int i = 0; i < nrec; i++)
        if (recs[i].why >= 0 && recs[i].dir == SK_DIR_OUT) {
            ck_assert_int_lt(i + 1, nrec);
            ck_assert_int_eq(recs[i + 1].why, -1);
            ck_assert_int_eq(recs[i + 1].dir, SK_DIR_OUT);
        }
}

START_TEST(handshake_reasons)
{
    struct tcp_fx f;
    nrec = 0;
    fx_listen(&f, explain, 0);
    clear(&f);
    fx_syn(&f, FX_PPORT, PISN, 65535, 1460);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_SYN);
    /* fx_syn clears the capture, not our records: the SYN-ACK is there. */
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_SYNACK);
    check_out_order();
    clear(&f);
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_ESTABLISH);
    f.c = sk_accept(f.l);
    ck_assert_ptr_nonnull(f.c);
    /* Data in order: delivered; quick ACK at the start. */
    clear(&f);
    fx_seg(&f, TCP_ACK | TCP_PSH, "hello", 5);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_DATA);
    h_flush(f.h);
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_ACK_QUICK);
    check_out_order();
    /* Our data. */
    char buf[8];
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 5);
    clear(&f);
    ck_assert_int_eq(sk_send(f.c, "world", 5), 5);
    h_flush(f.h);
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_DATA);
    /* Its ACK. */
    clear(&f);
    fx_ack(&f, f.iss + 6);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_ACK);
    /* The peer's FIN: noted, and its ACK says so. */
    clear(&f);
    fx_seg(&f, TCP_ACK | TCP_FIN, NULL, 0);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_FIN);
    h_flush(f.h);
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_ACK_FIN);
    /* Our FIN, and its ACK. */
    clear(&f);
    sk_close(f.c);
    h_flush(f.h);
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_FIN);
    clear(&f);
    fx_ack(&f, f.iss + 7);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_FIN_ACKED);
    fx_free(&f);
}
END_TEST

START_TEST(receiver_reasons)
{
    struct tcp_fx f;
    nrec = 0;
    fx_open_passive(&f, explain, PISN, 65535, 1460);
    char d[100];
    memset(d, 'x', sizeof(d));
    uint32_t base = f.pseq;
    /* A hole: out of order.  The dup ACK goes during processing, so its
     * reason and frame come before the received segment's reason. */
    clear(&f);
    fx_seg_at(&f, base + 100, f.pack, TCP_ACK, d, 100);
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_ACK_OOO);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_OOO);
    ck_assert_int_eq(recs[nrec - 1].why, SK_WHY_RX_OOO); /* last: after the dup ACK */
    ck_assert_uint_eq(recs[nrec - 1].arg, base + 100);
    check_out_order();
    /* The gap filled. */
    clear(&f);
    fx_seg_at(&f, base, f.pack, TCP_ACK, d, 100);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_GAP);
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_ACK_GAP);
    /* The same again: a duplicate, D-SACK. */
    clear(&f);
    fx_seg_at(&f, base, f.pack, TCP_ACK, d, 100);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_DUP);
    h_flush(f.h);
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_ACK_DUP);
    /* A SYN on the connection: challenged (RFC 5961 4.2). */
    clear(&f);
    fx_seg_at(&f, base + 200, 0, TCP_SYN, NULL, 0);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_SYN_CHALLENGED);
    h_flush(f.h);
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_ACK_CHALLENGE);
    /* A SYN far outside the window: challenged all the same (RFC 5961
     * 4.2, "irrespective of the sequence number"). */
    h_advance(f.h, 1000000);
    clear(&f);
    fx_seg_at(&f, base - 100000, 0, TCP_SYN, NULL, 0);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_SYN_CHALLENGED);
    /* Data half old, half new: the old half trimmed, the rest taken. */
    h_advance(f.h, 1000000);
    clear(&f);
    fx_seg_at(&f, base + 150, f.pack, TCP_ACK, d, 100);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_TRIMMED);
    /* A RST in the window but not at RCV.NXT: challenged too. */
    h_advance(f.h, 1000000);
    clear(&f);
    fx_seg_at(&f, base + 300, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_RST_CHALLENGED);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(drops_and_closed_port)
{
    struct tcp_fx f;
    nrec = 0;
    fx_listen(&f, explain, 0);
    /* A closed port: RST. */
    clear(&f);
    h_send(f.h, &(struct h_seg){.sport = 1000, .dport = 9, .seq = 5, .flags = TCP_SYN, .wnd = 100});
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_NO_CONN);
    ck_assert_int_eq(only(SK_DIR_OUT), SK_WHY_RST_NO_CONN);
    /* A bad checksum: dropped, with its counter's words. */
    clear(&f);
    uint8_t frame[H_FRAME_MAX];
    size_t n = h_tcp(
        frame,
        &(struct h_seg){.sport = 1000, .dport = FX_LPORT, .seq = 5, .flags = TCP_SYN, .wnd = 100});
    frame[n - 1] ^= 0x40; /* in the TCP header's urgent pointer: the sum breaks */
    h_input(f.h, frame, n);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_DROPPED);
    ck_assert_str_eq(sk_counter_desc((int)recs[nrec - 1].arg), "TCP dropped: bad checksum");
    ck_assert_str_eq(sk_why_rfc(SK_WHY_ACK_OOO), "RFC 5681 4.2");
    ck_assert_str_eq(sk_why_text(SK_WHY_ACK_OOO), "dup ACK: out-of-order data");
    ck_assert_str_eq(sk_why_text(SK_WHY_COUNT), "");
    fx_free(&f);
}
END_TEST

START_TEST(refused)
{
    struct tcp_fx f;
    nrec = 0;
    fx_connect(&f, explain);
    clear(&f);
    fx_seg_at(&f, 0, f.iss + 1, TCP_RST | TCP_ACK, NULL, 0);
    ck_assert_int_eq(only(SK_DIR_IN), SK_WHY_RX_REFUSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNREFUSED);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(parked_for_arp_keeps_no_reason)
{
    /* The SYN waits for ARP; the ARP request goes out in its place and
     * must not take the SYN's reason. */
    struct harness *h = h_new(explain);
    nrec = 0;
    int err;
    sk_conn *c = sk_connect(h->s, PEER_IP, 80, 40001, h->now, &err);
    ck_assert_ptr_nonnull(c);
    h_flush(h);
    int w[8];
    ck_assert_int_ge(nrec, 1); /* the ARP request's frame */
    ck_assert_int_eq(whys(SK_DIR_OUT, w, 8), 0);
    sk_abort(c);
    h_free(h);
}
END_TEST

START_TEST(sender_reasons)
{
    struct tcp_fx f;
    nrec = 0;
    fx_open_passive(&f, explain, PISN, 65535, 1460);
    /* Four segments out, the first lost: SACKs of the others make a fast
     * retransmit. */
    static char data[4 * 1460];
    memset(data, 'y', sizeof(data));
    ck_assert_int_eq(sk_send(f.c, data, sizeof(data)), (long)sizeof(data));
    clear(&f);
    h_flush(f.h);
    int w[8];
    ck_assert_int_eq(whys(SK_DIR_OUT, w, 8), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(w[i], SK_WHY_DATA);
    clear(&f);
    uint32_t s1 = f.iss + 1;
    for (int k = 1; k <= 3; k++) {
        h_send(f.h, &(struct h_seg){.sport = f.pport,
                                    .dport = f.lport,
                                    .seq = f.pseq,
                                    .ack = s1,
                                    .flags = TCP_ACK,
                                    .wnd = 65535,
                                    .nsack = 1,
                                    .sack = {{s1 + 1460, s1 + 1460 + 1460u * (uint32_t)k}}});
    }
    h_flush(f.h);
    int n = whys(SK_DIR_OUT, w, 8);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(w[0], SK_WHY_RTX_FAST);
    ck_assert_int_eq(whys(SK_DIR_IN, w, 8), 3);
    ck_assert_int_eq(w[0], SK_WHY_RX_DUPACK);
    check_out_order();
    /* The retransmission is lost too: the RTO sends it again. */
    clear(&f);
    h_advance(f.h, 3000000);
    n = whys(SK_DIR_OUT, w, 8);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(w[0], SK_WHY_RTX_TIMEOUT);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_explain");
    TCase *tc = tcase_create("explain");
    tcase_add_test(tc, handshake_reasons);
    tcase_add_test(tc, receiver_reasons);
    tcase_add_test(tc, drops_and_closed_port);
    tcase_add_test(tc, sender_reasons);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, parked_for_arp_keeps_no_reason);
    suite_add_tcase(s, tc);
    return h_run(s);
}
