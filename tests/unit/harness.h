/* harness.h - drives the core directly for unit tests: a fixed clock, a
 * fixed ISN key and random source, frames in, captured frames out (in the
 * manner of lwIP's and smoltcp's segment-in/segment-out tests). */
#ifndef TEST_HARNESS_H
#define TEST_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "synack.h"
#include "tcp.h"

#define H_MAX_FRAMES 512
#define H_FRAME_MAX  9100

/* The stack is 10.0.0.2 at US_MAC; the peer 10.0.0.1 at PEER_MAC. */
#define US_IP   0x0a000002u
#define PEER_IP 0x0a000001u
extern const uint8_t US_MAC[6];
extern const uint8_t PEER_MAC[6];

struct harness {
    sk_stack *s;
    struct sk_config cfg;
    uint64_t now;
    uint8_t out[H_MAX_FRAMES][H_FRAME_MAX];
    size_t out_len[H_MAX_FRAMES];
    int nout;
    uint32_t rand_state;
};

/* A heap-allocated harness with the default config, optionally tweaked by
 * `tweak` before the stack is made.  The gratuitous ARP is cleared. */
struct harness *h_new(void (*tweak)(struct sk_config *cfg));
void h_free(struct harness *h);
/* Makes the stack learn PEER_MAC for PEER_IP (an ARP request from it). */
void h_learn_peer(struct harness *h);
void h_clear(struct harness *h);
/* Feeds a frame at h->now then flushes. */
void h_input(struct harness *h, const uint8_t *frame, size_t len);
void h_advance(struct harness *h, uint64_t us); /* moves time, runs timers, flushes */

/* Frame builders; return the frame length. */
size_t h_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type);
size_t h_ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *payload,
              size_t len);
size_t h_arp(uint8_t *f, uint16_t oper, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
             uint32_t tpa);

/* A TCP segment from the peer (PEER_IP:pport -> US_IP:uport). */
struct h_seg {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    uint16_t mss; /* 0: no MSS option */
    uint16_t urp; /* the urgent pointer (meant with TCP_URG) */
    const void *data;
    size_t len;
    /* Options beyond MSS, each absent unless set. */
    bool sack_ok;      /* SACK-permitted (on a SYN) */
    bool has_ws;       /* window scale option with shift ws (on a SYN) */
    uint8_t ws;
    bool ts;           /* timestamps: TSval tsval, TSecr tsecr */
    uint32_t tsval, tsecr;
    uint8_t nsack;     /* SACK blocks [sack[i][0], sack[i][1]) */
    uint32_t sack[4][2];
};
size_t h_tcp(uint8_t *f, const struct h_seg *g);
void h_send(struct harness *h, const struct h_seg *g); /* h_tcp + h_input */

/* The i-th captured frame parsed as TCP; false if it is not a TCP segment. */
bool h_out_tcp(struct harness *h, int i, struct tcp_seg *g);
/* The last captured TCP segment; fails the test if none. */
struct tcp_seg h_last_tcp(struct harness *h);
/* Count of captured TCP segments. */
int h_ntcp(struct harness *h);
/* The i-th captured frame, which must be a TCP segment (fails the test if
 * it is not). */
struct tcp_seg h_out_tcp_at(struct harness *h, int i);

/* Flushes the stack's output at h->now. */
void h_flush(struct harness *h);
/* The events pending for c, or-ed together (polls until none is left:
 * events of other connections are consumed and ignored). */
unsigned h_events_of(struct harness *h, const sk_conn *c);
/* How many connections the stack holds, listeners included. */
int h_count_conns(struct harness *h);
/* A listener on `port`; fails the test unless it is made and in LISTEN. */
sk_conn *h_listen(struct harness *h, uint16_t port, unsigned backlog);
/* The peer sends a SYN from sport to dport with window wnd and MSS option
 * mss (0: none): exactly one SYN-ACK of it must come back, acknowledging
 * isn + 1.  Returns that SYN-ACK; the capture is cleared before and after. */
struct tcp_seg h_syn(struct harness *h, uint16_t sport, uint16_t dport, uint32_t isn, uint16_t wnd,
                     uint16_t mss);

/* Runs every test of s (CK_NORMAL: prints "Checks: N ...") and frees it;
 * returns the exit status for main: EXIT_FAILURE if any test failed. */
int h_run(Suite *s);

#endif
