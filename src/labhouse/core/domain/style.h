// The style catalog: named looks that mean something for every backend. A job names a style; each
// backend reads its own part (an OpenCV effect for classic, a prompt template for SDXL, a
// style_preset for Stability).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace labhouse {

struct SdxlStyle {
    std::string prompt_template;  // "{prompt}" is replaced by the job's prompt (or removed)
    std::string negative_prompt;
    std::optional<double> strength;  // default when the job gives none
};

struct Style {
    std::string name;   // stable id used in the API, e.g. "pencil-sketch"
    std::string title;  // for people, e.g. "Pencil sketch"
    std::string description;
    std::string classic_effect;           // empty: classic cannot render this style
    SdxlStyle sdxl;                        // prompt template for sdxl (and the prompt sent to stability)
    std::string stability_style_preset;   // empty: no preset
};

// The built-in catalog, in display order.
const std::vector<Style>& StyleCatalog();
// nullptr when no style has that name.
const Style* FindStyle(const std::string& name);
// The prompt the style makes of a user prompt (template applied; user prompt may be empty).
std::string ApplyPromptTemplate(const std::string& prompt_template, const std::string& user_prompt);

}  // namespace labhouse
