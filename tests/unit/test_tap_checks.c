/* Unit tests of the checks the apps share in tap/: the address validator
 * (addr.c) and the limits told once (limit_notes.c).  No TAP, no root. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "limit_notes.h"

#define IP(a, b, c, d)                                                                             \
    ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

START_TEST(not_host_classes)
{
    ck_assert_ptr_null(addr_not_host(IP(10, 0, 0, 2)));
    ck_assert_ptr_null(addr_not_host(IP(169, 254, 1, 1))); /* link-local is a host's */
    ck_assert_ptr_null(addr_not_host(IP(223, 255, 255, 254)));
    ck_assert_ptr_nonnull(strstr(addr_not_host(IP(0, 0, 0, 2)), "0.0.0.0/8"));
    ck_assert_ptr_nonnull(strstr(addr_not_host(IP(127, 0, 0, 2)), "loopback"));
    ck_assert_ptr_nonnull(strstr(addr_not_host(IP(224, 0, 0, 1)), "multicast"));
    ck_assert_ptr_nonnull(strstr(addr_not_host(IP(239, 255, 255, 255)), "multicast"));
    ck_assert_ptr_nonnull(strstr(addr_not_host(IP(240, 0, 0, 1)), "reserved"));
    ck_assert_ptr_nonnull(strstr(addr_not_host(IP(255, 255, 255, 2)), "reserved"));
    ck_assert_ptr_nonnull(strstr(addr_not_host(IP(255, 255, 255, 255)), "broadcast"));
}
END_TEST

/* check_link's verdict; the message must contain want (NULL: accepted). */
static void link_is(uint32_t a, uint8_t p, uint32_t h, uint8_t hp, const char *want)
{
    char err[512] = "";
    int r = addr_check_link(a, p, h, hp, err, sizeof(err));
    if (!want) {
        ck_assert_msg(r == 0, "refused: %s", err);
        return;
    }
    ck_assert_int_eq(r, -1);
    ck_assert_msg(strstr(err, want), "'%s' does not contain '%s'", err, want);
}

START_TEST(link_pairs)
{
    link_is(IP(10, 0, 0, 2), 24, IP(10, 0, 0, 1), 24, NULL);
    link_is(IP(192, 168, 7, 126), 25, IP(192, 168, 7, 1), 25, NULL);
    link_is(IP(10, 0, 0, 1), 30, IP(10, 0, 0, 2), 30, NULL);
    link_is(IP(127, 0, 0, 2), 8, IP(127, 0, 0, 1), 8,
            "--addr 127.0.0.2/8: 127.0.0.2 is a loopback");
    link_is(IP(10, 0, 0, 2), 24, IP(127, 0, 0, 1), 24, "--host-addr 127.0.0.1/24");
    link_is(IP(10, 0, 0, 0), 24, IP(10, 0, 0, 1), 24, "network address");
    link_is(IP(10, 0, 0, 255), 24, IP(10, 0, 0, 1), 24,
            "--addr 10.0.0.255/24: 10.0.0.255 is the broadcast");
    link_is(IP(10, 0, 0, 2), 24, IP(10, 0, 0, 255), 24, "--host-addr 10.0.0.255/24");
    link_is(IP(10, 0, 0, 3), 30, IP(10, 0, 0, 1), 30, "broadcast address of its subnet");
    link_is(IP(10, 0, 0, 2), 24, IP(10, 0, 0, 2), 24, "share the address 10.0.0.2");
    link_is(IP(10, 0, 1, 2), 24, IP(10, 0, 0, 1), 24, "one subnet");
    link_is(IP(10, 0, 0, 2), 16, IP(10, 0, 0, 1), 24, "one subnet");
}
END_TEST

/* What limits_check printed since the last call, from a memory stream. */
struct out {
    char *buf;
    size_t len;
    FILE *f;
};

START_TEST(limits_told_once_per_kind)
{
    struct out o = {0};
    o.f = open_memstream(&o.buf, &o.len);
    ck_assert_ptr_nonnull(o.f);
    struct sk_counters c;
    memset(&c, 0, sizeof(c));
    struct limits l = {0};
    limits_check(&l, &c, o.f, "tapd");
    fflush(o.f);
    ck_assert_uint_eq(o.len, 0); /* nothing reached: nothing said */
    c.tcp_conns_limit = 1;
    limits_check(&l, &c, o.f, "tapd");
    fflush(o.f);
    ck_assert_str_eq(o.buf,
                     "tapd: connection limit reached: SYNs are being dropped (see --max-conns)\n");
    size_t once = o.len;
    /* More drops of the same kind: no more lines. */
    for (int i = 0; i < 100; i++) {
        c.tcp_conns_limit++;
        limits_check(&l, &c, o.f, "tapd");
    }
    fflush(o.f);
    ck_assert_uint_eq(o.len, once);
    /* Another kind: its own line, once. */
    c.drop_arp_pending = 3;
    c.drop_tcp_listen_overflow = 1;
    limits_check(&l, &c, o.f, "tapd");
    limits_check(&l, &c, o.f, "tapd");
    fflush(o.f);
    ck_assert_ptr_nonnull(strstr(o.buf + once, "tapd: accept queue full"));
    ck_assert_ptr_nonnull(strstr(o.buf + once, "tapd: packets dropped while waiting for ARP"));
    int lines = 0;
    for (size_t i = 0; i < o.len; i++)
        lines += o.buf[i] == '\n';
    ck_assert_int_eq(lines, 3);
    fclose(o.f);
    free(o.buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tap_checks");
    TCase *tc = tcase_create("checks");
    tcase_add_test(tc, not_host_classes);
    tcase_add_test(tc, link_pairs);
    tcase_add_test(tc, limits_told_once_per_kind);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
