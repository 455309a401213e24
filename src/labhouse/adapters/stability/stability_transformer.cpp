#include "labhouse/adapters/stability/stability_transformer.h"

#include <cstdio>
#include <random>
#include <thread>

#include "labhouse/adapters/stability/image_fitting.h"
#include "labhouse/core/base/log.h"

namespace labhouse::stability {
namespace {

constexpr std::chrono::milliseconds kWaitSlice{20};  // how fast a waiting job notices a cancel

std::string SizeText(Size size) { return std::to_string(size.width) + "x" + std::to_string(size.height); }

std::string ApiName(StabilityApi api) { return api == StabilityApi::kV1Sdxl ? "v1" : "v2beta"; }

std::string TrimSlash(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

std::string Credits(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.2f", value);
    return buffer;
}

std::int64_t Millis(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Re-reports a waiting stage every `interval` (see StabilityConfig::progress_interval).
class WaitTicker {
public:
    WaitTicker(ProgressReporter& progress, std::string stage, std::chrono::milliseconds length,
               std::chrono::milliseconds interval)
        : progress_(progress),
          stage_(std::move(stage)),
          total_s_(static_cast<int>((length.count() + 999) / 1000)),
          interval_(interval),
          started_(std::chrono::steady_clock::now()),
          reported_(started_) {
        Report(started_);
    }
    // Reports again when the interval has passed.
    void Tick() {
        const auto now = std::chrono::steady_clock::now();
        if (now - reported_ >= interval_) Report(now);
    }

private:
    void Report(std::chrono::steady_clock::time_point now) {
        reported_ = now;
        const int waited_s = static_cast<int>(Millis(now - started_) / 1000);
        // seconds_per_step = 1 turns step/total into a countdown for the ETA; 0 when open-ended.
        progress_.Report({stage_, total_s_ > 0 ? std::min(waited_s, total_s_) : waited_s, total_s_,
                          total_s_ > 0 ? 1.0 : 0.0});
    }

    ProgressReporter& progress_;
    const std::string stage_;
    const int total_s_;
    const std::chrono::milliseconds interval_;
    const std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point reported_;
};

}  // namespace

struct StabilityTransformer::Prepared {
    HttpRequest request;  // carries the key in its Authorization header: never log it
    std::vector<std::pair<std::string, std::string>> fields;
    std::string path;
    std::optional<SdxlFit> fit;  // v1 image-to-image
    Size sent;                   // the init image's size as sent
    std::optional<Size> text_to_image;  // the asked size, for a text-to-image job
    std::string shape;                  // text to image: the SDXL size or aspect ratio asked of the API
};

StabilityTransformer::StabilityTransformer(StabilityConfig config, const ImageCodec& codec)
    : config_(std::move(config)),
      codec_(codec),
      config_status_(config_.Validate()),
      limiter_(std::max(2, config_.rate_limit_requests),
               config_.rate_limit_window.count() > 0 ? config_.rate_limit_window : std::chrono::milliseconds(10'000)) {}

BackendStatus StabilityTransformer::Status() const {
    BackendStatus status;
    status.details["engine"] = config_.engine;
    status.details["max_concurrency"] = std::to_string(config_.max_concurrency);
    if (!config_status_) {
        status.reason = "invalid stability configuration: " + config_status_.error().message;
        return status;
    }
    if (config_.api_key.empty()) {
        status.reason = "set LABHOUSE_STABILITY_API_KEY to use the Stability AI API";
        return status;
    }
    RefreshBalance();
    std::lock_guard lock(state_mutex_);
    status.available = key_rejected_reason_.empty();
    status.reason = key_rejected_reason_;
    if (balance_) status.details["balance"] = Credits(*balance_);
    if (!balance_error_.empty()) status.details["balance_error"] = balance_error_;
    return status;
}

void StabilityTransformer::RefreshBalance() const {
    std::lock_guard refresh(balance_mutex_);
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(state_mutex_);
        if (balance_valid_ && now - balance_checked_ < config_.balance_cache_ttl) return;
    }
    // The probe counts against the same rate limit; while the key is timed out (after a 429) or
    // the bucket is empty, show the last known balance rather than extend the timeout.
    if (!limiter_.TryAcquire()) return;
    HttpRequest request;
    request.url = TrimSlash(config_.base_url) + "/v1/user/balance";
    request.headers = {{"Authorization", "Bearer " + config_.api_key}, {"Accept", "application/json"}};
    const HttpTimeouts timeouts{std::min(config_.connect_timeout, config_.balance_timeout), config_.balance_timeout};
    HttpOutcome outcome = PerformHttp(request, timeouts, {});

    std::lock_guard lock(state_mutex_);
    balance_checked_ = std::chrono::steady_clock::now();
    balance_valid_ = true;
    if (auto* error = std::get_if<TransportError>(&outcome)) {
        balance_error_ = "cannot reach Stability: " + error->message;
        Log(LogLevel::kWarn, "stability_balance_failed", {{"error", error->message}});
        return;
    }
    const HttpResponse& response = std::get<HttpResponse>(outcome);
    if (response.status == 200) {
        auto credits = ParseBalance(response);
        if (credits) {
            balance_ = *credits;
            balance_error_.clear();
            // The key works (again); a 403 on generation is only lifted after permission_recheck.
            if (key_rejected_status_ != 403 || balance_checked_ - key_rejected_at_ >= config_.permission_recheck) {
                key_rejected_reason_.clear();
                key_rejected_status_ = 0;
            }
        } else {
            balance_error_ = credits.error().message;
        }
        return;
    }
    ApiFailure failure = ClassifyFailure(response, config_.api_key);
    balance_error_ = failure.error.message;
    if (failure.key_rejected) {
        key_rejected_reason_ = failure.error.message;
        key_rejected_status_ = response.status;
        key_rejected_at_ = balance_checked_;
        balance_.reset();
    }
    Log(LogLevel::kWarn, "stability_balance_failed", {{"status", std::to_string(response.status)}});
}

void StabilityTransformer::RecordKeyRejected(const std::string& reason, long http_status) const {
    std::lock_guard lock(state_mutex_);
    key_rejected_reason_ = reason;
    key_rejected_status_ = http_status;
    key_rejected_at_ = std::chrono::steady_clock::now();
}

void StabilityTransformer::RecordKeyAccepted() const {
    std::lock_guard lock(state_mutex_);
    key_rejected_reason_.clear();
    key_rejected_status_ = 0;
}

labhouse::Status StabilityTransformer::Validate(const JobParams& params, const Style* style) const {
    LABHOUSE_RETURN_IF_ERROR(ResolveSettings(params, style, config_));
    return OkStatus();
}

Result<TransformOutput> StabilityTransformer::Transform(const TransformInput& input, ProgressReporter& progress) {
    if (!config_status_) return FailedPrecondition("invalid stability configuration: " + config_status_.error().message);
    if (config_.api_key.empty()) {
        return FailedPrecondition("the stability backend has no API key (set LABHOUSE_STABILITY_API_KEY)");
    }
    LABHOUSE_ASSIGN_OR_RETURN(GenerationSettings settings, ResolveSettings(input.params, input.style, config_));
    const bool text_to_image = input.params.kind == JobKind::kTextToImage;
    if (text_to_image && (!input.params.width || !input.params.height)) {
        return InvalidArgument("a text-to-image job needs width and height");
    }
    if (!text_to_image && input.image.Empty()) return InvalidArgument("the input image is empty");
    progress.Report({"preparing", 0, 0, 0});
    LABHOUSE_ASSIGN_OR_RETURN(Prepared prepared, Prepare(input, settings));
    int attempts = 0;
    LABHOUSE_ASSIGN_OR_RETURN(GeneratedImage generated, Send(prepared, progress, attempts));
    return Finish(prepared, settings, generated, attempts, progress);
}

Result<StabilityTransformer::Prepared> StabilityTransformer::Prepare(const TransformInput& input,
                                                                   const GenerationSettings& settings) const {
    Prepared prepared;
    PreparedRequest built;
    if (input.params.kind == JobKind::kTextToImage) {
        // The API makes a few fixed shapes: the closest to the asked aspect, then the result is
        // cropped and scaled to exactly the asked size (Finish).
        const Size wanted{*input.params.width, *input.params.height};
        TextToImageShape shape;
        if (settings.engine.api == StabilityApi::kV1Sdxl) {
            shape.canvas = ClosestSdxlSize(wanted);
            prepared.shape = SizeText(shape.canvas);
        } else {
            shape.aspect_ratio = ClosestV2AspectRatio(wanted);
            prepared.shape = shape.aspect_ratio;
        }
        prepared.text_to_image = wanted;
        built = BuildTextToImageRequest(settings, shape, config_);
        return Finalize(std::move(prepared), std::move(built));
    }
    const Size upload{input.image.width, input.image.height};
    Image to_send;
    if (settings.engine.api == StabilityApi::kV1Sdxl) {
        prepared.fit = PlanSdxlFit(upload);
        prepared.sent = prepared.fit->canvas;
        to_send = FitIntoCanvas(input.image, *prepared.fit);
    } else {
        LABHOUSE_ASSIGN_OR_RETURN(prepared.sent, PlanV2Upload(upload, config_.max_v2_upload_pixels));
        to_send = Resize(input.image, prepared.sent);
    }
    LABHOUSE_ASSIGN_OR_RETURN(std::string png, codec_.EncodePng(to_send, {}));
    if (settings.engine.api == StabilityApi::kV1Sdxl && static_cast<std::int64_t>(png.size()) > config_.max_v1_upload_bytes) {
        return PayloadTooLarge("the SDXL init image is " + std::to_string(png.size()) + " bytes as PNG, over the " +
                               std::to_string(config_.max_v1_upload_bytes) + " byte limit; nothing was sent");
    }
    built = BuildRequest(settings, png, config_);
    if (settings.engine.api != StabilityApi::kV1Sdxl &&
        static_cast<std::int64_t>(built.body.size()) > config_.max_v2_request_bytes) {
        return PayloadTooLarge("the request would be " + std::to_string(built.body.size()) +
                               " bytes, over Stability's 10 MiB limit; nothing was sent");
    }
    return Finalize(std::move(prepared), std::move(built));
}

StabilityTransformer::Prepared StabilityTransformer::Finalize(Prepared prepared, PreparedRequest built) const {
    prepared.path = built.path;
    prepared.fields = std::move(built.fields);
    prepared.request.method = "POST";
    prepared.request.url = TrimSlash(config_.base_url) + built.path;
    prepared.request.headers = {{"Authorization", "Bearer " + config_.api_key},
                                {"Accept", built.accept},
                                {"Content-Type", built.content_type},
                                {"Stability-Client-ID", "labhouse"}};
    prepared.request.body = std::move(built.body);
    return prepared;
}

// Retry policy (docs/stability.md): a request is only ever re-sent when the previous try
// provably produced nothing billable: a 429 (rejected before any work), a 500/502/503 (the API
// reports the generation failed; failed generations are not charged), or a transport failure
// before the whole request was sent. Timeouts or broken connections after the upload completed,
// and 504s, fail the job instead: the generation may have run and been charged.
Result<GeneratedImage> StabilityTransformer::Send(const Prepared& prepared, ProgressReporter& progress, int& attempts) {
    RetryBudget budget;
    const HttpTimeouts timeouts{config_.connect_timeout, config_.request_timeout};
    while (true) {
        if (!AcquireSendSlot(progress)) return Cancelled("canceled while waiting for the Stability rate limit");
        ++attempts;
        WaitTicker api_ticker(progress, "waiting_api", std::chrono::milliseconds(0), config_.progress_interval);
        Log(LogLevel::kInfo, "stability_request",
            {{"path", prepared.path}, {"attempt", std::to_string(attempts)},
             {"bytes", std::to_string(prepared.request.body.size())}});
        const auto started = std::chrono::steady_clock::now();
        HttpOutcome outcome = PerformHttp(prepared.request, timeouts, [&] {
            api_ticker.Tick();
            return progress.CancelRequested();
        });
        const std::string elapsed_ms = std::to_string(Millis(std::chrono::steady_clock::now() - started));

        std::optional<Error> stop;
        if (auto* error = std::get_if<TransportError>(&outcome)) {
            Log(LogLevel::kWarn, "stability_transport_error",
                {{"path", prepared.path}, {"error", error->message}, {"request_sent", error->request_sent ? "1" : "0"},
                 {"duration_ms", elapsed_ms}});
            stop = AfterTransportError(*error, attempts, budget, progress);
        } else {
            const HttpResponse& response = std::get<HttpResponse>(outcome);
            Log(LogLevel::kInfo, "stability_response",
                {{"path", prepared.path}, {"status", std::to_string(response.status)},
                 {"request_id", RedactSecrets(response.Header("x-request-id"), config_.api_key)},
                 {"duration_ms", elapsed_ms}});
            if (response.status == 200) {
                RecordKeyAccepted();
                return ParseGenerated(response);
            }
            stop = AfterErrorAnswer(response, attempts, budget, progress);
        }
        if (stop) return *stop;
    }
}

bool StabilityTransformer::AcquireSendSlot(ProgressReporter& progress) {
    std::optional<WaitTicker> ticker;  // only once the limiter makes us wait
    return limiter_.Acquire(
        [&] {
            if (ticker) ticker->Tick();
            return progress.CancelRequested();
        },
        [&] { ticker.emplace(progress, "waiting_rate_limit", std::chrono::milliseconds(0), config_.progress_interval); });
}

std::optional<Error> StabilityTransformer::AfterTransportError(const TransportError& error, int attempts,
                                                               RetryBudget& budget, ProgressReporter& progress) {
    if (error.cancelled) return Cancelled("canceled while waiting for Stability (transfer aborted)");
    if (error.request_sent) {
        return Unavailable("Stability did not answer (" + error.message +
                           ") after the request was sent; not retried because the generation may have run and been "
                           "charged");
    }
    if (budget.retries >= config_.max_retries) {
        return Unavailable("cannot reach Stability after " + std::to_string(attempts) + " attempts: " + error.message);
    }
    const auto wait = Backoff(++budget.retries);
    Log(LogLevel::kWarn, "stability_retry",
        {{"reason", "transport"}, {"wait_ms", std::to_string(wait.count())}, {"retry", std::to_string(budget.retries)}});
    if (!Wait(wait, "waiting_retry", progress)) return Cancelled("canceled while waiting to retry");
    return std::nullopt;
}

std::optional<Error> StabilityTransformer::AfterErrorAnswer(const HttpResponse& response, int attempts,
                                                            RetryBudget& budget, ProgressReporter& progress) {
    ApiFailure failure = ClassifyFailure(response, config_.api_key);
    if (failure.key_rejected) RecordKeyRejected(failure.error.message, response.status);
    if (failure.out_of_credits) {
        std::lock_guard lock(state_mutex_);
        balance_valid_ = false;  // show the real balance on the next status call
    }
    switch (failure.action) {
        case FailureAction::kFail:
            return failure.error;
        case FailureAction::kWaitRateLimit: {
            if (budget.rate_waits >= config_.max_rate_limit_waits) {
                return Unavailable("Stability still rate-limits this key after " + std::to_string(budget.rate_waits) +
                                   " waits: " + failure.error.message);
            }
            ++budget.rate_waits;
            const auto wait = failure.retry_after.value_or(config_.rate_limit_wait) + Jitter(config_.rate_limit_jitter);
            // Every job of this backend holds off: a request during the timeout prolongs it.
            limiter_.PauseUntil(std::chrono::steady_clock::now() + wait);
            Log(LogLevel::kWarn, "stability_rate_limited",
                {{"wait_ms", std::to_string(wait.count())}, {"wait", std::to_string(budget.rate_waits)}});
            if (!Wait(wait, "waiting_rate_limit", progress)) return Cancelled("canceled while rate limited");
            return std::nullopt;
        }
        case FailureAction::kRetry: {
            if (budget.retries >= config_.max_retries) {
                return Unavailable(failure.error.message + " (gave up after " + std::to_string(attempts) + " attempts)");
            }
            const auto wait = Backoff(++budget.retries);
            Log(LogLevel::kWarn, "stability_retry",
                {{"reason", std::to_string(response.status)}, {"wait_ms", std::to_string(wait.count())},
                 {"retry", std::to_string(budget.retries)}});
            if (!Wait(wait, "waiting_retry", progress)) return Cancelled("canceled while waiting to retry");
            return std::nullopt;
        }
    }
    return failure.error;
}

Result<TransformOutput> StabilityTransformer::Finish(const Prepared& prepared, const GenerationSettings& settings,
                                                     const GeneratedImage& generated, int attempts,
                                                     ProgressReporter& progress) const {
    if (generated.finish_reason == "CONTENT_FILTERED") {
        // The API still sends a (blurred) picture; it is not a result anyone asked for.
        Error error = InvalidArgument("Stability's content filter flagged the generated image; the blurred result "
                                      "was discarded");
        error.reason = "CONTENT_FILTERED";
        return error;
    }
    if (generated.finish_reason != "SUCCESS") {
        return Unavailable("Stability ended the generation with finish reason '" +
                           RedactSecrets(generated.finish_reason.substr(0, 40), config_.api_key) + "'");
    }
    progress.Report({"decoding", 0, 0, 0});
    auto decoded = codec_.Decode(generated.bytes);
    if (!decoded) return Internal("Stability's result is not a readable image: " + decoded.error().message);

    TransformOutput output;
    std::map<std::string, std::string>& meta = output.meta;
    if (prepared.text_to_image) {
        output.image = CoverResize(*decoded, *prepared.text_to_image);
        meta[settings.engine.api == StabilityApi::kV1Sdxl ? "sdxl_size" : "aspect_ratio"] = prepared.shape;
    } else if (prepared.fit) {
        output.image = CutContent(*decoded, *prepared.fit);
        meta["sdxl_size"] = prepared.fit->Describe();
        meta["image_strength"] = FormatNumber(1.0 - settings.strength);
    } else {
        output.image = CoverResize(*decoded, prepared.sent);
        meta["upload_size"] = SizeText(prepared.sent);
    }
    meta["engine"] = settings.engine.id;
    meta["model"] = settings.engine.id;
    meta["api"] = ApiName(settings.engine.api);
    meta["prompt"] = settings.prompt;
    if (!settings.negative_prompt.empty()) meta["negative_prompt"] = settings.negative_prompt;
    if (!prepared.text_to_image) meta["strength"] = FormatNumber(settings.strength);
    if (settings.cfg_scale) meta["guidance"] = FormatNumber(*settings.cfg_scale);
    if (settings.steps) meta["steps"] = std::to_string(*settings.steps);
    if (!settings.sampler.empty()) meta["sampler"] = settings.sampler;
    if (!settings.style_preset.empty()) meta["style_preset"] = settings.style_preset;
    const std::int64_t seed = generated.seed.value_or(settings.seed);
    if (seed != 0) meta["seed"] = std::to_string(seed);
    meta["result_size"] = SizeText({output.image.width, output.image.height});
    if (!generated.request_id.empty()) meta["request_id"] = RedactSecrets(generated.request_id, config_.api_key);
    meta["api_attempts"] = std::to_string(attempts);
    return output;
}

bool StabilityTransformer::Wait(std::chrono::milliseconds duration, const std::string& stage,
                                ProgressReporter& progress) const {
    WaitTicker ticker(progress, stage, duration, config_.progress_interval);
    const auto until = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < until) {
        ticker.Tick();
        if (progress.CancelRequested()) return false;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        std::this_thread::sleep_for(std::clamp(left, std::chrono::milliseconds(1), kWaitSlice));
    }
    return !progress.CancelRequested();
}

std::chrono::milliseconds StabilityTransformer::Backoff(int retry) const {
    // Exponential with "equal jitter": half fixed, half random, so concurrent jobs spread out.
    std::chrono::milliseconds delay = config_.backoff_base * (1L << std::min(retry - 1, 20));
    delay = std::min(delay, config_.backoff_max);
    return delay / 2 + Jitter(delay / 2);
}

std::chrono::milliseconds StabilityTransformer::Jitter(std::chrono::milliseconds max) const {
    if (max.count() <= 0) return std::chrono::milliseconds(0);
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, max.count())(rng));
}

}  // namespace labhouse::stability
