// The libnice baseline both benchmarks measure against: one NiceAgent, one stream, one
// component, upnp and ice-tcp off (interop.md: upnp delays gathering-done by ≈200 ms, ice-tcp
// adds tcp-active candidates), optionally one STUN server.
#pragma once

#include <agent.h>
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <glib.h>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

/** @brief One libnice gathering, timed from gather_candidates(). */
struct NiceSample {
    double first_ms = 0;  ///< To the first candidate.
    double done_ms = 0;   ///< To candidate-gathering-done.
    double relay_ms = -1; ///< To the first relay candidate (-1: none).
    int candidates = 0;
    int srflx = 0;
};

/** @brief A TURN server over UDP given to the agent (nice_agent_set_relay_info). */
struct NiceRelay {
    const char* ip;
    unsigned port = 3478;
    std::string username;
    std::string password;
};

/** Gathers once on @p context with @p components components; @p stun_ip = nullptr for host
 * candidates only (libnice takes one STUN server); with @p relay a TURN server too. */
inline NiceSample run_libnice(GMainContext* context, const char* stun_ip = nullptr,
                              unsigned stun_port = 3478, guint components = 1,
                              const NiceRelay* relay = nullptr) {
    struct Run {
        Clock::time_point start;
        NiceSample sample;
        bool done = false;
    } run;
    NiceAgent* agent = nice_agent_new(context, NICE_COMPATIBILITY_RFC5245);
    g_object_set(agent, "upnp", FALSE, "ice-tcp", FALSE, nullptr);
    if (stun_ip) {
        g_object_set(agent, "stun-server", stun_ip, "stun-server-port", stun_port, nullptr);
    }
    const gulong on_candidate = g_signal_connect(
        agent, "new-candidate-full", G_CALLBACK(+[](NiceAgent*, NiceCandidate* c, gpointer data) {
            auto* r = static_cast<Run*>(data);
            if (r->sample.candidates++ == 0) {
                r->sample.first_ms = since(r->start);
            }
            r->sample.srflx += c->type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
            if (c->type == NICE_CANDIDATE_TYPE_RELAYED && r->sample.relay_ms < 0) {
                r->sample.relay_ms = since(r->start);
            }
        }),
        &run);
    const gulong on_done = g_signal_connect(agent, "candidate-gathering-done",
                                            G_CALLBACK(+[](NiceAgent*, guint, gpointer data) {
                                                auto* r = static_cast<Run*>(data);
                                                r->sample.done_ms = since(r->start);
                                                r->done = true;
                                            }),
                                            &run);
    run.start = Clock::now();
    const guint stream = nice_agent_add_stream(agent, components);
    // libnice reads its sockets (and so the STUN answers) only once a receiver is attached.
    for (guint c = 1; c <= components; ++c) {
        nice_agent_attach_recv(
            agent, stream, c, context, +[](NiceAgent*, guint, guint, guint, gchar*, gpointer) {},
            nullptr);
        if (relay) {
            nice_agent_set_relay_info(agent, stream, c, relay->ip, relay->port,
                                      relay->username.c_str(), relay->password.c_str(),
                                      NICE_RELAY_TYPE_TURN_UDP);
        }
    }
    nice_agent_gather_candidates(agent, stream);
    while (!run.done) {
        g_main_context_iteration(context, TRUE);
    }
    g_signal_handler_disconnect(agent, on_candidate);
    g_signal_handler_disconnect(agent, on_done);
    for (guint c = 1; c <= components; ++c) {
        nice_agent_attach_recv(agent, stream, c, context, nullptr, nullptr);
    }
    nice_agent_remove_stream(agent, stream);
    g_object_unref(agent);
    while (g_main_context_iteration(context, FALSE)) {
    }
    return run.sample;
}

} // namespace bench
