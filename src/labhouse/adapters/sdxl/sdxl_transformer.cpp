#include "labhouse/adapters/sdxl/sdxl_transformer.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include <opencv2/imgproc.hpp>

#include "labhouse/core/base/log.h"
#include "labhouse/core/base/sha256.h"
#include "labhouse/engine/prompt_emphasis.h"
#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/imaging/opencv_image_codec.h"

namespace labhouse::sdxl {
namespace {

constexpr int kMaxResultSide = 2048;
const std::vector<std::string> kSamplers = {"euler", "euler_a", "dpmpp_2m"};

std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// SHA-256 of the model file, cached in "<model>.sha256" (keyed by size and mtime) because hashing
// 7 GB takes a while and the record needs it for every job.
std::string ModelSha256(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    const auto mtime = std::filesystem::last_write_time(path, ec).time_since_epoch().count();
    const std::string key = std::to_string(size) + ":" + std::to_string(mtime);
    const std::string cache = path + ".sha256";
    {
        std::ifstream in(cache);
        std::string cached_key, hash;
        if (in >> cached_key >> hash && cached_key == key && hash.size() == 64) return hash;
    }
    std::ifstream in(path, std::ios::binary);
    Sha256 hasher;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        hasher.Update(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    const std::string hash = hasher.FinishHex();
    std::ofstream out(cache);
    out << key << " " << hash << "\n";  // best effort: a read-only models dir just means re-hashing
    return hash;
}

Image Resize(const Image& image, int width, int height) {
    if (image.width == width && image.height == height) return image;
    cv::Mat out;
    const bool shrinking = width * height < image.width * image.height;
    cv::resize(imaging::ToMat(image), out, cv::Size(width, height), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_CUBIC);
    return imaging::FromMat(out);
}

// The first (by path) regular file under `dir` whose lower-cased name and parent folder name
// `matches` accepts; "" when none (or no such dir).
std::string FirstModelFile(const std::string& dir,
                           const std::function<bool(const std::string& name, const std::string& folder)>& matches) {
    std::error_code ec;
    std::vector<std::string> found;
    if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return "";
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
        if (!entry.is_regular_file()) continue;
        if (matches(Lower(entry.path().filename().string()), Lower(entry.path().parent_path().filename().string()))) {
            found.push_back(entry.path().string());
        }
    }
    std::sort(found.begin(), found.end());
    return found.empty() ? "" : found.front();
}

}  // namespace

std::pair<int, int> NativeSize(int width, int height, int native_side) {
    const double aspect = static_cast<double>(width) / std::max(1, height);
    const double area = static_cast<double>(native_side) * native_side;
    double h = std::sqrt(area / aspect);
    double w = h * aspect;
    auto round64 = [](double v) { return std::max(64, static_cast<int>(std::lround(v / 64.0)) * 64); };
    return {round64(w), round64(h)};
}

SdxlDefaults DefaultsForModel(const std::string& model_path) {
    const std::string name = Lower(std::filesystem::path(model_path).filename().string());
    if (name.find("turbo") != std::string::npos || name.find("tiny") != std::string::npos) {
        // SDXL-Turbo: 512-class, few steps, no CFG, trailing timesteps (the engine's euler_a default).
        return {512, 4, 0.0, 0.5, "euler_a"};
    }
    return {};
}

SdxlTransformer::SdxlTransformer(SdxlConfig config) : config_(std::move(config)) {
    if (auto path = ResolveModelPath()) defaults_ = DefaultsForModel(*path);
}

SdxlTransformer::~SdxlTransformer() = default;

Result<std::string> SdxlTransformer::ResolveModelPath() const {
    if (!config_.model_path.empty()) {
        if (!std::filesystem::is_regular_file(config_.model_path)) {
            return FailedPrecondition("SDXL model file " + config_.model_path + " does not exist");
        }
        return config_.model_path;
    }
    const std::string found = FirstModelFile(config_.models_dir, [](const std::string& name, const std::string&) {
        return name.find("sd_xl") != std::string::npos && name.size() > 12 &&
               name.compare(name.size() - 12, 12, ".safetensors") == 0;
    });
    if (found.empty()) {
        return FailedPrecondition("no SDXL model installed in " + config_.models_dir +
                                  ": run `labhouse models pull sdxl-turbo` (or set LABHOUSE_SDXL_MODEL)");
    }
    return found;
}

Result<std::string> SdxlTransformer::ResolveTaesdPath() const {
    if (!config_.taesd_path.empty()) {
        if (!std::filesystem::is_regular_file(config_.taesd_path)) {
            return FailedPrecondition("TAESDXL file " + config_.taesd_path + " does not exist");
        }
        return config_.taesd_path;
    }
    // `labhouse models pull taesdxl` installs taesdxl_decoder.safetensors; a diffusers download of
    // madebyollin/taesdxl is a diffusion_pytorch_model.safetensors in a folder named after it.
    return FirstModelFile(config_.models_dir, [](const std::string& name, const std::string& folder) {
        return name == "taesdxl_decoder.safetensors" ||
               (name == "diffusion_pytorch_model.safetensors" && folder.find("taesdxl") != std::string::npos);
    });
}

labhouse::Status SdxlTransformer::EnsureLoaded() {
    std::lock_guard lock(mutex_);
    if (pipeline_) return OkStatus();
    LABHOUSE_ASSIGN_OR_RETURN(std::string path, ResolveModelPath());
    LABHOUSE_ASSIGN_OR_RETURN(std::string tokenizer, engine::FindTokenizerDir(path, config_.tokenizer_dir));
    engine::SdxlLoadOptions options;
    options.device = config_.device;
    options.threads = config_.threads;
    options.weight_mode = config_.weight_mode == "fast" ? engine::WeightMode::kFast : engine::WeightMode::kLowMemory;
    options.vae_tile = config_.vae_tile;
    LABHOUSE_ASSIGN_OR_RETURN(options.taesd_path, ResolveTaesdPath());
    Log(LogLevel::kInfo, "sdxl_loading", {{"model", path}, {"weight_mode", config_.weight_mode}});
    auto pipeline = engine::SdxlPipeline::Load(path, tokenizer, options);
    if (!pipeline) {
        load_error_ = pipeline.error().message;
        return pipeline.error();
    }
    pipeline_ = std::move(*pipeline);
    defaults_ = DefaultsForModel(path);
    model_sha256_ = ModelSha256(path);
    load_error_.clear();
    Log(LogLevel::kInfo, "sdxl_loaded",
        {{"model", path},
         {"sha256", model_sha256_},
         {"sizes", pipeline_->Describe()},
         {"taesd", options.taesd_path.empty() ? "none" : options.taesd_path}});
    return OkStatus();
}

BackendStatus SdxlTransformer::Status() const {
    auto path = ResolveModelPath();
    if (!path) return {false, path.error().message, {}};
    if (!load_error_.empty()) return {false, "the model failed to load: " + load_error_, {{"model", *path}}};
    auto taesd = ResolveTaesdPath();
    const std::string taesd_name =
        taesd && !taesd->empty() ? std::filesystem::path(*taesd).filename().string() : std::string("none");
    return {true,
            "",
            {{"model", std::filesystem::path(*path).filename().string()},
             {"weight_mode", config_.weight_mode},
             {"taesd", taesd_name}}};
}

labhouse::Status SdxlTransformer::Validate(const JobParams& params, const Style*) const {
    // Emphasis weights past this say nothing more (the context is rescaled to its mean) and deep
    // nesting overflows to infinity: refused here rather than failing the job later.
    constexpr double kMaxEmphasisWeight = 100;
    for (const std::string* prompt : {&params.prompt, &params.negative_prompt}) {
        for (const auto& fragment : engine::ParsePromptEmphasis(*prompt)) {
            if (!std::isfinite(fragment.weight) || std::abs(fragment.weight) > kMaxEmphasisWeight) {
                return InvalidArgument("prompt emphasis weights must be between -100 and 100 (brackets nest and "
                                       "multiply by 1.1); write \\( and \\) for literal brackets");
            }
        }
    }
    if (!params.sampler.empty() && std::find(kSamplers.begin(), kSamplers.end(), params.sampler) == kSamplers.end()) {
        return InvalidArgument("sdxl sampler must be one of euler, euler_a, dpmpp_2m");
    }
    if (params.steps && *params.steps > 100) return InvalidArgument("sdxl steps must be at most 100");
    if (auto rng = params.options.find("rng"); rng != params.options.end() && rng->second != "cpu" &&
                                               rng->second != "cuda") {
        return InvalidArgument("rng must be cpu or cuda");
    }
    if (auto decoder = params.options.find("decoder"); decoder != params.options.end()) {
        if (decoder->second != "vae" && decoder->second != "taesd") {
            return InvalidArgument("decoder must be vae or taesd");
        }
        auto taesd = ResolveTaesdPath();
        if (decoder->second == "taesd" && (!taesd || taesd->empty())) {
            return InvalidArgument(
                "decoder taesd needs TAESDXL: run `labhouse models pull taesdxl` or set LABHOUSE_SDXL_TAESD");
        }
    }
    return OkStatus();
}

Result<TransformOutput> SdxlTransformer::Transform(const TransformInput& input, ProgressReporter& progress) {
    progress.Report({"loading", 0, 0, 0});
    LABHOUSE_RETURN_IF_ERROR(EnsureLoaded());
    std::lock_guard lock(mutex_);
    const JobParams& p = input.params;
    const Style* style = input.style;

    engine::SdxlRequest request;
    request.prompt = style ? ApplyPromptTemplate(style->sdxl.prompt_template, p.prompt) : p.prompt;
    request.negative_prompt = p.negative_prompt;
    if (style && !style->sdxl.negative_prompt.empty()) {
        request.negative_prompt += (request.negative_prompt.empty() ? "" : ", ") + style->sdxl.negative_prompt;
    }
    request.strength = p.strength ? *p.strength : (style && style->sdxl.strength ? *style->sdxl.strength : defaults_.strength);
    request.steps = p.steps.value_or(defaults_.steps);
    request.guidance = p.guidance.value_or(defaults_.guidance);
    request.sampler = p.sampler.empty() ? defaults_.sampler : p.sampler;
    if (auto rng = p.options.find("rng"); rng != p.options.end()) request.rng = rng->second;
    if (p.seed) {
        request.seed = static_cast<std::uint64_t>(*p.seed);
    } else {
        request.seed = std::random_device{}() & 0xffffffffu;
    }
    // Image-to-image generates at the model's native area in the photo's aspect; text-to-image at
    // the asked size rounded up to multiples of 64 (what every SDXL UNet takes), and the result is
    // resized to exactly the asked size below.
    const bool text_to_image = p.kind == JobKind::kTextToImage;
    if (text_to_image && (!p.width || !p.height)) return InvalidArgument("a text-to-image job needs width and height");
    auto round_up64 = [](int v) { return (v + 63) / 64 * 64; };
    const auto [width, height] = text_to_image ? std::pair{round_up64(*p.width), round_up64(*p.height)}
                                               : NativeSize(input.image.width, input.image.height, defaults_.native_side);
    Image init;
    if (!text_to_image) {
        init = Resize(input.image, width, height);
        request.init_image = &init;
    }
    request.width = width;
    request.height = height;
    if (auto decoder = p.options.find("decoder"); decoder != p.options.end()) request.decoder = decoder->second;
    if (pipeline_->has_taesd() && config_.preview_every > 0) {
        request.preview_every = config_.preview_every;
        request.on_preview = [&progress](int, int, const Image& preview) {
            // At most 512 px on the long side: enough to watch, ~30 KB as a JPEG on every listener's stream.
            const int side = std::max(preview.width, preview.height);
            if (side <= 512) return progress.ReportPreview(preview);
            progress.ReportPreview(Resize(preview, std::max(1, preview.width * 512 / side),
                                          std::max(1, preview.height * 512 / side)));
        };
    }

    std::atomic<bool> cancel{false};
    auto on_progress = [&](const std::string& stage, int step, int total, double seconds_per_step) {
        progress.Report({stage, step, total, seconds_per_step});
        if (progress.CancelRequested()) cancel = true;
    };
    if (progress.CancelRequested()) return Cancelled("canceled before generation");
    LABHOUSE_ASSIGN_OR_RETURN(engine::SdxlGenerationResult result, pipeline_->Generate(request, on_progress, &cancel));

    // Back to the upload's aspect and size (capped), so the result lines up with the photo; or to
    // the size a text-to-image job asked for.
    int out_w = text_to_image ? *p.width : input.image.width;
    int out_h = text_to_image ? *p.height : input.image.height;
    if (std::max(out_w, out_h) > kMaxResultSide) {
        const double scale = static_cast<double>(kMaxResultSide) / std::max(out_w, out_h);
        out_w = std::max(1, static_cast<int>(out_w * scale));
        out_h = std::max(1, static_cast<int>(out_h * scale));
    }
    TransformOutput output{Resize(result.image, out_w, out_h), result.meta};
    output.meta["model_sha256"] = model_sha256_;
    output.meta["prompt"] = request.prompt;
    if (!request.negative_prompt.empty()) output.meta["negative_prompt"] = request.negative_prompt;
    output.meta["generation_size"] = std::to_string(width) + "x" + std::to_string(height);
    output.meta["dtype"] = config_.device == "cpu" ? "float32" : "float16";
    return output;
}

}  // namespace labhouse::sdxl
