/* tap.h - the Linux TAP device and its host side. */
#ifndef TAP_TAP_H
#define TAP_TAP_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tap_dev {
    int fd;
    /* IF_NAMESIZE (POSIX) is IFNAMSIZ, and defined without _GNU_SOURCE:
     * this header is installed as <synack/tap.h>. */
    char name[IF_NAMESIZE];
    bool created; /* we made it; it goes away when we close it */
    uint16_t mtu;
};

/* Opens (creating, or attaching to a persistent one) the TAP `name`.  On
 * failure returns -1 with a message for the user in err. */
int tap_open(struct tap_dev *t, const char *name, char *err, size_t errlen);
/* Gives the host side an address, netmask, MTU and brings it up, unless it
 * is configured so already (a persistent TAP set up by an admin). */
int tap_configure(struct tap_dev *t, uint32_t addr, uint8_t prefix, uint16_t mtu, char *err,
                  size_t errlen);
void tap_close(struct tap_dev *t);

#endif
