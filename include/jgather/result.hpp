/**
 * @file result.hpp
 * @brief Errors as values: every fallible jgather call returns a Result.
 *
 * No exception crosses the jgather API. A failure carries a message meant for a person; parsers
 * name the element and attribute at fault.
 */
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace jgather {

/** @brief A failure, described for a person. */
struct Error {
    std::string message; ///< What went wrong, e.g. "candidate: attribute 'port': 70000 is out of
                         ///< range 1-65535".
};

/**
 * @brief Either a value of type T or an Error.
 *
 * Test with `if (result)` or ok(); read with value() / operator* only when ok.
 */
template <typename T> class Result {
public:
    /** Success holding @p value. */
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    /** Failure holding @p error. */
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

    /** True on success. */
    [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
    /** True on success. */
    explicit operator bool() const noexcept { return ok(); }

    /** The value; only valid when ok(). */
    [[nodiscard]] T& value() & { return *std::get_if<0>(&state_); }
    /** The value; only valid when ok(). */
    [[nodiscard]] const T& value() const& { return *std::get_if<0>(&state_); }
    /** The value, moved out; only valid when ok(). */
    [[nodiscard]] T&& value() && { return std::move(*std::get_if<0>(&state_)); }
    /** The value; only valid when ok(). */
    T& operator*() & { return value(); }
    /** The value; only valid when ok(). */
    const T& operator*() const& { return value(); }
    /** Member access to the value; only valid when ok(). */
    T* operator->() { return &value(); }
    /** Member access to the value; only valid when ok(). */
    const T* operator->() const { return &value(); }

    /** The error; only valid when !ok(). */
    [[nodiscard]] const Error& error() const { return *std::get_if<1>(&state_); }

private:
    std::variant<T, Error> state_;
};

/** @brief Success without a value, or an Error. */
template <> class Result<void> {
public:
    /** Success. */
    Result() = default;
    /** Failure holding @p error. */
    Result(Error error) : error_(std::move(error)), ok_(false) {}

    /** True on success. */
    [[nodiscard]] bool ok() const noexcept { return ok_; }
    /** True on success. */
    explicit operator bool() const noexcept { return ok_; }
    /** The error; only valid when !ok(). */
    [[nodiscard]] const Error& error() const { return error_; }

private:
    Error error_;
    bool ok_ = true;
};

} // namespace jgather
