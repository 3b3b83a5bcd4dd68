/* test_impair.c - the link impairment of tap/impair.c, driven with a
 * made-up clock and no TAP: the spec parser and its messages, each key's
 * effect, the queue's bound, and the seed's determinism.  Corrupted frames
 * are checked against our own Internet checksum and against the stack (its
 * public API only): the flipped bit must be caught. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impair.h"
#include "synack.h"

#define T0 1000000u /* the clock starts at 1 s */

/* ---- What comes out of the link ---- */

#define GOT_MAX   1024
#define GOT_BYTES 1600
static struct {
    int n;
    size_t len[GOT_MAX];
    uint64_t when[GOT_MAX];
    uint8_t data[GOT_MAX][GOT_BYTES];
} got;

static void collect(void *ctx, const uint8_t *f, size_t len, uint64_t now)
{
    (void)ctx;
    ck_assert_int_lt(got.n, GOT_MAX);
    got.len[got.n] = len;
    got.when[got.n] = now;
    memcpy(got.data[got.n], f, len < GOT_BYTES ? len : GOT_BYTES);
    got.n++;
}

static void got_reset(void)
{
    got.n = 0;
}

/* A frame that no checksum covers, numbered at byte 14 (an experimental
 * EtherType), `len` bytes long. */
static size_t numbered(uint8_t *f, uint32_t id, size_t len)
{
    memset(f, 0, len);
    memset(f, 0xff, 6);
    f[6] = 0x02;
    f[12] = 0x88;
    f[13] = 0xb5;
    memcpy(f + 14, &id, 4);
    return len;
}

static uint32_t id_of(int i)
{
    uint32_t id;
    memcpy(&id, got.data[i] + 14, 4);
    return id;
}

static struct impair *make(const char *spec, struct impair_cfg *cfg)
{
    char err[256];
    impair_cfg_init(cfg);
    ck_assert_msg(impair_parse(spec, cfg, err, sizeof(err)) == 0, "'%s': %s", spec, err);
    struct impair *im = impair_new(cfg, 1518);
    ck_assert_ptr_nonnull(im);
    got_reset();
    return im;
}

/* Pushes n numbered frames of len bytes at `now`, ids from 0. */
static void push_n(struct impair *im, enum impair_dir d, int n, size_t len, uint64_t now)
{
    uint8_t f[1518];
    for (int i = 0; i < n; i++)
        impair_push(im, d, f, numbered(f, (uint32_t)i, len), now);
}

/* ---- The parser ---- */

START_TEST(parse_all_keys)
{
    struct impair_cfg c;
    char err[256];
    impair_cfg_init(&c);
    ck_assert_int_eq(impair_parse("loss=5%,dup=1%,reorder=2%,corrupt=0.5%,delay=10ms,jitter=2ms,"
                                  "rate=100mbit,seed=7,limit=64",
                                  &c, err, sizeof(err)),
                     0);
    for (int d = 0; d < 2; d++) {
        ck_assert_double_eq_tol(c.dir[d].loss, 0.05, 1e-12);
        ck_assert_double_eq_tol(c.dir[d].dup, 0.01, 1e-12);
        ck_assert_double_eq_tol(c.dir[d].reorder, 0.02, 1e-12);
        ck_assert_double_eq_tol(c.dir[d].corrupt, 0.005, 1e-12);
        ck_assert_uint_eq(c.dir[d].delay_us, 10000);
        ck_assert_uint_eq(c.dir[d].jitter_us, 2000);
        ck_assert_uint_eq(c.dir[d].rate_bps, 100000000);
        ck_assert(impair_cfg_active(&c, (enum impair_dir)d));
    }
    ck_assert_uint_eq(c.seed, 7);
    ck_assert_uint_eq(c.limit, 64);
    char desc[256];
    impair_cfg_format(&c, desc, sizeof(desc));
    ck_assert_str_eq(desc, "in: loss=5% dup=1% reorder=2% corrupt=0.5% delay=10ms jitter=2ms "
                           "rate=100mbit; out: loss=5% dup=1% reorder=2% corrupt=0.5% delay=10ms "
                           "jitter=2ms rate=100mbit; seed 7, limit 64");
}
END_TEST

START_TEST(parse_units)
{
    static const struct {
        const char *spec;
        uint64_t delay_us, rate_bps;
        double loss;
    } ok[] = {
        {"delay=500us", 500, 0, 0},
        {"delay=1s", 1000000, 0, 0},
        {"delay=1.5ms", 1500, 0, 0},
        {"delay=0", 0, 0, 0},
        {"delay=60s", 60000000, 0, 0},
        {"rate=8mbit", 0, 8000000, 0},
        {"rate=512kbit", 0, 512000, 0},
        {"rate=1gbit", 0, 1000000000, 0},
        {"rate=9600bit", 0, 9600, 0},
        {"rate=2.5Mbit", 0, 2500000, 0},
        {"rate=0", 0, 0, 0},
        {"loss=0", 0, 0, 0},
        {"loss=0%", 0, 0, 0},
        {"loss=100%", 0, 0, 1},
        {"loss=0.25%", 0, 0, 0.0025},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct impair_cfg c;
        char err[256];
        impair_cfg_init(&c);
        ck_assert_msg(impair_parse(ok[i].spec, &c, err, sizeof(err)) == 0, "%s: %s", ok[i].spec,
                      err);
        ck_assert_uint_eq(c.dir[IMPAIR_IN].delay_us, ok[i].delay_us);
        ck_assert_uint_eq(c.dir[IMPAIR_OUT].rate_bps, ok[i].rate_bps);
        ck_assert_double_eq_tol(c.dir[IMPAIR_IN].loss, ok[i].loss, 1e-12);
    }
}
END_TEST

/* in:/out: prefixes, one --impair or two: the same result. */
START_TEST(parse_directions)
{
    struct impair_cfg a, b;
    char err[256];
    impair_cfg_init(&a);
    ck_assert_int_eq(impair_parse("in:loss=5%,out:delay=10ms", &a, err, sizeof(err)), 0);
    impair_cfg_init(&b);
    ck_assert_int_eq(impair_parse("in:loss=5%", &b, err, sizeof(err)), 0);
    ck_assert_int_eq(impair_parse("out:delay=10ms", &b, err, sizeof(err)), 0);
    const struct impair_cfg *cs[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        const struct impair_cfg *c = cs[i];
        ck_assert_double_eq_tol(c->dir[IMPAIR_IN].loss, 0.05, 1e-12);
        ck_assert_double_eq(c->dir[IMPAIR_OUT].loss, 0);
        ck_assert_uint_eq(c->dir[IMPAIR_OUT].delay_us, 10000);
        ck_assert_uint_eq(c->dir[IMPAIR_IN].delay_us, 0);
    }
    char desc[256];
    impair_cfg_format(&a, desc, sizeof(desc));
    ck_assert_str_eq(desc, "in: loss=5%; out: delay=10ms; seed 1, limit 1000");
    /* A later --impair replaces a value; seed and limit are global. */
    ck_assert_int_eq(impair_parse("loss=1%,seed=3", &a, err, sizeof(err)), 0);
    ck_assert_double_eq_tol(a.dir[IMPAIR_IN].loss, 0.01, 1e-12);
    ck_assert_double_eq_tol(a.dir[IMPAIR_OUT].loss, 0.01, 1e-12);
    ck_assert_uint_eq(a.seed, 3);
    ck_assert_int_eq(impair_parse("out:loss=0", &a, err, sizeof(err)), 0);
    ck_assert_double_eq(a.dir[IMPAIR_OUT].loss, 0);
    ck_assert(impair_cfg_active(&a, IMPAIR_OUT)); /* its delay is still there */
    struct impair_cfg c;
    impair_cfg_init(&c);
    ck_assert_int_eq(impair_parse("out:loss=50%,seed=1", &c, err, sizeof(err)), 0);
    ck_assert(!impair_cfg_active(&c, IMPAIR_IN));
    ck_assert(impair_cfg_active(&c, IMPAIR_OUT));
}
END_TEST

/* Each bad spec is refused with a message that names the problem: every
 * one of `want` appears in it. */
START_TEST(parse_errors)
{
    static const struct {
        const char *spec;
        const char *want[2];
    } bad[] = {
        {"loss=abc", {"'loss=abc'", "percentage"}},
        {"loss=150%", {"'loss=150%'", "0% to 100%"}},
        {"loss=-5%", {"'loss=-5%'", "percentage"}},
        {"loss=5", {"'loss=5'", "% sign"}},
        {"loss=5%%", {"'loss=5%%'", "percentage"}},
        {"loss=nan%", {"'loss=nan%'", "percentage"}},
        {"loss=1e2%", {"'loss=1e2%'", "percentage"}},
        {"dup=1.%", {"'dup=1.%'", "percentage"}},
        {"loss=", {"'loss='", "no value"}},
        {"bogus=1", {"bogus", "unknown key"}},
        {"delay=-5ms", {"'delay=-5ms'", "duration"}},
        {"delay=10", {"'delay=10'", "unit"}},
        {"delay=10ns", {"'delay=10ns'", "duration"}},
        {"delay=61s", {"'delay=61s'", "at most 60s"}},
        {"jitter=x", {"'jitter=x'", "duration"}},
        {"rate=100mbps", {"'rate=100mbps'", "100mbit"}},
        {"rate=100", {"'rate=100'", "rate"}},
        {"rate=0.1bit", {"'rate=0.1bit'", "1bit"}},
        {"seed=x", {"'seed=x'", "integer"}},
        {"seed=-1", {"'seed=-1'", "integer"}},
        {"seed=99999999999999999999", {"seed=", "integer"}},
        {"limit=0", {"'limit=0'", "1 to 16384"}},
        {"limit=20000", {"'limit=20000'", "1 to 16384"}},
        {"", {"empty", "KEY=VALUE"}},
        {"loss=5%,,dup=1%", {"empty item", ""}},
        {"loss=5%,", {"empty item", ""}},
        {"loss", {"'loss'", "KEY=VALUE"}},
        {"up:loss=5%", {"'up:'", "direction"}},
        {"in:bogus=1", {"bogus", "unknown key"}},
        {"in:loss=5%,delay=10ms", {"'delay=10ms'", "'in:loss=5%'"}},
        {"delay=10ms,out:loss=5%", {"'delay=10ms'", "'out:loss=5%'"}},
        {"in:seed=3", {"'in:seed=3'", "both directions"}},
        {"loss=1%,loss=2%", {"'loss=2%'", "twice"}},
        {"in:loss=1%,in:loss=2%", {"'in:loss=2%'", "twice"}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct impair_cfg c;
        char err[256] = "";
        impair_cfg_init(&c);
        ck_assert_msg(impair_parse(bad[i].spec, &c, err, sizeof(err)) == -1, "'%s' was accepted",
                      bad[i].spec);
        for (int w = 0; w < 2; w++)
            ck_assert_msg(strstr(err, bad[i].want[w]), "'%s': message '%s' lacks '%s'", bad[i].spec,
                          err, bad[i].want[w]);
    }
}
END_TEST

/* ---- What each key does ---- */

START_TEST(loss_all)
{
    struct impair_cfg c;
    struct impair *im = make("loss=100%", &c);
    push_n(im, IMPAIR_IN, 100, 60, T0);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_IN, T0 + 1000000, collect, NULL), 0);
    ck_assert_int_eq(got.n, 0);
    ck_assert_uint_eq(impair_next_deadline(im), UINT64_MAX);
    const struct impair_counters *k = impair_counters(im, IMPAIR_IN);
    ck_assert_uint_eq(k->frames, 100);
    ck_assert_uint_eq(k->dropped, 100);
    ck_assert_uint_eq(k->passed, 0);
    /* The other direction is untouched. */
    ck_assert_uint_eq(impair_counters(im, IMPAIR_OUT)->frames, 0);
    impair_free(im);
}
END_TEST

START_TEST(loss_none_in_order)
{
    struct impair_cfg c;
    struct impair *im = make("loss=0,dup=0%,delay=0", &c);
    ck_assert(!impair_active(im, IMPAIR_IN));
    for (int i = 0; i < 300; i++) {
        uint8_t f[100];
        impair_push(im, IMPAIR_OUT, f, numbered(f, (uint32_t)i, 60 + (size_t)i % 40), T0);
        /* Due at once: nothing waits. */
        ck_assert_uint_eq(impair_next_deadline(im), T0);
        ck_assert_uint_eq(impair_pop_due(im, IMPAIR_OUT, T0, collect, NULL), 1);
    }
    ck_assert_int_eq(got.n, 300);
    for (int i = 0; i < 300; i++) {
        ck_assert_uint_eq(id_of(i), (uint32_t)i);
        ck_assert_uint_eq(got.len[i], 60 + (size_t)i % 40);
    }
    ck_assert_uint_eq(impair_next_deadline(im), UINT64_MAX);
    const struct impair_counters *k = impair_counters(im, IMPAIR_OUT);
    ck_assert_uint_eq(k->passed, 300);
    ck_assert_uint_eq(k->delayed + k->dropped + k->duplicated + k->reordered, 0);
    impair_free(im);
}
END_TEST

START_TEST(dup_all)
{
    struct impair_cfg c;
    struct impair *im = make("dup=100%", &c);
    push_n(im, IMPAIR_IN, 10, 64, T0);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_IN, T0, collect, NULL), 20);
    for (int i = 0; i < 20; i++)
        ck_assert_uint_eq(id_of(i), (uint32_t)i / 2);
    ck_assert_uint_eq(impair_counters(im, IMPAIR_IN)->duplicated, 10);
    ck_assert_uint_eq(impair_counters(im, IMPAIR_IN)->passed, 20);
    impair_free(im);
}
END_TEST

START_TEST(delay_exact)
{
    struct impair_cfg c;
    struct impair *im = make("delay=10ms", &c);
    push_n(im, IMPAIR_OUT, 3, 100, T0);
    ck_assert_uint_eq(impair_next_deadline(im), T0 + 10000);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_OUT, T0 + 9999, collect, NULL), 0);
    ck_assert_uint_eq(impair_queued(im, IMPAIR_OUT), 3);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_OUT, T0 + 10000, collect, NULL), 3);
    ck_assert_int_eq(got.n, 3);
    ck_assert_uint_eq(impair_next_deadline(im), UINT64_MAX);
    /* Each frame its own 10 ms. */
    push_n(im, IMPAIR_OUT, 1, 100, T0 + 20000);
    push_n(im, IMPAIR_OUT, 1, 100, T0 + 25000);
    ck_assert_uint_eq(impair_next_deadline(im), T0 + 30000);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_OUT, T0 + 34999, collect, NULL), 1);
    ck_assert_uint_eq(impair_next_deadline(im), T0 + 35000);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_OUT, T0 + 35000, collect, NULL), 1);
    ck_assert_uint_eq(impair_counters(im, IMPAIR_OUT)->delayed, 5);
    ck_assert_uint_eq(impair_counters(im, IMPAIR_OUT)->queue_max, 3);
    impair_free(im);
}
END_TEST

/* 8 Mbit/s: 1000 bytes take 1 ms to serialize, one frame after another. */
START_TEST(rate_spacing)
{
    struct impair_cfg c;
    struct impair *im = make("rate=8mbit", &c);
    push_n(im, IMPAIR_IN, 5, 1000, T0);
    for (int i = 1; i <= 5; i++) {
        uint64_t due = T0 + (uint64_t)i * 1000;
        ck_assert_uint_eq(impair_next_deadline(im), due);
        ck_assert_uint_eq(impair_pop_due(im, IMPAIR_IN, due - 1, collect, NULL), 0);
        ck_assert_uint_eq(impair_pop_due(im, IMPAIR_IN, due, collect, NULL), 1);
        ck_assert_uint_eq(id_of(i - 1), (uint32_t)i - 1);
    }
    /* An idle link starts the next frame at once; 500 bytes take 0.5 ms. */
    push_n(im, IMPAIR_IN, 1, 500, T0 + 100000);
    ck_assert_uint_eq(impair_next_deadline(im), T0 + 100500);
    /* A frame arriving while the link is busy waits for it. */
    push_n(im, IMPAIR_IN, 1, 1000, T0 + 100200);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_IN, T0 + 100500, collect, NULL), 1);
    ck_assert_uint_eq(impair_next_deadline(im), T0 + 101500);
    impair_free(im);
}
END_TEST

/* Rate, then delay: the delay is added to the end of serialization. */
START_TEST(rate_and_delay)
{
    struct impair_cfg c;
    struct impair *im = make("rate=8mbit,delay=10ms", &c);
    push_n(im, IMPAIR_OUT, 2, 1000, T0);
    ck_assert_uint_eq(impair_next_deadline(im), T0 + 11000);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_OUT, T0 + 11000, collect, NULL), 1);
    ck_assert_uint_eq(impair_next_deadline(im), T0 + 12000);
    impair_free(im);
}
END_TEST

/* Jitter: extra delay within [0, jitter], and the order stays. */
START_TEST(jitter_keeps_order)
{
    struct impair_cfg c;
    struct impair *im = make("delay=10ms,jitter=5ms,seed=3", &c);
    uint8_t f[64];
    uint64_t pushed[200];
    bool varied = false;
    uint64_t now = T0;
    int n = 0;
    for (int i = 0; i < 200; i++, now += 100) {
        pushed[i] = now;
        impair_push(im, IMPAIR_IN, f, numbered(f, (uint32_t)i, 64), now);
        n += (int)impair_pop_due(im, IMPAIR_IN, now, collect, NULL);
    }
    for (; now < T0 + 100000; now += 100)
        n += (int)impair_pop_due(im, IMPAIR_IN, now, collect, NULL);
    ck_assert_int_eq(n, 200);
    for (int i = 0; i < 200; i++) {
        ck_assert_uint_eq(id_of(i), (uint32_t)i);
        ck_assert_uint_ge(got.when[i], pushed[i] + 10000);
        /* At most the jitter late, or right behind the frame before. */
        uint64_t latest = pushed[i] + 15000;
        if (i && got.when[i - 1] + 100 > latest)
            latest = got.when[i - 1] + 100;
        ck_assert_uint_le(got.when[i], latest);
        if (got.when[i] - pushed[i] > 10100)
            varied = true;
    }
    ck_assert(varied);
    impair_free(im);
}
END_TEST

/* reorder=100%: each picked frame waits for the next and follows it; a
 * frame picked while one is held is that next frame. */
START_TEST(reorder_swaps)
{
    struct impair_cfg c;
    struct impair *im = make("reorder=100%", &c);
    push_n(im, IMPAIR_IN, 4, 64, T0);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_IN, T0, collect, NULL), 4);
    ck_assert_uint_eq(id_of(0), 1);
    ck_assert_uint_eq(id_of(1), 0);
    ck_assert_uint_eq(id_of(2), 3);
    ck_assert_uint_eq(id_of(3), 2);
    ck_assert_uint_eq(impair_counters(im, IMPAIR_IN)->reordered, 2);
    /* Alone, a held frame goes after IMPAIR_REORDER_HOLD_US. */
    got_reset();
    push_n(im, IMPAIR_IN, 1, 64, T0 + 50000);
    ck_assert_uint_eq(impair_next_deadline(im), T0 + 50000 + IMPAIR_REORDER_HOLD_US);
    ck_assert_uint_eq(
        impair_pop_due(im, IMPAIR_IN, T0 + 50000 + IMPAIR_REORDER_HOLD_US - 1, collect, NULL), 0);
    ck_assert_uint_eq(
        impair_pop_due(im, IMPAIR_IN, T0 + 50000 + IMPAIR_REORDER_HOLD_US, collect, NULL), 1);
    ck_assert_uint_eq(impair_next_deadline(im), UINT64_MAX);
    impair_free(im);
}
END_TEST

/* With a delay, the held frame still follows the next one out. */
START_TEST(reorder_with_delay)
{
    struct impair_cfg c;
    struct impair *im = make("reorder=100%,delay=10ms", &c);
    push_n(im, IMPAIR_OUT, 1, 64, T0);
    uint8_t f[64];
    impair_push(im, IMPAIR_OUT, f, numbered(f, 1, 64), T0 + 1000);
    ck_assert_uint_eq(impair_next_deadline(im), T0 + 11000);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_OUT, T0 + 11000, collect, NULL), 2);
    ck_assert_uint_eq(id_of(0), 1);
    ck_assert_uint_eq(id_of(1), 0);
    impair_free(im);
}
END_TEST

/* Decisions for 400 frames at loss=50%, as a bit string. */
static void loss_pattern(const char *spec, char *pat, enum impair_dir d)
{
    struct impair_cfg c;
    struct impair *im = make(spec, &c);
    uint8_t f[64];
    for (int i = 0; i < 400; i++) {
        got_reset();
        impair_push(im, d, f, numbered(f, (uint32_t)i, 64), T0);
        impair_pop_due(im, d, T0, collect, NULL);
        pat[i] = got.n ? '1' : '0';
    }
    pat[400] = '\0';
    impair_free(im);
}

START_TEST(seed_determinism)
{
    char a[401], b[401], c7[401], out[401];
    loss_pattern("loss=50%,seed=7", a, IMPAIR_IN);
    loss_pattern("loss=50%,seed=7", b, IMPAIR_IN);
    ck_assert_str_eq(a, b);
    loss_pattern("loss=50%,seed=8", c7, IMPAIR_IN);
    ck_assert_str_ne(a, c7);
    /* The two directions draw from streams of their own. */
    loss_pattern("loss=50%,seed=7", out, IMPAIR_OUT);
    ck_assert_str_ne(a, out);
    /* About half: a sanity check of the PRNG and the threshold. */
    int kept = 0;
    for (int i = 0; i < 400; i++)
        kept += a[i] == '1';
    ck_assert_int_gt(kept, 150);
    ck_assert_int_lt(kept, 250);
    /* Other keys do not change which frames loss= hits. */
    struct impair_cfg cfg;
    struct impair *im = make("loss=50%,seed=7,dup=30%,jitter=1ms,reorder=5%", &cfg);
    uint8_t f[64];
    for (int i = 0; i < 400; i++) {
        uint64_t before = impair_counters(im, IMPAIR_IN)->dropped;
        impair_push(im, IMPAIR_IN, f, numbered(f, (uint32_t)i, 64), T0);
        ck_assert_int_eq(impair_counters(im, IMPAIR_IN)->dropped > before, a[i] == '0');
    }
    impair_free(im);
}
END_TEST

START_TEST(queue_bound)
{
    struct impair_cfg c;
    struct impair *im = make("delay=1s,limit=16", &c);
    push_n(im, IMPAIR_IN, 20, 1000, T0);
    const struct impair_counters *k = impair_counters(im, IMPAIR_IN);
    ck_assert_uint_eq(impair_queued(im, IMPAIR_IN), 16);
    ck_assert_uint_eq(k->overflow, 4);
    ck_assert_uint_eq(k->queue_max, 16);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_IN, T0 + 1000000, collect, NULL), 16);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(id_of(i), (uint32_t)i);
    /* Room again once they left; the high-water mark stays. */
    push_n(im, IMPAIR_IN, 3, 1000, T0 + 2000000);
    ck_assert_uint_eq(impair_queued(im, IMPAIR_IN), 3);
    ck_assert_uint_eq(k->queue_max, 16);
    /* A duplicate needs a slot too. */
    impair_free(im);
    im = make("delay=1s,limit=5,dup=100%", &c);
    push_n(im, IMPAIR_OUT, 3, 100, T0);
    k = impair_counters(im, IMPAIR_OUT);
    ck_assert_uint_eq(impair_queued(im, IMPAIR_OUT), 5);
    ck_assert_uint_eq(k->duplicated, 2);
    ck_assert_uint_eq(k->overflow, 1);
    impair_free(im);
}
END_TEST

/* Frames beyond a slot (up to the TAP's 64 KiB read) are dropped, counted. */
START_TEST(too_long)
{
    struct impair_cfg c;
    struct impair *im = make("delay=1ms,corrupt=100%,dup=100%", &c);
    static uint8_t big[65536];
    impair_push(im, IMPAIR_IN, big, sizeof(big), T0);
    impair_push(im, IMPAIR_IN, big, 1519, T0);
    ck_assert_uint_eq(impair_counters(im, IMPAIR_IN)->too_long, 2);
    ck_assert_uint_eq(impair_queued(im, IMPAIR_IN), 0);
    impair_free(im);
}
END_TEST

/* At exit: everything held leaves at once, in order. */
START_TEST(drain_all)
{
    struct impair_cfg c;
    struct impair *im = make("delay=1s,reorder=100%", &c);
    push_n(im, IMPAIR_OUT, 3, 64, T0);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_OUT, T0, collect, NULL), 0);
    ck_assert_uint_eq(impair_drain(im, IMPAIR_OUT, T0, collect, NULL), 3);
    ck_assert_uint_eq(id_of(0), 1);
    ck_assert_uint_eq(id_of(1), 0);
    ck_assert_uint_eq(id_of(2), 2);
    ck_assert_uint_eq(impair_queued(im, IMPAIR_OUT), 0);
    ck_assert_uint_eq(impair_next_deadline(im), UINT64_MAX);
    impair_free(im);
}
END_TEST

/* ---- Corruption the checksums catch ---- */

static const uint8_t STACK_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t PEER[6] = {0x02, 0, 0, 0, 0, 0x01};

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The IPv4 header's checksum and the TCP or ICMP one both verify. */
static bool checksums_ok(const uint8_t *f, size_t len)
{
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4, tot = (size_t)ip[2] << 8 | ip[3];
    if (tot + 14 > len || fold(sum16(ip, ihl, 0)) != 0xffff)
        return false;
    const uint8_t *l4 = ip + ihl;
    size_t l4len = tot - ihl;
    uint32_t s = 0;
    if (ip[9] == 6) {
        s = sum16(ip + 12, 8, 0) + 6 + (uint32_t)l4len; /* the pseudo-header */
    }
    return fold(sum16(l4, l4len, s)) == 0xffff;
}

/* An IPv4 frame from the peer to the stack: protocol proto, l4 bytes. */
static size_t ipv4_frame(uint8_t *f, uint8_t proto, const uint8_t *l4, size_t l4len)
{
    memcpy(f, STACK_MAC, 6);
    memcpy(f + 6, PEER, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + l4len));
    put16(ip + 4, 0x1234);
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = proto;
    const uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    memcpy(ip + 12, addrs, 8);
    put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
    uint8_t *p = ip + 20;
    if (!l4len)
        return 14 + 20; /* a bare IPv4 header */
    memcpy(p, l4, l4len);
    if (proto == 6) {
        put16(p + 16, 0);
        put16(p + 16, (uint16_t)~fold(sum16(p, l4len, sum16(ip + 12, 8, 0) + 6 + (uint32_t)l4len)));
    } else {
        put16(p + 2, 0);
        put16(p + 2, (uint16_t)~fold(sum16(p, l4len, 0)));
    }
    return 14 + 20 + l4len;
}

/* A TCP segment to the stack's closed port 5050 (it answers with a RST),
 * with `datalen` bytes of data. */
static size_t tcp_frame(uint8_t *f, size_t datalen, uint32_t seq)
{
    uint8_t t[20 + 1460] = {0};
    put16(t, 40000);
    put16(t + 2, 5050);
    t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8);
    t[7] = (uint8_t)seq;
    t[12] = 5 << 4;
    t[13] = datalen ? 0x18 : 0x02; /* PSH|ACK with data, else SYN */
    put16(t + 14, 65535);
    for (size_t i = 0; i < datalen; i++)
        t[20 + i] = (uint8_t)(i * 7 + seq);
    return ipv4_frame(f, 6, t, 20 + datalen);
}

static size_t icmp_echo(uint8_t *f, uint16_t seq)
{
    uint8_t m[8 + 56] = {8, 0, 0, 0, 0x12, 0x34};
    put16(m + 6, seq);
    for (size_t i = 8; i < sizeof(m); i++)
        m[i] = (uint8_t)i;
    return ipv4_frame(f, 1, m, sizeof(m));
}

static int nsent;
static void count_output(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx, (void)frame, (void)len;
    nsent++;
}

static void test_random(void *ctx, void *buf, size_t len)
{
    uint8_t *p = buf;
    uint32_t *st = ctx;
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((*st = *st * 1103515245u + 12345u) >> 16);
}

/* The stack learns the peer's MAC from its ARP request. */
static void learn_peer(sk_stack *s)
{
    uint8_t f[42] = {0};
    memset(f, 0xff, 6);
    memcpy(f + 6, PEER, 6);
    const uint8_t arp[] = {0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1};
    memcpy(f + 12, arp, sizeof(arp));
    memcpy(f + 22, PEER, 6);
    const uint8_t spa[4] = {10, 0, 0, 1}, tpa[4] = {10, 0, 0, 2};
    memcpy(f + 28, spa, 4);
    memcpy(f + 38, tpa, 4);
    sk_input(s, f, sizeof(f), T0);
    sk_flush(s, T0);
}

static sk_stack *test_stack(void)
{
    static uint32_t rstate = 1;
    struct sk_config cfg = {0};
    memcpy(cfg.mac, STACK_MAC, 6);
    cfg.addr = 0x0a000002;
    cfg.prefix_len = 24;
    cfg.output = count_output;
    cfg.random = test_random;
    cfg.random_ctx = &rstate;
    int e = 0;
    sk_stack *s = sk_stack_new(&cfg, T0, &e);
    ck_assert_msg(s != NULL, "sk_stack_new: %d", e);
    learn_peer(s);
    return s;
}

static int bits_differ(const uint8_t *a, const uint8_t *b, size_t n)
{
    int d = 0;
    for (size_t i = 0; i < n; i++)
        d += __builtin_popcount((unsigned)(a[i] ^ b[i]));
    return d;
}

static uint64_t checksum_drops(sk_stack *s)
{
    const struct sk_counters *k = sk_counters(s);
    return k->drop_ip_checksum + k->drop_tcp_checksum + k->drop_icmp_checksum;
}

/* Every drop, whatever its reason: the counters named drop_*. */
static uint64_t all_drops(sk_stack *s)
{
    const struct sk_counters *k = sk_counters(s);
    uint64_t n = 0;
#define ADD_DROP(name, desc)                                                                       \
    if (strncmp(#name, "drop_", 5) == 0)                                                           \
        n += k->name;
    SK_COUNTERS(ADD_DROP)
#undef ADD_DROP
    return n;
}

START_TEST(corrupt_caught)
{
    struct impair_cfg c;
    struct impair *im = make("corrupt=100%,seed=11", &c);
    sk_stack *s = test_stack();
    uint8_t f[1600];
    int hit_header = 0, hit_data = 0, answered = 0;
    for (int i = 0; i < 300; i++) {
        size_t len = i % 3 == 0   ? tcp_frame(f, 0, (uint32_t)i)
                     : i % 3 == 1 ? tcp_frame(f, (size_t)(i * 5) % 1460 + 1, (uint32_t)i)
                                  : icmp_echo(f, (uint16_t)i);
        ck_assert(checksums_ok(f, len));
        /* The frame as sent is one the stack takes: no checksum drop. */
        uint64_t drops = checksum_drops(s);
        int sent = nsent;
        sk_input(s, f, len, T0);
        sk_flush(s, T0);
        ck_assert_uint_eq(checksum_drops(s), drops);
        answered += nsent > sent; /* a RST or an echo reply */

        got_reset();
        impair_push(im, IMPAIR_IN, f, len, T0);
        ck_assert_uint_eq(impair_pop_due(im, IMPAIR_IN, T0, collect, NULL), 1);
        ck_assert_uint_eq(got.len[0], len);
        ck_assert_int_eq(bits_differ(f, got.data[0], len), 1);
        /* Ethernet and IPv4 headers intact: the bit is in TCP or ICMP. */
        ck_assert_int_eq(bits_differ(f, got.data[0], 34), 0);
        if (bits_differ(f, got.data[0], 54) && f[23] == 6)
            hit_header++;
        else
            hit_data++;
        ck_assert(!checksums_ok(got.data[0], len));
        uint64_t any = all_drops(s);
        sent = nsent;
        sk_input(s, got.data[0], len, T0);
        sk_flush(s, T0);
        /* Dropped, and nothing answered.  By the checksum, unless the bit
         * made TCP's data offset impossible: that check may come first. */
        ck_assert_uint_eq(all_drops(s), any + 1);
        ck_assert_int_eq(nsent, sent);
        bool data_offset = f[23] == 6 && got.data[0][46] != f[46];
        if (!data_offset)
            ck_assert_uint_eq(checksum_drops(s), drops + 1);
    }
    ck_assert_int_gt(answered, 0);
    ck_assert_int_gt(hit_header, 0);
    ck_assert_int_gt(hit_data, 0);
    ck_assert_uint_eq(impair_counters(im, IMPAIR_IN)->corrupted, 300);
    ck_assert_uint_gt(sk_counters(s)->drop_tcp_checksum, 0);
    ck_assert_uint_gt(sk_counters(s)->drop_icmp_checksum, 0);
    sk_stack_free(s);

    /* No checksum covers an ARP frame: it is dropped, as an FCS would. */
    got_reset();
    push_n(im, IMPAIR_IN, 5, 60, T0);
    ck_assert_uint_eq(impair_pop_due(im, IMPAIR_IN, T0, collect, NULL), 0);
    ck_assert_uint_eq(impair_counters(im, IMPAIR_IN)->corrupt_fcs, 5);
    impair_free(im);
}
END_TEST

/* An IPv4 packet with no payload: the bit lands in its header. */
START_TEST(corrupt_header_only)
{
    struct impair_cfg c;
    struct impair *im = make("corrupt=100%", &c);
    uint8_t f[64];
    size_t len = ipv4_frame(f, 6, NULL, 0);
    ck_assert_uint_eq(len, 34);
    for (int i = 0; i < 50; i++) {
        got_reset();
        impair_push(im, IMPAIR_OUT, f, len, T0);
        impair_pop_due(im, IMPAIR_OUT, T0, collect, NULL);
        ck_assert_int_eq(got.n, 1);
        ck_assert_int_eq(bits_differ(f, got.data[0], 14), 0);
        ck_assert_int_eq(bits_differ(f + 14, got.data[0] + 14, 20), 1);
    }
    impair_free(im);
}
END_TEST

static Suite *impair_suite(void)
{
    Suite *s = suite_create("impair");
    TCase *p = tcase_create("parse");
    tcase_add_test(p, parse_all_keys);
    tcase_add_test(p, parse_units);
    tcase_add_test(p, parse_directions);
    tcase_add_test(p, parse_errors);
    suite_add_tcase(s, p);
    TCase *k = tcase_create("keys");
    tcase_add_test(k, loss_all);
    tcase_add_test(k, loss_none_in_order);
    tcase_add_test(k, dup_all);
    tcase_add_test(k, delay_exact);
    tcase_add_test(k, rate_spacing);
    tcase_add_test(k, rate_and_delay);
    tcase_add_test(k, jitter_keeps_order);
    tcase_add_test(k, reorder_swaps);
    tcase_add_test(k, reorder_with_delay);
    tcase_add_test(k, seed_determinism);
    tcase_add_test(k, queue_bound);
    tcase_add_test(k, too_long);
    tcase_add_test(k, drain_all);
    suite_add_tcase(s, k);
    TCase *x = tcase_create("corrupt");
    tcase_add_test(x, corrupt_caught);
    tcase_add_test(x, corrupt_header_only);
    suite_add_tcase(s, x);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(impair_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
