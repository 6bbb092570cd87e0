// GIO's GResolver as an s5b::Resolver: the answer is delivered on the caller's context, and a
// destroyed handle cancels the lookup and silences its callback.
#include <memory>
#include <utility>

#include <gio/gio.h>

#include <jgather/glib.hpp>

#include "../util/guard.hpp"

namespace jgather::glib {
namespace {

using Done = std::function<void(std::vector<IpAddress>, std::string)>;

struct Lookup {
    Done done; // cleared when the handle goes first
    GCancellable* cancellable = g_cancellable_new();
    ~Lookup() { g_object_unref(cancellable); }
};

class LookupHandle final : public LoopHandle {
public:
    explicit LookupHandle(std::shared_ptr<Lookup> lookup) : lookup_(std::move(lookup)) {}
    ~LookupHandle() override {
        lookup_->done = nullptr;
        g_cancellable_cancel(lookup_->cancellable);
    }
    LookupHandle(const LookupHandle&) = delete;
    LookupHandle& operator=(const LookupHandle&) = delete;

private:
    std::shared_ptr<Lookup> lookup_;
};

void on_lookup(GObject* resolver, GAsyncResult* result, gpointer data) {
    std::unique_ptr<std::shared_ptr<Lookup>> lookup(static_cast<std::shared_ptr<Lookup>*>(data));
    GError* error = nullptr;
    GList* found = g_resolver_lookup_by_name_finish(G_RESOLVER(resolver), result, &error);
    std::vector<IpAddress> addresses;
    for (GList* i = found; i != nullptr; i = i->next) {
        gchar* text = g_inet_address_to_string(G_INET_ADDRESS(i->data));
        if (auto ip = IpAddress::parse(text)) {
            addresses.push_back(ip->unmapped());
        }
        g_free(text);
    }
    g_resolver_free_addresses(found);
    const std::string why = error ? error->message : "";
    if (error != nullptr) {
        g_error_free(error);
    }
    // The callback may destroy the handle, and with it the last other reference.
    if (Done done = std::move((*lookup)->done)) {
        if (auto threw = detail::contain([&] { done(std::move(addresses), why); })) {
            g_critical("jgather: a resolver callback threw: %s", threw->c_str());
        }
    }
}

} // namespace

s5b::Resolver make_resolver(GMainContext* context) {
    GMainContext* owned = g_main_context_ref(context ? context : g_main_context_default());
    std::shared_ptr<GMainContext> keep(owned, g_main_context_unref);
    return [keep](const std::string& host, Done done) -> std::unique_ptr<LoopHandle> {
        auto lookup = std::make_shared<Lookup>();
        lookup->done = std::move(done);
        GResolver* resolver = g_resolver_get_default();
        // The callback runs on the thread-default context at the time of the call.
        g_main_context_push_thread_default(keep.get());
        g_resolver_lookup_by_name_async(resolver, host.c_str(), lookup->cancellable, on_lookup,
                                        new std::shared_ptr<Lookup>(lookup));
        g_main_context_pop_thread_default(keep.get());
        g_object_unref(resolver);
        return std::make_unique<LookupHandle>(std::move(lookup));
    };
}

} // namespace jgather::glib
