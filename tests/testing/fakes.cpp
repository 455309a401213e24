#include "tests/testing/fakes.h"

#include "labhouse/core/base/sha256.h"

namespace labhouse::testing {

Result<std::string> MemoryBlobStore::Put(std::string_view bytes) {
    std::lock_guard lock(mutex_);
    if (fail_next_put_) {
        Error error = *fail_next_put_;
        fail_next_put_.reset();
        return error;
    }
    const std::string id = Sha256Hex(bytes);
    blobs_[id] = std::string(bytes);
    return id;
}

Result<std::string> MemoryBlobStore::Get(const std::string& id) const {
    if (!IsValidBlobId(id)) return InvalidArgument("malformed blob id");
    std::lock_guard lock(mutex_);
    auto it = blobs_.find(id);
    if (it == blobs_.end()) return NotFound("blob " + id + " not found");
    return it->second;
}

Result<bool> MemoryBlobStore::Exists(const std::string& id) const {
    std::lock_guard lock(mutex_);
    return blobs_.count(id) > 0;
}

Status MemoryBlobStore::Remove(const std::string& id) {
    std::lock_guard lock(mutex_);
    blobs_.erase(id);
    return OkStatus();
}

std::size_t MemoryBlobStore::Count() const {
    std::lock_guard lock(mutex_);
    return blobs_.size();
}

void MemoryBlobStore::FailNextPut(Error error) {
    std::lock_guard lock(mutex_);
    fail_next_put_ = std::move(error);
}

labhouse::Status FakeTransformer::Validate(const JobParams& params, const Style*) const {
    if (params.prompt == "invalid-for-fake") return InvalidArgument("the fake backend refuses this prompt");
    if (params.prompt == "needs-reference" && !params.options.count("reference_image")) {
        return InvalidArgument("the fake backend needs a reference_image for this prompt");
    }
    return OkStatus();
}

void FakeTransformer::SetGated(bool gated) {
    std::lock_guard lock(mutex_);
    gated_ = gated;
    cv_.notify_all();
}

void FakeTransformer::Release(int steps) {
    std::lock_guard lock(mutex_);
    permits_ += steps;
    cv_.notify_all();
}

bool FakeTransformer::WaitUntilRunning(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return running_ > 0; });
}

Result<TransformOutput> FakeTransformer::Transform(const TransformInput& input, ProgressReporter& progress) {
    ++calls_;
    {
        std::lock_guard lock(mutex_);
        if (fail_with_) return *fail_with_;
    }
    for (int step = 0; step < steps_; ++step) {
        {
            std::unique_lock lock(mutex_);
            ++running_;
            cv_.notify_all();
            while (gated_ && permits_ == 0) {
                if (progress.CancelRequested()) {
                    --running_;
                    return Cancelled("canceled at step " + std::to_string(step));
                }
                cv_.wait_for(lock, std::chrono::milliseconds(10));
            }
            if (gated_) --permits_;
            --running_;
        }
        if (progress.CancelRequested()) return Cancelled("canceled at step " + std::to_string(step));
        progress.Report({"invert", step + 1, steps_, 0.01});
        if (previews_ && !input.image.Empty()) progress.ReportPreview(input.image);
    }
    TransformOutput output{input.image, {{"seed", "42"}, {"fake_steps", std::to_string(steps_)}}};
    if (input.params.kind == JobKind::kTextToImage) {
        if (!input.image.Empty()) return InvalidArgument("a text-to-image job reached the backend with an image");
        output.image.width = input.params.width.value_or(0);
        output.image.height = input.params.height.value_or(0);
        output.image.rgb.assign(output.image.ByteSize(), 127);
    }
    for (auto& byte : output.image.rgb) byte = static_cast<std::uint8_t>(255 - byte);
    return output;
}

}  // namespace labhouse::testing
