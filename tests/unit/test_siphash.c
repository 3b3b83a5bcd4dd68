/* test_siphash.c - SipHash-2-4 against the reference implementation's test
 * vectors (vectors_sip64 in vectors.h of github.com/veorq/SipHash). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "siphash.h"

/* Expected siphash24(key, msg) with key = 00 01 .. 0f and msg = 00 01 .. (i-1),
 * for i = 0..63.  The reference file stores each output as 8 little-endian
 * bytes; here they are the same values read as 64-bit integers. */
static const uint64_t vectors_sip64[64] = {
    UINT64_C(0x726fdb47dd0e0e31), UINT64_C(0x74f839c593dc67fd), UINT64_C(0x0d6c8009d9a94f5a),
    UINT64_C(0x85676696d7fb7e2d), UINT64_C(0xcf2794e0277187b7), UINT64_C(0x18765564cd99a68d),
    UINT64_C(0xcbc9466e58fee3ce), UINT64_C(0xab0200f58b01d137), UINT64_C(0x93f5f5799a932462),
    UINT64_C(0x9e0082df0ba9e4b0), UINT64_C(0x7a5dbbc594ddb9f3), UINT64_C(0xf4b32f46226bada7),
    UINT64_C(0x751e8fbc860ee5fb), UINT64_C(0x14ea5627c0843d90), UINT64_C(0xf723ca908e7af2ee),
    UINT64_C(0xa129ca6149be45e5), UINT64_C(0x3f2acc7f57c29bdb), UINT64_C(0x699ae9f52cbe4794),
    UINT64_C(0x4bc1b3f0968dd39c), UINT64_C(0xbb6dc91da77961bd), UINT64_C(0xbed65cf21aa2ee98),
    UINT64_C(0xd0f2cbb02e3b67c7), UINT64_C(0x93536795e3a33e88), UINT64_C(0xa80c038ccd5ccec8),
    UINT64_C(0xb8ad50c6f649af94), UINT64_C(0xbce192de8a85b8ea), UINT64_C(0x17d835b85bbb15f3),
    UINT64_C(0x2f2e6163076bcfad), UINT64_C(0xde4daaaca71dc9a5), UINT64_C(0xa6a2506687956571),
    UINT64_C(0xad87a3535c49ef28), UINT64_C(0x32d892fad841c342), UINT64_C(0x7127512f72f27cce),
    UINT64_C(0xa7f32346f95978e3), UINT64_C(0x12e0b01abb051238), UINT64_C(0x15e034d40fa197ae),
    UINT64_C(0x314dffbe0815a3b4), UINT64_C(0x027990f029623981), UINT64_C(0xcadcd4e59ef40c4d),
    UINT64_C(0x9abfd8766a33735c), UINT64_C(0x0e3ea96b5304a7d0), UINT64_C(0xad0c42d6fc585992),
    UINT64_C(0x187306c89bc215a9), UINT64_C(0xd4a60abcf3792b95), UINT64_C(0xf935451de4f21df2),
    UINT64_C(0xa9538f0419755787), UINT64_C(0xdb9acddff56ca510), UINT64_C(0xd06c98cd5c0975eb),
    UINT64_C(0xe612a3cb9ecba951), UINT64_C(0xc766e62cfcadaf96), UINT64_C(0xee64435a9752fe72),
    UINT64_C(0xa192d576b245165a), UINT64_C(0x0a8787bf8ecb74b2), UINT64_C(0x81b3e73d20b49b6f),
    UINT64_C(0x7fa8220ba3b2ecea), UINT64_C(0x245731c13ca42499), UINT64_C(0xb78dbfaf3a8d83bd),
    UINT64_C(0xea1ad565322a1a0b), UINT64_C(0x60e61c23a3795013), UINT64_C(0x6606d7e446282b93),
    UINT64_C(0x6ca4ecb15c5f91e1), UINT64_C(0x9f626da15c9625f3), UINT64_C(0xe51b38608ef25f57),
    UINT64_C(0x958a324ceb064572),
};

static void reference_key(uint8_t key[16])
{
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
}

START_TEST(test_reference_vectors)
{
    uint8_t key[16];
    uint8_t msg[64];

    reference_key(key);
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;

    /* _i is the loop index of this looped test: the message length. */
    uint64_t got = siphash24(key, msg, (size_t)_i);
    ck_assert_msg(got == vectors_sip64[_i], "len %d: got 0x%016llx, want 0x%016llx", _i,
                  (unsigned long long)got, (unsigned long long)vectors_sip64[_i]);
}
END_TEST

/* The paper's appendix A worked example, on its own so a failure here is
 * easy to spot: 15-byte message 00 .. 0e. */
START_TEST(test_paper_example)
{
    uint8_t key[16];
    const uint8_t msg[15] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

    reference_key(key);
    ck_assert_uint_eq(siphash24(key, msg, sizeof(msg)), UINT64_C(0xa129ca6149be45e5));
}
END_TEST

/* A keyed PRF must depend on every key bit: flipping any single one of the
 * 128 bits changes the output for the same message. */
START_TEST(test_key_bit_changes_output)
{
    uint8_t key[16];
    const char msg[] = "192.0.2.1:49152->198.51.100.7:80";

    reference_key(key);
    const uint64_t base = siphash24(key, msg, sizeof(msg) - 1);

    for (int bit = 0; bit < 128; bit++) {
        key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        const uint64_t flipped = siphash24(key, msg, sizeof(msg) - 1);
        key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_msg(flipped != base, "flipping key bit %d left the output unchanged", bit);
    }
    /* Restoring the key restores the output: the function is deterministic. */
    ck_assert_uint_eq(siphash24(key, msg, sizeof(msg) - 1), base);
}
END_TEST

/* Input need not be aligned: hash the same bytes from an odd address. */
START_TEST(test_unaligned_input)
{
    uint8_t key[16];
    uint8_t buf[1 + 63];

    reference_key(key);
    for (int i = 0; i < 63; i++)
        buf[1 + i] = (uint8_t)i;
    ck_assert_uint_eq(siphash24(key, buf + 1, 63), vectors_sip64[63]);
}
END_TEST

static Suite *siphash_suite(void)
{
    Suite *s = suite_create("siphash");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_reference_vectors, 0, 64);
    tcase_add_test(tc, test_paper_example);
    tcase_add_test(tc, test_key_bit_changes_output);
    tcase_add_test(tc, test_unaligned_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return h_run(siphash_suite());
}
