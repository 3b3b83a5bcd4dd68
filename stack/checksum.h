/* checksum.h - the Internet checksum (RFC 1071) and its incremental
 * update (RFC 1624). */
#ifndef SK_CHECKSUM_H
#define SK_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds `len` bytes to a running 32-bit-folded partial sum (not complemented).
 * Chain calls to sum discontiguous pieces; every piece but the last must have
 * an even length. */
uint32_t csum_partial(const void *data, size_t len, uint32_t sum);
/* Folds a partial sum to 16 bits and complements it: the value for the wire. */
uint16_t csum_finish(uint32_t sum);
/* The checksum of one buffer: csum_finish(csum_partial(data, len, 0)). */
uint16_t csum(const void *data, size_t len);
/* Partial sum of the TCP/UDP pseudo-header (RFC 9293 section 3.1). */
uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
/* RFC 1624 eqn. 3: the new checksum HC' after a 16-bit field changes m -> m'. */
uint16_t csum_update16(uint16_t hc, uint16_t m, uint16_t m_new);

struct sk_frame_meta;
/* Completes a checksum left partial (SK_CSUM_PARTIAL), in software: the
 * field holds the pseudo-header's sum. */
void csum_complete(uint8_t *frame, size_t len, const struct sk_frame_meta *m);

#endif
