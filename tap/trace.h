/* trace.h - one line per frame in the format `tcpdump -nn` prints, so the
 * stack's own view of the link can be laid beside tcpdump's line by line. */
#ifndef TAP_TRACE_H
#define TAP_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_CONVS 1024 /* conversations remembered for relative numbers */

/* tcpdump prints sequence numbers relative to each side's initial one,
 * learned from the first segment with ACK of a conversation (or a SYN-ACK);
 * this remembers them the same way. */
struct trace_conv {
    uint32_t addr[2];
    uint16_t port[2];
    uint32_t base[2]; /* initial sequence number of endpoint 0 and 1 */
    uint8_t used;
};

struct trace_state {
    struct trace_conv conv[TRACE_CONVS];
};

/* Writes the tcpdump line for the frame (without timestamp) into out;
 * returns its length. */
size_t trace_format(struct trace_state *ts, const uint8_t *frame, size_t len, char *out,
                    size_t outlen);
/* The relative sequence number of a TCP segment with ACK, as the trace
 * prints it (call it after trace_format of the same frame, or alone: it
 * learns the numbers as trace_format does); false for other frames. */
bool trace_rel_seq(struct trace_state *ts, const uint8_t *frame, size_t len, uint32_t *seq);
/* "18:31:02.123456", tcpdump's default timestamp, from wall-clock time. */
void trace_timestamp(char out[32], int64_t sec, int64_t usec);

#endif
