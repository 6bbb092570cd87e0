// What the library knows of its own GLib adapter beyond the EventLoop interface.
#pragma once

#include <jgather/loop.hpp>

namespace jgather::detail {

/**
 * Lets the GLib source behind @p watch (a watch_readable() or watch_writable() handle of
 * glib::make_loop()'s loop) be dispatched again while its callback runs; no effect on another
 * loop's handle. GLib takes a dispatching source's fds out of the context's poll set and puts
 * them back afterwards, waking the context each time (two eventfd writes and a read per
 * dispatch); a source that may recurse is left in place (GLib's G_SOURCE_CAN_RECURSE). Only
 * for a callback that guards its own reentry: the multiplexer's epoll set.
 */
void let_recurse(LoopHandle& watch) noexcept;

} // namespace jgather::detail
