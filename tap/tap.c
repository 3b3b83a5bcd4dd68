/* tap.c - open /dev/net/tun as a TAP (IFF_TAP|IFF_NO_PI) and configure the
 * host side with ioctls (no shelling out to ip). */
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_tun_device(const char *name)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
    return stat(path, &st) == 0;
}

static int open_tap(struct tap_dev *t, const char *name, bool offload, char *err, size_t errlen);

int tap_open(struct tap_dev *t, const char *name, char *err, size_t errlen)
{
    return open_tap(t, name, false, err, errlen);
}

int tap_open_offload(struct tap_dev *t, const char *name, char *err, size_t errlen)
{
    return open_tap(t, name, true, err, errlen);
}

static int open_tap(struct tap_dev *t, const char *name, bool offload, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    size_t n = strlen(name);
    if (n == 0 || n >= IFNAMSIZ) {
        snprintf(err, errlen, "TAP name '%s' is %s (1 to %d characters)", name,
                 n ? "too long" : "empty", IFNAMSIZ - 1);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (name[i] == '/' || name[i] == ' ' || name[i] == ':') {
            snprintf(err, errlen, "TAP name '%s' may not contain '%c'", name, name[i]);
            return -1;
        }
    bool existed = if_nametoindex(name) != 0;
    if (existed && !is_tun_device(name)) {
        snprintf(err, errlen,
                 "'%s' already exists and is not a TAP device; pick another --tap name", name);
        return -1;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EACCES || errno == EPERM)
            snprintf(err, errlen,
                     "no permission to open /dev/net/tun: run as root, or make the device usable "
                     "by others as most distributions do (sudo chmod 0666 /dev/net/tun), then use "
                     "a persistent TAP owned by you (see README.md)");
        else
            snprintf(err, errlen, "cannot open /dev/net/tun: %s%s", strerror(errno),
                     errno == ENOENT ? " (is the tun module loaded? sudo modprobe tun)" : "");
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
    memcpy(ifr.ifr_name, name, n);
    int r = ioctl(fd, TUNSETIFF, &ifr);
    if (r < 0 && offload && errno == EINVAL) {
        /* A kernel (or a persistent TAP's owner) without the virtio-net
         * header: a plain TAP, no offloads. */
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        offload = false;
        r = ioctl(fd, TUNSETIFF, &ifr);
    }
    if (r < 0) {
        int e = errno;
        close(fd);
        if (e == EPERM || e == EACCES) {
            if (existed)
                snprintf(err, errlen,
                         "no permission to attach to TAP '%s': it belongs to another user. Run as "
                         "root, or recreate it for you: sudo ip tuntap add dev %s mode tap user %s",
                         name, name, getenv("USER") ? getenv("USER") : "$USER");
            else
                snprintf(err, errlen,
                         "no permission to create TAP '%s': run as root, grant CAP_NET_ADMIN "
                         "(sudo setcap cap_net_admin+ep PROGRAM), or use a persistent TAP owned by "
                         "you: sudo ip tuntap add dev %s mode tap user $USER",
                         name, name);
        } else if (e == EINVAL || e == EBUSY) {
            snprintf(err, errlen, "cannot attach to '%s': %s (is it a TUN, not a TAP, or in use?)",
                     name, strerror(e));
        } else {
            snprintf(err, errlen, "cannot set up TAP '%s': %s", name, strerror(e));
        }
        return -1;
    }
    t->fd = fd;
    t->created = !existed;
    if (offload) {
        t->vnet = true;
        /* What we take from the kernel: partial checksums, and TSO frames
         * (which it may then send us); the most first, then less. */
        if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) == 0)
            t->csum = t->tso = true;
        else if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM) == 0)
            t->csum = true;
    }
    memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
    t->name[IFNAMSIZ - 1] = '\0';
    return 0;
}

static uint32_t prefix_mask(uint8_t prefix)
{
    return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

static void set_sin(struct sockaddr *sa, uint32_t addr)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(addr);
    memcpy(sa, &sin, sizeof(sin));
}

static uint32_t get_sin(const struct sockaddr *sa)
{
    struct sockaddr_in sin;
    memcpy(&sin, sa, sizeof(sin));
    return ntohl(sin.sin_addr.s_addr);
}

int tap_configure(struct tap_dev *t, uint32_t addr, uint8_t prefix, uint16_t mtu, char *err,
                  size_t errlen)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
    /* Already as wanted (an admin set up a persistent TAP)?  Then leave it,
     * so an unprivileged user can run us. */
    bool has_addr = ioctl(s, SIOCGIFADDR, &ifr) == 0 && get_sin(&ifr.ifr_addr) == addr;
    bool has_mask =
        ioctl(s, SIOCGIFNETMASK, &ifr) == 0 && get_sin(&ifr.ifr_netmask) == prefix_mask(prefix);
    bool up = ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
    bool mtu_ok = ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu == mtu;
    t->mtu = mtu;
    if (has_addr && has_mask && up && mtu_ok) {
        close(s);
        return 0;
    }
    const char *step = "";
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
    ifr.ifr_mtu = mtu;
    if (!mtu_ok && ioctl(s, SIOCSIFMTU, &ifr) < 0) {
        step = "set the MTU of";
        goto fail;
    }
    if (!has_addr || !has_mask) {
        set_sin(&ifr.ifr_addr, addr);
        if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
            step = "set the address of";
            goto fail;
        }
        set_sin(&ifr.ifr_netmask, prefix_mask(prefix));
        if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
            step = "set the netmask of";
            goto fail;
        }
    }
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        step = "read the flags of";
        goto fail;
    }
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
        step = "bring up";
        goto fail;
    }
    close(s);
    return 0;
fail:;
    int e = errno;
    close(s);
    char a[INET_ADDRSTRLEN];
    struct in_addr ia = {htonl(addr)};
    inet_ntop(AF_INET, &ia, a, sizeof(a));
    if (e == EPERM || e == EACCES)
        snprintf(err, errlen,
                 "no permission to %s %s's host side: run as root, or configure it beforehand: "
                 "sudo ip addr add %s/%u dev %s && sudo ip link set %s mtu %u up",
                 step, t->name, a, prefix, t->name, t->name, mtu);
    else
        snprintf(err, errlen, "cannot %s %s: %s", step, t->name, strerror(e));
    return -1;
}

void tap_close(struct tap_dev *t)
{
    /* A TAP we created without TUNSETPERSIST disappears with its last fd;
     * a persistent one stays for the next run. */
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}
