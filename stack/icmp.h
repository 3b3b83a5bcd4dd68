/* icmp.h - ICMP (RFC 792): echo and destination unreachable. */
#ifndef SK_ICMP_H
#define SK_ICMP_H

#include <stddef.h>
#include <stdint.h>

#include "ipv4.h"

#define ICMP_ECHO_REPLY    0
#define ICMP_UNREACH       3
#define ICMP_ECHO_REQUEST  8
#define ICMP_UNREACH_PROTO 2
#define ICMP_UNREACH_PORT  3
/* Unreachables: a token bucket of ICMP_RATE_BURST, refilled at
 * ICMP_RATE_PER_SEC (RFC 1812 4.3.2.8 asks for a limit; Linux uses 1000/s
 * with a burst of 50 across all types, we are stricter). */
#define ICMP_RATE_PER_SEC 100
#define ICMP_RATE_BURST   20

struct sk_stack;
void icmp_input(struct sk_stack *s, const struct ipv4_hdr *ih, const uint8_t *p, size_t len);
/* Protocol unreachable for the datagram `dgram` (its IP header and data). */
void icmp_send_unreach(struct sk_stack *s, uint8_t code, const struct ipv4_hdr *ih,
                       const uint8_t *dgram, size_t len);

#endif
