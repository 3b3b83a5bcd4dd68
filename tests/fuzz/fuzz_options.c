/* fuzz_options.c - target 3: the TCP option parser, alone and inside
 * tcp_parse.
 *
 * The first byte chooses: even, the rest is an option block for
 * tcp_parse_options; odd, the rest is a whole TCP segment (header and
 * options and data) for tcp_parse, its checksum made right when bit 1 is
 * set.  Whatever the bytes, the parser must stay inside them and give
 * values within their ranges (RFC 9293 3.1, RFC 7323 2.3, RFC 2018 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "common.h"
#include "ipv4.h"
#include "tcp.h"

static void check_opts(const struct tcp_opts *o)
{
    if (o->nsack > 4 || o->wscale < -1 || o->wscale > TCP_MAX_WSCALE) {
        fprintf(stderr, "options out of range: %u SACK blocks, wscale %d\n", o->nsack, o->wscale);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    /* A copy of the exact length: a read past it is a read past the input. */
    size_t n = size - 1;
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return 0;
    memcpy(p, data + 1, n);
    if (!(mode & 1)) {
        struct tcp_opts o;
        if (tcp_parse_options(p, n, &o) == 0)
            check_opts(&o);
    } else {
        if ((mode & 2) && n >= TCP_HDR_LEN && n <= 0xffff) {
            wr16(p + 16, 0);
            uint32_t sum = csum_pseudo(FZ_PEER_IP, FZ_US_IP, IP_PROTO_TCP, (uint16_t)n);
            wr16(p + 16, csum_finish(csum_partial(p, n, sum)));
        }
        struct tcp_seg g;
        if (tcp_parse(p, n, FZ_PEER_IP, FZ_US_IP, false, &g) == TCP_PARSE_OK) {
            check_opts(&g.opt);
            size_t hl = (size_t)(p[12] >> 4) * 4;
            if (hl < TCP_HDR_LEN || hl > n || g.len != n - hl || g.data != p + hl) {
                fprintf(stderr, "segment of %zu bytes parsed as %u data bytes\n", n, g.len);
                abort();
            }
        }
    }
    free(p);
    return 0;
}
