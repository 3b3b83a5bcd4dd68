/* ip_frag.h - IPv4 reassembly (RFC 791 3.2, RFC 815), bounded for a
 * hostile link.  See ip_frag.c for the rules. */
#ifndef SK_IP_FRAG_H
#define SK_IP_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"

#define IP_FRAG_CHUNK      1024 /* reassembly memory comes in chunks of this many bytes */
#define IP_FRAG_CHUNKS     64   /* per datagram: 64 KiB covers any offset */
#define IP_FRAG_RANGES     64   /* separate pieces held per datagram */
#define IP_FRAG_MEM_DEF    (1u << 20)
#define IP_FRAG_MAX_DEF    64
#define IP_FRAG_MAX_MAX    4096
#define IP_FRAG_TIMEOUT_MS 30000
#define IP_FRAG_NIL        UINT32_MAX

enum ip_frag_state { IPF_FREE = 0, IPF_LIVE, IPF_DEAD };

struct ip_frag_range {
    uint32_t start, end; /* payload bytes [start, end) */
};

/* One datagram in reassembly, found by RFC 791's key (source, destination,
 * protocol, identification). */
struct ip_frag_dgram {
    uint32_t src, dst;
    uint16_t id;
    uint8_t proto;
    uint8_t state;   /* enum ip_frag_state; DEAD: discarded, its key remembered */
    uint8_t hdr_len; /* the first fragment's header, 0 until it came */
    uint8_t hdr[60];
    uint32_t hnext; /* hash chain, by index */
    uint64_t deadline;
    struct link age; /* on the table's list, oldest first (= by deadline) */
    uint32_t total;  /* payload length, once the last fragment came; else 0 */
    uint32_t have;   /* payload bytes held */
    uint32_t nranges;
    struct ip_frag_range r[IP_FRAG_RANGES]; /* sorted, disjoint, not adjacent */
    uint8_t *chunk[IP_FRAG_CHUNKS];
};

struct ip_frag_table {
    struct ip_frag_dgram *d; /* cfg.ip_frag_max of them */
    uint32_t *bucket;        /* heads of hash chains */
    uint32_t nbuckets;       /* a power of two */
    uint32_t nfree_slot;     /* free descriptors are found by scanning from here */
    uint32_t nlive;          /* descriptors in use (live or dead) */
    struct link age;
    uint8_t *free_chunks; /* chunks kept for reuse, chained through their first bytes */
    uint32_t chunks_used, chunks_max;
    uint8_t key[16]; /* hash key, against chain flooding */
    uint8_t *out;    /* the last reassembled datagram, header and payload */
};

struct sk_stack;
struct ipv4_hdr;
int ip_frag_init(struct sk_stack *s);
void ip_frag_free(struct sk_stack *s);
/* Takes one fragment (its header parsed into *h, the packet at p).  When
 * it completes a datagram, returns the whole datagram (header and
 * payload, valid until the next call) with *h updated to describe it;
 * otherwise NULL: held or dropped (counted). */
const uint8_t *ip_frag_input(struct sk_stack *s, struct ipv4_hdr *h, const uint8_t *p);
/* Discards the datagrams whose time ran out (RFC 791, RFC 1122 3.3.2). */
void ip_frag_timers(struct sk_stack *s);
uint64_t ip_frag_next_deadline(const struct sk_stack *s);
/* Bytes of reassembly memory in use (tests). */
size_t ip_frag_mem_used(const struct sk_stack *s);
/* Datagrams in reassembly, live or discarded-but-remembered (tests). */
uint32_t ip_frag_count(const struct sk_stack *s);

#endif
