#include "labhouse/core/usecases/backend_registry.h"

namespace labhouse {

void BackendRegistry::Add(std::shared_ptr<Transformer> transformer) { transformers_.push_back(std::move(transformer)); }

Transformer* BackendRegistry::Find(const std::string& name) const {
    for (const auto& t : transformers_) {
        if (t->Name() == name) return t.get();
    }
    return nullptr;
}

std::vector<Transformer*> BackendRegistry::All() const {
    std::vector<Transformer*> out;
    for (const auto& t : transformers_) out.push_back(t.get());
    return out;
}

std::vector<std::string> BackendRegistry::Names() const {
    std::vector<std::string> out;
    for (const auto& t : transformers_) out.emplace_back(t->Name());
    return out;
}

std::vector<std::string> BackendRegistry::TextToImageNames() const {
    std::vector<std::string> out;
    for (const auto& t : transformers_) {
        if (t->SupportsTextToImage()) out.emplace_back(t->Name());
    }
    return out;
}

Result<Transformer*> BackendRegistry::Resolve(const std::string& requested, const JobParams& params,
                                              const Style* style) const {
    const bool text_to_image = params.kind == JobKind::kTextToImage;
    if (requested.empty() || requested == "auto") {
        std::string reasons;
        for (const auto& t : transformers_) {
            if (text_to_image && !t->SupportsTextToImage()) continue;
            const BackendStatus status = t->Status();
            if (!status.available) {
                reasons += "; " + std::string(t->Name()) + ": " + status.reason;
                continue;
            }
            if (auto valid = t->Validate(params, style); !valid) {
                reasons += "; " + std::string(t->Name()) + ": " + valid.error().message;
                continue;
            }
            return t.get();
        }
        return FailedPrecondition(std::string("no available backend accepts this ") +
                                  (text_to_image ? "text-to-image " : "") + "job" + reasons);
    }
    Transformer* transformer = Find(requested);
    if (transformer == nullptr) {
        std::string known;
        for (const auto& name : Names()) known += (known.empty() ? "" : ", ") + name;
        return InvalidArgument("unknown backend '" + requested + "' (known: auto, " + known + ")");
    }
    if (text_to_image && !transformer->SupportsTextToImage()) {
        std::string able;
        for (const auto& name : TextToImageNames()) able += (able.empty() ? "" : ", ") + name;
        return InvalidArgument("backend '" + requested + "' cannot make an image from text alone (text-to-image); " +
                               (able.empty() ? std::string("no backend of this server can")
                                             : "backends that can: " + able));
    }
    const BackendStatus status = transformer->Status();
    if (!status.available) {
        return FailedPrecondition("backend '" + requested + "' is unavailable: " + status.reason);
    }
    LABHOUSE_RETURN_IF_ERROR(transformer->Validate(params, style));
    return transformer;
}

}  // namespace labhouse
