// Metrics: counters and histograms kept in memory and rendered in the Prometheus text format.
// Thread-safe. Gauges that come from the repository (jobs by state) are added at render time.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace labhouse {

using MetricLabels = std::map<std::string, std::string>;

class Metrics {
public:
    void Describe(const std::string& name, const std::string& type, const std::string& help);
    void IncrementCounter(const std::string& name, const MetricLabels& labels, double delta = 1);
    // Buckets are fixed on first use of a histogram name.
    void Observe(const std::string& name, const MetricLabels& labels, double value,
                 const std::vector<double>& buckets);
    void SetGauge(const std::string& name, const MetricLabels& labels, double value);
    double CounterValue(const std::string& name, const MetricLabels& labels) const;
    std::string RenderPrometheus() const;

private:
    struct Histogram {
        std::vector<double> buckets;
        std::vector<std::uint64_t> counts;  // cumulative at render time
        double sum = 0;
        std::uint64_t count = 0;
    };
    struct Family {
        std::string type;
        std::string help;
        std::map<MetricLabels, double> values;  // counters and gauges
        std::map<MetricLabels, Histogram> histograms;
    };
    mutable std::mutex mutex_;
    std::map<std::string, Family> families_;
};

}  // namespace labhouse
