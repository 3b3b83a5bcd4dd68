/* siphash.h - SipHash-2-4, the keyed PRF of Aumasson & Bernstein ("SipHash: a
 * fast short-input PRF", INDOCRYPT 2012).  The stack uses it as the secret
 * function F() of RFC 6528 to derive TCP initial sequence numbers. */
#ifndef SK_SIPHASH_H
#define SK_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of `len` bytes at `in` under a 128-bit key (16 bytes, little-endian words as in the
 * paper). */
uint64_t siphash24(const uint8_t key[16], const void *in, size_t len);

#endif
