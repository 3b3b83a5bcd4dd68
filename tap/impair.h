/* impair.h - a bad link between the TAP and the core: loss, duplication,
 * reordering, corruption, delay, jitter and a bit rate, per direction,
 * deterministic from a seed (docs/impair.md).
 *
 * Like the core, it never reads a clock: frames go in with `now`, come out
 * of impair_pop_due at the time they are due, and impair_next_deadline says
 * when that is, for the event loop's poll timeout.  So the unit tests drive
 * it with a made-up clock and no TAP. */
#ifndef TAP_IMPAIR_H
#define TAP_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum impair_dir { IMPAIR_IN = 0, IMPAIR_OUT = 1 };

/* What one direction does to frames. */
struct impair_dir_cfg {
    double loss, dup, reorder, corrupt; /* probabilities, 0 to 1 */
    uint64_t delay_us, jitter_us;
    uint64_t rate_bps; /* bits per second; 0: no limit */
};

#define IMPAIR_DEFAULT_SEED  1
#define IMPAIR_DEFAULT_LIMIT 1000
#define IMPAIR_MAX_LIMIT     16384
#define IMPAIR_MAX_DELAY_US  60000000u
/* How long a frame picked by reorder= waits for a next frame to overtake
 * it before it goes alone. */
#define IMPAIR_REORDER_HOLD_US 10000u

struct impair_cfg {
    struct impair_dir_cfg dir[2]; /* [IMPAIR_IN], [IMPAIR_OUT] */
    uint64_t seed;
    uint32_t limit; /* frames held at most per direction */
};

/* No impairment, the default seed and limit. */
void impair_cfg_init(struct impair_cfg *c);
/* Adds SPEC ("loss=5%,in:delay=10ms,...", docs/impair.md) to c: call it
 * once per --impair, later values replace earlier ones.  0, or -1 with a
 * message in err naming the bad key or value (c may then be partly set). */
int impair_parse(const char *spec, struct impair_cfg *c, char *err, size_t errlen);
/* Whether direction d does anything to frames. */
bool impair_cfg_active(const struct impair_cfg *c, enum impair_dir d);
/* "in: loss=5% delay=10ms; out: none; seed 1, limit 1000" */
void impair_cfg_format(const struct impair_cfg *c, char *buf, size_t len);

/* What it did, per direction.  The X-macro keeps the names and the texts
 * host.c prints together. */
#define IMPAIR_COUNTERS(X)                                                                         \
    X(frames, "frames came in")                                                                    \
    X(passed, "frames passed on (duplicates included)")                                            \
    X(dropped, "frames dropped (loss)")                                                            \
    X(duplicated, "frames duplicated (dup)")                                                       \
    X(reordered, "frames held back for the next to overtake (reorder)")                            \
    X(corrupted, "frames with one bit flipped (corrupt)")                                          \
    X(corrupt_fcs, "frames picked for corrupt that no checksum covers (ARP): dropped, as FCS")     \
    X(delayed, "frames held for later (delay, jitter, rate, reorder)")                             \
    X(overflow, "frames dropped: queue overflow (limit)")                                          \
    X(too_long, "frames dropped: longer than a queue slot (MTU + 18)")                             \
    X(queue_max, "frames held at most at once (the queue's high-water mark)")

#define IMPAIR_COUNTER_FIELD(name, desc) uint64_t name;
struct impair_counters {
    IMPAIR_COUNTERS(IMPAIR_COUNTER_FIELD)
};
#undef IMPAIR_COUNTER_FIELD

struct impair;
/* c->limit slots of max_frame bytes per direction, allocated once here:
 * no allocation per frame.  NULL when out of memory. */
struct impair *impair_new(const struct impair_cfg *c, size_t max_frame);
void impair_free(struct impair *im);
bool impair_active(const struct impair *im, enum impair_dir d);

/* A frame enters direction d at `now`; it is copied (the caller may reuse
 * its buffer at once).  It may be dropped, corrupted, doubled, held. */
void impair_push(struct impair *im, enum impair_dir d, const uint8_t *frame, size_t len,
                 uint64_t now);
typedef void (*impair_deliver_fn)(void *ctx, const uint8_t *frame, size_t len, uint64_t now);
/* Hands every frame of d due at `now` to fn, in order; returns how many.
 * fn may push into either direction. */
size_t impair_pop_due(struct impair *im, enum impair_dir d, uint64_t now, impair_deliver_fn fn,
                      void *ctx);
/* Hands every frame d still holds to fn at once, due or not (at exit). */
size_t impair_drain(struct impair *im, enum impair_dir d, uint64_t now, impair_deliver_fn fn,
                    void *ctx);
/* The earliest time a frame of either direction is due; UINT64_MAX if none. */
uint64_t impair_next_deadline(const struct impair *im);
/* Frames direction d holds now. */
size_t impair_queued(const struct impair *im, enum impair_dir d);
const struct impair_counters *impair_counters(const struct impair *im, enum impair_dir d);

#endif
