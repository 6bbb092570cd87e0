/**
 * @file glib.hpp
 * @brief Adapter: run jgather on a GLib GMainContext. The only header that exposes GLib types.
 */
#pragma once

#include <memory>

#include <glib.h>

#include <jgather/export.hpp>
#include <jgather/loop.hpp>
#include <jgather/s5b.hpp>

namespace jgather::glib {

/**
 * An EventLoop that attaches its sources to @p context (NULL = the global default context).
 * The context is referenced for the loop's lifetime.
 */
JGATHER_EXPORT std::unique_ptr<EventLoop> make_loop(GMainContext* context);

/**
 * A resolver for s5b::ConnectOptions::resolve on GIO's default GResolver (its own threads do
 * the lookup; the answer comes from @p context, NULL = the global default context).
 */
JGATHER_EXPORT s5b::Resolver make_resolver(GMainContext* context);

} // namespace jgather::glib
