/* fuzz_frames.c - target 1: raw frames into a stack.
 *
 * The stack listens on ports 5050 and 80 and has begun an active open to
 * the peer's port 6000.  The input is a sequence of records:
 *
 *   u8 control, u16 length, length bytes of frame
 *
 * control bit 0: recompute the IP, TCP and ICMP checksums first (so that
 * mutations reach TCP instead of dying at the checksum); bits 1-3: how far
 * the clock moves before the frame (nothing, 1 ms ... 2 min).  After each
 * frame the app side accepts every connection, echoes what it reads and
 * closes when the peer does.  The stack is freed at the end, so leaks
 * count; the invariants (invariants.h) are checked after every call. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_HANDLES 16

struct app {
    sk_conn *h[MAX_HANDLES];
    int n;
};

static void app_add(struct app *a, sk_conn *c)
{
    if (a->n < MAX_HANDLES)
        a->h[a->n++] = c;
    else
        sk_abort(c); /* no room to remember it: let go at once */
}

static void app_drop(struct app *a, sk_conn *c)
{
    for (int i = 0; i < a->n; i++)
        if (a->h[i] == c) {
            a->h[i] = a->h[--a->n];
            return;
        }
}

/* What a simple echo server does with each event. */
static void app_run(struct fz_stack *f, struct app *a)
{
    struct sk_event ev[32];
    size_t n = sk_poll(f->s, ev, 32);
    for (size_t i = 0; i < n; i++) {
        sk_conn *c = ev[i].conn;
        unsigned e = ev[i].events;
        if (e & SK_EV_ACCEPT) {
            sk_conn *child;
            while ((child = sk_accept(c)) != NULL)
                app_add(a, child);
            continue;
        }
        if (e & SK_EV_READABLE) {
            uint8_t buf[2048];
            long got;
            while ((got = sk_recv(c, buf, sizeof(buf))) > 0)
                sk_send(c, buf, (size_t)got);
        }
        if (e & (SK_EV_PEER_CLOSED | SK_EV_CLOSED | SK_EV_ERROR)) {
            bool listener = sk_conn_state(c) == SK_LISTEN;
            if (!listener) {
                app_drop(a, c);
                sk_close(c);
            }
        }
    }
    sk_flush(f->s, f->now);
}

static const uint32_t steps_us[8] = {0, 1000, 40000, 200000, 1000000, 3000000, 30000000, 120000000};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size, 0};
    struct fz_stack f;
    fz_stack_init(&f, 1);
    f.cfg.tcp_max_conns = 64;
    if (!fz_stack_start(&f))
        abort();
    struct app a = {.n = 0};
    /* Listeners are kept apart from the connections: the app never closes them. */
    sk_conn *l1 = sk_listen(f.s, 5050, 4, NULL);
    sk_conn *l2 = sk_listen(f.s, 80, 0, NULL);
    sk_conn *c = sk_connect(f.s, FZ_PEER_IP, 6000, 40000, f.now, NULL);
    if (!l1 || !l2 || !c)
        abort();
    app_add(&a, c);
    sk_flush(f.s, f.now);

    uint8_t frame[FZ_FRAME_MAX];
    while (fz_more(&in)) {
        uint8_t ctl = fz_u8(&in);
        size_t want = fz_u16(&in) % FZ_FRAME_MAX, len;
        const uint8_t *p = fz_bytes(&in, want, &len);
        memcpy(frame, p, len);
        if (ctl & 1)
            fz_fix_checksums(frame, len);
        if ((ctl >> 1) & 7)
            fz_advance(&f, steps_us[(ctl >> 1) & 7]);
        fz_input(&f, frame, len);
        app_run(&f, &a);
    }
    /* Half the inputs end with the app closing everything, the others
     * leave it all to sk_stack_free: both must leave nothing behind. */
    if (size & 1) {
        for (int i = 0; i < a.n; i++)
            sk_close(a.h[i]);
        sk_close(l1);
        sk_close(l2);
        fz_advance(&f, 1000);
    }
    fz_stack_free(&f);
    return 0;
}
