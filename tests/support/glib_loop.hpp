// Test support: a private GMainContext per test, iterated until a condition holds.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <glib.h>

#include <jgather/glib.hpp>

namespace jgather::test {

/** @brief Owns a GMainContext and the jgather loop on it. */
class TestLoop {
public:
    TestLoop() : context_(g_main_context_new()), loop_(glib::make_loop(context_)) {}
    ~TestLoop() {
        loop_.reset();
        // Drain what teardown left (destroyed sources) before the context goes.
        while (g_main_context_iteration(context_, FALSE)) {
        }
        g_main_context_unref(context_);
    }
    TestLoop(const TestLoop&) = delete;
    TestLoop& operator=(const TestLoop&) = delete;

    EventLoop& loop() { return *loop_; }
    GMainContext* context() { return context_; }

    /** Iterates until @p done returns true or @p limit passes; returns done(). Never sleeps
     * blindly: each iteration blocks in poll() until something is due. */
    bool run_until(const std::function<bool()>& done,
                   std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
        bool timed_out = false;
        GSource* guard = g_timeout_source_new(static_cast<guint>(limit.count()));
        g_source_set_callback(
            guard,
            [](gpointer flag) -> gboolean {
                *static_cast<bool*>(flag) = true;
                return G_SOURCE_REMOVE;
            },
            &timed_out, nullptr);
        g_source_attach(guard, context_);
        while (!done() && !timed_out) {
            g_main_context_iteration(context_, TRUE);
        }
        g_source_destroy(guard);
        g_source_unref(guard);
        return done();
    }

    /** Runs every iteration that is ready now, without blocking. */
    void drain() {
        while (g_main_context_iteration(context_, FALSE)) {
        }
    }

private:
    GMainContext* context_;
    std::unique_ptr<EventLoop> loop_;
};

} // namespace jgather::test
