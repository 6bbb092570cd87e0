#include "stun_pacer.hpp"
#include <algorithm>
#include <mutex>
#include <utility>

#include "../loop/multiplex.hpp"
#include "../loop/per_loop.hpp"
#include "../util/guard.hpp"

namespace jgather::detail {

// A waiting transaction's turn; destroying it gives the turn up.
class StunPacer::Turn final : public LoopHandle {
public:
    Turn(std::weak_ptr<StunPacer> pacer, std::uint64_t id) : pacer_(std::move(pacer)), id_(id) {}
    ~Turn() override {
        if (auto pacer = pacer_.lock()) {
            pacer->give_up(id_);
        }
    }

private:
    std::weak_ptr<StunPacer> pacer_;
    std::uint64_t id_;
};

namespace {

// A pacer lives while a STUN source on its loop does; one made again within kGap of the last
// start of the one before must still wait. Only starts younger than kGap are kept here.
std::mutex recent_mutex;
std::map<const EventLoop*, StunPacer::Clock::time_point> recent_starts;

} // namespace

std::shared_ptr<StunPacer> StunPacer::of(EventLoop& loop) {
    EventLoop& base = MultiplexLoop::base_of(loop);
    return shared_per_loop<StunPacer>(base, 0, [&base] {
        auto pacer = std::make_shared<StunPacer>(base, MultiplexLoop::of(base));
        const std::lock_guard lock(recent_mutex);
        if (auto it = recent_starts.find(&base); it != recent_starts.end()) {
            pacer->last_start_ = it->second;
            recent_starts.erase(it);
        }
        return pacer;
    });
}

StunPacer::StunPacer(const EventLoop& base, std::shared_ptr<MultiplexLoop> loop)
    : base_(&base), loop_(std::move(loop)) {}

StunPacer::~StunPacer() {
    timer_.reset(); // before the loop it runs on
    const auto now = Clock::now();
    const std::lock_guard lock(recent_mutex);
    std::erase_if(recent_starts, [now](const auto& entry) { return entry.second + kGap <= now; });
    if (last_start_ + kGap > now) {
        recent_starts[base_] = last_start_;
    }
}

bool StunPacer::start_now() {
    const auto now = Clock::now();
    if (!waiting_.empty() || (last_start_ != Clock::time_point{} && now < last_start_ + kGap)) {
        return false;
    }
    last_start_ = now;
    return true;
}

std::unique_ptr<LoopHandle> StunPacer::wait_turn(std::function<void()> start) {
    const std::uint64_t id = next_id_++;
    waiting_.emplace(id, std::move(start));
    arm();
    return std::make_unique<Turn>(weak_from_this(), id);
}

std::chrono::milliseconds StunPacer::wait_now() const {
    if (last_start_ == Clock::time_point{}) {
        return std::chrono::milliseconds(0);
    }
    // Behind everyone waiting, one gap each after the last start.
    const auto turn = last_start_ + kGap * static_cast<long long>(waiting_.size() + 1);
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::ceil<std::chrono::milliseconds>(turn - Clock::now()));
}

void StunPacer::give_up(std::uint64_t id) {
    waiting_.erase(id);
    if (waiting_.empty()) {
        timer_.reset();
    }
}

void StunPacer::arm() {
    if (timer_ || waiting_.empty()) {
        return;
    }
    const auto wait =
        std::chrono::ceil<std::chrono::milliseconds>(last_start_ + kGap - Clock::now());
    timer_ = loop_->call_after(std::max(wait, std::chrono::milliseconds(0)), [this] { release(); });
}

void StunPacer::release() {
    const auto self = shared_from_this(); // the turn's owner may drop the last other holder
    timer_.reset();
    if (waiting_.empty()) {
        return;
    }
    const auto now = Clock::now();
    if (last_start_ != Clock::time_point{} && now < last_start_ + kGap) {
        arm(); // never sooner than kGap, whatever the timer's rounding
        return;
    }
    auto first = waiting_.begin();
    std::function<void()> start = std::move(first->second);
    waiting_.erase(first);
    last_start_ = now;
    (void)contain(start);
    arm();
}

} // namespace jgather::detail
