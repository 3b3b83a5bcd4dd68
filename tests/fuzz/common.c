/* common.c - see common.h. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "eth.h"
#include "invariants.h"
#include "ipv4.h"
#include "tcp.h"

const uint8_t FZ_US_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t FZ_PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

const uint8_t *fz_bytes(struct fz_in *r, size_t want, size_t *got)
{
    size_t left = r->n - r->i;
    *got = want < left ? want : left;
    const uint8_t *p = r->p + r->i;
    r->i += *got;
    return p;
}

static void output(void *ctx, const uint8_t *frame, size_t len)
{
    struct fz_stack *f = ctx;
    inv_check_frame(frame, len, f->cfg.mtu);
    f->frames_out++;
    if (f->on_frame)
        f->on_frame(f->ctx, frame, len);
}

/* Deterministic: the same input must give the same run, or a crash found
 * would not replay. */
static void random_bytes(void *ctx, void *buf, size_t len)
{
    struct fz_stack *f = ctx;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        f->rng ^= f->rng << 13;
        f->rng ^= f->rng >> 17;
        f->rng ^= f->rng << 5;
        p[i] = (uint8_t)f->rng;
    }
}

void fz_stack_init(struct fz_stack *f, uint32_t seed)
{
    memset(f, 0, sizeof(*f));
    f->now = 1000000;
    f->rng = seed | 1; /* xorshift must not start at 0 */
    memcpy(f->cfg.mac, FZ_US_MAC, 6);
    f->cfg.addr = FZ_US_IP;
    f->cfg.prefix_len = 24;
    f->cfg.mtu = 1500;
    f->cfg.output = output;
    f->cfg.output_ctx = f;
    f->cfg.random = random_bytes;
    f->cfg.random_ctx = f;
    f->cfg.tcp_fixed_isn_key = true;
    for (int i = 0; i < 16; i++)
        f->cfg.tcp_isn_key[i] = (uint8_t)i;
}

bool fz_stack_start(struct fz_stack *f)
{
    int err = 0;
    f->s = sk_stack_new(&f->cfg, f->now, &err);
    if (!f->s)
        return false;
    /* An ARP request from the peer: the stack learns its MAC. */
    uint8_t arp[ETH_HDR_LEN + 28] = {0};
    eth_build(arp, eth_broadcast, FZ_PEER_MAC, ETHERTYPE_ARP);
    uint8_t *a = arp + ETH_HDR_LEN;
    wr16(a, 1);
    wr16(a + 2, ETHERTYPE_IP);
    a[4] = 6;
    a[5] = 4;
    wr16(a + 6, 1);
    memcpy(a + 8, FZ_PEER_MAC, 6);
    wr32(a + 14, FZ_PEER_IP);
    wr32(a + 24, FZ_US_IP);
    fz_input(f, arp, sizeof(arp));
    return true;
}

void fz_input(struct fz_stack *f, const uint8_t *frame, size_t len)
{
    sk_input(f->s, frame, len, f->now);
    inv_check_stack(f->s);
    sk_flush(f->s, f->now);
    inv_check_stack(f->s);
}

void fz_advance(struct fz_stack *f, uint64_t us)
{
    f->now += us;
    sk_timers(f->s, f->now);
    inv_check_stack(f->s);
    sk_flush(f->s, f->now);
    inv_check_stack(f->s);
}

void fz_stack_free(struct fz_stack *f)
{
    if (f->s) {
        inv_check_stack(f->s);
        sk_stack_free(f->s);
    }
    f->s = NULL;
}

size_t fz_build_tcp(uint8_t *buf, const struct fz_seg *g)
{
    size_t optlen = g->optlen > TCP_OPT_MAX ? TCP_OPT_MAX : g->optlen;
    size_t optpad = (optlen + 3) & ~(size_t)3;
    size_t room = FZ_FRAME_MAX - ETH_HDR_LEN - IP_HDR_LEN - TCP_HDR_LEN - optpad;
    size_t len = g->len > room ? room : g->len;
    size_t tcplen = TCP_HDR_LEN + optpad + len;

    eth_build(buf, FZ_US_MAC, FZ_PEER_MAC, ETHERTYPE_IP);
    uint8_t *ip = buf + ETH_HDR_LEN;
    memset(ip, 0, IP_HDR_LEN);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(IP_HDR_LEN + tcplen));
    wr16(ip + 6, IP_FLAG_DF);
    ip[8] = 64;
    ip[9] = IP_PROTO_TCP;
    wr32(ip + 12, FZ_PEER_IP);
    wr32(ip + 16, FZ_US_IP);
    wr16(ip + 10, csum(ip, IP_HDR_LEN));

    uint8_t *t = ip + IP_HDR_LEN;
    wr16(t, g->sport);
    wr16(t + 2, g->dport);
    wr32(t + 4, g->seq);
    wr32(t + 8, g->ack);
    t[12] = (uint8_t)(((TCP_HDR_LEN + optpad) / 4) << 4);
    t[13] = g->flags;
    wr16(t + 14, g->wnd);
    wr16(t + 16, 0);
    wr16(t + 18, g->urp);
    if (optlen)
        memcpy(t + TCP_HDR_LEN, g->opt, optlen);
    memset(t + TCP_HDR_LEN + optlen, 0, optpad - optlen); /* end of options */
    if (len)
        memcpy(t + TCP_HDR_LEN + optpad, g->data, len);
    uint32_t sum = csum_pseudo(FZ_PEER_IP, FZ_US_IP, IP_PROTO_TCP, (uint16_t)tcplen);
    wr16(t + 16, csum_finish(csum_partial(t, tcplen, sum)));
    return ETH_HDR_LEN + IP_HDR_LEN + tcplen;
}

void fz_fix_checksums(uint8_t *f, size_t len)
{
    if (len < ETH_HDR_LEN + IP_HDR_LEN || rd16(f + 12) != ETHERTYPE_IP)
        return;
    uint8_t *ip = f + ETH_HDR_LEN;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    size_t tot = rd16(ip + 2);
    if (ihl < IP_HDR_LEN || ihl > len - ETH_HDR_LEN)
        return;
    wr16(ip + 10, 0);
    wr16(ip + 10, csum(ip, ihl));
    if (tot < ihl || tot > len - ETH_HDR_LEN)
        return;
    uint8_t *p = ip + ihl;
    size_t plen = tot - ihl;
    if (ip[9] == IP_PROTO_TCP && plen >= TCP_HDR_LEN) {
        wr16(p + 16, 0);
        uint32_t sum = csum_pseudo(rd32(ip + 12), rd32(ip + 16), IP_PROTO_TCP, (uint16_t)plen);
        wr16(p + 16, csum_finish(csum_partial(p, plen, sum)));
    } else if (ip[9] == IP_PROTO_ICMP && plen >= 4) {
        wr16(p + 2, 0);
        wr16(p + 2, csum(p, plen));
    }
}
