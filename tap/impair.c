/* impair.c - the bad link (docs/impair.md).
 *
 * Theory of operation.  Each direction is a link of its own: a pool of
 * `limit` frame slots allocated once, a FIFO of the slots in flight, and a
 * PRNG.  A frame that comes in draws six numbers, always the same six, so
 * that which frames one key hits does not depend on the other keys: loss,
 * corrupt, dup, reorder, jitter, and the bit to flip.  Then:
 *
 *   loss     it is dropped;
 *   corrupt  one bit of its copy is flipped, inside what an IPv4 checksum
 *            covers (a frame with none is dropped, as an Ethernet FCS would);
 *   dup      a second copy follows it into the link;
 *   reorder  it is held aside until the next frame has entered the link,
 *            and enters right after it (IMPAIR_REORDER_HOLD_US at most);
 *   rate     it is serialized: it starts when the link is free (the frame
 *            before it has finished) and takes len * 8 / rate;
 *   delay    and jitter (uniform in [0, jitter]) are then added.
 *
 * A frame's due time is never earlier than the one before it, so the FIFO
 * is in due order and its head is the next deadline: jitter does not
 * reorder (as netem with a rate), only reorder= does.  Nothing here sleeps
 * or reads a clock; the event loop polls until impair_next_deadline and
 * calls impair_pop_due. */
#include "impair.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- The specification ---- */

void impair_cfg_init(struct impair_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->seed = IMPAIR_DEFAULT_SEED;
    c->limit = IMPAIR_DEFAULT_LIMIT;
}

bool impair_cfg_active(const struct impair_cfg *c, enum impair_dir d)
{
    const struct impair_dir_cfg *x = &c->dir[d];
    return x->loss > 0 || x->dup > 0 || x->reorder > 0 || x->corrupt > 0 || x->delay_us ||
           x->jitter_us || x->rate_bps;
}

static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A plain decimal: digits, then optionally '.' and digits.  No sign, no
 * exponent, no "inf": strtod would take all of those.  Returns the end, or
 * NULL if s does not start with a digit. */
static const char *parse_decimal(const char *s, double *v)
{
    if (!isdigit((unsigned char)*s))
        return NULL;
    double x = 0;
    while (isdigit((unsigned char)*s))
        x = x * 10 + (*s++ - '0');
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return NULL;
        for (double scale = 0.1; isdigit((unsigned char)*s); scale /= 10)
            x += (*s++ - '0') * scale;
    }
    *v = x;
    return s;
}

/* "5%", "0.5%", "100%", or a bare "0".  The % is required otherwise: tc
 * reads a bare 0.05 as 5%, others as 0.05%; neither is guessed. */
static int parse_percent(const char *item, const char *val, double *p, char *err, size_t errlen)
{
    double v;
    const char *end = parse_decimal(val, &v);
    if (end && !*end && v == 0) {
        *p = 0;
        return 0;
    }
    if (!end || (*end && strcmp(end, "%") != 0))
        return errf(err, errlen, "'%s': expected a percentage like 5%% or 0.5%%", item);
    if (!*end)
        return errf(err, errlen, "'%s': a percentage needs its %% sign, like %s%%", item, val);
    if (v > 100)
        return errf(err, errlen, "'%s': a percentage from 0%% to 100%%", item);
    *p = v / 100;
    return 0;
}

/* "10ms", "500us", "1.5s", or a bare "0"; rounded to microseconds. */
static int parse_duration(const char *item, const char *val, uint64_t *us, char *err, size_t errlen)
{
    static const struct {
        const char *unit;
        double us;
    } units[] = {{"us", 1}, {"ms", 1e3}, {"s", 1e6}};
    double v;
    const char *end = parse_decimal(val, &v);
    if (end && !*end && v == 0) {
        *us = 0;
        return 0;
    }
    if (end && !*end)
        return errf(err, errlen, "'%s': a duration needs its unit: us, ms or s, like %sms", item,
                    val);
    for (size_t i = 0; end && i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        double x = v * units[i].us + 0.5;
        if (v * units[i].us > IMPAIR_MAX_DELAY_US)
            return errf(err, errlen, "'%s': at most %us", item, IMPAIR_MAX_DELAY_US / 1000000);
        *us = (uint64_t)x;
        return 0;
    }
    return errf(err, errlen, "'%s': expected a duration like 10ms, 500us or 1s", item);
}

/* "100mbit", "512kbit", "1gbit", "9600bit" as tc writes them (k = 1000),
 * or "0" for no limit. */
static int parse_rate(const char *item, const char *val, uint64_t *bps, char *err, size_t errlen)
{
    static const struct {
        const char *unit;
        double bps;
    } units[] = {{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}};
    double v;
    const char *end = parse_decimal(val, &v);
    if (end && !*end && v == 0) {
        *bps = 0;
        return 0;
    }
    for (size_t i = 0; end && i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].unit) != 0)
            continue;
        double x = v * units[i].bps + 0.5;
        if (x < 1 || x > 1e12)
            return errf(err, errlen, "'%s': a rate from 1bit to 1000gbit, or 0 for none", item);
        *bps = (uint64_t)x;
        return 0;
    }
    return errf(err, errlen,
                "'%s': expected a rate like 100mbit, 512kbit or 1gbit (bits per second, as tc)",
                item);
}

static int parse_uint(const char *item, const char *val, uint64_t max, uint64_t *out, char *err,
                      size_t errlen, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)*val) ? strtoull(val, &end, 10) : 0;
    if (!isdigit((unsigned char)*val) || *end || errno || v > max)
        return errf(err, errlen, "'%s': expected %s", item, what);
    *out = v;
    return 0;
}

enum key { K_LOSS, K_DUP, K_REORDER, K_CORRUPT, K_DELAY, K_JITTER, K_RATE, K_SEED, K_LIMIT, K_N };
static const char *const key_names[K_N] = {
    [K_LOSS] = "loss",       [K_DUP] = "dup",     [K_REORDER] = "reorder",
    [K_CORRUPT] = "corrupt", [K_DELAY] = "delay", [K_JITTER] = "jitter",
    [K_RATE] = "rate",       [K_SEED] = "seed",   [K_LIMIT] = "limit",
};

/* One value into every direction in `dirs` (a bit per direction). */
static int set_key(struct impair_cfg *c, enum key k, unsigned dirs, const char *item,
                   const char *val, char *err, size_t errlen)
{
    double p = 0;
    uint64_t u = 0;
    switch (k) {
    case K_LOSS:
    case K_DUP:
    case K_REORDER:
    case K_CORRUPT:
        if (parse_percent(item, val, &p, err, errlen) < 0)
            return -1;
        break;
    case K_DELAY:
    case K_JITTER:
        if (parse_duration(item, val, &u, err, errlen) < 0)
            return -1;
        break;
    case K_RATE:
        if (parse_rate(item, val, &u, err, errlen) < 0)
            return -1;
        break;
    case K_SEED:
        if (parse_uint(item, val, UINT64_MAX, &u, err, errlen, "a non-negative integer") < 0)
            return -1;
        c->seed = u;
        return 0;
    case K_LIMIT:
        if (parse_uint(item, val, IMPAIR_MAX_LIMIT, &u, err, errlen,
                       "a number of frames from 1 to 16384") < 0)
            return -1;
        if (u == 0)
            return errf(err, errlen, "'%s': expected a number of frames from 1 to 16384", item);
        c->limit = (uint32_t)u;
        return 0;
    default:
        return -1;
    }
    for (int d = 0; d < 2; d++) {
        if (!(dirs & (1u << d)))
            continue;
        struct impair_dir_cfg *x = &c->dir[d];
        switch (k) {
        case K_LOSS:
            x->loss = p;
            break;
        case K_DUP:
            x->dup = p;
            break;
        case K_REORDER:
            x->reorder = p;
            break;
        case K_CORRUPT:
            x->corrupt = p;
            break;
        case K_DELAY:
            x->delay_us = u;
            break;
        case K_JITTER:
            x->jitter_us = u;
            break;
        default:
            x->rate_bps = u;
            break;
        }
    }
    return 0;
}

int impair_parse(const char *spec, struct impair_cfg *c, char *err, size_t errlen)
{
    if (!*spec)
        return errf(err, errlen, "empty: expected KEY=VALUE[,...], like loss=5%%,delay=10ms");
    unsigned seen[K_N] = {0}; /* directions each key was given for, in this spec */
    const char *prefixed = NULL, *plain = NULL;
    char prefixed_buf[128], plain_buf[128];
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        if (n == 0)
            return errf(err, errlen, "an empty item (two commas, or one at an end)");
        if (n >= sizeof(item))
            return errf(err, errlen, "'%.40s...': too long", p);
        memcpy(item, p, n);
        item[n] = '\0';

        char *eq = strchr(item, '=');
        if (!eq)
            return errf(err, errlen, "'%s': expected KEY=VALUE, like loss=5%%", item);
        *eq = '\0';
        char *key = item, *val = eq + 1;
        unsigned dirs = 3;
        char *colon = strchr(key, ':');
        if (colon) {
            *colon = '\0';
            if (strcmp(key, "in") == 0)
                dirs = 1u << IMPAIR_IN;
            else if (strcmp(key, "out") == 0)
                dirs = 1u << IMPAIR_OUT;
            else
                return errf(err, errlen, "'%s:': unknown direction (in: or out:)", key);
            key = colon + 1;
        }
        enum key k = K_N;
        for (int i = 0; i < K_N; i++)
            if (strcmp(key, key_names[i]) == 0)
                k = (enum key)i;
        /* The messages show the item whole, as written. */
        char shown[128];
        snprintf(shown, sizeof(shown), "%.*s", (int)n, p);
        if (k == K_N)
            return errf(err, errlen,
                        "unknown key '%s' (keys: loss, dup, reorder, corrupt, delay, jitter, "
                        "rate, seed, limit)",
                        key);
        if (!*val)
            return errf(err, errlen, "'%s': no value", shown);
        if (k == K_SEED || k == K_LIMIT) {
            if (colon)
                return errf(err, errlen, "'%s': %s is for both directions: no in: or out:", shown,
                            key);
        } else if (colon) {
            prefixed = prefixed ? prefixed : strcpy(prefixed_buf, shown);
        } else {
            plain = plain ? plain : strcpy(plain_buf, shown);
        }
        /* "in:loss=5%,delay=10ms" could mean delay in both directions or
         * in only: refuse to guess. */
        if (prefixed && plain)
            return errf(err, errlen,
                        "'%s' has no direction but '%s' has one: a prefix is for its own key "
                        "only, so give each key one (in:%s or out:%s), or put both-direction "
                        "keys in another --impair",
                        plain, prefixed, plain, plain);
        unsigned bit = k == K_SEED || k == K_LIMIT ? 1 : dirs;
        if (seen[k] & bit)
            return errf(err, errlen, "'%s': %s is given twice", shown, key);
        seen[k] |= bit;
        if (set_key(c, k, dirs, shown, val, err, errlen) < 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    if (*off >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off += (size_t)n;
}

static void append_duration(char *buf, size_t len, size_t *off, const char *key, uint64_t us)
{
    if (us % 1000000 == 0)
        append(buf, len, off, " %s=%llus", key, (unsigned long long)(us / 1000000));
    else if (us % 1000 == 0)
        append(buf, len, off, " %s=%llums", key, (unsigned long long)(us / 1000));
    else
        append(buf, len, off, " %s=%lluus", key, (unsigned long long)us);
}

void impair_cfg_format(const struct impair_cfg *c, char *buf, size_t len)
{
    static const char *const units[] = {"bit", "kbit", "mbit", "gbit"};
    size_t off = 0;
    if (len)
        buf[0] = '\0';
    for (int d = 0; d < 2; d++) {
        const struct impair_dir_cfg *x = &c->dir[d];
        append(buf, len, &off, "%s%s:", d ? "; " : "", d ? "out" : "in");
        if (!impair_cfg_active(c, (enum impair_dir)d))
            append(buf, len, &off, " none");
        const double pct[] = {x->loss, x->dup, x->reorder, x->corrupt};
        for (int i = 0; i < 4; i++)
            if (pct[i] > 0)
                append(buf, len, &off, " %s=%g%%", key_names[K_LOSS + i], pct[i] * 100);
        if (x->delay_us)
            append_duration(buf, len, &off, "delay", x->delay_us);
        if (x->jitter_us)
            append_duration(buf, len, &off, "jitter", x->jitter_us);
        if (x->rate_bps) {
            uint64_t r = x->rate_bps;
            int u = 0;
            while (u < 3 && r % 1000 == 0)
                r /= 1000, u++;
            append(buf, len, &off, " rate=%llu%s", (unsigned long long)r, units[u]);
        }
    }
    append(buf, len, &off, "; seed %llu, limit %u", (unsigned long long)c->seed, c->limit);
}

/* ---- The link ---- */

#define NO_SLOT UINT32_MAX

struct link {
    bool active;
    struct impair_dir_cfg cfg;
    uint64_t rng;
    uint32_t nslots;
    size_t stride;
    uint8_t *mem;   /* nslots * stride bytes of frames */
    uint32_t *len;  /* per slot */
    uint64_t *at;   /* per slot: when it came in */
    uint64_t *due;  /* per slot: when it leaves */
    uint32_t *free; /* stack of free slots */
    uint32_t nfree;
    uint32_t *fifo; /* ring of slots in the link, in due order */
    uint32_t head, count;
    uint32_t held[2]; /* a frame held back by reorder, and its duplicate */
    uint32_t nheld;
    uint64_t held_until, held_jitter;
    uint64_t link_free_ns; /* rate: when the last frame finishes serializing */
    uint64_t last_due;
    struct impair_counters c;
};

struct impair {
    size_t max_frame;
    struct link link[2];
};

/* xorshift64* (Vigna), seeded through splitmix64 so that nearby seeds and
 * the two directions give unrelated streams. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t splitmix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* True with probability p, for a draw r. */
static bool chance(uint64_t r, double p)
{
    return p > 0 && (double)(r >> 11) * 0x1.0p-53 < p;
}

static void link_free_mem(struct link *l)
{
    free(l->mem);
    free(l->len);
    free(l->at);
    free(l->due);
    free(l->free);
    free(l->fifo);
}

static int link_init(struct link *l, const struct impair_cfg *c, enum impair_dir d,
                     size_t max_frame)
{
    memset(l, 0, sizeof(*l));
    l->cfg = c->dir[d];
    l->active = impair_cfg_active(c, d);
    l->rng = splitmix64(c->seed ^ (d == IMPAIR_IN ? 0 : 0x5851F42D4C957F2DULL));
    if (!l->rng)
        l->rng = 1; /* xorshift's one fixed point */
    l->held[0] = l->held[1] = NO_SLOT;
    l->nslots = c->limit ? c->limit : IMPAIR_DEFAULT_LIMIT;
    l->stride = (max_frame + 7) & ~(size_t)7;
    /* Large enough to be mmap-ed by malloc: pages that the queue never
     * reaches cost no memory. */
    l->mem = malloc(l->nslots * l->stride);
    l->len = calloc(l->nslots, sizeof(*l->len));
    l->at = calloc(l->nslots, sizeof(*l->at));
    l->due = calloc(l->nslots, sizeof(*l->due));
    l->free = calloc(l->nslots, sizeof(*l->free));
    l->fifo = calloc(l->nslots, sizeof(*l->fifo));
    if (!l->mem || !l->len || !l->at || !l->due || !l->free || !l->fifo)
        return -1;
    for (uint32_t i = 0; i < l->nslots; i++)
        l->free[i] = l->nslots - 1 - i; /* slot 0 first */
    l->nfree = l->nslots;
    return 0;
}

struct impair *impair_new(const struct impair_cfg *c, size_t max_frame)
{
    struct impair *im = calloc(1, sizeof(*im));
    if (!im)
        return NULL;
    im->max_frame = max_frame;
    for (int d = 0; d < 2; d++)
        if (link_init(&im->link[d], c, (enum impair_dir)d, max_frame) < 0) {
            impair_free(im);
            return NULL;
        }
    return im;
}

void impair_free(struct impair *im)
{
    if (!im)
        return;
    for (int d = 0; d < 2; d++)
        link_free_mem(&im->link[d]);
    free(im);
}

bool impair_active(const struct impair *im, enum impair_dir d)
{
    return im->link[d].active;
}

static uint32_t slot_get(struct link *l)
{
    if (!l->nfree) {
        l->c.overflow++;
        return NO_SLOT;
    }
    uint32_t s = l->free[--l->nfree];
    uint64_t used = l->nslots - l->nfree;
    if (used > l->c.queue_max)
        l->c.queue_max = used;
    return s;
}

static void slot_put(struct link *l, uint32_t s)
{
    l->free[l->nfree++] = s;
}

static uint8_t *slot_data(struct link *l, uint32_t s)
{
    return l->mem + (size_t)s * l->stride;
}

/* Flips one bit where a checksum the receiver checks covers it: in the
 * IPv4 payload (TCP, ICMP: a single bit flip always changes the Internet
 * checksum), or in the IPv4 header when there is no payload.  False for a
 * frame no checksum covers (ARP): a real link's FCS would drop it. */
static bool flip_bit(uint8_t *f, size_t len, uint64_t r)
{
    if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00)
        return false;
    size_t ihl = (size_t)(f[14] & 0x0f) * 4;
    size_t end = 14 + (((size_t)f[16] << 8) | f[17]);
    if (end > len || end < 14 + ihl)
        end = len;
    size_t lo = 14, hi = 14 + 20;
    if (ihl >= 20 && 14 + ihl < end)
        lo = 14 + ihl, hi = end;
    else if (ihl >= 20 && 14 + ihl <= len)
        hi = 14 + ihl;
    uint64_t bit = r % ((hi - lo) * 8);
    f[lo + bit / 8] ^= (uint8_t)(1u << (bit % 8));
    return true;
}

/* Puts slot s into the link at `now`: serialization, then delay and
 * jitter, never before the frame ahead of it. */
static void enter_link(struct link *l, uint32_t s, uint64_t now, uint64_t jitter)
{
    uint64_t due = now;
    if (l->cfg.rate_bps) {
        uint64_t start = now * 1000 > l->link_free_ns ? now * 1000 : l->link_free_ns;
        l->link_free_ns = start + (uint64_t)l->len[s] * 8 * 1000000000u / l->cfg.rate_bps;
        due = (l->link_free_ns + 999) / 1000;
    }
    due += l->cfg.delay_us + jitter;
    if (due < l->last_due)
        due = l->last_due;
    l->last_due = due;
    l->due[s] = due;
    if (due > l->at[s])
        l->c.delayed++;
    l->fifo[(l->head + l->count) % l->nslots] = s;
    l->count++;
}

static void release_held(struct link *l, uint64_t now)
{
    for (uint32_t i = 0; i < l->nheld; i++)
        enter_link(l, l->held[i], now, l->held_jitter);
    l->nheld = 0;
}

void impair_push(struct impair *im, enum impair_dir d, const uint8_t *frame, size_t len,
                 uint64_t now)
{
    struct link *l = &im->link[d];
    const struct impair_dir_cfg *x = &l->cfg;
    l->c.frames++;
    /* Always six draws, so adding one key leaves the others' picks alone. */
    uint64_t r_loss = rng_next(&l->rng), r_corrupt = rng_next(&l->rng);
    uint64_t r_dup = rng_next(&l->rng), r_reorder = rng_next(&l->rng);
    uint64_t r_jitter = rng_next(&l->rng), r_bit = rng_next(&l->rng);
    if (chance(r_loss, x->loss)) {
        l->c.dropped++;
        return;
    }
    if (len > im->max_frame) {
        /* A frame longer than the link's MTU: as a NIC drops a giant. */
        l->c.too_long++;
        return;
    }
    uint32_t s = slot_get(l);
    if (s == NO_SLOT)
        return;
    memcpy(slot_data(l, s), frame, len);
    l->len[s] = (uint32_t)len;
    l->at[s] = now;
    if (chance(r_corrupt, x->corrupt)) {
        if (!flip_bit(slot_data(l, s), len, r_bit)) {
            l->c.corrupt_fcs++;
            slot_put(l, s);
            return;
        }
        l->c.corrupted++;
    }
    uint32_t copies[2] = {s, NO_SLOT};
    uint32_t n = 1;
    if (chance(r_dup, x->dup) && (copies[1] = slot_get(l)) != NO_SLOT) {
        memcpy(slot_data(l, copies[1]), slot_data(l, s), len);
        l->len[copies[1]] = (uint32_t)len;
        l->at[copies[1]] = now;
        l->c.duplicated++;
        n = 2;
    }
    uint64_t jitter = x->jitter_us ? r_jitter % (x->jitter_us + 1) : 0;
    /* One frame held at a time: a frame picked while another is held is
     * the next frame, which that one follows. */
    if (chance(r_reorder, x->reorder) && !l->nheld) {
        l->held[0] = copies[0];
        l->held[1] = copies[1];
        l->nheld = n;
        l->held_until = now + IMPAIR_REORDER_HOLD_US;
        l->held_jitter = jitter;
        l->c.reordered++;
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        enter_link(l, copies[i], now, jitter);
    if (l->nheld)
        release_held(l, now);
}

static size_t pop(struct link *l, uint64_t now, bool all, impair_deliver_fn fn, void *ctx)
{
    if (l->nheld && (all || now >= l->held_until))
        release_held(l, all ? now : l->held_until);
    size_t n = 0;
    while (l->count && (all || l->due[l->fifo[l->head]] <= now)) {
        uint32_t s = l->fifo[l->head];
        l->head = (l->head + 1) % l->nslots;
        l->count--;
        l->c.passed++;
        /* Off the FIFO before fn, which may push; freed after it. */
        fn(ctx, slot_data(l, s), l->len[s], now);
        slot_put(l, s);
        n++;
    }
    return n;
}

size_t impair_pop_due(struct impair *im, enum impair_dir d, uint64_t now, impair_deliver_fn fn,
                      void *ctx)
{
    return pop(&im->link[d], now, false, fn, ctx);
}

size_t impair_drain(struct impair *im, enum impair_dir d, uint64_t now, impair_deliver_fn fn,
                    void *ctx)
{
    return pop(&im->link[d], now, true, fn, ctx);
}

uint64_t impair_next_deadline(const struct impair *im)
{
    uint64_t t = UINT64_MAX;
    for (int d = 0; d < 2; d++) {
        const struct link *l = &im->link[d];
        if (l->count && l->due[l->fifo[l->head]] < t)
            t = l->due[l->fifo[l->head]];
        if (l->nheld && l->held_until < t)
            t = l->held_until;
    }
    return t;
}

size_t impair_queued(const struct impair *im, enum impair_dir d)
{
    return im->link[d].nslots - im->link[d].nfree;
}

const struct impair_counters *impair_counters(const struct impair *im, enum impair_dir d)
{
    return &im->link[d].c;
}
