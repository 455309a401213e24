// StabilityTransformer ("stability"): image-to-image and text-to-image through Stability AI's
// hosted API, SDXL 1.0 on v1 and SD3.5 / Ultra on v2beta. Remote jobs are I/O bound, so one worker process runs up to
// config.max_concurrency of them at once on dedicated runner threads; everything here is
// thread-safe. The behaviour (sizes, strength, retries, charges, errors) is described in
// docs/stability.md.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "labhouse/adapters/stability/rate_limiter.h"
#include "labhouse/adapters/stability/request_builder.h"
#include "labhouse/adapters/stability/response_parser.h"
#include "labhouse/adapters/stability/stability_config.h"
#include "labhouse/core/ports/image_codec.h"
#include "labhouse/core/ports/transformer.h"

namespace labhouse::stability {

class StabilityTransformer final : public Transformer {
public:
    // `codec` encodes uploads and decodes results; it must outlive the transformer. The config
    // is expected to have passed Validate() (an invalid one makes Status() unavailable).
    StabilityTransformer(StabilityConfig config, const ImageCodec& codec);

    std::string_view Name() const override { return "stability"; }
    // Unavailable without a key ("set LABHOUSE_STABILITY_API_KEY"), with an invalid config, or
    // after the API rejected the key (401/403) until a balance check succeeds again. details:
    // engine, balance (credits, from /v1/user/balance, cached config.balance_cache_ttl).
    BackendStatus Status() const override;
    // The engine option, prompt and every range the chosen engine documents.
    labhouse::Status Validate(const JobParams& params, const Style* style) const override;
    // Error codes: kInvalidArgument (400/422 with the API's message; reason CONTENT_FILTERED when
    // moderation blocked the request or blurred the output), kFailedPrecondition (key rejected,
    // engine retired), kResourceExhausted (out of credits), kPayloadTooLarge, kUnavailable
    // (retries used up, or an answer that may have been charged was lost), kCancelled.
    Result<TransformOutput> Transform(const TransformInput& input, ProgressReporter& progress) override;
    int MaxConcurrency() const override { return config_.max_concurrency; }
    // Text to image at the closest shape the engine makes (an SDXL size, a v2beta aspect ratio),
    // then cropped and scaled to the asked size.
    bool SupportsTextToImage() const override { return true; }

    const StabilityConfig& config() const { return config_; }

private:
    struct Prepared;  // the request for one job, built once and re-sent on retries
    Result<Prepared> Prepare(const TransformInput& input, const GenerationSettings& settings) const;
    // The HTTP request (URL, key, headers) around a built body.
    Prepared Finalize(Prepared prepared, PreparedRequest built) const;
    Result<TransformOutput> Finish(const Prepared& prepared, const GenerationSettings& settings,
                                   const GeneratedImage& generated, int attempts, ProgressReporter& progress) const;
    // Sends the request, waiting and re-sending as the retry policy allows; counts attempts.
    Result<GeneratedImage> Send(const Prepared& prepared, ProgressReporter& progress, int& attempts);
    // Retries left for one job.
    struct RetryBudget {
        int retries = 0;     // 5xx and transport retries used
        int rate_waits = 0;  // 429 waits used
    };
    // False when cancelled while the rate limiter held the request back.
    bool AcquireSendSlot(ProgressReporter& progress);
    // After a failed try: nullopt to send again (having waited), or the error that ends the job.
    std::optional<Error> AfterTransportError(const TransportError& error, int attempts, RetryBudget& budget,
                                             ProgressReporter& progress);
    std::optional<Error> AfterErrorAnswer(const HttpResponse& response, int attempts, RetryBudget& budget,
                                          ProgressReporter& progress);
    // Sleeps, reporting `stage`; false when cancelled meanwhile.
    bool Wait(std::chrono::milliseconds duration, const std::string& stage, ProgressReporter& progress) const;
    std::chrono::milliseconds Backoff(int retry) const;
    std::chrono::milliseconds Jitter(std::chrono::milliseconds max) const;
    void RecordKeyRejected(const std::string& reason, long http_status) const;
    void RecordKeyAccepted() const;
    void RefreshBalance() const;

    const StabilityConfig config_;
    const ImageCodec& codec_;
    const labhouse::Status config_status_;
    mutable RateLimiter limiter_;

    // Account state shown by Status(). Guarded by state_mutex_; balance_mutex_ serialises
    // refreshes so a burst of status calls makes one balance request.
    mutable std::mutex state_mutex_;
    mutable std::mutex balance_mutex_;
    mutable std::string key_rejected_reason_;
    mutable long key_rejected_status_ = 0;  // 401 or 403
    mutable std::chrono::steady_clock::time_point key_rejected_at_{};
    mutable std::optional<double> balance_;
    mutable std::string balance_error_;
    mutable std::chrono::steady_clock::time_point balance_checked_{};
    mutable bool balance_valid_ = false;
};

}  // namespace labhouse::stability
