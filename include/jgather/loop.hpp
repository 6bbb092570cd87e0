/**
 * @file loop.hpp
 * @brief The event loop jgather runs on, seen through a small interface.
 *
 * jgather has no threads: every callback runs on the loop the caller supplies. Applications on
 * GLib obtain one with jgather::glib::make_loop() (jgather/glib.hpp); the core headers stay free
 * of GLib types.
 */
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <jgather/export.hpp>

namespace jgather {

/**
 * @brief A pending timer or watch. Destroying it cancels it, even from inside its own callback.
 */
class JGATHER_EXPORT LoopHandle {
public:
    virtual ~LoopHandle();
};

/**
 * @brief The caller's event loop (e.g. a GMainContext).
 *
 * Callbacks must not throw; the adapter catches and logs anything that escapes.
 */
class JGATHER_EXPORT EventLoop {
public:
    virtual ~EventLoop();

    /** Runs @p callback once, after @p delay (0 = on the next iteration). */
    [[nodiscard]] virtual std::unique_ptr<LoopHandle>
    call_after(std::chrono::milliseconds delay, std::function<void()> callback) = 0;
    /** Runs @p callback each time @p fd is readable, until the handle is destroyed. */
    [[nodiscard]] virtual std::unique_ptr<LoopHandle>
    watch_readable(int fd, std::function<void()> callback) = 0;
    /** Runs @p callback each time @p fd is writable or in error (a non-blocking connect() has
     * completed), until the handle is destroyed. */
    [[nodiscard]] virtual std::unique_ptr<LoopHandle>
    watch_writable(int fd, std::function<void()> callback) = 0;
};

} // namespace jgather
