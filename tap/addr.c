/* addr.c - the address checks of addr.h. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *str(uint32_t a, char buf[16])
{
    struct in_addr ia = {htonl(a)};
    inet_ntop(AF_INET, &ia, buf, 16);
    return buf;
}

static uint32_t mask_of(uint8_t prefix)
{
    return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

const char *addr_not_host(uint32_t a)
{
    if (a == 0xffffffffu)
        return "the broadcast address";
    if ((a >> 24) == 0)
        return "in 0.0.0.0/8 (\"this network\", no host's address)";
    if ((a >> 24) == 127)
        return "a loopback address (127.0.0.0/8)";
    if ((a & 0xf0000000u) == 0xe0000000u)
        return "a multicast address (224.0.0.0/4)";
    if ((a & 0xf0000000u) == 0xf0000000u)
        return "a reserved address (240.0.0.0/4)";
    return NULL;
}

/* One side's own checks; opt names the option that gave it. */
static int check_one(const char *opt, uint32_t a, uint8_t prefix, const char *example, char *err,
                     size_t errlen)
{
    char s[16];
    const char *why = addr_not_host(a);
    uint32_t m = mask_of(prefix);
    /* A /31 or /32 has no network or broadcast address (RFC 3021), but
     * the options allow only 1 to 30. */
    if (!why && (a & ~m) == 0)
        why = "the network address of its subnet";
    if (!why && (a & ~m) == ~m)
        why = "the broadcast address of its subnet";
    if (!why)
        return 0;
    snprintf(err, errlen, "bad %s %s/%u: %s is %s; give a unicast address, like %s", opt, str(a, s),
             prefix, s, why, example);
    return -1;
}

int addr_check_link(uint32_t addr, uint8_t prefix, uint32_t host, uint8_t host_prefix, char *err,
                    size_t errlen)
{
    char a[16], b[16];
    if (check_one("--addr", addr, prefix, "10.0.0.2/24", err, errlen) < 0 ||
        check_one("--host-addr", host, host_prefix, "10.0.0.1/24", err, errlen) < 0)
        return -1;
    if (addr == host) {
        snprintf(err, errlen,
                 "the stack and the host side cannot share the address %s: give each its own "
                 "(--addr, --host-addr)",
                 str(addr, a));
        return -1;
    }
    uint32_t m = mask_of(prefix);
    if (prefix != host_prefix || (addr & m) != (host & m)) {
        snprintf(err, errlen,
                 "the stack (--addr %s/%u) and the host side (--host-addr %s/%u) must be on one "
                 "subnet",
                 str(addr, a), prefix, str(host, b), host_prefix);
        return -1;
    }
    return 0;
}

int addr_check_unused(const char *self, uint32_t stack, uint32_t host, uint8_t prefix, char *err,
                      size_t errlen)
{
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0) {
        snprintf(err, errlen, "cannot list the interfaces (getifaddrs): %s", strerror(errno));
        return -1;
    }
    uint32_t m = mask_of(prefix), net = host & m;
    int r = 0;
    for (struct ifaddrs *i = list; i && r == 0; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, self) == 0)
            continue;
        struct sockaddr_in sin;
        memcpy(&sin, i->ifa_addr, sizeof(sin));
        uint32_t other = ntohl(sin.sin_addr.s_addr);
        if (other == stack) {
            char a[16];
            snprintf(err, errlen,
                     "%s is already an address of this host, on %s: the kernel would answer for "
                     "it itself; give the stack another --addr",
                     str(stack, a), i->ifa_name);
            r = -1;
            break;
        }
        if ((other & m) != net || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        uint8_t oprefix = 0;
        if (i->ifa_netmask) {
            struct sockaddr_in nm;
            memcpy(&nm, i->ifa_netmask, sizeof(nm));
            for (uint32_t v = ntohl(nm.sin_addr.s_addr); v & 0x80000000u; v <<= 1)
                oprefix++;
        }
        /* The next subnet of the same size, as an example. */
        uint32_t next = net + (~m + 1);
        char a[16], b[16], c[16], d[16];
        snprintf(err, errlen,
                 "%s/%u is already on %s (%s/%u): two interfaces on one subnet would split its "
                 "traffic; give another subnet, e.g. --addr %s/%u --host-addr %s/%u",
                 str(net, a), prefix, i->ifa_name, str(other, b), oprefix, str(next + 2, c), prefix,
                 str(next + 1, d), prefix);
        r = -1;
    }
    freeifaddrs(list);
    return r;
}
