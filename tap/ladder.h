/* ladder.h - ladder diagrams of TCP connections: the two endpoints as
 * columns, one arrow per segment, in time order; as text or SVG.
 * Retransmissions are told from the frames themselves (a segment that
 * starts below what its side had already sent), in both directions; the
 * stack's own ones also get their cause from its notes. */
#ifndef TAP_LADDER_H
#define TAP_LADDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LADDER_MAX_SEGS  512 /* per connection; later ones are counted, not drawn */
#define LADDER_MAX_CONNS 64  /* followed at once; more are not drawn */

struct ladder_seg {
    uint64_t t_us;
    bool right; /* sent by the right column (else left to right) */
    uint8_t flags;
    uint32_t seq, ack; /* relative to each side's initial sequence number */
    uint32_t len;
    uint16_t win;
    /* Its sender had sent some of its sequence space before: it starts
     * below the highest sequence seen from that side (drawn ====>). */
    bool rtx;
    /* Why the stack sent it, from its notes (ladder_note), or NULL:
     * "fast retransmit", "RTO retransmit", "tail loss probe", ... */
    const char *why;
    /* --explain: the stack's reason for it, or what became of it */
    char explain[120];
    bool dropped; /* the stack received it and dropped it: drawn x */
};

struct ladder_conn {
    bool used, ending;
    uint32_t addr[2]; /* [0] left column: the side that sent the first SYN */
    uint16_t port[2];
    uint32_t isn[2];
    bool isn_known[2];
    uint32_t hi[2]; /* per side, the highest sequence sent (SYN and FIN count) */
    bool hi_known[2];
    struct ladder_seg *segs;
    size_t nsegs, dropped;
};

struct ladder {
    struct ladder_conn conn[LADDER_MAX_CONNS];
    FILE *text; /* where text ladders go, or NULL */
    FILE *svg;  /* for the SVG of the first connection, or NULL; the ladder closes it */
    bool svg_written;
    struct ladder_seg *last; /* what the last ladder_frame recorded, or NULL */
    int svg_errno;           /* the first write error of the SVG, or 0 */
};

/* svg: a file opened by the caller (at start, so a bad path fails early). */
void ladder_init(struct ladder *l, FILE *text, FILE *svg);
/* Records a frame if it is a TCP segment. */
void ladder_frame(struct ladder *l, const uint8_t *frame, size_t len, uint64_t now_us);
/* The stack explains the segment it just sent on a connection (a note of
 * the core: a retransmission, a probe): if the last segment from laddr
 * starts at seq, it is labelled with why (a string that outlives the
 * ladder). */
void ladder_note(struct ladder *l, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                 uint32_t seq, const char *why);
/* --explain: the reason of the segment the last ladder_frame recorded (if
 * it did), written beside its arrow; dropped marks one the stack dropped. */
void ladder_explain(struct ladder *l, const char *why, bool dropped);
/* A connection reached CLOSED or TIME_WAIT: draw it at the next ladder_flush. */
void ladder_conn_done(struct ladder *l, uint32_t laddr, uint16_t lport, uint32_t raddr,
                      uint16_t rport);
/* Draws finished connections (called once per loop round, after output). */
void ladder_flush(struct ladder *l);
/* Draws everything still open, closes the SVG file and frees all; -1 if
 * the SVG could not be written whole (svg_errno says why). */
int ladder_finish(struct ladder *l);

/* For tests: renders one connection. */
void ladder_write_text(const struct ladder_conn *c, FILE *f);
int ladder_write_svg(const struct ladder_conn *c, const char *path);
/* Writes the SVG to f; -1 if a write failed. */
int ladder_write_svg_to(const struct ladder_conn *c, FILE *f);

#endif
