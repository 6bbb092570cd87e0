#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <jgather/gatherer.hpp>

#include "../sources/host.hpp"
#include "../sources/netlink.hpp"
#include "../util/random.hpp"
#include "../util/unique_fd.hpp"
#include "rules.hpp"

namespace jgather {

using Clock = std::chrono::steady_clock;
using detail::UniqueFd;

namespace {

// RFC 8445 §5.3: ufrag ≥ 24 random bits (we use 48), pwd ≥ 128 random bits (we use 144).
constexpr std::size_t kUfragLength = 8;
constexpr std::size_t kPwdLength = 24;
// Candidate ids / cids: 8 symbols of 5 bits, unique within a gathering.
constexpr std::size_t kIdLength = 8;

bool by_priority(const Candidate& a, const Candidate& b) {
    return a.priority > b.priority;
}

} // namespace

// Hidden: a nested class inherits the exported visibility of Gatherer otherwise.
class __attribute__((visibility("hidden"))) Gatherer::Private {
public:
    Private(Gatherer& owner, EventLoop& loop, GatherOptions options)
        : owner_(owner), loop_(loop), options_(std::move(options)) {}

    ~Private() {
        // Teardown order: stop what could call back, then free.
        kick_.reset();
        deadline_.reset();
        completion_.reset();
        for (auto& slot : slots_) {
            if (!slot->finished) {
                slot->finished = true;
                slot->source->stop();
            }
        }
    }

    Result<void> gather();
    void cancel();

    // One per source: the sink it reports to. Ignores everything after the source finished.
    class Slot final : public SourceSink {
    public:
        Slot(Private& d, std::unique_ptr<Source> s) : d_(d), source(std::move(s)) {}
        EventLoop& loop() override { return d_.loop_; }
        std::span<const Base> bases() const override { return d_.bases_; }
        std::span<const LocalAddress> local_addresses() const override {
            return d_.result_.local_addresses;
        }
        std::chrono::milliseconds time_left() const override { return d_.time_left(); }
        void add_external_address(ExternalAddress address) override {
            if (!finished && !d_.result_.complete) {
                d_.on_external_address(std::move(address));
            }
        }
        void add_candidate(SourceCandidate candidate) override {
            if (!finished && !d_.result_.complete) {
                d_.on_source_candidate(*this, std::move(candidate));
            }
        }
        void finish(SourceStatus status) override {
            if (!finished && !d_.result_.complete) {
                d_.on_source_finished(*this, std::move(status));
            }
        }

        Private& d_;
        std::unique_ptr<Source> source;
        bool finished = false;
    };

    Gatherer& owner_;
    EventLoop& loop_;
    GatherOptions options_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<Base> bases_;
    std::vector<UniqueFd> base_sockets_;
    UniqueFd s5b_listener_;
    std::vector<detail::UsableAddress> usable_;
    GatherResult result_;
    detail::FoundationTable foundations_;
    std::set<std::string> ids_;
    std::set<std::string> guessed_ids_; // srflx derived from an external address, not verified
    std::set<Family> no_nat_families_;  // families with a mapping equal to its base
    SourceReport host_report_;
    std::unique_ptr<LoopHandle> kick_;
    std::unique_ptr<LoopHandle> deadline_;
    std::unique_ptr<LoopHandle> completion_;
    Clock::time_point start_;
    bool started_ = false;
    bool cancelled_ = false;
    // Lets a callback destroy the gatherer: whoever called it checks this token afterwards.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

private:
    Result<void> validate() const;
    void prepare_host();
    void start_sources();
    std::chrono::microseconds since_start() const {
        return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_);
    }
    std::chrono::milliseconds time_left() const {
        const auto left = options_.deadline - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  Clock::now() - start_);
        return std::max(left, std::chrono::milliseconds(0));
    }
    std::string new_id();
    // Each returns false when a callback destroyed the gatherer; the caller must return at once.
    [[nodiscard]] bool emit(Candidate candidate);
    [[nodiscard]] bool report(const SourceReport& report);
    void on_external_address(ExternalAddress address);
    void on_source_candidate(Slot& slot, SourceCandidate found);
    void on_source_finished(Slot& slot, SourceStatus status);
    void end_unfinished(SourceState state, const std::string& why);
    void maybe_complete();
    void complete();
    NetworkVerdict judge_network() const;
    const Candidate* find_redundant(const std::vector<Candidate>& list, const Candidate& c) const;
    void drop(std::string address, std::string interface, std::string reason) {
        result_.dropped.push_back({std::move(address), std::move(interface), std::move(reason)});
    }
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
    if (options_.s5b && options_.jid.empty()) {
        return Error{"SOCKS5 candidates need a JID"};
    }
    return {};
}

Result<void> Gatherer::Private::gather() {
    if (started_) {
        return Error{"gather() was already called on this gatherer"};
    }
    if (auto valid = validate(); !valid) {
        return valid;
    }
    started_ = true;
    start_ = Clock::now();
    result_.ufrag = detail::random_ice_chars(kUfragLength);
    result_.pwd = detail::random_ice_chars(kPwdLength);
    prepare_host();
    // Everything else happens on the loop, so no callback runs inside gather().
    kick_ = loop_.call_after(std::chrono::milliseconds(0), [this] { start_sources(); });
    deadline_ = loop_.call_after(options_.deadline, [this] {
        end_unfinished(SourceState::TimedOut, "the gathering's deadline passed");
    });
    return {};
}

void Gatherer::Private::prepare_host() {
    host_report_.name = "host";
    if (options_.host.addresses) {
        result_.local_addresses = *options_.host.addresses;
    } else if (auto enumerated = detail::enumerate_local_addresses(); enumerated) {
        result_.local_addresses = std::move(enumerated.value());
    } else {
        host_report_.state = SourceState::Failed;
        host_report_.error = enumerated.error().message;
    }
    auto selection = detail::select_host_addresses(result_.local_addresses, options_.host);
    result_.dropped = std::move(selection.dropped);

    if (options_.s5b) {
        if (options_.s5b_port) {
            result_.s5b_port = *options_.s5b_port;
        } else if (auto listener = detail::listen_tcp_any(); listener) {
            result_.s5b_port = listener->port;
            s5b_listener_ = std::move(listener->fd);
        } else {
            host_report_.state = SourceState::Failed;
            host_report_.error = listener.error().message;
        }
    }

    for (const detail::UsableAddress& usable : selection.usable) {
        bool bound_all = true;
        if (options_.ice) {
            for (unsigned component = 1; component <= options_.components; ++component) {
                auto bound =
                    detail::bind_udp(usable.local, options_.host.port_min, options_.host.port_max);
                if (!bound) {
                    drop(usable.local.ip.to_string(), usable.local.interface,
                         bound.error().message);
                    bound_all = false;
                    break;
                }
                bases_.push_back({usable.local, component, bound->port, bound->fd.get(),
                                  usable.local_preference});
                base_sockets_.push_back(std::move(bound->fd));
            }
        }
        if (!bound_all) {
            // A base set without every component is useless to ICE (RFC 8445 §5.1.1.1).
            while (!bases_.empty() && bases_.back().local.ip == usable.local.ip) {
                bases_.pop_back();
                base_sockets_.pop_back();
            }
            continue;
        }
        usable_.push_back(usable);
    }
    host_report_.elapsed = since_start();
}

std::string Gatherer::Private::new_id() {
    for (;;) {
        std::string id = detail::random_alnum(kIdLength);
        if (ids_.insert(id).second) {
            return id;
        }
    }
}

bool Gatherer::Private::emit(Candidate candidate) {
    auto& list = candidate.transport == Transport::IceUdp ? result_.ice : result_.s5b;
    list.insert(std::upper_bound(list.begin(), list.end(), candidate, by_priority), candidate);
    if (!owner_.on_candidate) {
        return true;
    }
    const std::weak_ptr<bool> alive = alive_;
    owner_.on_candidate(candidate);
    return !alive.expired();
}

bool Gatherer::Private::report(const SourceReport& source_report) {
    result_.sources.push_back(source_report);
    if (!owner_.on_source_done) {
        return true;
    }
    const std::weak_ptr<bool> alive = alive_;
    owner_.on_source_done(source_report);
    return !alive.expired();
}

void Gatherer::Private::start_sources() {
    kick_.reset();
    // Host candidates first, at once (trickle): they need nothing from anyone.
    for (const Base& base : bases_) {
        Candidate c;
        c.transport = Transport::IceUdp;
        c.host = base.local.ip.to_string();
        c.port = base.port;
        c.priority = detail::ice_priority(IceType::Host, base.local_preference, base.component);
        c.ice.component = base.component;
        c.ice.foundation = foundations_.get(IceType::Host, base.local.ip, "");
        c.ice.id = new_id();
        c.ice.network = base.local.interface_index;
        c.ice.type = IceType::Host;
        c.origin = {"host", base.local.interface};
        c.interface = base.local.interface;
        if (!emit(std::move(c))) {
            return;
        }
    }
    if (options_.s5b && result_.s5b_port != 0) {
        for (const detail::UsableAddress& usable : usable_) {
            Candidate c;
            c.transport = Transport::Socks5;
            c.host = usable.local.ip.to_string();
            c.port = result_.s5b_port;
            c.priority = detail::s5b_priority(S5bType::Direct, usable.local_preference);
            c.s5b = {new_id(), options_.jid, S5bType::Direct};
            c.origin = {"host", usable.local.interface};
            c.interface = usable.local.interface;
            if (!emit(std::move(c))) {
                return;
            }
        }
    }
    host_report_.elapsed = since_start();
    if (!report(host_report_)) {
        return;
    }
    const std::weak_ptr<bool> alive = alive_;
    for (std::size_t i = 0; i < slots_.size() && !cancelled_; ++i) {
        // A source may finish (and even complete the gathering) from inside start().
        slots_[i]->source->start(*slots_[i]);
        if (alive.expired() || result_.complete) {
            return;
        }
    }
    maybe_complete();
}

const Candidate* Gatherer::Private::find_redundant(const std::vector<Candidate>& list,
                                                   const Candidate& c) const {
    // RFC 8445 §5.1.3: same transport address and same base as a candidate already kept.
    for (const Candidate& other : list) {
        if (other.host != c.host || other.port != c.port) {
            continue;
        }
        if (c.transport == Transport::Socks5) {
            return &other;
        }
        const bool other_base =
            other.ice.type == IceType::Host ? true : other.ice.related.has_value();
        const TransportAddress other_base_address =
            other.ice.type == IceType::Host ? TransportAddress{*other.ip(), other.port}
                                            : other.ice.related.value_or(TransportAddress{});
        if (other_base && c.ice.related && other_base_address == *c.ice.related &&
            other.ice.component == c.ice.component) {
            return &other;
        }
    }
    return nullptr;
}

void Gatherer::Private::on_external_address(ExternalAddress address) {
    address.ip = address.ip.unmapped();
    result_.external_addresses.push_back(address);
    const std::size_t origin_slot = result_.external_addresses.size() - 1;
    const std::string origin_text = address.origin.to_string();

    // design §2: an external IP equal to a local address means no NAT: nothing to derive.
    for (const LocalAddress& local : result_.local_addresses) {
        if (local.ip == address.ip) {
            drop(address.ip.to_string(), local.interface,
                 "external address from " + origin_text +
                     " is a local address (no NAT): no candidate derived");
            return;
        }
    }

    if (options_.ice && !address.ice_candidates_reported) {
        for (const Base& base : bases_) {
            if (base.local.ip.family() != address.ip.family()) {
                continue;
            }
            Candidate c;
            c.transport = Transport::IceUdp;
            c.host = address.ip.to_string();
            c.port = base.port; // a guess: valid where the NAT preserves ports (design §2)
            c.priority = detail::ice_priority(
                IceType::Srflx,
                detail::guessed_local_preference(base.local_preference, origin_slot),
                base.component);
            c.ice.component = base.component;
            c.ice.foundation = foundations_.get(IceType::Srflx, base.local.ip, origin_text);
            c.ice.network = base.local.interface_index;
            c.ice.type = IceType::Srflx;
            c.ice.related = base.address();
            c.origin = address.origin;
            c.interface = base.local.interface;
            if (const Candidate* same = find_redundant(result_.ice, c)) {
                drop(TransportAddress{address.ip, c.port}.to_string(), base.local.interface,
                     "srflx from " + origin_text + " is redundant with the " +
                         std::string(to_string(same->ice.type)) + " candidate from " +
                         same->origin.to_string() + " (RFC 8445 §5.1.3)");
                continue;
            }
            const auto verified =
                std::find_if(result_.ice.begin(), result_.ice.end(), [&](const Candidate& o) {
                    return o.ice.type == IceType::Srflx && o.ice.related == c.ice.related &&
                           o.host == c.host && !guessed_ids_.contains(o.ice.id);
                });
            if (verified != result_.ice.end()) {
                drop(TransportAddress{address.ip, c.port}.to_string(), base.local.interface,
                     "srflx from " + origin_text + " not needed: " + verified->origin.to_string() +
                         " already mapped this base to " + verified->host + ":" +
                         std::to_string(verified->port));
                continue;
            }
            c.ice.id = new_id();
            guessed_ids_.insert(c.ice.id);
            if (!emit(std::move(c))) {
                return;
            }
        }
    }
    if (options_.s5b && result_.s5b_port != 0) {
        Candidate c;
        c.transport = Transport::Socks5;
        c.host = address.ip.to_string();
        c.port = address.forwarded_port.value_or(result_.s5b_port);
        const auto assisted_rank = static_cast<std::uint16_t>(
            std::count_if(result_.s5b.begin(), result_.s5b.end(),
                          [](const Candidate& o) { return o.s5b.type == S5bType::Assisted; }));
        c.priority = detail::s5b_priority(S5bType::Assisted,
                                          static_cast<std::uint16_t>(65535 - assisted_rank));
        c.s5b = {"", options_.jid, S5bType::Assisted};
        c.origin = address.origin;
        if (const Candidate* same = find_redundant(result_.s5b, c)) {
            drop(TransportAddress{address.ip, c.port}.to_string(), "",
                 "assisted candidate from " + origin_text + " is redundant with the " +
                     std::string(to_string(same->s5b.type)) + " candidate from " +
                     same->origin.to_string());
            return;
        }
        c.s5b.cid = new_id();
        if (!emit(std::move(c))) {
            return;
        }
    }
}

void Gatherer::Private::on_source_candidate(Slot& slot, SourceCandidate found) {
    const std::string source_name = slot.source->name();
    if (found.base_index >= bases_.size()) {
        drop(found.address.to_string(), "",
             source_name + " reported a candidate for an unknown base");
        return;
    }
    const Base& base = bases_[found.base_index];
    if (found.type == IceType::Srflx && found.address == base.address()) {
        drop(found.address.to_string(), base.local.interface,
             "srflx from " + source_name + " equals its base: no NAT (RFC 8445 §5.1.3)");
        no_nat_families_.insert(base.local.ip.family());
        return;
    }
    Candidate c;
    c.transport = Transport::IceUdp;
    c.host = found.address.ip.to_string();
    c.port = found.address.port;
    c.priority = detail::ice_priority(found.type, base.local_preference, base.component);
    c.ice.component = base.component;
    c.ice.foundation = foundations_.get(found.type, base.local.ip, found.server);
    c.ice.network = base.local.interface_index;
    c.ice.type = found.type;
    c.ice.related = base.address();
    c.origin = {source_name, found.server};
    c.interface = base.local.interface;
    if (const Candidate* same = find_redundant(result_.ice, c);
        same && same->priority >= c.priority) {
        drop(found.address.to_string(), base.local.interface,
             std::string(to_string(found.type)) + " from " + source_name +
                 " is redundant with the " + std::string(to_string(same->ice.type)) +
                 " candidate from " + same->origin.to_string() + " (RFC 8445 §5.1.3)");
        return;
    }
    c.ice.id = new_id();
    // A verified srflx supersedes a guess (SIC, configuration) for the same base and IP: the
    // guess may have been trickled already, but the result keeps only the verified one.
    const TransportAddress base_address = base.address();
    const std::string mapped_host = c.host;
    const std::string verifier = c.origin.to_string();
    std::erase_if(result_.ice, [&](const Candidate& o) {
        const bool superseded = o.ice.type == IceType::Srflx && guessed_ids_.contains(o.ice.id) &&
                                o.ice.related == base_address && o.host == mapped_host;
        if (superseded) {
            drop(TransportAddress{*o.ip(), o.port}.to_string(), o.interface,
                 "srflx from " + o.origin.to_string() + " superseded by the one " + verifier +
                     " verified for this base");
        }
        return superseded;
    });
    (void)emit(std::move(c));
}

void Gatherer::Private::on_source_finished(Slot& slot, SourceStatus status) {
    slot.finished = true;
    SourceReport source_report{slot.source->name(), status.state, std::move(status.error),
                               since_start()};
    if (!report(source_report)) {
        return;
    }
    maybe_complete();
}

void Gatherer::Private::end_unfinished(SourceState state, const std::string& why) {
    deadline_.reset();
    kick_.reset();
    for (auto& slot : slots_) {
        if (slot->finished) {
            continue;
        }
        slot->finished = true;
        slot->source->stop();
        if (!report({slot->source->name(), state, why, since_start()})) {
            return;
        }
    }
    complete();
}

void Gatherer::Private::maybe_complete() {
    if (result_.complete || kick_) {
        return;
    }
    const bool all_done =
        std::all_of(slots_.begin(), slots_.end(), [](const auto& slot) { return slot->finished; });
    if (all_done) {
        complete();
    }
}

void Gatherer::Private::complete() {
    if (result_.complete) {
        return;
    }
    deadline_.reset();
    result_.network = judge_network();
    result_.complete = true;
    result_.elapsed = since_start();
    if (owner_.on_complete) {
        owner_.on_complete(result_);
    }
}

NetworkVerdict Gatherer::Private::judge_network() const {
    // Each family on its own: an IPv4 and an IPv6 external address always differ, and IPv4
    // behind a NAT with IPv6 not is the usual dual-stack network.
    struct FamilyView {
        bool saw_nat = false;
        bool saw_none = false;
        std::map<std::string, std::vector<std::string>> seen_by; // external IP -> who saw it
    };
    FamilyView families[2];
    const auto view = [&families](Family f) -> FamilyView& {
        return families[f == Family::IPv6 ? 1 : 0];
    };
    NetworkVerdict verdict;
    const auto is_local = [this](const IpAddress& ip) {
        return std::any_of(result_.local_addresses.begin(), result_.local_addresses.end(),
                           [&](const LocalAddress& l) { return l.ip == ip; });
    };
    // STUN: each mapping against its base (kept candidates and the "equals its base" drops).
    for (const Candidate& c : result_.ice) {
        if (c.ice.type != IceType::Srflx || guessed_ids_.contains(c.ice.id) || !c.ice.related) {
            continue;
        }
        view(c.ice.related->ip.family()).saw_nat = true;
        const bool kept = c.port == c.ice.related->port;
        verdict.port_preserved = verdict.port_preserved.value_or(true) && kept;
    }
    for (const Family family : no_nat_families_) {
        view(family).saw_none = true;
    }
    for (const ExternalAddress& e : result_.external_addresses) {
        FamilyView& v = view(e.ip.family());
        v.seen_by[e.ip.to_string()].push_back(e.origin.source);
        (is_local(e.ip) ? v.saw_none : v.saw_nat) = true;
        if (e.ip.is_shared_cgnat()) {
            verdict.notes.push_back(
                e.ip.to_string() + " from " + e.origin.to_string() +
                " is carrier-grade NAT space (RFC 6598): another NAT lies beyond");
        } else if (e.ip.is_private() && !is_local(e.ip)) {
            verdict.notes.push_back(e.ip.to_string() + " from " + e.origin.to_string() +
                                    " is a private address: that server is on a private network "
                                    "(or behind the same NAT)");
        }
    }
    const auto judge = [](const FamilyView& v) {
        return v.saw_nat    ? NetworkVerdict::Nat::Nat
               : v.saw_none ? NetworkVerdict::Nat::None
                            : NetworkVerdict::Nat::Unknown;
    };
    verdict.ipv4 = judge(families[0]);
    verdict.ipv6 = judge(families[1]);
    verdict.nat = judge({families[0].saw_nat || families[1].saw_nat,
                         families[0].saw_none || families[1].saw_none,
                         {}});
    for (const auto& [name, v] : {std::pair{"IPv4", &families[0]}, {"IPv6", &families[1]}}) {
        if (v->seen_by.size() > 1) {
            std::string text =
                std::string("sources disagree on the external ") + name + " address:";
            for (const auto& [ip, sources] : v->seen_by) {
                text += " " + ip + " (";
                for (std::size_t i = 0; i < sources.size(); ++i) {
                    text += (i ? ", " : "") + sources[i];
                }
                text += ")";
            }
            verdict.notes.push_back(text + " — a VPN or another egress for some traffic, or a "
                                           "server on the LAN");
        }
        if (v->saw_nat && v->saw_none) {
            verdict.notes.push_back(std::string("some ") + name +
                                    " paths are NATed and some are not (several interfaces?)");
        }
    }
    if (verdict.ipv4 != NetworkVerdict::Nat::Unknown &&
        verdict.ipv6 != NetworkVerdict::Nat::Unknown && verdict.ipv4 != verdict.ipv6) {
        verdict.notes.push_back(verdict.ipv4 == NetworkVerdict::Nat::Nat
                                    ? "IPv4 goes through a NAT, IPv6 does not"
                                    : "IPv6 goes through a NAT (NAT66), IPv4 does not");
    }
    return verdict;
}

void Gatherer::Private::cancel() {
    if (!started_ || result_.complete || cancelled_) {
        return;
    }
    cancelled_ = true;
    deadline_.reset();
    const bool host_pending = kick_ != nullptr;
    kick_.reset();
    // Stop now, so that no source reports after cancel(); tell the caller from the loop.
    std::vector<std::string> stopped;
    for (auto& slot : slots_) {
        if (!slot->finished) {
            slot->finished = true;
            slot->source->stop();
            stopped.push_back(slot->source->name());
        }
    }
    completion_ = loop_.call_after(std::chrono::milliseconds(0), [this, host_pending, stopped] {
        completion_.reset();
        if (host_pending && !report(host_report_)) {
            return;
        }
        for (const std::string& name : stopped) {
            if (!report(
                    {name, SourceState::Cancelled, "the gathering was cancelled", since_start()})) {
                return;
            }
        }
        complete();
    });
}

Gatherer::Gatherer(EventLoop& loop, GatherOptions options)
    : d_(std::make_unique<Private>(*this, loop, std::move(options))) {}

Gatherer::~Gatherer() = default;

void Gatherer::add_source(std::unique_ptr<Source> source) {
    if (!d_->started_ && source) {
        d_->slots_.push_back(std::make_unique<Private::Slot>(*d_, std::move(source)));
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

const GatherResult& Gatherer::result() const {
    return d_->result_;
}

std::span<const Base> Gatherer::bases() const {
    return d_->bases_;
}

std::vector<OwnedSocket> Gatherer::take_sockets() {
    std::vector<OwnedSocket> sockets;
    if (!d_->result_.complete) {
        return sockets;
    }
    for (std::size_t i = 0; i < d_->bases_.size(); ++i) {
        const Base& base = d_->bases_[i];
        if (d_->base_sockets_[i].valid()) {
            sockets.push_back({base.component, base.address(), base.local.interface,
                               d_->base_sockets_[i].release()});
        }
    }
    return sockets;
}

int Gatherer::take_s5b_listener() {
    return d_->s5b_listener_.release();
}

} // namespace jgather

namespace jgather {

std::string_view to_string(NetworkVerdict::Nat nat) noexcept {
    switch (nat) {
    case NetworkVerdict::Nat::None:
        return "none";
    case NetworkVerdict::Nat::Nat:
        return "nat";
    case NetworkVerdict::Nat::Unknown:
        return "unknown";
    }
    return "unknown";
}

} // namespace jgather
