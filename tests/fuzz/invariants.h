/* invariants.h - what must hold in a stack between any two calls, checked
 * by the fuzz targets after every step.  A violation prints what broke and
 * calls abort(), which libFuzzer and AFL++ report as a crash. */
#ifndef FUZZ_INVARIANTS_H
#define FUZZ_INVARIANTS_H

#include <stddef.h>
#include <stdint.h>

#include "synack.h"

/* Every TCB: sequence variables ordered, queues within their bounds, the
 * out-of-order ranges and the scoreboard consistent; and no state change
 * outside the diagram. */
void inv_check_stack(const sk_stack *s);
/* A frame the stack sent: Ethernet, then ARP or a well-formed IPv4 packet
 * no longer than the MTU whose IP and TCP checksums verify. */
void inv_check_frame(const uint8_t *frame, size_t len, uint16_t mtu);

#endif
