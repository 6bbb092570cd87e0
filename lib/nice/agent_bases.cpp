// The NiceAgent mode: a BaseProvider that drives one stream of the application's agent, and the
// "libnice" source that reports the agent's own srflx and relay candidates.
#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include <jgather/nice.hpp>

#include "../sources/host.hpp"
#include "../util/guard.hpp"
#include "convert.hpp"

namespace jgather::nice {
namespace {

// libnice 0.1.21 takes at most this many local addresses (NICE_CANDIDATE_MAX_LOCAL_ADDRESSES).
constexpr std::size_t kMaxAgentAddresses = NICE_CANDIDATE_MAX_LOCAL_ADDRESSES;

// libnice's local preference of a UDP candidate (candidate.c, ice_local_preference_full):
// direction preference 1 in bits 13-15, the TURN server's rank in bits 6-8 and the address's
// position in bits 0-5, so every srflx it makes has a local preference of 8192 or more. A guess
// gets 4096 + the address's position: below all of them, in the same order (RFC 8445 §5.1.2.1).
constexpr std::uint16_t kGuessBase = 4096;
constexpr std::uint16_t kAddressPositionMask = 0x3f;

// The agent-wide list of addresses jgather gave it (nice_agent_add_local_address appends
// unconditionally; a second stream of the same agent must not add them twice).
constexpr const char* kAddedAddressesKey = "jgather-local-addresses";

struct GObjectUnref {
    void operator()(gpointer object) const noexcept { g_object_unref(object); }
};

// One signal handler, disconnected when this goes.
class SignalConnection {
public:
    SignalConnection() = default;
    SignalConnection(gpointer instance, const char* signal, GCallback callback, gpointer data)
        : instance_(instance), id_(g_signal_connect(instance, signal, callback, data)) {}
    SignalConnection(SignalConnection&& other) noexcept
        : instance_(std::exchange(other.instance_, nullptr)), id_(std::exchange(other.id_, 0)) {}
    SignalConnection& operator=(SignalConnection&& other) noexcept {
        std::swap(instance_, other.instance_);
        std::swap(id_, other.id_);
        return *this;
    }
    ~SignalConnection() {
        if (instance_ != nullptr && id_ != 0) {
            g_signal_handler_disconnect(instance_, id_);
        }
    }

private:
    gpointer instance_ = nullptr;
    gulong id_ = 0;
};

std::string server_of(const NiceCandidate& candidate) {
    NiceAddress server;
    nice_address_init(&server);
    if (candidate.type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE) {
        if (!nice_candidate_stun_server_address(&candidate, &server)) {
            return "";
        }
    } else if (candidate.type == NICE_CANDIDATE_TYPE_RELAYED) {
        nice_candidate_relay_address(&candidate, &server);
    }
    const auto address = detail::from_nice_address(server);
    return address ? address->to_string() : "";
}

// What the provider and the source share: the agent's stream, its bases, and what the agent
// reported before the source started (its signals may come from inside gather()).
struct AgentLink {
    NiceAgent* agent = nullptr; // referenced by the provider
    guint stream_id = 0;
    std::vector<Base> bases;
    std::vector<NiceCandidatePtr> early; // srflx/relay before the source started
    bool gathering_done = false;
    SourceSink* sink = nullptr; // while the source runs

    void report(const NiceCandidate& candidate) {
        const auto type = detail::from_nice_type(candidate.type);
        const auto address = detail::from_nice_address(candidate.addr);
        const auto base_address = detail::from_nice_address(candidate.base_addr);
        if (!type || !address || !base_address ||
            candidate.transport != NICE_CANDIDATE_TRANSPORT_UDP) {
            return; // TCP (ice-tcp left on by the application): XEP-0176 cannot carry it
        }
        const auto base = std::find_if(bases.begin(), bases.end(), [&](const Base& b) {
            return b.component == candidate.component_id && b.address() == *base_address;
        });
        if (base == bases.end()) {
            return; // on an address jgather did not choose (added by the application itself)
        }
        const std::string server = server_of(candidate);
        const std::size_t index = static_cast<std::size_t>(base - bases.begin());
        sink->add_candidate({*type, *address, index, server,
                             AgentNumbers{candidate.priority, candidate.foundation}});
        if (*type == IceType::Srflx && sink != nullptr) {
            // The mapping tells the external address too (the verdict, SOCKS5's assisted).
            ExternalAddress external{address->ip, address->port, std::nullopt, {"libnice", server}};
            external.ice_candidates_reported = true;
            sink->add_external_address(std::move(external));
        }
    }

    void on_candidate(NiceCandidate* candidate) {
        if (candidate == nullptr || candidate->stream_id != stream_id ||
            candidate->type == NICE_CANDIDATE_TYPE_HOST) {
            return; // the host candidates became the bases in open()
        }
        if (sink == nullptr) {
            early.emplace_back(nice_candidate_copy(candidate));
        } else {
            report(*candidate);
        }
    }

    void on_gathering_done(guint stream) {
        if (stream != stream_id || gathering_done) {
            return;
        }
        gathering_done = true;
        if (sink != nullptr) {
            SourceSink* s = std::exchange(sink, nullptr);
            s->finish(SourceStatus::ok());
        }
    }
};

void on_new_candidate_full(NiceAgent*, NiceCandidate* candidate, gpointer data) {
    auto* link = static_cast<AgentLink*>(data);
    if (auto thrown = jgather::detail::contain([&] { link->on_candidate(candidate); })) {
        g_warning("jgather: reporting a libnice candidate threw: %s", thrown->c_str());
    }
}

void on_candidate_gathering_done(NiceAgent*, guint stream_id, gpointer data) {
    auto* link = static_cast<AgentLink*>(data);
    if (auto thrown = jgather::detail::contain([&] { link->on_gathering_done(stream_id); })) {
        g_warning("jgather: ending the libnice source threw: %s", thrown->c_str());
    }
}

Error no_socket_of_its_own() {
    return Error{"the NiceAgent owns the base sockets: jgather cannot send or read on them "
                 "(libnice asks its own STUN server: AgentOptions::stun_server)"};
}

class AgentBases final : public BaseProvider {
public:
    AgentBases(NiceAgent* agent, guint stream_id, AgentOptions options,
               std::shared_ptr<AgentLink> link)
        : agent_(static_cast<NiceAgent*>(g_object_ref(agent))), options_(std::move(options)),
          link_(std::move(link)) {
        link_->agent = agent;
        link_->stream_id = stream_id;
    }
    ~AgentBases() override {
        signals_.clear(); // before the agent reference goes
    }

    std::string name() const override { return "host"; }

    Result<ProvidedBases> open(const GatherOptions& options) override {
        NiceAgent* agent = agent_.get();
        const guint stream = link_->stream_id;
        if (!options.ice) {
            return Error{"a NiceAgent serves ICE: GatherOptions::ice must be on"};
        }
        if (auto shape = check_stream(options.components); !shape) {
            return shape.error();
        }
        ProvidedBases provided;
        auto chosen =
            jgather::detail::choose_host_addresses(options.host, provided.local_addresses);
        if (!chosen) {
            return chosen.error();
        }
        provided.dropped = std::move(chosen->dropped);
        std::vector<jgather::detail::UsableAddress> usable = std::move(chosen->usable);
        if (usable.empty()) {
            // With no address given, libnice would enumerate its own, bypassing the policy.
            return Error{"no usable local address (HostOptions): nothing to give the NiceAgent"};
        }
        if (usable.size() > kMaxAgentAddresses) {
            for (auto it = usable.begin() + kMaxAgentAddresses; it != usable.end(); ++it) {
                provided.dropped.push_back({it->local.ip.to_string(), it->local.interface,
                                            "libnice takes at most 64 local addresses"});
            }
            usable.resize(kMaxAgentAddresses);
        }
        add_local_addresses(usable);
        for (unsigned component = 1; component <= options.components; ++component) {
            if (options.host.port_min != 0) {
                nice_agent_set_port_range(agent, stream, component, options.host.port_min,
                                          options.host.port_max);
            }
        }
        apply_settings();
        signals_.emplace_back(agent, "new-candidate-full", G_CALLBACK(on_new_candidate_full),
                              link_.get());
        signals_.emplace_back(agent, "candidate-gathering-done",
                              G_CALLBACK(on_candidate_gathering_done), link_.get());
        if (!nice_agent_gather_candidates(agent, stream)) {
            return Error{"nice_agent_gather_candidates failed on stream " + std::to_string(stream) +
                         ": no host candidate could be made"};
        }
        take_host_candidates(usable, options.components, provided);
        if (provided.bases.empty()) {
            return Error{"the NiceAgent made no UDP host candidate on the chosen addresses"};
        }
        link_->bases = provided.bases;
        gchar* ufrag = nullptr;
        gchar* pwd = nullptr;
        if (nice_agent_get_local_credentials(agent, stream, &ufrag, &pwd)) {
            provided.credentials = IceCredentials{ufrag, pwd};
        }
        g_free(ufrag);
        g_free(pwd);
        return provided;
    }

    Result<void> send(std::size_t, std::span<const std::uint8_t>,
                      const TransportAddress&) override {
        return no_socket_of_its_own();
    }
    void receive(EventLoop&, std::function<void(const Datagram&)>) override {
        // Nothing to read: the agent reads its sockets. Sources that need them fail to send.
    }
    std::vector<OwnedSocket> take_sockets() override { return {}; }

private:
    Result<void> check_stream(unsigned components) const {
        NiceAgent* agent = agent_.get();
        const guint stream = link_->stream_id;
        // nice_agent_get_component_state gives FAILED for a component that does not exist, and
        // DISCONNECTED for one that has not gathered yet.
        for (unsigned c = 1; c <= components; ++c) {
            const NiceComponentState state = nice_agent_get_component_state(agent, stream, c);
            if (state == NICE_COMPONENT_STATE_FAILED) {
                return Error{"the NiceAgent has no stream " + std::to_string(stream) +
                             " with component " + std::to_string(c) +
                             " (GatherOptions::components is " + std::to_string(components) + ")"};
            }
            if (state != NICE_COMPONENT_STATE_DISCONNECTED) {
                return Error{"stream " + std::to_string(stream) +
                             " has gathered already (component " + std::to_string(c) + " is " +
                             nice_component_state_to_string(state) +
                             "): jgather must start its gathering"};
            }
        }
        if (nice_agent_get_component_state(agent, stream, components + 1) ==
            NICE_COMPONENT_STATE_DISCONNECTED) {
            return Error{"stream " + std::to_string(stream) + " has more components than " +
                         "GatherOptions::components (" + std::to_string(components) + ")"};
        }
        return {};
    }

    void add_local_addresses(const std::vector<jgather::detail::UsableAddress>& usable) {
        NiceAgent* agent = agent_.get();
        auto* added = static_cast<std::set<std::string>*>(
            g_object_get_data(G_OBJECT(agent), kAddedAddressesKey));
        if (added == nullptr) {
            added = new std::set<std::string>;
            g_object_set_data_full(G_OBJECT(agent), kAddedAddressesKey, added, [](gpointer p) {
                delete static_cast<std::set<std::string>*>(p);
            });
        }
        for (const auto& address : usable) {
            const std::string ip = address.local.ip.to_string();
            if (added->insert(ip).second) {
                NiceAddress nice_address = detail::to_nice_address({address.local.ip, 0});
                nice_agent_add_local_address(agent, &nice_address);
            }
        }
    }

    void apply_settings() const {
        GObject* agent = G_OBJECT(agent_.get());
        const AgentSettings& s = options_.settings;
        if (s.upnp) {
            g_object_set(agent, "upnp", gboolean(*s.upnp), nullptr);
        }
        if (s.ice_tcp) {
            g_object_set(agent, "ice-tcp", gboolean(*s.ice_tcp), nullptr);
        }
        if (s.ice_trickle) {
            g_object_set(agent, "ice-trickle", gboolean(*s.ice_trickle), nullptr);
        }
        if (options_.stun_server) {
            g_object_set(agent, "stun-server", options_.stun_server->ip.to_string().c_str(),
                         "stun-server-port", guint(options_.stun_server->port), nullptr);
        }
    }

    // The agent's UDP host candidates, in jgather's order of addresses: the bases.
    void take_host_candidates(const std::vector<jgather::detail::UsableAddress>& usable,
                              unsigned components, ProvidedBases& provided) const {
        std::vector<std::vector<NiceCandidatePtr>> per_component(components + 1);
        for (unsigned c = 1; c <= components; ++c) {
            GSList* list = nice_agent_get_local_candidates(agent_.get(), link_->stream_id, c);
            for (GSList* i = list; i != nullptr; i = i->next) {
                per_component[c].emplace_back(static_cast<NiceCandidate*>(i->data));
            }
            g_slist_free(list);
        }
        for (const auto& address : usable) {
            const std::size_t first = provided.bases.size();
            for (unsigned c = 1; c <= components; ++c) {
                const auto& candidates = per_component[c];
                const auto host =
                    std::find_if(candidates.begin(), candidates.end(), [&](const auto& n) {
                        const auto a = detail::from_nice_address(n->addr);
                        return n->type == NICE_CANDIDATE_TYPE_HOST &&
                               n->transport == NICE_CANDIDATE_TRANSPORT_UDP && a &&
                               a->ip == address.local.ip;
                    });
                if (host == candidates.end()) {
                    provided.dropped.push_back(
                        {address.local.ip.to_string(), address.local.interface,
                         "the NiceAgent made no UDP host candidate on it for component " +
                             std::to_string(c)});
                    provided.bases.resize(first); // every component or none (RFC 8445 §5.1.1.1)
                    break;
                }
                Base base;
                base.local = address.local;
                base.component = c;
                base.port = static_cast<std::uint16_t>(nice_address_get_port(&(*host)->addr));
                base.local_preference = address.local_preference;
                base.agent = AgentNumbers{(*host)->priority, (*host)->foundation};
                const auto agent_preference = static_cast<std::uint16_t>((*host)->priority >> 8);
                base.guessed_local_preference = static_cast<std::uint16_t>(
                    kGuessBase + (agent_preference & kAddressPositionMask));
                provided.bases.push_back(std::move(base));
            }
        }
    }

    std::unique_ptr<NiceAgent, GObjectUnref> agent_;
    AgentOptions options_;
    std::shared_ptr<AgentLink> link_;
    std::vector<SignalConnection> signals_;
};

// Reports what the agent finds beyond its host candidates, and ends with its gathering.
class AgentSource final : public Source {
public:
    explicit AgentSource(std::shared_ptr<AgentLink> link) : link_(std::move(link)) {}
    ~AgentSource() override { link_->sink = nullptr; }

    std::string name() const override { return "libnice"; }

    void start(SourceSink& sink) override {
        link_->sink = &sink;
        for (const NiceCandidatePtr& candidate : std::exchange(link_->early, {})) {
            link_->report(*candidate);
        }
        if (link_->gathering_done) {
            link_->sink = nullptr;
            sink.finish(SourceStatus::ok());
        }
    }
    void stop() override { link_->sink = nullptr; }

private:
    std::shared_ptr<AgentLink> link_;
};

} // namespace

Result<void> attach(Gatherer& gatherer, NiceAgent* agent, guint stream_id, AgentOptions options) {
    if (agent == nullptr || !NICE_IS_AGENT(agent)) {
        return Error{"attach() needs a NiceAgent"};
    }
    if (stream_id == 0) {
        return Error{"stream ids start at 1 (nice_agent_add_stream)"};
    }
    if (gatherer.phase() != GatherPhase::Idle) {
        return Error{"attach() goes before gather()"};
    }
    if (options.stun_server && options.stun_server->port == 0) {
        return Error{"the STUN server's port must be 1-65535"};
    }
    auto link = std::make_shared<AgentLink>();
    gatherer.set_base_provider(
        std::make_unique<AgentBases>(agent, stream_id, std::move(options), link));
    gatherer.add_source(std::make_unique<AgentSource>(std::move(link)));
    return {};
}

} // namespace jgather::nice
