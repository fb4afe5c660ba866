/* bot_private.h — what a bot driver implementation provides; private to
 * src/bot. The public calls in bot.h check their arguments, then dispatch
 * through ops, so an implementation only sees valid arguments. */
#ifndef HARK_BOT_PRIVATE_H
#define HARK_BOT_PRIVATE_H
#include "hark/bot.h"

struct bot_driver_ops {
    int (*spawn)(struct bot_driver *d, const struct bot_spec *spec, char *handle_out);
    int (*stop)(struct bot_driver *d, const char *handle, int grace_ms,
                struct bot_status *out);
    int (*inspect)(struct bot_driver *d, const char *handle, struct bot_status *out);
    int (*list)(struct bot_driver *d, struct bot_status **out, size_t *n_out);
    void (*free)(struct bot_driver *d);
};

/* Every driver's struct starts with this. */
struct bot_driver {
    const struct bot_driver_ops *ops;
};

#endif
