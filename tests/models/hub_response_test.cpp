// The hub answer readers that HubClient feeds from libcurl (hub_response.h), without a socket.
#include <gtest/gtest.h>

#include "labhouse/models/hub_response.h"

namespace labhouse::models {
namespace {

HubHeaders Head(std::initializer_list<const char*> lines) {
    HubHeaders headers;
    for (const char* line : lines) AddHeaderLine(headers, line);
    return headers;
}

TEST(HubResponse, HeaderLinesAreLowerCasedTrimmedAndResetByAStatusLine) {
    HubHeaders headers = Head({"HTTP/1.1 302 Found\r\n", "X-Linked-Size:  42 \r\n", "no colon here\r\n"});
    EXPECT_EQ(headers.at("x-linked-size"), "42");
    EXPECT_EQ(headers.size(), 1u);
    AddHeaderLine(headers, "HTTP/2 200\r\n");
    EXPECT_TRUE(headers.empty());
}

// A size past int64 used to be clamped by strtoll to 9223372036854775807 bytes and believed; the
// hub "did not say" then, like for any other malformed size.
TEST(HubResponse, SizesPastInt64AreNotBelieved) {
    EXPECT_EQ(ParseSize("5135149760"), 5135149760);
    EXPECT_EQ(ParseSize("9223372036854775807"), 9223372036854775807);
    EXPECT_EQ(ParseSize("9223372036854775808"), -1);
    EXPECT_EQ(ParseSize("99999999999999999999999"), -1);
    EXPECT_EQ(ParseSize("12a"), -1);
    EXPECT_EQ(ParseSize(""), -1);
}

TEST(HubResponse, ProbeFollowsSameOriginRedirectsAndGivesTheCdnNoToken) {
    HubConfig config;
    config.endpoint = "https://hub.example";
    config.token = "hf_secret";
    const std::string origin = UrlOrigin(config.endpoint);
    RemoteFile file;
    file.repo = "org/model";
    file.revision = "main";
    file.path = "model.safetensors";
    const std::string url = "https://hub.example/org/model/resolve/main/model.safetensors";

    auto next = ApplyProbeAnswer(file, 307, Head({"Location: /api/resolve-cache/x/model.safetensors"}), url, origin,
                                 config);
    ASSERT_TRUE(next);
    ASSERT_TRUE(next->has_value());
    EXPECT_EQ(**next, "https://hub.example/api/resolve-cache/x/model.safetensors");

    const std::string sha = std::string(64, 'a');
    auto done = ApplyProbeAnswer(
        file, 302,
        Head({"Location: https://user@hub.example@cdn.example/blob?sig=1", ("X-Linked-Etag: \"" + sha + "\"").c_str(),
              "X-Linked-Size: 99999999999999999999999"}),
        **next, origin, config);
    ASSERT_TRUE(done);
    EXPECT_FALSE(done->has_value());
    EXPECT_EQ(file.download_url, "https://user@hub.example@cdn.example/blob?sig=1");
    EXPECT_FALSE(file.send_auth);  // the authority is cdn.example, whatever precedes the last '@'
    EXPECT_EQ(file.sha256, sha);
    EXPECT_EQ(file.size, -1);

    auto denied = ApplyProbeAnswer(file, 401, {}, url, origin, config);
    ASSERT_FALSE(denied);
    EXPECT_EQ(denied.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(denied.error().message.find("hf_secret"), std::string::npos);
}

}  // namespace
}  // namespace labhouse::models
