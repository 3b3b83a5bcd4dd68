/* list.h - intrusive circular doubly linked lists with a sentinel. */
#ifndef SK_LIST_H
#define SK_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct link {
    struct link *prev, *next;
};

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void list_init(struct link *l)
{
    l->prev = l->next = l;
}
static inline bool list_empty(const struct link *l)
{
    return l->next == l;
}
/* A link that is in no list points at itself. */
static inline bool list_linked(const struct link *n)
{
    return n->next != n && n->next != NULL;
}
static inline void list_add_tail(struct link *head, struct link *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}
static inline void list_del(struct link *n)
{
    if (!list_linked(n))
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#endif
