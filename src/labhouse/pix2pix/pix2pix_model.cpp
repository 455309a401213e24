// Pix2PixModel: training (pix2pix_model.py's optimize_parameters), checkpoints and inference.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "labhouse/pix2pix/internal/networks.h"
#include "labhouse/pix2pix/pix2pix.h"

namespace labhouse::pix2pix {

namespace {

constexpr int64_t kFormatVersion = 1;

double SecondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void SetLearningRate(torch::optim::Adam& optimizer, double lr) {
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

// pytorch-CycleGAN-and-pix2pix get_scheduler(lr_policy="lambda"): constant, then a linear decay
// over the last decay_epochs: 1 - max(0, epoch + 1 - n_epochs) / (n_epochs_decay + 1).
double LearningRateFactor(int epoch, int epochs, int decay_epochs) {
    const int constant_epochs = epochs - decay_epochs;
    return 1.0 - std::max(0, epoch + 1 - constant_epochs) / static_cast<double>(decay_epochs + 1);
}

torch::Tensor StackImages(const std::vector<TrainingPair>& pairs, bool take_a) {
    std::vector<torch::Tensor> tensors;
    tensors.reserve(pairs.size());
    for (const TrainingPair& pair : pairs) {
        const Image& image = take_a ? pair.a : pair.b;
        tensors.push_back(
            torch::from_blob(const_cast<std::uint8_t*>(image.rgb.data()), {image.height, image.width, 3}, torch::kUInt8)
                .permute({2, 0, 1}));
    }
    return torch::stack(tensors).contiguous();  // N x 3 x S x S, uint8: a quarter of float's memory
}

torch::Tensor ToUnitRange(const torch::Tensor& bytes) { return bytes.to(torch::kFloat32).div(127.5).sub(1.0); }

}  // namespace

labhouse::Status Pix2PixConfig::Validate() const {
    if (depth < 2 || depth > 10) return InvalidArgument("pix2pix depth must be 2..10, got " + std::to_string(depth));
    if (base_filters < 1 || base_filters > 512) return InvalidArgument("pix2pix base_filters must be 1..512");
    if (image_size < 16 || image_size > 4096 || image_size % (1 << depth) != 0) {
        return InvalidArgument("pix2pix image_size " + std::to_string(image_size) +
                               " must be a multiple of 2^depth = " + std::to_string(1 << depth) +
                               " (the U-Net bottleneck), 16..4096");
    }
    if (discriminator_layers < 1 || (image_size >> discriminator_layers) < 3) {
        return InvalidArgument("pix2pix discriminator_layers " + std::to_string(discriminator_layers) +
                               " leaves no PatchGAN output for image_size " + std::to_string(image_size));
    }
    if (!(lambda_l1 >= 0) || !(learning_rate > 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
        return InvalidArgument("pix2pix lambda_l1, learning_rate or betas out of range");
    }
    return OkStatus();
}

struct Pix2PixModel::Impl {
    Pix2PixConfig config;
    internal::UnetGenerator generator{nullptr};
    internal::PatchDiscriminator discriminator{nullptr};
    std::unique_ptr<torch::optim::Adam> optimizer_g;
    std::unique_ptr<torch::optim::Adam> optimizer_d;
    int epochs_done = 0;

    explicit Impl(const Pix2PixConfig& c) : config(c), generator(c) {}

    void AddTrainingState() {
        discriminator = internal::PatchDiscriminator(config);
        const auto adam = [&] {
            return torch::optim::AdamOptions(config.learning_rate).betas({config.beta1, config.beta2});
        };
        optimizer_g = std::make_unique<torch::optim::Adam>(generator->parameters(), adam());
        optimizer_d = std::make_unique<torch::optim::Adam>(discriminator->parameters(), adam());
    }
    bool HasTrainingState() const { return static_cast<bool>(optimizer_g); }

    // One batch of pix2pix_model.py optimize_parameters: D on real and detached fake pairs (loss
    // halved), then G on the non-saturating GAN loss plus lambda * L1.
    TrainProgress Step(const torch::Tensor& a, const torch::Tensor& b) {
        const torch::Tensor fake = generator->forward(a);

        for (auto& p : discriminator->parameters()) p.set_requires_grad(true);
        optimizer_d->zero_grad();
        const torch::Tensor pred_fake = discriminator->forward(a, fake.detach());
        const torch::Tensor pred_real = discriminator->forward(a, b);
        const torch::Tensor loss_d_fake =
            torch::binary_cross_entropy_with_logits(pred_fake, torch::zeros_like(pred_fake));
        const torch::Tensor loss_d_real =
            torch::binary_cross_entropy_with_logits(pred_real, torch::ones_like(pred_real));
        const torch::Tensor loss_d = (loss_d_fake + loss_d_real) * 0.5;
        loss_d.backward();
        optimizer_d->step();

        for (auto& p : discriminator->parameters()) p.set_requires_grad(false);  // G's step only
        optimizer_g->zero_grad();
        const torch::Tensor pred = discriminator->forward(a, fake);
        const torch::Tensor loss_g_gan = torch::binary_cross_entropy_with_logits(pred, torch::ones_like(pred));
        const torch::Tensor loss_g_l1 = torch::l1_loss(fake, b);
        const torch::Tensor loss_g = loss_g_gan + loss_g_l1 * config.lambda_l1;
        loss_g.backward();
        optimizer_g->step();

        TrainProgress progress;
        progress.loss_d = loss_d.item<double>();
        progress.loss_g_gan = loss_g_gan.item<double>();
        progress.loss_g_l1 = loss_g_l1.item<double>();
        return progress;
    }
};

Pix2PixModel::Pix2PixModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pix2PixModel::Pix2PixModel(Pix2PixModel&&) noexcept = default;
Pix2PixModel& Pix2PixModel::operator=(Pix2PixModel&&) noexcept = default;
Pix2PixModel::~Pix2PixModel() = default;

Result<Pix2PixModel> Pix2PixModel::Create(const Pix2PixConfig& config, std::uint64_t seed) {
    LABHOUSE_RETURN_IF_ERROR(config.Validate());
    try {
        // The process-wide torch generator: model creation and training are the only users in
        // this library, and both reseed it, so results do not depend on what ran before.
        torch::manual_seed(seed);
        auto impl = std::make_unique<Impl>(config);
        impl->AddTrainingState();
        internal::InitWeights(*impl->generator);
        internal::InitWeights(*impl->discriminator);
        return Pix2PixModel(std::move(impl));
    } catch (const std::exception& e) {
        return Internal(std::string("pix2pix: creating the networks failed: ") + e.what());
    }
}

labhouse::Status Pix2PixModel::Save(const std::string& path, bool training_state) const {
    const bool with_training = training_state && impl_->HasTrainingState();
    const std::string temp = path + ".tmp";
    try {
        const Pix2PixConfig& c = impl_->config;
        torch::serialize::OutputArchive archive;
        archive.write("pix2pix_format", torch::tensor({kFormatVersion}, torch::kInt64));
        archive.write("config_ints",
                      torch::tensor(std::vector<int64_t>{c.image_size, c.base_filters, c.depth, c.discriminator_layers,
                                                         c.dropout ? 1 : 0, impl_->epochs_done, with_training ? 1 : 0},
                                    torch::kInt64));
        archive.write(
            "config_floats",
            torch::tensor(std::vector<double>{c.lambda_l1, c.learning_rate, c.beta1, c.beta2}, torch::kFloat64));
        torch::serialize::OutputArchive generator;
        impl_->generator->save(generator);
        archive.write("generator", generator);
        if (with_training) {
            torch::serialize::OutputArchive discriminator, optimizer_g, optimizer_d;
            impl_->discriminator->save(discriminator);
            impl_->optimizer_g->save(optimizer_g);
            impl_->optimizer_d->save(optimizer_d);
            archive.write("discriminator", discriminator);
            archive.write("optimizer_g", optimizer_g);
            archive.write("optimizer_d", optimizer_d);
        }
        archive.save_to(temp);
        std::filesystem::rename(temp, path);
    } catch (const std::exception& e) {
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        return Internal("pix2pix: cannot write " + path + ": " + e.what());
    }
    return OkStatus();
}

Result<Pix2PixModel> Pix2PixModel::Load(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return NotFound("pix2pix model not found: " + path);
    try {
        torch::serialize::InputArchive archive;
        archive.load_from(path);
        torch::Tensor format, ints, floats;
        if (!archive.try_read("pix2pix_format", format) || format.item<int64_t>() != kFormatVersion) {
            return InvalidArgument(path + " is not a labhouse pix2pix model (format " + std::to_string(kFormatVersion) +
                                   ")");
        }
        archive.read("config_ints", ints);
        archive.read("config_floats", floats);
        const auto i = ints.accessor<int64_t, 1>();
        const auto f = floats.accessor<double, 1>();
        Pix2PixConfig config;
        config.image_size = static_cast<int>(i[0]);
        config.base_filters = static_cast<int>(i[1]);
        config.depth = static_cast<int>(i[2]);
        config.discriminator_layers = static_cast<int>(i[3]);
        config.dropout = i[4] != 0;
        config.lambda_l1 = f[0];
        config.learning_rate = f[1];
        config.beta1 = f[2];
        config.beta2 = f[3];
        if (auto valid = config.Validate(); !valid) return InvalidArgument(path + ": " + valid.error().message);
        auto impl = std::make_unique<Impl>(config);
        impl->epochs_done = static_cast<int>(i[5]);
        torch::serialize::InputArchive generator;
        archive.read("generator", generator);
        impl->generator->load(generator);
        if (i[6] != 0) {
            impl->AddTrainingState();
            torch::serialize::InputArchive discriminator, optimizer_g, optimizer_d;
            archive.read("discriminator", discriminator);
            archive.read("optimizer_g", optimizer_g);
            archive.read("optimizer_d", optimizer_d);
            impl->discriminator->load(discriminator);
            impl->optimizer_g->load(optimizer_g);
            impl->optimizer_d->load(optimizer_d);
        }
        return Pix2PixModel(std::move(impl));
    } catch (const std::exception& e) {
        return InvalidArgument("pix2pix: cannot read model " + path + ": " + e.what());
    }
}

Result<TrainSummary> Pix2PixModel::Train(const std::vector<TrainingPair>& pairs, const TrainOptions& options,
                                         const TrainCallbacks& callbacks) {
    const int size = impl_->config.image_size;
    if (!impl_->HasTrainingState()) {
        return FailedPrecondition("this pix2pix model was saved without training state (generator only)");
    }
    if (pairs.empty()) return InvalidArgument("pix2pix: no training pairs");
    if (options.epochs < 1 || options.batch_size < 1 || options.decay_epochs < 0 ||
        options.decay_epochs > options.epochs || options.checkpoint_every < 1) {
        return InvalidArgument("pix2pix: epochs >= 1, batch_size >= 1, 0 <= decay_epochs <= epochs required");
    }
    for (std::size_t k = 0; k < pairs.size(); ++k) {
        for (const Image* image : {&pairs[k].a, &pairs[k].b}) {
            if (image->width != size || image->height != size || image->rgb.size() != image->ByteSize()) {
                return InvalidArgument("pix2pix: training pair " + std::to_string(k) + " is not " +
                                       std::to_string(size) + "x" + std::to_string(size) + " RGB");
            }
        }
    }
    TrainSummary summary;
    try {
        const torch::Tensor all_a = StackImages(pairs, true);
        const torch::Tensor all_b = StackImages(pairs, false);
        const int64_t count = all_a.size(0);
        const int steps_per_epoch = static_cast<int>((count + options.batch_size - 1) / options.batch_size);
        const int jitter_size = size * 286 / 256;  // --load_size 286 for --crop_size 256
        const auto start = std::chrono::steady_clock::now();
        impl_->generator->train();
        impl_->generator->stochastic = true;
        impl_->discriminator->train();
        bool first_epoch = true;
        for (int epoch = impl_->epochs_done; epoch < options.epochs; ++epoch) {
            const double lr =
                impl_->config.learning_rate * LearningRateFactor(epoch, options.epochs, options.decay_epochs);
            SetLearningRate(*impl_->optimizer_g, lr);
            SetLearningRate(*impl_->optimizer_d, lr);
            torch::manual_seed(options.seed + static_cast<std::uint64_t>(epoch));
            const torch::Tensor order = torch::randperm(count, torch::kInt64);
            double epoch_l1 = 0;
            for (int step = 0; step < steps_per_epoch; ++step) {
                if (callbacks.cancel_requested && callbacks.cancel_requested()) {
                    return Cancelled("pix2pix training canceled in epoch " + std::to_string(epoch + 1));
                }
                const torch::Tensor index = order.slice(0, step * options.batch_size,
                                                        std::min<int64_t>(count, (step + 1) * options.batch_size));
                torch::Tensor a = ToUnitRange(all_a.index_select(0, index));
                torch::Tensor b = ToUnitRange(all_b.index_select(0, index));
                if (options.jitter) {
                    namespace F = torch::nn::functional;
                    const auto resize = F::InterpolateFuncOptions()
                                            .size(std::vector<int64_t>{jitter_size, jitter_size})
                                            .mode(torch::kBilinear)
                                            .align_corners(false);
                    const int64_t x = torch::randint(jitter_size - size + 1, {1}).item<int64_t>();
                    const int64_t y = torch::randint(jitter_size - size + 1, {1}).item<int64_t>();
                    a = F::interpolate(a, resize).slice(2, y, y + size).slice(3, x, x + size);
                    b = F::interpolate(b, resize).slice(2, y, y + size).slice(3, x, x + size);
                }
                if (options.flip) {
                    const torch::Tensor flip = (torch::rand({a.size(0), 1, 1, 1}) < 0.5);
                    a = torch::where(flip, a.flip({3}), a);
                    b = torch::where(flip, b.flip({3}), b);
                }
                TrainProgress progress = impl_->Step(a.contiguous(), b.contiguous());
                epoch_l1 += progress.loss_g_l1;
                ++summary.steps;
                if (callbacks.on_step) {
                    progress.epoch = epoch;
                    progress.epochs = options.epochs;
                    progress.step = step + 1;
                    progress.steps_per_epoch = steps_per_epoch;
                    progress.seconds = SecondsSince(start);
                    callbacks.on_step(progress);
                }
            }
            epoch_l1 /= steps_per_epoch;
            if (first_epoch) summary.first_loss_g_l1 = epoch_l1;
            first_epoch = false;
            summary.last_loss_g_l1 = epoch_l1;
            impl_->epochs_done = epoch + 1;
            const bool last = epoch + 1 == options.epochs;
            if (!options.checkpoint_path.empty() && (last || (epoch + 1) % options.checkpoint_every == 0)) {
                LABHOUSE_RETURN_IF_ERROR(Save(options.checkpoint_path));
            }
        }
    } catch (const std::exception& e) {
        return Internal(std::string("pix2pix training failed: ") + e.what());
    }
    summary.epochs_done = impl_->epochs_done;
    return summary;
}

Result<Image> Pix2PixModel::Generate(const Image& a) const {
    const int size = impl_->config.image_size;
    if (a.width != size || a.height != size || a.rgb.size() != a.ByteSize()) {
        return InvalidArgument("pix2pix: input must be " + std::to_string(size) + "x" + std::to_string(size) + " RGB");
    }
    try {
        c10::InferenceMode guard;
        impl_->generator->eval();  // dropout off; normalisation is per image regardless (see networks.h)
        Image out = internal::TensorToImage(impl_->generator->forward(internal::ImageToTensor(a)));
        impl_->generator->train();
        return out;
    } catch (const std::exception& e) {
        return Internal(std::string("pix2pix inference failed: ") + e.what());
    }
}

Result<double> Pix2PixModel::MeanAbsoluteError(const std::vector<TrainingPair>& pairs) const {
    if (pairs.empty()) return InvalidArgument("pix2pix: no pairs to evaluate");
    double total = 0;
    std::size_t count = 0;
    for (const TrainingPair& pair : pairs) {
        LABHOUSE_ASSIGN_OR_RETURN(Image out, Generate(pair.a));
        if (pair.b.rgb.size() != out.rgb.size())
            return InvalidArgument("pix2pix: evaluation pair B has the wrong size");
        for (std::size_t k = 0; k < out.rgb.size(); ++k) total += std::abs(int(out.rgb[k]) - int(pair.b.rgb[k]));
        count += out.rgb.size();
    }
    return total / static_cast<double>(count);
}

const Pix2PixConfig& Pix2PixModel::config() const { return impl_->config; }
int Pix2PixModel::epochs_done() const { return impl_->epochs_done; }
bool Pix2PixModel::has_training_state() const { return impl_->HasTrainingState(); }

std::int64_t Pix2PixModel::GeneratorParameterCount() const {
    std::int64_t total = 0;
    for (const auto& p : impl_->generator->parameters()) total += p.numel();
    return total;
}

std::int64_t Pix2PixModel::DiscriminatorParameterCount() const {
    if (!impl_->discriminator) return 0;
    std::int64_t total = 0;
    for (const auto& p : impl_->discriminator->parameters()) total += p.numel();
    return total;
}

std::vector<std::pair<std::string, std::vector<float>>> Pix2PixModel::StateForComparison() const {
    std::vector<std::pair<std::string, std::vector<float>>> state;
    auto add = [&](const std::string& name, const torch::Tensor& tensor) {
        const torch::Tensor flat = tensor.detach().to(torch::kFloat32).contiguous().view({-1});
        state.emplace_back(name, std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()));
    };
    for (const auto& item : impl_->generator->named_parameters()) add("generator." + item.key(), item.value());
    if (!impl_->HasTrainingState()) return state;
    for (const auto& item : impl_->discriminator->named_parameters()) add("discriminator." + item.key(), item.value());
    // Adam keys its state by TensorImpl address; walk the parameters in order to name it stably.
    const std::pair<const char*, torch::optim::Adam*> optimizers[] = {{"optimizer_g", impl_->optimizer_g.get()},
                                                                      {"optimizer_d", impl_->optimizer_d.get()}};
    for (const auto& [prefix, optimizer] : optimizers) {
        const auto& params = optimizer->param_groups().at(0).params();
        for (std::size_t k = 0; k < params.size(); ++k) {
            const auto found = optimizer->state().find(c10::guts::to_string(params[k].unsafeGetTensorImpl()));
            if (found == optimizer->state().end()) continue;
            const auto& adam = static_cast<const torch::optim::AdamParamState&>(*found->second);
            const std::string name = std::string(prefix) + "." + std::to_string(k);
            add(name + ".exp_avg", adam.exp_avg());
            add(name + ".exp_avg_sq", adam.exp_avg_sq());
            state.emplace_back(name + ".step", std::vector<float>{static_cast<float>(adam.step())});
        }
    }
    return state;
}

}  // namespace labhouse::pix2pix
