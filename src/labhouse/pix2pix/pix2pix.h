// pix2pix (Isola, Zhu, Zhou, Efros, "Image-to-Image Translation with Conditional Adversarial
// Networks", CVPR 2017) on libtorch: the U-Net generator, the 70x70 PatchGAN discriminator, the
// cGAN + lambda * L1 objective and the paper's Adam settings, with training that checkpoints and
// resumes, and inference on one image. This header includes no torch header: the networks live
// behind a pimpl, so only this library's two .cpp files pay libtorch's compile cost.
//
// Thread-safety: a Pix2PixModel is not thread-safe; Generate and Train must not overlap. Different
// models may be used from different threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/image.h"

namespace labhouse::pix2pix {

// Network sizes and the training objective. Defaults are the paper's (pytorch-CycleGAN-and-pix2pix
// names in comments); tests shrink image_size, base_filters and depth.
struct Pix2PixConfig {
    int image_size = 256;          // --crop_size 256; must be a multiple of 2^depth
    int base_filters = 64;         // --ngf 64 and --ndf 64
    int depth = 8;                 // U-Net downsamplings: 8 = unet_256, 7 = unet_128
    int discriminator_layers = 3;  // --n_layers_D 3: the 70x70 PatchGAN ("basic")
    bool dropout = true;           // Dropout(0.5) in the decoder's 512-filter blocks while training
    double lambda_l1 = 100.0;      // --lambda_L1 100
    double learning_rate = 2e-4;   // --lr 0.0002
    double beta1 = 0.5;            // --beta1 0.5
    double beta2 = 0.999;          // Adam default, as in the reference

    // kInvalidArgument when the sizes do not fit together (the bottleneck must be at least 1x1,
    // the PatchGAN output at least 1x1).
    labhouse::Status Validate() const;
};

// One aligned training example: the condition A and the wanted output B, both image_size square.
struct TrainingPair {
    Image a;
    Image b;
};

struct TrainOptions {
    int epochs = 1;               // train until this many epochs are done in total (resume counts on)
    int decay_epochs = 0;         // --n_epochs_decay: the last ones decay the rate linearly towards 0
    int batch_size = 1;           // the paper's 1; then BatchNorm is instance normalisation
    bool flip = true;             // random horizontal flip, the same for A and B
    bool jitter = false;          // resize to 286/256 of the size and random-crop back (the paper's jitter)
    std::uint64_t seed = 0;       // shuffling and augmentation; epoch e uses seed + e, so resume repeats it
    std::string checkpoint_path;  // written after every checkpoint_every epochs and at the end; "" = none
    int checkpoint_every = 1;
};

struct TrainProgress {
    int epoch = 0;  // 0-based epoch being trained
    int epochs = 0;
    int step = 0;  // batches done in this epoch
    int steps_per_epoch = 0;
    double loss_d = 0;      // (BCE(D(a,b),1) + BCE(D(a,G(a)),0)) / 2
    double loss_g_gan = 0;  // BCE(D(a,G(a)),1)
    double loss_g_l1 = 0;   // mean |G(a) - b| on the [-1,1] scale, before lambda
    double seconds = 0;     // since Train started
};

struct TrainSummary {
    int epochs_done = 0;
    int steps = 0;               // optimisation steps taken in this call
    double first_loss_g_l1 = 0;  // mean of the first epoch trained in this call
    double last_loss_g_l1 = 0;   // mean of the last epoch trained in this call
};

struct TrainCallbacks {
    std::function<void(const TrainProgress&)> on_step;  // after every batch; may be empty
    std::function<bool()> cancel_requested;             // polled between batches; may be empty
};

class Pix2PixModel {
public:
    // A freshly initialised model (weights N(0, 0.02), norm scales N(1, 0.02): the reference's
    // init_type normal). The seed fixes the weights. kInvalidArgument for a bad config.
    static Result<Pix2PixModel> Create(const Pix2PixConfig& config, std::uint64_t seed = 0);
    // Reads a file written by Save. kNotFound when missing, kInvalidArgument when it is not a
    // pix2pix checkpoint of a version this code reads.
    static Result<Pix2PixModel> Load(const std::string& path);

    Pix2PixModel(Pix2PixModel&&) noexcept;
    Pix2PixModel& operator=(Pix2PixModel&&) noexcept;
    ~Pix2PixModel();

    // Writes config, generator, discriminator, both optimisers' state and the epoch count
    // (training_state = false: config and generator only, for deployment). The file is written
    // beside `path` and renamed over it, so a crash never leaves a torn checkpoint.
    labhouse::Status Save(const std::string& path, bool training_state = true) const;

    // Trains from epochs_done() up to options.epochs. Every pair must be image_size square.
    // kInvalidArgument for bad pairs or options, kFailedPrecondition for a generator-only model,
    // kCancelled when cancel_requested said so (a checkpoint of the finished epochs is kept).
    Result<TrainSummary> Train(const std::vector<TrainingPair>& pairs, const TrainOptions& options,
                               const TrainCallbacks& callbacks = {});

    // Runs the generator on one image_size square RGB image. As in the paper, normalisation uses
    // the image's own statistics; dropout is off, so the output is deterministic.
    Result<Image> Generate(const Image& a) const;

    // Mean absolute difference between Generate(a) and b over all pairs, in 0..255 pixel units.
    Result<double> MeanAbsoluteError(const std::vector<TrainingPair>& pairs) const;

    const Pix2PixConfig& config() const;
    int epochs_done() const;
    bool has_training_state() const;
    std::int64_t GeneratorParameterCount() const;
    std::int64_t DiscriminatorParameterCount() const;
    // Every parameter and optimiser-state tensor, flattened to float, by name in a fixed order:
    // what a bit-for-bit comparison of two models needs.
    std::vector<std::pair<std::string, std::vector<float>>> StateForComparison() const;

private:
    struct Impl;
    explicit Pix2PixModel(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace labhouse::pix2pix
