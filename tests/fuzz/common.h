/* common.h - what the fuzz targets share: reading the input as a stream of
 * choices, a stack with fixed addresses, a deterministic clock and random
 * source, its output checked (invariants.h), and building the peer's
 * frames with valid checksums. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack.h"

/* The stack is 10.0.0.2, the peer 10.0.0.1, as in the unit tests and the
 * integration tests' namespace (so frames captured there are seeds). */
#define FZ_US_IP   0x0a000002u
#define FZ_PEER_IP 0x0a000001u
extern const uint8_t FZ_US_MAC[6], FZ_PEER_MAC[6];
#define FZ_FRAME_MAX 1600 /* an Ethernet frame at the MTU of 1500, and room */

/* The input, read front to back; past its end every read gives zeros. */
struct fz_in {
    const uint8_t *p;
    size_t n, i;
};
static inline bool fz_more(const struct fz_in *r)
{
    return r->i < r->n;
}
static inline uint8_t fz_u8(struct fz_in *r)
{
    return r->i < r->n ? r->p[r->i++] : 0;
}
static inline uint16_t fz_u16(struct fz_in *r)
{
    uint16_t hi = fz_u8(r);
    return (uint16_t)(hi << 8 | fz_u8(r));
}
static inline uint32_t fz_u32(struct fz_in *r)
{
    uint32_t hi = fz_u16(r);
    return hi << 16 | fz_u16(r);
}
/* Up to `want` bytes in place; *got says how many were left. */
const uint8_t *fz_bytes(struct fz_in *r, size_t want, size_t *got);

/* A stack and its surroundings.  `on_frame`, if set, sees each frame the
 * stack sends after the frame invariants passed. */
struct fz_stack {
    sk_stack *s;
    struct sk_config cfg;
    uint64_t now;
    uint32_t rng;
    uint64_t frames_out;
    void (*on_frame)(void *ctx, const uint8_t *frame, size_t len);
    void *ctx;
};
/* Fills cfg with the fixed addresses, the callbacks and a fixed ISN key;
 * the caller may tune it before fz_stack_start. */
void fz_stack_init(struct fz_stack *f, uint32_t seed);
/* Creates the stack and teaches it the peer's MAC (an ARP request from
 * the peer), so TCP output needs no ARP.  false if the config is refused. */
bool fz_stack_start(struct fz_stack *f);
/* Feeds a frame, flushes, checks the invariants. */
void fz_input(struct fz_stack *f, const uint8_t *frame, size_t len);
/* Moves the clock, runs the timers, flushes, checks the invariants. */
void fz_advance(struct fz_stack *f, uint64_t us);
void fz_stack_free(struct fz_stack *f);

/* A TCP segment from the peer to us. */
struct fz_seg {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd, urp;
    const uint8_t *opt; /* raw option bytes, padded here to a multiple of 4 */
    size_t optlen;      /* at most 40 */
    const uint8_t *data;
    size_t len;
};
/* Writes the frame into buf (FZ_FRAME_MAX bytes); returns its length. */
size_t fz_build_tcp(uint8_t *buf, const struct fz_seg *g);
/* Recomputes the IPv4 header checksum and, for TCP and ICMP, the payload's
 * where the lengths allow, so that a mutated frame reaches the layer above. */
void fz_fix_checksums(uint8_t *frame, size_t len);

#endif
