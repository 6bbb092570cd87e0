/**
 * @file glib.hpp
 * @brief Adapter: run jgather on a GLib GMainContext. The only header that exposes GLib types.
 */
#pragma once

#include <memory>

#include <glib.h>

#include <jgather/export.hpp>
#include <jgather/loop.hpp>

namespace jgather::glib {

/**
 * An EventLoop that attaches its sources to @p context (NULL = the global default context).
 * The context is referenced for the loop's lifetime.
 */
JGATHER_EXPORT std::unique_ptr<EventLoop> make_loop(GMainContext* context);

} // namespace jgather::glib
