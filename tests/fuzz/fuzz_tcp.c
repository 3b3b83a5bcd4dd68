/* fuzz_tcp.c - target 2: TCP driven by a sequence of operations.
 *
 * Raw bytes rarely make a segment the stack accepts: its sequence and
 * acknowledgment numbers must fall in windows the stack chose.  So here
 * the input is a program.  The target watches every segment the stack
 * sends (per flow: its ISS, the highest sequence it sent, the last ACK
 * and window), and the peer's segments are built relative to that, with
 * valid checksums: mostly in order and acknowledging what was sent, and
 * sometimes out of order, duplicate, partial, ahead or random.  Between
 * them the app calls the API and the clock moves, by small steps, large
 * jumps, or exactly to the next deadline, so that every state, the
 * retransmissions, the out-of-order queue and TIME_WAIT are reached.
 * A segment to a flow selected with bit 0x20 goes in as tap/ reads it with
 * offloads, its payload placed in the receive ring (input_placed).
 *
 * Input: u8 seed, u8 config, then operations, each an opcode byte and its
 * arguments (see the OP_ values; missing bytes read as zeros).  The
 * invariants (invariants.h) are checked after every call into the stack,
 * and the stack is freed at the end, so leaks count.
 *
 * tests/fuzz/seeds.c writes inputs in this format (the seed corpus). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "common.h"
#include "eth.h"
#include "fuzz_tcp.h"
#include "invariants.h"
#include "ipv4.h"
#include "seq.h"
#include "tcp.h"

#define MAX_FLOWS   8
#define MAX_HANDLES 8

/* A conversation between the peer and the stack, as the peer sees it. */
struct flow {
    uint16_t lport, rport; /* the stack's port and the peer's */
    /* The peer's side. */
    uint32_t p_isn, p_nxt; /* its ISN, and one past the highest it sent */
    uint32_t p_acked;      /* the last ACK it sent */
    uint32_t p_ts;         /* its timestamp clock's offset */
    bool p_syn;            /* it sent a SYN */
    /* What the stack sent on it. */
    bool s_seen, s_syn;
    uint32_t s_isn, s_hi; /* ISS, one past the highest sequence sent */
    uint32_t s_ack;       /* the last ACK (the stack's rcv_nxt) */
    bool s_ack_ok;
    uint32_t s_wnd;   /* the last window field */
    uint32_t s_tsval; /* its last TSval, for our TSecr */
    uint8_t s_wscale; /* the shift its SYN offered */
};

struct ctx {
    struct fz_stack f;
    struct flow fl[MAX_FLOWS];
    int nfl;
    sk_conn *h[MAX_HANDLES];
    int nh;
    uint8_t cur; /* the flow the last segment went to */
};

static struct flow *flow_find(struct ctx *x, uint16_t lport, uint16_t rport)
{
    for (int i = 0; i < x->nfl; i++)
        if (x->fl[i].lport == lport && x->fl[i].rport == rport)
            return &x->fl[i];
    return NULL;
}

static struct flow *flow_new(struct ctx *x, uint16_t lport, uint16_t rport)
{
    struct flow *fl;
    if (x->nfl < MAX_FLOWS)
        fl = &x->fl[x->nfl++];
    else
        fl = &x->fl[(lport ^ rport) % MAX_FLOWS]; /* forget an old one */
    memset(fl, 0, sizeof(*fl));
    fl->lport = lport;
    fl->rport = rport;
    return fl;
}

/* Every frame the stack sends: learn what the peer needs to answer it. */
static void on_frame(void *ctxp, const uint8_t *f, size_t len)
{
    struct ctx *x = ctxp;
    if (len < ETH_HDR_LEN || rd16(f + 12) != ETHERTYPE_IP)
        return;
    struct ipv4_hdr ih;
    if (ipv4_parse(f + ETH_HDR_LEN, len - ETH_HDR_LEN, &ih) != IPV4_OK || ih.proto != IP_PROTO_TCP)
        return;
    struct tcp_seg g;
    if (tcp_parse(f + ETH_HDR_LEN + ih.ihl, ih.total_len - ih.ihl, ih.src, ih.dst, false, &g) !=
        TCP_PARSE_OK)
        return;
    struct flow *fl = flow_find(x, g.sport, g.dport);
    if (!fl) {
        if (!(g.flags & TCP_SYN))
            return; /* a RST to a segment of no flow, say */
        fl = flow_new(x, g.sport, g.dport);
    }
    if (g.flags & TCP_RST)
        return;
    uint32_t end = g.seq + seg_len(&g);
    if (g.flags & TCP_SYN) {
        fl->s_syn = true;
        fl->s_isn = g.seq;
        fl->s_wscale = g.opt.wscale < 0 ? 0 : (uint8_t)g.opt.wscale;
        if (!fl->s_seen)
            fl->s_hi = end;
    }
    if (!fl->s_seen || seq_gt(end, fl->s_hi))
        fl->s_hi = end;
    fl->s_seen = true;
    if (g.flags & TCP_ACK) {
        fl->s_ack = g.ack;
        fl->s_ack_ok = true;
    }
    fl->s_wnd = g.wnd;
    if (g.opt.ts)
        fl->s_tsval = g.opt.tsval;
}

/* The frame as tap/ reads it with offloads when the stack gives a place
 * (sk_rx_place): the headers to a buffer, the payload into the receive
 * ring's pieces, then sk_input_placed, or, refused, the whole frame to
 * sk_input_meta.  The checksum is good (fz_build_tcp), as the link vouches
 * with SK_CSUM_VALID. */
static void input_placed(struct ctx *x, const uint8_t *frame, size_t flen)
{
    struct fz_stack *f = &x->f;
    struct sk_rx_place pl;
    if (sk_rx_place(f->s, 65535 - 40, &pl) == 0) {
        fz_input(f, frame, flen);
        return;
    }
    inv_check_stack(f->s);
    uint8_t hdr[128];
    size_t h = flen < pl.hdr_len ? flen : pl.hdr_len, at = h;
    memcpy(hdr, frame, h);
    for (int i = 0; i < pl.n && at < flen; i++) {
        size_t k = flen - at < pl.span[i].len ? flen - at : pl.span[i].len;
        memcpy(pl.span[i].base, frame + at, k);
        at += k;
    }
    struct sk_frame_meta m = {.csum = SK_CSUM_VALID};
    if (h != pl.hdr_len || sk_input_placed(f->s, hdr, h, flen - h, &m, f->now) < 0)
        sk_input_meta(f->s, frame, flen, &m, f->now);
    inv_check_stack(f->s);
    sk_flush(f->s, f->now);
    inv_check_stack(f->s);
}

/* ---- the peer's segments ---- */

static const uint16_t ports_us[4] = {5050, 80, 6000, 7};
static uint8_t payload[4096];

static uint32_t pick_seq(struct flow *fl, struct fz_in *in, uint8_t mode, uint32_t len)
{
    uint32_t rcv = fl->s_ack_ok ? fl->s_ack : fl->p_nxt;
    uint32_t wnd = fl->s_wnd << fl->s_wscale;
    switch (mode & 7) {
    case 0:
    case 2:
        /* The peer's next new byte, as a peer sends: in order, or after a
         * gap it left.  (Not the stack's last ACK: a delayed ACK would
         * make that a retransmission.) */
        return fl->p_nxt;
    case 1:
        return rcv; /* from the stack's last ACK: fills a gap, or resends */
    case 3: {
        /* Out of order: a gap of 1 to 16 segments; or (bit 7, one more
         * byte) an even number of them up to 2048, so that equal segments
         * never touch and the out-of-order table can fill. */
        uint32_t unit = len ? len : 536, k = fz_u8(in);
        if (k & 0x80)
            return rcv + (2 * (((k & 0x7f) << 8 | fz_u8(in)) % 1024) + 2) * unit;
        return rcv + (1 + (k & 15)) * unit;
    }
    case 4:
        return rcv - (1 + fz_u8(in)); /* overlapping old data */
    case 5:
        return rcv + wnd - (fz_u8(in) & 63); /* at the window's right edge */
    case 6:
        return fl->p_nxt - len; /* the last segment again */
    default:
        return fz_u32(in); /* anywhere */
    }
}

static uint32_t pick_ack(struct flow *fl, struct fz_in *in, uint8_t mode)
{
    uint32_t span = fl->s_hi - fl->p_acked;
    switch (mode & 7) {
    case 0:
    case 1:
    case 2:
        return fl->s_hi; /* everything sent */
    case 3:
        return fl->p_acked; /* a duplicate ACK */
    case 4:
        return fl->p_acked + (uint32_t)((uint64_t)span * fz_u8(in) / 256); /* partial */
    case 5:
        return fl->s_hi + 1 + fz_u8(in); /* of data never sent */
    case 6:
        return fl->s_isn; /* of the SYN only: old */
    default:
        return fz_u32(in);
    }
}

/* Options the peer puts on a segment, chosen by a mask byte. */
static size_t pick_opts(struct ctx *x, struct flow *fl, struct fz_in *in, uint8_t *o)
{
    static const uint16_t mss[4] = {1460, 536, 88, 9000};
    uint8_t mask = fz_u8(in);
    size_t n = 0;
    if (mask & 1) { /* MSS */
        uint16_t v = mss[fz_u8(in) & 3];
        o[n++] = 2, o[n++] = 4, o[n++] = (uint8_t)(v >> 8), o[n++] = (uint8_t)v;
    }
    if (mask & 2) /* window scale */
        o[n++] = 1, o[n++] = 3, o[n++] = 3, o[n++] = fz_u8(in) & 15;
    if (mask & 4) /* SACK permitted */
        o[n++] = 1, o[n++] = 1, o[n++] = 4, o[n++] = 2;
    if (mask & 8) { /* timestamps; bit 6: an old TSval, for PAWS */
        uint32_t tsval = (uint32_t)(x->f.now / 1000) + fl->p_ts;
        if (mask & 64)
            tsval -= 1u << 31;
        o[n++] = 1, o[n++] = 1, o[n++] = 8, o[n++] = 10;
        wr32(o + n, tsval), n += 4;
        wr32(o + n, fl->s_tsval), n += 4;
    }
    if (mask & 16) { /* SACK blocks within what the stack sent beyond the ACK */
        int k = 1 + (fz_u8(in) & 3);
        if (n + 2 + 8 * (size_t)k > TCP_OPT_MAX)
            k = (int)((TCP_OPT_MAX - n - 2) / 8);
        if (k > 0) {
            uint32_t base = fl->p_acked, span = fl->s_hi - fl->p_acked;
            o[n++] = 5, o[n++] = (uint8_t)(2 + 8 * k);
            for (int i = 0; i < k; i++) {
                uint32_t a = base + (uint32_t)((uint64_t)span * fz_u8(in) / 256);
                uint32_t b = a + 1 + (uint32_t)((uint64_t)span * fz_u8(in) / 256);
                if (seq_gt(b, fl->s_hi))
                    b = fl->s_hi;
                wr32(o + n, a), n += 4;
                wr32(o + n, b), n += 4;
            }
        }
    }
    if (mask & 32) { /* raw option bytes from the input */
        size_t want = fz_u8(in) % (TCP_OPT_MAX + 1 - n), got;
        const uint8_t *p = fz_bytes(in, want, &got);
        memcpy(o + n, p, got);
        n += got;
    }
    return n;
}

static void app_done(struct ctx *x);

static void op_segment(struct ctx *x, struct fz_in *in)
{
    /* What the app's last calls queued (a SYN after OP_OPEN) leaves first,
     * as at the end of an event loop's round: the peer answers it. */
    app_done(x);
    uint8_t sel = fz_u8(in), kind = fz_u8(in), modes = fz_u8(in);
    struct flow *fl;
    if ((sel & 0x80) || x->nfl == 0) {
        /* A new conversation from the peer, to one of our usual ports. */
        uint16_t lport = ports_us[sel & 3], rport = (uint16_t)(40000 + ((sel >> 2) & 7));
        fl = flow_find(x, lport, rport);
        if (!fl)
            fl = flow_new(x, lport, rport);
    } else {
        fl = &x->fl[sel % x->nfl];
    }
    if (!fl->p_syn && !fl->p_isn) {
        /* The peer's ISN: ordinary, or just below the wrap (RFC 9293 3.4). */
        fl->p_isn = (sel & 0x40) ? 0xffffff00u + sel : 1000u + 100000u * sel;
        fl->p_nxt = fl->p_isn;
        fl->p_ts = 7000u * sel;
    }
    static const uint8_t kinds[8] = {
        TCP_ACK,           TCP_ACK | TCP_PSH, TCP_SYN,           TCP_SYN | TCP_ACK,
        TCP_FIN | TCP_ACK, TCP_RST,           TCP_RST | TCP_ACK, 0};
    uint8_t flags = kinds[kind & 7];
    if ((kind & 7) == 7)
        flags = fz_u8(in); /* any flags at all */
    if (kind & 8)
        flags |= TCP_PSH;
    if (kind & 16)
        flags |= TCP_URG;
    if (kind & 32)
        flags |= TCP_ECE | TCP_CWR;
    if (kind & 64)
        flags |= TCP_FIN;
    uint32_t len = (kind & 0x80) ? (uint32_t)(fz_u16(in) & 0x0fff) : 0;
    if ((flags & TCP_SYN) && !(flags & TCP_ACK) && !(modes & 0x80)) {
        /* A fresh SYN starts the peer's sequence space. */
        fl->p_nxt = fl->p_isn;
        fl->p_syn = true;
    }
    uint32_t seq = (flags & TCP_SYN) && !(modes & 0x80) ? fl->p_isn : pick_seq(fl, in, modes, len);
    uint32_t ack = pick_ack(fl, in, (uint8_t)(modes >> 3));
    uint8_t opt[TCP_OPT_MAX];
    size_t optlen = (modes & 0x40) ? pick_opts(x, fl, in, opt) : 0;
    /* The window: often wide open, sometimes closed or small. */
    static const uint16_t wnds[8] = {65535, 65535, 65535, 0, 1, 512, 4096, 29200};
    uint8_t wb = fz_u8(in);
    uint16_t wnd = wnds[wb & 7];
    struct fz_seg g = {.sport = fl->rport,
                       .dport = fl->lport,
                       .seq = seq,
                       .ack = (flags & TCP_ACK) ? ack : 0,
                       .flags = flags,
                       .wnd = wnd,
                       .urp = (flags & TCP_URG) ? (uint16_t)(wb >> 3) : 0,
                       .opt = opt,
                       .optlen = optlen,
                       .data = payload,
                       .len = len};
    uint8_t frame[FZ_FRAME_MAX];
    size_t flen = fz_build_tcp(frame, &g);
    /* What was really sent: the frame may have cut the payload. */
    uint32_t sent =
        (uint32_t)(flen - ETH_HDR_LEN - IP_HDR_LEN - TCP_HDR_LEN - ((optlen + 3) & ~3u));
    uint32_t end = seq + sent + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
    if ((modes & 7) != 7 && seq_gt(end, fl->p_nxt))
        fl->p_nxt = end;
    if (flags & TCP_ACK)
        fl->p_acked = ack;
    if (sel & 0x20)
        input_placed(x, frame, flen);
    else
        fz_input(&x->f, frame, flen);
}

/* ---- the app ---- */

static void handle_add(struct ctx *x, sk_conn *c)
{
    if (!c)
        return;
    if (x->nh < MAX_HANDLES)
        x->h[x->nh++] = c;
    else
        sk_abort(c); /* no room to keep it */
}

static sk_conn *handle_take(struct ctx *x, uint8_t b)
{
    if (!x->nh)
        return NULL;
    int i = b % x->nh;
    sk_conn *c = x->h[i];
    x->h[i] = x->h[--x->nh];
    return c;
}

static sk_conn *handle_pick(struct ctx *x, uint8_t b)
{
    return x->nh ? x->h[b % x->nh] : NULL;
}

static void app_done(struct ctx *x)
{
    inv_check_stack(x->f.s);
    sk_flush(x->f.s, x->f.now);
    inv_check_stack(x->f.s);
}

static void op_poll(struct ctx *x)
{
    struct sk_event ev[16];
    size_t n = sk_poll(x->f.s, ev, 16);
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (int k = 0; k < x->nh; k++)
            known |= x->h[k] == ev[i].conn;
        if (!known) {
            /* Events only for handles the app holds (synack.h). */
            fprintf(stderr, "sk_poll: an event for a handle the app does not hold\n");
            abort();
        }
        if (ev[i].events & SK_EV_ACCEPT)
            for (sk_conn *c; x->nh < MAX_HANDLES && (c = sk_accept(ev[i].conn));)
                handle_add(x, c);
    }
    /* What an app or tapnc's ss-like table asks of every handle. */
    for (int k = 0; k < x->nh; k++) {
        struct sk_conn_info info;
        struct sk_tcp_opts o;
        uint32_t la, ra;
        uint16_t lp, rp;
        sk_conn_info(x->h[k], &info);
        sk_conn_get_opts(x->h[k], &o);
        sk_conn_endpoints(x->h[k], &la, &lp, &ra, &rp);
        if (sk_send_space(x->h[k]) > o.sndbuf || !sk_strerror(sk_conn_error(x->h[k])) ||
            !info.ca_state || !info.cc) {
            fprintf(stderr, "sk_conn_info or sk_send_space out of range\n");
            abort();
        }
    }
}

/* FUZZ_TCP_STATES=1 prints every state change: what an input reaches. */
static void print_state(void *ctx, const struct sk_state_change *ch, uint64_t now)
{
    (void)ctx;
    fprintf(stderr, "%8llu us  %u -> %u  %s -> %s  %s\n", (unsigned long long)now, ch->lport,
            ch->rport, sk_state_name(ch->from), sk_state_name(ch->to), ch->cause);
}

static void op_opts(struct ctx *x, struct fz_in *in)
{
    sk_conn *c = handle_pick(x, fz_u8(in));
    uint8_t b = fz_u8(in);
    static const uint32_t bufs[4] = {0, 1024, 6000, 300000};
    struct sk_tcp_opts o = {.sndbuf = bufs[b & 3],
                            .rcvbuf = bufs[(b >> 2) & 3],
                            .nodelay = b & 16,
                            .cc = (b >> 6) % SK_CC_COUNT};
    if (b & 32) {
        o.keepalive_idle_ms = 1000;
        o.keepalive_intvl_ms = 500;
        o.keepalive_count = 2;
    }
    if (c)
        sk_conn_set_opts(c, &o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size, 0};
    struct ctx *x = calloc(1, sizeof(*x));
    if (!x)
        abort();
    if (!payload[1])
        for (size_t i = 0; i < sizeof(payload); i++)
            payload[i] = (uint8_t)('a' + i % 26);
    uint8_t seed = fz_u8(&in), cfg = fz_u8(&in);
    fz_stack_init(&x->f, seed);
    static const uint32_t bufs[4] = {0, 4096, 20000, 200000};
    x->f.cfg.tcp_sndbuf = bufs[cfg & 3];
    x->f.cfg.tcp_rcvbuf = bufs[(cfg >> 2) & 3];
    x->f.cfg.tcp_no_sack = cfg & 16;
    x->f.cfg.tcp_no_timestamps = cfg & 32;
    x->f.cfg.tcp_no_wscale = cfg & 64;
    x->f.cfg.mtu = (cfg & 128) ? 576 : 1500;
    x->f.cfg.tcp_msl_ms = 1000;
    x->f.cfg.tcp_max_conns = 8;
    x->f.cfg.tcp_max_retries = 4;
    x->f.on_frame = on_frame;
    if (getenv("FUZZ_TCP_STATES"))
        x->f.cfg.on_state = print_state;
    x->f.ctx = x;
    if (!fz_stack_start(&x->f))
        abort();

    static const uint64_t jumps[8] = {200000,   1000000, 3000000,   10000000,
                                      60000000, 2000001, 600000000, 7200000000};
    static uint8_t sendbuf[70000 + 64]; /* the longest send: lens[3] + 63 */
    int ops = 0;
    while (fz_more(&in) && ops++ < 4096) {
        uint8_t op = fz_u8(&in);
        switch (op & 15) {
        case OP_SEG:
        case OP_SEG + 1:
        case OP_SEG + 2:
        case OP_SEG + 3:
        case OP_SEG + 4:
            op_segment(x, &in);
            break;
        case OP_TIME:
            fz_advance(&x->f, 1000u * (1 + fz_u8(&in)));
            break;
        case OP_JUMP: {
            uint8_t b = fz_u8(&in);
            uint64_t next = sk_next_deadline(x->f.s);
            if ((b & 8) && next != UINT64_MAX && next > x->f.now)
                fz_advance(&x->f, next - x->f.now); /* exactly to the next timer */
            else
                fz_advance(&x->f, jumps[b & 7]);
            break;
        }
        case OP_SEND: {
            sk_conn *c = handle_pick(x, fz_u8(&in));
            static const uint32_t lens[4] = {1, 100, 3000, 70000};
            uint8_t b = fz_u8(&in);
            if (c)
                sk_send(c, sendbuf, lens[b & 3] + (b >> 2));
            app_done(x);
            break;
        }
        case OP_RECV: {
            sk_conn *c = handle_pick(x, fz_u8(&in));
            uint8_t buf[8192];
            uint8_t b = fz_u8(&in);
            if (c)
                sk_recv(c, buf, b & 1 ? sizeof(buf) : b);
            app_done(x);
            break;
        }
        case OP_CLOSE: {
            sk_conn *c = handle_take(x, fz_u8(&in));
            if (c)
                sk_close(c);
            app_done(x);
            break;
        }
        case OP_ABORT: {
            sk_conn *c = handle_take(x, fz_u8(&in));
            if (c)
                sk_abort(c);
            app_done(x);
            break;
        }
        case OP_SHUTDOWN: {
            sk_conn *c = handle_pick(x, fz_u8(&in));
            if (c)
                sk_shutdown(c);
            app_done(x);
            break;
        }
        case OP_OPEN: {
            uint8_t b = fz_u8(&in);
            if (x->nh < MAX_HANDLES) {
                if (b & 1)
                    handle_add(x, sk_listen(x->f.s, ports_us[(b >> 1) & 3], (b >> 3) & 3, NULL));
                else
                    handle_add(x, sk_connect(x->f.s, FZ_PEER_IP, (uint16_t)(6000 + ((b >> 1) & 3)),
                                             (b & 8) ? 0 : (uint16_t)(50000 + (b >> 4)), x->f.now,
                                             NULL));
            }
            /* No flush: the SYN leaves at the next one, so that options
             * set now may still change the buffers (as tapnc does). */
            inv_check_stack(x->f.s);
            break;
        }
        case OP_POLL:
            op_poll(x);
            app_done(x);
            break;
        case OP_OPTS:
            op_opts(x, &in);
            app_done(x);
            break;
        default:
            break;
        }
    }
    /* Odd configs end with the app closing everything and time running
     * out, the others leave it all to sk_stack_free: both must free all. */
    if (cfg & 1) {
        while (x->nh)
            sk_close(handle_take(x, 0));
        app_done(x);
        for (int i = 0; i < 20; i++)
            fz_advance(&x->f, 60000000);
    }
    fz_stack_free(&x->f);
    free(x);
    return 0;
}
