/* tcp.h - TCP (RFC 9293): the connection block and the module's seams.
 *
 * The modules, and who calls whom:
 *
 *   tcp_in.c     segment arrival in RFC 9293 3.10.7's order; calls the
 *                receiver for text and the sender for ACKs
 *   tcp_rcv.c    the receiver: receive queue, out-of-order data, SACK and
 *                D-SACK blocks, the window, the ACK policy (delayed ACKs)
 *   tcp_snd.c    the sender: the send queue, the scoreboard of segments in
 *                flight, loss detection (SACK, RACK-TLP, duplicate ACKs),
 *                recovery (PRR), RTO, window probes, Nagle
 *   tcp_cc.h     congestion control behind a table of functions
 *   tcp_out.c    writes a segment (header, options, payload) and RSTs
 *   tcp_opt.c    options: parsing, negotiation, timestamps and PAWS
 *   tcp_cookie.c SYN cookies, for a listener whose half-open queue is full
 *   tcp_table.c  the connection table, TCB life, the state door
 *   tcp_timer.c  each connection's timers, and the stack's timer heap
 *   tcp_api.c    the socket-like API of synack.h
 *   tcp_icmp.c   ICMP errors about our segments (from icmp.c): hard and
 *                soft errors, the path MTU
 */
#ifndef SK_TCP_H
#define SK_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "ring.h"
#include "synack.h"
#include "tcp_cc.h"

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

#define TCP_OPT_MAX        40      /* option space in a header (RFC 9293 3.1) */
#define TCP_DEFAULT_MSS    536     /* RFC 9293 3.7.1: assumed when the peer sends none */
#define TCP_MAX_WSCALE     14      /* RFC 7323 2.3 */
#define TCP_RTO_INITIAL    1000000 /* RFC 6298 2.1: 1 s */
#define TCP_RTO_FALLBACK   3000000 /* RFC 6298 5.7: after a SYN was sent again */
#define TCP_LISTEN_BUCKETS 64
/* RFC 5961 section 7: challenge ACKs are rate-limited; per stack, per second. */
#define TCP_CHALLENGE_PER_SEC 100
/* RFC 7323 5.5: a TS.Recent older than 24 days is too old for PAWS. */
#define TCP_PAWS_IDLE_US (24ULL * 24 * 3600 * 1000000)
#define TCP_QUICKACKS    16    /* segments ACKed at once after the start (as Linux) */
#define TCP_SB_MAX       65536 /* scoreboard records: segments in flight at most */
#define TCP_SB_FIRST     16    /* records in a scoreboard's first array */
#define TCP_SB_FREE_MAX  64    /* first arrays kept per stack for reuse (32 KiB) */
/* The connection hash and the timer heap start this small and double. */
#define TCP_HASH_MIN         256
#define TCP_HASH_MAX         (1u << 24)
#define TCP_HEAP_MIN         64
#define SK_MAX_CONNS_CEILING (1u << 22) /* the most sk_config.tcp_max_conns may say */

/* Options of a segment, parsed (RFC 9293 3.2; 7323; 2018). */
struct tcp_sack_block {
    uint32_t start, end; /* [start, end) */
};
struct tcp_opts {
    uint16_t mss;  /* 0: absent */
    int8_t wscale; /* -1: absent */
    bool sack_ok;
    bool ts;
    uint8_t nsack; /* SACK blocks, in the order sent */
    uint32_t tsval, tsecr;
    struct tcp_sack_block sack[4];
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

/* SEG.LEN: data plus one for each of SYN and FIN (RFC 9293 3.4). */
static inline uint32_t seg_len(const struct tcp_seg *g)
{
    return g->len + !!(g->flags & TCP_SYN) + !!(g->flags & TCP_FIN);
}

/* ---- timers: one deadline per kind ---- */
enum tcp_timer {
    TCP_T_RTX,       /* retransmission timeout (RFC 6298), also the SYN's */
    TCP_T_TLP,       /* tail loss probe (RFC 8985 7) */
    TCP_T_REO,       /* RACK's reordering window ran out (RFC 8985 6.2) */
    TCP_T_PERSIST,   /* zero-window probe, or the sender SWS override (3.8.6) */
    TCP_T_DELACK,    /* a delayed ACK is due (RFC 9293 3.8.6.3) */
    TCP_T_KEEPALIVE, /* an idle connection is probed (RFC 9293 3.8.4) */
    TCP_T_CLOSE,     /* TIME_WAIT's 2*MSL, or an orphan FIN_WAIT_2's end */
    TCP_T_COUNT
};
struct tcp_timers {
    uint64_t at[TCP_T_COUNT]; /* absolute microseconds; 0 when off */
    uint64_t deadline;        /* the earliest: the key of the stack's heap */
    uint32_t heap_idx;
};

/* ---- the sender's scoreboard (tcp_snd.c) ---- */
enum tcp_rec_flags {
    REC_SACKED = 1 << 0,  /* the receiver holds it (RFC 2018) */
    REC_LOST = 1 << 1,    /* judged lost and not sent again since */
    REC_RETRANS = 1 << 2, /* its latest transmission is a retransmission */
    REC_EVER_RETRANS = 1 << 3,
    REC_FIN = 1 << 4,   /* ends with our FIN */
    REC_TLIST = 1 << 5, /* on the time-ordered list */
};
/* One segment sent and not yet cumulatively acknowledged.  The bytes stay
 * in the send ring; a record is only their range and history. */
struct tcp_rec {
    uint32_t start, end;   /* [start, end), a FIN counted as one */
    uint64_t xmit_us;      /* its latest transmission */
    uint32_t tprev, tnext; /* the time-ordered list, by slot; TCP_REC_NIL ends it */
    uint16_t flags;
    uint16_t nxmit; /* transmissions so far */
};
#define TCP_REC_NIL UINT32_MAX
struct tcp_scoreboard {
    struct tcp_rec *rec; /* a ring of records in sequence order */
    uint32_t cap;        /* a power of two; 0 before the first */
    uint32_t head, n;
    /* Records neither SACKed nor marked lost, oldest transmission first:
     * what RACK walks to find losses (RFC 8985 6.2 step 5). */
    uint32_t thead, ttail;
    uint32_t sacked;    /* bytes SACKed */
    uint32_t lost;      /* bytes marked lost and not yet sent again */
    uint32_t lost_from; /* while lost: no lost record starts below it */
    uint32_t retrans;   /* bytes sent again and still in flight */
    uint32_t fack;      /* the highest sequence number SACKed, plus one */
};

/* RACK (RFC 8985): what the most recently sent segment that was delivered
 * tells about the others. */
struct tcp_rack {
    uint64_t xmit_us; /* RACK.xmit_ts */
    uint32_t end_seq; /* RACK.end_seq */
    uint32_t rtt_us;  /* RACK.rtt */
    uint32_t min_rtt_us;
    bool valid; /* a segment was delivered since the last reset */
    bool reord; /* RACK.reord: reordering was seen */
    uint8_t reo_wnd_mult;
    uint8_t reo_wnd_persist;
    bool dsack_round_valid;
    uint32_t dsack_round; /* the reo_wnd may grow once per round trip */
    /* TLP (RFC 8985 7) */
    bool tlp_active;  /* TLP.end_seq is set: one probe in flight */
    bool tlp_retrans; /* the probe was a retransmission */
    uint32_t tlp_end_seq;
};

/* Where the sender is, as Linux's tcp_ca_state. */
enum tcp_ca_state {
    TCP_CA_OPEN = 0, /* no loss known */
    TCP_CA_RECOVERY, /* fast recovery (RFC 6675, RFC 6582) with PRR */
    TCP_CA_LOSS,     /* after an RTO: slow start from the loss window */
};

/* ---- the receiver's out-of-order ranges (tcp_rcv.c) ---- */
struct tcp_ooo {
    uint32_t start, end; /* [start, end) */
    uint32_t stamp;      /* when it last grew: SACK blocks go newest first */
};

struct sk_tcb {
    /* Identity: the 4-tuple. */
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    struct sk_tcb *hnext; /* hash chain */
    struct sk_stack *stack;
    int state;

    /* Send sequence variables (RFC 9293 3.3.1).  snd_nxt is where new data
     * goes; it only goes back (to iss) to send the SYN again. */
    uint32_t snd_una, snd_nxt, snd_wnd, snd_wl1, snd_wl2, iss;
    uint32_t snd_max;     /* highest sequence sent, plus one */
    uint32_t max_snd_wnd; /* largest window the peer offered (RFC 5961 5.2) */
    /* Receive sequence variables. */
    uint32_t rcv_nxt, rcv_wnd, irs, rcv_up;
    /* The right edge of our window, as our buffer allows: it never moves
     * left.  What the window field says is this rounded up to the scale's
     * unit, up to 2^wscale - 1 bytes more, which the receive ring's slack
     * holds (RFC 7323 2.4). */
    uint32_t rcv_adv;
    bool rcv_adv_set;  /* an ACK went out: rcv_adv means something */
    uint16_t mss;      /* largest segment we send: the peer's MSS, our MTU */
    uint16_t mss_data; /* data per segment: mss less the options every segment carries */

    /* Options negotiated on the SYNs (tcp_opt.c). */
    bool sack_ok;           /* RFC 2018: both offered SACK-permitted */
    bool ts_ok;             /* RFC 7323: both sent timestamps */
    bool ws_ok;             /* RFC 7323 2: both offered window scaling */
    uint8_t snd_wscale;     /* the peer's shift, applied to its windows */
    uint8_t rcv_wscale;     /* ours, applied to the windows we announce */
    uint32_t ts_offset;     /* added to our clock: a random start per connection (RFC 7323 5.4) */
    uint32_t ts_recent;     /* TS.Recent (RFC 7323 4.3) */
    uint64_t ts_recent_us;  /* when it was taken, for PAWS's 24-day rule */
    uint32_t last_ack_sent; /* Last.ACK.sent (RFC 7323 4.3) */

    struct ring sndq;        /* bytes from the first unacknowledged one to the last queued */
    struct ring rcvq;        /* bytes for the app; out-of-order data waits past them */
    uint32_t sndbuf, rcvbuf; /* the rings' sizes (per connection) */

    /* The receiver (tcp_rcv.c). */
    struct tcp_ooo *ooo; /* sorted by start; taken at the first gap */
    uint16_t n_ooo, ooo_cap;
    uint32_t ooo_stamp;          /* a clock for the ranges' recency */
    int16_t ooo_last;            /* the range the latest segment went into, or -1 */
    struct tcp_sack_block dsack; /* a duplicate to report (RFC 2883), if dsack_len */
    bool dsack_pending;
    uint32_t rcv_unacked; /* data bytes received and not yet ACKed */
    uint16_t rcv_mss;     /* the largest segment the peer sent: "full-sized" */
    uint8_t quickack;     /* ACKs still to send without delay */
    bool ack_now;         /* an ACK is owed; sent at the next flush */
    uint8_t ack_why;      /* why it is owed (enum sk_why), for --explain */
    bool fin_received;    /* the peer's FIN is processed (rcv_nxt counts it) */
    bool ooo_fin;         /* a FIN at ooo_fin_seq waits for the gap before it */
    uint32_t ooo_fin_seq;

    /* The sender (tcp_snd.c). */
    struct tcp_scoreboard sb;
    struct tcp_rack rack;
    struct tcp_cc cc;
    uint8_t ca_state;                            /* enum tcp_ca_state */
    uint32_t recover;                            /* RFC 6582 / RFC 6675 RecoveryPoint */
    uint32_t dupacks;                            /* duplicate ACKs in a row (RFC 5681 2) */
    uint32_t prr_delivered, prr_out, recover_fs; /* RFC 6937 */
    bool after_rto;                      /* the last episode was an RTO (RFC 6582 3.2 step 2) */
    uint32_t prior_cwnd, prior_ssthresh; /* before the last event, for undo */
    /* Undo of a spurious episode.  Eifel (RFC 3522): the first ACK after
     * an RTO echoes a TSval older than the retransmission's.  D-SACK (RFC
     * 2883 section 5, RFC 3708): every retransmission of the episode comes
     * back as a duplicate.  Either restores cwnd and ssthresh. */
    uint32_t undo_tsval;  /* TSval of the first retransmission after an RTO */
    uint32_t undo_marker; /* SND.UNA when the episode began: D-SACKs above it count */
    int32_t undo_retrans; /* retransmissions of the episode not yet D-SACKed */
    uint32_t undo_sent;   /* retransmissions of the episode */
    bool undo_eifel;      /* the next ACK of new data is Eifel's test */
    bool undo_dsack;      /* D-SACK accounting runs for this episode */
    bool cwnd_limited;    /* cwnd, not the app or the window, limited the last send */
    bool fin_queued;      /* the app closed its side: FIN follows the queued data */
    bool syn_acked;       /* our SYN is acknowledged: sndq starts at snd_una */
    bool fin_sent;        /* our FIN went out at fin_seq (it may be resent) */
    uint32_t fin_seq;
    bool persist;      /* probing a zero window instead of retransmitting */
    bool sws_override; /* the SWS override timer fired: send a small segment */
    bool nodelay;      /* Nagle off (RFC 9293 3.7.4) */
    uint32_t snd_sml;  /* end of the last short segment sent (Minshall's Nagle) */

    /* Round-trip time and retransmission (RFC 6298, RFC 7323 4). */
    uint32_t srtt_us, rttvar_us, rto_us;
    bool rtt_valid; /* a first measurement was taken */
    bool syn_timed; /* the SYN was sent once: its ACK gives a sample */
    uint64_t syn_sent_us;
    uint32_t backoff;           /* consecutive timeouts without progress */
    uint32_t probes_unanswered; /* zero-window or keep-alive probes since the peer last spoke */
    uint32_t retransmits;       /* segments retransmitted, for ss-like output */
    uint64_t last_rcv_us;       /* when the peer last spoke: keep-alive's idle time */
    /* Keep-alive (RFC 9293 3.8.4, RFC 1122 4.2.3.6), microseconds; idle 0 = off. */
    uint64_t ka_idle_us, ka_intvl_us;
    uint32_t ka_count;
    uint32_t ka_sent; /* probes sent since the peer last spoke */

    struct tcp_timers t;

    /* The app's side. */
    bool passive;    /* opened by a listener: a RST in SYN_RECEIVED frees it */
    bool in_acceptq; /* in the parent's accept queue, not its SYN queue */
    bool app_owned;  /* a handle is out: sk_close not yet called */
    int error;       /* sk_error that ended it */
    void *user;
    unsigned ev_pending;
    struct link ev_link;    /* on the stack's list of TCBs with events */
    struct link flush_link; /* on the stack's list of TCBs with output due */
    struct link all_link;   /* every TCB */
    struct link tw_link;    /* on the stack's TIME_WAIT list, oldest first */
    struct link ho_link;    /* on the stack's half-open list, oldest first */
    struct link mem_link;   /* on the stack's list of senders waiting for memory */

    /* Listeners and their children.  A listener keeps the options its
     * children start with. */
    struct sk_tcb *parent; /* the listener of a child not yet accepted */
    struct link q_link;    /* in the parent's synq or acceptq */
    struct link synq, acceptq;
    uint32_t synq_len, acceptq_len;
    uint32_t backlog;
    struct sk_tcp_opts opts; /* what sk_conn_set_opts set (listeners pass it on) */
    uint64_t cookie_sent_us; /* a listener: when it last answered a SYN with a cookie */
    uint64_t oow_ack_us;     /* when an out-of-window segment last drew an ACK */

    /* Per-connection counts for the ss-like table. */
    uint32_t n_fast_rtx, n_rto, n_tlp, n_undo;

    /* The last ICMP soft error (sk_error), reported if the connection
     * then times out (tcp_icmp.c); 0 if none since the last progress. */
    int soft_error;
};

/* A place given out by sk_rx_place: which segment it is for, and the
 * receive ring as it was then (a frame placed against another state of
 * it is refused). */
struct tcp_place {
    bool given; /* its chunks are taken; trimmed back by tcp_rx_place_done */
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint32_t seq;       /* RCV.NXT then */
    uint32_t head, len; /* the ring's */
    uint32_t room;      /* bytes given */
    uint32_t hdr_len;
};

struct tcp_table {
    struct sk_tcb **buckets; /* by hash of the 4-tuple */
    uint32_t bucket_mask;
    /* The connection the last lookup found: a bulk transfer's segments all
     * belong to one, and then need no hash (tcb_lookup). */
    struct sk_tcb *last_found;
    /* Receiving in place (tcp_rcv.c): the connection in-order data came
     * to last, how many of the last segments with data in a row were its
     * (at most 255), and the place given out for its next segment. */
    struct sk_tcb *last_data;
    uint8_t data_streak;
    struct tcp_place place;
    struct sk_tcb *listeners[TCP_LISTEN_BUCKETS]; /* by local port */
    uint8_t hash_key[16];
    uint8_t isn_key[16];
    uint8_t ts_key[16];
    uint8_t cookie_key[16]; /* SYN cookies' MAC (tcp_cookie.c) */
    uint32_t rst_tokens;    /* RSTs for closed ports left this second */
    uint64_t rst_refill;
    uint32_t ntcbs;
    struct link all;
    struct link time_wait; /* TIME_WAIT TCBs the app let go of, oldest first */
    struct link half_open; /* passive SYN_RECEIVED children, oldest first */
    struct link events;
    struct link flush;
    struct sk_tcb **heap; /* timer min-heap on tcb->t.deadline */
    uint32_t heap_len, heap_cap;
    uint32_t challenge_tokens;
    uint64_t challenge_refill;
    struct ring_pool pool; /* chunks for every ring */
    struct link mem_wait;  /* sk_send refused for memory: woken in tcp_flush */
    bool mem_pressed;      /* buffer memory was past the pressure mark at the last look */
    void *sb_free;         /* scoreboard arrays of TCP_SB_FIRST records for reuse (tcp_snd.c) */
    uint32_t sb_nfree;
    /* What state changes are reported as caused by: a text ("app: close"),
     * or the segment being processed, kept as numbers and only put into
     * words when a change is reported (not per segment). */
    char cause[48];
    struct {
        bool on;
        uint8_t flags;
        uint32_t seq, ack;
    } cause_seg;
};

/* ---- module entry points (stack.c, ipv4.c) ---- */
int tcp_init(struct sk_stack *s);
void tcp_free(struct sk_stack *s);
void tcp_input(struct sk_stack *s, const struct ipv4_hdr *ih, const uint8_t *p, size_t len);
void tcp_flush(struct sk_stack *s);
void tcp_timers(struct sk_stack *s);
uint64_t tcp_next_deadline(const struct sk_stack *s);

/* ---- tcp_table.c: connection blocks and the state door ---- */
void tcp_set_state(struct sk_tcb *c, int state);
struct sk_tcb *tcb_new(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport);
void tcb_free(struct sk_tcb *c);
/* The send and receive rings; a passive open gets them at ESTABLISHED, so a
 * SYN costs only a TCB.  -1 when the sizes are bad. */
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
/* Bounds the life of a FIN_WAIT_2 connection the app has closed. */
void tcb_orphan_timeout(struct sk_tcb *c);
/* Asks for tcp_output at the next flush. */
void tcb_want_output(struct sk_tcb *c);
/* Takes the connection options (buffer sizes, Nagle, keep-alive, CC). */
void tcb_apply_opts(struct sk_tcb *c, const struct sk_tcp_opts *o);
/* Buffer memory is past 7/8 of its budget (counts each time it gets there). */
bool tcp_mem_pressure(struct sk_stack *s);
/* c was refused memory: SK_EV_WRITABLE when there is some again. */
void tcp_mem_wait(struct sk_tcb *c);
/* Memory c holds: TCB, ring chunks and slot tables, scoreboard, ranges. */
size_t tcb_mem_bytes(const struct sk_tcb *c);

/* ---- tcp_cookie.c: SYN cookies (RFC 4987 3.6) ---- */
/* What a cookie keeps of the SYN's options. */
struct tcp_cookie_opts {
    uint16_t mss;  /* in: the largest allowed; out: the one the cookie says */
    bool ts;       /* timestamps in force: the other options ride in TSval */
    bool sack;     /* SACK-permitted (only with timestamps) */
    int8_t wscale; /* the peer's shift, -1 for none (only with timestamps) */
};
void tcp_cookie_init(struct sk_stack *s);
/* Our ISN for a SYN answered without a TCB; rounds o->mss down to what a
 * cookie can say. */
uint32_t tcp_cookie_make(struct sk_stack *s, const struct tcp_seg *syn, struct tcp_cookie_opts *o);
/* The low bits our TSval must carry (when o->ts). */
uint8_t tcp_cookie_optbits(const struct tcp_cookie_opts *o);
/* Whether the handshake's last ACK carries a cookie of ours, not expired;
 * if so, what it kept. */
bool tcp_cookie_check(struct sk_stack *s, const struct tcp_seg *ack, struct tcp_cookie_opts *o);

/* ---- tcp_timer.c ---- */
void tcp_timer_set(struct sk_tcb *c, enum tcp_timer k, uint64_t at);
void tcp_timer_clear(struct sk_tcb *c, enum tcp_timer k);
static inline bool tcp_timer_on(const struct sk_tcb *c, enum tcp_timer k)
{
    return c->t.at[k] != 0;
}
void tcp_timers_clear_all(struct sk_tcb *c);
void tcp_timer_heap_remove(struct sk_tcb *c);
/* Room in the heap for n TCBs; -1 without memory. */
int tcp_timer_heap_reserve(struct tcp_table *t, uint32_t n);

/* ---- tcp_opt.c ---- */
/* csum_done: the link checked the checksum already, or left it partial
 * for us to trust (a TAP's virtio-net header says which). */
enum tcp_parse_err tcp_parse(const uint8_t *p, size_t len, uint32_t saddr, uint32_t daddr,
                             bool csum_done, struct tcp_seg *seg);
int tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *o);
/* Our timestamp clock: milliseconds (RFC 7323 5.4), from the connection's offset. */
uint32_t tcp_ts_now(const struct sk_tcb *c);
/* A new connection: its timestamp offset and the window shift it offers. */
void tcp_opt_init(struct sk_tcb *c);
/* The options of the peer's SYN (or SYN-ACK): what is in force (RFC 7323
 * 2.2, 3.2; RFC 2018 2), and so what our SYN-ACK answers. */
void tcp_opt_negotiate(struct sk_tcb *c, const struct tcp_seg *g);
/* The window shift for our receive buffer. */
uint8_t tcp_opt_wscale_for(uint32_t rcvbuf);
/* RFC 7323 5.3 R1: false if PAWS rejects the segment. */
bool tcp_paws_ok(const struct sk_tcb *c, const struct tcp_seg *g);
/* RFC 7323 4.3: updates TS.Recent from an acceptable segment. */
void tcp_ts_update(struct sk_tcb *c, const struct tcp_seg *g);

/* ---- tcp_out.c ---- */
/* A segment to write: sequence number, flags, and data from the send ring. */
struct tcp_out_seg {
    uint32_t seq;
    uint8_t flags;
    uint32_t data_off, len; /* offset in sndq, bytes */
    uint16_t gso_size;      /* len > gso_size: one TSO frame, cut by the link */
};
void tcp_write_segment(struct sk_tcb *c, const struct tcp_out_seg *o);
void tcp_output(struct sk_tcb *c);
/* The sequence number of our ACKs and RSTs on c (RFC 9293's SND.NXT). */
uint32_t tcp_ctl_seq(const struct sk_tcb *c);
void tcp_send_ack(struct sk_tcb *c);
void tcp_send_rst(struct sk_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                  uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags);
void tcp_reply_rst(struct sk_stack *s, const struct tcp_seg *g);
void tcp_challenge_ack(struct sk_tcb *c);

/* ---- tcp_rcv.c: the receiver ---- */
/* Step 7: the segment's text, trimmed to the window, in a receiving state. */
void tcp_rcv_text(struct sk_tcb *c, uint32_t seq, const uint8_t *data, uint32_t len);
/* sk_rx_place, sk_input_placed: receiving in place. */
int tcp_rx_place(struct sk_stack *s, size_t max, struct sk_rx_place *p);
/* Whether the frame (len bytes of headers, `placed` more in the ring) is
 * the segment the place was given for. */
bool tcp_rx_placed_ok(struct sk_stack *s, const uint8_t *frame, size_t len, size_t placed);
/* Gives back what the place took and the segment did not fill. */
void tcp_rx_place_done(struct sk_stack *s);
/* A segment that carried only duplicate data [seq, end): D-SACK and ACK at once. */
void tcp_rcv_duplicate(struct sk_tcb *c, uint32_t seq, uint32_t end);
/* The peer's FIN at rcv_nxt is taken: rcv_nxt moves over it. */
void tcp_rcv_fin(struct sk_tcb *c);
/* The window we announce now (RFC 9293 3.8.6.2.2, RFC 7323 2.3): bytes. */
uint32_t tcp_rcv_window(struct sk_tcb *c);
/* An ACK should go now (at the flush), not after a delay; why (enum
 * sk_why) is what --explain will say of it. */
void tcp_rcv_ack_now(struct sk_tcb *c, int why);
/* tcp_send_ack, saying why (enum sk_why). */
void tcp_send_ack_why(struct sk_tcb *c, int why);
/* An ACK is going out: whatever was owed is paid. */
void tcp_rcv_ack_sent(struct sk_tcb *c);
/* Writes our SACK blocks (at most max) for an ACK; returns how many. */
int tcp_rcv_sack_blocks(struct sk_tcb *c, struct tcp_sack_block *b, int max);
/* The app read from the receive queue: maybe a window update. */
void tcp_rcv_app_read(struct sk_tcb *c, uint32_t before);
void tcp_rcv_delack_timeout(struct sk_tcb *c);
void tcp_rcv_free(struct sk_tcb *c);
/* Bytes of out-of-order data held past the in-order ones. */
uint32_t tcp_rcv_ooo_extent(const struct sk_tcb *c);

/* ---- tcp_snd.c: the sender ---- */
/* The connection reached ESTABLISHED: congestion control starts. */
void tcp_snd_start(struct sk_tcb *c);
/* Sends what the window, cwnd, recovery and Nagle allow now. */
void tcp_snd_output(struct sk_tcb *c);
/* Step 5 for a synchronized state: SND.UNA =< SEG.ACK =< SND.MAX. */
void tcp_snd_ack(struct sk_tcb *c, const struct tcp_seg *g);
/* The peer's window, as RFC 9293 3.10.7.4 fifth says, scaled. */
void tcp_snd_window(struct sk_tcb *c, const struct tcp_seg *g);
void tcp_snd_rto_timeout(struct sk_tcb *c);
void tcp_snd_tlp_timeout(struct sk_tcb *c);
void tcp_snd_reo_timeout(struct sk_tcb *c);
void tcp_snd_persist_timeout(struct sk_tcb *c);
void tcp_snd_keepalive_timeout(struct sk_tcb *c);
/* Arms the keep-alive timer from the last time the peer spoke. */
void tcp_snd_keepalive_arm(struct sk_tcb *c);
void tcp_snd_free(struct sk_tcb *c);
/* Frees the stack's spare scoreboard arrays. */
void tcp_snd_pool_free(struct tcp_table *t);
/* Sequence number of the first byte in sndq. */
uint32_t tcp_snd_head_seq(const struct sk_tcb *c);
/* An RTT sample (RFC 6298 2); `samples` per RTT expected (RFC 7323 app. G);
 * `precise`: from the microsecond clock, not a timestamp echo. */
void tcp_rtt_sample(struct sk_tcb *c, uint64_t rtt_us, uint32_t samples, bool precise);
void tcp_rtx_arm(struct sk_tcb *c);
/* Bytes in flight as RFC 6675 counts them ("pipe"). */
uint32_t tcp_snd_pipe(const struct sk_tcb *c);
/* The path MTU fell (mss_data is already the new size): segments in
 * flight larger than it are marked lost, cut to the new size and sent
 * again at once (as Linux's tcp_simple_retransmit). */
void tcp_snd_mtu_reduced(struct sk_tcb *c);

/* ---- tcp_icmp.c: ICMP errors about our segments ---- */
/* RFC 1191's floor for what a "fragmentation needed" may lower the path
 * MTU to, here 576: see tcp_icmp.c. */
#define TCP_PMTU_MIN 576
/* An ICMP error of type/code quoting our IP header `q` and the first 8
 * bytes of our TCP header `th`; mtu is the next-hop MTU field. */
void tcp_icmp_error(struct sk_stack *s, uint8_t type, uint8_t code, uint16_t mtu,
                    const struct ipv4_hdr *q, const uint8_t *th);

#endif
