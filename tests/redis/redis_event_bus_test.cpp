// RedisEventBus against a real Redis: two buses stand for two processes (an API node and a worker)
// on one channel.
#include "labhouse/adapters/redis/redis_event_bus.h"

#include "tests/redis/redis_test_support.h"

namespace labhouse::testing {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<redis::RedisEventBus> OpenBus(const std::string& channel) {
    auto bus = redis::RedisEventBus::Open({RedisUrl(), channel});
    EXPECT_TRUE(bus) << (bus ? "" : bus.error().message);
    return bus ? std::move(*bus) : nullptr;
}

TEST(RedisEventBus, AnotherProcessesEventsReachTheListenersOfTheirJob) {
    LABHOUSE_REQUIRE_REDIS();
    RedisProbe probe;
    const std::string channel = probe.Key("events");
    auto worker = OpenBus(channel);
    auto api = OpenBus(channel);
    ASSERT_TRUE(worker && api);
    auto job_x = api->Subscribe("job-x");
    auto every = api->Subscribe("");
    worker->Publish({"job-y", JobState::kRunning, {"denoise", 1, 4, 0.5}, std::nullopt});
    worker->Publish({"job-x", JobState::kRunning, {"denoise", 2, 4, 0.5}, std::nullopt});
    auto got = job_x->Next(3s);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->job_id, "job-x");
    EXPECT_EQ(got->progress, (JobProgress{"denoise", 2, 4, 0.5}));
    EXPECT_FALSE(job_x->Next(200ms).has_value()) << "job-y's event is not job-x's";
    auto first = every->Next(3s);
    auto second = every->Next(3s);
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->job_id, "job-y");
    EXPECT_EQ(second->job_id, "job-x");
}

TEST(RedisEventBus, ThePublishersOwnListenersHearItToo) {
    LABHOUSE_REQUIRE_REDIS();
    RedisProbe probe;
    auto bus = OpenBus(probe.Key("events"));
    ASSERT_NE(bus, nullptr);
    auto sub = bus->Subscribe("j");
    bus->Publish({"j", JobState::kFailed, {"decode", 4, 4, 0}, JobError{"NO_FACE", "no face found"}});
    auto got = sub->Next(3s);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->state, JobState::kFailed);
    ASSERT_TRUE(got->error.has_value());
    EXPECT_EQ(got->error->code, "NO_FACE");
}

TEST(RedisEventBus, EventsRoundTripThroughTheWireForm) {
    const JobEvent event{"id-1", JobState::kCanceled, {"denoise", 3, 9, 1.25}, JobError{"C", "quote \" and ünïcode"}};
    auto decoded = redis::DecodeEvent(redis::EncodeEvent(event));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->job_id, event.job_id);
    EXPECT_EQ(decoded->state, event.state);
    EXPECT_EQ(decoded->progress, event.progress);
    EXPECT_EQ(decoded->error, event.error);
    EXPECT_TRUE(decoded->preview_jpeg.empty());
    std::string jpeg("\xff\xd8\xff\xe0 binary \0 bytes \xff\xd9", 20);
    auto preview = redis::DecodeEvent(redis::EncodeEvent({"id-2", JobState::kRunning, {"unet", 1, 4, 0}, std::nullopt, jpeg}));
    ASSERT_TRUE(preview.has_value());
    EXPECT_EQ(preview->preview_jpeg, jpeg);
    EXPECT_FALSE(redis::DecodeEvent(R"({"job_id":"x","state":"running","stage":"","step":0,"total":0,)"
                                    R"("seconds_per_step":0,"preview_jpeg":"not*base64"})")
                     .has_value());
    EXPECT_FALSE(redis::DecodeEvent("not json").has_value());
    EXPECT_FALSE(redis::DecodeEvent(R"({"job_id":"x","state":"exploded"})").has_value());
}

TEST(RedisEventBus, UnreachableRedisIsUnavailable) {
    auto bus = redis::RedisEventBus::Open({"redis://127.0.0.1:1", "c"});
    ASSERT_FALSE(bus);
    EXPECT_EQ(bus.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace labhouse::testing
