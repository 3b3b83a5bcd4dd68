/* tcp_cubic.c - CUBIC (RFC 9438), with HyStart++ (RFC 9406) in its first
 * slow start.  The default algorithm, as in Linux, Windows and Apple's
 * stacks.
 *
 * Theory of operation.  After a congestion event CUBIC grows cwnd along
 * a cubic curve of the time since congestion avoidance began (the epoch):
 *
 *     W_cubic(t) = C * (t - K)^3 + W_max          (RFC 9438 4.2, eqn. 1)
 *
 * in segments and seconds, with W_max the window where the last loss
 * happened and K the time the curve takes to climb back there from
 * cwnd_epoch, the window the epoch began with.  The curve is concave below
 * W_max (fast at first, then flat near the old loss point) and convex
 * beyond it (probing slowly, then faster).  Each ACK moves cwnd a share of
 * the way to W_cubic one RTT ahead (4.4, 4.5).  On short RTTs the curve is
 * slower than Reno would be, so CUBIC also runs a Reno estimate W_est and
 * never goes below it (the Reno-friendly region, 4.3).  A congestion event
 * multiplies the window by beta_cubic = 0.7 (4.6) and, if it came before
 * the last W_max was reached again, lowers W_max to leave bandwidth to
 * newer flows (fast convergence, 4.7).
 *
 * Arithmetic is integer and exact enough to test against the formula:
 * windows in bytes, times in microseconds, K and the curve's time in
 * milliseconds, C = 4/10 and the cube root our own (no libm, no floating
 * point: the same results on every machine).
 *
 * The first slow start uses HyStart++: per round trip (delimited by
 * sequence numbers) the smallest of the RTT samples is compared with the
 * last round's; a rise by more than RttThresh means queues are building,
 * so slow start gives way to Conservative Slow Start (a quarter of the
 * growth) for at most five rounds, and then to congestion avoidance with
 * ssthresh = cwnd.  An RTT that falls back below what it was when CSS began
 * shows the rise was jitter: slow start resumes.
 */
#include <string.h>

#include "tcp_cc.h"

/* RFC 9438 4.1.1: C = 0.4 segments/s^3 and beta_cubic = 0.7, as fractions. */
#define BETA_NUM 7
#define BETA_DEN 10
/* 4.7: fast convergence sets W_max = cwnd * (1 + beta_cubic) / 2 = 17/20. */
#define FC_NUM 17
#define FC_DEN 20
/* 4.3: alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic) = 9/17, and 1
 * once W_est reaches cwnd_prior; both kept as multiples of 1/17. */
#define ALPHA17_CUBIC 9
#define ALPHA17_RENO  17
/* K in ms from (W_max - cwnd_epoch) in bytes: cbrt(diff / SMSS / C) seconds
 * = cbrt(diff * 10^9 / (0.4 * SMSS)) ms = cbrt(diff * 2.5e9 / SMSS). */
#define K_SCALE 2500000000ULL
/* The curve's time is saturated here (ms): 1000 s from K the offset is
 * C * 1000^3 = 4e8 segments, past any 32-bit window already. */
#define MAX_D_MS 1000000ULL
/* C * (d ms)^3 = 4 * d^3 / 10^10 segments. */
#define C_DEN 10000000000ULL

/* RFC 9406 4.3: the recommended constants. */
#define HS_MIN_RTT_THRESH     4000u  /* us */
#define HS_MAX_RTT_THRESH     16000u /* us */
#define HS_MIN_RTT_DIVISOR    8u
#define HS_N_RTT_SAMPLE       8u
#define HS_CSS_GROWTH_DIVISOR 4u
#define HS_CSS_ROUNDS         5u
#define RTT_INF               UINT32_MAX /* "infinity" in RFC 9406 4.2 */

enum {
    F_EPOCH = 1,     /* congestion avoidance began since the last event */
    F_AFTER_RTO = 2, /* the next epoch is the first after a timeout (4.8) */
    F_HAVE_LAST = 4, /* last_ack is set */
    F_IDLE = 8,      /* the last ACK left nothing in flight */
    F_ROUND = 16,    /* a HyStart++ round has begun */
};
enum { F_UNDO = F_EPOCH | F_AFTER_RTO }; /* the flags undo restores */

struct cubic {
    uint64_t t_epoch;  /* us; moved forward past app-limited time (5.8) */
    uint64_t last_ack; /* us, of the last on_ack */
    uint64_t est_acc;  /* W_est's growth not yet whole bytes, in 1/(17*cwnd) */
    uint64_t saved_t_epoch;
    uint32_t w_max;      /* bytes */
    uint32_t k_ms;       /* K */
    uint32_t cwnd_epoch; /* bytes */
    uint32_t w_est;      /* bytes */
    uint32_t cwnd_prior; /* bytes */
    uint32_t inc_acc;    /* the curve's growth not yet whole bytes, in 1/cwnd */
    /* As they were before the last event, for undo (RFC 9438 4.9). */
    uint32_t saved_w_max, saved_k_ms, saved_cwnd_epoch, saved_w_est, saved_cwnd_prior;
    /* HyStart++ (RFC 9406 4.2). */
    uint32_t window_end;   /* the round ends when SND.UNA reaches it */
    uint32_t cur_min;      /* currentRoundMinRTT, us */
    uint32_t last_min;     /* lastRoundMinRTT, us */
    uint32_t css_baseline; /* cssBaselineMinRtt, us */
    uint32_t css_acc;      /* acked bytes in CSS not yet a whole byte of growth */
    uint8_t samples;       /* rttSampleCount, saturating */
    uint8_t css_rounds;
    uint8_t phase; /* enum tcp_hystart_phase */
    uint8_t saved_phase;
    uint8_t flags;
    uint8_t saved_flags;
};
_Static_assert(sizeof(struct cubic) <= sizeof(((struct tcp_cc *)0)->priv),
               "CUBIC's state fits in priv");

/* memcpy in and out of priv (an array of uint64_t): no type punning. */
static struct cubic load(const struct tcp_cc *cc)
{
    struct cubic c;
    memcpy(&c, cc->priv, sizeof c);
    return c;
}

static void store(struct tcp_cc *cc, const struct cubic *c)
{
    memcpy(cc->priv, c, sizeof *c);
}

/* SMSS for the arithmetic: the MSS option is 16 bits, which keeps every
 * product below 2^64; and never 0 to divide by. */
static uint32_t smss(const struct tcp_cc *cc)
{
    return cc->mss == 0 ? 1 : cc->mss > 0xFFFF ? 0xFFFF : cc->mss;
}

static uint32_t clamp_u32(uint64_t x)
{
    return x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
}

/* Wrap-safe a >= b for sequence numbers (RFC 9293 3.4), written without a
 * signed conversion. */
static bool seq_geq32(uint32_t a, uint32_t b)
{
    return (uint32_t)(a - b) < 0x80000000u;
}

/* floor(cbrt(x)), bit by bit: y doubles each step and takes the next bit
 * when (2y + 1)^3 still fits, which is when the rest of x (shifted to the
 * step's scale) holds 3y(y + 1) + 1 = (y + 1)^3 - y^3.  22 steps, exact. */
static uint32_t icbrt(uint64_t x)
{
    uint64_t y = 0;
    for (int s = 63; s >= 0; s -= 3) {
        y <<= 1;
        uint64_t b = 3 * y * (y + 1) + 1;
        if ((x >> s) >= b) {
            x -= b << s;
            y++;
        }
    }
    return (uint32_t)y;
}

/* W_cubic(t) of RFC 9438 4.2 in bytes, t in us since the epoch. */
static uint32_t w_cubic(const struct cubic *c, uint32_t mss, uint64_t t_us)
{
    uint64_t t_ms = (t_us + 500) / 1000;
    bool beyond = t_ms >= c->k_ms;
    uint64_t d = beyond ? t_ms - c->k_ms : c->k_ms - t_ms;
    if (d > MAX_D_MS)
        d = MAX_D_MS;
    /* C * (t - K)^3 = 4 d^3 / 10^10 segments: whole segments, plus the
     * fraction in units of 2^-24 segment so its product with SMSS fits. */
    uint64_t s = 4 * d * d * d;
    uint64_t whole = s / C_DEN, frac = s % C_DEN;
    uint64_t off = whole * mss + ((((frac << 24) / C_DEN) * mss) >> 24);
    if (beyond)
        return clamp_u32(c->w_max + off);
    return off >= c->w_max ? 0 : (uint32_t)(c->w_max - off);
}

/* The first ACK of congestion avoidance after an event (or after slow
 * start) begins the epoch (RFC 9438 4.2: t_epoch, cwnd_epoch; 4.3: W_est
 * starts at cwnd_epoch). */
static void epoch_start(struct cubic *c, const struct tcp_cc *cc, uint64_t now)
{
    c->flags |= F_EPOCH;
    c->t_epoch = now;
    c->cwnd_epoch = cc->cwnd;
    c->w_est = cc->cwnd;
    c->est_acc = 0;
    c->inc_acc = 0;
    if ((c->flags & F_AFTER_RTO) || c->w_max <= cc->cwnd) {
        /* 4.8 (the first epoch after a timeout) and 4.10 (HyStart++ left
         * slow start with no loss, so W_max is unknown): K = 0 and W_max =
         * cwnd_epoch, the curve starts on its convex side.  Also when
         * cwnd already stands above W_max: there is nothing to regain. */
        c->w_max = cc->cwnd;
        c->k_ms = 0;
    } else {
        /* 4.2: K = cbrt((W_max - cwnd_epoch) / C). */
        c->k_ms = icbrt((uint64_t)(c->w_max - cc->cwnd) * K_SCALE / smss(cc));
    }
    c->flags &= (uint8_t)~F_AFTER_RTO;
}

/* Congestion avoidance for `acked` bytes (RFC 9438 4.3 to 4.5). */
static void cubic_ca(struct cubic *c, struct tcp_cc *cc, const struct tcp_cc_ack *a, uint32_t acked)
{
    if (!(c->flags & F_EPOCH))
        epoch_start(c, cc, a->now);
    uint32_t mss = smss(cc);
    uint32_t cwnd = cc->cwnd ? cc->cwnd : 1;
    uint64_t t = a->now > c->t_epoch ? a->now - c->t_epoch : 0;

    /* 4.3: W_est += alpha_cubic * segments_acked / cwnd (in segments), in
     * bytes alpha * acked * SMSS / cwnd; alpha is 1 once W_est has reached
     * the window of the last event. */
    uint64_t alpha17 = c->w_est >= c->cwnd_prior ? ALPHA17_RENO : ALPHA17_CUBIC;
    uint64_t den = 17 * (uint64_t)cwnd;
    c->est_acc += alpha17 * acked * mss;
    c->w_est = clamp_u32((uint64_t)c->w_est + c->est_acc / den);
    c->est_acc %= den;

    if (w_cubic(c, mss, t) < c->w_est) {
        /* The Reno-friendly region: cwnd = W_est.  Never lower: the curve
         * one RTT ahead may have taken cwnd a little above W_est. */
        if (c->w_est > cwnd)
            tcp_cc_grow(cc, c->w_est - cwnd);
        return;
    }
    /* 4.4, 4.5: target = W_cubic(t + RTT) within [cwnd, 1.5 cwnd]; each
     * acked segment adds (target - cwnd) / cwnd segments, so a whole
     * window of ACKs brings cwnd to target.  RTT is the smoothed RTT
     * (4.1.2); the remainder is kept so small ACKs add up exactly. */
    uint32_t rtt = a->srtt_us ? a->srtt_us : a->rtt_us;
    uint64_t target = w_cubic(c, mss, t + rtt);
    uint64_t hi = (uint64_t)cwnd + cwnd / 2;
    if (target < cwnd)
        target = cwnd;
    if (target > hi)
        target = hi;
    uint64_t num = c->inc_acc + (target - cwnd) * acked;
    tcp_cc_grow(cc, clamp_u32(num / cwnd));
    c->inc_acc = (uint32_t)(num % cwnd);
}

/* One ACK in HyStart++'s slow start or CSS (RFC 9406 4.2); returns the
 * acked bytes beyond ssthresh, for congestion avoidance. */
static uint32_t hystart_on_ack(struct cubic *c, struct tcp_cc *cc, const struct tcp_cc_ack *a)
{
    /* An application-limited sender is not probing: its RTT says nothing
     * of the queue its own growth builds, and CSS rounds without growth
     * would end slow start at whatever small window the app used (Linux
     * runs HyStart only when cwnd-limited too).  Such ACKs are left out. */
    if (!a->cwnd_limited)
        return 0;
    uint32_t left = 0;
    if (!(c->flags & F_ROUND)) {
        /* The first round ends with the ACK of what is out now. */
        c->flags |= F_ROUND;
        c->window_end = a->snd_nxt;
    }
    /* L, the per-ACK limit, is infinity: the same byte counting as
     * standard slow start (tcp_cc_slow_start says why). */
    if (c->phase == TCP_HYSTART_SS) {
        left = tcp_cc_slow_start(cc, a->acked);
    } else {
        uint64_t acc = (uint64_t)c->css_acc + a->acked;
        tcp_cc_grow(cc, clamp_u32(acc / HS_CSS_GROWTH_DIVISOR));
        c->css_acc = (uint32_t)(acc % HS_CSS_GROWTH_DIVISOR);
    }
    /* Only ACKs with an RTT sample count as samples (an ACK of a
     * retransmission has none, RFC 6298 3 / Karn). */
    if (a->rtt_us) {
        if (a->rtt_us < c->cur_min)
            c->cur_min = a->rtt_us;
        if (c->samples < UINT8_MAX)
            c->samples++;
    }
    if (c->phase == TCP_HYSTART_SS) {
        if (c->samples >= HS_N_RTT_SAMPLE && c->cur_min != RTT_INF && c->last_min != RTT_INF) {
            uint32_t thresh = c->last_min / HS_MIN_RTT_DIVISOR;
            thresh = thresh < HS_MIN_RTT_THRESH   ? HS_MIN_RTT_THRESH
                     : thresh > HS_MAX_RTT_THRESH ? HS_MAX_RTT_THRESH
                                                  : thresh;
            if ((uint64_t)c->cur_min >= (uint64_t)c->last_min + thresh) {
                c->css_baseline = c->cur_min;
                c->phase = TCP_HYSTART_CSS;
                c->css_rounds = 0;
                c->css_acc = 0;
            }
        }
    } else if (c->samples >= HS_N_RTT_SAMPLE && c->cur_min < c->css_baseline) {
        /* The delay rise was jitter: back to slow start. */
        c->css_baseline = RTT_INF;
        c->phase = TCP_HYSTART_SS;
    }
    if (seq_geq32(a->snd_una, c->window_end)) {
        /* The round ends; a CSS round begun halfway counts whole. */
        if (c->phase == TCP_HYSTART_CSS && ++c->css_rounds >= HS_CSS_ROUNDS) {
            cc->ssthresh = cc->cwnd;
            c->cwnd_prior = cc->cwnd; /* RFC 9438 4.10 */
            c->phase = TCP_HYSTART_DONE;
        }
        c->last_min = c->cur_min;
        c->cur_min = RTT_INF;
        c->samples = 0;
        c->window_end = a->snd_nxt;
    }
    return left;
}

static void cubic_init(struct tcp_cc *cc, uint64_t now)
{
    (void)now;
    struct cubic c = {0};
    c.cur_min = c.last_min = c.css_baseline = RTT_INF;
    /* RFC 9406 4.3: HyStart++ only while ssthresh is at its initial,
     * arbitrarily high value. */
    c.phase = cc->ssthresh == UINT32_MAX ? TCP_HYSTART_SS : TCP_HYSTART_DONE;
    memset(cc->priv, 0, sizeof cc->priv);
    store(cc, &c);
}

static void cubic_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *a)
{
    struct cubic c = load(cc);

    /* RFC 9438 5.8: t must not count time the flow was not using its
     * window.  The interval since the last ACK is skipped when this ACK
     * says the sender was application-limited; after an ACK that left
     * nothing in flight, the gap less one RTT (the time the new data took
     * to come back) was idle. */
    uint64_t gap = (c.flags & F_HAVE_LAST) && a->now > c.last_ack ? a->now - c.last_ack : 0;
    bool was_idle = c.flags & F_IDLE;
    c.last_ack = a->now;
    c.flags |= F_HAVE_LAST;
    if (a->acked >= a->in_flight)
        c.flags |= F_IDLE;
    else
        c.flags &= (uint8_t)~F_IDLE;
    if (c.flags & F_EPOCH) {
        uint32_t rtt = a->rtt_us ? a->rtt_us : a->srtt_us;
        if (!a->cwnd_limited)
            c.t_epoch += gap;
        else if (was_idle && gap > rtt)
            c.t_epoch += gap - rtt;
    }

    uint32_t acked = a->acked;
    if (c.phase != TCP_HYSTART_DONE && cc->ssthresh != UINT32_MAX)
        c.phase = TCP_HYSTART_DONE;
    if (cc->cwnd < cc->ssthresh) {
        if (c.phase != TCP_HYSTART_DONE)
            acked = hystart_on_ack(&c, cc, a);
        else
            acked = a->cwnd_limited ? tcp_cc_slow_start(cc, acked) : 0;
    }
    /* Growth only when cwnd limited the sender (5.8). */
    if (acked && a->cwnd_limited && cc->cwnd >= cc->ssthresh)
        cubic_ca(&c, cc, a, acked);
    store(cc, &c);
}

static void save_for_undo(struct cubic *c)
{
    c->saved_w_max = c->w_max;
    c->saved_k_ms = c->k_ms;
    c->saved_t_epoch = c->t_epoch;
    c->saved_cwnd_epoch = c->cwnd_epoch;
    c->saved_w_est = c->w_est;
    c->saved_cwnd_prior = c->cwnd_prior;
    c->saved_flags = c->flags;
    c->saved_phase = c->phase;
}

/* RFC 9438 4.6 and 4.7, shared by loss and timeout. */
static void reduce(struct cubic *c, struct tcp_cc *cc, uint32_t in_flight)
{
    uint32_t cwnd = cc->cwnd;
    save_for_undo(c);
    /* 4.7: a loss before W_max was regained means the share of this flow
     * shrank; remember a lower W_max to leave room to the others. */
    c->w_max = cwnd < c->w_max ? (uint32_t)((uint64_t)cwnd * FC_NUM / FC_DEN) : cwnd;
    c->cwnd_prior = cwnd;
    /* 4.6: ssthresh = flight_size * beta_cubic, at least 2 SMSS.  The RFC
     * takes the flight size; taking cwnd (as Linux does) would need the
     * sender to keep cwnd from growing while app-limited, which it does,
     * but flight_size is what the RFC specifies and is never larger. */
    uint64_t ss = (uint64_t)in_flight * BETA_NUM / BETA_DEN;
    uint64_t floor = 2 * (uint64_t)cc->mss;
    cc->ssthresh = clamp_u32(ss > floor ? ss : floor);
    /* A new epoch begins with the first ACK of congestion avoidance. */
    c->flags &= (uint8_t)~F_UNDO;
    c->est_acc = 0;
    c->inc_acc = 0;
    /* RFC 9406 4.3: HyStart++ is for the first slow start only. */
    c->phase = TCP_HYSTART_DONE;
}

static void cubic_on_congestion(struct tcp_cc *cc, uint32_t in_flight, uint64_t now)
{
    (void)now;
    struct cubic c = load(cc);
    reduce(&c, cc, in_flight);
    store(cc, &c);
}

static void cubic_on_recovery_exit(struct tcp_cc *cc, uint64_t now)
{
    /* The sender set cwnd = ssthresh; the epoch begins at the next ACK,
     * with that cwnd as cwnd_epoch. */
    (void)cc;
    (void)now;
}

static void cubic_on_rto(struct tcp_cc *cc, uint32_t in_flight, uint64_t now)
{
    (void)now;
    struct cubic c = load(cc);
    /* 4.8: ssthresh as for a loss; cwnd the loss window of RFC 5681 3.1;
     * then standard slow start (RFC 9406 4.3), and the next epoch with
     * K = 0 and W_max = cwnd_epoch. */
    reduce(&c, cc, in_flight);
    c.flags |= F_AFTER_RTO;
    cc->cwnd = cc->mss;
    store(cc, &c);
}

static void cubic_undo(struct tcp_cc *cc)
{
    /* 4.9: the event was spurious; the sender restored cwnd and ssthresh,
     * we restore the curve (W_max, K, the epoch) and W_est. */
    struct cubic c = load(cc);
    c.w_max = c.saved_w_max;
    c.k_ms = c.saved_k_ms;
    c.t_epoch = c.saved_t_epoch;
    c.cwnd_epoch = c.saved_cwnd_epoch;
    c.w_est = c.saved_w_est;
    c.cwnd_prior = c.saved_cwnd_prior;
    c.flags = (uint8_t)((c.flags & ~F_UNDO) | (c.saved_flags & F_UNDO));
    c.phase = c.saved_phase;
    c.est_acc = 0;
    c.inc_acc = 0;
    store(cc, &c);
}

void tcp_cubic_get_info(const struct tcp_cc *cc, struct tcp_cubic_info *info)
{
    struct cubic c = load(cc);
    *info = (struct tcp_cubic_info){
        .w_max = c.w_max,
        .k_ms = c.k_ms,
        .cwnd_epoch = c.cwnd_epoch,
        .w_est = c.w_est,
        .cwnd_prior = c.cwnd_prior,
        .in_epoch = c.flags & F_EPOCH,
        .t_epoch = c.t_epoch,
        .hystart = (enum tcp_hystart_phase)c.phase,
        .css_rounds = c.css_rounds,
    };
}

const struct tcp_cc_ops tcp_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_congestion = cubic_on_congestion,
    .on_recovery_exit = cubic_on_recovery_exit,
    .on_rto = cubic_on_rto,
    .undo = cubic_undo,
};
