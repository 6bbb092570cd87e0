// The STUN source against a scripted server on loopback, for what real servers cannot be made
// to do: answers with a wrong transaction id, garbage, a bad FINGERPRINT or from another address
// (all ignored), MAPPED-ADDRESS only, redirections, error responses, lost requests, duplicates.
#include <algorithm>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>
#include <jgather/sources/stun.hpp>

#include "support/fake_stun.hpp"
#include "support/local_address.hpp"
#include "support/stun_gather.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::FakeStunRequest;
using test::FakeStunSend;
using test::FakeStunServer;
using test::StunRun;
using test::StunWire;

namespace {

// What the fake servers claim the client's address is (RFC 5737 documentation range), and a
// second, wrong one that a spoofed or invalid answer carries.
constexpr const char* kMappedIp = "203.0.113.7";
constexpr std::uint16_t kMappedPort = 4242;
constexpr const char* kWrongIp = "203.0.113.66";

// One gathering from one loopback base of @p base_ip.
StunRun gather(const std::vector<std::string>& servers, StunOptions stun = {},
               const char* base_ip = "127.0.0.1", unsigned components = 1) {
    return test::gather_with_stun(servers, std::move(stun), {base_ip}, components);
}

std::vector<Candidate> srflx_of(const GatherResult& r) {
    std::vector<Candidate> out;
    std::copy_if(r.ice.begin(), r.ice.end(), std::back_inserter(out),
                 [](const Candidate& c) { return c.ice()->type == IceType::Srflx; });
    return out;
}

StunWire success(const FakeStunRequest& request) {
    return {StunWire::kBindingSuccess, request.id};
}

FakeStunSend send(const StunWire& message, bool from_other_socket = false) {
    return {message.bytes(), from_other_socket};
}

// Scripts: never answer; answer every request with kMappedIp:kMappedPort.
std::vector<FakeStunSend> never_answer(const FakeStunRequest&) {
    return {};
}

std::vector<FakeStunSend> answer_mapped(const FakeStunRequest& r) {
    return {send(success(r).xor_mapped(kMappedIp, kMappedPort))};
}

// A transaction id the client never used.
StunWire::TransactionId flipped(const FakeStunRequest& request) {
    StunWire::TransactionId id = request.id;
    id[0] ^= 0xff;
    return id;
}

// One kind of answer that must be ignored, as a scripted reply to every request.
struct Ignored {
    const char* name;
    std::function<std::vector<FakeStunSend>(const FakeStunRequest&)> answer;
};

const std::vector<Ignored>& ignored_answers() {
    static const std::vector<Ignored> answers = {
        {"garbage",
         [](const FakeStunRequest&) {
             return std::vector<FakeStunSend>{{{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}, false}};
         }},
        {"truncated_success",
         [](const FakeStunRequest& r) {
             auto bytes = success(r).xor_mapped(kWrongIp, kMappedPort).bytes();
             bytes.resize(bytes.size() - 6);
             return std::vector<FakeStunSend>{{bytes, false}};
         }},
        {"wrong_transaction_id",
         [](const FakeStunRequest& r) {
             return std::vector<FakeStunSend>{
                 send(StunWire(StunWire::kBindingSuccess, flipped(r)).xor_mapped(kWrongIp, 1))};
         }},
        {"right_id_from_another_port",
         [](const FakeStunRequest& r) {
             return std::vector<FakeStunSend>{send(success(r).xor_mapped(kWrongIp, 1), true)};
         }},
        {"bad_fingerprint",
         [](const FakeStunRequest& r) {
             return std::vector<FakeStunSend>{
                 send(success(r).xor_mapped(kWrongIp, 1).fingerprint(false))};
         }},
        {"fingerprint_not_last",
         [](const FakeStunRequest& r) {
             return std::vector<FakeStunSend>{
                 send(success(r).xor_mapped(kWrongIp, 1).fingerprint().software("after"))};
         }},
        {"a_request_not_a_response",
         [](const FakeStunRequest& r) {
             return std::vector<FakeStunSend>{
                 send(StunWire(StunWire::kBindingRequest, r.id).xor_mapped(kWrongIp, 1))};
         }},
    };
    return answers;
}

class IgnoredAnswer : public testing::TestWithParam<Ignored> {};

} // namespace

TEST(StunFakeServer, ACorrectAnswerGivesTheSrflxAndTheFinding) {
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{
            send(success(r).xor_mapped(kMappedIp, kMappedPort).software("fake").fingerprint())};
    });
    const StunRun run = gather({fake.address()});
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    const auto srflx = srflx_of(run.result);
    ASSERT_EQ(srflx.size(), 1U);
    EXPECT_EQ(srflx[0].host, kMappedIp);
    EXPECT_EQ(srflx[0].port, kMappedPort);
    ASSERT_TRUE(srflx[0].ice()->related);
    EXPECT_EQ(srflx[0].ice()->related->ip.to_string(), "127.0.0.1");
    EXPECT_EQ(srflx[0].ice()->related->port, fake.requests().at(0).from_port)
        << "related = the base the request was sent from";
    ASSERT_EQ(run.result.external_addresses.size(), 1U);
    EXPECT_EQ(run.result.external_addresses[0].origin.source, "stun");
    EXPECT_EQ(run.result.external_addresses[0].origin.detail, fake.address());
    EXPECT_EQ(fake.requests().size(), 1U);
    EXPECT_EQ(fake.requests()[0].type, StunWire::kBindingRequest);
}

TEST_P(IgnoredAnswer, IsIgnoredAndTheServerTimesOut) {
    FakeStunServer fake("127.0.0.1", GetParam().answer);
    StunOptions stun;
    stun.final_wait = 300ms;
    const StunRun run = gather({fake.address()}, stun);
    EXPECT_EQ(run.stun.state, SourceState::TimedOut) << run.stun.error;
    EXPECT_TRUE(srflx_of(run.result).empty());
    EXPECT_TRUE(run.result.external_addresses.empty());
    EXPECT_GE(fake.requests().size(), 1U) << "the fake did answer";
}

TEST_P(IgnoredAnswer, DoesNotHideTheRealAnswerThatFollows) {
    // The bad answer first, then the right one: only the right one counts.
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        auto sends = GetParam().answer(r);
        sends.push_back(send(success(r).xor_mapped(kMappedIp, kMappedPort)));
        return sends;
    });
    const StunRun run = gather({fake.address()});
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    const auto srflx = srflx_of(run.result);
    ASSERT_EQ(srflx.size(), 1U);
    EXPECT_EQ(srflx[0].host, kMappedIp);
    EXPECT_EQ(srflx[0].port, kMappedPort);
}

INSTANTIATE_TEST_SUITE_P(StunFakeServer, IgnoredAnswer, testing::ValuesIn(ignored_answers()),
                         [](const testing::TestParamInfo<Ignored>& info) {
                             return std::string(info.param.name);
                         });

TEST(StunFakeServer, MappedAddressAloneIsEnough) {
    // RFC 3489 servers send MAPPED-ADDRESS only (RFC 8489 §14.1 keeps it for them).
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{send(success(r).mapped(kMappedIp, kMappedPort))};
    });
    const auto srflx = srflx_of(gather({fake.address()}).result);
    ASSERT_EQ(srflx.size(), 1U);
    EXPECT_EQ(srflx[0].host, kMappedIp);
    EXPECT_EQ(srflx[0].port, kMappedPort);
}

TEST(StunFakeServer, Ipv6XorMappedAddressUsesTheTransactionIdInItsKey) {
    FakeStunServer fake("::1", [](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{send(success(r).xor_mapped("2001:db8::7", kMappedPort))};
    });
    const StunRun run = gather({fake.address()}, {}, "::1");
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    const auto srflx = srflx_of(run.result);
    ASSERT_EQ(srflx.size(), 1U);
    EXPECT_EQ(srflx[0].host, "2001:db8::7");
    EXPECT_EQ(srflx[0].port, kMappedPort);
    EXPECT_EQ(srflx[0].ice()->related->ip.to_string(), "::1");
}

TEST(StunFakeServer, OnlyServersOfTheBasesFamilyAreAsked) {
    FakeStunServer v6("::1", never_answer);
    FakeStunServer v4("127.0.0.1", answer_mapped);
    const StunRun run = gather({v6.address(), v4.address()});
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    EXPECT_EQ(srflx_of(run.result).size(), 1U);
    EXPECT_TRUE(v6.requests().empty()) << "an IPv4 base never asks an IPv6 server";
}

TEST(StunFakeServer, FollowsAlternateServerOnce) {
    FakeStunServer target("127.0.0.1", answer_mapped);
    const std::uint16_t target_port = target.port();
    FakeStunServer redirector("127.0.0.1", [target_port](const FakeStunRequest& r) {
        // RFC 8489 §10: 300 (Try Alternate) with ALTERNATE-SERVER.
        return std::vector<FakeStunSend>{send(StunWire(StunWire::kBindingError, r.id)
                                                  .error_code(300, "Try Alternate")
                                                  .alternate_server("127.0.0.1", target_port))};
    });
    const StunRun run = gather({redirector.address()});
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    const auto srflx = srflx_of(run.result);
    ASSERT_EQ(srflx.size(), 1U);
    EXPECT_EQ(srflx[0].host, kMappedIp);
    EXPECT_EQ(srflx[0].origin.detail, redirector.address()) << "named by the configured server";
    EXPECT_EQ(redirector.requests().size(), 1U);
    ASSERT_EQ(target.requests().size(), 1U);
    EXPECT_NE(target.requests()[0].id, redirector.requests()[0].id)
        << "a new transaction for the alternate server";
}

TEST(StunFakeServer, ASecondRedirectionFailsTheServer) {
    std::uint16_t first_port = 0;
    FakeStunServer second("127.0.0.1", [&first_port](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{send(StunWire(StunWire::kBindingError, r.id)
                                                  .error_code(300, "Try Alternate")
                                                  .alternate_server("127.0.0.1", first_port))};
    });
    const std::uint16_t second_port = second.port();
    FakeStunServer first("127.0.0.1", [second_port](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{send(StunWire(StunWire::kBindingError, r.id)
                                                  .error_code(300, "Try Alternate")
                                                  .alternate_server("127.0.0.1", second_port))};
    });
    first_port = first.port();
    const auto start = std::chrono::steady_clock::now();
    const StunRun run = gather({first.address()});
    EXPECT_LT(std::chrono::steady_clock::now() - start, 300ms) << "no wait for the give-up";
    EXPECT_EQ(run.stun.state, SourceState::Failed);
    EXPECT_NE(run.stun.error.find(first.address() + " redirected again"), std::string::npos)
        << run.stun.error;
    EXPECT_EQ(first.requests().size(), 1U) << "no loop";
}

TEST(StunFakeServer, AnErrorResponseFailsTheServerAtOnceWithItsName) {
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{send(
            StunWire(StunWire::kBindingError, r.id).error_code(400, "Bad Request").fingerprint())};
    });
    const auto start = std::chrono::steady_clock::now();
    const StunRun run = gather({fake.address()});
    EXPECT_LT(std::chrono::steady_clock::now() - start, 300ms);
    EXPECT_EQ(run.stun.state, SourceState::Failed);
    EXPECT_NE(run.stun.error.find(fake.address() + " answered with error 400 (Bad Request)"),
              std::string::npos)
        << run.stun.error;
}

TEST(StunFakeServer, AnUnknownComprehensionRequiredAttributeFailsTheServer) {
    // RFC 8489 §6.3.3: such a response is discarded and the transaction has failed.
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{
            send(success(r).xor_mapped(kWrongIp, kMappedPort).attribute(0x7f01, {1, 2, 3, 4}))};
    });
    const StunRun run = gather({fake.address()});
    EXPECT_EQ(run.stun.state, SourceState::Failed);
    EXPECT_NE(run.stun.error.find("unknown comprehension-required attribute"), std::string::npos)
        << run.stun.error;
    EXPECT_TRUE(srflx_of(run.result).empty());
}

TEST(StunFakeServer, AnUnknownComprehensionOptionalAttributeIsIgnored) {
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{
            send(success(r).attribute(0xc0de, {1, 2, 3}).xor_mapped(kMappedIp, kMappedPort))};
    });
    const StunRun run = gather({fake.address()});
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    EXPECT_EQ(srflx_of(run.result).size(), 1U);
}

TEST(StunFakeServer, ASuccessWithoutAMappedAddressFailsTheServer) {
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{send(success(r).software("no address"))};
    });
    const StunRun run = gather({fake.address()});
    EXPECT_EQ(run.stun.state, SourceState::Failed);
    EXPECT_NE(run.stun.error.find(fake.address() + " answered without a mapped address"),
              std::string::npos)
        << run.stun.error;
}

TEST(StunFakeServer, ALostRequestIsRetransmittedWithTheSameTransactionAfterTheRto) {
    // RFC 8489 §6.2.1: retransmissions reuse the transaction id, after RTO, 2×RTO, ...
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        if (r.index < 2) {
            return std::vector<FakeStunSend>{}; // "lost"
        }
        return std::vector<FakeStunSend>{send(success(r).xor_mapped(kMappedIp, kMappedPort))};
    });
    StunOptions stun;
    stun.initial_rto = 100ms;
    stun.retransmissions = 2;
    stun.final_wait = 1000ms;
    const StunRun run = gather({fake.address()}, stun);
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    EXPECT_EQ(srflx_of(run.result).size(), 1U);
    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 3U);
    EXPECT_EQ(requests[1].id, requests[0].id);
    EXPECT_EQ(requests[2].id, requests[0].id);
    EXPECT_GE(run.stun.elapsed, 300ms) << "100 ms, then 200 ms";
}

TEST(StunFakeServer, RetransmissionsStopAtTheConfiguredCountThenTheServerTimesOut) {
    FakeStunServer fake("127.0.0.1", never_answer);
    StunOptions stun;
    stun.initial_rto = 50ms;
    stun.retransmissions = 1;
    stun.final_wait = 550ms; // sends at 0 and 50 ms, given up at 600 ms
    const StunRun run = gather({fake.address()}, stun);
    EXPECT_EQ(run.stun.state, SourceState::TimedOut);
    EXPECT_EQ(fake.requests().size(), 2U) << "the first send and one retransmission";
    EXPECT_GE(run.stun.elapsed, 590ms);
}

TEST(StunFakeServer, TheDefaultsSendOnceAndGiveUpAfter400Ms) {
    // The defaults: no retransmission, 400 ms for the answer.
    FakeStunServer fake("127.0.0.1", never_answer);
    const StunRun run = gather({fake.address()});
    EXPECT_EQ(run.stun.state, SourceState::TimedOut);
    EXPECT_NE(run.stun.error.find("no answer from " + fake.address() + " within 400 ms"),
              std::string::npos)
        << run.stun.error;
    EXPECT_EQ(fake.requests().size(), 1U);
}

TEST(StunFakeServer, DuplicateAnswersGiveOneCandidate) {
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        const auto answer = send(success(r).xor_mapped(kMappedIp, kMappedPort));
        return std::vector<FakeStunSend>{answer, answer, answer};
    });
    const StunRun run = gather({fake.address()});
    EXPECT_EQ(srflx_of(run.result).size(), 1U);
    EXPECT_EQ(run.result.external_addresses.size(), 1U);
}

TEST(StunFakeServer, AHealthyServerBesideADeadOneIsReportedAndTheSourceIsOkWithTheRest) {
    FakeStunServer dead("127.0.0.1", never_answer);
    FakeStunServer healthy("127.0.0.1", answer_mapped);
    const StunRun run = gather({dead.address(), healthy.address()});
    EXPECT_EQ(run.stun.state, SourceState::Ok);
    EXPECT_NE(run.stun.error.find("no answer from " + dead.address()), std::string::npos)
        << run.stun.error;
    EXPECT_EQ(srflx_of(run.result).size(), 1U);
    EXPECT_GE(run.stun.elapsed, 390ms) << "the default waits for every server (or its give-up)";
}

TEST(StunFakeServer, FirstMappingPerBaseCompletesWithoutWaitingForTheDeadServer) {
    FakeStunServer dead("127.0.0.1", never_answer);
    FakeStunServer healthy("127.0.0.1", answer_mapped);
    StunOptions stun;
    stun.completion = StunCompletion::FirstMappingPerBase;
    const StunRun run = gather({dead.address(), healthy.address()}, stun);
    EXPECT_EQ(run.stun.state, SourceState::Ok);
    EXPECT_TRUE(run.stun.error.empty()) << run.stun.error;
    EXPECT_EQ(srflx_of(run.result).size(), 1U);
    // The healthy server is asked Ta (50 ms) after the dead one: one round trip after that.
    EXPECT_LT(run.stun.elapsed, 150ms) << "one round trip on loopback, not the 400 ms give-up";
    // Asked in parallel (its thread may record the request after the gathering ended), once.
    EXPECT_TRUE(dead.wait_for_requests(1, 2s));
    EXPECT_EQ(dead.requests().size(), 1U);
}

TEST(StunFakeServer, FirstMappingPerBaseStillWaitsForABaseWithoutAMapping) {
    // Two components = two bases; the server answers only the first request it sees, so one
    // base has no mapping and the source waits for its give-up.
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        if (r.index > 0) {
            return std::vector<FakeStunSend>{};
        }
        return std::vector<FakeStunSend>{send(success(r).xor_mapped(kMappedIp, kMappedPort))};
    });
    StunOptions stun;
    stun.completion = StunCompletion::FirstMappingPerBase;
    stun.final_wait = 200ms;
    const StunRun run = gather({fake.address()}, stun, "127.0.0.1", 2);
    EXPECT_EQ(run.stun.state, SourceState::Ok);
    EXPECT_GE(run.stun.elapsed, 190ms);
    EXPECT_EQ(srflx_of(run.result).size(), 1U);
}

TEST(StunFakeServer, EachComponentsSocketGetsItsOwnMapping) {
    // RFC 8445 §5.1.1.2: a srflx per base, and each component has its own base socket.
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        // The mapping keeps the request's source port, as a port-preserving NAT does.
        return std::vector<FakeStunSend>{send(success(r).xor_mapped(kMappedIp, r.from_port))};
    });
    const StunRun run = gather({fake.address()}, {}, "127.0.0.1", 2);
    const auto srflx = srflx_of(run.result);
    ASSERT_EQ(srflx.size(), 2U);
    ASSERT_EQ(fake.requests().size(), 2U);
    EXPECT_NE(fake.requests()[0].from_port, fake.requests()[1].from_port);
    for (const Candidate& c : srflx) {
        ASSERT_TRUE(c.ice()->related);
        EXPECT_EQ(c.port, c.ice()->related->port) << "mapped from its own component's socket";
    }
    EXPECT_NE(srflx[0].ice()->component, srflx[1].ice()->component);
}

// Issue 8: mappings that cannot be true fail that server, and never become candidates.
TEST(StunFakeServer, AMappingOfAnotherFamilyThanTheBaseFailsThatServer) {
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{send(success(r).xor_mapped("2001:db8::7", kMappedPort))};
    });
    const StunRun run = gather({fake.address()});
    EXPECT_EQ(run.stun.state, SourceState::Failed);
    EXPECT_NE(run.stun.error.find(fake.address() + " answered [2001:db8::7]:4242 to the IPv4 base"),
              std::string::npos)
        << run.stun.error;
    EXPECT_NE(run.stun.error.find("a mapping is of its base's family"), std::string::npos);
    EXPECT_TRUE(srflx_of(run.result).empty());
    EXPECT_TRUE(run.result.external_addresses.empty());
}

TEST(StunFakeServer, AMappingNoHostCanHaveFailsThatServerAndNotTheOthers) {
    for (const char* impossible : {"0.0.0.0", "255.255.255.255", "224.0.0.5", "169.254.0.9"}) {
        SCOPED_TRACE(impossible);
        FakeStunServer bad("127.0.0.1", [impossible](const FakeStunRequest& r) {
            return std::vector<FakeStunSend>{send(success(r).xor_mapped(impossible, kMappedPort))};
        });
        FakeStunServer good("127.0.0.1", answer_mapped);
        StunOptions stun;
        stun.pacing = 5ms;
        const StunRun run = gather({bad.address(), good.address()}, stun);
        EXPECT_EQ(run.stun.state, SourceState::Ok) << "the good server answered";
        EXPECT_NE(run.stun.error.find(bad.address() + " answered " + impossible), std::string::npos)
            << run.stun.error;
        EXPECT_NE(run.stun.error.find("which cannot be a mapping"), std::string::npos);
        const auto srflx = srflx_of(run.result);
        ASSERT_EQ(srflx.size(), 1U);
        EXPECT_EQ(srflx[0].host, kMappedIp);
        ASSERT_EQ(run.result.external_addresses.size(), 1U);
        EXPECT_EQ(run.result.external_addresses[0].ip.to_string(), kMappedIp);
    }
}

TEST(StunFakeServer, TransactionsArePacedTaApartFirstServerOfEachBaseFirst) {
    // RFC 8445 §14.2: one new transaction every Ta. Two bases × two servers = four.
    FakeStunServer first("127.0.0.1", answer_mapped);
    FakeStunServer second("127.0.0.1", answer_mapped);
    StunOptions stun;
    stun.pacing = 40ms;
    const StunRun run = test::gather_with_stun({first.address(), second.address()}, stun,
                                               {"127.0.0.1", "127.0.0.2"});
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    ASSERT_TRUE(second.wait_for_requests(2, 2s));
    auto requests = first.requests();
    ASSERT_EQ(requests.size(), 2U);
    for (const auto& r : second.requests()) {
        requests.push_back(r);
    }
    ASSERT_EQ(requests.size(), 4U);
    // The first server's two come first (one from each base), then the second's.
    EXPECT_NE(requests[0].from_ip, requests[1].from_ip);
    EXPECT_LT(requests[1].at, requests[2].at);
    std::sort(requests.begin(), requests.end(),
              [](const auto& a, const auto& b) { return a.at < b.at; });
    for (std::size_t i = 1; i < requests.size(); ++i) {
        const auto gap = std::chrono::duration_cast<std::chrono::microseconds>(requests[i].at -
                                                                               requests[i - 1].at);
        // Received times: the sends are ≥ Ta apart; loopback adds no reordering worth a ms.
        EXPECT_GE(gap, 39ms) << "gap " << i << ": " << gap.count() << " µs";
    }
    EXPECT_GE(run.stun.elapsed, 120ms) << "(transactions − 1)·Ta before the last answer";
}

namespace {

// A burst of @p count gatherings on one loop, each with one base and @p stun asking @p server;
// their results once all are complete. @p last_deadline, when given, is the last one's deadline.
std::vector<GatherResult> burst(const FakeStunServer& server, int count, StunOptions stun,
                                std::chrono::milliseconds last_deadline = {}) {
    test::TestLoop t;
    stun.servers = {*StunSource::parse_server(server.address())};
    std::vector<std::unique_ptr<Gatherer>> gatherers;
    for (int i = 0; i < count; ++i) {
        GatherOptions options;
        options.host.include_loopback = true;
        options.host.addresses =
            std::vector<LocalAddress>{test::local_address("127.0.0.1", "lo", 1)};
        options.s5b = false;
        if (i == count - 1 && last_deadline.count() > 0) {
            options.deadline = last_deadline;
        }
        auto g = std::make_unique<Gatherer>(t.loop(), options);
        g->add_source(std::make_unique<StunSource>(stun));
        EXPECT_TRUE(g->gather());
        gatherers.push_back(std::move(g));
    }
    EXPECT_TRUE(t.run_until(
        [&] {
            return std::all_of(gatherers.begin(), gatherers.end(),
                               [](const auto& g) { return g->complete(); });
        },
        10s));
    std::vector<GatherResult> results;
    for (const auto& g : gatherers) {
        results.push_back(g->result());
    }
    return results;
}

const SourceReport* stun_report(const GatherResult& r) {
    for (const auto& s : r.sources) {
        if (s.name == "stun") {
            return &s;
        }
    }
    return nullptr;
}

// From the first request's arrival to the last's, and the shortest gap between two.
std::pair<std::chrono::microseconds, std::chrono::microseconds>
span_and_gap(std::vector<FakeStunRequest> requests) {
    std::sort(requests.begin(), requests.end(),
              [](const auto& a, const auto& b) { return a.at < b.at; });
    auto gap = std::chrono::microseconds::max();
    for (std::size_t i = 1; i < requests.size(); ++i) {
        gap = std::min(gap, std::chrono::duration_cast<std::chrono::microseconds>(
                                requests[i].at - requests[i - 1].at));
    }
    return {std::chrono::duration_cast<std::chrono::microseconds>(requests.back().at -
                                                                  requests.front().at),
            gap};
}

} // namespace

TEST(StunFakeServer, TheGatheringsOfOneLoopTogetherStartATransactionEvery5MsAtMost) {
    // RFC 8445 §14.2: "the combination of all transactions from all agents" no more often than
    // once every 5 ms. Ten gatherings in one burst, one request each: 9 gaps of 5 ms or more.
    FakeStunServer fake("127.0.0.1", answer_mapped);
    const auto results = burst(fake, 10, {});
    for (const auto& r : results) {
        ASSERT_NE(stun_report(r), nullptr);
        EXPECT_EQ(stun_report(r)->state, SourceState::Ok) << stun_report(r)->error;
    }
    ASSERT_EQ(fake.requests().size(), 10U);
    const auto [span, gap] = span_and_gap(fake.requests());
    // Received times: the sends are ≥ 5 ms apart; the server thread's wake-up adds jitter.
    EXPECT_GE(gap, 4ms) << "shortest gap " << gap.count() << " µs";
    EXPECT_GE(span, 44ms) << "9 gaps of 5 ms: " << span.count() << " µs";
}

TEST(StunFakeServer, PacingPerGatheringLetsABurstSendAtOnce) {
    // StunPacingScope::Gathering: each gathering's own Ta only (as libnice paces per agent).
    FakeStunServer fake("127.0.0.1", answer_mapped);
    StunOptions stun;
    stun.pacing_scope = StunPacingScope::Gathering;
    const auto results = burst(fake, 10, stun);
    for (const auto& r : results) {
        ASSERT_NE(stun_report(r), nullptr);
        EXPECT_EQ(stun_report(r)->state, SourceState::Ok) << stun_report(r)->error;
    }
    ASSERT_EQ(fake.requests().size(), 10U);
    EXPECT_LT(span_and_gap(fake.requests()).first, 44ms) << "not paced across gatherings";
}

TEST(StunFakeServer, AGatheringWhoseTurnOnTheLoopComesAfterItsDeadlineFailsAtOnceSayingWhy) {
    // 40 gatherings ahead of it hold ≈ 200 ms of turns; the last one has 60 ms.
    FakeStunServer fake("127.0.0.1", answer_mapped);
    const auto results = burst(fake, 41, {}, 60ms);
    for (std::size_t i = 0; i + 1 < results.size(); ++i) {
        EXPECT_EQ(stun_report(results[i])->state, SourceState::Ok)
            << stun_report(results[i])->error;
    }
    const SourceReport* late = stun_report(results.back());
    ASSERT_NE(late, nullptr);
    EXPECT_EQ(late->state, SourceState::Failed);
    EXPECT_NE(late->error.find("for its turn behind"), std::string::npos) << late->error;
    EXPECT_NE(late->error.find("RFC 8445 §14.2"), std::string::npos) << late->error;
    EXPECT_LT(late->elapsed, 60ms) << "failed at once, not at the deadline";
    EXPECT_EQ(fake.requests().size(), 40U) << "it sent nothing";
}

TEST(StunFakeServer, AGatheringDestroyedWhileWaitingForItsTurnGivesItUp) {
    // Five gatherings in one burst; the fourth is destroyed (from the first one's completion
    // callback) while it waits for its turn: it never sends, and the pacer never calls into it
    // (ASan would see the use after free).
    FakeStunServer fake("127.0.0.1", answer_mapped);
    test::TestLoop t;
    StunOptions stun;
    stun.servers = {*StunSource::parse_server(fake.address())};
    std::vector<std::unique_ptr<Gatherer>> gatherers;
    for (int i = 0; i < 5; ++i) {
        GatherOptions options;
        options.host.include_loopback = true;
        options.host.addresses =
            std::vector<LocalAddress>{test::local_address("127.0.0.1", "lo", 1)};
        options.s5b = false;
        gatherers.push_back(std::make_unique<Gatherer>(t.loop(), options));
        gatherers.back()->add_source(std::make_unique<StunSource>(stun));
    }
    gatherers[0]->on_complete = [&](const GatherResult&) {
        gatherers[3].reset();
    };
    for (const auto& g : gatherers) {
        ASSERT_TRUE(g->gather());
    }
    ASSERT_TRUE(t.run_until(
        [&] {
            return !gatherers[3] && gatherers[1]->complete() && gatherers[2]->complete() &&
                   gatherers[4]->complete();
        },
        5s));
    EXPECT_EQ(stun_report(gatherers[4]->result())->state, SourceState::Ok);
    EXPECT_FALSE(fake.wait_for_requests(5, 100ms)) << "the destroyed gathering sent";
    EXPECT_EQ(fake.requests().size(), 4U);
}

TEST(StunFakeServer, FirstMappingPerBaseNeverSendsTheRequestsItNoLongerNeeds) {
    FakeStunServer first("127.0.0.1", answer_mapped);
    FakeStunServer second("127.0.0.1", answer_mapped);
    StunOptions stun;
    stun.completion = StunCompletion::FirstMappingPerBase;
    stun.pacing = 100ms; // the first answer arrives long before the second server's turn
    const StunRun run = gather({first.address(), second.address()}, stun);
    EXPECT_EQ(run.stun.state, SourceState::Ok);
    EXPECT_EQ(first.requests().size(), 1U);
    EXPECT_FALSE(second.wait_for_requests(1, 300ms)) << "the base had its mapping: not asked";
    EXPECT_LT(run.stun.elapsed, 90ms);
}

TEST(StunFakeServer, RetransmissionsTheUserAsksForAreSentAndTheWaitFollowsTheLastOne) {
    // Before: a default 400 ms give-up cut every retransmission off. Now each setting holds.
    FakeStunServer fake("127.0.0.1", never_answer);
    StunOptions stun;
    stun.initial_rto = 100ms;
    stun.retransmissions = 3; // sends at 0, 100, 300, 700 ms
    stun.final_wait = 200ms;  // given up at 900 ms
    EXPECT_EQ(stun.last_send_at(1), 700ms);
    EXPECT_EQ(stun.give_up_at(1), 900ms);
    const StunRun run = gather({fake.address()}, stun);
    EXPECT_EQ(run.stun.state, SourceState::TimedOut);
    EXPECT_EQ(fake.requests().size(), 4U);
    EXPECT_GE(run.stun.elapsed, 890ms);
    EXPECT_LT(run.stun.elapsed, 1500ms);
}

TEST(StunFakeServer, SettingsThatCannotAllTakeEffectAreRefusedWithTheReason) {
    StunOptions too_fast;
    too_fast.pacing = 2ms;
    ASSERT_FALSE(too_fast.validate());
    EXPECT_EQ(too_fast.validate().error().message,
              "StunOptions::pacing 2 ms is below RFC 8445 §14.2's 5 ms minimum");
    StunOptions no_wait;
    no_wait.final_wait = 0ms;
    EXPECT_FALSE(no_wait.validate());
    StunOptions multicast;
    multicast.servers = {*TransportAddress::parse("224.0.0.1:3478")};
    ASSERT_FALSE(multicast.validate());
    EXPECT_NE(multicast.validate().error().message.find("multicast"), std::string::npos);

    // Retransmissions that the gathering's deadline (3 s) would cut off: the deadline wins, and
    // the source says so instead of silently sending less.
    FakeStunServer fake("127.0.0.1", never_answer);
    StunOptions long_schedule;
    long_schedule.retransmissions = 3; // last send at 3.5 s
    const StunRun run = gather({fake.address()}, long_schedule);
    EXPECT_EQ(run.stun.state, SourceState::Failed);
    EXPECT_NE(run.stun.error.find("the last STUN send would be at 3500 ms"), std::string::npos)
        << run.stun.error;
    EXPECT_NE(run.stun.error.find("the deadline wins"), std::string::npos);
    EXPECT_TRUE(fake.requests().empty()) << "refused before sending";
}

TEST(StunFakeServer, DatagramsNoSourceClaimsAreKeptForTheCaller) {
    // Garbage and a STUN answer to a transaction nobody sent are not the STUN source's: they
    // are counted and handed over with the sockets, not swallowed.
    FakeStunServer fake("127.0.0.1", [](const FakeStunRequest& r) {
        return std::vector<FakeStunSend>{
            {{0xde, 0xad, 0xbe, 0xef}, false},
            send(StunWire(StunWire::kBindingSuccess, flipped(r)).xor_mapped(kWrongIp, 1)),
            send(success(r).xor_mapped(kMappedIp, kMappedPort))};
    });
    const StunRun run = gather({fake.address()});
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    EXPECT_EQ(run.result.unclaimed_datagrams, 2U);
}
