/* pcapng.c - the pcapng blocks --pcap needs (draft-ietf-opsawg-pcapng):
 * a Section Header Block, an Interface Description Block for
 * LINKTYPE_ETHERNET, and Enhanced Packet Blocks with epb_flags (the
 * direction) and opt_comment (the reason --explain gives).  Written in the
 * host's byte order, which the byte-order magic tells readers.  libpcap
 * cannot write comments (its dumper writes pcap only), hence our own. */
#include "pcapng.h"

#include <errno.h>
#include <string.h>

enum {
    BT_SHB = 0x0A0D0D0A,
    BT_IDB = 0x00000001,
    BT_EPB = 0x00000006,
    OPT_END = 0,
    OPT_COMMENT = 1,
    OPT_SHB_USERAPPL = 4,
    OPT_IF_NAME = 2,
    OPT_IF_TSRESOL = 9,
    OPT_EPB_FLAGS = 2,
    LINKTYPE_ETHERNET = 1,
    SNAPLEN = 65535,
};

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static void put(struct pcapng *p, const void *data, size_t len)
{
    static const uint8_t zero[4];
    if (!len)
        return;
    errno = 0;
    /* The padding to 32 bits every field of pcapng needs. */
    if (fwrite(data, 1, len, p->f) != len ||
        fwrite(zero, 1, pad4(len) - len, p->f) != pad4(len) - len)
        if (!p->err)
            p->err = errno ? errno : EIO;
}

static void put32(struct pcapng *p, uint32_t v)
{
    put(p, &v, 4);
}

/* An option: code, length, value padded to 32 bits. */
static void put_opt(struct pcapng *p, uint16_t code, const void *v, size_t len)
{
    uint16_t h[2] = {code, (uint16_t)len};
    put(p, h, 4);
    put(p, v, len);
}

static size_t opt_size(size_t len)
{
    return 4 + pad4(len);
}

int pcapng_open(struct pcapng *p, FILE *f, const char *if_name, const char *app)
{
    p->f = f;
    p->err = 0;
    size_t app_len = app ? strlen(app) : 0, name_len = if_name ? strlen(if_name) : 0;
    /* Section Header Block: version 1.0, section length unknown (-1). */
    size_t shb = 28 + (app_len ? opt_size(app_len) : 0) + 4;
    put32(p, BT_SHB);
    put32(p, (uint32_t)shb);
    put32(p, 0x1A2B3C4D);
    uint16_t version[2] = {1, 0};
    put(p, version, 4);
    int64_t section_len = -1;
    put(p, &section_len, 8);
    if (app_len)
        put_opt(p, OPT_SHB_USERAPPL, app, app_len);
    put32(p, OPT_END); /* opt_endofopt: code 0, length 0 */
    put32(p, (uint32_t)shb);
    /* Interface Description Block: Ethernet, microsecond timestamps (6,
     * the default, said anyway for readers that look). */
    size_t idb = 20 + (name_len ? opt_size(name_len) : 0) + opt_size(1) + 4;
    put32(p, BT_IDB);
    put32(p, (uint32_t)idb);
    uint16_t lt[2] = {LINKTYPE_ETHERNET, 0};
    put(p, lt, 4);
    put32(p, SNAPLEN);
    if (name_len)
        put_opt(p, OPT_IF_NAME, if_name, name_len);
    uint8_t tsresol = 6;
    put_opt(p, OPT_IF_TSRESOL, &tsresol, 1);
    put32(p, OPT_END);
    put32(p, (uint32_t)idb);
    return pcapng_flush(p);
}

void pcapng_write(struct pcapng *p, uint64_t ts_us, bool inbound, const uint8_t *frame, size_t len,
                  const char *comment)
{
    size_t clen = comment ? strlen(comment) : 0;
    if (clen > 65535)
        clen = 65535;
    if (len > SNAPLEN)
        len = SNAPLEN;
    /* epb_flags bits 0-1: 01 inbound, 10 outbound. */
    uint32_t flags = inbound ? 1 : 2;
    size_t epb = 28 + pad4(len) + opt_size(4) + (clen ? opt_size(clen) : 0) + 4 + 4;
    uint32_t hdr[7] = {BT_EPB,        (uint32_t)epb, 0, (uint32_t)(ts_us >> 32), (uint32_t)ts_us,
                       (uint32_t)len, (uint32_t)len};
    put(p, hdr, sizeof(hdr));
    put(p, frame, len);
    put_opt(p, OPT_EPB_FLAGS, &flags, 4);
    if (clen)
        put_opt(p, OPT_COMMENT, comment, clen);
    put32(p, OPT_END);
    put32(p, (uint32_t)epb);
}

int pcapng_flush(struct pcapng *p)
{
    errno = 0;
    if (fflush(p->f) != 0 && !p->err)
        p->err = errno ? errno : EIO;
    if (ferror(p->f) && !p->err)
        p->err = EIO;
    return p->err ? -1 : 0;
}

int pcapng_close(struct pcapng *p)
{
    int r = pcapng_flush(p);
    if (p->f != stdout) {
        errno = 0;
        if (fclose(p->f) != 0 && !p->err) {
            p->err = errno ? errno : EIO;
            r = -1;
        }
    }
    p->f = NULL;
    return r;
}
