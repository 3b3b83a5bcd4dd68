/* Smoke test of the harness: the passive open of the seed tutorial. */
#include <check.h>
#include <stdlib.h>

#include "harness.h"
#include "seq.h"

START_TEST(passive_open_and_data)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, 5050, 0, &err);
    ck_assert_ptr_nonnull(l);
    h_send(h, &(struct h_seg){.sport = 60118, .dport = 5050, .seq = 3136640809u, .flags = TCP_SYN,
                              .wnd = 65535, .mss = 1460});
    struct tcp_seg g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(g.ack, 3136640810u); /* ack = ISN + 1 */
    ck_assert_uint_eq(g.opt.mss, 1460);
    uint32_t iss = g.seq;
    h_clear(h);
    h_send(h, &(struct h_seg){.sport = 60118, .dport = 5050, .seq = 3136640810u, .ack = iss + 1,
                              .flags = TCP_ACK | TCP_PSH, .wnd = 65535, .data = "hi\n", .len = 3});
    sk_conn *c = sk_accept(l);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    char buf[16];
    ck_assert_int_eq(sk_recv(c, buf, sizeof(buf)), 3);
    g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.ack, 3136640813u);
    sk_close(c);
    sk_close(l);
    h_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_handshake");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, passive_open_and_data);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
