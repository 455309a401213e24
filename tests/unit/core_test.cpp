#include <gtest/gtest.h>

#include "labhouse/core/base/base64.h"
#include "labhouse/core/base/ids.h"
#include "labhouse/core/base/log.h"
#include "labhouse/core/base/metrics.h"
#include "labhouse/core/base/result.h"
#include "labhouse/core/base/sha256.h"
#include "labhouse/core/domain/job.h"
#include "labhouse/core/domain/style.h"
#include "labhouse/core/ports/blob_store.h"

namespace labhouse {
namespace {

TEST(Sha256, MatchesFipsVectors) {
    EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    Sha256 streaming;  // a million 'a's fed in uneven pieces
    std::string chunk(997, 'a');
    std::size_t fed = 0;
    while (fed + chunk.size() <= 1'000'000) {
        streaming.Update(chunk);
        fed += chunk.size();
    }
    streaming.Update(std::string(1'000'000 - fed, 'a'));
    EXPECT_EQ(streaming.FinishHex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Result<int> Half(int x) {
    if (x % 2) return InvalidArgument("odd");
    return x / 2;
}

Result<int> Quarter(int x) {
    LABHOUSE_ASSIGN_OR_RETURN(int half, Half(x));
    LABHOUSE_ASSIGN_OR_RETURN(int quarter, Half(half));
    return quarter;
}

TEST(Base64, RoundTripsAndRejectsMalformedText) {
    EXPECT_EQ(EncodeBase64(""), "");
    EXPECT_EQ(EncodeBase64("f"), "Zg==");  // RFC 4648 section 10
    EXPECT_EQ(EncodeBase64("fo"), "Zm8=");
    EXPECT_EQ(EncodeBase64("foobar"), "Zm9vYmFy");
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    EXPECT_EQ(DecodeBase64(EncodeBase64(all)).value(), all);
    EXPECT_EQ(DecodeBase64("Zm9v\nYmE=").value(), "fooba");  // whitespace, padding
    EXPECT_EQ(DecodeBase64("Zm9vYmE").value(), "fooba");      // padding left off
    EXPECT_EQ(DecodeBase64("-_8=").value(), DecodeBase64("+/8=").value());  // URL-safe alphabet
    EXPECT_FALSE(DecodeBase64("a$bc").has_value());
    EXPECT_FALSE(DecodeBase64("Zg==Zg==").has_value());  // data after the padding
    EXPECT_FALSE(DecodeBase64("Zm9vY").has_value());     // a dangling character
}

TEST(Result, MacrosPropagateErrorsAndValues) {
    EXPECT_EQ(*Quarter(8), 2);
    auto odd = Quarter(6);
    ASSERT_FALSE(odd);
    EXPECT_EQ(odd.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(Quarter(3).value_or(-1), -1);
}

TEST(ErrorCodes, NamesRoundTripAndReasonOverrides) {
    EXPECT_EQ(ErrorCodeName(ErrorCode::kPayloadTooLarge), "PAYLOAD_TOO_LARGE");
    EXPECT_EQ(ErrorCodeFromName("NOT_FOUND"), ErrorCode::kNotFound);
    Error e = FailedPrecondition("x");
    EXPECT_EQ(e.Name(), "FAILED_PRECONDITION");
    e.reason = "NO_FACE";
    EXPECT_EQ(e.Name(), "NO_FACE");
}

TEST(Ids, JobIdsAreValidatedStrictly) {
    const std::string id = NewJobId();
    EXPECT_TRUE(IsValidJobId(id));
    EXPECT_NE(id, NewJobId());
    EXPECT_FALSE(IsValidJobId("../../etc/passwd"));
    EXPECT_FALSE(IsValidJobId(id.substr(1)));
    EXPECT_FALSE(IsValidJobId(std::string(32, 'G')));
    EXPECT_TRUE(IsValidBlobId(std::string(64, 'f')));
    EXPECT_FALSE(IsValidBlobId(std::string(63, 'f') + "/"));
}

TEST(JobState, NamesRoundTrip) {
    for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                       JobState::kCanceled}) {
        EXPECT_EQ(JobStateFromName(JobStateName(s)), s);
    }
    EXPECT_FALSE(JobStateFromName("done"));
    EXPECT_TRUE(IsTerminal(JobState::kCanceled));
    EXPECT_FALSE(IsTerminal(JobState::kRunning));
}

TEST(Styles, CatalogHasTheClassicEffectsAndTemplatesApply) {
    for (const char* name : {"pencil-sketch", "watercolor", "cartoon", "detail-enhance"}) {
        const Style* style = FindStyle(name);
        ASSERT_NE(style, nullptr) << name;
        EXPECT_EQ(style->classic_effect, name);
        EXPECT_NE(style->sdxl.prompt_template.find("{prompt}"), std::string::npos);
    }
    EXPECT_EQ(FindStyle("nope"), nullptr);
    EXPECT_EQ(ApplyPromptTemplate("a sketch of {prompt}, pencil", "a dog"), "a sketch of a dog, pencil");
    EXPECT_EQ(ApplyPromptTemplate("a sketch of {prompt}", ""), "a sketch of the scene");
}

TEST(Metrics, RendersPrometheusText) {
    Metrics metrics;
    metrics.Describe("req_total", "counter", "Requests.");
    metrics.IncrementCounter("req_total", {{"route", "GET /x"}, {"status", "200"}});
    metrics.IncrementCounter("req_total", {{"route", "GET /x"}, {"status", "200"}});
    metrics.Observe("dur_seconds", {}, 0.3, {0.1, 1});
    metrics.Observe("dur_seconds", {}, 5, {0.1, 1});
    const std::string text = metrics.RenderPrometheus();
    EXPECT_NE(text.find("# TYPE req_total counter"), std::string::npos);
    EXPECT_NE(text.find("req_total{route=\"GET /x\",status=\"200\"} 2"), std::string::npos);
    EXPECT_NE(text.find("dur_seconds_bucket{le=\"0.1\"} 0"), std::string::npos);
    EXPECT_NE(text.find("dur_seconds_bucket{le=\"1\"} 1"), std::string::npos);
    EXPECT_NE(text.find("dur_seconds_bucket{le=\"+Inf\"} 2"), std::string::npos);
    EXPECT_NE(text.find("dur_seconds_count 2"), std::string::npos);
}

TEST(Log, FormatsKeyValuesAndQuotesWhenNeeded) {
    EXPECT_EQ(FormatLogLine("job_started", {{"job_id", "abc"}, {"message", "two words"}}),
              "job_started job_id=abc message=\"two words\"");
}

}  // namespace
}  // namespace labhouse
