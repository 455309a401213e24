// Random identifiers for jobs and workers.
#pragma once

#include <string>
#include <string_view>

namespace labhouse {

// 32 lowercase hex characters (128 random bits).
std::string NewJobId();
// True only for ids NewJobId can produce: rejects path tricks like "../../etc/passwd" early.
bool IsValidJobId(std::string_view id);
// "<host>-<pid>-<random>": unique per worker thread across machines.
std::string NewWorkerId(std::string_view prefix);

}  // namespace labhouse
