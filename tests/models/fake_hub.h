// A local stand-in for the Hugging Face hub, on loopback (cpp-httplib), speaking the part of its
// protocol that `labhouse models pull` uses:
//
//   GET|HEAD /{org}/{repo}/resolve/{revision}/{path}
//     LFS file   -> 302 to http://localhost:{port}/cdn/{id} (another origin than 127.0.0.1, like
//                   the real CDN) with X-Linked-Etag (SHA-256), X-Linked-Size, ETag, X-Repo-Commit
//     git file   -> 200 with the bytes, ETag = git blob id, X-Repo-Commit
//     unknown repo -> 401 (X-Error-Code: RepoNotFound), gated repo without the token -> 401,
//     unknown file -> 404 (X-Error-Code: EntryNotFound)
//   GET /cdn/{id}  -> the bytes, honouring Range (206), with faults on demand: drop the connection
//                     after N bytes, flip a byte, ignore Range, refuse the link (403).
//
// It counts the body bytes it serves per file, so tests can prove a resume fetched nothing twice,
// and records the Authorization header of every request, so tests can prove the token never
// went to the CDN.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace labhouse::models::testing {

inline constexpr std::size_t kFakeHubChunk = 16 * 1024;  // the CDN writes bodies in chunks of this size
inline constexpr const char* kFakeCommit = "0123456789abcdef0123456789abcdef01234567";

struct FakeFile {
    std::string content;
    bool lfs = true;
    int drops = 0;                      // how many responses to cut short ...
    std::int64_t drop_after = 0;        // ... after this many body bytes each
    bool corrupt = false;               // flip one byte of the body (the advertised hash stays the true one)
    bool ignore_range = false;          // answer Range requests with a 200 and the whole file
    std::int64_t advertised_size = -1;  // X-Linked-Size override (e.g. larger than any disk)
    int cdn_denials = 0;                // answer this many CDN requests with 403 (an expired link)
    // Observations.
    std::int64_t served_bytes = 0;
    int cdn_requests = 0;
    int probes = 0;                   // resolve requests (HEAD or GET) for this file
    std::vector<std::string> ranges;  // the Range header of each CDN request ("" = none)
};

struct SeenRequest {
    std::string path;
    std::string authorization;  // "" = none
    bool cdn = false;
};

class FakeHub {
public:
    FakeHub();
    ~FakeHub();
    FakeHub(const FakeHub&) = delete;
    FakeHub& operator=(const FakeHub&) = delete;

    std::string endpoint() const;  // http://127.0.0.1:{port}

    FakeFile& AddFile(const std::string& repo, const std::string& path, std::string content, bool lfs = true);
    void AddRepo(const std::string& repo);
    void Gate(const std::string& repo, const std::string& token);

    // Access to a file's settings and counters; configure before a pull, read after it.
    FakeFile& File(const std::string& repo, const std::string& path);
    std::vector<SeenRequest> Requests() const;

private:
    struct Repo {
        std::string token;                 // "" = public
        std::map<std::string, int> files;  // path -> id
    };
    void Register();

    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = 0;
    mutable std::mutex mutex_;
    std::map<std::string, Repo> repos_;
    std::vector<std::unique_ptr<FakeFile>> files_;  // by id
    std::vector<SeenRequest> requests_;
};

// Deterministic pseudo-random bytes.
std::string TestBytes(std::size_t size, std::uint32_t seed);
std::string Sha256HexOf(const std::string& data);

}  // namespace labhouse::models::testing
