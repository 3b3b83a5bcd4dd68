/* tcp_cc.h - congestion control behind a table of functions.
 *
 * The sender (tcp_snd.c) owns loss detection and recovery: it decides when
 * a congestion event happened (a loss found by SACK, RACK or three
 * duplicate ACKs; a tail loss probe that repaired a loss; a retransmission
 * timeout), paces recovery sends by Proportional Rate Reduction (RFC 6937)
 * and sets cwnd = ssthresh when recovery ends.  An algorithm only answers
 * three questions: how cwnd grows on an ACK outside recovery, what ssthresh
 * becomes at a congestion event, and what happens on a timeout.
 *
 * An algorithm sees only struct tcp_cc (embedded in the TCB) and the
 * arguments of each call, never the TCB: so it can be tested alone, with
 * an injected clock, and a new one needs no change to the sender.
 */
#ifndef SK_TCP_CC_H
#define SK_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

struct tcp_cc_ops;

struct tcp_cc {
    const struct tcp_cc_ops *ops;
    uint32_t cwnd;     /* congestion window, bytes (RFC 5681) */
    uint32_t ssthresh; /* slow start threshold, bytes; UINT32_MAX until the first event */
    uint32_t mss;      /* SMSS, bytes: the largest data a segment carries */
    uint32_t cwnd_max; /* cwnd never grows past this (the send buffer bounds what can fly) */
    /* The algorithm's own state (CUBIC's W_max, K, epoch...; HyStart++'s
     * rounds).  Each algorithm checks at compile time that it fits. */
    uint64_t priv[16];
};

/* What one ACK did, for on_ack. */
struct tcp_cc_ack {
    uint64_t now;         /* microseconds */
    uint32_t acked;       /* bytes newly delivered: cumulatively or by SACK */
    uint32_t rtt_us;      /* an RTT sample taken from this ACK, 0 for none */
    uint32_t srtt_us;     /* smoothed RTT (RFC 6298), 0 before the first sample */
    uint32_t min_rtt_us;  /* the smallest RTT seen, 0 before the first sample */
    uint32_t in_flight;   /* bytes in flight before this ACK */
    uint32_t snd_una;     /* SND.UNA after this ACK */
    uint32_t snd_nxt;     /* the next sequence number to send new data at */
    bool cwnd_limited;    /* the sender filled cwnd lately: growth is earned */
};

struct tcp_cc_ops {
    const char *name;
    /* A new connection: cwnd is already the initial window (RFC 6928,
     * set by the sender from mss); set up priv. */
    void (*init)(struct tcp_cc *cc, uint64_t now);
    /* An ACK that delivered data, outside recovery: grow cwnd (slow start
     * below ssthresh, then the algorithm's congestion avoidance). */
    void (*on_ack)(struct tcp_cc *cc, const struct tcp_cc_ack *a);
    /* A congestion event that starts fast recovery: set ssthresh (the
     * sender then reduces cwnd towards it by PRR).  in_flight is the
     * FlightSize of RFC 5681 eqn. 4. */
    void (*on_congestion)(struct tcp_cc *cc, uint32_t in_flight, uint64_t now);
    /* Fast recovery ended with cwnd = ssthresh (set by the sender). */
    void (*on_recovery_exit)(struct tcp_cc *cc, uint64_t now);
    /* A retransmission timeout: set ssthresh and cwnd (RFC 5681 3.1: the
     * loss window, one segment). */
    void (*on_rto)(struct tcp_cc *cc, uint32_t in_flight, uint64_t now);
    /* The last congestion event was spurious (RFC 3522, RFC 2883): the
     * sender restored cwnd and ssthresh; restore the algorithm's own state
     * as it was before the event.  May be NULL. */
    void (*undo)(struct tcp_cc *cc);
};

/* The algorithms (enum sk_cc in synack.h names them for the API). */
extern const struct tcp_cc_ops tcp_newreno;
extern const struct tcp_cc_ops tcp_cubic;

/* RFC 6928: the initial window, min(10*MSS, max(2*MSS, 14600)). */
static inline uint32_t tcp_cc_initial_window(uint32_t mss)
{
    uint32_t w = 14600 > 2 * mss ? 14600 : 2 * mss;
    return 10 * mss < w ? 10 * mss : w;
}

/* For the algorithms (tcp_cc.c).  Grows cwnd by inc bytes, never past
 * cwnd_max (and never shrinks it). */
void tcp_cc_grow(struct tcp_cc *cc, uint32_t inc);
/* Slow start with byte counting (RFC 5681 3.1, RFC 3465 2.2 with no limit
 * L): grows cwnd by the acked bytes up to ssthresh and returns the rest,
 * which belongs to congestion avoidance. */
uint32_t tcp_cc_slow_start(struct tcp_cc *cc, uint32_t acked);

/* CUBIC's state in plain numbers, for tests, traces and the gdb printer
 * (tcp_cubic.c keeps it packed in priv). */
enum tcp_hystart_phase {
    TCP_HYSTART_SS,   /* slow start, watching the RTT (RFC 9406 4.2) */
    TCP_HYSTART_CSS,  /* Conservative Slow Start */
    TCP_HYSTART_DONE, /* not in use: after the first slow start (RFC 9406 4.3) */
};
struct tcp_cubic_info {
    uint32_t w_max;      /* bytes: the plateau of the curve (RFC 9438 4.2, 4.7) */
    uint32_t k_ms;       /* K of RFC 9438 4.2, milliseconds */
    uint32_t cwnd_epoch; /* cwnd when the congestion avoidance epoch began, bytes */
    uint32_t w_est;      /* the Reno-friendly estimate (RFC 9438 4.3), bytes */
    uint32_t cwnd_prior; /* cwnd at the last event or HyStart++ exit, bytes */
    bool in_epoch;       /* congestion avoidance has begun since the last event */
    uint64_t t_epoch;    /* when it began (shifted past app-limited time), us */
    enum tcp_hystart_phase hystart;
    uint32_t css_rounds; /* rounds done in CSS */
};
void tcp_cubic_get_info(const struct tcp_cc *cc, struct tcp_cubic_info *info);

#endif
