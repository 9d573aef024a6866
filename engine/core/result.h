#pragma once
// Result<T>: a value or an Error, for every operation that can fail in an expected way.
// Thread: any; plain value type.

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/error.h"

namespace corolla {

template <typename T> class [[nodiscard]] Result {
public:
    Result(T value)
        : m_state(std::move(value))
    {
    }
    Result(Error error)
        : m_state(std::move(error))
    {
    }

    bool ok() const { return m_state.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() &
    {
        assert(ok());
        return std::get<0>(m_state);
    }
    const T &value() const &
    {
        assert(ok());
        return std::get<0>(m_state);
    }
    T &&value() &&
    {
        assert(ok());
        return std::get<0>(std::move(m_state));
    }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    const Error &error() const
    {
        assert(!ok());
        return std::get<1>(m_state);
    }

    // `next(value)`, itself a Result, when this holds a value; this error otherwise:
    //     auto id = config.andThen([&](const ModelConfig &) { return modelIdForDirectory(dir); });
    template <typename Next>
    auto andThen(Next &&next) const & -> std::invoke_result_t<Next, const T &>
    {
        if (!ok())
            return error();
        return std::forward<Next>(next)(value());
    }

private:
    std::variant<T, Error> m_state;
};

template <> class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error)
        : m_error(std::move(error))
        , m_ok(false)
    {
    }

    bool ok() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const Error &error() const
    {
        assert(!m_ok);
        return m_error;
    }

private:
    Error m_error;
    bool m_ok = true;
};

} // namespace corolla
