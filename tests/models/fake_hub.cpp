#include "tests/models/fake_hub.h"

#include <httplib.h>
#include <openssl/evp.h>

#include <chrono>
#include <stdexcept>

#include "labhouse/core/base/sha256.h"

namespace labhouse::models::testing {
namespace {

std::string GitBlobSha1(const std::string& content) {
    const std::string data = "blob " + std::to_string(content.size()) + std::string(1, '\0') + content;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha1(), nullptr);
    static const char* kHex = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < size; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 15];
    }
    return hex;
}

}  // namespace

std::string TestBytes(std::size_t size, std::uint32_t seed) {
    std::string out(size, '\0');
    std::uint32_t state = seed * 2654435761u + 1;
    for (auto& c : out) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        c = static_cast<char>(state & 0xff);
    }
    return out;
}

std::string Sha256HexOf(const std::string& data) { return Sha256Hex(data); }

FakeHub::FakeHub() : server_(std::make_unique<httplib::Server>()) {
    Register();
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("fake hub: cannot bind a loopback port");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    for (int i = 0; i < 200 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

FakeHub::~FakeHub() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
}

std::string FakeHub::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeHub::AddRepo(const std::string& repo) {
    std::lock_guard lock(mutex_);
    repos_[repo];
}

FakeFile& FakeHub::AddFile(const std::string& repo, const std::string& path, std::string content, bool lfs) {
    std::lock_guard lock(mutex_);
    auto file = std::make_unique<FakeFile>();
    file->content = std::move(content);
    file->lfs = lfs;
    repos_[repo].files[path] = static_cast<int>(files_.size());
    files_.push_back(std::move(file));
    return *files_.back();
}

void FakeHub::Gate(const std::string& repo, const std::string& token) {
    std::lock_guard lock(mutex_);
    repos_[repo].token = token;
}

FakeFile& FakeHub::File(const std::string& repo, const std::string& path) {
    std::lock_guard lock(mutex_);
    return *files_.at(repos_.at(repo).files.at(path));
}

std::vector<SeenRequest> FakeHub::Requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

void FakeHub::Register() {
    server_->Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string repo_id = req.matches[1];
        const std::string path = req.matches[3];
        const std::string auth = req.get_header_value("Authorization");
        std::lock_guard lock(mutex_);
        requests_.push_back({req.path, auth, false});
        res.set_header("X-Repo-Commit", kFakeCommit);
        auto repo = repos_.find(repo_id);
        if (repo == repos_.end()) {
            // The hub answers 401 for repos it will not admit exist.
            res.status = 401;
            res.set_header("X-Error-Code", "RepoNotFound");
            return;
        }
        if (!repo->second.token.empty() && auth != "Bearer " + repo->second.token) {
            res.status = 401;
            res.set_header("X-Error-Code", "GatedRepo");
            return;
        }
        auto entry = repo->second.files.find(path);
        if (entry == repo->second.files.end()) {
            res.status = 404;
            res.set_header("X-Error-Code", "EntryNotFound");
            res.set_content("Entry not found", "text/plain");
            return;
        }
        FakeFile& file = *files_[entry->second];
        ++file.probes;
        if (!file.lfs) {
            std::string body = file.content;
            if (file.corrupt && !body.empty()) body[body.size() / 2] ^= 0x5a;
            res.set_header("ETag", "\"" + GitBlobSha1(file.content) + "\"");
            res.set_content(body, "application/octet-stream");
            return;
        }
        const std::string sha = Sha256Hex(file.content);
        const std::int64_t size =
            file.advertised_size >= 0 ? file.advertised_size : static_cast<std::int64_t>(file.content.size());
        res.status = 302;
        res.set_header("X-Linked-Etag", "\"" + sha + "\"");
        res.set_header("X-Linked-Size", std::to_string(size));
        res.set_header("ETag", "\"" + sha + "\"");
        res.set_header("Location",
                       "http://localhost:" + std::to_string(port_) + "/cdn/" + std::to_string(entry->second));
    });

    server_->Get(R"(/cdn/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
        const int id = std::stoi(req.matches[1]);
        std::lock_guard lock(mutex_);
        requests_.push_back({req.path, req.get_header_value("Authorization"), true});
        if (id < 0 || id >= static_cast<int>(files_.size())) {
            res.status = 404;
            return;
        }
        FakeFile* file = files_[id].get();
        ++file->cdn_requests;
        file->ranges.push_back(req.get_header_value("Range"));
        if (file->cdn_denials > 0) {
            --file->cdn_denials;
            res.status = 403;
            res.set_content("Request has expired", "text/plain");
            return;
        }
        auto body = std::make_shared<std::string>(file->content);
        if (file->corrupt && !body->empty()) (*body)[body->size() / 2] ^= 0x5a;
        const bool drop = file->drops > 0;
        if (drop) --file->drops;
        const std::int64_t drop_after = file->drop_after;
        // `sent` counts this response's bytes: the drop point is relative to it.
        auto sent = std::make_shared<std::int64_t>(0);
        auto provider = [this, file, body, drop, drop_after, sent](std::size_t offset, std::size_t length,
                                                                   httplib::DataSink& sink) {
            const std::size_t n = std::min(length, kFakeHubChunk);
            if (drop && *sent >= drop_after) return false;  // cut the connection
            if (!sink.write(body->data() + offset, n)) return false;
            *sent += static_cast<std::int64_t>(n);
            std::lock_guard lock(mutex_);
            file->served_bytes += static_cast<std::int64_t>(n);
            return true;
        };
        if (file->ignore_range) {
            // Chunked, status forced to 200: the whole file whatever the Range said.
            res.status = 200;
            res.set_chunked_content_provider(
                "application/octet-stream",
                [provider, body, offset = std::size_t{0}](std::size_t, httplib::DataSink& sink) mutable {
                    if (offset >= body->size()) {
                        sink.done();
                        return true;
                    }
                    const std::size_t n = std::min(body->size() - offset, kFakeHubChunk);
                    if (!provider(offset, n, sink)) return false;
                    offset += n;
                    return true;
                });
            return;
        }
        res.set_content_provider(body->size(), "application/octet-stream", provider);
    });
}

}  // namespace labhouse::models::testing
