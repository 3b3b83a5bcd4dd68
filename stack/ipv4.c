/* ipv4.c - IPv4 input validation and output (RFC 791, RFC 1122 3.2.1). */
#include "ipv4.h"

#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"
#include "eth.h"
#include "icmp.h"
#include "ip_frag.h"
#include "siphash.h"

void ipv4_init(struct sk_stack *s)
{
    s->cfg.random(s->cfg.random_ctx, s->ip_ids.key, sizeof(s->ip_ids.key));
}

enum ipv4_parse_err ipv4_parse(const uint8_t *p, size_t len, struct ipv4_hdr *h)
{
    if (len < IP_HDR_LEN)
        return IPV4_TRUNCATED;
    h->version = p[0] >> 4;
    h->ihl = (uint8_t)((p[0] & 0x0f) * 4);
    if (h->version != 4) /* RFC 1122 3.2.1.1: silently discard */
        return IPV4_BAD_VERSION;
    if (h->ihl < IP_HDR_LEN || h->ihl > len)
        return IPV4_BAD_IHL;
    h->tos = p[1];
    h->total_len = rd16(p + 2);
    h->id = rd16(p + 4);
    h->frag = rd16(p + 6);
    h->ttl = p[8];
    h->proto = p[9];
    h->checksum = rd16(p + 10);
    h->src = rd32(p + 12);
    h->dst = rd32(p + 16);
    /* Total length bounds the datagram; bytes past it are link padding. */
    if (h->total_len < h->ihl || h->total_len > len)
        return IPV4_TRUNCATED;
    if (csum(p, h->ihl) != 0) /* RFC 1122 3.2.1.2: MUST verify */
        return IPV4_BAD_CHECKSUM;
    return IPV4_OK;
}

static bool is_bad_source(const struct sk_stack *s, uint32_t src)
{
    /* RFC 1122 3.2.1.3: discard datagrams from broadcast, multicast (class D)
     * and class E sources; one from our own address is a loop or a spoof.
     * 127/8 MUST NOT appear outside a host (case (g)); 0/8 is only a source
     * while a host boots (cases (a), (b)), and we run no such service.  An
     * answer to either would leave through the gateway; Linux drops both as
     * martians. */
    uint32_t bcast = s->cfg.addr | ~s->netmask;
    uint8_t net = (uint8_t)(src >> 24);
    return src == 0xffffffffu || src == bcast || (src >> 28) >= 0xe || src == s->cfg.addr ||
           net == 127 || net == 0;
}

void ipv4_input(struct sk_stack *s, const uint8_t *p, size_t len)
{
    struct ipv4_hdr h;
    s->ctr.ip_in++;
    switch (ipv4_parse(p, len, &h)) {
    case IPV4_OK:
        break;
    case IPV4_TRUNCATED:
        s->ctr.drop_ip_truncated++;
        return;
    case IPV4_BAD_VERSION:
        s->ctr.drop_ip_version++;
        return;
    case IPV4_BAD_IHL:
        s->ctr.drop_ip_ihl++;
        return;
    case IPV4_BAD_CHECKSUM:
        s->ctr.drop_ip_checksum++;
        return;
    }
    /* Only our unicast address: we run no broadcast or multicast service. */
    if (h.dst != s->cfg.addr) {
        s->ctr.drop_ip_not_ours++;
        return;
    }
    if (is_bad_source(s, h.src)) {
        s->ctr.drop_ip_bad_src++;
        return;
    }
    if ((h.frag & IP_FLAG_MF) || (h.frag & IP_OFF_MASK)) {
        /* A fragment: held until its datagram is whole (ip_frag.c), which
         * then goes up from here as if it had come in one piece. */
        p = ip_frag_input(s, &h, p);
        if (!p)
            return;
    }
    /* Options are accepted and skipped (RFC 1122 3.2.1.8 lets a host ignore
     * the ones it does not implement). */
    if (h.ihl > IP_HDR_LEN)
        s->ctr.ip_options_skipped++;
    const uint8_t *payload = p + h.ihl;
    size_t plen = h.total_len - h.ihl;
    switch (h.proto) {
    case IP_PROTO_ICMP:
        icmp_input(s, &h, payload, plen);
        break;
    case IP_PROTO_TCP:
        tcp_input(s, &h, payload, plen);
        break;
    default:
        /* RFC 1122 3.2.2.1: protocol unreachable, rate-limited. */
        s->ctr.drop_ip_proto++;
        icmp_send_unreach(s, ICMP_UNREACH_PROTO, &h, p, h.total_len);
        break;
    }
}

uint8_t *ipv4_payload(struct sk_stack *s)
{
    return s->tx + ETH_HDR_LEN + IP_HDR_LEN;
}

size_t ipv4_max_payload(const struct sk_stack *s)
{
    return s->cfg.mtu - IP_HDR_LEN;
}

/* The next hop for dst, or 0 (counted) when there is none. */
static uint32_t next_hop(struct sk_stack *s, uint32_t dst)
{
    if (sk_on_link(s, dst))
        return dst;
    if (!s->cfg.gateway)
        s->ctr.drop_ip_no_route++;
    return s->cfg.gateway;
}

/* Writes the header at ip and hands the frame (ip - ETH_HDR_LEN) to ARP. */
static void put_header(struct sk_stack *s, uint8_t *ip, uint32_t dst, uint8_t proto, uint8_t tos,
                       uint16_t total, uint16_t id, uint16_t frag)
{
    ip[0] = 0x45;
    ip[1] = tos;
    wr16(ip + 2, total);
    wr16(ip + 4, id);
    wr16(ip + 6, frag);
    ip[8] = IP_TTL;
    ip[9] = proto;
    wr16(ip + 10, 0);
    wr32(ip + 12, s->cfg.addr);
    wr32(ip + 16, dst);
    wr16(ip + 10, csum(ip, IP_HDR_LEN));
}

static void send_frame(struct sk_stack *s, uint32_t hop, size_t total)
{
    size_t flen = ETH_HDR_LEN + total;
    /* Pad runts to the 60-byte Ethernet minimum. */
    if (flen < 60) {
        memset(s->tx + flen, 0, 60 - flen);
        flen = 60;
    }
    memcpy(s->tx + 6, s->cfg.mac, ETH_ALEN);
    wr16(s->tx + 12, ETHERTYPE_IP);
    arp_output(s, hop, s->tx, flen); /* counted in ip_out when it leaves */
}

int ipv4_send(struct sk_stack *s, uint32_t dst, uint8_t proto, size_t len)
{
    uint32_t hop = next_hop(s, dst);
    if (!hop)
        return -SK_ENOROUTE;
    uint16_t total = (uint16_t)(IP_HDR_LEN + len);
    /* An atomic datagram (RFC 6864 4.1): DF set, so the path tells us
     * (RFC 1191) rather than fragments, and its identification may be
     * any value: 0, as Linux gives its RSTs.  Not a counter: a counter
     * seen through our answers to anyone's probes is what makes a host
     * an idle-scan zombie (RFC 7739 3). */
    put_header(s, s->tx + ETH_HDR_LEN, dst, proto, 0, total, 0, IP_FLAG_DF);
    send_frame(s, hop, total);
    return 0;
}

static uint64_t id_hash(const struct sk_stack *s, uint32_t dst, uint8_t proto)
{
    uint8_t in[5];
    wr32(in, dst);
    in[4] = proto;
    return siphash24(s->ip_ids.key, in, sizeof(in));
}

uint16_t ipv4_peek_id(const struct sk_stack *s, uint32_t dst, uint8_t proto)
{
    uint64_t h = id_hash(s, dst, proto);
    return (uint16_t)(s->ip_ids.next[h % IP_ID_BUCKETS] + (uint16_t)(h >> 48));
}

/* RFC 7739 5 and RFC 6864 4.2: an identification unique for (source,
 * destination, protocol) over a datagram's life, and not predictable by
 * a third party.  A keyed hash of the destination picks one of a table of
 * counters and adds an offset of its own, so each destination sees its
 * own sequence from a secret start, and what we send to one tells
 * nothing of what we send to another (but the rare pair sharing a
 * bucket). */
static uint16_t next_id(struct sk_stack *s, uint32_t dst, uint8_t proto)
{
    uint64_t h = id_hash(s, dst, proto);
    uint16_t *ctr = &s->ip_ids.next[h % IP_ID_BUCKETS];
    return (uint16_t)((*ctr)++ + (uint16_t)(h >> 48));
}

int ipv4_send_frag(struct sk_stack *s, uint32_t dst, uint8_t proto, uint8_t tos,
                   const uint8_t *head, size_t hlen, const uint8_t *body, size_t blen)
{
    size_t len = hlen + blen;
    if (len > IP_MAX_LEN - IP_HDR_LEN)
        return -SK_EINVAL;
    uint32_t hop = next_hop(s, dst);
    if (!hop)
        return -SK_ENOROUTE;
    uint16_t id = next_id(s, dst, proto);
    /* RFC 791 3.2 (fragmentation): every fragment but the last carries a
     * multiple of 8 bytes; all share the identification. */
    size_t per = (ipv4_max_payload(s)) & ~(size_t)7;
    uint8_t *ip = s->tx + ETH_HDR_LEN;
    size_t off = 0;
    if (len > ipv4_max_payload(s))
        s->ctr.ip_fragmented++;
    do {
        size_t n = len - off <= ipv4_max_payload(s) ? len - off : per;
        bool more = off + n < len;
        /* Copy [off, off + n) of head ++ body. */
        uint8_t *out = ip + IP_HDR_LEN;
        size_t done = 0;
        if (off < hlen) {
            size_t k = hlen - off < n ? hlen - off : n;
            memcpy(out, head + off, k);
            done = k;
        }
        if (done < n)
            memcpy(out + done, body + (off + done - hlen), n - done);
        put_header(s, ip, dst, proto, tos, (uint16_t)(IP_HDR_LEN + n), id,
                   (uint16_t)((more ? IP_FLAG_MF : 0) | (off / 8)));
        if (more || off)
            s->ctr.ip_frags_out++;
        send_frame(s, hop, IP_HDR_LEN + n);
        off += n;
    } while (off < len);
    return 0;
}
