// Time, injectable so that leases and timestamps are testable.
#pragma once

#include <cstdint>

namespace labhouse {

class Clock {
public:
    virtual ~Clock() = default;
    // Milliseconds since the Unix epoch.
    virtual std::int64_t NowMs() const = 0;
};

// The wall clock.
class SystemClock final : public Clock {
public:
    std::int64_t NowMs() const override;
};

}  // namespace labhouse
