// The gatherer's lifecycle: bases, sources, the event queue, completion. The rules that turn
// findings into candidates are the Combiner's (combiner.hpp); the verdict is verdict.cpp's.
#include <algorithm>
#include <iterator>
#include <utility>
#include <variant>
#include <vector>

#include <jgather/gatherer.hpp>

#include "../loop/multiplex.hpp"
#include "../network/interface_monitor.hpp"
#include "../sources/host.hpp"
#include "../util/guard.hpp"
#include "../util/netns.hpp"
#include "../util/random.hpp"
#include "../util/unique_fd.hpp"
#include "combiner.hpp"
#include "event_pump.hpp"
#include "start_queue.hpp"

namespace jgather {

using Clock = std::chrono::steady_clock;

namespace {

// RFC 8445 §5.3: ufrag ≥ 24 random bits (we use 48), pwd ≥ 128 random bits (we use 144).
constexpr std::size_t kUfragLength = 8;
constexpr std::size_t kPwdLength = 24;

} // namespace

// Hidden: a nested class inherits the exported visibility of Gatherer otherwise.
class __attribute__((visibility("hidden"))) Gatherer::Private final : public detail::Deliverer {
public:
    Private(Gatherer& owner, EventLoop& loop, GatherOptions options)
        : owner_(owner), mux_(detail::MultiplexLoop::of(loop)), loop_(*mux_),
          options_(std::move(options)) {}

    ~Private() override {
        // Teardown order: nothing may call back into a half-destroyed gatherer, so the loop
        // handles go first, then the sources are stopped, then the provider stops reading.
        network_subscription_.reset();
        start_ticket_.reset();
        deadline_.reset();
        reaper_.reset();
        for (auto& slot : slots_) {
            if (slot->state == Slot::State::Running || slot->stop_pending) {
                slot->state = Slot::State::Ended;
                stop_source(*slot);
            }
        }
        if (receiving_) {
            provider_->receive(loop_, {});
        }
    }

    Result<void> gather();
    void cancel();

    // One per source: the sink it reports to. Ignores everything once the source has ended.
    class Slot final : public SourceSink, public detail::GatheringNetns {
    public:
        enum class State { NotStarted, Running, Ended };
        Slot(Private& d, std::unique_ptr<Source> s) : d_(d), source(std::move(s)) {}
        EventLoop& loop() override { return d_.loop_; }
        std::span<const Base> bases() const override { return d_.bases_; }
        std::span<const LocalAddress> local_addresses() const override {
            return d_.result_.local_addresses;
        }
        std::chrono::milliseconds time_left() const override { return d_.time_left(); }
        std::span<const DroppedAddress> unbound() const override { return d_.unbound_; }
        detail::Netns netns() const override { return d_.netns(); }
        void add_external_address(ExternalAddress address) override {
            if (reporting()) {
                d_.on_external_address(*this, std::move(address));
            }
        }
        void add_candidate(SourceCandidate candidate) override {
            if (reporting()) {
                d_.on_source_candidate(*this, std::move(candidate));
            }
        }
        void add_proxy(ProxyFinding proxy) override {
            if (reporting()) {
                d_.on_proxy(*this, std::move(proxy));
            }
        }
        void finish(SourceStatus status) override {
            if (reporting()) {
                d_.end_source(*this, status.state, std::move(status.error), false,
                              std::move(status.detail));
            }
        }
        Result<void> send_datagram(std::size_t base_index, std::span<const std::uint8_t> data,
                                   const TransportAddress& to) override {
            if (!reporting()) {
                return Error{"the source has ended"};
            }
            if (base_index >= d_.bases_.size()) {
                return Error{"base " + std::to_string(base_index) + " does not exist"};
            }
            return d_.provider_->send(base_index, data, to);
        }
        void receive_datagrams(DatagramHandler h) override {
            if (reporting()) {
                handler = std::move(h);
                d_.update_receiving();
            }
        }

        [[nodiscard]] bool reporting() const {
            return state == State::Running && d_.phase_ == GatherPhase::Running && !d_.decided_;
        }

        Private& d_;
        std::unique_ptr<Source> source;
        State state = State::NotStarted;
        bool stop_pending = false; // ended inside its own call: stop() runs from the loop
        DatagramHandler handler;
    };

    // A user event, queued in the order decided and delivered from the loop.
    struct Event {
        enum class Kind { Candidate, Superseded, SourceDone, Complete };
        using Pair = std::pair<Candidate, Candidate>;
        Kind kind;
        // Candidate: the candidate. Superseded: the old one and its replacement. SourceDone:
        // its report's index in result_.sources, where reports are kept in the order of the
        // events anyway. Candidates boxed: an event is three words, not a candidate big, and the
        // queue of a burst of gatherings (a host candidate and a report each) holds no slack.
        std::variant<std::monostate, std::unique_ptr<Candidate>, std::unique_ptr<Pair>, std::size_t>
            payload;

        static Event added(Candidate c) {
            return {Kind::Candidate, std::make_unique<Candidate>(std::move(c))};
        }
        static Event superseded(Candidate old, Candidate replacement) {
            return {Kind::Superseded,
                    std::make_unique<Pair>(std::move(old), std::move(replacement))};
        }
        static Event complete() { return {Kind::Complete, std::monostate{}}; }
    };

    Gatherer& owner_;
    // Every timer and watch of the gathering (and of its sources, through SourceSink::loop())
    // rides on the loop's multiplexer: two sources on the caller's loop for all gatherings.
    std::shared_ptr<detail::MultiplexLoop> mux_;
    EventLoop& loop_;
    GatherOptions options_;
    GatherPhase phase_ = GatherPhase::Idle;
    std::unique_ptr<BaseProvider> provider_ = make_socket_bases();
    std::vector<std::unique_ptr<Slot>> slots_;
    // From gather() to completion; on the heap, so that a completed gathering kept alive does
    // not keep its room either (release_combiner()).
    std::unique_ptr<detail::Combiner> combiner_;
    std::vector<Base> bases_;
    std::vector<DroppedAddress> unbound_; // usable addresses the provider could not open
    std::vector<std::vector<std::pair<TransportAddress, std::vector<std::uint8_t>>>> unclaimed_;
    detail::UniqueFd s5b_listener_;
    // The candidate lists live in the combiner; result_ copies them when read (sync()).
    mutable GatherResult result_;
    mutable bool stale_ = false;
    void sync() const;
    void release_combiner();
    // Events not yet delivered: queue_[queue_head_] onwards. A vector whose capacity serves the
    // gathering's next batch (a deque allocates per event: an event is larger than its blocks).
    std::vector<Event> queue_;
    std::size_t queue_head_ = 0;
    void post_report(SourceReport report);
    bool delivering_ = false;
    bool decided_ = false; // the result is final; on_complete is queued
    bool delivered_complete_ = false;
    bool receiving_ = false;
    std::shared_ptr<detail::EventPump> pump_; // the loop's (from gather() on)
    bool pump_scheduled_ = false;
    // The sources start from the first delivery, right after the host events: no loop
    // iteration (and no GSource) of their own.
    bool sources_pending_ = false;
    std::unique_ptr<LoopHandle> deadline_;
    std::unique_ptr<LoopHandle> reaper_;
    // The loop's interface monitor (when enumerating): held for the gatherer's life, so that a
    // burst of gatherings shares one dump and one netlink socket.
    std::shared_ptr<detail::InterfaceMonitor> monitor_;
    std::unique_ptr<detail::InterfaceMonitor::Subscription> network_subscription_;
    // Fair starts: the sources start in the loop's StartQueue turn, not in the first delivery.
    std::shared_ptr<detail::StartQueue> start_queue_;
    std::unique_ptr<detail::StartQueue::Ticket> start_ticket_;
    Clock::time_point start_;
    // The namespace of the thread that called gather(): the one its sockets are opened in, and
    // the one its sources learn about (server health), even if the thread moves on before the
    // loop starts them. Read once, in gather(), when the monitor or a source will ask.
    std::optional<detail::Netns> netns_;
    detail::Netns netns() const { return netns_ ? *netns_ : detail::current_netns(); }
    // Lets a callback destroy the gatherer: the delivery loop checks it after each callback.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

private:
    Result<void> validate() const;
    std::chrono::microseconds since_start() const {
        return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_);
    }
    std::chrono::milliseconds time_left() const {
        const auto left = options_.deadline - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  Clock::now() - start_);
        return std::max(left, std::chrono::milliseconds(0));
    }

    void post(Event event);
    void deliver() override;
    void apply(detail::Changes changes); // taken: its candidates and reasons move on
    void start_sources();
    void start_turn();
    void on_external_address(Slot& slot, ExternalAddress address);
    void on_source_candidate(Slot& slot, SourceCandidate found);
    void on_proxy(Slot& slot, ProxyFinding proxy);
    // Ends a source and queues its report. With @p stop (the gatherer ends it, from inside one
    // of the source's own calls), its stop() is deferred to the loop: never on its own stack.
    void end_source(Slot& slot, SourceState state, std::string why, bool stop = false,
                    std::string detail = {});
    void reject(Slot& slot, const std::string& why);
    void stop_source(Slot& slot);
    void reap();
    void end_all(SourceState state, const std::string& why);
    void maybe_complete();
    void complete();
    void abort(const std::string& why);
    void update_receiving();
    void dispatch(const Datagram& datagram);
    void network_changed(const NetworkChange& change);
};

Result<void> Gatherer::Private::validate() const {
    if (!options_.ice && !options_.s5b) {
        return Error{"nothing to gather: both ICE-UDP and SOCKS5 are disabled"};
    }
    if (options_.components < 1 || options_.components > 256) {
        return Error{"components must be 1-256 (RFC 8445 §5.1.2.1), not " +
                     std::to_string(options_.components)};
    }
    if (options_.deadline <= std::chrono::milliseconds(0)) {
        return Error{"the deadline must be positive"};
    }
    if (options_.host.port_min > options_.host.port_max ||
        (options_.host.port_min == 0) != (options_.host.port_max == 0)) {
        return Error{"port range " + std::to_string(options_.host.port_min) + "-" +
                     std::to_string(options_.host.port_max) + " is invalid"};
    }
    if (options_.s5b_port && *options_.s5b_port == 0) {
        return Error{"the SOCKS5 port must be 1-65535"};
    }
    if (options_.generation > 255) {
        return Error{"the generation must be 0-255 (XEP-0176: an xs:unsignedByte), not " +
                     std::to_string(options_.generation)};
    }
    if (options_.s5b && options_.jid.empty()) {
        return Error{"SOCKS5 candidates need GatherOptions::jid, the offering entity's full JID "
                     "(XEP-0065 §5.3.1)"};
    }
    return {};
}

Result<void> Gatherer::Private::gather() {
    if (phase_ != GatherPhase::Idle || start_ != Clock::time_point{}) {
        return Error{"gather() was already called on this gatherer"};
    }
    if (auto valid = validate(); !valid) {
        return valid;
    }
    start_ = Clock::now();
    pump_ = detail::EventPump::of(loop_);
    const bool enumerating = !options_.host.addresses;
    if (enumerating || !slots_.empty()) {
        netns_ = detail::current_netns();
    }
    if (enumerating) {
        // The loop's monitor knows the addresses: no dump of our own (one per loop, at first use).
        auto monitor = detail::InterfaceMonitor::of(mux_->base(), netns());
        if (!monitor) {
            return monitor.error();
        }
        monitor_ = std::move(monitor.value());
        options_.host.addresses = monitor_->recent_addresses();
    }
    auto provided = provider_->open(options_);
    if (enumerating) {
        options_.host.addresses.reset(); // the application gave none: changes concern us
    }
    if (!provided) {
        return provided.error();
    }
    if (provided->credentials) { // the agent that owns the sockets checks with its own
        result_.ufrag = std::move(provided->credentials->ufrag);
        result_.pwd = std::move(provided->credentials->pwd);
    } else {
        result_.ufrag = detail::random_ice_chars(kUfragLength);
        result_.pwd = detail::random_ice_chars(kPwdLength);
    }
    result_.local_addresses = std::move(provided->local_addresses);
    result_.dropped = std::move(provided->dropped);
    bases_ = std::move(provided->bases);
    unbound_ = std::move(provided->unbound);
    unclaimed_.resize(bases_.size());

    if (options_.s5b) {
        if (options_.s5b_port) {
            result_.s5b_port = *options_.s5b_port;
        } else if (auto listener = detail::listen_tcp_any(); listener) {
            result_.s5b_port = listener->port;
            s5b_listener_ = std::move(listener->fd);
        } else {
            return Error{"cannot open the SOCKS5 listener: " + listener.error().message};
        }
    }
    combiner_ = std::make_unique<detail::Combiner>(
        detail::CombinerSetup{options_.ice, options_.s5b, options_.jid, result_.s5b_port, bases_,
                              result_.local_addresses, options_.relay_only, options_.generation});
    if (monitor_ && owner_.on_network_change) {
        network_subscription_ =
            monitor_->subscribe([this](const NetworkChange& change) { network_changed(change); });
    }
    phase_ = GatherPhase::Running;
    // Host candidates are known now; like every event they are delivered from the loop.
    apply(combiner_->add_hosts());
    // Ok with the bases it has; the addresses it could not open are said (the system's reason),
    // so that a family without a base is never a mystery.
    std::string not_opened;
    for (const DroppedAddress& d : unbound_) {
        not_opened +=
            (not_opened.empty() ? "not opened: " : "; ") + d.address + " (" + d.reason + ")";
    }
    result_.sources.reserve(1 + slots_.size());
    post_report({provider_->name(), SourceState::Ok, {}, since_start(), std::move(not_opened)});
    sources_pending_ = true; // queued by deliver(), which post() scheduled
    if (!slots_.empty()) {
        start_queue_ = detail::StartQueue::of(loop_);
    }
    deadline_ = loop_.call_after(options_.deadline, [this] {
        deadline_.reset();
        end_all(SourceState::TimedOut, "the gathering's deadline passed");
    });
    return {};
}

void Gatherer::Private::post_report(SourceReport report) {
    if (delivered_complete_) {
        return;
    }
    result_.sources.push_back(std::move(report)); // in the order of the events
    post({Event::Kind::SourceDone, result_.sources.size() - 1});
}

void Gatherer::Private::post(Event event) {
    if (delivered_complete_) {
        return;
    }
    queue_.push_back(std::move(event));
    if (!pump_scheduled_ && !delivering_) {
        pump_scheduled_ = true;
        pump_->schedule(*this, alive_);
    }
}

void Gatherer::Private::deliver() {
    pump_scheduled_ = false;
    delivering_ = true;
    const std::weak_ptr<bool> alive = alive_;
    for (;;) {
        if (queue_head_ == queue_.size()) {
            queue_.clear(); // the capacity stays for the next batch
            queue_head_ = 0;
            if (!sources_pending_) {
                break;
            }
            if (!start_queue_) {
                start_sources(); // nothing to start: completes in this same pass
                continue;
            }
            if (!start_ticket_) {
                // The sources start in this loop's turn: a burst of gatherings starts in
                // slices, with the answers to earlier ones read in between.
                start_ticket_ = start_queue_->enqueue([this] { start_turn(); });
            }
            break;
        }
        // Moved out: a callback may destroy the gatherer, or post (and so grow the queue).
        const Event event = std::move(queue_[queue_head_++]);
        std::optional<std::string> threw;
        const char* which = "";
        // Each callback is called through a copy: one that destroys the gatherer (and so the
        // std::function it runs in) may still use its captures afterwards.
        switch (event.kind) {
        case Event::Kind::Candidate:
            which = "on_candidate";
            if (auto callback = owner_.on_candidate) {
                const Candidate& candidate = *std::get<std::unique_ptr<Candidate>>(event.payload);
                threw = detail::contain([&] { callback(candidate); });
            }
            break;
        case Event::Kind::Superseded:
            which = "on_candidate_superseded";
            if (auto callback = owner_.on_candidate_superseded) {
                const Event::Pair& pair = *std::get<std::unique_ptr<Event::Pair>>(event.payload);
                threw = detail::contain([&] { callback(pair.first, pair.second); });
            }
            break;
        case Event::Kind::SourceDone:
            which = "on_source_done";
            if (auto callback = owner_.on_source_done) {
                // A copy: a callback that cancels adds reports (and may reallocate the list).
                const SourceReport report = result_.sources[std::get<std::size_t>(event.payload)];
                threw = detail::contain([&] { callback(report); });
            }
            break;
        case Event::Kind::Complete:
            which = "on_complete";
            delivered_complete_ = true;
            phase_ = GatherPhase::Complete;
            result_.complete = true;
            release_combiner();
            std::vector<Event>().swap(queue_); // nothing follows: the memory goes too
            queue_head_ = 0;
            if (auto callback = owner_.on_complete) {
                const GatherResult& result = result_;
                threw = detail::contain([&] { callback(result); });
            }
            break;
        }
        if (alive.expired()) {
            return; // a callback destroyed the gatherer: touch nothing
        }
        if (threw) {
            abort(std::string(which) + " threw: " + *threw);
        }
    }
    delivering_ = false;
}

void Gatherer::Private::release_combiner() {
    // Complete: no source reports any more (Slot::reporting()), so the lists are final. Moved,
    // not copied, and the combiner's own state (its ids, the foundations) goes now, not with the
    // gatherer: a thousand completed gatherings kept alive hold only their results.
    if (!combiner_) {
        return;
    }
    auto lists = std::move(*combiner_).release();
    result_.ice = std::move(lists.ice);
    result_.s5b = std::move(lists.s5b);
    result_.external_addresses = std::move(lists.external_addresses);
    combiner_.reset();
    stale_ = false;
}

void Gatherer::Private::sync() const {
    if (stale_ && combiner_) {
        result_.ice = combiner_->ice();
        result_.s5b = combiner_->s5b();
        result_.external_addresses = combiner_->external_addresses();
        stale_ = false;
    }
}

void Gatherer::Private::apply(detail::Changes changes) {
    stale_ = stale_ || !changes.added.empty() || !changes.superseded.empty() ||
             combiner_->external_addresses().size() != result_.external_addresses.size();
    result_.dropped.insert(result_.dropped.end(), std::make_move_iterator(changes.dropped.begin()),
                           std::make_move_iterator(changes.dropped.end()));
    for (Candidate& c : changes.added) {
        post(Event::added(std::move(c)));
    }
    for (auto& [old, replacement] : changes.superseded) {
        post(Event::superseded(std::move(old), std::move(replacement)));
    }
}

void Gatherer::Private::start_turn() {
    start_ticket_.reset();
    if (!sources_pending_ || phase_ != GatherPhase::Running || decided_) {
        return;
    }
    delivering_ = true; // what they report at once is delivered right after, in this turn
    start_sources();
    delivering_ = false;
    deliver();
}

void Gatherer::Private::start_sources() {
    sources_pending_ = false;
    for (auto& slot : slots_) {
        if (phase_ != GatherPhase::Running || decided_) {
            return; // a source completed or cancelled the gathering from its start()
        }
        slot->state = Slot::State::Running;
        Slot& s = *slot;
        if (auto threw = detail::contain([&s] { s.source->start(s); })) {
            if (s.state == Slot::State::Running) {
                end_source(s, SourceState::Failed, "start() threw: " + *threw, true);
            }
        }
    }
    maybe_complete();
}

void Gatherer::Private::on_external_address(Slot& slot, ExternalAddress address) {
    auto changes = combiner_->add_external(address);
    if (!changes) {
        result_.dropped.push_back(
            {address.ip.unmapped().to_string(), "",
             "from " + address.origin.to_string() + ": " + changes.error().message});
        reject(slot, changes.error().message);
        return;
    }
    apply(std::move(*changes));
}

void Gatherer::Private::on_source_candidate(Slot& slot, SourceCandidate found) {
    const TransportAddress address = found.address;
    const std::string name = slot.source->name();
    auto changes = combiner_->add_source_candidate(name, std::move(found));
    if (!changes) {
        result_.dropped.push_back({address.to_string(), "", name + " " + changes.error().message});
        reject(slot, changes.error().message);
        return;
    }
    apply(std::move(*changes));
}

void Gatherer::Private::on_proxy(Slot& slot, ProxyFinding proxy) {
    const std::string text = proxy.address.to_string();
    const std::string name = slot.source->name();
    auto changes = combiner_->add_proxy(std::move(proxy));
    if (!changes) {
        result_.dropped.push_back({text, "", name + " " + changes.error().message});
        reject(slot, changes.error().message);
        return;
    }
    apply(std::move(*changes));
}

void Gatherer::Private::reject(Slot& slot, const std::string& why) {
    end_source(slot, SourceState::Failed, why, true);
}

void Gatherer::Private::end_source(Slot& slot, SourceState state, std::string why, bool stop,
                                   std::string detail) {
    slot.state = Slot::State::Ended;
    slot.handler = nullptr;
    if (stop) {
        slot.stop_pending = true;
        if (!reaper_) {
            reaper_ = loop_.call_after(std::chrono::milliseconds(0), [this] { reap(); });
        }
    }
    post_report({slot.source->name(), state, std::move(why), since_start(), std::move(detail)});
    update_receiving();
    maybe_complete();
}

void Gatherer::Private::stop_source(Slot& slot) {
    slot.stop_pending = false;
    slot.handler = nullptr;
    Source& source = *slot.source;
    (void)detail::contain([&source] { source.stop(); }); // nothing is left to report it to
}

void Gatherer::Private::reap() {
    reaper_.reset();
    for (auto& slot : slots_) {
        if (slot->stop_pending) {
            stop_source(*slot);
        }
    }
}

void Gatherer::Private::end_all(SourceState state, const std::string& why) {
    sources_pending_ = false;
    start_ticket_.reset();
    for (auto& slot : slots_) {
        if (slot->state == Slot::State::Ended) {
            continue;
        }
        const bool was_running = slot->state == Slot::State::Running;
        slot->state = Slot::State::Ended;
        if (was_running) {
            stop_source(*slot);
        }
        post_report({slot->source->name(), state, why, since_start(), {}});
    }
    update_receiving();
    complete();
}

void Gatherer::Private::maybe_complete() {
    if (phase_ != GatherPhase::Running || decided_ || sources_pending_) {
        return;
    }
    const bool all_done = std::all_of(slots_.begin(), slots_.end(), [](const auto& slot) {
        return slot->state == Slot::State::Ended;
    });
    if (all_done) {
        complete();
    }
}

void Gatherer::Private::complete() {
    if (decided_) {
        return;
    }
    decided_ = true;
    deadline_.reset();
    sources_pending_ = false;
    result_.network = combiner_->verdict();
    result_.elapsed = since_start();
    post(Event::complete());
}

void Gatherer::Private::cancel() {
    if (phase_ != GatherPhase::Running || decided_) {
        return;
    }
    phase_ = GatherPhase::Cancelling;
    end_all(SourceState::Cancelled, "the gathering was cancelled");
}

void Gatherer::Private::abort(const std::string& why) {
    if (result_.error.empty()) {
        result_.error = why;
    }
    if (phase_ == GatherPhase::Running && !decided_) {
        phase_ = GatherPhase::Cancelling;
        end_all(SourceState::Cancelled, "the gathering ended: " + why);
    }
}

void Gatherer::Private::update_receiving() {
    const bool wanted = phase_ == GatherPhase::Running && !decided_ &&
                        std::any_of(slots_.begin(), slots_.end(), [](const auto& slot) {
                            return slot->state == Slot::State::Running && slot->handler;
                        });
    if (wanted == receiving_) {
        return;
    }
    receiving_ = wanted;
    if (wanted) {
        provider_->receive(loop_, [this](const Datagram& datagram) { dispatch(datagram); });
    } else {
        provider_->receive(loop_, {});
    }
}

void Gatherer::Private::dispatch(const Datagram& datagram) {
    for (auto& slot : slots_) {
        if (!slot->reporting() || !slot->handler) {
            continue;
        }
        bool claimed = false;
        Slot& s = *slot;
        if (auto threw = detail::contain([&] { claimed = s.handler(datagram); })) {
            if (s.reporting()) {
                end_source(s, SourceState::Failed, "threw reading a datagram: " + *threw, true);
            }
            continue;
        }
        if (claimed) {
            return;
        }
    }
    // Nobody's: keep it for whoever takes the socket (an early check from a trickling peer).
    ++result_.unclaimed_datagrams;
    if (datagram.base_index < unclaimed_.size() &&
        unclaimed_[datagram.base_index].size() < kMaxUnclaimedDatagrams) {
        unclaimed_[datagram.base_index].emplace_back(
            datagram.from, std::vector<std::uint8_t>(datagram.data.begin(), datagram.data.end()));
    }
}

void Gatherer::Private::network_changed(const NetworkChange& change) {
    const auto is_base = [this](const LocalAddress& address) {
        return std::any_of(bases_.begin(), bases_.end(), [&](const Base& base) {
            return base.local.ip == address.ip &&
                   base.local.interface_index == address.interface_index;
        });
    };
    NetworkChange mine;
    std::vector<LocalAddress> maybe_usable;
    for (const LocalAddress& address : change.removed) {
        if (is_base(address)) {
            mine.removed.push_back(address);
        }
    }
    for (const LocalAddress& address : change.changed) {
        if (!is_base(address)) {
            maybe_usable.push_back(address);
        } else if (!address.up || address.dad_failed) {
            mine.removed.push_back(address); // still listed, but nothing reaches it
        } else {
            mine.changed.push_back(address);
        }
    }
    maybe_usable.insert(maybe_usable.end(), change.added.begin(), change.added.end());
    if (!maybe_usable.empty()) {
        // Usable as this gathering would judge it now (its HostOptions, the whole list: the
        // privacy rule looks at the neighbours).
        std::optional<detail::HostSelection> selection;
        (void)detail::contain([&] {
            selection = detail::select_host_addresses(monitor_->addresses(), options_.host);
        });
        for (const detail::UsableAddress& usable :
             selection ? selection->usable : std::vector<detail::UsableAddress>{}) {
            const bool news =
                std::any_of(maybe_usable.begin(), maybe_usable.end(), [&](const LocalAddress& a) {
                    return a.ip == usable.local.ip &&
                           a.interface_index == usable.local.interface_index;
                });
            if (news && !is_base(usable.local)) {
                mine.added.push_back(usable.local);
            }
        }
    }
    auto callback = owner_.on_network_change; // a copy: the callback may destroy the gatherer
    if (mine.empty() || !callback) {
        return;
    }
    const std::weak_ptr<bool> alive = alive_;
    auto threw = detail::contain([&] { callback(mine); });
    if (!alive.expired() && threw && phase_ == GatherPhase::Running && !decided_) {
        abort("on_network_change threw: " + *threw); // nothing to end once complete
    }
}

Gatherer::Gatherer(EventLoop& loop, GatherOptions options)
    : d_(std::make_unique<Private>(*this, loop, std::move(options))) {}

Gatherer::~Gatherer() = default;

void Gatherer::add_source(std::unique_ptr<Source> source) {
    if (d_->phase_ == GatherPhase::Idle && source) {
        d_->slots_.push_back(std::make_unique<Private::Slot>(*d_, std::move(source)));
    }
}

void Gatherer::set_base_provider(std::unique_ptr<BaseProvider> provider) {
    if (d_->phase_ == GatherPhase::Idle && provider) {
        d_->provider_ = std::move(provider);
    }
}

Result<void> Gatherer::gather() {
    return d_->gather();
}

void Gatherer::cancel() {
    d_->cancel();
}

bool Gatherer::complete() const {
    return d_->result_.complete;
}

GatherPhase Gatherer::phase() const {
    return d_->phase_;
}

const GatherResult& Gatherer::result() const {
    d_->sync();
    return d_->result_;
}

std::span<const Base> Gatherer::bases() const {
    return d_->bases_;
}

std::vector<OwnedSocket> Gatherer::take_sockets() {
    if (!d_->result_.complete) {
        return {};
    }
    std::vector<OwnedSocket> sockets = d_->provider_->take_sockets();
    for (OwnedSocket& socket : sockets) {
        for (std::size_t i = 0; i < d_->bases_.size(); ++i) {
            if (d_->bases_[i].address() == socket.address &&
                d_->bases_[i].component == socket.component) {
                socket.unclaimed = std::move(d_->unclaimed_[i]);
            }
        }
    }
    return sockets;
}

int Gatherer::take_s5b_listener() {
    return d_->s5b_listener_.release();
}

std::string_view to_string(GatherPhase phase) noexcept {
    switch (phase) {
    case GatherPhase::Idle:
        return "idle";
    case GatherPhase::Running:
        return "running";
    case GatherPhase::Cancelling:
        return "cancelling";
    case GatherPhase::Complete:
        return "complete";
    }
    return "idle";
}

} // namespace jgather
