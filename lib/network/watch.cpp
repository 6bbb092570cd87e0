// NetworkWatch: the application's view of the loop's interface monitor.
#include <jgather/network.hpp>

#include "interface_monitor.hpp"

namespace jgather {

class NetworkWatch::Private {
public:
    std::shared_ptr<detail::InterfaceMonitor> monitor;
    std::unique_ptr<detail::InterfaceMonitor::Subscription> subscription;
};

NetworkWatch::NetworkWatch() : d_(std::make_unique<Private>()) {}

NetworkWatch::~NetworkWatch() = default;

Result<std::unique_ptr<NetworkWatch>> NetworkWatch::start(EventLoop& loop, Callback on_change) {
    auto monitor = detail::InterfaceMonitor::of(loop);
    if (!monitor) {
        return monitor.error();
    }
    std::unique_ptr<NetworkWatch> watch(new NetworkWatch());
    watch->d_->monitor = std::move(monitor.value());
    // The callback is called through a copy: the watch may be destroyed from inside it.
    watch->d_->subscription = watch->d_->monitor->subscribe(
        [callback = std::move(on_change)](const NetworkChange& change) {
            if (auto copy = callback) {
                copy(change);
            }
        });
    return watch;
}

std::vector<LocalAddress> NetworkWatch::addresses() const {
    return d_->monitor->addresses();
}

} // namespace jgather
