/* ipv4.c - IPv4 input validation and output (RFC 791, RFC 1122 3.2.1). */
#include "ipv4.h"

#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"
#include "eth.h"
#include "icmp.h"

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
        s->ctr.drop_ip_fragment++;
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

int ipv4_send(struct sk_stack *s, uint32_t dst, uint8_t proto, size_t len)
{
    uint32_t hop = dst;
    if (!sk_on_link(s, dst)) {
        if (!s->cfg.gateway) {
            s->ctr.drop_ip_no_route++;
            return -SK_ENOROUTE;
        }
        hop = s->cfg.gateway;
    }
    uint8_t *ip = s->tx + ETH_HDR_LEN;
    uint16_t total = (uint16_t)(IP_HDR_LEN + len);
    ip[0] = 0x45;
    ip[1] = 0;
    wr16(ip + 2, total);
    wr16(ip + 4, s->ip_id++);
    /* DF: we never fragment, so let the path tell us (RFC 1191). */
    wr16(ip + 6, IP_FLAG_DF);
    ip[8] = IP_TTL;
    ip[9] = proto;
    wr16(ip + 10, 0);
    wr32(ip + 12, s->cfg.addr);
    wr32(ip + 16, dst);
    wr16(ip + 10, csum(ip, IP_HDR_LEN));
    size_t flen = ETH_HDR_LEN + total;
    /* Pad runts to the 60-byte Ethernet minimum. */
    if (flen < 60) {
        memset(s->tx + flen, 0, 60 - flen);
        flen = 60;
    }
    memcpy(s->tx + 6, s->cfg.mac, ETH_ALEN);
    wr16(s->tx + 12, ETHERTYPE_IP);
    arp_output(s, hop, s->tx, flen); /* counted in ip_out when it leaves */
    return 0;
}
