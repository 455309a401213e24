#include "labhouse/adapters/http/compat_common.h"

#include <array>

#include "labhouse/adapters/http/route_context.h"

namespace labhouse::http {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::array<int, 256> DecodeTable() {
    std::array<int, 256> table{};
    table.fill(-1);
    for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
    table['-'] = 62;  // the URL-safe alphabet, which some clients use
    table['_'] = 63;
    return table;
}

}  // namespace

std::string EncodeBase64(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                           (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
        out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
    }
    if (i < bytes.size()) {
        unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        out += kAlphabet[v >> 18];
        out += kAlphabet[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

Result<std::string> DecodeBase64(const std::string& field, std::string_view text) {
    static const std::array<int, 256> kTable = DecodeTable();
    if (text.rfind("data:", 0) == 0) {
        const auto comma = text.find(',');
        if (comma == std::string_view::npos || text.substr(0, comma).find(";base64") == std::string_view::npos) {
            return InvalidArgument("'" + field + "' is a data URL without base64 data");
        }
        text = text.substr(comma + 1);
    }
    std::string out;
    out.reserve(text.size() / 4 * 3);
    unsigned buffer = 0;
    int bits = 0;
    bool padding = false;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        const int value = kTable[static_cast<unsigned char>(c)];
        if (value < 0 || padding) return InvalidArgument("'" + field + "' is not valid base64");
        buffer = (buffer << 6) | static_cast<unsigned>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xff));
        }
    }
    if (out.empty()) return InvalidArgument("'" + field + "' is empty");
    return out;
}

Result<Job> WaitForFinish(RouteContext& ctx, const std::string& job_id, std::chrono::seconds timeout) {
    auto subscription = ctx.deps.events.Subscribe(job_id);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        LABHOUSE_ASSIGN_OR_RETURN(Job job, ctx.deps.jobs.Get(job_id));
        if (IsTerminal(job.state)) return job;
        if (ctx.stopping.load()) return Unavailable("the server is shutting down; job " + job_id + " is kept");
        if (std::chrono::steady_clock::now() >= deadline) {
            return DeadlineExceeded("job " + job_id + " did not finish within " + std::to_string(timeout.count()) +
                                    " s; it keeps running: GET /api/v1/jobs/" + job_id);
        }
        (void)subscription->Next(std::chrono::milliseconds(500));
    }
}

Result<std::string> ResultBytes(RouteContext& ctx, const Job& job) {
    if (job.result_blob.empty()) return Internal("job " + job.id + " succeeded without a result image");
    return ctx.deps.blobs.Get(job.result_blob);
}

}  // namespace labhouse::http
