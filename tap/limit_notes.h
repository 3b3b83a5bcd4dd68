/* limit_notes.h - tells the user, once per kind, that the stack hit one of its
 * limits and is dropping something because of it. */
#ifndef TAP_LIMIT_NOTES_H
#define TAP_LIMIT_NOTES_H

#include <stdint.h>
#include <stdio.h>

#include "synack.h"

struct limits {
    uint64_t told; /* bit i: limit_table[i] was told */
};

/* Call after each batch: a kind whose counter has grown since the start is
 * told once on out as "PROG: MESSAGE".  A few compares per batch. */
void limits_check(struct limits *l, const struct sk_counters *c, FILE *out, const char *prog);

#endif
