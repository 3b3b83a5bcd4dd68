/* eth.c - Ethernet II (DIX) header parse and build. */
#include "eth.h"

#include <string.h>

#include "bytes.h"

/* A constant, not mutable state. */
const uint8_t eth_broadcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

int eth_parse(const uint8_t *frame, size_t len, struct eth_hdr *h)
{
    if (len < ETH_HDR_LEN)
        return -1;
    memcpy(h->dst, frame, ETH_ALEN);
    memcpy(h->src, frame + 6, ETH_ALEN);
    h->type = rd16(frame + 12);
    return 0;
}

void eth_build(uint8_t *frame, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN],
               uint16_t type)
{
    memcpy(frame, dst, ETH_ALEN);
    memcpy(frame + 6, src, ETH_ALEN);
    wr16(frame + 12, type);
}
