/* test_tcp_loss.c - the sender's loss recovery, segment in, segment out,
 * with an injected clock: the scoreboard resends exactly the holes (RFC
 * 6675), RACK marks losses by time and arms its reordering timer, the tail
 * loss probe fires at its PTO (RFC 8985), NewReno's duplicate and partial
 * ACKs (RFC 6582), limited transmit (RFC 3042), PRR (RFC 6937), the RTO
 * as the last resort (RFC 6298), and the undo of spurious episodes by
 * timestamps (RFC 3522) and D-SACK (RFC 2883). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "seq.h"
#include "tcp_fixture.h"

#define PISN   7000000u
#define SEG    1448u  /* data per segment: MSS 1460 less the timestamp option */
#define SEG_NT 1460u  /* without timestamps */
#define RTT_US 10000u /* the path's round trip in these tests */

static uint8_t stream[200 * 1460];

struct lfx {
    struct tcp_fx f;
    bool ts, sack;
    uint32_t seg;    /* data per full segment */
    uint32_t base;   /* sequence number of our first data byte */
    uint32_t ptsval; /* the peer's timestamp clock */
};

static uint32_t tsecr_now;

/* A passive open with the options given, a round trip of RTT_US in the
 * handshake, and a peer window of 65535 << 7 (when scaling is on). */
static void open_conn(struct lfx *x, bool sack, bool ts, void (*tweak)(struct sk_config *))
{
    memset(x, 0, sizeof(*x));
    for (size_t i = 0; i < sizeof(stream); i++)
        stream[i] = (uint8_t)(i * 7 + i / 251);
    x->ts = ts;
    x->sack = sack;
    x->seg = ts ? SEG : SEG_NT;
    x->ptsval = 5000;
    struct tcp_fx *f = &x->f;
    fx_listen(f, tweak, 0);
    f->pport = FX_PPORT;
    f->pwnd = 65535;
    h_clear(f->h);
    h_send(f->h, &(struct h_seg){.sport = FX_PPORT,
                                 .dport = FX_LPORT,
                                 .seq = PISN,
                                 .flags = TCP_SYN,
                                 .wnd = 65535,
                                 .mss = 1460,
                                 .sack_ok = sack,
                                 .ts = ts,
                                 .tsval = x->ptsval,
                                 .has_ws = true,
                                 .ws = 7});
    struct tcp_seg synack = h_last_tcp(f->h);
    ck_assert_uint_eq(synack.flags, TCP_SYN | TCP_ACK);
    f->iss = synack.seq;
    f->pseq = PISN + 1;
    f->pack = f->iss + 1;
    x->base = f->iss + 1;
    tsecr_now = synack.opt.tsval;
    h_clear(f->h);
    h_advance(f->h, RTT_US);
    x->ptsval += RTT_US / 1000;
    h_send(f->h, &(struct h_seg){.sport = FX_PPORT,
                                 .dport = FX_LPORT,
                                 .seq = f->pseq,
                                 .ack = f->pack,
                                 .flags = TCP_ACK,
                                 .wnd = f->pwnd,
                                 .ts = ts,
                                 .tsval = x->ptsval,
                                 .tsecr = tsecr_now});
    f->c = sk_accept(f->l);
    ck_assert_ptr_nonnull(f->c);
    ck_assert_int_eq(sk_conn_state(f->c), SK_ESTABLISHED);
    struct sk_conn_info i;
    sk_conn_info(f->c, &i);
    ck_assert(i.sack == sack);
    ck_assert(i.timestamps == ts);
    ck_assert_uint_eq(i.srtt_us, RTT_US);
    h_events_of(f->h, f->c);
    h_clear(f->h);
}

/* The peer's ACK of `ack` with SACK blocks given as segment indexes
 * [from, to) of our data (n blocks), echoing our newest TSval. */
static void ack_sack(struct lfx *x, uint32_t ack, int n, const uint32_t (*blocks)[2])
{
    struct tcp_fx *f = &x->f;
    /* The peer echoes the newest TSval it got: our clock now. */
    tsecr_now = tcp_ts_now(f->c);
    struct h_seg g = {.sport = FX_PPORT,
                      .dport = FX_LPORT,
                      .seq = f->pseq,
                      .ack = ack,
                      .flags = TCP_ACK,
                      .wnd = f->pwnd,
                      .ts = x->ts,
                      .tsval = x->ptsval,
                      .tsecr = tsecr_now};
    for (int i = 0; i < n; i++) {
        g.sack[i][0] = blocks[i][0];
        g.sack[i][1] = blocks[i][1];
    }
    g.nsack = (uint8_t)n;
    h_send(f->h, &g);
}

/* Sequence number of the start of our i-th data segment. */
static uint32_t at(const struct lfx *x, uint32_t i)
{
    return x->base + i * x->seg;
}

/* The data segments captured since the last clear: starts and lengths. */
static int data_out(struct lfx *x, uint32_t *seqs, uint32_t *lens, int max)
{
    int n = 0;
    for (int i = 0; i < x->f.h->nout; i++) {
        struct tcp_seg g;
        if (!h_out_tcp(x->f.h, i, &g) || g.len == 0)
            continue;
        ck_assert_int_lt(n, max);
        seqs[n] = g.seq;
        lens[n] = g.len;
        /* What goes out is always the app's bytes at that place. */
        ck_assert_mem_eq(g.data, stream + (g.seq - x->base), g.len);
        n++;
    }
    return n;
}

/* Queues `segs` full segments and flushes; exactly `expect_out` go. */
static void send_segs(struct lfx *x, uint32_t from_seg, uint32_t segs, int expect_out)
{
    uint32_t n = segs * x->seg;
    ck_assert_int_eq(sk_send(x->f.c, stream + from_seg * x->seg, n), (long)n);
    h_flush(x->f.h);
    uint32_t seqs[128], lens[128];
    ck_assert_int_eq(data_out(x, seqs, lens, 128), expect_out);
    h_clear(x->f.h);
}

#define CTR(x, name) (sk_counters((x)->f.h->s)->name)

static void done(struct lfx *x)
{
    sk_abort(x->f.c);
    fx_free(&x->f);
}

START_TEST(sack_one_hole_resends_exactly_it)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    send_segs(&x, 0, 10, 10); /* the initial window, RFC 6928 */
    h_advance(x.f.h, RTT_US);
    /* Segment 1 lost: the peer ACKs 0 and SACKs 2..4. */
    ack_sack(&x, at(&x, 1), 1, (const uint32_t[][2]){{at(&x, 2), at(&x, 5)}});
    uint32_t seqs[16], lens[16];
    ck_assert_int_eq(data_out(&x, seqs, lens, 16), 1);
    ck_assert_uint_eq(seqs[0], at(&x, 1));
    ck_assert_uint_eq(lens[0], x.seg);
    ck_assert_uint_eq(CTR(&x, tcp_fast_retransmits), 1);
    ck_assert_uint_eq(CTR(&x, tcp_rack_lost), 1);
    ck_assert_uint_eq(CTR(&x, tcp_sack_rtx), 1);
    ck_assert_uint_eq(CTR(&x, tcp_retransmits), 1);
    h_clear(x.f.h);
    /* More SACKs of the rest resend nothing more. */
    ack_sack(&x, at(&x, 1), 1, (const uint32_t[][2]){{at(&x, 2), at(&x, 10)}});
    ck_assert_int_eq(data_out(&x, seqs, lens, 16), 0);
    /* Everything acknowledged: recovery over, no timer left to fire. */
    ack_sack(&x, at(&x, 10), 0, NULL);
    ck_assert_uint_eq(CTR(&x, tcp_recoveries), 1);
    h_clear(x.f.h);
    h_advance(x.f.h, 5000000);
    ck_assert_int_eq(data_out(&x, seqs, lens, 16), 0);
    ck_assert_uint_eq(CTR(&x, tcp_timeouts), 0);
    ck_assert_uint_eq(CTR(&x, tcp_retransmits), 1);
    done(&x);
}
END_TEST

START_TEST(sack_several_holes_resent_in_order)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    send_segs(&x, 0, 10, 10);
    h_advance(x.f.h, RTT_US);
    /* 0, 2 and 4 lost: the peer SACKs 1, 3 and 5..9. */
    ack_sack(&x, at(&x, 0), 3,
             (const uint32_t[][2]){
                 {at(&x, 5), at(&x, 10)}, {at(&x, 3), at(&x, 4)}, {at(&x, 1), at(&x, 2)}});
    uint32_t seqs[16], lens[16];
    ck_assert_int_eq(data_out(&x, seqs, lens, 16), 3);
    ck_assert_uint_eq(seqs[0], at(&x, 0));
    ck_assert_uint_eq(seqs[1], at(&x, 2));
    ck_assert_uint_eq(seqs[2], at(&x, 4));
    ck_assert_uint_eq(CTR(&x, tcp_rack_lost), 3);
    ck_assert_uint_eq(CTR(&x, tcp_fast_retransmits), 1); /* one episode */
    ck_assert_uint_eq(CTR(&x, tcp_congestion_events), 1);
    h_clear(x.f.h);
    ack_sack(&x, at(&x, 10), 0, NULL);
    ck_assert_int_eq(data_out(&x, seqs, lens, 16), 0);
    ck_assert_uint_eq(CTR(&x, tcp_recoveries), 1);
    done(&x);
}
END_TEST

START_TEST(rack_reordering_window_then_timer)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    send_segs(&x, 0, 4, 4);
    h_advance(x.f.h, RTT_US);
    /* Only segment 2 SACKed: 1 may merely be late.  RACK waits its
     * reordering window, min_rtt / 4 (RFC 8985 6.2 step 4), on a timer. */
    ack_sack(&x, at(&x, 1), 1, (const uint32_t[][2]){{at(&x, 2), at(&x, 3)}});
    uint32_t seqs[8], lens[8];
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 0);
    ck_assert(tcp_timer_on(x.f.c, TCP_T_REO));
    /* Segment 1 was sent RTT_US ago with segment 2: lost once RACK.rtt
     * plus RTT_US / 4 has passed since it was sent, i.e. RTT_US / 4 on. */
    h_advance(x.f.h, RTT_US / 4 - 1);
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 0);
    h_advance(x.f.h, 1);
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 1);
    ck_assert_uint_eq(seqs[0], at(&x, 1));
    ck_assert_uint_eq(CTR(&x, tcp_rack_lost), 1);
    done(&x);
}
END_TEST

START_TEST(rack_reordering_not_retransmitted)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    send_segs(&x, 0, 4, 4);
    h_advance(x.f.h, RTT_US);
    ack_sack(&x, at(&x, 1), 1, (const uint32_t[][2]){{at(&x, 2), at(&x, 3)}});
    /* Segment 1 arrives late, within the window: nothing was resent, and
     * RACK has seen reordering (6.2 step 3). */
    h_advance(x.f.h, RTT_US / 8);
    ack_sack(&x, at(&x, 4), 0, NULL);
    h_advance(x.f.h, 1000000);
    uint32_t seqs[8], lens[8];
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 0);
    ck_assert_uint_eq(CTR(&x, tcp_retransmits), 0);
    ck_assert_uint_eq(CTR(&x, tcp_reordering), 1);
    struct sk_conn_info i;
    sk_conn_info(x.f.c, &i);
    ck_assert(i.reordering);
    done(&x);
}
END_TEST

START_TEST(tail_loss_probe_at_pto_then_rack)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    send_segs(&x, 0, 10, 10);
    h_advance(x.f.h, RTT_US);
    /* The last three of the burst are lost: the peer ACKs 0..6 and then
     * nothing comes.  No RTO: a probe after PTO = 2 * SRTT (RFC 8985 7.2). */
    ack_sack(&x, at(&x, 7), 0, NULL);
    struct sk_conn_info i;
    sk_conn_info(x.f.c, &i);
    uint64_t pto = 2ULL * i.srtt_us;
    h_clear(x.f.h);
    h_advance(x.f.h, pto - 1);
    uint32_t seqs[8], lens[8];
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 0);
    h_advance(x.f.h, 1);
    /* Nothing new to send: the probe is the last segment again. */
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 1);
    ck_assert_uint_eq(seqs[0], at(&x, 9));
    ck_assert_uint_eq(CTR(&x, tcp_tlp), 1);
    h_clear(x.f.h);
    /* Its ACK SACKs it: RACK sees 7 and 8 lost and recovery resends them,
     * about one round trip after the probe, no RTO. */
    h_advance(x.f.h, RTT_US);
    ack_sack(&x, at(&x, 7), 1, (const uint32_t[][2]){{at(&x, 9), at(&x, 10)}});
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 2);
    ck_assert_uint_eq(seqs[0], at(&x, 7));
    ck_assert_uint_eq(seqs[1], at(&x, 8));
    h_clear(x.f.h);
    ack_sack(&x, at(&x, 10), 0, NULL);
    ck_assert_uint_eq(CTR(&x, tcp_timeouts), 0);
    done(&x);
}
END_TEST

START_TEST(tail_loss_probe_sends_new_data_first)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    /* 14 segments queued; cwnd (the initial window) lets 10 go. */
    send_segs(&x, 0, 14, 10);
    struct sk_conn_info i;
    sk_conn_info(x.f.c, &i);
    /* No ACK at all: the probe is new data when the peer's window allows
     * (RFC 8985 7.3), beyond cwnd, so its ACK tells about the whole flight. */
    h_advance(x.f.h, 2ULL * i.srtt_us);
    uint32_t seqs[8], lens[8];
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 1);
    ck_assert_uint_eq(seqs[0], at(&x, 10));
    ck_assert_uint_eq(CTR(&x, tcp_tlp), 1);
    ck_assert_uint_eq(CTR(&x, tcp_retransmits), 0);
    h_clear(x.f.h);
    /* One probe per episode: the RTO comes next, not another probe. */
    h_advance(x.f.h, 2ULL * i.srtt_us);
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 0);
    ck_assert_uint_eq(CTR(&x, tcp_tlp), 1);
    done(&x);
}
END_TEST

/* NewReno without SACK: three duplicate ACKs, limited transmit, partial
 * ACKs (RFC 5681 3.2, RFC 3042, RFC 6582). */
START_TEST(newreno_dupacks_limited_transmit_partial_ack)
{
    struct lfx x;
    open_conn(&x, false, false, NULL);
    ck_assert_uint_eq(x.seg, SEG_NT);
    send_segs(&x, 0, 14, 10); /* 10 go, 4 wait for the window to move */
    h_advance(x.f.h, RTT_US);
    /* 1 and 4 are lost.  0 arrives: a new ACK, cwnd grows, 2 more go. */
    ack_sack(&x, at(&x, 1), 0, NULL);
    uint32_t seqs[16], lens[16];
    int n = data_out(&x, seqs, lens, 16);
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(seqs[0], at(&x, 10));
    h_clear(x.f.h);
    /* Two duplicate ACKs: limited transmit sends one new segment each. */
    ack_sack(&x, at(&x, 1), 0, NULL);
    ck_assert_int_eq(data_out(&x, seqs, lens, 16), 1);
    ck_assert_uint_eq(seqs[0], at(&x, 12));
    h_clear(x.f.h);
    ack_sack(&x, at(&x, 1), 0, NULL);
    ck_assert_int_eq(data_out(&x, seqs, lens, 16), 1);
    ck_assert_uint_eq(seqs[0], at(&x, 13));
    h_clear(x.f.h);
    /* The third: fast retransmit of 1, and only 1. */
    ack_sack(&x, at(&x, 1), 0, NULL);
    ck_assert_int_eq(data_out(&x, seqs, lens, 16), 1);
    ck_assert_uint_eq(seqs[0], at(&x, 1));
    ck_assert_uint_eq(CTR(&x, tcp_dupack_lost), 1);
    ck_assert_uint_eq(CTR(&x, tcp_fast_retransmits), 1);
    h_clear(x.f.h);
    /* More duplicates resend nothing old. */
    ack_sack(&x, at(&x, 1), 0, NULL);
    n = data_out(&x, seqs, lens, 16);
    for (int k = 0; k < n; k++)
        ck_assert(seq_geq(seqs[k], at(&x, 14)));
    h_clear(x.f.h);
    /* A partial ACK (1..3 arrived, 4 still missing): 4 goes at once. */
    ack_sack(&x, at(&x, 4), 0, NULL);
    n = data_out(&x, seqs, lens, 16);
    ck_assert_int_ge(n, 1);
    ck_assert_uint_eq(seqs[0], at(&x, 4));
    ck_assert_uint_eq(CTR(&x, tcp_dupack_lost), 2);
    h_clear(x.f.h);
    /* The full ACK ends recovery with cwnd = ssthresh (RFC 6937). */
    ack_sack(&x, at(&x, 14), 0, NULL);
    ck_assert_uint_eq(CTR(&x, tcp_recoveries), 1);
    struct sk_conn_info i;
    sk_conn_info(x.f.c, &i);
    ck_assert_str_eq(i.ca_state, "open");
    ck_assert_uint_eq(i.cwnd, i.ssthresh);
    ck_assert_uint_eq(CTR(&x, tcp_timeouts), 0);
    done(&x);
}
END_TEST

START_TEST(rto_resends_first_then_slow_starts)
{
    /* Without SACK there is no tail loss probe (RFC 8985 7.2 needs SACK):
     * the RTO is what fires. */
    struct lfx x;
    open_conn(&x, false, true, NULL);
    send_segs(&x, 0, 4, 4);
    struct sk_conn_info i;
    sk_conn_info(x.f.c, &i);
    /* Nothing comes back.  The RTO resends the first segment only: the
     * loss window is one segment (RFC 5681 3.1). */
    h_advance(x.f.h, i.rto_us - 1);
    uint32_t seqs[8], lens[8];
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 0);
    h_advance(x.f.h, 1);
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 1);
    ck_assert_uint_eq(seqs[0], at(&x, 0));
    ck_assert_uint_eq(CTR(&x, tcp_timeouts), 1);
    ck_assert_uint_eq(CTR(&x, tcp_rto_lost), 4); /* all out longer than RTT + window */
    sk_conn_info(x.f.c, &i);
    ck_assert_str_eq(i.ca_state, "loss");
    ck_assert_uint_eq(i.cwnd, x.seg);
    h_clear(x.f.h);
    /* Its ACK: slow start from one segment, the next two resent. */
    h_advance(x.f.h, RTT_US);
    ack_sack(&x, at(&x, 1), 0, NULL);
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 2);
    ck_assert_uint_eq(seqs[0], at(&x, 1));
    ck_assert_uint_eq(seqs[1], at(&x, 2));
    h_clear(x.f.h);
    ack_sack(&x, at(&x, 3), 0, NULL);
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 1);
    ck_assert_uint_eq(seqs[0], at(&x, 3));
    h_clear(x.f.h);
    ack_sack(&x, at(&x, 4), 0, NULL);
    sk_conn_info(x.f.c, &i);
    ck_assert_str_eq(i.ca_state, "open");
    ck_assert_uint_eq(CTR(&x, tcp_spurious_undo), 0);
    done(&x);
}
END_TEST

START_TEST(spurious_rto_undone_by_timestamps)
{
    struct lfx x;
    open_conn(&x, false, true, NULL);
    uint32_t orig_tsval = tcp_ts_now(x.f.c); /* what the originals carry */
    send_segs(&x, 0, 4, 4);
    struct sk_conn_info before, i;
    sk_conn_info(x.f.c, &before);
    h_advance(x.f.h, before.rto_us);
    ck_assert_uint_eq(CTR(&x, tcp_timeouts), 1);
    h_clear(x.f.h);
    /* The ACK was only late: it echoes the original's TSval, older than
     * the retransmission's (RFC 3522): cwnd and ssthresh come back. */
    h_send(x.f.h, &(struct h_seg){.sport = FX_PPORT,
                                  .dport = FX_LPORT,
                                  .seq = x.f.pseq,
                                  .ack = at(&x, 4),
                                  .flags = TCP_ACK,
                                  .wnd = x.f.pwnd,
                                  .ts = true,
                                  .tsval = x.ptsval + 300,
                                  .tsecr = orig_tsval});
    ck_assert_uint_eq(CTR(&x, tcp_spurious_undo), 1);
    sk_conn_info(x.f.c, &i);
    ck_assert_str_eq(i.ca_state, "open");
    ck_assert_uint_ge(i.cwnd, before.cwnd);
    ck_assert_uint_eq(i.ssthresh, before.ssthresh);
    uint32_t seqs[8], lens[8];
    ck_assert_int_eq(data_out(&x, seqs, lens, 8), 0);
    done(&x);
}
END_TEST

START_TEST(real_rto_not_undone)
{
    struct lfx x;
    open_conn(&x, false, true, NULL);
    send_segs(&x, 0, 4, 4);
    struct sk_conn_info i;
    sk_conn_info(x.f.c, &i);
    h_advance(x.f.h, i.rto_us);
    /* The ACK echoes the retransmission: the original was lost. */
    ack_sack(&x, at(&x, 1), 0, NULL);
    ck_assert_uint_eq(CTR(&x, tcp_spurious_undo), 0);
    sk_conn_info(x.f.c, &i);
    ck_assert_uint_lt(i.cwnd, 4 * x.seg);
    done(&x);
}
END_TEST

START_TEST(fast_recovery_undone_by_dsack)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    send_segs(&x, 0, 10, 10);
    struct sk_conn_info before, i;
    sk_conn_info(x.f.c, &before);
    h_advance(x.f.h, RTT_US);
    ack_sack(&x, at(&x, 1), 1, (const uint32_t[][2]){{at(&x, 2), at(&x, 5)}});
    ck_assert_uint_eq(CTR(&x, tcp_fast_retransmits), 1);
    sk_conn_info(x.f.c, &i);
    ck_assert_uint_lt(i.ssthresh, before.cwnd); /* reduced */
    h_clear(x.f.h);
    /* Segment 1 had only been reordered: the peer got both copies and
     * reports the second with a D-SACK (RFC 2883 section 5). */
    ack_sack(&x, at(&x, 10), 1, (const uint32_t[][2]){{at(&x, 1), at(&x, 2)}});
    ck_assert_uint_eq(CTR(&x, tcp_dsack_in), 1);
    ck_assert_uint_eq(CTR(&x, tcp_spurious_undo), 1);
    sk_conn_info(x.f.c, &i);
    ck_assert_uint_ge(i.cwnd, before.cwnd);
    ck_assert(i.ssthresh == UINT32_MAX || i.ssthresh >= before.cwnd);
    done(&x);
}
END_TEST

START_TEST(lost_retransmission_found_by_rack)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    send_segs(&x, 0, 20, 10);
    h_advance(x.f.h, RTT_US);
    ack_sack(&x, at(&x, 1), 1, (const uint32_t[][2]){{at(&x, 2), at(&x, 10)}});
    uint32_t seqs[32], lens[32];
    int n = data_out(&x, seqs, lens, 32);
    ck_assert_int_ge(n, 1);
    ck_assert_uint_eq(seqs[0], at(&x, 1)); /* the fast retransmit */
    uint32_t newest = seqs[n - 1];
    ck_assert(seq_gt(newest, at(&x, 9))); /* and new data after it */
    h_clear(x.f.h);
    /* The retransmission is lost too; what was sent after it arrives:
     * RACK sees the retransmission was sent before a delivered segment
     * and has had its time: resent again, without an RTO. */
    h_advance(x.f.h, RTT_US);
    ack_sack(&x, at(&x, 1), 1, (const uint32_t[][2]){{at(&x, 2), newest + x.seg}});
    n = data_out(&x, seqs, lens, 32);
    ck_assert_int_ge(n, 1);
    ck_assert_uint_eq(seqs[0], at(&x, 1));
    ck_assert_uint_eq(CTR(&x, tcp_timeouts), 0);
    ck_assert_uint_eq(CTR(&x, tcp_fast_retransmits), 1); /* the same episode */
    done(&x);
}
END_TEST

/* PRR (RFC 6937): while pipe > ssthresh, recovery sends
 * ceil(prr_delivered * ssthresh / RecoverFS) - prr_out per ACK (the fast
 * retransmit goes whatever that says); at the end cwnd = ssthresh. */
START_TEST(prr_proportional_rate_reduction)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    /* Grow cwnd to 20 segments: 10 sent and acknowledged in slow start. */
    send_segs(&x, 0, 10, 10);
    h_advance(x.f.h, RTT_US);
    ck_assert_int_eq(sk_send(x.f.c, stream + 10 * x.seg, 100 * x.seg), (long)(100 * x.seg));
    ack_sack(&x, at(&x, 10), 0, NULL);
    uint32_t seqs[64], lens[64];
    ck_assert_int_eq(data_out(&x, seqs, lens, 64), 20); /* cwnd 20, cwnd-limited */
    h_clear(x.f.h);
    h_advance(x.f.h, RTT_US);
    struct sk_tcb *c = x.f.c;
    uint32_t cwnd_before = 0, checked = 0;
    /* Segment 10 is lost; the others are SACKed one ACK each. */
    for (uint32_t k = 11; k < 30; k++) {
        bool was_open = c->ca_state == TCP_CA_OPEN;
        cwnd_before = max_u32(c->cc.cwnd, c->snd_max - c->snd_una);
        ack_sack(&x, at(&x, 10), 1, (const uint32_t[][2]){{at(&x, 11), at(&x, k + 1)}});
        int n = data_out(&x, seqs, lens, 64);
        h_clear(x.f.h);
        if (c->ca_state != TCP_CA_RECOVERY)
            continue; /* RACK waits for three SACKed segments first */
        if (was_open) {
            /* Entry: ssthresh = 0.7 * max(FlightSize, cwnd) (CUBIC, the
             * sender cwnd-limited), and the fast retransmit goes first. */
            ck_assert_uint_eq(c->cc.ssthresh, cwnd_before * 7 / 10);
            ck_assert_int_ge(n, 1);
            ck_assert_uint_eq(seqs[0], at(&x, 10));
        }
        uint64_t prop =
            ((uint64_t)c->prr_delivered * c->cc.ssthresh + c->recover_fs - 1) / c->recover_fs;
        if (tcp_snd_pipe(c) > c->cc.ssthresh) {
            /* Within two segments: the fast retransmit goes whatever PRR
             * says, and segments go whole (a fraction of one or more
             * rounds up, as Linux's whole-packet cwnd does). */
            ck_assert_uint_le(c->prr_out, max_u32((uint32_t)prop, x.seg) + 2 * x.seg);
            checked++;
        }
        /* Never more in flight than ssthresh plus a segment of slack
         * once the reduction is done (PRR-SSRB). */
        if (tcp_snd_pipe(c) <= c->cc.ssthresh)
            ck_assert_uint_le(tcp_snd_pipe(c), c->cc.ssthresh + x.seg);
    }
    ck_assert_uint_gt(checked, 3);
    /* Over the episode about 70% of what was delivered went out again. */
    ck_assert_uint_le(c->prr_out, c->prr_delivered * 7 / 10 + 2 * x.seg);
    ck_assert_uint_ge(c->prr_out + 2 * x.seg, c->prr_delivered * 7 / 10);
    uint32_t ssthresh = c->cc.ssthresh;
    /* The hole fills and the ACK reaches the recovery point (SND.NXT when
     * recovery began): recovery ends with cwnd = ssthresh. */
    ack_sack(&x, at(&x, 30), 0, NULL);
    ck_assert_int_eq(c->ca_state, TCP_CA_RECOVERY); /* not yet the point */
    ack_sack(&x, c->recover, 0, NULL);
    ck_assert_int_eq(c->ca_state, TCP_CA_OPEN);
    ck_assert_uint_eq(c->cc.cwnd, ssthresh);
    ck_assert_uint_eq(CTR(&x, tcp_recoveries), 1);
    done(&x);
}
END_TEST

START_TEST(forged_sack_blocks_ignored)
{
    struct lfx x;
    open_conn(&x, true, true, NULL);
    send_segs(&x, 0, 4, 4);
    /* Blocks beyond what was sent, inverted, or below SND.UNA change
     * nothing: the scoreboard counts only what is outstanding. */
    ack_sack(&x, at(&x, 0), 3,
             (const uint32_t[][2]){
                 {at(&x, 10), at(&x, 20)}, {at(&x, 3), at(&x, 2)}, {x.base - 5000, x.base - 1000}});
    struct sk_conn_info i;
    sk_conn_info(x.f.c, &i);
    ck_assert_uint_eq(i.sacked, 0);
    ck_assert_uint_eq(i.lost, 0);
    ck_assert_uint_eq(CTR(&x, tcp_retransmits), 0);
    done(&x);
}
END_TEST

static void newreno_cc(struct sk_config *cfg)
{
    cfg->tcp_cc = SK_CC_NEWRENO;
}

START_TEST(cc_selectable_per_stack_and_connection)
{
    struct lfx x;
    open_conn(&x, true, true, newreno_cc);
    struct sk_conn_info i;
    sk_conn_info(x.f.c, &i);
    ck_assert_str_eq(i.cc, "newreno");
    send_segs(&x, 0, 10, 10);
    h_advance(x.f.h, RTT_US);
    ack_sack(&x, at(&x, 1), 1, (const uint32_t[][2]){{at(&x, 2), at(&x, 5)}});
    sk_conn_info(x.f.c, &i);
    /* NewReno halves FlightSize (RFC 5681 eqn. 4): 9 segments were out
     * (the sender was not cwnd-limited: all the app had went). */
    ck_assert_uint_eq(i.ssthresh, 9 * x.seg / 2);
    done(&x);
    struct lfx y;
    open_conn(&y, true, true, NULL);
    sk_conn_info(y.f.c, &i);
    ck_assert_str_eq(i.cc, "cubic"); /* the default, as in Linux */
    done(&y);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_loss");
    TCase *sack = tcase_create("sack");
    tcase_add_test(sack, sack_one_hole_resends_exactly_it);
    tcase_add_test(sack, sack_several_holes_resent_in_order);
    tcase_add_test(sack, forged_sack_blocks_ignored);
    tcase_add_test(sack, lost_retransmission_found_by_rack);
    suite_add_tcase(s, sack);
    TCase *rack = tcase_create("rack_tlp");
    tcase_add_test(rack, rack_reordering_window_then_timer);
    tcase_add_test(rack, rack_reordering_not_retransmitted);
    tcase_add_test(rack, tail_loss_probe_at_pto_then_rack);
    tcase_add_test(rack, tail_loss_probe_sends_new_data_first);
    suite_add_tcase(s, rack);
    TCase *nr = tcase_create("newreno");
    tcase_add_test(nr, newreno_dupacks_limited_transmit_partial_ack);
    tcase_add_test(nr, cc_selectable_per_stack_and_connection);
    suite_add_tcase(s, nr);
    TCase *rto = tcase_create("rto_undo");
    tcase_add_test(rto, rto_resends_first_then_slow_starts);
    tcase_add_test(rto, spurious_rto_undone_by_timestamps);
    tcase_add_test(rto, real_rto_not_undone);
    tcase_add_test(rto, fast_recovery_undone_by_dsack);
    suite_add_tcase(s, rto);
    TCase *prr = tcase_create("prr");
    tcase_add_test(prr, prr_proportional_rate_reduction);
    suite_add_tcase(s, prr);
    return h_run(s);
}
