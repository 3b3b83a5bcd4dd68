/* arp.c - ARP (RFC 826): answer for our address, resolve next hops.
 *
 * The cache is a small fixed array (ARP_CACHE_SIZE); a full cache reuses
 * its least recently updated entry.  While an address resolves, frames for
 * it wait in a shared pool of cfg.arp_pending_total frame buffers, at most
 * cfg.arp_pending per address (RFC 1122 2.3.2.2: SHOULD keep at least one;
 * Linux keeps 100 per neighbour, 8 was too few for a burst of SYN-ACKs);
 * requests are retried every ARP_RETRY_US up to ARP_MAX_TRIES times, then
 * the waiting frames are dropped and counted.
 *
 * IPv4 frames are counted as sent (ip_out, tcp_out) here, when they leave
 * for the output callback: one that waits is not sent yet, and one dropped
 * while waiting counts only in drop_arp_pending. */
#include "arp.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"
#include "eth.h"
#include "ipv4.h"

#define ARP_HTYPE_ETH 1

int arp_parse(const uint8_t *p, size_t len, struct arp_pkt *a)
{
    if (len < ARP_PKT_LEN)
        return -1;
    a->htype = rd16(p);
    a->ptype = rd16(p + 2);
    a->hlen = p[4];
    a->plen = p[5];
    a->oper = rd16(p + 6);
    if (a->htype != ARP_HTYPE_ETH || a->ptype != ETHERTYPE_IP || a->hlen != ETH_ALEN ||
        a->plen != 4)
        return -1;
    memcpy(a->sha, p + 8, ETH_ALEN);
    a->spa = rd32(p + 14);
    memcpy(a->tha, p + 18, ETH_ALEN);
    a->tpa = rd32(p + 24);
    return 0;
}

void arp_build(uint8_t *p, const struct arp_pkt *a)
{
    wr16(p, ARP_HTYPE_ETH);
    wr16(p + 2, ETHERTYPE_IP);
    p[4] = ETH_ALEN;
    p[5] = 4;
    wr16(p + 6, a->oper);
    memcpy(p + 8, a->sha, ETH_ALEN);
    wr32(p + 14, a->spa);
    memcpy(p + 18, a->tha, ETH_ALEN);
    wr32(p + 24, a->tpa);
}

int arp_init(struct sk_stack *s)
{
    struct sk_config *c = &s->cfg;
    if (!c->arp_pending)
        c->arp_pending = SK_ARP_PENDING_DEFAULT;
    if (!c->arp_pending_total)
        c->arp_pending_total = 4 * c->arp_pending;
    if (c->arp_pending > SK_ARP_PENDING_MAX || c->arp_pending_total > 65536)
        return -1;
    s->arp.pool_slot = s->frame_max;
    s->arp.pool_slots = c->arp_pending_total;
    s->arp.free_head = -1;
    for (int i = 0; i < ARP_CACHE_SIZE; i++)
        s->arp.e[i].head = s->arp.e[i].tail = -1;
    return 0;
}

void arp_free(struct sk_stack *s)
{
    free(s->arp.pool);
    free(s->arp.pool_len);
    free(s->arp.pool_next);
}

/* The pool, made when the first frame must wait: up to 65536 frames of
 * the MTU is too much to take from every stack that never needs it. */
static bool pool_ready(struct sk_stack *s)
{
    struct arp_table *t = &s->arp;
    if (t->pool)
        return true;
    t->pool = malloc((size_t)t->pool_slots * t->pool_slot);
    t->pool_len = calloc(t->pool_slots, sizeof(*t->pool_len));
    t->pool_next = malloc((size_t)t->pool_slots * sizeof(*t->pool_next));
    if (!t->pool || !t->pool_len || !t->pool_next) {
        free(t->pool);
        free(t->pool_len);
        free(t->pool_next);
        t->pool = NULL;
        t->pool_len = NULL;
        t->pool_next = NULL;
        return false;
    }
    for (uint32_t i = 0; i < t->pool_slots; i++)
        t->pool_next[i] = i + 1 < t->pool_slots ? (int32_t)(i + 1) : -1;
    t->free_head = 0;
    return true;
}

static void free_slot(struct arp_table *t, int32_t slot)
{
    t->pool_len[slot] = 0;
    t->pool_next[slot] = t->free_head;
    t->free_head = slot;
}

/* An IPv4 frame leaves: now it counts as sent. */
static void emit_ip(struct sk_stack *s, uint8_t *frame, size_t len)
{
    s->ctr.ip_out++;
    if (frame[ETH_HDR_LEN + 9] == IP_PROTO_TCP)
        s->ctr.tcp_out++;
    eth_emit(s, frame, len);
}

static void send_arp(struct sk_stack *s, uint16_t oper, const uint8_t *eth_dst, const uint8_t *tha,
                     uint32_t tpa)
{
    struct arp_pkt a = {.oper = oper, .spa = s->cfg.addr, .tpa = tpa};
    memcpy(a.sha, s->cfg.mac, ETH_ALEN);
    memcpy(a.tha, tha, ETH_ALEN);
    eth_build(s->tx, eth_dst, s->cfg.mac, ETHERTYPE_ARP);
    arp_build(s->tx + ETH_HDR_LEN, &a);
    /* Pad to the 60-byte Ethernet minimum, as hardware would. */
    memset(s->tx + ETH_HDR_LEN + ARP_PKT_LEN, 0, 60 - ETH_HDR_LEN - ARP_PKT_LEN);
    eth_emit(s, s->tx, 60);
}

static const uint8_t zero_mac[ETH_ALEN];

void arp_announce(struct sk_stack *s)
{
    /* A request for our own address (RFC 5227's announcement form). */
    send_arp(s, ARP_OP_REQUEST, eth_broadcast, zero_mac, s->cfg.addr);
    s->ctr.arp_gratuitous_sent++;
}

static struct arp_entry *find(struct sk_stack *s, uint32_t ip)
{
    /* Most traffic goes to one peer: try the last hit before the scan. */
    struct arp_entry *e = &s->arp.e[s->arp.last];
    if (e->state != ARP_FREE && e->ip == ip)
        return e;
    for (int i = 0; i < ARP_CACHE_SIZE; i++)
        if (s->arp.e[i].state != ARP_FREE && s->arp.e[i].ip == ip) {
            s->arp.last = (uint8_t)i;
            return &s->arp.e[i];
        }
    return NULL;
}

static void drop_pending(struct sk_stack *s, struct arp_entry *e)
{
    for (int32_t slot = e->head, next; slot >= 0; slot = next) {
        next = s->arp.pool_next[slot];
        free_slot(&s->arp, slot);
        s->ctr.drop_arp_pending++;
    }
    e->head = e->tail = -1;
    e->npending = 0;
}

/* A free entry, or the least recently updated one. */
static struct arp_entry *alloc_entry(struct sk_stack *s, uint32_t ip)
{
    struct arp_entry *victim = &s->arp.e[0];
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        struct arp_entry *e = &s->arp.e[i];
        if (e->state == ARP_FREE) {
            victim = e;
            break;
        }
        if (e->used < victim->used)
            victim = e;
    }
    drop_pending(s, victim);
    memset(victim, 0, sizeof(*victim));
    victim->head = victim->tail = -1;
    victim->ip = ip;
    victim->used = s->now;
    return victim;
}

static void set_reachable(struct sk_stack *s, struct arp_entry *e, const uint8_t *mac)
{
    memcpy(e->mac, mac, ETH_ALEN);
    e->state = ARP_REACHABLE;
    e->used = s->now;
    e->deadline = s->now + (uint64_t)s->cfg.arp_lifetime_ms * 1000;
    /* Send what waited, oldest first. */
    for (int32_t slot = e->head, next; slot >= 0; slot = next) {
        next = s->arp.pool_next[slot];
        uint8_t *f = s->arp.pool + (size_t)slot * s->arp.pool_slot;
        memcpy(f, mac, ETH_ALEN);
        emit_ip(s, f, s->arp.pool_len[slot]);
        free_slot(&s->arp, slot);
    }
    e->head = e->tail = -1;
    e->npending = 0;
}

void arp_input(struct sk_stack *s, const struct eth_hdr *eh, const uint8_t *p, size_t len)
{
    struct arp_pkt a;
    (void)eh;
    s->ctr.arp_in++;
    if (arp_parse(p, len, &a) < 0 || (a.oper != ARP_OP_REQUEST && a.oper != ARP_OP_REPLY) ||
        (a.sha[0] & 1)) {
        s->ctr.drop_arp_malformed++;
        return;
    }
    /* RFC 826's merge: refresh a sender we already know... */
    bool merged = false;
    struct arp_entry *e = a.spa ? find(s, a.spa) : NULL;
    if (e && a.spa != s->cfg.addr) {
        set_reachable(s, e, a.sha);
        merged = true;
    }
    if (a.tpa != s->cfg.addr) {
        s->ctr.drop_arp_not_ours++;
        return;
    }
    /* ...and learn one that is talking to us, if it is on our link. */
    if (!merged && a.spa && a.spa != s->cfg.addr && sk_on_link(s, a.spa))
        set_reachable(s, alloc_entry(s, a.spa), a.sha);
    if (a.oper == ARP_OP_REQUEST) {
        send_arp(s, ARP_OP_REPLY, a.sha, a.sha, a.spa);
        s->ctr.arp_replies_sent++;
    }
}

const uint8_t *arp_lookup(const struct sk_stack *s, uint32_t ip)
{
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        const struct arp_entry *e = &s->arp.e[i];
        if (e->state == ARP_REACHABLE && e->ip == ip && e->deadline > s->now)
            return e->mac;
    }
    return NULL;
}

static int32_t alloc_slot(struct sk_stack *s)
{
    struct arp_table *t = &s->arp;
    if (!pool_ready(s) || t->free_head < 0)
        return -1;
    int32_t slot = t->free_head;
    t->free_head = t->pool_next[slot];
    return slot;
}

void arp_output(struct sk_stack *s, uint32_t ip, uint8_t *frame, size_t len)
{
    struct arp_entry *e = find(s, ip);
    if (e && e->state == ARP_REACHABLE && e->deadline > s->now) {
        memcpy(frame, e->mac, ETH_ALEN);
        emit_ip(s, frame, len);
        return;
    }
    bool ask = !e || e->state == ARP_REACHABLE; /* unknown, or its entry expired */
    if (ask) {
        e = e ? e : alloc_entry(s, ip);
        e->state = ARP_INCOMPLETE;
        e->tries = 1;
        e->deadline = s->now + ARP_RETRY_US;
    }
    /* Park the frame first: the request below is built in the same buffer.
     * A parked frame leaves later without metadata: a partial checksum is
     * completed now, and a TSO frame (larger than a slot) is dropped: its
     * segments are resent when they are found lost. */
    struct sk_frame_meta m = s->tx_meta;
    s->tx_meta = (struct sk_frame_meta){0};
    /* Its --explain reason stays behind too: the ARP request built next
     * must not take it. */
    s->why_out = 0;
    if (m.csum == SK_CSUM_PARTIAL && !m.gso_size)
        csum_complete(frame, len, &m);
    int32_t slot = e->npending < s->cfg.arp_pending && !m.gso_size && len <= s->arp.pool_slot
                       ? alloc_slot(s)
                       : -1;
    if (slot < 0) {
        s->ctr.drop_arp_pending++;
    } else {
        memcpy(s->arp.pool + (size_t)slot * s->arp.pool_slot, frame, len);
        s->arp.pool_len[slot] = (uint16_t)len;
        s->arp.pool_next[slot] = -1;
        if (e->tail >= 0)
            s->arp.pool_next[e->tail] = slot;
        else
            e->head = slot;
        e->tail = slot;
        e->npending++;
    }
    if (ask) {
        send_arp(s, ARP_OP_REQUEST, eth_broadcast, zero_mac, ip);
        s->ctr.arp_requests_sent++;
    }
}

void arp_timers(struct sk_stack *s)
{
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        struct arp_entry *e = &s->arp.e[i];
        if (e->state != ARP_INCOMPLETE || e->deadline > s->now)
            continue;
        if (e->tries >= ARP_MAX_TRIES) {
            s->ctr.arp_resolve_failed++;
            drop_pending(s, e);
            e->state = ARP_FREE;
            continue;
        }
        e->tries++;
        e->deadline = s->now + ARP_RETRY_US;
        send_arp(s, ARP_OP_REQUEST, eth_broadcast, zero_mac, e->ip);
        s->ctr.arp_requests_sent++;
    }
}

uint64_t arp_next_deadline(const struct sk_stack *s)
{
    uint64_t d = UINT64_MAX;
    for (int i = 0; i < ARP_CACHE_SIZE; i++)
        if (s->arp.e[i].state == ARP_INCOMPLETE)
            d = min_u64(d, s->arp.e[i].deadline);
    return d;
}
