/* seeds.c - writes the seed corpus (make_corpus.sh runs it).
 *
 *   fuzz_seeds tcp DIR         the TCP target's scenarios, written by hand
 *                              below: each state of the diagram, loss and
 *                              retransmission, out-of-order data, SACK,
 *                              zero windows, keep-alive, TIME_WAIT
 *   fuzz_seeds pcap FILE DIR   a captured session (tapnc --pcap) as inputs
 *                              of all four targets, in DIR/<target>/
 *
 * The formats are those the targets read (fuzz_*.c, fuzz_tcp.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tcp.h"

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return 0;
}

/* ---- the TCP target's scenarios ---- */

/* Segment arguments (fuzz_tcp.h): sel, kind, modes, then what they ask. */
#define NEWFLOW(port) (0x80 | (port)) /* to ports_us[port] */
#define K_ACK         0
#define K_PSH         1
#define K_SYN         2
#define K_SYNACK      3
#define K_FIN         4
#define K_RST         5
#define K_RSTACK      6
#define K_DATA        0x80 /* a u16 length follows */
#define M_OPTS        0x40
#define W_OPEN        0 /* window 65535 */
#define W_ZERO        3
/* Option masks: MSS (+ index), wscale (+ shift), SACK-permitted, timestamps. */
#define O_SYN_ALL 0x0f
#define O_TS      0x08
#define O_TS_SACK 0x18 /* + count byte, + 2 bytes per block */

struct scenario {
    const char *name;
    uint8_t cfg; /* fuzz_tcp.c's config byte: bit 0 closes all at the end */
    uint8_t ops[256];
    size_t n;
};

/* Handles: the listener is 0, the first accepted connection 1. */
static const struct scenario scenarios[] = {
    {"passive-close-last-ack",
     0x00,
     {OP_OPEN,  1, /* listen on 5050 */
      OP_SEG,   NEWFLOW(0), K_SYN,
      0,        W_OPEN, /* SYN, no options */
      OP_SEG,   0,          K_ACK,
      0,        W_OPEN, /* the handshake's ACK */
      OP_POLL,          /* accept */
      OP_SEG,   0,          K_PSH | K_DATA,
      0,        0,          100,
      W_OPEN, /* 100 bytes */
      OP_RECV,  1,          1,
      OP_SEND,  1,          1,
      OP_TIME,  50,         OP_SEG,
      0,        K_ACK,      0,
      W_OPEN,   OP_SEG,     0,
      K_FIN,    0,          W_OPEN, /* CLOSE_WAIT */
      OP_RECV,  1,          1,
      OP_CLOSE, 1, /* LAST_ACK */
      OP_SEG,   0,          K_ACK,
      0,        W_OPEN,     OP_NOP}, /* CLOSED */
     0},
    {"active-close-time-wait",
     0x00,
     {OP_OPEN, 1, OP_SEG, NEWFLOW(0), K_SYN, M_OPTS, O_SYN_ALL, 0,       7, W_OPEN,
      OP_SEG,  0, K_ACK,  M_OPTS,     O_TS,  W_OPEN, OP_POLL,   OP_SEND, 1, 2, /* 3000 bytes */
      OP_SEG,  0, K_ACK,  M_OPTS,     O_TS,  W_OPEN, OP_CLOSE,  1,             /* FIN_WAIT_1 */
      OP_SEG,  0, K_ACK,  M_OPTS,     O_TS,  W_OPEN,                           /* FIN_WAIT_2 */
      OP_SEG,  0, K_FIN,  M_OPTS,     O_TS,  W_OPEN,                           /* TIME_WAIT */
      OP_SEG,  0, K_FIN,  M_OPTS,     O_TS,  W_OPEN,                           /* the FIN again */
      OP_JUMP, 5, OP_NOP},                                                     /* 2*MSL passes */
     0},
    {"simultaneous-close",
     0x01,
     {OP_OPEN, 1,     OP_SEG, NEWFLOW(0), K_SYN,   0,        W_OPEN, OP_SEG,
      0,       K_ACK, 0,      W_OPEN,     OP_POLL, OP_CLOSE, 1, /* our FIN */
      OP_SEG,  0,     K_FIN,  3 << 3,     W_OPEN, /* theirs, not acking ours: CLOSING */
      OP_SEG,  0,     K_ACK,  0,          W_OPEN,  OP_JUMP,  8,      OP_NOP},
     0},
    {"active-open-data-rst",
     0x00,
     {OP_OPEN, 0, /* connect to 6000 */
      OP_SEG,  0,      K_SYNACK, M_OPTS,   O_SYN_ALL,
      1,       2,      W_OPEN,   OP_POLL,  OP_SEND,
      0,       1,      OP_SEG,   0,        K_PSH | K_DATA,
      M_OPTS,  0x05,   0x00,     O_TS,     W_OPEN,
      OP_RECV, 0,      1,        OP_TIME,  40,
      OP_TIME, 200,    OP_SEG,   0,        K_RST,
      0,       W_OPEN, OP_POLL,  OP_CLOSE, 0,
      OP_NOP},
     0},
    {"syn-sent-refused-and-retries",
     0x01,
     {OP_OPEN,  0, OP_JUMP, 8,       OP_JUMP, 8, OP_JUMP, 8, OP_OPEN, 2, OP_JUMP, 8, OP_SEG, 1,
      K_RSTACK, 0, W_OPEN,  OP_POLL, OP_JUMP, 8, OP_JUMP, 8, OP_JUMP, 8, OP_JUMP, 8, OP_NOP},
     0},
    {"rto-tlp-until-abort",
     0x00,
     {OP_OPEN,   1,      OP_SEG,  NEWFLOW(0), K_SYN,   M_OPTS,
      O_SYN_ALL, 0,      7,       W_OPEN,     OP_SEG,  0,
      K_ACK,     M_OPTS, O_TS,    W_OPEN,     OP_POLL, OP_SEND,
      1,         2,      OP_JUMP, 8,          OP_JUMP, 8,
      OP_JUMP,   8,      OP_SEG,  0,          K_ACK,   (4 << 3) | M_OPTS,
      128,       O_TS,   W_OPEN, /* a partial ACK */
      OP_JUMP,   8,      OP_JUMP, 8,          OP_JUMP, 8,
      OP_JUMP,   8,      OP_JUMP, 8,          OP_JUMP, 8,
      OP_JUMP,   8,      OP_JUMP, 8,          OP_POLL, OP_NOP},
     0},
    {"out-of-order-then-gap",
     0x00,
     {OP_OPEN, 1,       OP_SEG, NEWFLOW(0), K_SYN,
      M_OPTS,  0x05,    0,      W_OPEN,     OP_SEG,
      0,       K_ACK,   0,      W_OPEN,     OP_POLL,
      OP_SEG,  0,       K_DATA, 3,          0x05,
      0xb4,    3,       W_OPEN, /* 1460 bytes, 4 segments ahead */
      OP_SEG,  0,       K_DATA, 3,          0x05,
      0xb4,    1,       W_OPEN, /* 2 ahead */
      OP_SEG,  0,       K_DATA, 3,          0x05,
      0xb4,    5,       W_OPEN, OP_SEG,     0,
      K_DATA,  4,       0x00,   0x10,       0,
      W_OPEN, /* old data: D-SACK */
      OP_SEG,  0,       K_DATA, 0,          0x05,
      0xb4,    W_OPEN, /* the gap's first part */
      OP_SEG,  0,       K_DATA, 0,          0x05,
      0xb4,    W_OPEN,  OP_SEG, 0,          K_FIN | K_DATA,
      3,       0x00,    0x20,   9,          W_OPEN, /* a FIN out of order */
      OP_RECV, 1,       1,      OP_RECV,    1,
      1,       OP_TIME, 50,     OP_RECV,    1,
      1,       OP_POLL, OP_NOP},
     0},
    {"sack-fast-retransmit",
     0x01,
     {OP_OPEN,
      1,
      OP_SEG,
      NEWFLOW(0),
      K_SYN,
      M_OPTS,
      O_SYN_ALL,
      0,
      7,
      W_OPEN,
      OP_SEG,
      0,
      K_ACK,
      M_OPTS,
      O_TS,
      W_OPEN,
      OP_POLL,
      OP_SEND,
      1,
      3, /* 70000 bytes */
      OP_SEG,
      0,
      K_ACK,
      (4 << 3) | M_OPTS,
      30,
      O_TS_SACK,
      0,
      60,
      90,
      W_OPEN,
      OP_SEG,
      0,
      K_ACK,
      (3 << 3) | M_OPTS,
      O_TS_SACK,
      0,
      60,
      120,
      W_OPEN,
      OP_SEG,
      0,
      K_ACK,
      (3 << 3) | M_OPTS,
      O_TS_SACK,
      1,
      60,
      150,
      200,
      20,
      W_OPEN,
      OP_SEG,
      0,
      K_ACK,
      (3 << 3) | M_OPTS,
      O_TS_SACK,
      0,
      40,
      200,
      W_OPEN,
      OP_TIME,
      5,
      OP_SEG,
      0,
      K_ACK,
      (4 << 3) | M_OPTS,
      100,
      O_TS_SACK,
      0,
      180,
      70,
      W_OPEN,
      OP_TIME,
      30,
      OP_SEG,
      0,
      K_ACK,
      M_OPTS,
      O_TS,
      W_OPEN,
      OP_SEND,
      1,
      3,
      OP_JUMP,
      8,
      OP_SEG,
      0,
      K_ACK,
      M_OPTS,
      O_TS,
      W_OPEN,
      OP_NOP},
     0},
    {"newreno-dupacks",
     0x00,
     {OP_OPEN, 1,          OP_OPTS, 0,       0x80 | 16, /* NewReno (2 << 6), no Nagle */
      OP_SEG,  NEWFLOW(0), K_SYN,   M_OPTS,  0x01,      0,      W_OPEN, OP_SEG, 0,
      K_ACK,   0,          W_OPEN,  OP_POLL, OP_SEND,   1,      3,      OP_SEG, 0,
      K_ACK,   4 << 3,     20,      W_OPEN,  OP_SEG,    0,      K_ACK,  3 << 3, W_OPEN,
      OP_SEG,  0,          K_ACK,   3 << 3,  W_OPEN,    OP_SEG, 0,      K_ACK,  3 << 3,
      W_OPEN,  OP_SEG,     0,       K_ACK,   3 << 3,    W_OPEN, OP_SEG, 0,      K_ACK,
      4 << 3,  100,        W_OPEN,  OP_SEG,  0,         K_ACK,  0,      W_OPEN, OP_NOP},
     0},
    {"zero-window-probes",
     0x00,
     {OP_OPEN, 1,       OP_SEG,  NEWFLOW(0), K_SYN, 0,       W_OPEN, OP_SEG,  0,     K_ACK,  0,
      W_ZERO,  OP_POLL, OP_SEND, 1,          2,     OP_JUMP, 8,      OP_JUMP, 8,     OP_SEG, 0,
      K_ACK,   0,       W_ZERO,  OP_JUMP,    8,     OP_JUMP, 8,      OP_SEG,  0,     K_ACK,  0,
      W_OPEN,  OP_TIME, 10,      OP_SEG,     0,     K_ACK,   0,      W_OPEN,  OP_NOP},
     0},
    {"keepalive",
     0x00,
     {OP_OPEN, 1, OP_SEG,  NEWFLOW(0), K_SYN,   0, W_OPEN,  OP_SEG,  0,
      K_ACK,   0, W_OPEN,  OP_POLL,    OP_OPTS, 1, 32,      OP_JUMP, 8,
      OP_JUMP, 8, OP_SEG,  0,          K_ACK,   0, W_OPEN,  OP_JUMP, 8,
      OP_JUMP, 8, OP_JUMP, 8,          OP_JUMP, 8, OP_POLL, OP_NOP},
     0},
    {"simultaneous-open",
     0x00,
     {OP_OPEN, 0,     OP_SEG,   0,      K_SYN,   0,       W_OPEN, /* a SYN crossing ours */
      OP_SEG,  0,     K_SYNACK, 0,      W_OPEN,  OP_POLL, OP_SHUTDOWN, 0, OP_SEG,
      0,       K_FIN, 0,        W_OPEN, OP_JUMP, 8,       OP_JUMP,     8, OP_NOP},
     0},
    {"wrap-isn-small-buffers",
     0x05, /* 4 KiB buffers */
     {OP_OPEN,  1,       OP_SEG,    NEWFLOW(0) | 0x40,
      K_SYN,    M_OPTS,  O_SYN_ALL, 0,
      2,        W_OPEN,  OP_SEG,    0,
      K_ACK,    M_OPTS,  O_TS,      W_OPEN,
      OP_POLL,  OP_SEG,  0,         K_DATA,
      M_OPTS,   0x05,    0xb4,      O_TS,
      W_OPEN,   OP_SEG,  0,         K_DATA,
      M_OPTS,   0x05,    0xb4,      O_TS,
      W_OPEN,   OP_SEG,  0,         K_DATA,
      M_OPTS,   0x05,    0xb4,      O_TS,
      W_OPEN, /* beyond the window */
      OP_RECV,  1,       1,         OP_TIME,
      1,        OP_SEND, 1,         3,
      OP_SEG,   0,       K_ACK,     M_OPTS,
      O_TS,     W_OPEN,  OP_SEG,    0,
      K_ACK,    M_OPTS,  O_TS,      W_OPEN,
      OP_ABORT, 1,       OP_NOP},
     0},
    {"listener-backlog-and-close",
     0x00,
     {OP_OPEN,
      1 | (1 << 3), /* backlog 1 */
      OP_SEG,
      NEWFLOW(0),
      K_SYN,
      0,
      W_OPEN,
      OP_SEG,
      NEWFLOW(0 | 4),
      K_SYN,
      0,
      W_OPEN,
      OP_SEG,
      NEWFLOW(0 | 8),
      K_SYN,
      0,
      W_OPEN,
      OP_SEG,
      0,
      K_ACK,
      0,
      W_OPEN,
      OP_SEG,
      1,
      K_ACK,
      0,
      W_OPEN,
      OP_JUMP,
      8,
      OP_CLOSE,
      0,
      OP_JUMP,
      8,
      OP_NOP},
     0},
};

static size_t scenario_len(const struct scenario *s)
{
    /* The arrays are zero-padded: each program ends with OP_NOP, the last
     * nonzero byte (a trailing 0 would be one more segment opcode). */
    size_t n = sizeof(s->ops);
    while (n && s->ops[n - 1] == 0)
        n--;
    return n;
}

/* Scenarios too long to write out: many segments in a loop. */
static void write_generated(const char *dir)
{
    static struct {
        uint8_t p[8192];
        size_t n;
    } b;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        const uint8_t bytes_[] = {__VA_ARGS__};                                                    \
        memcpy(b.p + b.n, bytes_, sizeof(bytes_));                                                 \
        b.n += sizeof(bytes_);                                                                     \
    } while (0)
    /* 41 segments in order: the quick ACKs run out (TCP_QUICKACKS), then
     * ACKs are delayed and their timer fires. */
    b.n = 0;
    PUT(20, 0x00, OP_OPEN, 1, OP_SEG, NEWFLOW(0), K_SYN, 0, W_OPEN, OP_SEG, 0, K_ACK, 0, W_OPEN,
        OP_POLL);
    for (int i = 0; i < 41; i++)
        PUT(OP_SEG, 0, K_DATA, 0, 0x03, 0xe8, W_OPEN);
    PUT(OP_SEG, 0, K_DATA, 0, 0x00, 0x10, W_OPEN, OP_TIME, 100, OP_RECV, 1, 1, OP_JUMP, 8, OP_NOP);
    write_file(dir, "delayed-acks", b.p, b.n);
    /* 300 one-byte segments two bytes apart: the out-of-order table fills
     * (tcp_max_ooo ranges), then the gap closes. */
    b.n = 0;
    PUT(21, 0x00, OP_OPEN, 1, OP_SEG, NEWFLOW(0), K_SYN, M_OPTS, 0x04, W_OPEN, OP_SEG, 0, K_ACK, 0,
        W_OPEN, OP_POLL);
    for (int i = 0; i < 300; i++)
        PUT(OP_SEG, 0, K_DATA, 3, 0x00, 0x01, (uint8_t)(0x80 | i >> 8), (uint8_t)i, W_OPEN);
    PUT(OP_SEG, 0, K_DATA, 0, 0x02, 0x00, W_OPEN, OP_RECV, 1, 1, OP_NOP);
    write_file(dir, "ooo-table-full", b.p, b.n);
    /* sk_conn_set_opts between sk_connect and the SYN: new buffer sizes. */
    b.n = 0;
    PUT(22, 0x00, OP_OPEN, 0, OP_OPTS, 0, 0x0a, OP_SEG, 0, K_SYNACK, M_OPTS, O_SYN_ALL, 0, 3,
        W_OPEN, OP_POLL, OP_SEND, 0, 3, OP_SEG, 0, K_ACK, M_OPTS, O_TS, W_OPEN, OP_NOP);
    write_file(dir, "connect-set-buffers", b.p, b.n);
#undef PUT
}

static int write_scenarios(const char *dir)
{
    write_generated(dir);
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        const struct scenario *s = &scenarios[i];
        uint8_t buf[2 + sizeof(s->ops)];
        size_t n = scenario_len(s);
        buf[0] = (uint8_t)(i + 1); /* the random seed */
        buf[1] = s->cfg;
        memcpy(buf + 2, s->ops, n);
        write_file(dir, s->name, buf, 2 + n);
    }
    return 0;
}

/* ---- a captured session ---- */

struct frame {
    uint8_t *p;
    uint32_t len;
    uint64_t t_us;
};

static size_t read_pcap(const char *path, struct frame **out)
{
    FILE *f = fopen(path, "rb");
    uint8_t gh[24];
    if (!f || fread(gh, 1, 24, f) != 24) {
        fprintf(stderr, "fuzz_seeds: cannot read %s\n", path);
        exit(1);
    }
    uint32_t magic =
        (uint32_t)gh[0] | (uint32_t)gh[1] << 8 | (uint32_t)gh[2] << 16 | (uint32_t)gh[3] << 24;
    bool swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
    bool nano = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
    if (!swap && magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
        fprintf(stderr, "fuzz_seeds: %s is not a pcap file\n", path);
        exit(1);
    }
    size_t n = 0, cap = 0;
    struct frame *v = NULL;
    uint8_t rh[16];
    while (fread(rh, 1, 16, f) == 16) {
        uint32_t w[4];
        for (int k = 0; k < 4; k++) {
            const uint8_t *b = rh + 4 * k;
            w[k] = swap ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
                        : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
        }
        if (w[2] > 65536)
            break;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            v = realloc(v, cap * sizeof(*v));
            if (!v)
                exit(1);
        }
        v[n].p = malloc(w[2] ? w[2] : 1);
        if (!v[n].p || fread(v[n].p, 1, w[2], f) != w[2])
            break;
        v[n].len = w[2];
        v[n].t_us = (uint64_t)w[0] * 1000000 + (nano ? w[1] / 1000 : w[1]);
        n++;
    }
    fclose(f);
    *out = v;
    return n;
}

/* The growable buffer an input is written into. */
struct buf {
    uint8_t p[1 << 16];
    size_t n;
};
static void put8(struct buf *b, uint32_t v)
{
    if (b->n < sizeof(b->p))
        b->p[b->n++] = (uint8_t)v;
}
static void put16(struct buf *b, uint32_t v)
{
    put8(b, v >> 8);
    put8(b, v);
}
static void putn(struct buf *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(b, p[i]);
}

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

/* The frame's TCP header, or NULL; *hl its length, *plen the payload's. */
static const uint8_t *tcp_of(const struct frame *fr, size_t *hl, size_t *plen)
{
    if (fr->len < 14 + 20 + 20 || be16(fr->p + 12) != 0x0800 || fr->p[14 + 9] != 6)
        return NULL;
    size_t ihl = (size_t)(fr->p[14] & 15) * 4, tot = be16(fr->p + 16);
    if (ihl < 20 || tot > fr->len - 14 || tot < ihl + 20)
        return NULL;
    const uint8_t *t = fr->p + 14 + ihl;
    *hl = (size_t)(t[12] >> 4) * 4;
    if (*hl < 20 || *hl > tot - ihl)
        return NULL;
    *plen = tot - ihl - *hl;
    return t;
}

static bool from_peer(const struct frame *fr)
{
    /* The stack is 10.0.0.2: the frame's IPv4 source, or ARP's sender. */
    static const uint8_t us[4] = {10, 0, 0, 2};
    if (fr->len >= 14 + 20 && be16(fr->p + 12) == 0x0800)
        return memcmp(fr->p + 26, us, 4) != 0;
    if (fr->len >= 14 + 28 && be16(fr->p + 12) == 0x0806)
        return memcmp(fr->p + 28, us, 4) != 0;
    return false;
}

/* The fuzz targets' stack has the MAC 02:00:00:00:00:02 (common.c), not the
 * one tapnc chose: frames to tapnc's must go to it instead. */
static void to_fuzz_mac(uint8_t *p, uint32_t len)
{
    static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02};
    if (len >= 14 && !(p[0] & 1))
        memcpy(p, mac, 6);
    if (len >= 14 + 28 && be16(p + 12) == 0x0806 && be16(p + 14 + 6) == 2)
        memcpy(p + 14 + 18, mac, 6); /* an ARP reply's target */
}

/* The peer's option mask for fuzz_tcp.c from a real segment's options. */
static void tcp_opts_of(const uint8_t *t, size_t hl, struct buf *b)
{
    uint8_t mask = 0, mss = 0, ws = 0;
    for (size_t i = 20; i < hl;) {
        uint8_t k = t[i];
        if (k == 0)
            break;
        if (k == 1) {
            i++;
            continue;
        }
        if (i + 1 >= hl || t[i + 1] < 2)
            break;
        if (k == 2 && t[i + 1] == 4)
            mask |= 1, mss = be16(t + i + 2) >= 1460 ? 0 : be16(t + i + 2) >= 536 ? 1 : 2;
        if (k == 3 && t[i + 1] == 3)
            mask |= 2, ws = t[i + 2];
        if (k == 4)
            mask |= 4;
        if (k == 8)
            mask |= 8;
        i += t[i + 1];
    }
    put8(b, mask);
    if (mask & 1)
        put8(b, mss);
    if (mask & 2)
        put8(b, ws);
}

static void write_session(const char *name, struct frame *v, size_t n, const char *dir)
{
    char sub[4096], fname[512];
    static struct buf b;

    /* frames: what the peer sent, in order, to the fuzz stack's MAC. */
    b.n = 0;
    for (size_t i = 0; i < n; i++) {
        if (!from_peer(&v[i]) || v[i].len >= 1600)
            continue;
        put8(&b, 0); /* checksums as captured; the clock does not move */
        put16(&b, v[i].len);
        uint8_t f[1600];
        memcpy(f, v[i].p, v[i].len);
        to_fuzz_mac(f, v[i].len);
        putn(&b, f, v[i].len);
    }
    snprintf(sub, sizeof(sub), "%s/frames", dir);
    snprintf(fname, sizeof(fname), "%s", name);
    write_file(sub, fname, b.p, b.n);

    /* trace: every frame, both ways, 512 bytes of room. */
    b.n = 0;
    put8(&b, 6);
    for (size_t i = 0; i < n; i++) {
        uint64_t dt = i ? (v[i].t_us - v[i - 1].t_us) / 1000 : 0;
        put8(&b, (uint8_t)((dt > 15 ? 15 : dt) << 4));
        put16(&b, v[i].len);
        putn(&b, v[i].p, v[i].len);
    }
    snprintf(sub, sizeof(sub), "%s/trace", dir);
    write_file(sub, fname, b.p, b.n);

    /* options: each TCP segment's header with its options, both ways;
     * duplicates (all the bare ACKs) once. */
    snprintf(sub, sizeof(sub), "%s/options", dir);
    int nopt = 0;
    uint8_t seen[64][41];
    int nseen = 0;
    for (size_t i = 0; i < n && nopt < 16; i++) {
        size_t hl, plen;
        const uint8_t *t = tcp_of(&v[i], &hl, &plen);
        if (!t || hl == 20)
            continue;
        bool dup = false;
        for (int k = 0; k < nseen; k++)
            dup |= seen[k][0] == hl - 20 && memcmp(seen[k] + 1, t + 20, hl - 20) == 0 &&
                   (t[20] != 1 || t[22] != 8); /* timestamps differ anyway */
        if (dup || nseen == 64)
            continue;
        seen[nseen][0] = (uint8_t)(hl - 20);
        memcpy(seen[nseen++] + 1, t + 20, hl - 20);
        b.n = 0;
        put8(&b, nopt & 1 ? 3 : 0); /* a whole segment with its checksum fixed, or options */
        if (nopt & 1)
            putn(&b, t, hl + plen);
        else
            putn(&b, t + 20, hl - 20);
        snprintf(fname, sizeof(fname), "%s-%02d", name, nopt++);
        write_file(sub, fname, b.p, b.n);
    }

    /* tcp: the session as operations.  The peer's segments become segment
     * operations in order and acknowledging all (their real lengths and
     * options), the stack's data an app send, its FIN a shutdown; each
     * segment is followed by a poll and a read. */
    b.n = 0;
    put8(&b, 1);    /* seed */
    put8(&b, 0x01); /* default buffers; close all at the end */
    bool opened = false;
    for (size_t i = 0; i < n; i++) {
        size_t hl, plen;
        const uint8_t *t = tcp_of(&v[i], &hl, &plen);
        if (!t)
            continue;
        uint8_t fl = t[13];
        bool peer = from_peer(&v[i]);
        if (!opened) {
            if (!(fl & 0x02))
                continue;
            /* The first SYN: the host's to our listener, or ours. */
            put8(&b, OP_OPEN);
            put8(&b, peer ? 1 : 0);
            opened = true;
        }
        uint64_t dt = i ? (v[i].t_us - v[i - 1].t_us) / 1000 : 0;
        if (dt) {
            put8(&b, OP_TIME);
            put8(&b, dt > 256 ? 255 : (uint8_t)(dt - 1));
        }
        if (!peer) {
            if (plen) {
                put8(&b, OP_SEND);
                put8(&b, 1);
                put8(&b, plen >= 3000 ? 2 : plen >= 100 ? 1 : 0);
            }
            if (fl & 0x01) {
                put8(&b, OP_SHUTDOWN);
                put8(&b, 1);
            }
            continue;
        }
        uint8_t kind = (fl & 0x04)   ? K_RST
                       : (fl & 0x02) ? ((fl & 0x10) ? K_SYNACK : K_SYN)
                       : (fl & 0x01) ? K_FIN
                       : (fl & 0x08) ? K_PSH
                                     : K_ACK;
        if ((fl & 0x08) && kind == K_FIN)
            kind |= 8;
        if (plen)
            kind |= K_DATA;
        put8(&b, OP_SEG);
        put8(&b, (fl & 0x02) && !(fl & 0x10) ? NEWFLOW(0) : 0);
        put8(&b, kind);
        put8(&b, hl > 20 ? M_OPTS : 0);
        if (plen)
            put16(&b, (uint32_t)plen);
        if (hl > 20)
            tcp_opts_of(t, hl, &b);
        put8(&b, W_OPEN);
        put8(&b, OP_POLL);
        put8(&b, OP_RECV);
        put8(&b, 1);
        put8(&b, 1);
    }
    snprintf(sub, sizeof(sub), "%s/tcp", dir);
    snprintf(fname, sizeof(fname), "%s", name);
    write_file(sub, fname, b.p, b.n);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "tcp") == 0)
        return write_scenarios(argv[2]);
    if (argc == 4 && strcmp(argv[1], "pcap") == 0) {
        struct frame *v;
        size_t n = read_pcap(argv[2], &v);
        const char *base = strrchr(argv[2], '/');
        char name[256];
        snprintf(name, sizeof(name), "%s", base ? base + 1 : argv[2]);
        char *dot = strrchr(name, '.');
        if (dot)
            *dot = '\0';
        write_session(name, v, n, argv[3]);
        for (size_t i = 0; i < n; i++)
            free(v[i].p);
        free(v);
        return 0;
    }
    fprintf(stderr, "usage: fuzz_seeds tcp DIR | fuzz_seeds pcap FILE DIR\n");
    return 2;
}
