// Result<T>: a value or an Error. Its members mirror std::expected<T, Error> (C++23), which GCC 12
// offers only under -std=c++2b; this can become an alias when the toolchain allows.
#pragma once

#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "labhouse/core/base/error.h"

namespace labhouse {

template <class T>
class [[nodiscard]] Result {
public:
    Result(const T& value) : data_(value) {}          // NOLINT(google-explicit-constructor)
    Result(T&& value) : data_(std::move(value)) {}    // NOLINT(google-explicit-constructor)
    Result(const Error& error) : data_(error) {}      // NOLINT(google-explicit-constructor)
    Result(Error&& error) : data_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool has_value() const { return data_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return Check(), std::get<0>(data_); }
    const T& value() const& { return Check(), std::get<0>(data_); }
    T&& value() && { return Check(), std::get<0>(std::move(data_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    template <class U>
    T value_or(U&& fallback) const& {
        return has_value() ? std::get<0>(data_) : static_cast<T>(std::forward<U>(fallback));
    }

    const Error& error() const& { return std::get<1>(data_); }
    Error&& error() && { return std::get<1>(std::move(data_)); }

private:
    void Check() const {
        if (!has_value()) std::abort();  // a bug: value() on an error
    }
    std::variant<T, Error> data_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(const Error& error) : error_(error) {}      // NOLINT(google-explicit-constructor)
    Result(Error&& error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool has_value() const { return !error_.has_value(); }
    explicit operator bool() const { return has_value(); }
    const Error& error() const& { return *error_; }
    Error&& error() && { return std::move(*error_); }

private:
    std::optional<Error> error_;
};

using Status = Result<void>;
inline Status OkStatus() { return {}; }

}  // namespace labhouse

#define LABHOUSE_CONCAT_INNER_(a, b) a##b
#define LABHOUSE_CONCAT_(a, b) LABHOUSE_CONCAT_INNER_(a, b)

// Returns the error of `expr` (a Result or Status) from the enclosing function.
#define LABHOUSE_RETURN_IF_ERROR(expr)                                   \
    do {                                                                 \
        auto labhouse_status_ = (expr);                                  \
        if (!labhouse_status_) return std::move(labhouse_status_).error(); \
    } while (0)

// `lhs = *expr` when expr holds a value; otherwise returns its error.
#define LABHOUSE_ASSIGN_OR_RETURN(lhs, expr) \
    LABHOUSE_ASSIGN_OR_RETURN_IMPL_(LABHOUSE_CONCAT_(labhouse_result_, __LINE__), lhs, expr)
#define LABHOUSE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
    auto tmp = (expr);                                  \
    if (!tmp) return std::move(tmp).error();            \
    lhs = std::move(tmp).value()
