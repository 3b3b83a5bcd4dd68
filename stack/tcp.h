/* tcp.h - TCP (RFC 9293): the connection block and the module's entry points. */
#ifndef SK_TCP_H
#define SK_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "ring.h"
#include "synack.h"

struct sk_stack;
struct ipv4_hdr;

#define TCP_HDR_LEN 20
#define TCP_FIN     0x01
#define TCP_SYN     0x02
#define TCP_RST     0x04
#define TCP_PSH     0x08
#define TCP_ACK     0x10
#define TCP_URG     0x20
#define TCP_ECE     0x40
#define TCP_CWR     0x80

#define TCP_DEFAULT_MSS    536     /* RFC 9293 3.7.1: assumed when the peer sends none */
#define TCP_MAX_WINDOW     65535   /* no window scaling yet */
#define TCP_OOO_MAX        16      /* out-of-order ranges held per connection */
#define TCP_RTO_INITIAL    1000000 /* RFC 6298 2.1: 1 s */
#define TCP_RTO_FALLBACK   3000000 /* RFC 6298 5.7: after a SYN was sent again */
#define TCP_LISTEN_BUCKETS 64
/* RFC 5961 section 7: challenge ACKs are rate-limited; per stack, per second. */
#define TCP_CHALLENGE_PER_SEC 100

/* Options of a segment, parsed (RFC 9293 3.2; 7323; 2018). */
struct tcp_opts {
    uint16_t mss;  /* 0: absent */
    int8_t wscale; /* -1: absent */
    bool sack_ok;
    bool ts;
    uint32_t tsval, tsecr;
};

/* A segment, parsed once into host order. */
struct tcp_seg {
    uint32_t saddr, daddr;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd, urp;
    const uint8_t *data;
    uint32_t len; /* data bytes */
    struct tcp_opts opt;
};

enum tcp_parse_err { TCP_PARSE_OK = 0, TCP_PARSE_TRUNCATED, TCP_PARSE_CHECKSUM, TCP_PARSE_OPTIONS };
/* Parses a segment of `len` bytes (header and data) carried from saddr to
 * daddr, checking the checksum over the pseudo-header. */
enum tcp_parse_err tcp_parse(const uint8_t *p, size_t len, uint32_t saddr, uint32_t daddr,
                             struct tcp_seg *seg);
int tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *o);

/* SEG.LEN: data plus one for each of SYN and FIN (RFC 9293 3.4). */
static inline uint32_t seg_len(const struct tcp_seg *g)
{
    return g->len + !!(g->flags & TCP_SYN) + !!(g->flags & TCP_FIN);
}

struct ooo_range {
    uint32_t start, end; /* sequence numbers, [start, end) */
};

struct sk_tcb {
    /* Identity: the 4-tuple. */
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    struct sk_tcb *hnext; /* hash chain */
    struct sk_stack *stack;
    int state;

    /* Send sequence variables (RFC 9293 3.3.1). */
    uint32_t snd_una, snd_nxt, snd_wnd, snd_wl1, snd_wl2, iss;
    uint32_t snd_max;     /* highest sequence sent, plus one; snd_nxt goes back to snd_una on RTO */
    uint32_t max_snd_wnd; /* largest window the peer offered (RFC 5961 5.2) */
    /* Receive sequence variables. */
    uint32_t rcv_nxt, rcv_wnd, irs, rcv_up;
    uint16_t mss; /* largest segment we send */

    struct ring sndq; /* bytes from the first unacknowledged one to the last queued */
    struct ring rcvq; /* bytes for the app; out-of-order data waits past them */
    struct ooo_range ooo[TCP_OOO_MAX];
    uint8_t n_ooo;

    bool fin_queued; /* the app closed its side: FIN follows the queued data */
    bool syn_acked;  /* our SYN is acknowledged: sndq starts at snd_una */
    bool fin_sent;   /* our FIN went out at fin_seq (it may be resent) */
    uint32_t fin_seq;
    bool fin_received; /* the peer's FIN is processed (rcv_nxt counts it) */
    bool ooo_fin;      /* a FIN at ooo_fin_seq waits for the gap before it */
    uint32_t ooo_fin_seq;
    bool ack_now;      /* an ACK is owed; sent at the next flush */
    bool persist;      /* the timer probes a zero window instead of retransmitting */
    bool sws_override; /* the SWS override timer fired: send a small segment */
    bool passive;      /* opened by a listener: a RST in SYN_RECEIVED frees it */
    bool in_acceptq;   /* in the parent's accept queue, not its SYN queue */

    /* Round-trip time and retransmission (RFC 6298). */
    uint32_t srtt_us, rttvar_us, rto_us;
    bool rtt_valid;  /* a first measurement was taken */
    bool rtt_timing; /* measuring the segment that ends at rtt_seq */
    uint32_t rtt_seq;
    uint64_t rtt_start;
    uint32_t backoff;           /* consecutive timeouts without progress */
    uint32_t probes_unanswered; /* zero-window probes since the peer last spoke */
    uint32_t retransmits;       /* segments retransmitted, for ss-like output */
    uint32_t cwnd, ssthresh;    /* RFC 5681 */

    /* Timers, absolute microseconds; 0 when off.  `deadline` is the earliest,
     * the key of the stack's timer heap. */
    uint64_t rtx_deadline; /* retransmission, or window probe when persist */
    uint64_t tw_deadline;  /* TIME_WAIT's 2*MSL, or an orphan FIN_WAIT_2's end */
    uint64_t deadline;
    uint32_t heap_idx;

    /* The app's side. */
    bool app_owned; /* a handle is out: sk_close not yet called */
    int error;      /* sk_error that ended it */
    void *user;
    unsigned ev_pending;
    struct link ev_link;    /* on the stack's list of TCBs with events */
    struct link flush_link; /* on the stack's list of TCBs with output due */
    struct link all_link;   /* every TCB */
    struct link tw_link;    /* on the stack's TIME_WAIT list, oldest first */
    struct link ho_link;    /* on the stack's half-open list, oldest first */

    /* Listeners and their children. */
    struct sk_tcb *parent; /* the listener of a child not yet accepted */
    struct link q_link;    /* in the parent's synq or acceptq */
    struct link synq, acceptq;
    uint32_t synq_len, acceptq_len;
    uint32_t backlog;
};

struct tcp_table {
    struct sk_tcb **buckets; /* by hash of the 4-tuple */
    uint32_t bucket_mask;
    struct sk_tcb *listeners[TCP_LISTEN_BUCKETS]; /* by local port */
    uint8_t hash_key[16];
    uint8_t isn_key[16];
    uint32_t ntcbs;
    struct link all;
    struct link time_wait; /* TIME_WAIT TCBs the app let go of, oldest first */
    struct link half_open; /* passive SYN_RECEIVED children, oldest first */
    struct link events;
    struct link flush;
    struct sk_tcb **heap; /* timer min-heap on tcb->deadline */
    uint32_t heap_len, heap_cap;
    uint32_t challenge_tokens;
    uint64_t challenge_refill;
    char cause[48]; /* the segment being processed, for state-change reports */
};

/* module entry points (stack.c, ipv4.c) */
int tcp_init(struct sk_stack *s);
void tcp_free(struct sk_stack *s);
void tcp_input(struct sk_stack *s, const struct ipv4_hdr *ih, const uint8_t *p, size_t len);
void tcp_flush(struct sk_stack *s);
void tcp_timers(struct sk_stack *s);
uint64_t tcp_next_deadline(const struct sk_stack *s);

/* tcp.c: connection blocks */
void tcp_set_state(struct sk_tcb *c, int state);
struct sk_tcb *tcb_new(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport);
void tcb_free(struct sk_tcb *c);
/* The send and receive rings; a passive open gets them at ESTABLISHED, so a
 * SYN costs only a TCB.  -1 when memory is short. */
int tcb_alloc_buffers(struct sk_tcb *c);
/* A TCB in TIME_WAIT: on the recycling list, sndq no longer needed. */
void tcb_time_wait_enter(struct sk_tcb *c);
struct sk_tcb *tcb_lookup(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                          uint16_t rport);
struct sk_tcb *tcb_listener(struct sk_stack *s, uint16_t port);
void tcb_hash_insert(struct sk_tcb *c);
uint32_t tcp_isn(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                 uint16_t rport);
void tcb_event(struct sk_tcb *c, unsigned ev);
/* What caused the state changes that follow ("app: close", "2*MSL timer");
 * segment arrival sets it to the segment's description. */
void tcp_cause(struct sk_stack *s, const char *why);
/* Ends a connection: error (0 for a clean end) to the app, CLOSED, and
 * frees the TCB unless the app still holds it. */
void tcb_close(struct sk_tcb *c, int error);
void tcb_timer_update(struct sk_tcb *c);
/* Bounds the life of a FIN_WAIT_2 connection the app has closed. */
void tcb_orphan_timeout(struct sk_tcb *c);
/* Asks for tcp_output at the next flush. */
void tcb_want_output(struct sk_tcb *c);

/* tcp_out.c */
void tcp_output(struct sk_tcb *c);
/* The sequence number of our ACKs and RSTs on c (RFC 9293's SND.NXT). */
uint32_t tcp_ctl_seq(const struct sk_tcb *c);
void tcp_send_ack(struct sk_tcb *c);
void tcp_send_rst(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                  uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags);
void tcp_reply_rst(struct sk_stack *s, const struct tcp_seg *g);
void tcp_challenge_ack(struct sk_tcb *c);
void tcp_rtx_arm(struct sk_tcb *c);
void tcp_rtx_timeout(struct sk_tcb *c);
/* The window we announce now (RFC 9293 3.8.6.2.2 receiver SWS avoidance). */
uint32_t tcp_rcv_window(struct sk_tcb *c);
/* Sequence number of the first byte in sndq. */
uint32_t tcp_snd_head_seq(const struct sk_tcb *c);
void tcp_rtt_sample(struct sk_tcb *c, uint64_t rtt_us);

#endif
