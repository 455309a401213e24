#include <chrono>

#include "labhouse/core/ports/blob_store.h"
#include "labhouse/core/ports/clock.h"

namespace labhouse {

std::int64_t SystemClock::NowMs() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

bool IsValidBlobId(std::string_view id) {
    if (id.size() != 64) return false;
    for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace labhouse
