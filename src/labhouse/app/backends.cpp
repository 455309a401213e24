#include "labhouse/app/backends.h"

#include "labhouse/adapters/classic/classic_transformer.h"
#include "labhouse/adapters/stability/stability_transformer.h"
#include "labhouse/adapters/faces/face_swap_transformer.h"
#ifdef LABHOUSE_HAVE_PIX2PIX
#include "labhouse/adapters/faces/pix2pix_transformer.h"
#endif
#ifdef LABHOUSE_HAVE_TORCH
#include "labhouse/adapters/sdxl/sdxl_transformer.h"
#endif

namespace labhouse::app {

void RegisterBackends(BackendRegistry& registry, const AppConfig& config, const ImageCodec& codec) {
    // BACKENDS: most capable first; "auto" takes the first available one that accepts the job.
#ifdef LABHOUSE_HAVE_TORCH
    sdxl::SdxlConfig sdxl_config{config.sdxl_model,      config.ModelsDir(), "", config.sdxl_device,
                                 config.sdxl_weight_mode, config.sdxl_load_at_start, 0,
                                 config.sdxl_vae_tile};
    sdxl_config.taesd_path = config.sdxl_taesd;
    sdxl_config.preview_every = config.sdxl_preview_every;
    auto sdxl_backend = std::make_shared<sdxl::SdxlTransformer>(sdxl_config);
    if (config.sdxl_load_at_start && sdxl_backend->ResolveModelPath()) (void)sdxl_backend->EnsureLoaded();
    registry.Add(sdxl_backend);
#endif
    registry.Add(std::make_shared<classic::ClassicTransformer>());
    // Remote and paid: after the local backends, so "auto" spends credits only on jobs that no
    // local backend accepts. Registered without a key too, so /api/v1/backends can say why it is off.
    registry.Add(std::make_shared<stability::StabilityTransformer>(StabilityConfigFrom(config), codec));
    // Face backends run only when a job names them: after classic, so "auto" never picks them.
    faces::FaceSwapConfig face_swap_config;
    face_swap_config.reference_face_path = config.reference_face;  // LABHOUSE_REFERENCE_FACE
    registry.Add(std::make_shared<faces::FaceSwapTransformer>(face_swap_config));
#ifdef LABHOUSE_HAVE_PIX2PIX
    faces::Pix2PixTransformerConfig pix2pix_config;
    pix2pix_config.model_path = config.pix2pix_model;  // LABHOUSE_PIX2PIX_MODEL
    registry.Add(std::make_shared<faces::Pix2PixTransformer>(pix2pix_config));
#endif
}

}  // namespace labhouse::app
