/* eth.h - Ethernet II framing. */
#ifndef SK_ETH_H
#define SK_ETH_H

#include <stddef.h>
#include <stdint.h>

#define ETH_HDR_LEN   14
#define ETH_ALEN      6
#define ETHERTYPE_IP  0x0800
#define ETHERTYPE_ARP 0x0806

struct eth_hdr {
    uint8_t dst[ETH_ALEN];
    uint8_t src[ETH_ALEN];
    uint16_t type;
};

/* Parses the header; -1 if the frame is a runt. */
int eth_parse(const uint8_t *frame, size_t len, struct eth_hdr *h);
void eth_build(uint8_t *frame, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN],
               uint16_t type);

extern const uint8_t eth_broadcast[ETH_ALEN];

struct sk_stack;
/* Hands a finished frame to the output callback (and the observers), with
 * s->tx_meta when offloads are on. */
void eth_emit(struct sk_stack *s, const uint8_t *frame, size_t len);

#endif
