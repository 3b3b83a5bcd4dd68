/* addr.h - which IPv4 addresses the stack and the host side of its TAP may
 * take, checked before any TAP is made; shared by every app. */
#ifndef TAP_ADDR_H
#define TAP_ADDR_H

#include <stddef.h>
#include <stdint.h>

/* Why a (host byte order) can be no host's own address, or NULL: "this
 * network" 0/8, loopback 127/8, multicast 224/4, reserved 240/4 and the
 * limited broadcast 255.255.255.255 (RFC 1122 3.2.1.3, RFC 6890). */
const char *addr_not_host(uint32_t a);

/* Checks the stack's address addr/prefix against the host side's
 * host/host_prefix: each a host address, neither the network nor the
 * broadcast address of its subnet, not the same, on one subnet.  0 if
 * they are fine, else -1 with a message naming the bad value in err. */
int addr_check_link(uint32_t addr, uint8_t prefix, uint32_t host, uint8_t host_prefix, char *err,
                    size_t errlen);

/* Another interface than `self` with an IPv4 address inside host/prefix's
 * subnet (getifaddrs): the kernel would then hold two routes for one
 * subnet and send some of its traffic to the wrong one.  Loopback
 * interfaces hold no route to a link and are left out of that, but on no
 * interface may the stack's own address `stack` be: the kernel would
 * answer for it itself.  0 if all is well, else -1 with a message in err
 * (for a subnet in use, it suggests a free one). */
int addr_check_unused(const char *self, uint32_t stack, uint32_t host, uint8_t prefix, char *err,
                      size_t errlen);

#endif
