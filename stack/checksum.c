/* checksum.c - RFC 1071 Internet checksum, a word at a time. */
#include "checksum.h"

#include "synack.h"

#include <string.h>

/* One's-complement addition is associative and byte-order independent
 * (RFC 1071 section 2(B)), so we add native words in any grouping and fold
 * once at the end, then byte-swap the sum back to network order when the
 * host is little-endian.  The main loop adds 64-bit words into two 64-bit
 * sums, counting the carry out of each (the "end-around carry" of RFC 1071
 * 2(C)): a carry out of bit 63 weighs 2^64, which is 1 modulo 0xffff, so
 * the carries are simply added back at the end.  Two independent sums let
 * the CPU do both additions at once: twice as fast as 32-bit words into
 * one 64-bit sum, which is what the tail below does. */
uint32_t csum_partial(const void *data, size_t len, uint32_t sum)
{
    const uint8_t *p = data;
    uint64_t s0 = 0, s1 = 0, c0 = 0, c1 = 0;

    while (len >= 16) {
        uint64_t a, b;
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        s0 += a;
        c0 += s0 < a;
        s1 += b;
        c1 += s1 < b;
        p += 16;
        len -= 16;
    }
    uint64_t s01 = s0 + s1;
    uint64_t carries = c0 + c1 + (s01 < s0);
    /* The 64-bit sum as two 32-bit halves (2^32 is 1 modulo 0xffff too),
     * leaving room for the tail's 32-bit words. */
    uint64_t acc = (s01 & 0xffffffffu) + (s01 >> 32) + carries;

    while (len >= 8) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + 4, 4);
        acc += (uint64_t)a + b;
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t a;
        memcpy(&a, p, 4);
        acc += a;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t a;
        memcpy(&a, p, 2);
        acc += a;
        p += 2;
        len -= 2;
    }
    if (len) {
        /* A trailing odd byte is padded with zero on the right (RFC 1071 4.1). */
        uint8_t last[2] = {p[0], 0};
        uint16_t a;
        memcpy(&a, last, 2);
        acc += a;
    }
    /* Fold the native-order 64-bit sum to 16 bits. */
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    uint16_t native = (uint16_t)acc;
    uint8_t be[2];
    memcpy(be, &native, 2);
    /* be now holds the sum in memory order; read it as a network-order word. */
    sum += (uint32_t)(be[0] << 8 | be[1]);
    return (sum & 0xffff) + (sum >> 16);
}

uint16_t csum_finish(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint16_t csum(const void *data, size_t len)
{
    return csum_finish(csum_partial(data, len, 0));
}

uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
    sum += proto;
    sum += len;
    return sum;
}

uint16_t csum_update16(uint16_t hc, uint16_t m, uint16_t m_new)
{
    /* HC' = ~(~HC + ~m + m')  (RFC 1624 section 3, eqn. 3) */
    uint32_t sum = (uint16_t)~hc;
    sum += (uint16_t)~m;
    sum += m_new;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

void csum_complete(uint8_t *frame, size_t len, const struct sk_frame_meta *m)
{
    /* The field holds the pseudo-header's sum: summing from csum_start
     * over it and the rest gives the whole. */
    uint8_t *at = frame + m->csum_start + m->csum_offset;
    uint16_t v = csum_finish(csum_partial(frame + m->csum_start, len - m->csum_start, 0));
    at[0] = (uint8_t)(v >> 8);
    at[1] = (uint8_t)v;
}
