/* pcapng.h - a small pcapng writer (the format of Wireshark and of
 * libpcap >= 1.1 readers): one section, one Ethernet interface with
 * microsecond timestamps, and one Enhanced Packet Block per frame with its
 * direction and an optional comment.  libpcap's dumper writes only the old
 * pcap format, which has no place for a per-packet comment: --pcap puts
 * the reason of --explain there. */
#ifndef TAP_PCAPNG_H
#define TAP_PCAPNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pcapng {
    FILE *f;
    int err; /* the first write error (an errno), or 0 */
};

/* Writes the section header and the interface description (if_name, if
 * given, and if_tsresol 6: microseconds) to f, and flushes them, so a file
 * that takes nothing fails here.  -1 with p->err set on failure; f stays
 * the caller's to close then. */
int pcapng_open(struct pcapng *p, FILE *f, const char *if_name, const char *app);
/* One frame: its time (microseconds since the epoch), inbound or not, and
 * comment (NULL or "" for none).  A write error is kept in p->err. */
void pcapng_write(struct pcapng *p, uint64_t ts_us, bool inbound, const uint8_t *frame, size_t len,
                  const char *comment);
/* Flushes; -1 if anything written so far failed (p->err says why). */
int pcapng_flush(struct pcapng *p);
/* Flushes and closes the file (unless it is stdout); -1 as above. */
int pcapng_close(struct pcapng *p);

#endif
