#include "hark/bot.h"

#include <string.h>

#include "bot_private.h"

const char *bot_state_name(enum bot_state s)
{
    switch (s) {
    case BOT_STATE_RUNNING: return "running";
    case BOT_STATE_EXITED: return "exited";
    case BOT_STATE_KILLED: return "killed";
    case BOT_STATE_UNKNOWN: break;
    }
    return "unknown";
}

int bot_driver_spawn(struct bot_driver *d, const struct bot_spec *spec, char *handle_out)
{
    if (!d || !spec || !spec->argv || !spec->argv[0] || !spec->argv[0][0] || !handle_out)
        return HARK_EINVAL;
    return d->ops->spawn(d, spec, handle_out);
}

/* A handle that cannot be one of ours is unknown, not invalid: the caller
 * may hold it from a previous run or another driver. */
static int handle_ok(const char *handle)
{
    return handle && strnlen(handle, BOT_HANDLE_MAX) < BOT_HANDLE_MAX;
}

int bot_driver_stop(struct bot_driver *d, const char *handle, int grace_ms,
                    struct bot_status *out)
{
    if (!d || grace_ms < 0)
        return HARK_EINVAL;
    if (!handle_ok(handle))
        return HARK_ENOENT;
    return d->ops->stop(d, handle, grace_ms, out);
}

int bot_driver_inspect(struct bot_driver *d, const char *handle, struct bot_status *out)
{
    if (!d || !out)
        return HARK_EINVAL;
    if (!handle_ok(handle))
        return HARK_ENOENT;
    return d->ops->inspect(d, handle, out);
}

int bot_driver_list(struct bot_driver *d, struct bot_status **out, size_t *n_out)
{
    if (!d || !out || !n_out)
        return HARK_EINVAL;
    return d->ops->list(d, out, n_out);
}

void bot_driver_free(struct bot_driver *d)
{
    if (d)
        d->ops->free(d);
}
