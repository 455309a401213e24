#include "tests/stability/fake_stability_server.h"

#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace labhouse::stability::testing {
namespace {

using nlohmann::json;

const std::set<std::string> kStylePresets = {
    "enhance",  "anime",     "photographic", "digital-art",       "comic-book", "fantasy-art",
    "line-art", "analog-film", "neon-punk",  "isometric",         "low-poly",   "origami",
    "modeling-compound", "cinematic", "3d-model", "pixel-art",    "tile-texture"};
const std::set<std::string> kSamplers = {"DDIM",    "DDPM",   "K_DPMPP_2M", "K_DPMPP_2S_ANCESTRAL", "K_DPM_2",
                                         "K_DPM_2_ANCESTRAL", "K_EULER", "K_EULER_ANCESTRAL", "K_HEUN", "K_LMS"};
const std::set<std::string> kClipPresets = {"FAST_BLUE", "FAST_GREEN", "NONE", "SIMPLE", "SLOW", "SLOWER", "SLOWEST"};
const std::set<std::string> kAspectRatios = {"21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21"};
const std::set<std::string> kSd3Models = {"sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash",
                                          "sd3-large",   "sd3-large-turbo",   "sd3-medium"};
const std::vector<std::pair<int, int>> kSdxlSizes = {{1024, 1024}, {1152, 896}, {896, 1152}, {1216, 832}, {832, 1216},
                                                     {1344, 768},  {768, 1344}, {1536, 640}, {640, 1536}};
// CHOICE: prompts containing this word trip moderation (v1: 400 invalid_prompts; v2: 403).
constexpr const char* kFilteredWord = "forbidden";
constexpr std::size_t kV2MaxRequestBytes = 10 * 1024 * 1024;

std::string NewId() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    for (int i = 0; i < 32; ++i) id += kHex[rng() % 16];
    return id;
}

void V1Error(httplib::Response& res, int status, const std::string& name, const std::string& message) {
    res.status = status;
    res.set_content(json{{"id", NewId()}, {"name", name}, {"message", message}}.dump(), "application/json");
}

void V2Error(httplib::Response& res, int status, const std::string& name, const std::string& message) {
    res.status = status;
    res.set_content(json{{"id", NewId()}, {"name", name}, {"errors", {message}}}.dump(), "application/json");
}

// Text parts and file parts of a multipart request (httplib keeps both in req.files).
std::string Field(const httplib::Request& req, const std::string& name, bool* present = nullptr) {
    auto it = req.files.find(name);
    if (present != nullptr) *present = it != req.files.end();
    return it == req.files.end() ? std::string() : it->second.content;
}

std::optional<double> ParseNumber(const std::string& text) {
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return std::nullopt;
    return value;
}

std::optional<long long> ParseInteger(const std::string& text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 12) {
        return std::nullopt;
    }
    return std::stoll(text);
}

// An optional numeric field within [lo, hi]; `integer` demands a whole number. Returns the
// problem, or "" when fine.
std::string CheckRange(const httplib::Request& req, const std::string& name, double lo, double hi, bool integer) {
    bool present = false;
    const std::string text = Field(req, name, &present);
    if (!present) return "";
    std::optional<double> value;
    if (integer) {
        if (auto whole = ParseInteger(text)) value = static_cast<double>(*whole);
    } else {
        value = ParseNumber(text);
    }
    if (!value || *value < lo || *value > hi) {
        return name + ": must be " + (integer ? "an integer" : "a number") + " between " + std::to_string(lo) +
               " and " + std::to_string(hi);
    }
    return "";
}

std::string CheckEnum(const httplib::Request& req, const std::string& name, const std::set<std::string>& allowed) {
    bool present = false;
    const std::string value = Field(req, name, &present);
    if (present && allowed.count(value) == 0) return name + ": invalid value '" + value + "'";
    return "";
}

cv::Mat DecodeImage(const std::string& bytes) {
    if (bytes.empty()) return {};
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    return cv::imdecode(raw, cv::IMREAD_COLOR);
}

// The "generation": the inverted picture (blurred when filtered), at the requested size.
std::string Generate(const cv::Mat& input, int width, int height, bool filtered) {
    cv::Mat out;
    cv::resize(input, out, cv::Size(width, height));
    out = cv::Scalar(255, 255, 255) - out;
    if (filtered) cv::GaussianBlur(out, out, cv::Size(31, 31), 12);
    std::vector<std::uint8_t> png;
    cv::imencode(".png", out, png);
    return std::string(png.begin(), png.end());
}

std::string SdxlDimensionsMessage(int width, int height) {
    return "for stable-diffusion-xl-1024-v0-9 and stable-diffusion-xl-1024-v1-0 the allowed dimensions are "
           "1024x1024, 1152x896, 1216x832, 1344x768, 1536x640, 640x1536, 768x1344, 832x1216, 896x1152, "
           "but we received " +
           std::to_string(width) + "x" + std::to_string(height);
}

// What a text-to-image request "generates" from: a gradient with a square, so that the crop
// and scale the client does afterwards can be seen in the result.
cv::Mat DrawnPicture(int width, int height) {
    cv::Mat picture(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            picture.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<std::uint8_t>(255 * x / width),
                                                    static_cast<std::uint8_t>(255 * y / height), 128);
        }
    }
    cv::rectangle(picture, cv::Rect(width / 3, height / 3, width / 3, height / 3), cv::Scalar(0, 0, 0), cv::FILLED);
    return picture;
}

// v2beta's text-to-image output for each aspect ratio, about 1 MP (CHOICE: the SDXL-like sizes).
std::pair<int, int> V2TextToImageSize(const std::string& aspect_ratio) {
    static const std::map<std::string, std::pair<int, int>> kSizes = {
        {"21:9", {1536, 640}}, {"16:9", {1344, 768}}, {"3:2", {1216, 832}},  {"5:4", {1152, 896}}, {"1:1", {1024, 1024}},
        {"4:5", {896, 1152}},  {"2:3", {832, 1216}},  {"9:16", {768, 1344}}, {"9:21", {640, 1536}}};
    auto found = kSizes.find(aspect_ratio.empty() ? "1:1" : aspect_ratio);
    return found == kSizes.end() ? std::make_pair(1024, 1024) : found->second;
}

std::string Base64(const std::string& bytes) {
    static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const std::uint32_t n = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                                (static_cast<std::uint8_t>(bytes[i + 1]) << 8) | static_cast<std::uint8_t>(bytes[i + 2]);
        out += kTable[(n >> 18) & 63];
        out += kTable[(n >> 12) & 63];
        out += kTable[(n >> 6) & 63];
        out += kTable[n & 63];
    }
    if (i < bytes.size()) {
        std::uint32_t n = static_cast<std::uint8_t>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) n |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
        out += kTable[(n >> 18) & 63];
        out += kTable[(n >> 12) & 63];
        out += i + 1 < bytes.size() ? kTable[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::uint64_t ContentLength(const httplib::Request& req) {
    return std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
}

std::uint32_t Seed(const httplib::Request& req) {
    const auto seed = ParseInteger(Field(req, "seed")).value_or(0);
    if (seed != 0) return static_cast<std::uint32_t>(seed);
    static thread_local std::mt19937 rng{std::random_device{}()};
    return rng() | 1u;  // 0 means "random": report the one "used"
}

}  // namespace

FakeStabilityServer::FakeStabilityServer(FakeStabilityOptions options)
    : options_(std::move(options)), server_(std::make_unique<httplib::Server>()), credits_(options_.credits) {
    server_->Post(R"(/v1/generation/([^/]+)/image-to-image)",
                  [this](const httplib::Request& req, httplib::Response& res) { HandleV1(req, res, Record(req)); });
    server_->Post(R"(/v1/generation/([^/]+)/text-to-image)", [this](const httplib::Request& req, httplib::Response& res) {
        HandleV1TextToImage(req, res, Record(req));
    });
    server_->Post("/v2beta/stable-image/generate/sd3", [this](const httplib::Request& req, httplib::Response& res) {
        HandleV2(req, res, Record(req), false);
    });
    server_->Post("/v2beta/stable-image/generate/ultra", [this](const httplib::Request& req, httplib::Response& res) {
        HandleV2(req, res, Record(req), true);
    });
    server_->Get("/v1/user/balance",
                 [this](const httplib::Request& req, httplib::Response& res) { HandleBalance(req, res, Record(req)); });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // stop() is a no-op until the accept loop runs, so wait for it (or the destructor could hang).
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeStabilityServer::~FakeStabilityServer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    stop_cv_.notify_all();
    server_->stop();
    thread_.join();
}

void FakeStabilityServer::FailNext(Fault fault, int count, std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    faults_.push_back({fault, count, delay});
}
void FakeStabilityServer::SetRetryAfter(std::optional<int> seconds) {
    std::lock_guard lock(mutex_);
    retry_after_ = seconds;
}
void FakeStabilityServer::SetKeyRevoked(bool revoked) {
    std::lock_guard lock(mutex_);
    key_revoked_ = revoked;
}
void FakeStabilityServer::SetPermissionDenied(bool denied) {
    std::lock_guard lock(mutex_);
    permission_denied_ = denied;
}
void FakeStabilityServer::SetV2OutputSize(int width, int height) {
    std::lock_guard lock(mutex_);
    v2_output_size_ = std::make_pair(width, height);
}
void FakeStabilityServer::SetCredits(double credits) {
    std::lock_guard lock(mutex_);
    credits_ = credits;
}
double FakeStabilityServer::Credits() const {
    std::lock_guard lock(mutex_);
    return credits_;
}
int FakeStabilityServer::Generations() const {
    std::lock_guard lock(mutex_);
    return generations_;
}

std::vector<RecordedRequest> FakeStabilityServer::Requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

std::vector<RecordedRequest> FakeStabilityServer::Requests(const std::string& prefix) const {
    std::vector<RecordedRequest> out;
    for (auto& request : Requests()) {
        if (request.path.rfind(prefix, 0) == 0) out.push_back(std::move(request));
    }
    return out;
}

std::size_t FakeStabilityServer::Record(const httplib::Request& req) {
    RecordedRequest record;
    record.method = req.method;
    record.path = req.path;
    for (const auto& [name, value] : req.headers) record.headers[name] = value;
    // Oversized bodies are refused from their length alone (413), so their images are not decoded.
    const bool oversized = ContentLength(req) > kV2MaxRequestBytes;
    for (const auto& [name, part] : req.files) {
        if (part.filename.empty()) {
            record.fields[name] = part.content;
            continue;
        }
        RecordedFile file{part.filename, part.content_type, part.content.size(), 0, 0};
        const cv::Mat image = oversized ? cv::Mat() : DecodeImage(part.content);
        if (!image.empty()) {
            file.width = image.cols;
            file.height = image.rows;
        }
        record.files[name] = file;
    }
    if (req.get_header_value("Content-Type").rfind("application/json", 0) == 0) record.json_body = req.body;
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(record));
    return requests_.size() - 1;
}

void FakeStabilityServer::SetStatus(std::size_t index, int status) {
    std::lock_guard lock(mutex_);
    requests_[index].status = status;
}

bool FakeStabilityServer::SleepUnlessStopping(std::chrono::milliseconds duration) {
    std::unique_lock lock(mutex_);
    return !stop_cv_.wait_for(lock, duration, [this] { return stopping_; });
}

bool FakeStabilityServer::Admit(const httplib::Request& req, httplib::Response& res, bool v1_shape) {
    std::string presented = req.get_header_value("Authorization");
    if (presented.rfind("Bearer ", 0) == 0) presented = presented.substr(7);  // CHOICE: bare keys work too
    bool revoked = false;
    {
        std::lock_guard lock(mutex_);
        revoked = key_revoked_;
    }
    if (presented.empty()) {
        if (v1_shape) {
            V1Error(res, 401, "unauthorized", "missing authorization header");
        } else {
            V2Error(res, 401, "unauthorized", "authorization: invalid or missing header value");
        }
        return false;
    }
    if (presented != options_.api_key || revoked) {
        if (v1_shape) {  // observed live: the v1 message echoes the key it got
            V1Error(res, 401, "unauthorized",
                    "Incorrect API key provided: " + presented + ". You can find your API key at https://stability.ai.");
        } else {
            V2Error(res, 401, "unauthorized", "authorization: invalid or missing header value");
        }
        return false;
    }
    // CHOICE: a per-key sliding window; exceeding it times the key out, as documented.
    const auto now = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!window_.empty() && now - window_.front() >= options_.rate_limit_window) window_.pop_front();
    if (now >= timed_out_until_ && static_cast<int>(window_.size()) >= options_.rate_limit_requests) {
        timed_out_until_ = now + options_.rate_limit_timeout;
    }
    if (now < timed_out_until_) {
        const auto retry_after = retry_after_;
        lock.unlock();
        const std::string message =
            "You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for "
            "60 seconds.";
        if (v1_shape) {  // CHOICE: v1's 429 body is undocumented; use the v1 error shape
            V1Error(res, 429, "rate_limit_exceeded", message);
        } else {
            V2Error(res, 429, "rate_limit_exceeded", message);
        }
        if (retry_after) res.set_header("Retry-After", std::to_string(*retry_after));
        return false;
    }
    window_.push_back(now);
    return true;
}

std::optional<Fault> FakeStabilityServer::TakeFault() {
    std::chrono::milliseconds delay{0};
    std::optional<Fault> fault;
    {
        std::lock_guard lock(mutex_);
        if (faults_.empty()) return std::nullopt;
        PendingFault& next = faults_.front();
        fault = next.fault;
        delay = next.delay;
        if (--next.remaining <= 0) faults_.pop_front();
    }
    if (*fault == Fault::kSlow) {
        SleepUnlessStopping(delay);
        return std::nullopt;
    }
    return fault;
}

void FakeStabilityServer::AddRetryAfter(httplib::Response& res) {
    std::lock_guard lock(mutex_);
    if (retry_after_) res.set_header("Retry-After", std::to_string(*retry_after_));
}

void FakeStabilityServer::Charge(double cost) {
    std::lock_guard lock(mutex_);
    credits_ -= cost;
    ++generations_;
}

void FakeStabilityServer::HandleBalance(const httplib::Request& req, httplib::Response& res, std::size_t index) {
    if (Admit(req, res, true)) {
        res.status = 200;
        res.set_content(json{{"credits", Credits()}}.dump(), "application/json");
    }
    SetStatus(index, res.status);
}

bool FakeStabilityServer::V1Admit(const httplib::Request& req, httplib::Response& res, std::size_t index,
                                  std::optional<Fault>& fault, std::string& accept) {
    auto answer = [&](int status, const std::string& name, const std::string& message) {
        V1Error(res, status, name, message);
        SetStatus(index, status);
        return false;
    };
    const std::string engine = req.matches[1];
    if (engine != "stable-diffusion-xl-1024-v1-0") {
        return answer(404, "not_found", "The specified engine (ID " + engine + ") was not found.");
    }
    if (!Admit(req, res, true)) {
        SetStatus(index, res.status);
        return false;
    }
    {
        std::lock_guard lock(mutex_);
        if (permission_denied_) {
            V1Error(res, 403, "permission_denied", "You do not have permission to access this resource");
            requests_[index].status = 403;
            return false;
        }
    }
    fault = TakeFault();
    if (fault == Fault::kRateLimited) {
        AddRetryAfter(res);
        return answer(429, "rate_limit_exceeded", "You have exceeded the rate limit of 150 requests within a 10 second "
                                                  "period, and have been timed out for 60 seconds.");
    }
    if (fault == Fault::kServerError) return answer(500, "server_error", "An unexpected server error occurred, please try again.");
    if (fault == Fault::kBadGateway || fault == Fault::kGatewayTimeout) {
        res.status = fault == Fault::kBadGateway ? 502 : 504;
        res.set_content(fault == Fault::kBadGateway ? "Bad Gateway" : "Gateway Timeout", "text/plain");
        SetStatus(index, res.status);
        return false;
    }
    if (fault == Fault::kOutOfCredits) {  // CHOICE: v1's answer is undocumented; mirror v2beta's 402
        return answer(402, "payment_required", "You lack sufficient credits to make this request.");
    }
    accept = req.get_header_value("Accept");
    if (accept == "*/*") accept.clear();  // CHOICE: curl's default means "no preference" (JSON)
    if (!accept.empty() && accept != "application/json" && accept != "image/png") {
        return answer(400, "bad_request", "accept: must be application/json or image/png");
    }
    return true;
}

void FakeStabilityServer::V1Generated(const httplib::Request&, httplib::Response& res, std::size_t index,
                                      const cv::Mat& image, int steps, std::uint32_t seed, bool filtered,
                                      const std::string& accept) {
    const double cost = 0.9 * std::max(steps, 30) / 30.0;
    if (Credits() < cost) {
        V1Error(res, 402, "payment_required", "You lack sufficient credits to make this request.");
        return SetStatus(index, 402);
    }
    const std::string png = Generate(image, image.cols, image.rows, filtered);
    const std::string finish = filtered ? "CONTENT_FILTERED" : "SUCCESS";
    Charge(cost);  // CHOICE: filtered outputs are charged (undocumented; the pessimistic reading)
    res.status = 200;
    if (accept == "image/png") {
        res.set_header("Finish-Reason", finish);
        res.set_header("Seed", std::to_string(seed));
        res.set_content(png, "image/png");
    } else {
        json body{{"artifacts", json::array({{{"base64", Base64(png)}, {"seed", seed}, {"finishReason", finish}}})}};
        res.set_content(body.dump(), "application/json");
    }
    SetStatus(index, 200);
}

void FakeStabilityServer::HandleV1(const httplib::Request& req, httplib::Response& res, std::size_t index) {
    auto answer = [&](int status, const std::string& name, const std::string& message) {
        V1Error(res, status, name, message);
        SetStatus(index, status);
    };
    std::optional<Fault> fault;
    std::string accept;
    if (!V1Admit(req, res, index, fault, accept)) return;
    bool has_image = false;
    const std::string init_image = Field(req, "init_image", &has_image);
    if (!has_image) return answer(400, "bad_request", "init_image: is required");

    // text_prompts[i][text] / [weight]; indices need not be sequential.
    std::map<std::string, std::pair<std::string, std::string>> prompts;
    for (const auto& [name, part] : req.files) {
        if (name.rfind("text_prompts[", 0) != 0) continue;
        const auto close = name.find(']');
        if (close == std::string::npos) continue;
        const std::string slot = name.substr(13, close - 13);
        if (name.substr(close + 1) == "[text]") prompts[slot].first = part.content;
        if (name.substr(close + 1) == "[weight]") prompts[slot].second = part.content;
    }
    bool has_text = false;
    for (const auto& [slot, prompt] : prompts) {
        if (prompt.first.size() > 2000) return answer(400, "bad_request", "text_prompts: text longer than 2000");
        if (!prompt.second.empty() && !ParseNumber(prompt.second)) {
            return answer(400, "bad_request", "text_prompts[" + slot + "][weight]: must be a number");
        }
        if (!prompt.first.empty()) has_text = true;
        if (prompt.first.find(kFilteredWord) != std::string::npos) {
            return answer(400, "invalid_prompts", "invalid_prompts: prompts contains filtered words");
        }
    }
    if (!has_text) return answer(400, "bad_request", "text_prompts: is required");

    for (const std::string& problem :
         {CheckEnum(req, "init_image_mode", {"IMAGE_STRENGTH", "STEP_SCHEDULE"}),
          CheckRange(req, "image_strength", 0, 1, false), CheckRange(req, "step_schedule_start", 0, 1, false),
          CheckRange(req, "step_schedule_end", 0, 1, false), CheckRange(req, "cfg_scale", 0, 35, false),
          CheckEnum(req, "clip_guidance_preset", kClipPresets), CheckEnum(req, "sampler", kSamplers),
          CheckRange(req, "samples", 1, 10, true), CheckRange(req, "seed", 0, 4294967295.0, true),
          CheckRange(req, "steps", 10, 50, true), CheckEnum(req, "style_preset", kStylePresets)}) {
        if (!problem.empty()) return answer(400, "bad_request", problem);
    }
    if (accept == "image/png" && ParseInteger(Field(req, "samples")).value_or(1) != 1) {
        return answer(400, "invalid_samples", "samples: must be 1 when accept is image/png");
    }
    const cv::Mat image = DecodeImage(init_image);
    if (image.empty()) return answer(400, "invalid_mime_type", "init_image: must be a PNG, JPEG or WebP image");
    if (std::find(kSdxlSizes.begin(), kSdxlSizes.end(), std::make_pair(image.cols, image.rows)) == kSdxlSizes.end()) {
        return answer(400, "invalid_sdxl_v1_dimensions", SdxlDimensionsMessage(image.cols, image.rows));
    }
    const int steps = static_cast<int>(ParseInteger(Field(req, "steps")).value_or(30));
    V1Generated(req, res, index, image, steps, Seed(req), fault == Fault::kContentFiltered, accept);
}

// The same fields as image-to-image (minus the init image) as a JSON body, plus width and height,
// which must form one of the SDXL sizes (default 1024x1024, CHOICE).
void FakeStabilityServer::HandleV1TextToImage(const httplib::Request& req, httplib::Response& res, std::size_t index) {
    auto answer = [&](int status, const std::string& name, const std::string& message) {
        V1Error(res, status, name, message);
        SetStatus(index, status);
    };
    std::optional<Fault> fault;
    std::string accept;
    if (!V1Admit(req, res, index, fault, accept)) return;
    if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
        return answer(415, "unsupported_media_type", "content-type: must be application/json");
    }
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return answer(400, "bad_request", "body: must be a JSON object");
    if (!body.contains("text_prompts") || !body["text_prompts"].is_array() || body["text_prompts"].empty()) {
        return answer(400, "bad_request", "text_prompts: is required");
    }
    bool has_text = false;
    for (const auto& prompt : body["text_prompts"]) {
        if (!prompt.is_object() || !prompt.contains("text") || !prompt["text"].is_string()) {
            return answer(400, "bad_request", "text_prompts: each needs a text");
        }
        const std::string text = prompt["text"];
        if (text.size() > 2000) return answer(400, "bad_request", "text_prompts: text longer than 2000");
        if (prompt.contains("weight") && !prompt["weight"].is_number()) {
            return answer(400, "bad_request", "text_prompts[][weight]: must be a number");
        }
        if (!text.empty()) has_text = true;
        if (text.find(kFilteredWord) != std::string::npos) {
            return answer(400, "invalid_prompts", "invalid_prompts: prompts contains filtered words");
        }
    }
    if (!has_text) return answer(400, "bad_request", "text_prompts: is required");
    auto number = [&](const char* name, double lo, double hi, bool integer, double fallback) -> std::optional<double> {
        if (!body.contains(name)) return fallback;
        const auto& v = body[name];
        if (!v.is_number() || (integer && !v.is_number_integer()) || v.get<double>() < lo || v.get<double>() > hi) {
            return std::nullopt;
        }
        return v.get<double>();
    };
    const auto width = number("width", 128, 2048, true, 1024);
    const auto height = number("height", 128, 2048, true, 1024);
    const auto steps = number("steps", 10, 50, true, 30);
    const auto samples = number("samples", 1, 10, true, 1);
    for (const auto& [name, ok] : std::vector<std::pair<std::string, bool>>{
             {"width", width.has_value()}, {"height", height.has_value()}, {"steps", steps.has_value()},
             {"samples", samples.has_value()}, {"cfg_scale", number("cfg_scale", 0, 35, false, 7).has_value()},
             {"seed", number("seed", 0, 4294967295.0, true, 0).has_value()}}) {
        if (!ok) return answer(400, "bad_request", name + ": out of range or not a number");
    }
    auto enum_ok = [&](const char* name, const std::set<std::string>& allowed) {
        return !body.contains(name) || (body[name].is_string() && allowed.count(body[name].get<std::string>()) > 0);
    };
    if (!enum_ok("sampler", kSamplers) || !enum_ok("style_preset", kStylePresets) ||
        !enum_ok("clip_guidance_preset", kClipPresets)) {
        return answer(400, "bad_request", "sampler, style_preset or clip_guidance_preset: invalid value");
    }
    if (accept == "image/png" && *samples != 1) {
        return answer(400, "invalid_samples", "samples: must be 1 when accept is image/png");
    }
    const auto size = std::make_pair(static_cast<int>(*width), static_cast<int>(*height));
    if (std::find(kSdxlSizes.begin(), kSdxlSizes.end(), size) == kSdxlSizes.end()) {
        return answer(400, "invalid_sdxl_v1_dimensions", SdxlDimensionsMessage(size.first, size.second));
    }
    const std::uint32_t seed = body.contains("seed") && body["seed"].get<double>() != 0
                                   ? static_cast<std::uint32_t>(body["seed"].get<double>())
                                   : Seed(req);
    V1Generated(req, res, index, DrawnPicture(size.first, size.second), static_cast<int>(*steps), seed,
                fault == Fault::kContentFiltered, accept);
}

void FakeStabilityServer::HandleV2(const httplib::Request& req, httplib::Response& res, std::size_t index,
                                   bool ultra) {
    auto answer = [&](int status, const std::string& name, const std::string& message) {
        V2Error(res, status, name, message);
        SetStatus(index, status);
    };
    if (!Admit(req, res, false)) return SetStatus(index, res.status);
    const std::optional<Fault> fault = TakeFault();
    if (fault == Fault::kRateLimited) {
        AddRetryAfter(res);
        return answer(429, "rate_limit_exceeded", "You have exceeded the rate limit of 150 requests within a 10 second "
                                                  "period, and have been timed out for 60 seconds.");
    }
    if (fault == Fault::kServerError) {
        return answer(500, "internal_error", "An unexpected server error has occurred, please try again later.");
    }
    if (fault == Fault::kBadGateway || fault == Fault::kGatewayTimeout) {
        res.status = fault == Fault::kBadGateway ? 502 : 504;
        res.set_content(fault == Fault::kBadGateway ? "Bad Gateway" : "Gateway Timeout", "text/plain");
        return SetStatus(index, res.status);
    }
    const std::string lack = "You lack sufficient credits to make this request. Please purchase more credits at "
                             "https://platform.stability.ai/account/credits and try again.";
    if (fault == Fault::kOutOfCredits) return answer(402, "payment_required", lack);
    if (ContentLength(req) > kV2MaxRequestBytes) {
        return answer(413, "payload_too_large", "body: payloads cannot be larger than 10MiB in size");
    }
    std::string accept = req.get_header_value("Accept");
    if (accept == "*/*") accept.clear();  // CHOICE: no preference means the default, image/*
    if (!accept.empty() && accept != "image/*" && accept != "application/json") {
        return answer(400, "bad_request", "accept: must be image/* or application/json");
    }
    const std::string prompt = Field(req, "prompt");
    if (prompt.empty() || prompt.size() > 10000) return answer(400, "bad_request", "prompt: is required");
    bool has_image = false;
    const std::string image_bytes = Field(req, "image", &has_image);
    bool has_strength = false;
    Field(req, "strength", &has_strength);
    if (!ultra) {
        if (auto problem = CheckEnum(req, "mode", {"text-to-image", "image-to-image"}); !problem.empty()) {
            return answer(400, "bad_request", problem);
        }
        if (Field(req, "mode") == "image-to-image" && (!has_image || !has_strength)) {
            return answer(400, "bad_request", std::string(has_image ? "strength" : "image") + ": is required");
        }
    } else if (has_image && !has_strength) {
        return answer(400, "bad_request", "strength: is required when image is provided");
    }
    for (const std::string& problem :
         {CheckRange(req, "strength", 0, 1, false), CheckRange(req, "seed", 0, 4294967294.0, true),
          CheckEnum(req, "output_format", {"png", "jpeg", "webp"}), CheckEnum(req, "style_preset", kStylePresets),
          CheckEnum(req, "aspect_ratio", kAspectRatios),
          ultra ? std::string() : CheckEnum(req, "model", kSd3Models),
          ultra ? std::string() : CheckRange(req, "cfg_scale", 1, 10, false)}) {
        if (!problem.empty()) return answer(400, "bad_request", problem);
    }
    if (Field(req, "negative_prompt").size() > 10000) return answer(400, "bad_request", "negative_prompt: too long");
    // sd3's mode defaults to text-to-image; ultra makes an image from text when it gets none.
    const bool text_to_image = ultra ? !has_image : Field(req, "mode") != "image-to-image";
    cv::Mat image;
    std::pair<int, int> size;
    if (text_to_image) {
        size = V2TextToImageSize(Field(req, "aspect_ratio"));
        image = DrawnPicture(size.first, size.second);
    } else {
        image = DecodeImage(image_bytes);
        if (!has_image || image.empty()) return answer(400, "bad_request", "image: must be a jpeg, png or webp image");
        if (image.cols < 64 || image.rows < 64 || (ultra && (image.cols > 16384 || image.rows > 16384 ||
                                                             image.cols * image.rows < 4096))) {
            return answer(400, "bad_request", "image: dimensions out of range");
        }
        size = {image.cols, image.rows};
    }
    if (prompt.find(kFilteredWord) != std::string::npos) {
        return answer(403, "content_moderation",
                      "Your request was flagged by our content moderation system, as a result your request was denied "
                      "and you were not charged.");
    }
    const std::string model = Field(req, "model").empty() ? "sd3.5-large" : Field(req, "model");
    const double cost = ultra ? 8.0 : model == "sd3.5-medium" ? 3.5 : model == "sd3.5-large-turbo" ? 4.0 : 6.5;
    if (Credits() < cost) return answer(402, "payment_required", lack);

    {
        std::lock_guard lock(mutex_);
        if (v2_output_size_) size = *v2_output_size_;
    }
    const bool filtered = fault == Fault::kContentFiltered;
    const std::string png = Generate(image, size.first, size.second, filtered);
    const std::uint32_t seed = Seed(req);
    const std::string finish = filtered ? "CONTENT_FILTERED" : "SUCCESS";
    Charge(cost);
    res.status = 200;
    res.set_header("x-request-id", NewId());
    if (accept == "application/json") {
        res.set_content(json{{"image", Base64(png)}, {"finish_reason", finish}, {"seed", seed}}.dump(),
                        "application/json; type=image/png");
    } else {
        res.set_header("finish-reason", finish);
        res.set_header("seed", std::to_string(seed));
        res.set_content(png, "image/png");
    }
    SetStatus(index, 200);
}

}  // namespace labhouse::stability::testing
