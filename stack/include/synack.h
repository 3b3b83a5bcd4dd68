/*
 * synack.h - the public API of the synack TCP/IP core.
 *
 * The core is sans-I/O: it never reads a clock, never calls the OS, never
 * sleeps and has no global state.  The caller (tap/'s event loop, or a unit
 * test) gives it frames and the time, and takes the frames it emits through
 * the output callback.  A typical loop:
 *
 *     sk_stack *s = sk_stack_new(&cfg, now, &err);
 *     for (;;) {
 *         wait for a frame or until sk_next_deadline(s);
 *         sk_input(s, frame, len, now);      // for each frame read
 *         sk_timers(s, now);
 *         n = sk_poll(s, events, max);       // what happened to connections
 *         ... app calls sk_send / sk_recv / sk_close ...
 *         sk_flush(s, now);                  // emit ACKs and data, once per batch
 *     }
 *
 * Times are monotonic microseconds.  Addresses are IPv4 in host byte order.
 */
#ifndef SYNACK_H
#define SYNACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_stack sk_stack;
/* A TCP endpoint: a listener or a connection.  The app owns a handle from
 * sk_listen/sk_accept/sk_connect until it calls sk_close or sk_abort. */
typedef struct sk_tcb sk_conn;

/* Error values.  Functions return them negated (e.g. -SK_EAGAIN). */
enum sk_error {
    SK_OK = 0,
    SK_EAGAIN,       /* nothing to read, no room to write: wait for an event */
    SK_EINVAL,       /* bad argument or wrong state for the call */
    SK_ENOMEM,       /* a configured limit or memory ran out */
    SK_EADDRINUSE,   /* port already listened on / tuple in use */
    SK_ENOTCONN,     /* not connected (yet) */
    SK_ECONNREFUSED, /* peer answered our SYN with RST */
    SK_ECONNRESET,   /* peer reset an established connection */
    SK_ETIMEDOUT,    /* retransmissions exhausted */
    SK_EPIPE,        /* write after shutdown or close */
    SK_ECONNABORTED, /* aborted locally */
    SK_ENOROUTE,     /* destination not on our subnet and no gateway */
    /* From ICMP errors about our segments (RFC 1122 4.2.3.9, RFC 5927). */
    SK_ENETUNREACH,  /* destination unreachable, network codes */
    SK_EHOSTUNREACH, /* destination unreachable, host codes; time exceeded */
    SK_ENOPROTOOPT,  /* protocol unreachable */
    SK_EPROTO,       /* parameter problem */
    SK_ERROR_COUNT
};
/* A short English description of an error value (positive or negated). */
const char *sk_strerror(int err);

/* RFC 9293 section 3.3.2 states. */
enum sk_tcp_state {
    SK_CLOSED = 0,
    SK_LISTEN,
    SK_SYN_SENT,
    SK_SYN_RECEIVED,
    SK_ESTABLISHED,
    SK_FIN_WAIT_1,
    SK_FIN_WAIT_2,
    SK_CLOSE_WAIT,
    SK_CLOSING,
    SK_LAST_ACK,
    SK_TIME_WAIT,
    SK_STATE_COUNT
};
/* "ESTABLISHED", ... */
const char *sk_state_name(int state);

/* The state diagram as data: every transition the stack makes, the event
 * that causes it and the function that makes it (docs/states.md). */
struct sk_transition {
    int from, to;
    const char *function;
    const char *event;
};
const struct sk_transition *sk_tcp_transitions(size_t *n);
bool sk_tcp_transition_known(int from, int to);

typedef void (*sk_output_fn)(void *ctx, const uint8_t *frame, size_t len);

/* What the link knows of a frame beyond its bytes: a TAP with the
 * virtio-net header (IFF_VNET_HDR) hands it over and takes it. */
enum sk_csum {
    SK_CSUM_NONE = 0, /* checksums are in the frame: check them */
    SK_CSUM_VALID,    /* the transport checksum was checked already */
    SK_CSUM_PARTIAL,  /* the transport checksum holds the pseudo-header's sum: whoever
                         takes the frame completes it, over csum_start.., at csum_offset */
};
struct sk_frame_meta {
    uint8_t csum;         /* enum sk_csum */
    uint16_t csum_start;  /* from the frame's start */
    uint16_t csum_offset; /* from csum_start */
    uint16_t gso_size;    /* 0, or a TCP/IPv4 frame standing for segments of this much data */
};
typedef void (*sk_output_meta_fn)(void *ctx, const uint8_t *frame, size_t len,
                                  const struct sk_frame_meta *meta);
typedef void (*sk_random_fn)(void *ctx, void *buf, size_t len);

enum sk_dir { SK_DIR_IN = 0, SK_DIR_OUT = 1 };

/* A state change, for --states, gdb and the ladder: which connection, the
 * states, and the segment that caused it (flags in tcpdump letters and its
 * sequence number), or cause "" when a timer or the app caused it. */
struct sk_state_change {
    const sk_conn *conn;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    int from, to;
    char cause[48];
};

/* Loss recovery as it happens, for --states, the ladder and gdb: each
 * retransmission with its cause, and the congestion events. */
enum sk_note_kind {
    SK_NOTE_RTX_RECOVERY, /* a segment resent in fast recovery (SACK/RACK or dup ACKs) */
    SK_NOTE_RTX_LOSS,     /* a segment resent after a retransmission timeout */
    SK_NOTE_TLP,          /* a tail loss probe (RFC 8985 7) */
    SK_NOTE_RTO,          /* the retransmission timer expired (RFC 6298) */
    SK_NOTE_RECOVERY,     /* fast recovery began: a congestion event */
    SK_NOTE_RECOVERED,    /* recovery ended (fast or after an RTO) */
    SK_NOTE_UNDO,         /* the last congestion event was spurious: undone */
    SK_NOTE_KEEPALIVE,    /* a keep-alive probe */
    SK_NOTE_COUNT
};
/* "fast retransmit", "RTO retransmit", ... */
const char *sk_note_name(int kind);
struct sk_tcp_note {
    const sk_conn *conn;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    int kind;                /* enum sk_note_kind */
    uint32_t seq, end;       /* the segment's range, for retransmissions and probes */
    uint32_t cwnd, ssthresh; /* after the event, bytes (ssthresh UINT32_MAX: none yet) */
};

/* Why the core sent a TCP segment, or what became of one it received
 * (--explain): codes with a table of words and the RFC section they follow,
 * put into words only when someone asks (sk_why_text, sk_why_rfc).
 * X(NAME, words, section) */
#define SK_WHYS(X)                                                                                 \
    X(NONE, "", "")                                                                                \
    /* sent */                                                                                     \
    X(SYN, "active open", "RFC 9293 3.5")                                                          \
    X(SYN_AGAIN, "SYN again: no answer yet", "RFC 6298 5")                                         \
    X(SYNACK, "answers a SYN", "RFC 9293 3.10.7.2")                                                \
    X(SYNACK_AGAIN, "SYN-ACK again: no ACK yet, or the SYN came again", "RFC 6298 5")              \
    X(SYNACK_COOKIE, "SYN cookie: the half-open queue is full", "RFC 4987 3.6")                    \
    X(ACK_HANDSHAKE, "completes the handshake", "RFC 9293 3.5")                                    \
    X(DATA, "new data: the windows allow it", "RFC 5681 3.1")                                      \
    X(FIN, "the app closed: FIN after the data", "RFC 9293 3.6")                                   \
    X(ACK, "acknowledges data", "RFC 9293 3.8.6.3")                                                \
    X(ACK_QUICK, "quick ACK: the peer is in slow start", "RFC 9293 3.8.6.3")                       \
    X(ACK_SECOND, "ACK: a second full-sized segment", "RFC 9293 3.8.6.3")                          \
    X(ACK_DELAYED, "delayed ACK: its timer ran out", "RFC 1122 4.2.3.2")                           \
    X(ACK_OOO, "dup ACK: out-of-order data", "RFC 5681 4.2")                                       \
    X(ACK_GAP, "ACK at once: data fills a gap", "RFC 5681 4.2")                                    \
    X(ACK_DUP, "ACK with D-SACK: data we had already", "RFC 2883 4")                               \
    X(ACK_FIN, "acknowledges the peer's FIN", "RFC 9293 3.10.7.4")                                 \
    X(ACK_WINDOW, "window update: the app read", "RFC 9293 3.8.6.2.2")                             \
    X(ACK_UNACCEPTABLE, "not acceptable: ACK with our window", "RFC 9293 3.10.7.4")                \
    X(ACK_PAWS, "old timestamp: ACK, segment dropped", "RFC 7323 5.3")                             \
    X(ACK_CHALLENGE, "challenge ACK", "RFC 5961 3.2, 4.2, 5.2")                                    \
    X(WINDOW_PROBE, "zero-window probe", "RFC 9293 3.8.6.1")                                       \
    X(RTX_FAST, "fast retransmit: the first loss of an episode", "RFC 5681 3.2, RFC 6675 5")       \
    X(RTX_RECOVERY, "retransmit: marked lost by SACK, RACK or dup ACKs", "RFC 6675 5, RFC 8985 6") \
    X(RTX_TIMEOUT, "retransmit: after a retransmission timeout", "RFC 6298 5")                     \
    X(TLP, "tail loss probe", "RFC 8985 7")                                                        \
    X(KEEPALIVE, "keep-alive probe", "RFC 9293 3.8.4")                                             \
    X(RST_NO_CONN, "RST: no connection here", "RFC 9293 3.10.7.1")                                 \
    X(RST_BAD_ACK, "RST: ACK of nothing we sent", "RFC 9293 3.10.7.2, 3.10.7.4")                   \
    X(RST_ABORT, "RST: the app aborted, or closed with data unread",                               \
      "RFC 9293 3.10.5, RFC 1122 4.2.2.13")                                                        \
    /* received */                                                                                 \
    X(RX_SYN, "SYN: a new connection, in SYN_RECEIVED", "RFC 9293 3.10.7.2")                       \
    X(RX_SYN_COOKIE, "SYN answered with a cookie, nothing kept", "RFC 4987 3.6")                   \
    X(RX_COOKIE_ACK, "ACK with a valid SYN cookie: connection made", "RFC 4987 3.6")               \
    X(RX_SYNACK, "SYN-ACK: our SYN answered", "RFC 9293 3.10.7.3")                                 \
    X(RX_ESTABLISH, "ACK of our SYN: ESTABLISHED", "RFC 9293 3.10.7.4")                            \
    X(RX_DATA, "data in order: delivered", "RFC 9293 3.10.7.4")                                    \
    X(RX_OOO, "out of order: queued past a gap", "RFC 9293 3.10.7.4")                              \
    X(RX_GAP, "fills a gap: delivered with what was queued", "RFC 9293 3.10.7.4")                  \
    X(RX_DUP, "duplicate data: dropped, reported by D-SACK", "RFC 2883")                           \
    X(RX_ACK, "ACK: new data acknowledged", "RFC 9293 3.10.7.4")                                   \
    X(RX_ACK_ONLY, "ACK: nothing new acknowledged", "RFC 9293 3.10.7.4")                           \
    X(RX_DUPACK, "duplicate ACK", "RFC 5681 2")                                                    \
    X(RX_FIN, "FIN: the peer closed its side", "RFC 9293 3.10.7.4")                                \
    X(RX_RST, "RST at RCV.NXT: connection reset", "RFC 5961 3.2")                                  \
    X(RX_REFUSED, "RST answering our SYN: connection refused", "RFC 9293 3.10.7.3")                \
    X(RX_TRIMMED, "partly outside the window: trimmed, the rest taken", "RFC 9293 3.10.7.4")       \
    X(RX_FIN_ACKED, "ACK of our FIN", "RFC 9293 3.10.7.4")                                         \
    X(RX_RST_CHALLENGED, "RST in the window but not at RCV.NXT: challenged", "RFC 5961 3.2")       \
    X(RX_SYN_CHALLENGED, "SYN on a synchronized connection: challenged", "RFC 5961 4.2")           \
    X(RX_UNACCEPTABLE, "not acceptable: outside the window", "RFC 9293 3.10.7.4")                  \
    X(RX_PAWS, "old timestamp: dropped by PAWS", "RFC 7323 5.3")                                   \
    X(RX_NO_CONN, "no connection: answered with a RST", "RFC 9293 3.10.7.1")                       \
    X(RX_DROPPED, "dropped", "")

enum sk_why {
#define SK_WHY_ENUM(name, words, rfc) SK_WHY_##name,
    SK_WHYS(SK_WHY_ENUM)
#undef SK_WHY_ENUM
        SK_WHY_COUNT
};
/* "dup ACK: out-of-order data", "RFC 5681 4.2"; "" for SK_WHY_NONE or an
 * unknown code. */
const char *sk_why_text(int why);
const char *sk_why_rfc(int why);
/* For SK_WHY_RX_DROPPED, the argument is the index of the drop counter in
 * SK_COUNTERS; its description says why. */
const char *sk_counter_desc(int index);

struct sk_config {
    uint8_t mac[6];
    uint32_t addr;       /* our IPv4 address */
    uint8_t prefix_len;  /* 1..30 */
    uint32_t gateway;    /* next hop for other subnets; 0 for none */
    uint16_t mtu;        /* IP MTU, 576..65520 (as a TAP allows); 0 means 1500 */
    sk_output_fn output; /* every frame we send; required */
    void *output_ctx;
    sk_random_fn random; /* secret for ISNs, ephemeral ports; required */
    void *random_ctx;
    /* Offloads (optional): with output_meta set, frames leave through it
     * instead of output.  offload_csum: TCP checksums may be left partial
     * (SK_CSUM_PARTIAL); offload_tso: a TCP frame may carry up to 64 KiB of
     * data in segments of gso_size, which the link cuts (TSO).  Both need
     * output_meta.  Frames taken by sk_input_meta may be either kind. */
    sk_output_meta_fn output_meta;
    bool offload_csum;
    bool offload_tso;

    /* Optional tuning; 0 picks the documented default. */
    uint32_t tcp_sndbuf;      /* bytes per connection, default 4 MiB (taken as queued) */
    uint32_t tcp_rcvbuf;      /* bytes per connection, default 4 MiB (taken as queued) */
    uint32_t tcp_msl_ms;      /* TIME_WAIT lasts 2*MSL; default 30000 ms */
    uint32_t tcp_max_conns;   /* TCBs at most (table grows to it); default 262144, max 4194304 */
    uint32_t tcp_rto_min_ms;  /* default 200 */
    uint32_t tcp_rto_max_ms;  /* default 60000 */
    uint32_t tcp_max_retries; /* data/FIN retransmissions before abort; default 10 */
    uint32_t tcp_syn_retries; /* SYN and SYN-ACK retransmissions; default 5 */
    uint32_t arp_lifetime_ms; /* default 60000 */
    uint32_t tcp_delack_ms;   /* delayed-ACK timeout, default 40 (at most 200, RFC 1122) */
    /* Hostile peers.  SYN cookies (RFC 4987 3.6): SK_SYNCOOKIES_* below. */
    int tcp_syncookies;
    uint32_t tcp_max_half_open; /* half-open connections per listener; default its backlog */
    uint32_t tcp_rst_per_sec;   /* RSTs for closed ports per second; default 1000 */
    uint32_t tcp_oow_ack_ms;    /* per connection, at most one ACK per this many ms for
                                   out-of-window segments without data; default 500,
                                   SK_LIMIT_OFF for no limit */
    /* IPv4 reassembly (RFC 791, RFC 815), bounded against fragment floods. */
    uint32_t ip_frag_mem;        /* bytes for all datagrams in reassembly, default 1 MiB */
    uint32_t ip_frag_max;        /* datagrams in reassembly at once, default 64 (at most 4096) */
    uint32_t ip_frag_timeout_ms; /* a datagram's life from its first fragment, default 30000 */
    int tcp_cc;                  /* enum sk_cc: the default algorithm, SK_CC_CUBIC if 0 */
    /* Switch off what we offer on our SYNs (as Linux's sysctls do). */
    bool tcp_no_sack;       /* no SACK-permitted (RFC 2018) */
    bool tcp_no_timestamps; /* no timestamps (RFC 7323 3) */
    bool tcp_no_wscale;     /* no window scaling (RFC 7323 2) */
    bool tcp_fixed_isn_key; /* tests: use tcp_isn_key instead of random bytes */
    uint8_t tcp_isn_key[16];
    /* Limits (docs/architecture.md, "Limits"); 0 picks the default. */
    uint32_t tcp_max_ooo; /* out-of-order ranges held per connection, default 256, max 16384 */
    uint64_t tcp_mem_max; /* bytes of send and receive buffers, all connections together
                             (as Linux's tcp_mem); default 256 MiB, 1 MiB..1 TiB */

    /* Observers, may be NULL: every frame in and out, every TCP state
     * change, every retransmission and congestion event. */
    void (*on_frame)(void *ctx, enum sk_dir dir, const uint8_t *frame, size_t len, uint64_t now);
    void (*on_state)(void *ctx, const struct sk_state_change *change, uint64_t now);
    void (*on_note)(void *ctx, const struct sk_tcp_note *note, uint64_t now);
    /* Why (enum sk_why): for SK_DIR_OUT just before the on_frame of the
     * segment it explains; for SK_DIR_IN once the received frame has been
     * processed (after the frames its processing sent).  arg: a sequence
     * number relative to nothing (the segment's own), or for
     * SK_WHY_RX_DROPPED the counter's index. */
    void (*on_why)(void *ctx, enum sk_dir dir, int why, uint32_t arg, uint64_t now);
    void *observer_ctx;

    /* Frames held while their next hop's ARP resolves (0: the default).  A
     * listener answering a burst of SYNs from new neighbours queues one
     * SYN-ACK each; what does not fit is dropped (drop_arp_pending). */
    uint32_t arp_pending;       /* per address, default 64, at most SK_ARP_PENDING_MAX */
    uint32_t arp_pending_total; /* all addresses, default 4 x arp_pending, at most 65536 */
};
#define SK_ARP_PENDING_DEFAULT 64
#define SK_ARP_PENDING_MAX     4096

/* A rate limit of sk_config set to this is off. */
#define SK_LIMIT_OFF UINT32_MAX

/* When a listener answers a SYN with a cookie instead of a TCB. */
enum sk_syncookies {
    SK_SYNCOOKIES_DEFAULT = 0, /* when its half-open queue (or the table) is full */
    SK_SYNCOOKIES_OFF,         /* never: the oldest half-open connection makes room */
    SK_SYNCOOKIES_ALWAYS,      /* for every SYN (tests, demos) */
};

/* Creates a stack and announces it with a gratuitous ARP.  NULL on error,
 * with *err set (SK_EINVAL for a bad config, SK_ENOMEM). */
sk_stack *sk_stack_new(const struct sk_config *cfg, uint64_t now, int *err);
/* Frees everything, including connections the app still holds. */
void sk_stack_free(sk_stack *s);

/* Feeds one Ethernet frame received at `now`.  Never fails: what is not
 * for us is dropped and counted. */
void sk_input(sk_stack *s, const uint8_t *frame, size_t len, uint64_t now);
/* sk_input for a frame with what the link knows of it (a TAP's virtio-net
 * header): its checksum already checked or left partial, and a TCP frame
 * of up to 64 KiB that stands for segments of meta->gso_size, taken in one
 * pass.  meta may be NULL. */
void sk_input_meta(sk_stack *s, const uint8_t *frame, size_t len, const struct sk_frame_meta *meta,
                   uint64_t now);
/* Receiving in place, with no copy: a program that reads its frames with
 * readv() can have the TCP payload of the next segment land straight in
 * the receive buffer of the connection in-order data came to last (twice
 * in a row or more).
 * sk_rx_place says where: hdr_len bytes of headers (Ethernet, IPv4 with no
 * options, TCP with the options the connection's segments carry) to read
 * into a buffer of the program's, then the pieces of the receive buffer,
 * for a payload of at most `max` bytes.  sk_input_placed then takes the
 * frame as read: the len bytes of headers, and the `placed` bytes that
 * went to the pieces.  Nothing else may be called on the stack between
 * the two.  Only frames whose checksum the link vouched for (meta->csum
 * not SK_CSUM_NONE) are taken so, and only while no on_frame observer
 * watches (it would want the whole frame). */
#define SK_RX_SPANS 8
struct sk_rx_place {
    size_t hdr_len;
    int n; /* pieces in span */
    struct {
        uint8_t *base;
        size_t len;
    } span[SK_RX_SPANS];
};
/* Fills p; returns p->n, 0 when there is no place to give (then read the
 * frame whole). */
int sk_rx_place(sk_stack *s, size_t max, struct sk_rx_place *p);
/* 0 if the frame was the segment placed for and is taken (as by
 * sk_input_meta); -1 if it is another (another connection or sequence
 * number, other headers, a shorter frame): the caller then puts its bytes
 * together and gives them to sk_input_meta, before any other call. */
int sk_input_placed(sk_stack *s, const uint8_t *hdr, size_t len, size_t placed,
                    const struct sk_frame_meta *meta, uint64_t now);
/* Sends what the last batch of input and app calls made due: ACKs,
 * data, FINs.  Call once per batch (RFC 1122 4.2.3.2 allows one ACK per
 * batch of segments). */
void sk_flush(sk_stack *s, uint64_t now);
/* The earliest time sk_timers has work to do; UINT64_MAX if none. */
uint64_t sk_next_deadline(const sk_stack *s);
/* Runs every timer due at `now` (ARP retries, retransmissions, TIME_WAIT...).
 * TCP segments they produce leave at the next sk_flush. */
void sk_timers(sk_stack *s, uint64_t now);

/* Counters: every drop has one named for its reason.  SK_COUNTERS(X) lists
 * them so names and fields can never drift apart. */
#define SK_COUNTERS(X)                                                                             \
    X(eth_in, "frames received")                                                                   \
    X(eth_out, "frames sent")                                                                      \
    X(drop_eth_runt, "frames dropped: shorter than an Ethernet header")                            \
    X(drop_eth_not_ours, "frames dropped: destination MAC not ours")                               \
    X(drop_eth_type, "frames dropped: EtherType not IPv4 or ARP")                                  \
    X(arp_in, "ARP packets received")                                                              \
    X(drop_arp_malformed, "ARP packets dropped: malformed or not Ethernet/IPv4")                   \
    X(drop_arp_not_ours, "ARP packets dropped: not for our address")                               \
    X(arp_replies_sent, "ARP replies sent")                                                        \
    X(arp_requests_sent, "ARP requests sent")                                                      \
    X(arp_gratuitous_sent, "gratuitous ARPs sent")                                                 \
    X(arp_resolve_failed, "ARP resolutions given up")                                              \
    X(drop_arp_pending, "packets dropped: ARP resolution failed or its queue was full")            \
    X(ip_in, "IPv4 packets received")                                                              \
    X(ip_out, "IPv4 packets sent")                                                                 \
    X(drop_ip_truncated, "IPv4 dropped: shorter than its header or total length")                  \
    X(drop_ip_version, "IPv4 dropped: version not 4")                                              \
    X(drop_ip_ihl, "IPv4 dropped: header length below 20 or beyond the packet")                    \
    X(drop_ip_checksum, "IPv4 dropped: bad header checksum")                                       \
    X(drop_ip_not_ours, "IPv4 dropped: destination not our address")                               \
    X(drop_ip_bad_src, "IPv4 dropped: source is broadcast, multicast, loopback, 0/8 or ours")      \
    X(drop_ip_proto, "IPv4 dropped: protocol not supported (ICMP sent)")                           \
    X(ip_frags_in, "IPv4 fragments received")                                                      \
    X(ip_reassembled, "IPv4 datagrams reassembled from fragments")                                 \
    X(drop_ip_frag_bad_len, "IPv4 fragments dropped: empty, or not last and not 8-byte aligned")   \
    X(drop_ip_frag_tiny, "IPv4 datagrams dropped: fragment cuts the transport header (RFC 1858)")  \
    X(drop_ip_frag_too_big, "IPv4 datagrams dropped: reassembled length over 65535 bytes")         \
    X(drop_ip_frag_overlap, "IPv4 datagrams dropped: overlapping fragments (RFC 5722)")            \
    X(drop_ip_frag_bad_end, "IPv4 datagrams dropped: fragments disagree on the datagram's end")    \
    X(drop_ip_frag_too_many, "IPv4 datagrams dropped: too many separate pieces")                   \
    X(drop_ip_frag_timeout, "IPv4 datagrams dropped: reassembly timed out")                        \
    X(drop_ip_frag_evicted, "IPv4 datagrams dropped: evicted for newer ones (memory or count)")    \
    X(drop_ip_frag_nomem, "IPv4 fragments dropped: no reassembly memory left")                     \
    X(drop_ip_frag_dead, "IPv4 fragments dropped: their datagram was already discarded")           \
    X(ip_frags_out, "IPv4 fragments sent")                                                         \
    X(ip_fragmented, "IPv4 datagrams sent in fragments")                                           \
    X(drop_ip_no_route, "IPv4 not sent: no route to destination")                                  \
    X(ip_options_skipped, "IPv4 packets whose options were skipped")                               \
    X(icmp_in, "ICMP messages received")                                                           \
    X(drop_icmp_truncated, "ICMP dropped: too short")                                              \
    X(drop_icmp_checksum, "ICMP dropped: bad checksum")                                            \
    X(drop_icmp_type, "ICMP dropped: type not handled")                                            \
    X(icmp_errors_in, "ICMP errors received (unreachable, time exceeded, parameter problem)")      \
    X(drop_icmp_err_short, "ICMP errors dropped: quoted header too short or not IPv4")             \
    X(drop_icmp_err_not_ours, "ICMP errors dropped: quoted datagram not sent by us")               \
    X(drop_icmp_err_proto, "ICMP errors dropped: about a protocol other than TCP")                 \
    X(drop_icmp_err_no_conn, "ICMP errors dropped: no connection for the quoted segment")          \
    X(drop_icmp_err_seq,                                                                           \
      "ICMP errors dropped: quoted sequence not in SND.UNA..SND.MAX (RFC 5927)")                   \
    X(drop_icmp_pmtu_ignored, "ICMP fragmentation needed ignored: MTU not lower, or no data sent") \
    X(tcp_icmp_aborts, "connection attempts aborted by an ICMP hard error (RFC 1122 4.2.3.9)")     \
    X(tcp_icmp_soft_errors, "ICMP soft errors noted on connections")                               \
    X(tcp_pmtu_lowered, "connections whose path MTU was lowered (RFC 1191)")                       \
    X(icmp_echo_replies, "ICMP echo replies sent")                                                 \
    X(icmp_unreach_sent, "ICMP protocol unreachables sent")                                        \
    X(icmp_time_exceeded_sent, "ICMP reassembly time exceeded sent (RFC 1122 3.3.2)")              \
    X(icmp_unreach_limited, "ICMP errors not sent: rate limit")                                    \
    X(tcp_in, "TCP segments received")                                                             \
    X(tcp_out, "TCP segments sent")                                                                \
    X(drop_tcp_truncated, "TCP dropped: shorter than its header")                                  \
    X(drop_tcp_checksum, "TCP dropped: bad checksum")                                              \
    X(drop_tcp_options, "TCP dropped: malformed options")                                          \
    X(drop_tcp_bad_flags, "TCP dropped: SYN with RST or FIN")                                      \
    X(drop_tcp_unacceptable, "TCP dropped: outside the receive window (ACK sent)")                 \
    X(drop_tcp_ack_unsent, "TCP dropped: ACK of data never sent (ACK sent)")                       \
    X(drop_tcp_bad_ack, "TCP dropped: ACK not of our SYN (RST sent)")                              \
    X(drop_tcp_no_ack, "TCP dropped: no ACK flag on a synchronized connection")                    \
    X(drop_tcp_no_syn, "TCP dropped: neither SYN nor RST in SYN_SENT")                             \
    X(drop_tcp_rst_ignored, "TCP resets ignored: to a listener, or not answering our SYN")         \
    X(drop_tcp_old_ack, "TCP dropped: ACK older than the window (ACK sent)")                       \
    X(drop_tcp_bad_port, "TCP dropped: port 0")                                                    \
    X(drop_tcp_no_conn, "TCP dropped: no connection (RST sent if allowed)")                        \
    X(drop_tcp_ooo_full, "TCP data dropped: out-of-order queue full")                              \
    X(drop_tcp_rcv_nomem, "TCP data dropped: no memory for the receive queue")                     \
    X(drop_tcp_listen_overflow, "TCP SYNs dropped: accept queue full")                             \
    X(tcp_syn_evictions, "half-open connections evicted for a new SYN")                            \
    X(tcp_conns_limit, "TCP SYNs dropped: connection limit")                                       \
    X(tcp_time_wait_recycled, "TIME_WAIT connections recycled for new ones (table full)")          \
    X(tcp_rst_sent, "TCP resets sent")                                                             \
    X(tcp_rst_in, "TCP resets received")                                                           \
    X(tcp_rst_received, "TCP resets accepted")                                                     \
    X(tcp_challenge_acks, "challenge ACKs sent (RFC 5961)")                                        \
    X(tcp_challenge_limited, "challenge ACKs not sent: rate limit")                                \
    X(tcp_retransmits, "TCP segments retransmitted")                                               \
    X(tcp_timeouts, "retransmission timeouts")                                                     \
    X(tcp_fast_retransmits, "fast retransmits (recovery entered on a loss)")                       \
    X(tcp_rack_lost, "segments marked lost by RACK (RFC 8985)")                                    \
    X(tcp_dupack_lost, "segments marked lost by three duplicate ACKs or a partial ACK")            \
    X(tcp_rto_lost, "segments marked lost by a retransmission timeout")                            \
    X(tcp_tlp, "tail loss probes sent")                                                            \
    X(tcp_tlp_recoveries, "losses repaired by a tail loss probe")                                  \
    X(tcp_sack_rtx, "segments retransmitted in SACK recovery")                                     \
    X(tcp_spurious_undo, "congestion events undone as spurious (timestamps or D-SACK)")            \
    X(tcp_congestion_events, "congestion events (cwnd reduced)")                                   \
    X(tcp_recoveries, "fast recoveries completed")                                                 \
    X(tcp_dsack_in, "D-SACKs received (RFC 2883)")                                                 \
    X(tcp_dsack_out, "D-SACKs sent")                                                               \
    X(tcp_sack_blocks_out, "ACKs sent with SACK blocks")                                           \
    X(tcp_reordering, "reordering seen by RACK")                                                   \
    X(drop_tcp_paws, "TCP dropped: old timestamp (PAWS, RFC 7323 5)")                              \
    X(tcp_dupacks_out, "duplicate ACKs sent for out-of-order data")                                \
    X(tcp_delayed_acks, "delayed ACKs sent by their timer")                                        \
    X(tcp_keepalive_probes, "keep-alive probes sent")                                              \
    X(tcp_aborts_keepalive, "connections aborted: keep-alive unanswered")                          \
    X(tcp_window_probes, "zero-window probes sent")                                                \
    X(tcp_ooo_segments, "TCP segments queued out of order")                                        \
    X(tcp_rx_placed, "TCP segments received in place (sk_input_placed)")                           \
    X(tcp_dup_segments, "TCP segments with only duplicate data")                                   \
    X(tcp_active_opens, "connections opened actively")                                             \
    X(tcp_passive_opens, "connections opened passively")                                           \
    X(tcp_failed_opens, "connection attempts failed")                                              \
    X(tcp_resets, "connections reset by the peer")                                                 \
    X(tcp_aborts_timeout, "connections aborted: retransmissions exhausted")                        \
    X(tcp_established, "connections that reached ESTABLISHED")                                     \
    X(tcp_bad_transitions, "state changes not in the state diagram (a bug if not 0)")              \
    X(tcp_syncookies_sent, "SYN cookies sent (a listener's half-open queue was full)")             \
    X(tcp_syncookies_ok, "connections opened by a valid SYN cookie")                               \
    X(tcp_syncookies_failed, "ACKs to a listener with a bad or expired SYN cookie (RST sent)")     \
    X(tcp_oow_ack_limited, "ACKs for out-of-window segments not sent: rate limit")                 \
    X(tcp_rst_limited, "RSTs for closed ports not sent: rate limit")                               \
    X(tcp_mem_pressure, "times buffer memory passed 7/8 of its budget (windows held)")             \
    X(tcp_mem_send_refused, "sk_send calls refused or cut short: buffer memory budget")            \
    X(tcp_mem_send_woken, "senders woken when buffer memory was back under the budget")

struct sk_counters {
#define SK_COUNTER_FIELD(name, desc) uint64_t name;
    SK_COUNTERS(SK_COUNTER_FIELD)
#undef SK_COUNTER_FIELD
};
const struct sk_counters *sk_counters(const sk_stack *s);

/* ---- TCP ---- */

/* Events reported by sk_poll, edge-triggered: each is reported once per
 * occurrence.  After SK_EV_CLOSED or SK_EV_ERROR the handle only awaits
 * sk_close. */
enum sk_event_bits {
    SK_EV_ACCEPT = 1 << 0,      /* listener: sk_accept has a connection */
    SK_EV_CONNECTED = 1 << 1,   /* active open completed */
    SK_EV_READABLE = 1 << 2,    /* sk_recv has data */
    SK_EV_WRITABLE = 1 << 3,    /* sk_send has room again */
    SK_EV_PEER_CLOSED = 1 << 4, /* the peer sent FIN: sk_recv returns 0 once drained */
    SK_EV_CLOSED = 1 << 5,      /* both directions are closed cleanly */
    SK_EV_ERROR = 1 << 6,       /* reset, refused, timed out: see sk_conn_error */
};
struct sk_event {
    sk_conn *conn;
    unsigned events;
};
/* Takes up to `max` pending events; returns how many. */
size_t sk_poll(sk_stack *s, struct sk_event *out, size_t max);

/* Passive open on our address.  backlog bounds the accept queue (and the
 * half-open queue); 0 means 128. */
sk_conn *sk_listen(sk_stack *s, uint16_t port, unsigned backlog, int *err);
/* The next established connection of a listener, or NULL. */
sk_conn *sk_accept(sk_conn *listener);
/* Active open to raddr:rport from an ephemeral port (lport 0) or lport. */
sk_conn *sk_connect(sk_stack *s, uint32_t raddr, uint16_t rport, uint16_t lport, uint64_t now,
                    int *err);
/* Queues up to len bytes; returns how many (>0), or -SK_EAGAIN when the
 * send buffer is full, or another negated error. */
long sk_send(sk_conn *c, const void *buf, size_t len);
/* Room in the send buffer now. */
size_t sk_send_space(const sk_conn *c);
/* Reads up to len bytes in order; 0 means the peer closed and everything
 * has been read; -SK_EAGAIN when nothing is there yet. */
long sk_recv(sk_conn *c, void *buf, size_t len);
/* Half-close: send FIN after the queued data; receiving goes on. */
int sk_shutdown(sk_conn *c);
/* Releases the handle.  The connection closes gracefully (FIN after the
 * queued data); if unread data is left it is reset instead (RFC 1122
 * 4.2.2.13).  The stack frees the TCB when TCP is done with it. */
void sk_close(sk_conn *c);
/* Releases the handle and resets the connection. */
void sk_abort(sk_conn *c);

/* Per-connection options.  The algorithm that sets the congestion window. */
enum sk_cc { SK_CC_DEFAULT = 0, SK_CC_CUBIC, SK_CC_NEWRENO, SK_CC_COUNT };
/* "cubic", "newreno"; NULL for an unknown value. */
const char *sk_cc_name(int cc);
/* The value for a name, or -1. */
int sk_cc_from_name(const char *name);

struct sk_tcp_opts {
    uint32_t sndbuf, rcvbuf; /* bytes; 0 keeps the stack's default (1024..1 GiB) */
    bool nodelay;            /* no Nagle (RFC 9293 3.7.4): small segments go at once */
    /* Keep-alive (RFC 9293 3.8.4): after idle_ms without a segment from the
     * peer, a probe every intvl_ms; after count unanswered ones the
     * connection is aborted (SK_ETIMEDOUT).  idle_ms 0: off (the default). */
    uint32_t keepalive_idle_ms, keepalive_intvl_ms, keepalive_count;
    int cc; /* enum sk_cc */
};
/* Sets the options of a connection or a listener (whose new connections
 * start with them).  Buffer sizes can change only before the SYN is sent
 * or received (they decide the window scale): -SK_EINVAL afterwards, and
 * for a bad value. */
int sk_conn_set_opts(sk_conn *c, const struct sk_tcp_opts *o);
void sk_conn_get_opts(const sk_conn *c, struct sk_tcp_opts *o);

int sk_conn_state(const sk_conn *c);
/* The error that ended the connection (positive sk_error), or 0. */
int sk_conn_error(const sk_conn *c);
void sk_conn_endpoints(const sk_conn *c, uint32_t *laddr, uint16_t *lport, uint32_t *raddr,
                       uint16_t *rport);
void sk_conn_set_user(sk_conn *c, void *user);
void *sk_conn_user(const sk_conn *c);

/* A snapshot of a connection, in the manner of `ss -tni`. */
struct sk_conn_info {
    int state;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint32_t iss, irs, snd_una, snd_nxt, snd_wnd, rcv_nxt, rcv_wnd;
    uint32_t cwnd, ssthresh, mss; /* mss: data bytes per full segment */
    uint32_t srtt_us, rttvar_us, rto_us;
    uint32_t unacked, send_queued, recv_queued;
    uint32_t retransmits;
    /* Options in force (RFC 2018, RFC 7323); scales are -1 when off. */
    bool sack, timestamps;
    int snd_wscale, rcv_wscale;
    /* Loss recovery: "open", "recovery" (fast) or "loss" (after an RTO). */
    const char *ca_state;
    const char *cc;        /* "cubic", "newreno" */
    uint32_t in_flight;    /* RFC 6675's pipe, bytes */
    uint32_t sacked, lost; /* bytes of the scoreboard */
    uint32_t min_rtt_us, rack_rtt_us;
    bool reordering; /* RACK saw reordering */
    uint32_t fast_retransmits, timeouts, tail_loss_probes, undos;
    uint32_t rcv_ooo; /* out-of-order ranges held */
};
void sk_conn_info(const sk_conn *c, struct sk_conn_info *info);
/* Calls fn for every TCB the stack holds (listeners, connections, TIME_WAIT). */
void sk_foreach_conn(const sk_stack *s, void (*fn)(void *ctx, const sk_conn *c), void *ctx);

#ifdef __cplusplus
}
#endif
#endif
