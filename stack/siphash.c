/* siphash.c - SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input
 * PRF", 2012).  Section numbers below refer to that paper. */
#include "siphash.h"

#include <string.h>

/* Two compression rounds per message word and four finalization rounds:
 * the "2-4" parameters the paper recommends (section 2). */
enum { SIP_C_ROUNDS = 2, SIP_D_ROUNDS = 4 };

static uint64_t rotl64(uint64_t x, unsigned b)
{
    /* Callers pass only constant b in 1..63, so neither shift is by 64. */
    return (x << b) | (x >> (64 - b));
}

/* The paper defines every word as little-endian regardless of the host.
 * Copying into a byte array first (memcpy) avoids unaligned and aliasing
 * hazards; assembling with shifts gives the same value on any endianness. */
static uint64_t load_le64(const uint8_t *p)
{
    uint8_t b[8];
    uint64_t v = 0;

    memcpy(b, p, sizeof(b));
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

/* One SipRound (section 2, figure 2.1): an ARX network of two half-rounds on
 * the pairs (v0,v1) and (v2,v3), with the halves swapped between them. */
static void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl64(v[1], 13);
    v[1] ^= v[0];
    v[0] = rotl64(v[0], 32);

    v[2] += v[3];
    v[3] = rotl64(v[3], 16);
    v[3] ^= v[2];

    v[0] += v[3];
    v[3] = rotl64(v[3], 21);
    v[3] ^= v[0];

    v[2] += v[1];
    v[1] = rotl64(v[1], 17);
    v[1] ^= v[2];
    v[2] = rotl64(v[2], 32);
}

/* Absorbs one 64-bit message word m (section 2, "Compression"): it is XORed
 * into v3 before the rounds and into v0 after them. */
static void sip_compress(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    for (int i = 0; i < SIP_C_ROUNDS; i++)
        sipround(v);
    v[0] ^= m;
}

uint64_t siphash24(const uint8_t key[16], const void *in, size_t len)
{
    const uint8_t *p = in;
    const uint64_t k0 = load_le64(key);
    const uint64_t k1 = load_le64(key + 8);
    /* Initialization (section 2): the key XORed with the ASCII of
     * "somepseudorandomlygeneratedbytes".  These nothing-up-my-sleeve
     * constants make the starting state asymmetric and non-zero even for an
     * all-zero key. */
    uint64_t v[4] = {
        k0 ^ UINT64_C(0x736f6d6570736575),
        k1 ^ UINT64_C(0x646f72616e646f6d),
        k0 ^ UINT64_C(0x6c7967656e657261),
        k1 ^ UINT64_C(0x7465646279746573),
    };
    size_t left = len;

    for (; left >= 8; left -= 8, p += 8)
        sip_compress(v, load_le64(p));

    /* The final word holds the 0..7 trailing bytes, zero padded, with the
     * message length mod 256 in its top byte (section 2), so messages that
     * differ only by trailing zero bytes still hash differently. */
    uint8_t tail[8] = {0};
    if (left > 0)
        memcpy(tail, p, left);
    tail[7] = (uint8_t)len;
    sip_compress(v, load_le64(tail));

    /* Finalization (section 2): XORing 0xff into v2 separates it from
     * compression, then d rounds mix the state before it is folded to 64 bits. */
    v[2] ^= 0xff;
    for (int i = 0; i < SIP_D_ROUNDS; i++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
