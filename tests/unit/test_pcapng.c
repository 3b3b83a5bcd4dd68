/* tap/pcapng.c: what it writes is read back by libpcap frame for frame,
 * every block's two length fields agree and walk the file to its end, and
 * the comment sits, padded, in its packet's block; a file that takes
 * nothing fails at open with its errno.  (tshark reads the comments in
 * tests/integration/explain.sh.) */
#include <check.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapng.h"

static const uint8_t frame1[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2,
                                   0,    0,    0,    0,    1,    0x08, 0x06};
static const uint8_t frame2[61] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45};
static const char comment[] = "answers a SYN (RFC 9293 3.10.7.2)"; /* 33 bytes: padded to 36 */

static uint16_t u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint32_t u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* the host's order: the byte-order magic says so */
    return v;
}

/* Writes the two frames to a temporary file; returns its bytes. */
static uint8_t *write_file(size_t *len, char path[64])
{
    strcpy(path, "/tmp/test_pcapng.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "wb");
    ck_assert_ptr_nonnull(f);
    struct pcapng p;
    ck_assert_int_eq(pcapng_open(&p, f, "tap0", "test"), 0);
    pcapng_write(&p, 1700000000123456ull, false, frame1, sizeof(frame1), NULL);
    pcapng_write(&p, 1700000000123999ull, true, frame2, sizeof(frame2), comment);
    ck_assert_int_eq(pcapng_close(&p), 0);
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static uint8_t buf[4096];
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return buf;
}

START_TEST(libpcap_reads_it_back)
{
    char path[64], err[PCAP_ERRBUF_SIZE];
    size_t len;
    write_file(&len, path);
    pcap_t *pc = pcap_open_offline(path, err);
    ck_assert_msg(pc != NULL, "%s", err);
    ck_assert_int_eq(pcap_datalink(pc), DLT_EN10MB);
    struct pcap_pkthdr *h;
    const u_char *data;
    ck_assert_int_eq(pcap_next_ex(pc, &h, &data), 1);
    ck_assert_uint_eq(h->caplen, sizeof(frame1));
    ck_assert_uint_eq(h->len, sizeof(frame1));
    ck_assert_int_eq(memcmp(data, frame1, sizeof(frame1)), 0);
    ck_assert_int_eq(h->ts.tv_sec, 1700000000);
    ck_assert_int_eq(h->ts.tv_usec, 123456);
    ck_assert_int_eq(pcap_next_ex(pc, &h, &data), 1);
    ck_assert_uint_eq(h->caplen, sizeof(frame2));
    ck_assert_int_eq(memcmp(data, frame2, sizeof(frame2)), 0);
    ck_assert_int_eq(h->ts.tv_usec, 123999);
    ck_assert_int_eq(pcap_next_ex(pc, &h, &data), PCAP_ERROR_BREAK); /* the end */
    pcap_close(pc);
    remove(path);
}
END_TEST

START_TEST(blocks_walk_and_hold_the_comment)
{
    char path[64];
    size_t len;
    uint8_t *b = write_file(&len, path);
    remove(path);
    uint32_t types[8];
    size_t n = 0, at = 0;
    const uint8_t *epb2 = NULL;
    while (at < len && n < 8) {
        uint32_t type = u32(b + at), blen = u32(b + at + 4);
        ck_assert_uint_eq(blen % 4, 0);
        ck_assert_uint_le(at + blen, len);
        ck_assert_uint_eq(u32(b + at + blen - 4), blen); /* the length again, at its end */
        if (type == 6 && n == 3)
            epb2 = b + at;
        types[n++] = type;
        at += blen;
    }
    ck_assert_uint_eq(at, len);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(types[0], 0x0A0D0D0A); /* section header */
    ck_assert_uint_eq(u32(b + 8), 0x1A2B3C4D);
    ck_assert_uint_eq(types[1], 1); /* interface */
    ck_assert_uint_eq(types[2], 6);
    ck_assert_ptr_nonnull(epb2);
    /* After the 28-byte header and the frame padded to 64: epb_flags
     * (code 2, 4 bytes: inbound), then opt_comment (code 1). */
    const uint8_t *o = epb2 + 28 + 64;
    ck_assert_uint_eq(u16(o), 2);
    ck_assert_uint_eq(u16(o + 2), 4);
    ck_assert_uint_eq(u32(o + 4), 1);
    o += 8;
    ck_assert_uint_eq(u16(o), 1);
    ck_assert_uint_eq(u16(o + 2), strlen(comment));
    ck_assert_int_eq(memcmp(o + 4, comment, strlen(comment)), 0);
    ck_assert_uint_eq(o[4 + 33] | o[4 + 34] | o[4 + 35], 0); /* the padding */
    ck_assert_uint_eq(u32(o + 4 + 36), 0);                   /* opt_endofopt */
}
END_TEST

START_TEST(full_file_fails_at_open)
{
    FILE *f = fopen("/dev/full", "wb");
    if (!f)
        return; /* no /dev/full here: nothing to check */
    struct pcapng p;
    ck_assert_int_eq(pcapng_open(&p, f, "tap0", "test"), -1);
    ck_assert_int_eq(p.err, ENOSPC);
    pcapng_close(&p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pcapng");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, libpcap_reads_it_back);
    tcase_add_test(tc, blocks_walk_and_hold_the_comment);
    tcase_add_test(tc, full_file_fails_at_open);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
