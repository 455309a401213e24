#include "labhouse/core/base/ids.h"

#include <mutex>
#include <random>

namespace labhouse {
namespace {
std::string RandomHex(std::size_t length) {
    static std::mutex mutex;
    static std::mt19937_64 engine{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(length, '0');
    std::lock_guard lock(mutex);
    for (char& c : out) c = kHex[engine() & 15];
    return out;
}
}  // namespace

std::string NewJobId() { return RandomHex(32); }

bool IsValidJobId(std::string_view id) {
    if (id.size() != 32) return false;
    for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string NewWorkerId(std::string_view prefix) { return std::string(prefix) + "-" + RandomHex(8); }

}  // namespace labhouse
