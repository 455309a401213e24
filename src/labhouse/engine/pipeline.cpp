// SdxlPipeline: loading, conditioning, img2img / txt2img sampling and decoding. Follows the sgm
// inference path (generative-models `sgm/inference/helpers.py`, `scripts/demo/turbo.py`) with the
// diffusers img2img strength convention; sdxl-reference.md sections 2.4, 3.3, 3.4, 5.2, 6, 7.
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "labhouse/core/base/sha256.h"
#include "labhouse/engine/internal/cpu_allocator.h"
#include "labhouse/engine/internal/tiling.h"
#include "labhouse/engine/internal/torch_common.h"
#include "labhouse/engine/rng.h"
#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/engine/tokenizer.h"

namespace labhouse::engine {

struct SdxlPipeline::Impl {
    std::string model_path;
    SdxlLoadOptions options;
    std::shared_ptr<CheckpointSource> source;
    SdxlConfig config;
    UnetPlan plan;
    std::unique_ptr<ClipTokenizer> tokenizer;
    std::unique_ptr<WeightStore> weights;
    std::unique_ptr<WeightStore> taesd_weights;  // null without SdxlLoadOptions::taesd_path
    TaesdDecoderLayout taesd_layout;
    std::string model_sha256;   // empty unless SdxlLoadOptions::hash_model
    std::mutex generate_mutex;  // one generation at a time (the tokenizer cache and the CPU are shared)
};

namespace {

// Prompt chunks encoded at most (600 tokens; the service takes up to 4000 characters, which can be
// thousands of tokens): each costs one more pass of both text encoders, and beyond this the tail
// is dropped and the record says so (`prompt_truncated`).
constexpr std::size_t kMaxPromptChunks = 8;

using Clock = std::chrono::steady_clock;

// A1111's "Original" emphasis: each token's hidden state times its weight, then the whole prompt's
// context rescaled so its mean is what it was unweighted (per row: A1111 encodes the prompt and
// the negative prompt in separate calls). A mean that weighting brings to zero is left unscaled.
at::Tensor EmphasizeTokens(const at::Tensor& hidden, const at::Tensor& multipliers) {
    at::Tensor z = hidden.to(at::kFloat);
    const at::Tensor original_mean = z.mean({1, 2}, /*keepdim=*/true);
    z = z * multipliers.to(z.device());
    const at::Tensor new_mean = z.mean({1, 2}, /*keepdim=*/true);
    const at::Tensor scale = at::where(new_mean.abs() > 1e-12, original_mean / new_mean, at::ones_like(new_mean));
    return (z * scale).to(hidden.scalar_type());
}
double Seconds(Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string Fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.3f", v);
    return buf;
}

// Runs `fn`, turning any torch/c10 or standard exception into an Error.
template <class Fn>
auto Guarded(const char* what, Fn&& fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const c10::Error& e) {
        return Internal(std::string(what) + ": " + e.what_without_backtrace());
    } catch (const std::bad_alloc&) {
        return ResourceExhausted(std::string(what) + ": out of memory");
    } catch (const std::exception& e) {
        return Internal(std::string(what) + ": " + e.what());
    }
}

at::Tensor NoiseTensor(NoiseRng& rng, const std::vector<int64_t>& shape, const at::TensorOptions& options) {
    int64_t numel = 1;
    for (auto d : shape) numel *= d;
    std::vector<float> values = rng.Randn(static_cast<std::size_t>(numel));
    return at::from_blob(values.data(), shape, at::TensorOptions().dtype(at::kFloat)).clone().to(options);
}

Result<std::string> HashFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("cannot read '" + path + "' to hash it");
    Sha256 sha;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        sha.Update(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    return sha.FinishHex();
}

// [1, 3, H, W] in [0, 1] -> RGB bytes, rounded as diffusers' numpy_to_pil.
Image ToImage(const at::Tensor& unit_image) {
    at::Tensor bytes = unit_image.clamp(0.0, 1.0).mul(255.0).round().to(at::kByte);
    bytes = bytes.permute({0, 2, 3, 1}).contiguous().to(at::kCPU);
    Image image;
    image.width = static_cast<int>(bytes.size(2));
    image.height = static_cast<int>(bytes.size(1));
    image.rgb.assign(bytes.data_ptr<std::uint8_t>(), bytes.data_ptr<std::uint8_t>() + bytes.numel());
    return image;
}

struct Conditioning {
    at::Tensor context;  // [B, 77, ctx]
    at::Tensor y;        // [B, adm]
};

}  // namespace

SdxlPipeline::SdxlPipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SdxlPipeline::~SdxlPipeline() = default;

bool SdxlPipeline::has_taesd() const {
    return impl_->taesd_weights != nullptr;
}

int SdxlPipeline::size_multiple() const {
    return impl_->config.size_multiple();
}

std::string SdxlPipeline::Describe() const {
    const auto& c = impl_->config;
    std::string mult;
    for (int m : c.unet.channel_mult) mult += (mult.empty() ? "" : ",") + std::to_string(m);
    return "CLIP-L " + std::to_string(c.clip_l.width) + "x" + std::to_string(c.clip_l.layers) + ", bigG " +
           std::to_string(c.clip_g.width) + "x" + std::to_string(c.clip_g.layers) + ", UNet " +
           std::to_string(c.unet.model_channels) + " [" + mult + "] ctx " + std::to_string(c.unet.context_dim) +
           ", VAE " + std::to_string(c.vae.ch) + " f" + std::to_string(c.vae.downscale());
}

Result<std::unique_ptr<SdxlPipeline>> SdxlPipeline::Load(const std::string& checkpoint_path,
                                                         const std::string& tokenizer_dir,
                                                         const SdxlLoadOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->model_path = checkpoint_path;
    impl->options = options;
    LABHOUSE_RETURN_IF_ERROR(ValidateVaeTile(options.vae_tile));
    LABHOUSE_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointSource> source, CheckpointSource::Open(checkpoint_path));
    impl->source = std::move(source);
    auto config = DetectSdxlConfig(impl->source->tensors());
    if (!config) return InvalidArgument("'" + checkpoint_path + "': " + config.error().message);
    impl->config = *config;
    if (auto status = ValidateSdxlTensors(impl->source->tensors(), impl->config); !status) {
        return InvalidArgument("'" + checkpoint_path + "': " + status.error().message);
    }
    impl->plan = MakeUnetPlan(impl->config.unet);
    if (options.hash_model) {
        // One file: its SHA-256. A diffusers folder: "component=hash" per file, in load order.
        for (const auto& path : impl->source->file_paths()) {
            LABHOUSE_ASSIGN_OR_RETURN(std::string hash, HashFile(path));
            if (impl->source->file_paths().size() == 1) {
                impl->model_sha256 = hash;
            } else {
                const std::string component = std::filesystem::path(path).parent_path().filename().string();
                impl->model_sha256 += (impl->model_sha256.empty() ? "" : ",") + component + "=" + hash;
            }
        }
    }
    LABHOUSE_ASSIGN_OR_RETURN(impl->tokenizer, ClipTokenizer::LoadFromDir(tokenizer_dir));
    const int vocab = std::min(impl->config.clip_l.vocab, impl->config.clip_g.vocab);
    if (impl->tokenizer->vocab_size() > vocab) {
        return InvalidArgument("tokenizer in '" + tokenizer_dir + "' has " +
                               std::to_string(impl->tokenizer->vocab_size()) +
                               " tokens but the checkpoint's text encoders embed only " + std::to_string(vocab));
    }
    auto status = Guarded("loading weights", [&]() -> Status {
        const at::Device device(options.device);
        if (device.is_cuda() && !at::hasCUDA()) {
            return FailedPrecondition("device '" + options.device +
                                      "' requested but this libtorch has no CUDA support");
        }
        const int threads =
            options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        at::set_num_threads(threads);  // libtorch here defaults to 1 intra-op thread
        if (!device.is_cuda()) {
            // Reuse large CPU blocks instead of mapping fresh pages for every tensor (see cpu_allocator.h).
            // The bound is what the free lists may hold between uses: a few of the VAE's largest activations.
            InstallCachingCpuAllocator(options.weight_mode == WeightMode::kFast ? (2ull << 30) : (1ull << 30));
        }
        // fp32 compute on CPU (no fast fp16/bf16 kernels there), fp16 on CUDA.
        const at::ScalarType dtype = device.is_cuda() ? at::kHalf : at::kFloat;
        impl->weights =
            std::make_unique<WeightStore>(impl->source, device, dtype, options.weight_mode == WeightMode::kFast);
        if (!options.taesd_path.empty()) {
            auto taesd = CheckpointSource::Open(options.taesd_path);
            if (!taesd) return InvalidArgument("TAESD decoder: " + taesd.error().message);
            auto layout = DetectTaesdDecoder((*taesd)->tensors());
            if (!layout) return InvalidArgument("'" + options.taesd_path + "': " + layout.error().message);
            if (layout->latent_channels != impl->config.vae.z_channels) {
                return InvalidArgument("'" + options.taesd_path + "' decodes " +
                                       std::to_string(layout->latent_channels) +
                                       "-channel latents but the model's are " +
                                       std::to_string(impl->config.vae.z_channels) + "-channel");
            }
            impl->taesd_layout = *layout;
            // Small enough to convert once; the VAE always runs in fp32, and so does this.
            impl->taesd_weights = std::make_unique<WeightStore>(
                std::shared_ptr<const CheckpointSource>(std::move(*taesd)), device, at::kFloat, true);
        }
        return OkStatus();
    });
    LABHOUSE_RETURN_IF_ERROR(status);
    return std::unique_ptr<SdxlPipeline>(new SdxlPipeline(std::move(impl)));
}

Result<SdxlGenerationResult> SdxlPipeline::Generate(const SdxlRequest& request, const SdxlProgressFn& progress,
                                                    const std::atomic<bool>* cancel) {
    // --- validate everything before any tensor work ---
    LABHOUSE_ASSIGN_OR_RETURN(SamplerKind sampler, ParseSampler(request.sampler));
    Spacing spacing = DefaultSpacing(sampler);
    if (!request.spacing.empty()) {
        LABHOUSE_ASSIGN_OR_RETURN(spacing, ParseSpacing(request.spacing));
    }
    LABHOUSE_ASSIGN_OR_RETURN(RngMode rng_mode, ParseRngMode(request.rng));
    if (request.steps < 1 || request.steps > 1000) return InvalidArgument("steps must be between 1 and 1000");
    if (!(request.guidance >= 0.0) || request.guidance > 100.0) return InvalidArgument("guidance must be in [0, 100]");
    const Image* init = request.init_image;
    if (init != nullptr && (init->Empty() || init->rgb.size() != init->ByteSize())) {
        return InvalidArgument("init image is empty or its pixel buffer does not match its size");
    }
    int width = request.width, height = request.height;
    if (width == 0 && height == 0) {
        width = init ? init->width : 512;
        height = init ? init->height : 512;
    }
    if (init && (width != init->width || height != init->height)) {
        return InvalidArgument("init image is " + std::to_string(init->width) + "x" + std::to_string(init->height) +
                               " but the request asks for " + std::to_string(width) + "x" + std::to_string(height) +
                               "; resize the image first");
    }
    const int multiple = size_multiple();
    if (width <= 0 || height <= 0 || width % multiple != 0 || height % multiple != 0 || width > 4096 || height > 4096) {
        return InvalidArgument("size " + std::to_string(width) + "x" + std::to_string(height) +
                               " must be positive multiples of " + std::to_string(multiple) + " up to 4096");
    }
    std::vector<double> sigmas = MakeSigmas(spacing, request.steps);
    if (init) {
        LABHOUSE_ASSIGN_OR_RETURN(sigmas, Img2ImgSigmas(sigmas, request.strength));
    }
    const bool use_cfg = request.guidance > 1.0;  // diffusers enables CFG only above 1 (Turbo: 0)
    auto cancelled = [&] { return cancel != nullptr && cancel->load(); };
    auto report = [&](const std::string& stage, int step, int total, double secs) {
        if (progress) progress(stage, step, total, secs);
    };
    if (request.decoder != "vae" && request.decoder != "taesd") {
        return InvalidArgument("decoder must be vae or taesd, not '" + request.decoder + "'");
    }
    if (request.preview_every < 0) return InvalidArgument("preview_every must be >= 0");
    const bool want_previews = request.preview_every > 0 && request.on_preview;
    if ((request.decoder == "taesd" || want_previews) && !impl_->taesd_weights) {
        return FailedPrecondition(std::string(request.decoder == "taesd" ? "decoder taesd" : "previews") +
                                  " need a TAESD decoder: load one with SdxlLoadOptions::taesd_path (labhouse models "
                                  "pull taesdxl)");
    }
    if (cancelled()) return Cancelled("generation cancelled before it started");

    return Guarded("SDXL generation", [&]() -> Result<SdxlGenerationResult> {
        std::lock_guard<std::mutex> lock(impl_->generate_mutex);
        struct ReleaseCache {  // an idle worker should not keep the activations' memory
            ~ReleaseCache() { ReleaseCachedCpuMemory(); }
        } release_cache;
        c10::InferenceMode inference_guard;
        const Impl& m = *impl_;
        const WeightStore& w = *m.weights;
        const auto options = at::TensorOptions().dtype(w.dtype()).device(w.device());
        SdxlGenerationResult result;
        const auto total_start = Clock::now();

        const bool low_memory = m.options.weight_mode == WeightMode::kLowMemory;
        // --- text encoders (sections 2.4, 3) ---
        auto start = Clock::now();
        if (low_memory) {
            w.PopulateMapped(kClipLPrefix);
            w.PopulateMapped(kClipGPrefix);
        }
        // Long prompts in chunks of 75 tokens, each encoded on its own and the contexts joined
        // along the tokens (A1111; ComfyUI likewise); the pooled vector is the first chunk's. A
        // batch's shorter prompts get empty chunks, as in A1111, so that all have one length.
        // Emphasis weights scale each token's hidden state, then each prompt's context is scaled
        // back to its unweighted mean (A1111's "Original" emphasis), per encoder and chunk; the
        // pooled vector is not weighted.
        bool prompt_truncated = false;
        bool prompt_weighted = false;
        std::size_t prompt_chunks = 1;
        auto encode = [&](const std::vector<std::string>& texts) {
            std::vector<std::vector<PromptChunk>> chunks;
            for (const auto& text : texts) {
                bool cut = false;
                chunks.push_back(m.tokenizer->SplitIntoChunks(text, kMaxPromptChunks, &cut));
                prompt_truncated = prompt_truncated || cut;
                prompt_chunks = std::max(prompt_chunks, chunks.back().size());
            }
            const auto b = static_cast<int64_t>(texts.size());
            const auto long_opts = at::TensorOptions().dtype(at::kLong);
            std::vector<at::Tensor> hidden;
            at::Tensor pooled;
            for (std::size_t c = 0; c < prompt_chunks; ++c) {
                std::vector<int64_t> ids_l, ids_g;
                std::vector<float> weights;  // 1 for BOS, EOS and padding
                bool weighted = false;
                for (const auto& text_chunks : chunks) {
                    const PromptChunk chunk = c < text_chunks.size() ? text_chunks[c] : PromptChunk();
                    for (int id : m.tokenizer->LayOutChunk(chunk.tokens, m.tokenizer->eos_id()))
                        ids_l.push_back(id);                                                          // CLIP-L pads with EOS
                    for (int id : m.tokenizer->LayOutChunk(chunk.tokens, 0)) ids_g.push_back(id);  // bigG pads with 0
                    weights.push_back(1.f);
                    weights.insert(weights.end(), chunk.weights.begin(), chunk.weights.end());
                    weights.resize(weights.size() + kClipContextLength - 1 - chunk.weights.size(), 1.f);
                    for (float weight : chunk.weights) weighted = weighted || weight != 1.f;
                }
                at::Tensor tl = at::from_blob(ids_l.data(), {b, kClipContextLength}, long_opts).clone();
                at::Tensor tg = at::from_blob(ids_g.data(), {b, kClipContextLength}, long_opts).clone();
                TextEncoderOutput l = RunClipText(w, m.config.clip_l, tl);
                TextEncoderOutput g = RunClipText(w, m.config.clip_g, tg);
                if (weighted) {
                    at::Tensor multipliers =
                        at::from_blob(weights.data(), {b, kClipContextLength, 1}, at::TensorOptions().dtype(at::kFloat));
                    l.hidden = EmphasizeTokens(l.hidden, multipliers);
                    g.hidden = EmphasizeTokens(g.hidden, multipliers);
                    prompt_weighted = true;
                }
                hidden.push_back(at::cat({l.hidden, g.hidden}, -1));
                if (c == 0) pooled = g.pooled;
            }
            return std::make_pair(at::cat(hidden, 1), pooled);
        };
        std::vector<std::string> texts;
        const bool zero_uncond = use_cfg && request.negative_prompt.empty();
        if (use_cfg && !zero_uncond) texts.push_back(request.negative_prompt);
        texts.push_back(request.prompt);
        auto [context, pooled] = encode(texts);
        if (zero_uncond) {
            // sgm / A1111 "force_zero_embeddings": an empty negative prompt is zeros, pooled included (section 3.4).
            context = at::cat({at::zeros_like(context), context}, 0);
            pooled = at::cat({at::zeros_like(pooled), pooled}, 0);
        }
        const int size_dim = m.config.size_embed_dim();
        // y = pooled | E(orig h) E(orig w) E(crop top) E(crop left) E(target h) E(target w); orig = target = size, crop
        // 0.
        const std::vector<float> size_values = {static_cast<float>(height), static_cast<float>(width), 0.f, 0.f,
                                                static_cast<float>(height), static_cast<float>(width)};
        at::Tensor sizes = at::tensor(size_values, at::TensorOptions().dtype(at::kFloat));
        at::Tensor size_emb = TimestepEmbedding(sizes, size_dim).reshape({1, 6 * size_dim}).to(options);
        at::Tensor y = at::cat({pooled.to(options), size_emb.expand({pooled.size(0), 6 * size_dim})}, 1);
        context = context.to(options);
        if (low_memory) {
            // Keep the resident set to one stage's weights (issue 5: <= 8.8 GB in low-memory mode).
            w.DropMapped(kClipLPrefix);
            w.DropMapped(kClipGPrefix);
        }
        const double t_text = Seconds(start);
        result.meta["seconds_text_encoders"] = Fmt(t_text);
        result.meta["prompt_chunks"] = std::to_string(prompt_chunks);
        if (prompt_truncated) result.meta["prompt_truncated"] = "true";
        if (prompt_weighted) result.meta["prompt_emphasis"] = "a1111-original";
        report("text_encoders", 1, 1, t_text);
        if (cancelled()) return Cancelled("generation cancelled after the text encoders");

        const int f = m.config.vae.downscale();
        const std::vector<int64_t> latent_shape = {1, m.config.vae.z_channels, height / f, width / f};
        const VaeTiling vae_tiling = ResolveVaeTiling(m.options.vae_tile, width, height);
        std::unique_ptr<NoiseRng> rng = MakeNoiseRng(rng_mode, request.seed);
        at::Tensor x;
        if (init) {
            // --- VAE encode: posterior sample (section 5.2), drawn before the initial noise as diffusers does ---
            start = Clock::now();
            at::Tensor pixels = at::from_blob(const_cast<std::uint8_t*>(init->rgb.data()), {1, height, width, 3},
                                              at::TensorOptions().dtype(at::kByte));
            pixels = pixels.to(at::kFloat).permute({0, 3, 1, 2}).contiguous().div_(127.5).sub_(1.0).to(w.device());
            at::Tensor moments = RunVaeEncoderTiled(w, m.config.vae, pixels, vae_tiling);
            auto parts = moments.chunk(2, 1);
            at::Tensor std_dev = at::exp(0.5 * parts[1].clamp(-30.0, 20.0));
            at::Tensor eps = NoiseTensor(*rng, latent_shape, moments.options());
            at::Tensor latent = (parts[0] + std_dev * eps) * kVaeScaleFactor;
            const double t_enc = Seconds(start);
            result.meta["seconds_vae_encode"] = Fmt(t_enc);
            report("vae_encode", 1, 1, t_enc);
            if (cancelled()) return Cancelled("generation cancelled after the VAE encoder");
            x = latent.to(options) + NoiseTensor(*rng, latent_shape, options) * sigmas[0];  // z + eps * sigma_start
        } else {
            // diffusers init_noise_sigma: sqrt(sigma^2 + 1) for leading spacing, sigma otherwise (k-diffusion).
            const double scale = spacing == Spacing::kLeading ? std::sqrt(sigmas[0] * sigmas[0] + 1) : sigmas[0];
            x = NoiseTensor(*rng, latent_shape, options) * scale;
        }

        // --- UNet sampling loop (section 6) ---
        if (low_memory) w.PopulateMapped(kUnetPrefix);
        const int total_steps = static_cast<int>(sigmas.size()) - 1;
        auto step_start = Clock::now();
        const auto unet_start = Clock::now();
        SamplerHooks hooks;
        hooks.denoise = [&](const at::Tensor& latent, double sigma) {
            // eps-prediction denoiser: c_in = 1/sqrt(sigma^2+1), D = x - sigma * eps(c_in x, t(sigma)).
            const double c_in = 1.0 / std::sqrt(sigma * sigma + 1.0);
            const double t = SigmaToTimestep(sigma);
            const int64_t b = use_cfg ? 2 : 1;
            at::Tensor input = (use_cfg ? at::cat({latent, latent}, 0) : latent) * c_in;
            at::Tensor ts = at::full({b}, t, at::TensorOptions().dtype(at::kFloat).device(w.device()));
            at::Tensor eps = RunUnet(w, m.config.unet, m.plan, input, ts, context, y);
            if (use_cfg) {
                auto uc = eps.chunk(2, 0);
                eps = uc[0] + (uc[1] - uc[0]) * request.guidance;  // [uncond, cond] order (sgm VanillaCFG)
            }
            return latent - eps * sigma;
        };
        hooks.noise = [&] { return NoiseTensor(*rng, latent_shape, options); };
        hooks.after_step = [&](int step, int total, const at::Tensor& denoised) {
            const double secs = Seconds(step_start);
            result.meta["seconds_unet_step_" + std::to_string(step)] = Fmt(secs);
            report("unet", step, total, secs);
            if (want_previews && step < total && step % request.preview_every == 0 && !cancelled()) {
                // Not counted in the step's time: a 512x512 TAESD decode is ~1/10 of a UNet step here.
                request.on_preview(step, total, ToImage(RunTaesdDecoder(*m.taesd_weights, m.taesd_layout, denoised)));
            }
            step_start = Clock::now();
            return !cancelled();
        };
        x = RunSampler(sampler, sigmas, x, hooks);
        if (!x.defined()) return Cancelled("generation cancelled between sampling steps");
        if (low_memory) w.DropMapped(kUnetPrefix);
        result.meta["seconds_unet"] = Fmt(Seconds(unet_start));

        // --- VAE decode (section 5.2): z / scale -> decoder -> clamp((x + 1) / 2) * 255, rounded as diffusers ---
        start = Clock::now();
        at::Tensor final_latent = x.to(at::kFloat).to(at::kCPU).contiguous();
        const bool taesd = request.decoder == "taesd";
        result.image = taesd ? ToImage(RunTaesdDecoderTiled(*m.taesd_weights, m.taesd_layout, x, vae_tiling))
                             : ToImage((RunVaeDecoderTiled(w, m.config.vae, x.to(at::kFloat) / kVaeScaleFactor,
                                                           vae_tiling) + 1.0) * 0.5);
        const double t_dec = Seconds(start);
        result.meta["seconds_vae_decode"] = Fmt(t_dec);
        report("vae_decode", 1, 1, t_dec);

        result.latent.assign(final_latent.data_ptr<float>(), final_latent.data_ptr<float>() + final_latent.numel());
        result.latent_shape = latent_shape;
        result.meta["seconds_total"] = Fmt(Seconds(total_start));
        result.meta["engine_version"] = kEngineVersion;
        result.meta["model"] = std::filesystem::path(m.model_path).filename().string();
        result.meta["model_bytes"] = std::to_string(m.source->total_bytes());
        result.meta["model_layout"] = m.source->layout();
        if (!m.model_sha256.empty()) result.meta["model_sha256"] = m.model_sha256;
        result.meta["weight_mode"] = m.options.weight_mode == WeightMode::kFast ? "fast" : "low_memory";
        result.meta["device"] = m.options.device;
        result.meta["vae_tile"] = vae_tiling.Describe();
        if (vae_tiling.enabled()) result.meta["vae_tiles"] = VaeTileGrid(vae_tiling, width, height, f);
        result.meta["decoder"] = request.decoder;
        result.meta["sampler"] = SamplerName(sampler);
        result.meta["spacing"] = SpacingName(spacing);
        result.meta["steps"] = std::to_string(request.steps);
        result.meta["steps_run"] = std::to_string(total_steps);
        result.meta["strength"] = init ? Fmt(request.strength) : "1.000";
        result.meta["guidance"] = Fmt(request.guidance);
        result.meta["seed"] = std::to_string(request.seed);
        result.meta["rng"] = RngModeName(rng_mode);
        result.meta["width"] = std::to_string(width);
        result.meta["height"] = std::to_string(height);
        result.meta["mode"] = init ? "img2img" : "txt2img";
        result.meta["sigma_start"] = Fmt(sigmas[0]);
        return result;
    });
}

}  // namespace labhouse::engine
