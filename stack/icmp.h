/* icmp.h - ICMP (RFC 792): echo, errors sent (protocol unreachable,
 * reassembly time exceeded) and errors received for TCP. */
#ifndef SK_ICMP_H
#define SK_ICMP_H

#include <stddef.h>
#include <stdint.h>

#include "ipv4.h"

#define ICMP_ECHO_REPLY    0
#define ICMP_UNREACH       3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_REDIRECT      5
#define ICMP_ECHO_REQUEST  8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
/* Destination unreachable codes (RFC 792, RFC 1122 3.2.2.1, RFC 1812 5.2.7.1). */
#define ICMP_UNREACH_NET          0
#define ICMP_UNREACH_HOST         1
#define ICMP_UNREACH_PROTO        2
#define ICMP_UNREACH_PORT         3
#define ICMP_UNREACH_NEEDFRAG     4
#define ICMP_UNREACH_SRCFAIL      5
#define ICMP_UNREACH_NET_UNKNOWN  6
#define ICMP_UNREACH_HOST_UNKNOWN 7
#define ICMP_UNREACH_ISOLATED     8
#define ICMP_UNREACH_NET_PROHIB   9
#define ICMP_UNREACH_HOST_PROHIB  10
#define ICMP_UNREACH_TOSNET       11
#define ICMP_UNREACH_TOSHOST      12
#define ICMP_UNREACH_FILTER       13
#define ICMP_UNREACH_PREC_VIOL    14
#define ICMP_UNREACH_PREC_CUTOFF  15
#define ICMP_TIMXCEED_REASS       1
/* Errors sent: a token bucket of ICMP_RATE_BURST, refilled at
 * ICMP_RATE_PER_SEC (RFC 1812 4.3.2.8 asks for a limit; Linux uses 1000/s
 * with a burst of 50 across all types, we are stricter). */
#define ICMP_RATE_PER_SEC 100
#define ICMP_RATE_BURST   20

struct sk_stack;
void icmp_input(struct sk_stack *s, const struct ipv4_hdr *ih, const uint8_t *p, size_t len);
/* Protocol unreachable for the datagram `dgram` (its IP header and data). */
void icmp_send_unreach(struct sk_stack *s, uint8_t code, const struct ipv4_hdr *ih,
                       const uint8_t *dgram, size_t len);
/* Time exceeded in reassembly (RFC 1122 3.3.2) to dst, quoting the first
 * fragment's header and 8 bytes of its data (`quote`, qlen bytes). */
void icmp_send_reasm_timeout(struct sk_stack *s, uint32_t dst, uint8_t proto, const uint8_t *quote,
                             size_t qlen);

#endif
