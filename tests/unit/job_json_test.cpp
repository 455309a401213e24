// Job parameters stored as JSON (support/job_json.h): a corrupted or hostile row is an error.
#include <gtest/gtest.h>

#include "labhouse/support/job_json.h"

namespace labhouse {
namespace {

Result<JobParams> Parse(const char* text) { return ParamsFromJson(nlohmann::json::parse(text)); }

// Fuzz finding (fuzz_job_json, UBSan): {"seed": 4.2e74} reached nlohmann's get<int64_t>(), a
// plain float-to-integer cast that is undefined behaviour out of range.
TEST(JobJson, NumbersOutOfRangeOrNotWholeAreErrorsNotCasts) {
    for (const char* text : {R"({"seed": 4.23333e74})", R"({"seed": -1e300})", R"({"seed": 18446744073709551615})",
                             R"({"steps": 1e10})", R"({"steps": 3000000000})", R"({"steps": 2.5})",
                             R"({"steps": "20"})", R"({"seed": 9.3e18})", R"({"width": 1e20})",
                             R"({"height": -3e9})"}) {
        auto params = Parse(text);
        ASSERT_FALSE(params) << text;
        EXPECT_EQ(params.error().code, ErrorCode::kInvalidArgument) << text;
    }
}

TEST(JobJson, WholeNumbersRoundTrip) {
    auto params = Parse(R"({"backend": "classic", "steps": 20.0, "seed": 4294967295})");
    ASSERT_TRUE(params) << params.error().message;
    EXPECT_EQ(params->steps, 20);
    EXPECT_EQ(params->seed, 4294967295LL);
    auto again = ParamsFromJson(ParamsToJson(*params));
    ASSERT_TRUE(again);
    EXPECT_TRUE(*again == *params);
    auto largest = Parse(R"({"seed": 9223372036854775807})");
    ASSERT_TRUE(largest);
    EXPECT_EQ(largest->seed, 9223372036854775807LL);
}

}  // namespace
}  // namespace labhouse
