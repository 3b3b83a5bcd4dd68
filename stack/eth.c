/* eth.c - Ethernet II (DIX): header parse and build, and the link's
 * output: every frame the stack sends leaves through eth_emit. */
#include "eth.h"

#include <string.h>

#include "bytes.h"
#include "core.h"

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

/* The one way out: the --explain reason of the frame, the observer, then
 * the output callback (with the offloads' metadata when the link takes it). */
void eth_emit(struct sk_stack *s, const uint8_t *frame, size_t len)
{
    s->ctr.eth_out++;
    if (s->cfg.on_why && s->why_out) {
        s->cfg.on_why(s->cfg.observer_ctx, SK_DIR_OUT, s->why_out, s->why_out_arg, s->now);
        s->why_out = 0;
    }
    if (s->cfg.on_frame)
        s->cfg.on_frame(s->cfg.observer_ctx, SK_DIR_OUT, frame, len, s->now);
    if (s->cfg.output_meta) {
        struct sk_frame_meta m = s->tx_meta;
        s->tx_meta = (struct sk_frame_meta){0};
        s->cfg.output_meta(s->cfg.output_ctx, frame, len, &m);
        return;
    }
    s->cfg.output(s->cfg.output_ctx, frame, len);
}
