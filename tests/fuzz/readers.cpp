#include "fuzz/readers.hpp"
#include <array>
#include <cstring>
#include <vector>

#include <stun/usages/bind.h>

#include <jgather/xep0065.hpp>
#include <jgather/xep0176.hpp>
#include <jgather/xep0260.hpp>

#include "sources/stun_message.hpp"

namespace jgather::fuzz {
namespace {

// The STUN source's answer path on @p data, made to carry the transaction id of a request
// libnice's agent really sent (the source drops other ids before reading).
std::string check_stun_answer(const std::uint8_t* data, std::size_t size) {
    std::vector<std::uint8_t> datagram(data, data + size);
    const stun::BindingRequest request = stun::make_binding_request();
    if (datagram.size() >= stun::kHeaderSize) {
        std::memcpy(datagram.data() + stun::kCookieAndIdOffset, request.id.data(),
                    stun::kCookieAndIdSize);
    }
    if (!stun::is_binding_response(datagram)) {
        return {};
    }
    const auto fingerprint = stun::check_fingerprint(datagram);
    const stun::BindingAnswer answer = stun::read_binding_answer(request.id, datagram);
    using Kind = stun::BindingAnswer::Kind;
    if (fingerprint == stun::Fingerprint::Invalid && answer.kind != Kind::Ignored) {
        return "stun: an answer with a bad FINGERPRINT was read";
    }
    if (answer.kind == Kind::Failed && answer.failure.empty()) {
        return "stun: a failure without a description";
    }
    if ((answer.kind == Kind::Mapped || answer.kind == Kind::Alternate) &&
        answer.address.port == 0) {
        return "stun: an address with port 0 was accepted";
    }
    return {};
}

} // namespace

std::string check_reader(std::string_view reader, const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (reader == "xep0176") {
        auto first = xep0176::read(input);
        if (!first) {
            return first.error().message.empty() ? "empty error message" : "";
        }
        auto second = xep0176::read(xep0176::write(*first));
        if (!second || second->candidates.size() != first->candidates.size() ||
            second->ufrag != first->ufrag || second->pwd != first->pwd) {
            return "xep0176: write(read(x)) does not read back the same";
        }
        for (std::size_t i = 0; i < first->candidates.size(); ++i) {
            if (!second->candidates[i].same_wire_fields(first->candidates[i])) {
                return "xep0176: candidate " + std::to_string(i) + " changed in a round trip";
            }
        }
    } else if (reader == "xep0065") {
        auto first = xep0065::read(input);
        if (!first) {
            return first.error().message.empty() ? "empty error message" : "";
        }
        auto second = xep0065::read(xep0065::write(*first));
        if (!second || second->streamhosts != first->streamhosts || second->sid != first->sid ||
            second->mode != first->mode) {
            return "xep0065: write(read(x)) does not read back the same";
        }
    } else if (reader == "xep0260") {
        auto first = xep0260::read(input);
        if (!first) {
            return first.error().message.empty() ? "empty error message" : "";
        }
        auto second = xep0260::read(xep0260::write(*first));
        if (!second || second->candidates.size() != first->candidates.size() ||
            second->sid != first->sid || second->dstaddr != first->dstaddr) {
            return "xep0260: write(read(x)) does not read back the same";
        }
        for (std::size_t i = 0; i < first->candidates.size(); ++i) {
            if (!second->candidates[i].same_wire_fields(first->candidates[i])) {
                return "xep0260: candidate " + std::to_string(i) + " changed in a round trip";
            }
        }
    } else if (reader == "stun") {
        return check_stun_answer(data, size);
    }
    return {};
}

} // namespace jgather::fuzz
