/* ipv4.h - IPv4 (RFC 791, RFC 1122 section 3.2.1). */
#ifndef SK_IPV4_H
#define SK_IPV4_H

#include <stddef.h>
#include <stdint.h>

#define IP_HDR_LEN    20
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define IP_PROTO_UDP  17
#define IP_TTL        64 /* RFC 1700's recommended default, as Linux */
#define IP_FLAG_DF    0x4000
#define IP_FLAG_MF    0x2000
#define IP_OFF_MASK   0x1fff
#define IP_MAX_LEN    65535 /* RFC 791: total length is 16 bits */
#define IP_TOS_ECN    0x03  /* RFC 3168 5: the low two bits of the old TOS octet */
/* IP identification for datagrams that may be fragmented (RFC 7739 5):
 * per-destination counters, a keyed hash of (destination, protocol)
 * picking one of these and a random start for each. */
#define IP_ID_BUCKETS 256

struct ipv4_hdr {
    uint8_t version, ihl; /* ihl in bytes */
    uint8_t tos, ttl, proto;
    uint16_t total_len, id, frag; /* frag: flags and offset as on the wire */
    uint16_t checksum;
    uint32_t src, dst;
};

enum ipv4_parse_err {
    IPV4_OK = 0,
    IPV4_TRUNCATED,
    IPV4_BAD_VERSION,
    IPV4_BAD_IHL,
    IPV4_BAD_CHECKSUM,
};
/* Parses and validates a header; on success *h holds it and the packet's
 * true length is h->total_len (Ethernet padding beyond it is not data). */
enum ipv4_parse_err ipv4_parse(const uint8_t *p, size_t len, struct ipv4_hdr *h);

struct ipv4_ids {
    uint8_t key[16]; /* from the random source at creation */
    uint16_t next[IP_ID_BUCKETS];
};

struct sk_stack;
/* Draws the identification secret from the random source. */
void ipv4_init(struct sk_stack *s);
void ipv4_input(struct sk_stack *s, const uint8_t *p, size_t len);
/* Where an upper layer writes its payload before calling ipv4_send. */
uint8_t *ipv4_payload(struct sk_stack *s);
/* The largest payload ipv4_send takes. */
size_t ipv4_max_payload(const struct sk_stack *s);
/* Sends the `len` bytes written at ipv4_payload(s) to dst as an atomic
 * datagram (RFC 6864 4.1): DF set, never fragmented, identification 0.
 * TCP's segments go this way (sized to the MSS; the path tells us by
 * ICMP when one is too big, RFC 1191).  -SK_ENOROUTE when dst is off our
 * subnet and there is no gateway. */
int ipv4_send(struct sk_stack *s, uint32_t dst, uint8_t proto, size_t len);
/* Sends head (hlen bytes) followed by body (blen) as one datagram that
 * may be fragmented (DF clear), to fit our MTU: ICMP's messages.  Its
 * identification comes from the per-destination counters.  The parts may
 * lie anywhere but in the frame buffer; blen up to IP_MAX_LEN - 20 - hlen.
 * -SK_EINVAL if too long, -SK_ENOROUTE as ipv4_send. */
int ipv4_send_frag(struct sk_stack *s, uint32_t dst, uint8_t proto, uint8_t tos,
                   const uint8_t *head, size_t hlen, const uint8_t *body, size_t blen);
/* The identification the next fragmentable datagram to (dst, proto) gets
 * (tests; advances nothing). */
uint16_t ipv4_peek_id(const struct sk_stack *s, uint32_t dst, uint8_t proto);

#endif
