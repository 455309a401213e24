#include "labhouse/core/domain/style.h"

namespace labhouse {

const std::vector<Style>& StyleCatalog() {
    static const std::vector<Style> kCatalog = {
        {"pencil-sketch", "Pencil sketch", "Graphite drawing with shaded strokes.", "pencil-sketch",
         {"a detailed graphite pencil sketch of {prompt}, cross-hatching, paper texture",
          "color, photo, blurry", 0.6},
         "line-art"},
        {"watercolor", "Watercolor", "Soft washes of colour with flattened detail.", "watercolor",
         {"a watercolor painting of {prompt}, soft washes, paper texture, bleeding edges", "photo, harsh lines",
          0.55},
         "fantasy-art"},
        {"cartoon", "Cartoon", "Flat colours and bold outlines.", "cartoon",
         {"a cartoon illustration of {prompt}, bold outlines, flat colors, cel shading", "photo, realistic",
          0.6},
         "comic-book"},
        {"detail-enhance", "Detail enhance", "Crisper local detail and contrast, still a photo.",
         "detail-enhance",
         {"a sharp, highly detailed photograph of {prompt}, crisp focus, rich texture", "blurry, painting",
          0.3},
         "enhance"},
        {"pixel-art", "Pixel art", "Chunky pixels and a small palette.", "pixel-art",
         {"pixel art of {prompt}, 16-bit, limited palette, crisp pixels", "blurry, smooth gradients", 0.65},
         "pixel-art"},
        {"cinematic", "Cinematic", "Film-like colour grade and mood.", "cinematic",
         {"a cinematic film still of {prompt}, dramatic lighting, shallow depth of field, color graded",
          "cartoon, flat", 0.45},
         "cinematic"},
        {"anime", "Anime", "Japanese animation look.", "",
         {"an anime illustration of {prompt}, vibrant colors, clean line art", "photo, realistic, 3d", 0.6},
         "anime"},
    };
    return kCatalog;
}

const Style* FindStyle(const std::string& name) {
    for (const Style& style : StyleCatalog()) {
        if (style.name == name) return &style;
    }
    return nullptr;
}

std::string ApplyPromptTemplate(const std::string& prompt_template, const std::string& user_prompt) {
    const std::string subject = user_prompt.empty() ? "the scene" : user_prompt;
    std::string out = prompt_template;
    const std::string placeholder = "{prompt}";
    if (auto pos = out.find(placeholder); pos != std::string::npos) {
        out.replace(pos, placeholder.size(), subject);
    } else if (!user_prompt.empty()) {
        out = user_prompt + ", " + out;
    }
    return out;
}

}  // namespace labhouse
