/* fuzz_trace.c - target 4: the trace (tcpdump-like lines) and ladder
 * formatters of tap/ on arbitrary frames.
 *
 * Input: u8 mode, then records of u8 control, u16 length, frame bytes.
 * mode chooses the size of the trace's output buffer (down to 0, to test
 * truncation) and whether an SVG ladder is written (to /dev/null).  Each
 * frame goes to trace_format and ladder_frame; control may add a note of
 * the stack, end a connection, or flush the ladder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "common.h"
#include "ladder.h"
#include "trace.h"

static FILE *devnull; /* opened once: the ladder's text goes nowhere */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size, 0};
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    uint8_t mode = fz_u8(&in);
    static const size_t outlens[8] = {0, 1, 8, 40, 80, 200, 512, 2048};
    size_t outlen = outlens[mode & 7];
    struct trace_state *ts = calloc(1, sizeof(*ts));
    struct ladder *l = calloc(1, sizeof(*l));
    char *out = malloc(outlen ? outlen : 1);
    if (!ts || !l || !out)
        abort();
    /* The ladder closes the SVG file it is given: a fresh one each time. */
    FILE *svg = NULL;
    if ((mode & 8) && !(svg = fopen("/dev/null", "w")))
        abort();
    ladder_init(l, devnull, svg);
    uint64_t now = 1000000;
    while (fz_more(&in)) {
        uint8_t ctl = fz_u8(&in);
        size_t want = fz_u16(&in) % 4096, len;
        const uint8_t *p = fz_bytes(&in, want, &len);
        uint8_t *frame = malloc(len ? len : 1); /* exact size, for ASan */
        if (!frame)
            abort();
        memcpy(frame, p, len);
        now += (uint64_t)(ctl >> 4) * 1000;
        size_t n = trace_format(ts, frame, len, out, outlen);
        if (outlen && (n >= outlen || strlen(out) != n)) {
            fprintf(stderr, "trace_format returned %zu for %zu bytes of room\n", n, outlen);
            abort();
        }
        ladder_frame(l, frame, len, now);
        if (len >= 14 + 20 + 20) {
            /* The ends of the segment, as the stack would name them. */
            const uint8_t *ip = frame + 14, *t = ip + 20;
            if (ctl & 1)
                ladder_note(l, rd32(ip + 12), rd16(t), rd32(ip + 16), rd16(t + 2), rd32(t + 4),
                            "fast retransmit");
            if (ctl & 2)
                ladder_conn_done(l, rd32(ip + 12), rd16(t), rd32(ip + 16), rd16(t + 2));
        }
        if (ctl & 4)
            ladder_flush(l);
        free(frame);
    }
    ladder_finish(l);
    free(out);
    free(l);
    free(ts);
    return 0;
}
