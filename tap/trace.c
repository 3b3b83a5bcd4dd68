/* trace.c - frames as `tcpdump -nn` (4.99) prints them: ARP, IPv4 with
 * ICMP and TCP (flags, seq, ack, win, options with mss, wscale, sackOK,
 * TS val/ecr and sack blocks, length, relative sequence numbers after the
 * handshake), a short generic line for the rest.  Checked against tcpdump
 * by tests/integration/trace_tcpdump.sh and, over a lossy link with SACK,
 * trace_options.sh. */
#include "trace.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct out {
    char *p;
    size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(o->p + (o->len < o->cap ? o->len : o->cap), room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_ip(struct out *o, uint32_t a)
{
    put(o, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static void put_mac(struct out *o, const uint8_t *m)
{
    put(o, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void arp_line(struct out *o, const uint8_t *p, size_t len)
{
    put(o, "ARP, ");
    if (len < 8 || be16(p) != 1 || be16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4 || len < 28) {
        put(o, "Unknown, length %zu", len);
        return;
    }
    uint16_t op = be16(p + 6);
    const uint8_t *sha = p + 8, *tha = p + 18;
    uint32_t spa = be32(p + 14), tpa = be32(p + 24);
    static const uint8_t zero[6];
    if (op == 1) {
        put(o, "Request who-has ");
        put_ip(o, tpa);
        if (memcmp(tha, zero, 6) != 0) {
            put(o, " (");
            put_mac(o, tha);
            put(o, ")");
        }
        put(o, " tell ");
        put_ip(o, spa);
    } else if (op == 2) {
        put(o, "Reply ");
        put_ip(o, spa);
        put(o, " is-at ");
        put_mac(o, sha);
    } else {
        put(o, "Unknown (%u)", op);
    }
    put(o, ", length %zu", len);
}

static void icmp_line(struct out *o, const uint8_t *p, size_t len)
{
    put(o, "ICMP ");
    if (len < 4) {
        put(o, "[|icmp]");
        return;
    }
    uint8_t type = p[0], code = p[1];
    if ((type == 0 || type == 8) && len >= 8) {
        put(o, "echo %s, id %u, seq %u", type == 8 ? "request" : "reply", be16(p + 4), be16(p + 6));
    } else if (type == 3 && len >= 8 + 20) {
        const uint8_t *ip = p + 8;
        uint32_t dst = be32(ip + 16);
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        if (code == 2) {
            put_ip(o, dst);
            put(o, " protocol %u unreachable", ip[9]);
        } else if (code == 3 && len >= 8 + ihl + 4) {
            put_ip(o, dst);
            put(o, " %s port %u unreachable",
                ip[9] == 6    ? "tcp"
                : ip[9] == 17 ? "udp"
                              : "?",
                be16(ip + ihl + 2));
        } else {
            put(o, "type-#%u", type);
        }
    } else {
        put(o, "type-#%u", type);
    }
    put(o, ", length %zu", len);
}

/* The conversation of a segment; endpoint 0 is the lower (addr, port). */
static struct trace_conv *conv_of(struct trace_state *ts, uint32_t sa, uint16_t sp, uint32_t da,
                                  uint16_t dp, int *src_side)
{
    bool swap = sa > da || (sa == da && sp > dp);
    uint32_t a0 = swap ? da : sa, a1 = swap ? sa : da;
    uint16_t p0 = swap ? dp : sp, p1 = swap ? sp : dp;
    *src_side = swap;
    uint32_t h = (a0 * 2654435761u) ^ (a1 * 40503u) ^ ((uint32_t)p0 << 16 | p1);
    h ^= h >> 15;
    struct trace_conv *c = &ts->conv[h % TRACE_CONVS];
    if (!c->used || c->addr[0] != a0 || c->addr[1] != a1 || c->port[0] != p0 || c->port[1] != p1) {
        /* Not known (or evicted): a fresh entry, as tcpdump would make one. */
        memset(c, 0, sizeof(*c));
        c->addr[0] = a0;
        c->addr[1] = a1;
        c->port[0] = p0;
        c->port[1] = p1;
    }
    return c;
}

static void tcp_options(struct out *o, const uint8_t *p, size_t len, uint32_t sack_base)
{
    put(o, ", options [");
    size_t i = 0;
    bool first = true;
    while (i < len) {
        uint8_t kind = p[i];
        if (!first)
            put(o, ",");
        first = false;
        if (kind == 0) {
            put(o, "eol");
            break;
        }
        if (kind == 1) {
            put(o, "nop");
            i++;
            continue;
        }
        if (i + 1 >= len || p[i + 1] < 2 || i + p[i + 1] > len) {
            put(o, "bad opt");
            break;
        }
        uint8_t olen = p[i + 1];
        const uint8_t *v = p + i + 2;
        size_t dlen = olen - 2u;
        switch (kind) {
        case 2:
            if (dlen == 2)
                put(o, "mss %u", be16(v));
            else
                put(o, "mss [bad length %u]", olen);
            break;
        case 3:
            if (dlen == 1)
                put(o, "wscale %u", v[0]);
            else
                put(o, "wscale [bad length %u]", olen);
            break;
        case 4:
            put(o, "sackOK");
            break;
        case 5:
            if (dlen % 8) {
                put(o, "sack [bad length %u]", olen);
                break;
            }
            put(o, "sack %zu ", dlen / 8);
            for (size_t k = 0; k < dlen; k += 8)
                put(o, "{%u:%u}", be32(v + k) - sack_base, be32(v + k + 4) - sack_base);
            break;
        case 8:
            if (dlen == 8)
                put(o, "TS val %u ecr %u", be32(v), be32(v + 4));
            else
                put(o, "TS [bad length %u]", olen);
            break;
        default:
            put(o, "unknown-%u", kind);
            if (dlen) {
                put(o, " 0x");
                for (size_t k = 0; k < dlen; k++)
                    put(o, "%02x", v[k]);
            }
            break;
        }
        i += olen;
    }
    put(o, "]");
}

static void tcp_line(struct out *o, struct trace_state *ts, uint32_t sa, uint32_t da,
                     const uint8_t *p, size_t len)
{
    if (len < 20) {
        put(o, "[|tcp]");
        return;
    }
    uint16_t sp = be16(p), dp = be16(p + 2);
    uint32_t seq = be32(p + 4), ack = be32(p + 8);
    uint8_t flags = p[13];
    size_t hlen = (size_t)(p[12] >> 4) * 4;
    put_ip(o, sa);
    put(o, ".%u > ", sp);
    put_ip(o, da);
    put(o, ".%u: Flags [", dp);
    /* tcpdump's letters in its order: F S R P . U E W */
    static const char letters[] = "FSRP.UEW";
    bool any = false;
    for (int b = 0; b < 8; b++)
        if (flags & (1 << b)) {
            put(o, "%c", letters[b]);
            any = true;
        }
    if (!any)
        put(o, "none");
    put(o, "]");
    if (hlen < 20 || hlen > len) {
        put(o, ", bad-hlen %zu", hlen);
        return;
    }
    size_t dlen = len - hlen;
    uint32_t sack_base = 0;
    if (flags & 0x10) {
        int src;
        struct trace_conv *c = conv_of(ts, sa, sp, da, dp, &src);
        if (!c->used || (flags & 0x02)) {
            /* First ACK of the conversation, or a new handshake: learn
             * both initial numbers and print this one absolute. */
            c->used = 1;
            c->base[src] = seq;
            c->base[!src] = ack - 1;
        } else {
            seq -= c->base[src];
            ack -= c->base[!src];
        }
        /* SACK edges are the receiver's sequence numbers: tcpdump makes
         * them relative to that side's base (its thack/thseq), even in
         * the first ACK, whose own seq and ack it prints absolute. */
        sack_base = c->base[!src];
    }
    if (dlen > 0 || (flags & 0x07)) { /* data, or SYN, FIN, RST */
        if (dlen)
            put(o, ", seq %u:%u", seq, (uint32_t)(seq + dlen));
        else
            put(o, ", seq %u", seq);
    }
    if (flags & 0x10)
        put(o, ", ack %u", ack);
    put(o, ", win %u", be16(p + 14));
    if (flags & 0x20)
        put(o, ", urg %u", be16(p + 18));
    if (hlen > 20)
        tcp_options(o, p + 20, hlen - 20, sack_base);
    put(o, ", length %zu", dlen);
}

static void ipv4_line(struct out *o, struct trace_state *ts, const uint8_t *p, size_t len)
{
    if (len < 20 || (p[0] >> 4) != 4) {
        put(o, "IP [|ip]");
        return;
    }
    size_t ihl = (size_t)(p[0] & 15) * 4;
    size_t tot = be16(p + 2);
    if (ihl < 20 || tot < ihl || tot > len) {
        put(o, "IP truncated-ip - %zu bytes missing!", tot > len ? tot - len : 0);
        return;
    }
    uint32_t sa = be32(p + 12), da = be32(p + 16);
    uint16_t frag = be16(p + 6);
    const uint8_t *pl = p + ihl;
    size_t plen = tot - ihl;
    put(o, "IP ");
    if ((frag & 0x1fff) != 0) { /* not a first fragment: no transport header */
        put_ip(o, sa);
        put(o, " > ");
        put_ip(o, da);
        put(o, ": ip-proto-%u", p[9]);
        return;
    }
    switch (p[9]) {
    case 6:
        tcp_line(o, ts, sa, da, pl, plen);
        return;
    case 1:
        put_ip(o, sa);
        put(o, " > ");
        put_ip(o, da);
        put(o, ": ");
        icmp_line(o, pl, plen);
        return;
    case 17:
        if (plen >= 8) {
            put_ip(o, sa);
            put(o, ".%u > ", be16(pl));
            put_ip(o, da);
            put(o, ".%u: UDP, length %u", be16(pl + 2), be16(pl + 4) - 8u);
            return;
        }
        break;
    default:
        break;
    }
    put_ip(o, sa);
    put(o, " > ");
    put_ip(o, da);
    put(o, ": ip-proto-%u %zu", p[9], plen);
}

size_t trace_format(struct trace_state *ts, const uint8_t *f, size_t len, char *out, size_t outlen)
{
    struct out o = {out, outlen, 0};
    if (outlen)
        out[0] = '\0';
    if (len < 14) {
        put(&o, "[|ether]");
    } else {
        uint16_t type = be16(f + 12);
        if (type == 0x0806)
            arp_line(&o, f + 14, len - 14);
        else if (type == 0x0800)
            ipv4_line(&o, ts, f + 14, len - 14);
        else if (type == 0x86dd)
            put(&o, "IP6, length %zu", len - 14);
        else
            put(&o, "ethertype Unknown (0x%04x), length %zu", type, len);
    }
    return o.len < outlen ? o.len : (outlen ? outlen - 1 : 0);
}

bool trace_rel_seq(struct trace_state *ts, const uint8_t *f, size_t len, uint32_t *seq)
{
    if (len < 14 + 20 || be16(f + 12) != 0x0800)
        return false;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4, tot = be16(ip + 2);
    if ((ip[0] >> 4) != 4 || ip[9] != 6 || ihl < 20 || tot < ihl + 20 || tot > len - 14 ||
        (be16(ip + 6) & 0x1fff))
        return false;
    const uint8_t *p = ip + ihl;
    if (!(p[13] & 0x10))
        return false;
    int src;
    struct trace_conv *c = conv_of(ts, be32(ip + 12), be16(p), be32(ip + 16), be16(p + 2), &src);
    if (!c->used || (p[13] & 0x02)) { /* learnt as tcp_line learns */
        c->used = 1;
        c->base[src] = be32(p + 4);
        c->base[!src] = be32(p + 8) - 1;
    }
    *seq = be32(p + 4) - c->base[src];
    return true;
}

void trace_timestamp(char out[32], int64_t sec, int64_t usec)
{
    time_t t = (time_t)sec;
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(out, 32, "%02d:%02d:%02d.%06d", tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100,
             (int)(usec % 1000000));
}
