// A source written outside the library with public headers only.
//
// DelayedExternalSource pretends to ask a service for our external address: after a delay it
// reports one and finishes. The gatherer derives an ICE srflx per base and an S5B assisted
// candidate from it, exactly as it does for Server IP Check.
//
//   custom-source 203.0.113.7 [DELAY_MS]
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/jgather.hpp>

namespace {

class DelayedExternalSource final : public jgather::Source {
public:
    DelayedExternalSource(jgather::IpAddress ip, std::chrono::milliseconds delay)
        : ip_(ip), delay_(delay) {}

    std::string name() const override { return "delayed"; }

    void start(jgather::SourceSink& sink) override {
        // Keep the handle: destroying it (in stop() or with the source) cancels the timer, so
        // the sink is never used after the gatherer stopped us.
        timer_ = sink.loop().call_after(delay_, [this, &sink] {
            timer_.reset();
            sink.add_external_address({ip_, std::nullopt, std::nullopt, {name(), "example"}});
            sink.finish(jgather::SourceStatus::ok());
        });
    }

    void stop() override { timer_.reset(); }

private:
    jgather::IpAddress ip_;
    std::chrono::milliseconds delay_;
    std::unique_ptr<jgather::LoopHandle> timer_;
};

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: custom-source EXTERNAL_IP [DELAY_MS]\n");
        return 2;
    }
    auto ip = jgather::IpAddress::parse(argv[1]);
    if (!ip) {
        std::fprintf(stderr, "custom-source: %s\n", ip.error().message.c_str());
        return 2;
    }
    const auto delay = std::chrono::milliseconds(argc > 2 ? std::atoi(argv[2]) : 50);

    GMainLoop* main_loop = g_main_loop_new(nullptr, FALSE);
    auto loop = jgather::glib::make_loop(nullptr);
    {
        jgather::Gatherer gatherer(*loop);
        gatherer.add_source(std::make_unique<DelayedExternalSource>(*ip, delay));
        gatherer.on_candidate = [](const jgather::Candidate& c) {
            std::printf("%-7s %-8s %s:%u (%s)\n", std::string(to_string(c.transport())).c_str(),
                        c.transport() == jgather::TransportKind::IceUdp
                            ? std::string(to_string(c.ice()->type)).c_str()
                            : std::string(to_string(c.s5b()->type)).c_str(),
                        c.host.c_str(), c.port, c.origin.to_string().c_str());
        };
        gatherer.on_complete = [&](const jgather::GatherResult&) {
            g_main_loop_quit(main_loop);
        };
        if (auto ok = gatherer.gather(); !ok) {
            std::fprintf(stderr, "custom-source: %s\n", ok.error().message.c_str());
            return 1;
        }
        g_main_loop_run(main_loop);
    }
    g_main_loop_unref(main_loop);
    return 0;
}
