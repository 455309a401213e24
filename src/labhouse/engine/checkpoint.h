// Where the weights come from: a single-file SDXL checkpoint (Stability layout) or a diffusers
// folder (unet/, text_encoder/, text_encoder_2/, vae/). Either way the engine sees one set of
// tensors under the single-file (sgm) names; diffusers tensors are renamed, and the two bigG
// tensors whose layout differs are described as a row concatenation (q|k|v -> in_proj) or a
// transpose (text_projection). Mappings: sdxl-reference.md sections 2.6, 3.5 and 5.4. No torch.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/engine/safetensors.h"

namespace labhouse::engine {

struct SourceTensor {
    enum class Op { kDirect, kConcatRows, kTranspose };
    Op op = Op::kDirect;
    std::vector<std::pair<const SafetensorsFile*, const TensorInfo*>> parts;
    TensorInfo info;  // the logical tensor under its sgm name
};

class CheckpointSource {
public:
    // A file opens as a single-file checkpoint, a directory as a diffusers folder.
    static Result<std::unique_ptr<CheckpointSource>> Open(const std::string& path);

    const std::map<std::string, TensorInfo>& tensors() const { return infos_; }
    const SourceTensor* Find(const std::string& name) const;
    const std::string& layout() const { return layout_; }  // "single-file" or "diffusers"
    std::uint64_t total_bytes() const;
    std::vector<std::string> file_paths() const;
    // The diffusers folder's tokenizer/ (empty for single files).
    const std::string& tokenizer_dir() const { return tokenizer_dir_; }

private:
    CheckpointSource() = default;
    Status AddDiffusersComponent(const std::string& dir, const std::string& component);
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, SourceTensor> entries_;
    std::map<std::string, TensorInfo> infos_;
    std::string layout_;
    std::string tokenizer_dir_;
};

// Name mappings, exposed for tests and the converter. `names` is the component's full name set
// (the UNet mapping needs the number of res blocks per level and which levels have attention).
std::string DiffusersUnetToSgm(const std::string& name, const std::set<std::string>& names);
std::string SgmUnetToDiffusers(const std::string& sgm_name, const std::set<std::string>& sgm_names);
std::string DiffusersVaeToSgm(const std::string& name, int levels);
std::string SgmVaeToDiffusers(const std::string& sgm_name, int levels);

// Writes a diffusers folder (unet/, text_encoder/, text_encoder_2/, vae/ and tokenizer/ when
// `tokenizer_dir` is given) holding the same weights as a single-file checkpoint.
Status ConvertSingleFileToDiffusers(const std::string& checkpoint_path, const std::string& tokenizer_dir,
                                    const std::string& out_dir);

}  // namespace labhouse::engine
