/* tcp_fixture.h - one TCP connection under test and its peer, for the
 * tcp_* unit tests: the harness, the listener and connection, our ISS, and
 * what the peer sends next (sequence number, ACK, window), so that tests
 * read as the segments exchanged.  Built on harness.h. */
#ifndef TEST_TCP_FIXTURE_H
#define TEST_TCP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define FX_LPORT 5050  /* our listener (passive opens) */
#define FX_PPORT 40000 /* the peer's port (passive opens) */
#define FX_CPORT 40001 /* our port (active opens) */
#define FX_RPORT 80    /* the peer's listening port (active opens) */

struct tcp_fx {
    struct harness *h;
    sk_conn *l;     /* the listener, or NULL (active opens) */
    sk_conn *c;     /* the connection under test */
    uint16_t lport; /* our port */
    uint16_t pport; /* the peer's port */
    uint32_t iss;   /* our ISS */
    uint32_t pseq;  /* the peer's next sequence number */
    uint32_t pack;  /* what the peer acknowledges */
    uint16_t pwnd;  /* the window the peer offers */
    /* Timestamps on every segment the fixture sends for the peer after its
     * SYN (RFC 7323 3.2): TSval ptsval, TSecr ptsecr, when pts is set.
     * fx_syn_with sets them; tests move ptsval as the peer's clock. */
    bool pts;
    uint32_t ptsval, ptsecr;
};

/* A stack made with `tweak` (may be NULL) that knows the peer's MAC, and a
 * listener on FX_LPORT with `backlog`; no connection yet. */
void fx_listen(struct tcp_fx *f, void (*tweak)(struct sk_config *), unsigned backlog);
/* The peer at pport sends f's listener a SYN with ISN pisn, window wnd and
 * MSS option mss (0: none), answered by exactly one SYN-ACK (h_syn): our
 * ISS is kept, the peer is set to send pisn + 1 acknowledging it, and the
 * capture is cleared.  The new connection is in SYN_RECEIVED.  Returns the
 * SYN-ACK. */
struct tcp_seg fx_syn(struct tcp_fx *f, uint16_t pport, uint32_t pisn, uint16_t wnd, uint16_t mss);
/* fx_syn with options: the peer's SYN is `syn` (its seq, wnd, mss and
 * the options sack_ok, has_ws/ws, ts/tsval as set; ports and flags are
 * filled in).  If the SYN-ACK carries timestamps, the peer's later
 * segments do too (f->pts), echoing the SYN-ACK's TSval. */
struct tcp_seg fx_syn_with(struct tcp_fx *f, uint16_t pport, const struct h_seg *syn);
/* fx_accept with fx_syn_with. */
void fx_accept_with(struct tcp_fx *f, uint16_t pport, const struct h_seg *syn);
/* A passive open: fx_syn, then the peer's ACK.  The connection is accepted
 * into f->c, ESTABLISHED, its events consumed and the capture cleared.
 * May be called again for another connection on the same listener. */
void fx_accept(struct tcp_fx *f, uint16_t pport, uint32_t pisn, uint16_t wnd, uint16_t mss);
/* fx_listen (backlog 0) then fx_accept from FX_PPORT. */
void fx_open_passive(struct tcp_fx *f, void (*tweak)(struct sk_config *), uint32_t pisn,
                     uint16_t wnd, uint16_t mss);
/* A stack made with `tweak` and a connection from FX_CPORT to the peer's
 * FX_RPORT, left in SYN_SENT: its one SYN went out (our ISS in f->iss)
 * and the capture is cleared.  The peer's window is set to 65535.
 * Returns the SYN. */
struct tcp_seg fx_connect(struct tcp_fx *f, void (*tweak)(struct sk_config *));
/* fx_connect, then `rtt` microseconds later the peer's SYN-ACK (ISN pisn,
 * window 65535, MSS 1460), nothing having been sent meanwhile: the
 * connection is ESTABLISHED, its events consumed, the capture cleared. */
void fx_open_active(struct tcp_fx *f, void (*tweak)(struct sk_config *), uint32_t pisn,
                    uint64_t rtt);
/* Closes the listener if there is one and frees the harness (which checks
 * that no state change left the diagram).  f->c is the test's to close or
 * abort before. */
void fx_free(struct tcp_fx *f);

/* A segment from the peer at any seq and ack, with its window. */
void fx_seg_at(struct tcp_fx *f, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
               size_t len);
/* The peer's next segment in order, at f->pseq acknowledging f->pack; the
 * peer's sequence number advances by the data and the FIN. */
void fx_seg(struct tcp_fx *f, uint8_t flags, const void *data, size_t len);
/* The peer acknowledges up to `ack` (kept in f->pack) with a bare ACK. */
void fx_ack(struct tcp_fx *f, uint32_t ack);

/* Brings f's established connection, on which we have sent no data, to
 * `state` the usual way (our FIN by sk_shutdown, the peer's FIN and ACKs by
 * fx_seg): ESTABLISHED (nothing to do), FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT,
 * CLOSING, LAST_ACK or TIME_WAIT.  The app keeps its handle; the state is
 * checked, the events consumed and the capture cleared. */
void fx_to_state(struct tcp_fx *f, int state);

/* Exactly one TCP segment went out since the capture was last cleared, as
 * the first frame: it carries no data, exactly `flags`, <SEQ=seq><ACK=ack>.
 * Returns it (for its window) and clears the capture. */
struct tcp_seg fx_expect_one(struct tcp_fx *f, uint8_t flags, uint32_t seq, uint32_t ack);
/* fx_expect_one for a bare ACK. */
struct tcp_seg fx_expect_ack(struct tcp_fx *f, uint32_t seq, uint32_t ack);

#endif
