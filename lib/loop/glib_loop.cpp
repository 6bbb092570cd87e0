// GLib adapter for EventLoop: one GSource per timer or watch, attached to the caller's context.
#include <exception>
#include <utility>

#include <glib-unix.h>

#include <jgather/glib.hpp>

#include "../util/guard.hpp"
#include "glib_loop.hpp"

namespace jgather::glib {
namespace {

using Callback = std::function<void()>;

// Runs a callback; no exception may unwind into GLib's C frames. The library's own callbacks
// contain what they call; this is the last line for anything else.
void run_guarded(const Callback& callback) noexcept {
    if (auto threw = detail::contain(callback)) {
        g_critical("jgather: a loop callback threw: %s", threw->c_str());
    }
}

void delete_callback(gpointer data) {
    delete static_cast<Callback*>(data);
}

// GLib keeps the callback data alive while it dispatches, so a handle destroyed from inside its
// own callback frees the std::function only after the callback returns.
class SourceHandle final : public LoopHandle {
public:
    explicit SourceHandle(GSource* source) : source_(source) {}
    ~SourceHandle() override {
        g_source_destroy(source_);
        g_source_unref(source_);
    }
    SourceHandle(const SourceHandle&) = delete;
    SourceHandle& operator=(const SourceHandle&) = delete;

    void let_recurse() noexcept { g_source_set_can_recurse(source_, TRUE); }

private:
    GSource* source_;
};

class GlibLoop final : public EventLoop {
public:
    explicit GlibLoop(GMainContext* context)
        : context_(g_main_context_ref(context ? context : g_main_context_default())) {}
    ~GlibLoop() override { g_main_context_unref(context_); }
    GlibLoop(const GlibLoop&) = delete;
    GlibLoop& operator=(const GlibLoop&) = delete;

    std::unique_ptr<LoopHandle> call_after(std::chrono::milliseconds delay,
                                           Callback callback) override {
        GSource* source = g_timeout_source_new(static_cast<guint>(delay.count()));
        g_source_set_callback(
            source,
            [](gpointer data) -> gboolean {
                run_guarded(*static_cast<Callback*>(data));
                return G_SOURCE_REMOVE;
            },
            new Callback(std::move(callback)), delete_callback);
        return attach(source);
    }

    std::unique_ptr<LoopHandle> watch_readable(int fd, Callback callback) override {
        return watch(fd, G_IO_IN, std::move(callback));
    }

    std::unique_ptr<LoopHandle> watch_writable(int fd, Callback callback) override {
        return watch(fd, G_IO_OUT, std::move(callback));
    }

private:
    std::unique_ptr<LoopHandle> watch(int fd, GIOCondition condition, Callback callback) {
        GSource* source =
            g_unix_fd_source_new(fd, static_cast<GIOCondition>(condition | G_IO_ERR | G_IO_HUP));
        g_source_set_callback(
            source,
            // GLib's own G_SOURCE_FUNC idiom: a GUnixFDSourceFunc through a generic pointer.
            reinterpret_cast<GSourceFunc>(
                reinterpret_cast<void (*)()>(+[](gint, GIOCondition, gpointer data) -> gboolean {
                    run_guarded(*static_cast<Callback*>(data));
                    return G_SOURCE_CONTINUE;
                })),
            new Callback(std::move(callback)), delete_callback);
        return attach(source);
    }

    std::unique_ptr<LoopHandle> attach(GSource* source) {
        g_source_set_priority(source, G_PRIORITY_DEFAULT);
        g_source_attach(source, context_);
        return std::make_unique<SourceHandle>(source);
    }

    GMainContext* context_;
};

} // namespace

std::unique_ptr<EventLoop> make_loop(GMainContext* context) {
    return std::make_unique<GlibLoop>(context);
}

} // namespace jgather::glib

namespace jgather::detail {

void let_recurse(LoopHandle& watch) noexcept {
    if (auto* source = dynamic_cast<glib::SourceHandle*>(&watch)) {
        source->let_recurse();
    }
}

} // namespace jgather::detail
