#include "labhouse/core/base/metrics.h"

#include <algorithm>
#include <sstream>

namespace labhouse {
namespace {
std::string EscapeLabel(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string RenderLabels(const MetricLabels& labels, const std::string& extra = "") {
    if (labels.empty() && extra.empty()) return "";
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : labels) {
        if (!first) out += ",";
        out += k + "=\"" + EscapeLabel(v) + "\"";
        first = false;
    }
    if (!extra.empty()) out += (first ? "" : ",") + extra;
    return out + "}";
}

std::string FormatNumber(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}
}  // namespace

void Metrics::Describe(const std::string& name, const std::string& type, const std::string& help) {
    std::lock_guard lock(mutex_);
    Family& family = families_[name];
    family.type = type;
    family.help = help;
}

void Metrics::IncrementCounter(const std::string& name, const MetricLabels& labels, double delta) {
    std::lock_guard lock(mutex_);
    Family& family = families_[name];
    if (family.type.empty()) family.type = "counter";
    family.values[labels] += delta;
}

void Metrics::SetGauge(const std::string& name, const MetricLabels& labels, double value) {
    std::lock_guard lock(mutex_);
    Family& family = families_[name];
    if (family.type.empty()) family.type = "gauge";
    family.values[labels] = value;
}

void Metrics::Observe(const std::string& name, const MetricLabels& labels, double value,
                      const std::vector<double>& buckets) {
    std::lock_guard lock(mutex_);
    Family& family = families_[name];
    if (family.type.empty()) family.type = "histogram";
    Histogram& histogram = family.histograms[labels];
    if (histogram.buckets.empty()) {
        histogram.buckets = buckets;
        std::sort(histogram.buckets.begin(), histogram.buckets.end());
        histogram.counts.assign(histogram.buckets.size(), 0);
    }
    for (std::size_t i = 0; i < histogram.buckets.size(); ++i) {
        if (value <= histogram.buckets[i]) {
            ++histogram.counts[i];
            break;
        }
    }
    histogram.sum += value;
    ++histogram.count;
}

double Metrics::CounterValue(const std::string& name, const MetricLabels& labels) const {
    std::lock_guard lock(mutex_);
    auto family = families_.find(name);
    if (family == families_.end()) return 0;
    auto value = family->second.values.find(labels);
    return value == family->second.values.end() ? 0 : value->second;
}

std::string Metrics::RenderPrometheus() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [name, family] : families_) {
        if (!family.help.empty()) out += "# HELP " + name + " " + family.help + "\n";
        out += "# TYPE " + name + " " + family.type + "\n";
        for (const auto& [labels, value] : family.values) {
            out += name + RenderLabels(labels) + " " + FormatNumber(value) + "\n";
        }
        for (const auto& [labels, histogram] : family.histograms) {
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < histogram.buckets.size(); ++i) {
                cumulative += histogram.counts[i];
                out += name + "_bucket" + RenderLabels(labels, "le=\"" + FormatNumber(histogram.buckets[i]) + "\"") +
                       " " + std::to_string(cumulative) + "\n";
            }
            out += name + "_bucket" + RenderLabels(labels, "le=\"+Inf\"") + " " + std::to_string(histogram.count) + "\n";
            out += name + "_sum" + RenderLabels(labels) + " " + FormatNumber(histogram.sum) + "\n";
            out += name + "_count" + RenderLabels(labels) + " " + std::to_string(histogram.count) + "\n";
        }
    }
    return out;
}

}  // namespace labhouse
