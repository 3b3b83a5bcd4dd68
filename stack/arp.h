/* arp.h - ARP (RFC 826) for IPv4 over Ethernet: a cache and resolution. */
#ifndef SK_ARP_H
#define SK_ARP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eth.h"

#define ARP_CACHE_SIZE 64 /* entries; the oldest is reused when full */
/* Frames held while resolving: sk_config's arp_pending per address and
 * arp_pending_total for all (defaults and bounds in synack.h). */
#define ARP_RETRY_US  1000000ULL
#define ARP_MAX_TRIES 3
#define ARP_PKT_LEN   28

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE };

struct arp_entry {
    uint32_t ip;
    uint8_t mac[ETH_ALEN];
    uint8_t state;
    uint8_t tries;
    uint32_t npending;
    int32_t head, tail; /* its waiting frames: a FIFO of pool slots, -1 if none */
    uint64_t deadline;  /* REACHABLE: expiry; INCOMPLETE: next retry */
    uint64_t used;      /* last update, to pick a victim when full */
};

struct arp_table {
    struct arp_entry e[ARP_CACHE_SIZE];
    /* The pool of waiting frames, arp_pending_total slots of pool_slot
     * bytes, made at the first frame that waits (most runs never need it). */
    uint8_t *pool;
    uint16_t *pool_len; /* per slot; 0: free */
    int32_t *pool_next; /* per slot: the next in its entry's FIFO, or in the free list */
    int32_t free_head;  /* -1: the pool is full */
    uint32_t pool_slots;
    size_t pool_slot;
    uint8_t last; /* index of the last entry found */
};

/* An ARP packet in host order. */
struct arp_pkt {
    uint16_t htype, ptype, oper;
    uint8_t hlen, plen;
    uint8_t sha[ETH_ALEN];
    uint32_t spa;
    uint8_t tha[ETH_ALEN];
    uint32_t tpa;
};
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY   2

int arp_parse(const uint8_t *p, size_t len, struct arp_pkt *a);
void arp_build(uint8_t *p, const struct arp_pkt *a);

struct sk_stack;
int arp_init(struct sk_stack *s);
void arp_free(struct sk_stack *s);
void arp_input(struct sk_stack *s, const struct eth_hdr *eh, const uint8_t *p, size_t len);
/* Sends a complete Ethernet frame whose next hop is `ip`, filling in the
 * destination MAC; holds it while resolving. */
void arp_output(struct sk_stack *s, uint32_t ip, uint8_t *frame, size_t len);
void arp_announce(struct sk_stack *s);
void arp_timers(struct sk_stack *s);
uint64_t arp_next_deadline(const struct sk_stack *s);
/* The cached MAC for ip, or NULL (tests and the ss-like dump). */
const uint8_t *arp_lookup(const struct sk_stack *s, uint32_t ip);

#endif
