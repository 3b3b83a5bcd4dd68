/* tcp_newreno.c - Reno's window (RFC 5681 3.1) with byte counting (RFC
 * 3465).  The "New" of NewReno (RFC 6582: partial ACKs, the recovery
 * point), limited transmit (RFC 3042) and PRR (RFC 6937) are the sender's,
 * in tcp_snd.c; what is left here is how cwnd grows and what ssthresh
 * becomes. */
#include <string.h>

#include "tcp_cc.h"

struct newreno {
    /* Bytes acked in congestion avoidance since cwnd last grew (RFC 3465
     * 2.1's bytes_acked), and its value before the last event, for undo. */
    uint32_t acc;
    uint32_t saved_acc;
};
_Static_assert(sizeof(struct newreno) <= sizeof(((struct tcp_cc *)0)->priv),
               "NewReno's state fits in priv");

/* The state goes through memcpy in and out of priv, an array of uint64_t:
 * no type punning for the optimizer to trip on. */
static struct newreno load(const struct tcp_cc *cc)
{
    struct newreno r;
    memcpy(&r, cc->priv, sizeof r);
    return r;
}

static void store(struct tcp_cc *cc, const struct newreno *r)
{
    memcpy(cc->priv, r, sizeof *r);
}

/* RFC 5681 eqn. 4: half of what was in flight, at least two segments. */
static uint32_t half_flight(const struct tcp_cc *cc, uint32_t in_flight)
{
    uint32_t floor = 2 * cc->mss;
    return in_flight / 2 > floor ? in_flight / 2 : floor;
}

static void newreno_init(struct tcp_cc *cc, uint64_t now)
{
    (void)now;
    struct newreno r = {0};
    memset(cc->priv, 0, sizeof cc->priv);
    store(cc, &r);
}

static void newreno_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *a)
{
    /* An ACK earns growth only when the sender was using the window
     * (the concern of RFC 7661): otherwise cwnd would grow to sizes never
     * tried on the path. */
    if (!a->cwnd_limited || cc->mss == 0)
        return;
    uint32_t acked = tcp_cc_slow_start(cc, a->acked);
    if (acked == 0)
        return;
    struct newreno r = load(cc);
    if (cc->cwnd >= cc->cwnd_max) {
        r.acc = 0;
        store(cc, &r);
        return;
    }
    /* Congestion avoidance, RFC 3465 2.1: one SMSS each time a whole cwnd
     * of bytes has been acked, whatever the size of the ACKs.  The
     * remainder is kept, so many small ACKs grow cwnd exactly as a few
     * large ones do (RFC 5681 eqn. 3, cwnd += SMSS*SMSS/cwnd per ACK,
     * rounds down and grows too slowly with small ACKs). */
    uint64_t acc = (uint64_t)r.acc + acked;
    while (acc >= cc->cwnd && cc->cwnd < cc->cwnd_max) {
        acc -= cc->cwnd;
        tcp_cc_grow(cc, cc->mss);
    }
    r.acc = acc < cc->cwnd ? (uint32_t)acc : 0;
    store(cc, &r);
}

static void newreno_on_congestion(struct tcp_cc *cc, uint32_t in_flight, uint64_t now)
{
    (void)now;
    struct newreno r = load(cc);
    r.saved_acc = r.acc;
    r.acc = 0;
    store(cc, &r);
    cc->ssthresh = half_flight(cc, in_flight);
}

static void newreno_on_recovery_exit(struct tcp_cc *cc, uint64_t now)
{
    /* RFC 6582 3.2 step 3: the sender deflated cwnd to ssthresh; Reno
     * has nothing of its own to change. */
    (void)cc;
    (void)now;
}

static void newreno_on_rto(struct tcp_cc *cc, uint32_t in_flight, uint64_t now)
{
    newreno_on_congestion(cc, in_flight, now);
    /* RFC 5681 3.1: after a timeout cwnd is the loss window, one segment,
     * and slow start runs again up to the new ssthresh. */
    cc->cwnd = cc->mss;
}

static void newreno_undo(struct tcp_cc *cc)
{
    /* The sender restored cwnd and ssthresh (RFC 4015); give back the
     * bytes counted towards the next increase too. */
    struct newreno r = load(cc);
    r.acc = r.saved_acc;
    store(cc, &r);
}

const struct tcp_cc_ops tcp_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .on_ack = newreno_on_ack,
    .on_congestion = newreno_on_congestion,
    .on_recovery_exit = newreno_on_recovery_exit,
    .on_rto = newreno_on_rto,
    .undo = newreno_undo,
};
