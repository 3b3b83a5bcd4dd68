/* invariants.c - see invariants.h.  These read the TCB's internals
 * (stack/tcp.h): they hold between any two calls into the stack, whatever
 * the peer sent. */
#include "invariants.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bytes.h"
#include "core.h"
#include "eth.h"
#include "ipv4.h"
#include "seq.h"
#include "tcp.h"

static void violated(const struct sk_tcb *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "invariant violated");
    if (c)
        fprintf(stderr, " (%s, %u -> %u, iss %u snd_una %u snd_nxt %u snd_max %u rcv_nxt %u)",
                sk_state_name(c->state), c->lport, c->rport, c->iss, c->snd_una, c->snd_nxt,
                c->snd_max, c->rcv_nxt);
    fprintf(stderr, ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

#define CHECK(c, cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            violated(c, __VA_ARGS__);                                                              \
    } while (0)

static void check_ring(const struct sk_tcb *c, const struct ring *r, const char *name)
{
    CHECK(c, r->len <= r->cap, "%s holds %u bytes, more than its %u", name, r->len, r->cap);
}

/* The receiver's out-of-order ranges (tcp_rcv.c): bounded, each non-empty,
 * sorted, apart (touching ones are merged), all beyond rcv_nxt (ranges it
 * reached are merged into the queue), and within the ring. */
static void check_ooo(const struct sk_tcb *c)
{
    CHECK(c, c->n_ooo <= c->ooo_cap, "%u out-of-order ranges, room for %u", c->n_ooo, c->ooo_cap);
    CHECK(c, c->ooo_cap <= c->stack->cfg.tcp_max_ooo, "out-of-order table of %u, above %u",
          c->ooo_cap, c->stack->cfg.tcp_max_ooo);
    CHECK(c, c->ooo_last < (int)c->n_ooo, "ooo_last %d past %u ranges", c->ooo_last, c->n_ooo);
    /* The FIN is the stream's last octet (RFC 9293 3.4): nothing beyond it is held. */
    CHECK(c, !(c->fin_received && c->n_ooo), "%u out-of-order ranges after the FIN", c->n_ooo);
    for (uint32_t i = 0; i < c->n_ooo; i++) {
        const struct tcp_ooo *r = &c->ooo[i];
        CHECK(c, seq_lt(r->start, r->end), "out-of-order range %u empty: [%u, %u)", i, r->start,
              r->end);
        if (i == 0)
            CHECK(c, seq_gt(r->start, c->rcv_nxt), "out-of-order range [%u, %u) not beyond rcv_nxt",
                  r->start, r->end);
        else
            CHECK(c, seq_lt(c->ooo[i - 1].end, r->start),
                  "out-of-order ranges %u and %u overlap, touch or are unsorted", i - 1, i);
        CHECK(c, c->rcvq.len + (r->end - c->rcv_nxt) <= c->rcvq.cap,
              "out-of-order range [%u, %u) beyond the receive ring (%u of %u held)", r->start,
              r->end, c->rcvq.len, c->rcvq.cap);
    }
}

/* The sender's scoreboard (tcp_snd.c): records in sequence order within
 * [snd_una, snd_max), and the byte counts equal to the sums of the flags. */
static void check_scoreboard(const struct sk_tcb *c)
{
    const struct tcp_scoreboard *sb = &c->sb;
    CHECK(c, sb->n <= sb->cap, "scoreboard holds %u records, room for %u", sb->n, sb->cap);
    CHECK(c, sb->cap <= TCP_SB_MAX && (sb->cap & (sb->cap - 1)) == 0,
          "scoreboard capacity %u not a power of two up to %u", sb->cap, TCP_SB_MAX);
    uint64_t sacked = 0, lost = 0, retrans = 0;
    uint32_t on_tlist = 0;
    for (uint32_t i = 0; i < sb->n; i++) {
        const struct tcp_rec *r = &sb->rec[(sb->head + i) & (sb->cap - 1)];
        uint32_t len = r->end - r->start;
        CHECK(c, seq_lt(r->start, r->end), "scoreboard record %u empty: [%u, %u)", i, r->start,
              r->end);
        if (i == 0)
            CHECK(c, seq_lt(c->snd_una, r->end), "record [%u, %u) acknowledged but kept", r->start,
                  r->end);
        else {
            const struct tcp_rec *p = &sb->rec[(sb->head + i - 1) & (sb->cap - 1)];
            CHECK(c, seq_leq(p->end, r->start), "records [%u, %u) and [%u, %u) out of order",
                  p->start, p->end, r->start, r->end);
        }
        CHECK(c, seq_leq(r->end, c->snd_max), "record [%u, %u) beyond snd_max", r->start, r->end);
        CHECK(c, !((r->flags & REC_SACKED) && (r->flags & (REC_LOST | REC_RETRANS))),
              "record [%u, %u) both SACKed and lost or in retransmission", r->start, r->end);
        if (r->flags & REC_SACKED)
            sacked += len;
        if (r->flags & REC_LOST)
            lost += len;
        if (r->flags & REC_RETRANS)
            retrans += len;
        if (r->flags & REC_TLIST) {
            on_tlist++;
            CHECK(c, !(r->flags & (REC_SACKED | REC_LOST)),
                  "record [%u, %u) SACKed or lost but on RACK's time list", r->start, r->end);
        }
    }
    CHECK(c, sacked == sb->sacked, "sacked %u, the records say %llu", sb->sacked,
          (unsigned long long)sacked);
    CHECK(c, lost == sb->lost, "lost %u, the records say %llu", sb->lost, (unsigned long long)lost);
    CHECK(c, retrans == sb->retrans, "retrans %u, the records say %llu", sb->retrans,
          (unsigned long long)retrans);
    CHECK(c, (uint64_t)sb->sacked + sb->lost <= c->snd_max - c->snd_una,
          "sacked %u + lost %u above the %u bytes in flight", sb->sacked, sb->lost,
          c->snd_max - c->snd_una);
    /* RACK's time list links exactly the records flagged as on it. */
    uint32_t walked = 0;
    for (uint32_t s = sb->thead; s != TCP_REC_NIL; s = sb->rec[s].tnext) {
        CHECK(c, s < sb->cap && walked < sb->n, "RACK's time list broken at slot %u", s);
        CHECK(c, sb->rec[s].flags & REC_TLIST, "slot %u on the time list unflagged", s);
        walked++;
    }
    CHECK(c, walked == on_tlist, "time list links %u records, %u are flagged", walked, on_tlist);
}

static void check_tcb(void *ctx, const sk_conn *conn)
{
    (void)ctx;
    const struct sk_tcb *c = conn;
    CHECK(c, c->state >= SK_CLOSED && c->state < SK_STATE_COUNT, "state %d", c->state);
    /* RFC 9293 3.3.1: SND.UNA =< SND.NXT, and nothing beyond what was sent. */
    CHECK(c, seq_leq(c->snd_una, c->snd_nxt), "snd_una above snd_nxt");
    CHECK(c, seq_leq(c->snd_nxt, c->snd_max), "snd_nxt above snd_max");
    check_ring(c, &c->sndq, "sndq");
    check_ring(c, &c->rcvq, "rcvq");
    check_ooo(c);
    check_scoreboard(c);
    if (c->fin_sent)
        CHECK(c, seq_lt(c->fin_seq, c->snd_max), "FIN at %u sent but not below snd_max",
              c->fin_seq);
    if (c->state == SK_LISTEN) {
        CHECK(c, c->acceptq_len <= c->backlog, "accept queue %u above backlog %u", c->acceptq_len,
              c->backlog);
        CHECK(c, c->synq_len <= c->backlog, "SYN queue %u above backlog %u", c->synq_len,
              c->backlog);
    }
}

void inv_check_stack(const sk_stack *s)
{
    const struct sk_counters *k = sk_counters(s);
    CHECK(NULL, k->tcp_bad_transitions == 0, "%llu state changes outside the diagram",
          (unsigned long long)k->tcp_bad_transitions);
    CHECK(NULL, s->tcp.ntcbs <= s->cfg.tcp_max_conns + 0u, "%u TCBs, limit %u", s->tcp.ntcbs,
          s->cfg.tcp_max_conns);
    sk_foreach_conn(s, check_tcb, NULL);
}

void inv_check_frame(const uint8_t *f, size_t len, uint16_t mtu)
{
    CHECK(NULL, len >= ETH_HDR_LEN && len <= (size_t)ETH_HDR_LEN + mtu,
          "frame of %zu bytes sent (MTU %u)", len, mtu);
    uint16_t type = rd16(f + 12);
    CHECK(NULL, type == ETHERTYPE_IP || type == ETHERTYPE_ARP, "EtherType %#x sent", type);
    if (type != ETHERTYPE_IP)
        return;
    struct ipv4_hdr ih;
    int err = ipv4_parse(f + ETH_HDR_LEN, len - ETH_HDR_LEN, &ih);
    CHECK(NULL, err == IPV4_OK, "IPv4 packet sent that does not parse (%d)", err);
    if (ih.proto != IP_PROTO_TCP)
        return;
    struct tcp_seg g;
    err = tcp_parse(f + ETH_HDR_LEN + ih.ihl, ih.total_len - ih.ihl, ih.src, ih.dst, false, &g);
    CHECK(NULL, err == TCP_PARSE_OK, "TCP segment sent that does not parse (%d)", err);
}
