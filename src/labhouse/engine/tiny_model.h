// Random-weight checkpoints in the single-file SDXL layout (tiny ones for tests, full-size ones for
// the benchmark) and the tiny CLIP tokenizer files. Deterministic: the same call writes the same
// bytes. No torch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/engine/architecture.h"

namespace labhouse::engine {

// Writes every tensor of `config` with values drawn from a per-tensor seeded generator, scaled like
// a fan-in initialisation (norm weights near 1, biases and embeddings small), so activations stay
// in range through the whole network.
Status WriteRandomCheckpoint(const std::string& path, const SdxlConfig& config, DType dtype, std::uint64_t seed);
// The same for any tensor list (each spec's own dtype: F16, BF16 or F32), with extra metadata.
Status WriteRandomTensors(const std::string& path, const std::vector<TensorSpec>& specs,
                          std::map<std::string, std::string> metadata, std::uint64_t seed);

// Writes vocab.json + merges.txt of a small CLIP-style BPE vocabulary (the 512 byte symbols, a few
// hundred merges, the two special tokens) into `dir`; returns the vocabulary size.
Result<int> WriteTinyTokenizer(const std::string& dir);

}  // namespace labhouse::engine
