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
    /* Offloads (tap_open_offload): every frame read or written starts with
     * a virtio-net header; the kernel may hand us frames with checksums
     * left partial (csum) and TCP/IPv4 frames of up to 64 KiB (tso), and
     * takes the same from us. */
    bool vnet, csum, tso;
};

/* The virtio-net header (struct virtio_net_hdr, in the host's byte order
 * as tun uses it without TUNSETVNETLE): what it says of one frame. */
#define TAP_VNET_HDR_LEN 10

/* Opens (creating, or attaching to a persistent one) the TAP `name`.  On
 * failure returns -1 with a message for the user in err. */
int tap_open(struct tap_dev *t, const char *name, char *err, size_t errlen);
/* tap_open asking for offloads (IFF_VNET_HDR, TUNSETOFFLOAD with
 * TUN_F_CSUM and TUN_F_TSO4): what the kernel granted is in t->vnet,
 * t->csum and t->tso; a kernel that grants nothing leaves a plain TAP. */
int tap_open_offload(struct tap_dev *t, const char *name, char *err, size_t errlen);
/* Gives the host side an address, netmask, MTU and brings it up, unless it
 * is configured so already (a persistent TAP set up by an admin). */
int tap_configure(struct tap_dev *t, uint32_t addr, uint8_t prefix, uint16_t mtu, char *err,
                  size_t errlen);
void tap_close(struct tap_dev *t);

#endif
