/* Congestion control alone (tcp_cc.h): NewReno (RFC 5681, RFC 3465 byte
 * counting), CUBIC (RFC 9438) and HyStart++ (RFC 9406).  Each test makes a
 * struct tcp_cc as the sender would, calls the ops with a clock of its own
 * and asserts on cwnd, ssthresh and CUBIC's state.  Nothing else of the
 * stack is linked: only tcp_cc.c, tcp_newreno.c and tcp_cubic.c. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_cc.h"

#define MSS 1000u
#define MS  1000ULL
#define SEC 1000000ULL

/* ---- helpers ---- */

/* A connection's cc as the sender sets it up: cwnd the initial window,
 * ssthresh "infinite", no cap but the 32 bits. */
static void mk(struct tcp_cc *cc, const struct tcp_cc_ops *ops)
{
    memset(cc, 0, sizeof *cc);
    cc->ops = ops;
    cc->mss = MSS;
    cc->cwnd = tcp_cc_initial_window(MSS);
    cc->ssthresh = UINT32_MAX;
    cc->cwnd_max = UINT32_MAX;
    ops->init(cc, 0);
}

/* One ACK of `acked` bytes at `now`, with plenty still in flight. */
static void ack(struct tcp_cc *cc, uint64_t now, uint32_t acked, bool limited)
{
    struct tcp_cc_ack a = {.now = now,
                           .acked = acked,
                           .in_flight = cc->cwnd + acked,
                           .snd_una = 0,
                           .snd_nxt = 0x10000000u,
                           .cwnd_limited = limited};
    cc->ops->on_ack(cc, &a);
}

/* A sender with a window's worth of ACKs per round trip.  A round is what
 * HyStart++ calls one (RFC 9406 4.2): it ends with the ACK of what had
 * been sent (SND.NXT) when the round before ended.  Its ACKs, one segment
 * each, come evenly over one RTT, each with an RTT sample; what is sent
 * meanwhile is acked in the next round.  The sender always fills cwnd
 * (cwnd_limited) unless told not to. */
struct sim {
    struct tcp_cc cc;
    uint64_t now;      /* the current round began at now */
    uint32_t una, nxt; /* SND.UNA, SND.NXT */
    uint32_t rtt;      /* the samples of this round, us; 0 for none */
    uint32_t srtt;     /* 0: as rtt */
    bool app_limited;
    int samples;        /* < 0: every ACK has a sample; else only the first n */
    uint32_t round_end; /* SND.NXT when the round began */
    uint32_t nxt_seen;  /* SND.NXT as the last ACK reported it */
};

static void sim_new(struct sim *s, const struct tcp_cc_ops *ops, uint32_t rtt)
{
    memset(s, 0, sizeof *s);
    mk(&s->cc, ops);
    s->now = 1 * SEC;
    s->una = 0xFFFF0000u; /* near the wrap, so rounds cross it */
    s->nxt = s->una + s->cc.cwnd;
    s->round_end = s->nxt;
    s->rtt = rtt;
    s->samples = -1;
}

/* The sender's window changed outside the ACK clock (an event): what is
 * in flight is now cwnd, and a round begins. */
static void sim_refill(struct sim *s)
{
    s->nxt = s->una + s->cc.cwnd;
    s->round_end = s->nxt;
}

static void sim_ack(struct sim *s, uint64_t at, uint32_t bytes, bool sample)
{
    uint32_t flight = s->nxt - s->una;
    s->una += bytes;
    s->nxt_seen = s->nxt;
    struct tcp_cc_ack a = {.now = at,
                           .acked = bytes,
                           .rtt_us = sample ? s->rtt : 0,
                           .srtt_us = s->srtt ? s->srtt : s->rtt,
                           .min_rtt_us = s->rtt,
                           .in_flight = flight,
                           .snd_una = s->una,
                           .snd_nxt = s->nxt,
                           .cwnd_limited = !s->app_limited};
    s->cc.ops->on_ack(&s->cc, &a);
    /* The ACK clock: send up to cwnd (app-limited: keep the flight). */
    if (!s->app_limited && s->cc.cwnd > s->nxt - s->una)
        s->nxt = s->una + s->cc.cwnd;
    else if (s->app_limited)
        s->nxt += bytes;
}

/* One round trip; returns the bytes it acked, s->now at the next round. */
static uint32_t sim_round(struct sim *s)
{
    if (s->round_end == s->una) /* the last round drained the pipe */
        s->round_end = s->nxt;
    uint32_t w = s->round_end - s->una;
    uint32_t n = (w + MSS - 1) / MSS;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = w - i * MSS < MSS ? w - i * MSS : MSS;
        bool sample = s->samples < 0 || (int)i < s->samples;
        sim_ack(s, s->now + (uint64_t)s->rtt * (i + 1) / n, b, sample);
    }
    s->round_end = s->nxt_seen;
    s->now += s->rtt;
    return w;
}

static struct tcp_cubic_info info(const struct tcp_cc *cc)
{
    struct tcp_cubic_info i;
    tcp_cubic_get_info(cc, &i);
    return i;
}

/* W_cubic(t) = C (t - K)^3 + W_max of RFC 9438 4.2, in bytes, t and K in
 * seconds: the reference the implementation's integers are held to. */
static double w_cubic_ref(double t, double k, double w_max_bytes)
{
    double d = t - k;
    return 0.4 * d * d * d * MSS + w_max_bytes;
}

/* A congestion event at cwnd w with w in flight, and the end of its
 * recovery as the sender does it (cwnd = ssthresh). */
static void loss_at(struct tcp_cc *cc, uint32_t w, uint64_t now)
{
    cc->cwnd = w;
    cc->ops->on_congestion(cc, w, now);
    cc->cwnd = cc->ssthresh;
    cc->ops->on_recovery_exit(cc, now);
}

/* ---- the initial window ---- */

START_TEST(initial_window_rfc6928)
{
    /* min(10 MSS, max(2 MSS, 14600)) */
    ck_assert_uint_eq(tcp_cc_initial_window(1460), 14600);
    ck_assert_uint_eq(tcp_cc_initial_window(1000), 10000);
    ck_assert_uint_eq(tcp_cc_initial_window(536), 5360);
    ck_assert_uint_eq(tcp_cc_initial_window(8960), 17920);
}
END_TEST

/* ---- NewReno ---- */

START_TEST(newreno_slow_start_counts_bytes)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_newreno);
    ck_assert_uint_eq(cc.cwnd, 10000);
    ack(&cc, 1, 3000, true); /* an ACK of three segments: +3000, not +1 MSS */
    ck_assert_uint_eq(cc.cwnd, 13000);
    ack(&cc, 2, 20000, true); /* a stretch ACK (GRO on the receiver) */
    ck_assert_uint_eq(cc.cwnd, 33000);
    ack(&cc, 3, 1, true);
    ck_assert_uint_eq(cc.cwnd, 33001);
    ck_assert_uint_eq(cc.ssthresh, UINT32_MAX);
}
END_TEST

START_TEST(newreno_split_at_ssthresh)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_newreno);
    cc.ssthresh = 15000;
    /* 8000 acked at cwnd 10000: 5000 is slow start (to ssthresh), the
     * other 3000 count towards congestion avoidance. */
    ack(&cc, 1, 8000, true);
    ck_assert_uint_eq(cc.cwnd, 15000);
    /* 12000 more make 15000 = cwnd in congestion avoidance: + 1 MSS.  Had
     * the 3000 been dropped (or slow start run past ssthresh), this would
     * differ. */
    ack(&cc, 2, 11999, true);
    ck_assert_uint_eq(cc.cwnd, 15000);
    ack(&cc, 3, 1, true);
    ck_assert_uint_eq(cc.cwnd, 16000);
}
END_TEST

START_TEST(newreno_ca_one_mss_per_window)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_newreno);
    cc.cwnd = 20000;
    cc.ssthresh = 10000;
    for (int i = 0; i < 19; i++)
        ack(&cc, 1, MSS, true);
    ck_assert_uint_eq(cc.cwnd, 20000);
    ack(&cc, 2, MSS, true); /* 20 x 1000 = one window */
    ck_assert_uint_eq(cc.cwnd, 21000);
    /* The next MSS takes a window of 21000: small ACKs add up exactly. */
    for (int i = 0; i < 209; i++)
        ack(&cc, 3, 100, true);
    ck_assert_uint_eq(cc.cwnd, 21000);
    ack(&cc, 4, 100, true);
    ck_assert_uint_eq(cc.cwnd, 22000);
    /* A stretch ACK of two windows: two MSS. */
    ack(&cc, 5, 22000 + 23000, true);
    ck_assert_uint_eq(cc.cwnd, 24000);
    ck_assert_uint_eq(cc.ssthresh, 10000);
}
END_TEST

START_TEST(newreno_no_growth_unless_cwnd_limited)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_newreno);
    for (int i = 0; i < 100; i++)
        ack(&cc, 1, MSS, false);
    ck_assert_uint_eq(cc.cwnd, 10000); /* slow start */
    cc.ssthresh = 5000;
    for (int i = 0; i < 100; i++)
        ack(&cc, 2, MSS, false);
    ck_assert_uint_eq(cc.cwnd, 10000); /* congestion avoidance */
    /* ...and those ACKs were not banked either. */
    for (int i = 0; i < 9; i++)
        ack(&cc, 3, MSS, true);
    ck_assert_uint_eq(cc.cwnd, 10000);
    ack(&cc, 3, MSS, true);
    ck_assert_uint_eq(cc.cwnd, 11000);
}
END_TEST

START_TEST(newreno_cwnd_max)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_newreno);
    cc.cwnd_max = 12500;
    ack(&cc, 1, 5000, true);
    ck_assert_uint_eq(cc.cwnd, 12500);
    ack(&cc, 2, 50000, true);
    ck_assert_uint_eq(cc.cwnd, 12500);
    cc.ssthresh = 12000; /* congestion avoidance stops there too */
    for (int i = 0; i < 100; i++)
        ack(&cc, 3, MSS, true);
    ck_assert_uint_eq(cc.cwnd, 12500);
}
END_TEST

START_TEST(newreno_congestion_halves_flight)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_newreno);
    cc.cwnd = 40000;
    /* RFC 5681 eqn. 4: max(FlightSize / 2, 2 SMSS), from the flight, not
     * from cwnd; cwnd itself is the sender's (PRR) to bring down. */
    cc.ops->on_congestion(&cc, 30000, 1);
    ck_assert_uint_eq(cc.ssthresh, 15000);
    ck_assert_uint_eq(cc.cwnd, 40000);
    cc.ops->on_congestion(&cc, 3001, 2);
    ck_assert_uint_eq(cc.ssthresh, 2 * MSS);
    cc.ops->on_congestion(&cc, 4002, 3);
    ck_assert_uint_eq(cc.ssthresh, 2001);
}
END_TEST

START_TEST(newreno_rto_loss_window)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_newreno);
    cc.cwnd = 40000;
    cc.ops->on_rto(&cc, 36000, 1);
    ck_assert_uint_eq(cc.cwnd, MSS); /* RFC 5681 3.1: the loss window */
    ck_assert_uint_eq(cc.ssthresh, 18000);
    /* Slow start again, up to ssthresh, then one MSS per window. */
    ack(&cc, 2, MSS, true);
    ck_assert_uint_eq(cc.cwnd, 2000);
    ack(&cc, 3, 20000, true);
    ck_assert_uint_eq(cc.cwnd, 18000);
    cc.ops->on_rto(&cc, 1000, 4);
    ck_assert_uint_eq(cc.cwnd, MSS);
    ck_assert_uint_eq(cc.ssthresh, 2 * MSS);
}
END_TEST

START_TEST(newreno_undo_restores_count)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_newreno);
    cc.cwnd = 20000;
    cc.ssthresh = 10000;
    for (int i = 0; i < 15; i++)
        ack(&cc, 1, MSS, true);
    ck_assert_uint_eq(cc.cwnd, 20000);
    cc.ops->on_congestion(&cc, 20000, 2);
    ck_assert_uint_eq(cc.ssthresh, 10000);
    /* Spurious: the sender puts cwnd and ssthresh back, then undo. */
    cc.cwnd = 20000;
    cc.ssthresh = 10000;
    cc.ops->undo(&cc);
    for (int i = 0; i < 4; i++)
        ack(&cc, 3, MSS, true);
    ck_assert_uint_eq(cc.cwnd, 20000);
    ack(&cc, 3, MSS, true); /* the 15 before the event count */
    ck_assert_uint_eq(cc.cwnd, 21000);
}
END_TEST

/* ---- CUBIC ---- */

START_TEST(cubic_beta_ssthresh)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_cubic);
    cc.cwnd = 100000;
    /* RFC 9438 4.6: ssthresh = flight_size * 0.7 (we take the flight size,
     * as the RFC does; see docs/congestion.md). */
    cc.ops->on_congestion(&cc, 100000, 1 * SEC);
    ck_assert_uint_eq(cc.ssthresh, 70000);
    ck_assert_uint_eq(cc.cwnd, 100000); /* PRR's to reduce */
    struct tcp_cubic_info i = info(&cc);
    ck_assert_uint_eq(i.w_max, 100000);
    ck_assert_uint_eq(i.cwnd_prior, 100000);
    ck_assert(!i.in_epoch);
    ck_assert_int_eq(i.hystart, TCP_HYSTART_DONE);
    /* Application-limited at the loss: 0.7 of what was in flight. */
    mk(&cc, &tcp_cubic);
    cc.cwnd = 100000;
    cc.ops->on_congestion(&cc, 50000, 1 * SEC);
    ck_assert_uint_eq(cc.ssthresh, 35000);
    /* Never below 2 SMSS. */
    mk(&cc, &tcp_cubic);
    cc.ops->on_congestion(&cc, 2500, 1 * SEC);
    ck_assert_uint_eq(cc.ssthresh, 2 * MSS);
}
END_TEST

START_TEST(cubic_k_formula)
{
    /* K = cbrt((W_max - cwnd_epoch) / C) (RFC 9438 4.2), cwnd_epoch =
     * 0.7 W_max after a loss: W_max = 100 segments gives cbrt(75) =
     * 4.2172 s; 1000 segments cbrt(750) = 9.0856 s.  Milliseconds, floor. */
    static const struct {
        uint32_t w, k_ms;
    } cases[] = {{100, 4217}, {1000, 9085}, {10, 1957}, {40000, 31072}};
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        struct sim s;
        sim_new(&s, &tcp_cubic, 100 * MS);
        loss_at(&s.cc, cases[n].w * MSS, s.now);
        ck_assert(!info(&s.cc).in_epoch);
        sim_ack(&s, s.now + MS, MSS, true); /* the epoch begins */
        struct tcp_cubic_info i = info(&s.cc);
        ck_assert(i.in_epoch);
        ck_assert_uint_eq(i.t_epoch, s.now + MS);
        ck_assert_uint_eq(i.cwnd_epoch, cases[n].w * MSS * 7 / 10);
        ck_assert_uint_eq(i.w_max, cases[n].w * MSS);
        ck_assert_msg(i.k_ms == cases[n].k_ms, "W_max %u segments: K %u ms, expected %u",
                      cases[n].w, i.k_ms, cases[n].k_ms);
    }
}
END_TEST

/* The window after a loss at 100 segments, driven one window per RTT:
 * compared with W_cubic at t = 0, K/2, K and 1.5 K after the epoch began.
 *
 * Each ACK moves cwnd by (target - cwnd) / cwnd segments towards target =
 * W_cubic(t + RTT) (RFC 9438 4.4, 4.5): per round trip cwnd closes the
 * distance to a point one RTT ahead by a factor of about e, a lag of about
 * one RTT that undoes the look-ahead, so cwnd stays near W_cubic(t) and
 * below W_cubic(t + RTT).  The test holds it to [W_cubic(t) - MSS/2,
 * W_cubic(t + RTT)] (measured: within 0.12 segment of W_cubic(t) at the
 * three points; the interval is 1 segment wide at K/2, the curve's slope
 * there being 5.3 segments/s, and the half segment below covers the
 * integer arithmetic: ms for time, whole bytes).  A K wrong by 50 ms, or
 * a wrong C or W_max, falls outside.  The 200 ms RTT keeps W_est (0.53
 * segment per RTT) under the curve, so the curve alone decides. */
START_TEST(cubic_follows_w_cubic)
{
    const uint32_t rtt = 200 * MS;
    struct sim s;
    sim_new(&s, &tcp_cubic, rtt);
    loss_at(&s.cc, 100 * MSS, s.now);
    ck_assert_uint_eq(s.cc.cwnd, 70000);
    sim_refill(&s);
    /* Begin the epoch with the first ACK and read K. */
    sim_ack(&s, s.now + 1, MSS, true);
    struct tcp_cubic_info i = info(&s.cc);
    const double k = i.k_ms / 1000.0;
    const uint64_t t0 = i.t_epoch;
    ck_assert(k > 4.216 && k < 4.218);
    /* t = 0: cwnd_epoch = W_cubic(0) = 70 segments.  On this first ACK
     * W_est (70 + 9/17 / 70 segments) is just above W_cubic(0), so cwnd
     * is W_est: 7 bytes more. */
    ck_assert_uint_eq(i.cwnd_epoch, 70000);
    ck_assert(w_cubic_ref(0, k, 100000) > 69990 && w_cubic_ref(0, k, 100000) < 70010);
    ck_assert_uint_eq(s.cc.cwnd, 70000 + 9 * MSS * MSS / (17 * 70000));

    const double at[] = {k / 2, k, 1.5 * k};
    size_t next = 0;
    int rounds = 0;
    while (next < 3 && rounds++ < 1000) {
        uint32_t w = s.round_end - s.una;
        uint32_t n = (w + MSS - 1) / MSS;
        for (uint32_t j = 0; j < n && next < 3; j++) {
            uint32_t b = w - j * MSS < MSS ? w - j * MSS : MSS;
            uint64_t when = s.now + (uint64_t)rtt * (j + 1) / n;
            sim_ack(&s, when, b, true);
            double t = (double)(when - t0) / SEC;
            if (t < at[next])
                continue;
            double lo = w_cubic_ref(t, k, 100000);
            double hi = w_cubic_ref(t + rtt / (double)SEC, k, 100000);
            ck_assert_msg(s.cc.cwnd >= lo - MSS / 2 && s.cc.cwnd <= hi,
                          "t = %.3f s: cwnd %u, W_cubic(t) %.0f, W_cubic(t + RTT) %.0f", t,
                          s.cc.cwnd, lo, hi);
            next++;
        }
        s.round_end = s.nxt_seen;
        s.now += rtt;
    }
    ck_assert_uint_eq(next, 3);
    /* Past 1.5 K the curve is convex: still rising, beyond W_max. */
    ck_assert_uint_gt(s.cc.cwnd, 103000);
    ck_assert_uint_lt(info(&s.cc).w_est, 90000);
}
END_TEST

START_TEST(cubic_target_capped_at_1_5_cwnd)
{
    /* Far beyond K the curve is steep; one window of ACKs may take cwnd
     * at most to 1.5 cwnd (RFC 9438 4.5). */
    struct sim s;
    sim_new(&s, &tcp_cubic, 100 * MS);
    loss_at(&s.cc, 100 * MSS, s.now);
    sim_refill(&s);
    sim_ack(&s, s.now + 1, MSS, true);
    /* 60 s later (app-limited time would be skipped; this is not). */
    s.now += 60 * SEC;
    uint32_t before = s.cc.cwnd;
    sim_round(&s);
    ck_assert_uint_le(s.cc.cwnd, before + before / 2 + MSS);
    ck_assert_uint_ge(s.cc.cwnd, before + before / 2 - 2 * MSS);
}
END_TEST

START_TEST(cubic_fast_convergence)
{
    struct tcp_cc cc;
    mk(&cc, &tcp_cubic);
    loss_at(&cc, 100000, 1 * SEC);
    ck_assert_uint_eq(info(&cc).w_max, 100000);
    /* A loss at 80 segments, below W_max = 100: W_max = 80 * (1 + 0.7) / 2
     * = 68 segments (RFC 9438 4.7); ssthresh is 0.7 * 80 all the same. */
    loss_at(&cc, 80000, 2 * SEC);
    ck_assert_uint_eq(info(&cc).w_max, 68000);
    ck_assert_uint_eq(cc.ssthresh, 56000);
    /* At or above W_max: W_max = cwnd. */
    loss_at(&cc, 68000, 3 * SEC);
    ck_assert_uint_eq(info(&cc).w_max, 68000);
    loss_at(&cc, 90000, 4 * SEC);
    ck_assert_uint_eq(info(&cc).w_max, 90000);
    ck_assert_uint_eq(cc.ssthresh, 63000);
    /* And K is computed from the lowered W_max: 0.85 W - 0.7 W = 0.15 W. */
    struct sim s;
    sim_new(&s, &tcp_cubic, 100 * MS);
    loss_at(&s.cc, 100 * MSS, s.now);
    loss_at(&s.cc, 100 * MSS - 1, s.now);
    sim_ack(&s, s.now + 1, MSS, true);
    /* cbrt((84.99915 - 69.9993) / 0.4) = cbrt(37.4996) = 3.3472 s */
    ck_assert_uint_eq(info(&s.cc).k_ms, 3347);
}
END_TEST

START_TEST(cubic_reno_friendly_region)
{
    /* A 1 ms RTT: Reno's 0.53 segment per RTT (alpha_cubic = 9/17) is
     * 530 segments/s, far above the curve's start; cwnd follows W_est
     * (RFC 9438 4.3). */
    struct sim s;
    sim_new(&s, &tcp_cubic, 1 * MS);
    loss_at(&s.cc, 100 * MSS, s.now);
    sim_refill(&s);
    for (int r = 0; r < 20; r++)
        sim_round(&s);
    struct tcp_cubic_info i = info(&s.cc);
    ck_assert_uint_eq(s.cc.cwnd, i.w_est);
    /* W_est grows by alpha * acked / cwnd segments: about 9/17 MSS per
     * round, a little less as cwnd grows within the round. */
    ck_assert_uint_ge(s.cc.cwnd, 70000 + 20 * 529 - MSS);
    ck_assert_uint_le(s.cc.cwnd, 70000 + 20 * 530);
    /* The curve alone would be about 70 segments: W_cubic(21 ms) is
     * within 0.5 segment of cwnd_epoch. */
    ck_assert_uint_gt(s.cc.cwnd, 70000 + 9 * MSS);
    /* Once W_est reaches cwnd_prior (100 segments), alpha is 1: one MSS
     * per round, Reno's own rate. */
    while (s.cc.cwnd < 100000)
        sim_round(&s);
    sim_round(&s);
    uint32_t w = s.cc.cwnd;
    for (int r = 0; r < 10; r++)
        sim_round(&s);
    ck_assert_uint_ge(s.cc.cwnd, w + 10 * MSS - MSS);
    ck_assert_uint_le(s.cc.cwnd, w + 10 * MSS);
    ck_assert_uint_eq(s.cc.cwnd, info(&s.cc).w_est);
}
END_TEST

START_TEST(cubic_no_growth_unless_cwnd_limited)
{
    struct sim s;
    sim_new(&s, &tcp_cubic, 100 * MS);
    s.app_limited = true;
    for (int r = 0; r < 10; r++)
        sim_round(&s);
    ck_assert_uint_eq(s.cc.cwnd, 10000); /* slow start */
    s.app_limited = false;
    loss_at(&s.cc, 100 * MSS, s.now);
    sim_refill(&s);
    s.app_limited = true;
    for (int r = 0; r < 10; r++)
        sim_round(&s);
    ck_assert_uint_eq(s.cc.cwnd, 70000); /* congestion avoidance */
    ck_assert(!info(&s.cc).in_epoch);    /* nor did the epoch begin */
}
END_TEST

START_TEST(cubic_app_limited_time_not_in_t)
{
    /* RFC 9438 5.8: t must not include time the flow was app-limited.
     * Two identical flows; one pauses (app-limited) for 10 s in the middle
     * of the epoch.  Afterwards its curve resumes where it left off. */
    struct sim a, b;
    sim_new(&a, &tcp_cubic, 100 * MS);
    sim_new(&b, &tcp_cubic, 100 * MS);
    loss_at(&a.cc, 100 * MSS, a.now);
    loss_at(&b.cc, 100 * MSS, b.now);
    sim_refill(&a);
    sim_refill(&b);
    for (int r = 0; r < 10; r++) {
        sim_round(&a);
        sim_round(&b);
    }
    ck_assert_uint_eq(a.cc.cwnd, b.cc.cwnd);
    uint64_t t_epoch = info(&b.cc).t_epoch;
    b.app_limited = true;
    for (int r = 0; r < 100; r++) /* 10 s */
        sim_round(&b);
    ck_assert_uint_eq(b.cc.cwnd, a.cc.cwnd);
    ck_assert_uint_ge(info(&b.cc).t_epoch, t_epoch + 10 * SEC - 100 * MS);
    b.app_limited = false;
    for (int r = 0; r < 10; r++) {
        sim_round(&a);
        sim_round(&b);
    }
    /* Without the rule, b would be 10 s ahead on the curve, beyond K. */
    ck_assert_int_le(abs((int)a.cc.cwnd - (int)b.cc.cwnd), (int)MSS);
    ck_assert_uint_lt(b.cc.cwnd, 100000);
}
END_TEST

START_TEST(cubic_idle_time_not_in_t)
{
    /* An ACK leaves nothing in flight; the next data goes out 20 s later.
     * The gap less one RTT is skipped (RFC 9438 5.8). */
    struct tcp_cc cc;
    mk(&cc, &tcp_cubic);
    loss_at(&cc, 100000, 1 * SEC);
    struct tcp_cc_ack a = {.now = 2 * SEC,
                           .acked = MSS,
                           .rtt_us = 100 * MS,
                           .srtt_us = 100 * MS,
                           .in_flight = 50000,
                           .cwnd_limited = true};
    cc.ops->on_ack(&cc, &a);
    ck_assert_uint_eq(info(&cc).t_epoch, 2 * SEC);
    a.now = 3 * SEC;
    a.in_flight = MSS; /* the last ACK before the pause empties the pipe */
    cc.ops->on_ack(&cc, &a);
    ck_assert_uint_eq(info(&cc).t_epoch, 2 * SEC);
    a.now = 23 * SEC; /* sent at 22.9 s, after 19.9 s idle */
    a.in_flight = 10 * MSS;
    cc.ops->on_ack(&cc, &a);
    ck_assert_uint_eq(info(&cc).t_epoch, 2 * SEC + 19900 * MS);
}
END_TEST

START_TEST(cubic_undo_restores_curve)
{
    struct sim s;
    sim_new(&s, &tcp_cubic, 100 * MS);
    loss_at(&s.cc, 100 * MSS, s.now);
    sim_refill(&s);
    for (int r = 0; r < 15; r++)
        sim_round(&s);
    struct tcp_cubic_info before = info(&s.cc);
    uint32_t cwnd = s.cc.cwnd, ssthresh = s.cc.ssthresh;
    ck_assert(before.in_epoch);
    ck_assert_uint_eq(before.w_max, 100000);
    /* A (spurious) loss below W_max: fast convergence lowers W_max; after
     * recovery a new epoch begins, with its own K, t_epoch and W_est. */
    s.cc.ops->on_congestion(&s.cc, cwnd, s.now);
    ck_assert_uint_eq(info(&s.cc).w_max, cwnd * 17 / 20);
    ck_assert(!info(&s.cc).in_epoch);
    s.cc.cwnd = s.cc.ssthresh;
    s.cc.ops->on_recovery_exit(&s.cc, s.now);
    sim_refill(&s);
    s.now += 2 * SEC;
    sim_round(&s);
    struct tcp_cubic_info mid = info(&s.cc);
    ck_assert(mid.in_epoch);
    ck_assert_uint_ne(mid.k_ms, before.k_ms);
    ck_assert_uint_ne(mid.t_epoch, before.t_epoch);
    ck_assert_uint_ne(mid.w_est, before.w_est);
    /* The sender finds it spurious (a D-SACK for every retransmission):
     * cwnd and ssthresh back, then undo. */
    s.cc.cwnd = cwnd;
    s.cc.ssthresh = ssthresh;
    s.cc.ops->undo(&s.cc);
    struct tcp_cubic_info after = info(&s.cc);
    ck_assert_uint_eq(after.w_max, before.w_max);
    ck_assert_uint_eq(after.k_ms, before.k_ms);
    ck_assert_uint_eq(after.t_epoch, before.t_epoch);
    ck_assert_uint_eq(after.cwnd_epoch, before.cwnd_epoch);
    ck_assert_uint_eq(after.w_est, before.w_est);
    ck_assert_uint_eq(after.cwnd_prior, before.cwnd_prior);
    ck_assert(after.in_epoch);
    /* The same after an RTO, and the slow start that followed it. */
    s.cc.ops->on_rto(&s.cc, cwnd, s.now);
    ck_assert_uint_eq(s.cc.cwnd, MSS);
    sim_refill(&s);
    sim_round(&s);
    ck_assert_uint_eq(s.cc.cwnd, 2 * MSS);
    s.cc.cwnd = cwnd;
    s.cc.ssthresh = ssthresh;
    s.cc.ops->undo(&s.cc);
    after = info(&s.cc);
    ck_assert_uint_eq(after.w_max, before.w_max);
    ck_assert_uint_eq(after.k_ms, before.k_ms);
    ck_assert_uint_eq(after.t_epoch, before.t_epoch);
    ck_assert(after.in_epoch);
    /* The curve goes on as if nothing happened: the next ACK is not a new
     * epoch. */
    sim_round(&s);
    ck_assert_uint_eq(info(&s.cc).t_epoch, before.t_epoch);
    ck_assert_uint_ge(s.cc.cwnd, cwnd);
}
END_TEST

START_TEST(cubic_rto)
{
    struct sim s;
    sim_new(&s, &tcp_cubic, 100 * MS);
    s.cc.cwnd = 100000;
    s.cc.ops->on_rto(&s.cc, 80000, s.now);
    ck_assert_uint_eq(s.cc.cwnd, MSS);       /* RFC 5681 3.1 */
    ck_assert_uint_eq(s.cc.ssthresh, 56000); /* RFC 9438 4.8: 0.7 of the flight */
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_DONE);
    /* Standard slow start (RFC 9406 4.3): a rising RTT does not matter. */
    s.una = s.nxt; /* all of it is lost and resent, as far as cc knows */
    sim_refill(&s);
    for (int r = 0; r < 5; r++) {
        s.rtt += 30 * MS;
        uint32_t w = s.cc.cwnd;
        uint32_t acked = sim_round(&s);
        ck_assert_uint_eq(s.cc.cwnd, w + acked);
        ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_DONE);
    }
    ck_assert_uint_ge(s.cc.cwnd, 16000);
    while (s.cc.cwnd < s.cc.ssthresh)
        sim_round(&s);
    /* The first epoch after a timeout: K = 0, W_max = cwnd_epoch (4.8). */
    struct tcp_cubic_info i = info(&s.cc);
    ck_assert(i.in_epoch);
    ck_assert_uint_eq(i.k_ms, 0);
    ck_assert_uint_eq(i.w_max, i.cwnd_epoch);
    ck_assert_uint_ge(i.cwnd_epoch, 56000);
    ck_assert_uint_eq(i.cwnd_prior, 100000);
}
END_TEST

START_TEST(cubic_cwnd_max)
{
    struct sim s;
    sim_new(&s, &tcp_cubic, 100 * MS);
    s.cc.cwnd_max = 75000;
    loss_at(&s.cc, 100 * MSS, s.now);
    sim_refill(&s);
    for (int r = 0; r < 100; r++)
        sim_round(&s);
    ck_assert_uint_eq(s.cc.cwnd, 75000);
    s.cc.cwnd_max = 20000;
    for (int r = 0; r < 12; r++)
        sim_round(&s);
    ck_assert_uint_eq(s.cc.cwnd, 75000); /* not shrunk: the sender's call */
}
END_TEST

/* ---- HyStart++ ---- */

START_TEST(hystart_constant_rtt_keeps_slow_start)
{
    struct sim s;
    sim_new(&s, &tcp_cubic, 50 * MS);
    for (int r = 0; r < 12; r++) {
        uint32_t w = s.cc.cwnd;
        /* Slow start: cwnd grows by every byte acked in the round. */
        uint32_t acked = sim_round(&s);
        ck_assert_uint_eq(s.cc.cwnd, w + acked);
        ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_SS);
    }
    ck_assert_uint_eq(s.cc.ssthresh, UINT32_MAX);
    /* About one doubling per round trip: 2^12 x 10 segments, less what
     * each round's last ACK sends, which the round after next acks. */
    ck_assert_uint_gt(s.cc.cwnd, (10000u << 12) * 9 / 10);
}
END_TEST

/* Three rounds at base, then one at base + rise with RTT samples on its
 * first `samples` ACKs (< 0: all): in CSS after it? */
static bool css_after(uint32_t base, uint32_t rise, int samples)
{
    struct sim s;
    sim_new(&s, &tcp_cubic, base);
    for (int r = 0; r < 3; r++)
        sim_round(&s);
    s.rtt = base + rise;
    s.samples = samples;
    sim_round(&s);
    return info(&s.cc).hystart == TCP_HYSTART_CSS;
}

static bool css_after_rise(uint32_t base, uint32_t rise)
{
    return css_after(base, rise, -1);
}

START_TEST(hystart_rtt_thresh)
{
    /* RttThresh = clamp(lastRoundMinRTT / 8, 4 ms, 16 ms) (RFC 9406 4.2). */
    ck_assert(!css_after_rise(50 * MS, 6249));
    ck_assert(css_after_rise(50 * MS, 6250));
    ck_assert(!css_after_rise(10 * MS, 3999)); /* 1.25 ms clamped up to 4 */
    ck_assert(css_after_rise(10 * MS, 4000));
    ck_assert(!css_after_rise(200 * MS, 15999)); /* 25 ms clamped down to 16 */
    ck_assert(css_after_rise(200 * MS, 16000));
}
END_TEST

START_TEST(hystart_needs_8_samples)
{
    /* N_RTT_SAMPLE = 8 (RFC 9406 4.3): a round whose 7 samples all show
     * a 30 ms rise is not enough; 8 are. */
    ck_assert(!css_after(50 * MS, 30 * MS, 7));
    ck_assert(css_after(50 * MS, 30 * MS, 8));
    struct sim s;
    sim_new(&s, &tcp_cubic, 50 * MS);
    for (int r = 0; r < 3; r++)
        sim_round(&s);
    s.rtt = 80 * MS;
    s.samples = 7;
    uint32_t w = s.cc.cwnd;
    uint32_t acked = sim_round(&s);
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_SS);
    ck_assert_uint_eq(s.cc.cwnd, w + acked); /* all of it slow start */
}
END_TEST

START_TEST(hystart_css_then_congestion_avoidance)
{
    struct sim s;
    sim_new(&s, &tcp_cubic, 50 * MS);
    for (int r = 0; r < 3; r++)
        sim_round(&s);
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_SS);
    /* Round 4: the RTT rises 10 ms (> 50/8 ms).  The 8th sample shows it:
     * 8 ACKs grow cwnd as slow start, the others a quarter as much. */
    s.rtt = 60 * MS;
    uint32_t w = s.cc.cwnd;
    uint32_t acked = sim_round(&s);
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_CSS);
    ck_assert_uint_eq(info(&s.cc).css_rounds, 1); /* a partial round counts */
    ck_assert_uint_eq(s.cc.cwnd, w + 8 * MSS + (acked - 8 * MSS) / 4);
    ck_assert_uint_eq(s.cc.ssthresh, UINT32_MAX);
    /* CSS rounds 2 to 4: cwnd grows by a quarter of the bytes acked (RFC
     * 9406 CSS_GROWTH_DIVISOR = 4), within the byte of remainder that
     * passes from one ACK to the next. */
    for (int r = 2; r <= 4; r++) {
        w = s.cc.cwnd;
        acked = sim_round(&s);
        ck_assert_uint_ge(s.cc.cwnd, w + acked / 4 - 1);
        ck_assert_uint_le(s.cc.cwnd, w + acked / 4 + 1);
        ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_CSS);
        ck_assert_uint_eq(info(&s.cc).css_rounds, (uint32_t)r);
    }
    /* The 5th CSS round ends it: ssthresh = cwnd, congestion avoidance. */
    w = s.cc.cwnd;
    acked = sim_round(&s);
    ck_assert_uint_ge(s.cc.cwnd, w + acked / 4 - 1);
    ck_assert_uint_le(s.cc.cwnd, w + acked / 4 + 1);
    ck_assert_uint_eq(s.cc.ssthresh, s.cc.cwnd);
    struct tcp_cubic_info i = info(&s.cc);
    ck_assert_int_eq(i.hystart, TCP_HYSTART_DONE);
    ck_assert_uint_eq(i.cwnd_prior, s.cc.cwnd);
    /* The first epoch: W_max unknown, so K = 0 and W_max = cwnd_epoch
     * (RFC 9438 4.10); growth is now far slower than slow start. */
    w = s.cc.cwnd;
    sim_round(&s);
    i = info(&s.cc);
    ck_assert(i.in_epoch);
    ck_assert_uint_eq(i.k_ms, 0);
    ck_assert_uint_eq(i.w_max, w);
    ck_assert_uint_gt(s.cc.cwnd, w);
    ck_assert_uint_lt(s.cc.cwnd, w + w / 20);
}
END_TEST

START_TEST(hystart_rtt_drop_resumes_slow_start)
{
    struct sim s;
    sim_new(&s, &tcp_cubic, 50 * MS);
    for (int r = 0; r < 3; r++)
        sim_round(&s);
    s.rtt = 60 * MS;
    sim_round(&s);
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_CSS);
    /* In the next round the RTT falls below cssBaselineMinRtt (60 ms): the
     * rise was jitter.  After 8 samples (at a quarter's growth) slow start
     * resumes. */
    uint32_t w = s.cc.cwnd;
    s.rtt = 55 * MS;
    uint32_t acked = sim_round(&s);
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_SS);
    ck_assert_uint_eq(s.cc.cwnd, w + 8 * MSS / 4 + (acked - 8 * MSS));
    ck_assert_uint_eq(s.cc.ssthresh, UINT32_MAX);
    /* Slow start goes on at 55 ms: no rise against the last round. */
    w = s.cc.cwnd;
    acked = sim_round(&s);
    ck_assert_uint_eq(s.cc.cwnd, w + acked);
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_SS);
}
END_TEST

START_TEST(hystart_ignores_app_limited_rounds)
{
    /* An app-limited sender's rising RTT is not its own queue: no CSS,
     * no rounds counted, no growth. */
    struct sim s;
    sim_new(&s, &tcp_cubic, 50 * MS);
    for (int r = 0; r < 3; r++)
        sim_round(&s);
    uint32_t w = s.cc.cwnd;
    s.app_limited = true;
    s.rtt = 100 * MS;
    for (int r = 0; r < 8; r++)
        sim_round(&s);
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_SS);
    ck_assert_uint_eq(s.cc.cwnd, w);
    ck_assert_uint_eq(s.cc.ssthresh, UINT32_MAX);
    /* Back to filling cwnd at 50 ms: still slow start, at full rate. */
    s.app_limited = false;
    s.rtt = 50 * MS;
    for (int r = 0; r < 3; r++) {
        w = s.cc.cwnd;
        uint32_t acked = sim_round(&s);
        ck_assert_uint_eq(s.cc.cwnd, w + acked);
    }
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_SS);
}
END_TEST

START_TEST(hystart_off_after_loss)
{
    struct sim s;
    sim_new(&s, &tcp_cubic, 50 * MS);
    sim_round(&s);
    s.cc.cwnd = 20000;
    s.cc.ops->on_congestion(&s.cc, 20000, s.now);
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_DONE);
    /* Undo of that loss gives HyStart++ back with the "infinite" ssthresh. */
    s.cc.ssthresh = UINT32_MAX;
    s.cc.ops->undo(&s.cc);
    ck_assert_int_eq(info(&s.cc).hystart, TCP_HYSTART_SS);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tcp_cc");
    TCase *nr = tcase_create("newreno");
    tcase_add_test(nr, initial_window_rfc6928);
    tcase_add_test(nr, newreno_slow_start_counts_bytes);
    tcase_add_test(nr, newreno_split_at_ssthresh);
    tcase_add_test(nr, newreno_ca_one_mss_per_window);
    tcase_add_test(nr, newreno_no_growth_unless_cwnd_limited);
    tcase_add_test(nr, newreno_cwnd_max);
    tcase_add_test(nr, newreno_congestion_halves_flight);
    tcase_add_test(nr, newreno_rto_loss_window);
    tcase_add_test(nr, newreno_undo_restores_count);
    suite_add_tcase(s, nr);
    TCase *cu = tcase_create("cubic");
    tcase_add_test(cu, cubic_beta_ssthresh);
    tcase_add_test(cu, cubic_k_formula);
    tcase_add_test(cu, cubic_follows_w_cubic);
    tcase_add_test(cu, cubic_target_capped_at_1_5_cwnd);
    tcase_add_test(cu, cubic_fast_convergence);
    tcase_add_test(cu, cubic_reno_friendly_region);
    tcase_add_test(cu, cubic_no_growth_unless_cwnd_limited);
    tcase_add_test(cu, cubic_app_limited_time_not_in_t);
    tcase_add_test(cu, cubic_idle_time_not_in_t);
    tcase_add_test(cu, cubic_undo_restores_curve);
    tcase_add_test(cu, cubic_rto);
    tcase_add_test(cu, cubic_cwnd_max);
    suite_add_tcase(s, cu);
    TCase *hs = tcase_create("hystart");
    tcase_add_test(hs, hystart_constant_rtt_keeps_slow_start);
    tcase_add_test(hs, hystart_rtt_thresh);
    tcase_add_test(hs, hystart_needs_8_samples);
    tcase_add_test(hs, hystart_css_then_congestion_avoidance);
    tcase_add_test(hs, hystart_rtt_drop_resumes_slow_start);
    tcase_add_test(hs, hystart_ignores_app_limited_rounds);
    tcase_add_test(hs, hystart_off_after_loss);
    suite_add_tcase(s, hs);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
