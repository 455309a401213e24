#include "labhouse/adapters/stability/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <random>

namespace labhouse::stability {
namespace {

constexpr int kPollMs = 20;

void GlobalInit() {
    // curl_global_init is not thread-safe in every libcurl build; run it exactly once.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
    HttpResponse response;
};

std::size_t WriteBody(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    transfer->response.body.append(data, size * count);
    return size * count;
}

std::size_t WriteHeader(char* data, std::size_t size, std::size_t count, void* user) {
    AddHeaderLine(static_cast<Transfer*>(user)->response, std::string_view(data, size * count));
    return size * count;
}

struct EasyDeleter {
    void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct MultiDeleter {
    void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct ListDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

void AddHeaderLine(HttpResponse& response, std::string_view line) {
    if (line.rfind("HTTP/", 0) == 0) {
        response.headers.clear();  // a new response (after a redirect or an interim 1xx)
        return;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    const auto first = value.find_first_not_of(" \t");
    const auto last = value.find_last_not_of(" \t\r\n");
    // A value of only "\r\n": first is 0 and last is npos, so the length wraps to 0.
    response.headers[name] = first == std::string_view::npos ? std::string()
                                                             : std::string(value.substr(first, last - first + 1));
}

HttpOutcome PerformHttp(const HttpRequest& request, const HttpTimeouts& timeouts,
                        const std::function<bool()>& cancelled) {
    GlobalInit();
    std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
    std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
    if (!easy || !multi) return TransportError{false, false, false, "curl initialisation failed"};

    Transfer transfer;
    curl_slist* raw_list = nullptr;
    for (const auto& [name, value] : request.headers) {
        raw_list = curl_slist_append(raw_list, (name + ": " + value).c_str());
    }
    // No "Expect: 100-continue" round trip: it only adds latency, and the body is small.
    raw_list = curl_slist_append(raw_list, "Expect:");
    std::unique_ptr<curl_slist, ListDeleter> header_list(raw_list);

    CURL* h = easy.get();
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect would re-send the key elsewhere
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts.connect.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts.total.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, WriteHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
    if (request.method == "POST") {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }

    curl_multi_add_handle(multi.get(), h);
    CURLcode code = CURLE_OK;
    bool done = false;
    bool was_cancelled = false;
    while (!done) {
        int running = 0;
        if (curl_multi_perform(multi.get(), &running) != CURLM_OK) {
            code = CURLE_FAILED_INIT;
            break;
        }
        int queued = 0;
        while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
            if (message->msg == CURLMSG_DONE) {
                code = message->data.result;
                done = true;
            }
        }
        if (done) break;
        if (cancelled && cancelled()) {
            was_cancelled = true;
            break;
        }
        curl_multi_poll(multi.get(), nullptr, 0, kPollMs, nullptr);
    }

    curl_off_t uploaded = 0;
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    long request_size = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(multi.get(), h);

    // A GET has no body: it was sent once its headers were. A POST counts as sent only when all
    // of its body went out (a server cannot act on a multipart body it has not fully received).
    const bool sent = request.method == "POST" ? uploaded >= static_cast<curl_off_t>(request.body.size()) &&
                                                     request_size > 0
                                               : request_size > 0;
    if (was_cancelled) return TransportError{true, false, sent, "cancelled"};
    if (code != CURLE_OK) {
        return TransportError{false, code == CURLE_OPERATION_TIMEDOUT, sent, curl_easy_strerror(code)};
    }
    transfer.response.status = status;
    return std::move(transfer.response);
}

MultipartBody::MultipartBody() {
    static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    boundary_ = "labhouse-";
    for (int i = 0; i < 24; ++i) boundary_ += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
}

void MultipartBody::AddField(const std::string& name, const std::string& value) {
    body_ += "--" + boundary_ + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
    summary_.emplace_back(name, value);
}

void MultipartBody::AddFile(const std::string& name, const std::string& filename, const std::string& content_type,
                            const std::string& bytes) {
    body_ += "--" + boundary_ + "\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename +
             "\"\r\nContent-Type: " + content_type + "\r\n\r\n";
    body_ += bytes;
    body_ += "\r\n";
    summary_.emplace_back(name, "<file " + std::to_string(bytes.size()) + " bytes>");
}

std::string MultipartBody::Finish() {
    body_ += "--" + boundary_ + "--\r\n";
    return std::move(body_);
}

}  // namespace labhouse::stability
