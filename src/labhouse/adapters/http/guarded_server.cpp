#include "labhouse/adapters/http/guarded_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "labhouse/core/base/log.h"

namespace labhouse::http {
namespace {

constexpr std::size_t kReadChunk = 16384;
constexpr int kDrainMs = 2000;  // lingering close after a fast refusal, so the client reads it

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int PollOne(int fd, short events, std::int64_t timeout_ms) {
    pollfd p{fd, events, 0};
    for (;;) {
        const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(timeout_ms, 0)));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r;
        return (p.revents & (events | POLLERR | POLLHUP)) ? 1 : 0;
    }
}

void Address(const sockaddr_storage& addr, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (addr.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
        ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
        port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
        ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
        port = ntohs(a->sin6_port);
    }
    ip = text;
}

// The value of header `name` (case-insensitive) in a request head; empty when absent.
std::string HeaderValue(const std::string& head, const std::string& name) {
    std::size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos + 2 < head.size()) {
        const std::size_t start = pos + 2;
        const std::size_t end = head.find("\r\n", start);
        if (end == std::string::npos || end == start) break;
        const std::size_t colon = head.find(':', start);
        if (colon != std::string::npos && colon < end && colon - start == name.size() &&
            std::equal(name.begin(), name.end(), head.begin() + static_cast<std::ptrdiff_t>(start),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
            std::size_t v = colon + 1;
            while (v < end && (head[v] == ' ' || head[v] == '\t')) ++v;
            return head.substr(v, end - v);
        }
        pos = end;
    }
    return "";
}

// httplib's Stream over a socket whose first bytes were already read by the gatherer. Reads of
// one request must keep up a minimum average rate after a grace period; writes wait at most the
// write timeout each.
class GuardedStream final : public httplib::Stream {
public:
    GuardedStream(int fd, std::string buffered, const ConnectionLimits& limits)
        : fd_(fd), buffer_(std::move(buffered)), limits_(limits) {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) Address(addr, remote_ip_, remote_port_);
        len = sizeof addr;
        if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) Address(addr, local_ip_, local_port_);
    }

    void BeginRequest() {
        request_start_ms_ = NowMs();
        received_ = 0;
    }
    std::string TakeBuffer() {
        std::string rest = buffer_.substr(offset_);
        buffer_.clear();
        offset_ = 0;
        return rest;
    }
    bool TimedOut() const { return timed_out_; }

    bool is_readable() const override {
        return offset_ < buffer_.size() || PollOne(fd_, POLLIN, limits_.read_timeout_s * 1000LL) > 0;
    }
    bool is_writable() const override {
        if (PollOne(fd_, POLLOUT, limits_.write_timeout_s * 1000LL) <= 0) return false;
        // A peer that closed shows as readable with nothing to read.
        if (PollOne(fd_, POLLIN, 0) <= 0) return true;
        char byte;
        return ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
    }

    ssize_t read(char* ptr, std::size_t size) override {
        if (offset_ >= buffer_.size()) {
            if (!Refill()) return -1;
        }
        const std::size_t n = std::min(size, buffer_.size() - offset_);
        std::memcpy(ptr, buffer_.data() + offset_, n);
        offset_ += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, std::size_t size) override {
        std::size_t done = 0;
        while (done < size) {
            if (PollOne(fd_, POLLOUT, limits_.write_timeout_s * 1000LL) <= 0) return -1;
            const ssize_t n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                return -1;
            }
            done += static_cast<std::size_t>(n);
        }
        return static_cast<ssize_t>(size);
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = remote_ip_;
        port = remote_port_;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        ip = local_ip_;
        port = local_port_;
    }
    socket_t socket() const override { return fd_; }

private:
    // Waits for more bytes, no longer than the read timeout and no longer than the body's rate
    // allows: by now the request may have taken grace + received / min_rate seconds.
    bool Refill() {
        for (;;) {
            const std::int64_t allowed_ms = limits_.read_timeout_s * 1000LL + received_ * 1000 / limits_.min_body_rate;
            const std::int64_t left_ms = request_start_ms_ + allowed_ms - NowMs();
            if (left_ms <= 0) {
                timed_out_ = true;
                return false;
            }
            const int ready = PollOne(fd_, POLLIN, std::min<std::int64_t>(left_ms, limits_.read_timeout_s * 1000LL));
            if (ready <= 0) {
                timed_out_ = ready == 0;
                return false;
            }
            char chunk[kReadChunk];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) return false;
            received_ += n;
            buffer_.assign(chunk, static_cast<std::size_t>(n));
            offset_ = 0;
            return true;
        }
    }

    int fd_;
    std::string buffer_;
    std::size_t offset_ = 0;
    const ConnectionLimits& limits_;
    std::int64_t request_start_ms_ = 0;
    std::int64_t received_ = 0;
    bool timed_out_ = false;
    std::string remote_ip_, local_ip_;
    int remote_port_ = 0, local_port_ = 0;
};

// Runs httplib's accept callback on the accepting thread: it only hands the socket over.
class InlineQueue final : public httplib::TaskQueue {
public:
    explicit InlineQueue(GuardedServer& server) : server_(server) {}
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override { server_.ShutdownConnections(); }

private:
    GuardedServer& server_;
};

}  // namespace

GuardedServer::GuardedServer(ConnectionLimits limits) : limits_(limits) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    new_task_queue = [this] { return new InlineQueue(*this); };
    gatherer_ = std::thread([this] { GatherLoop(); });
    for (int i = 0; i < limits_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

GuardedServer::~GuardedServer() {
    ShutdownConnections();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void GuardedServer::ShutdownConnections() {
    std::call_once(shutdown_once_, [this] {
        shutting_down_ = true;
        Wake();
        ready_cv_.notify_all();
        if (gatherer_.joinable()) gatherer_.join();
        for (auto& worker : workers_) worker.join();
        // Connections queued for a worker when the workers stopped.
        for (Connection& conn : ready_) {
            if (conn.upload) --uploads_;
            ::close(conn.fd);
        }
        ready_.clear();
    });
}

void GuardedServer::RaiseListenBacklog() {
    // listen() on a listening socket only changes its backlog (the kernel caps it at somaxconn).
    if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, limits_.max_connections);
}

void GuardedServer::Wake() {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
    if (shutting_down_ || open_connections_.load() >= limits_.max_connections) {
        // Over the cap: closing at once costs nothing; answering would cost a thread or a poll slot.
        ::close(sock);
        return false;
    }
    ++open_connections_;
    Connection conn;
    conn.fd = sock;
    conn.deadline_ms = NowMs() + limits_.header_timeout_s * 1000LL;
    Adopt(std::move(conn));
    return true;
}

void GuardedServer::Adopt(Connection conn) {
    {
        std::lock_guard lock(incoming_mutex_);
        incoming_.push_back(std::move(conn));
    }
    Wake();
}

void GuardedServer::Reject(Connection& conn, int status, const std::string& code, const std::string& message,
                           int retry_after_s) {
    const std::string body = R"({"error":{"code":")" + code + R"(","message":")" + message + "\"}}";
    const char* reason = status == 503 ? "Service Unavailable"
                         : status == 413 ? "Payload Too Large"
                         : status == 408 ? "Request Timeout"
                         : status == 431 ? "Request Header Fields Too Large"
                                         : "Bad Request";
    std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
    if (retry_after_s > 0) response += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
    response += "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
    // Small enough for the socket buffer: a non-blocking send never stalls the gatherer.
    (void)::send(conn.fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(conn.fd, SHUT_WR);
    conn.draining = true;
    conn.buffer.clear();
    conn.deadline_ms = NowMs() + kDrainMs;
    Log(LogLevel::kWarn, "http_connection_refused", {{"status", std::to_string(status)}, {"code", code}});
}

bool GuardedServer::TryDispatch(Connection& conn, std::vector<Connection>& keep) {
    const std::size_t end = conn.buffer.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (conn.buffer.size() > limits_.max_header_bytes) {
            Reject(conn, 431, "HEADERS_TOO_LARGE",
                   "request head is larger than " + std::to_string(limits_.max_header_bytes) + " bytes", 0);
            keep.push_back(std::move(conn));
            return true;
        }
        return false;
    }
    const std::string head = conn.buffer.substr(0, end + 4);
    if (head.size() > limits_.max_header_bytes) {
        Reject(conn, 431, "HEADERS_TOO_LARGE",
               "request head is larger than " + std::to_string(limits_.max_header_bytes) + " bytes", 0);
        keep.push_back(std::move(conn));
        return true;
    }
    const std::string length_text = HeaderValue(head, "Content-Length");
    const std::int64_t length = length_text.empty() ? 0 : std::strtoll(length_text.c_str(), nullptr, 10);
    const bool has_body = length > 0 || !HeaderValue(head, "Transfer-Encoding").empty();
    if (length > limits_.max_body_bytes) {
        Reject(conn, 413, "PAYLOAD_TOO_LARGE",
               "request body is larger than " + std::to_string(limits_.max_body_bytes) + " bytes", 0);
        keep.push_back(std::move(conn));
        return true;
    }
    if (has_body) {
        if (uploads_.fetch_add(1) >= limits_.max_uploads) {
            --uploads_;
            Reject(conn, 503, "UNAVAILABLE",
                   "too many uploads in progress (limit " + std::to_string(limits_.max_uploads) + "); retry shortly",
                   1);
            keep.push_back(std::move(conn));
            return true;
        }
        conn.upload = true;
    }
    {
        std::lock_guard lock(ready_mutex_);
        ready_.push_back(std::move(conn));
    }
    ready_cv_.notify_one();
    return true;
}

void GuardedServer::GatherLoop() {
    std::vector<Connection> conns;
    std::vector<pollfd> fds;
    auto close_conn = [this](Connection& conn) {
        if (conn.upload) --uploads_;
        ::close(conn.fd);
        --open_connections_;
    };
    while (!shutting_down_) {
        fds.clear();
        fds.push_back({wake_fd_, POLLIN, 0});
        std::int64_t next_deadline = NowMs() + 1000;
        for (const Connection& conn : conns) {
            fds.push_back({conn.fd, POLLIN, 0});
            next_deadline = std::min(next_deadline, conn.deadline_ms);
        }
        const auto wait_ms = std::max<std::int64_t>(next_deadline - NowMs(), 0);
        const int r = ::poll(fds.data(), fds.size(), static_cast<int>(wait_ms));
        if (r < 0 && errno != EINTR) break;
        const std::int64_t now = NowMs();
        std::vector<Connection> keep;
        keep.reserve(conns.size() + 8);
        for (std::size_t i = 0; i < conns.size(); ++i) {
            Connection& conn = conns[i];
            if (r > 0 && (fds[i + 1].revents & (POLLIN | POLLERR | POLLHUP))) {
                char chunk[kReadChunk];
                const ssize_t n = ::recv(conn.fd, chunk, sizeof chunk, MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                    keep.push_back(std::move(conn));
                    continue;
                }
                if (n <= 0) {
                    close_conn(conn);
                    continue;
                }
                if (conn.draining) {
                    keep.push_back(std::move(conn));
                    continue;
                }
                if (!conn.got_bytes) {
                    conn.got_bytes = true;
                    conn.deadline_ms = now + limits_.header_timeout_s * 1000LL;
                }
                conn.buffer.append(chunk, static_cast<std::size_t>(n));
                if (!TryDispatch(conn, keep)) keep.push_back(std::move(conn));
                continue;
            }
            if (now >= conn.deadline_ms) {
                if (conn.draining || !conn.got_bytes) {
                    close_conn(conn);  // drained, or an idle keep-alive connection
                } else {
                    Reject(conn, 408, "REQUEST_TIMEOUT",
                           "request head not received within " + std::to_string(limits_.header_timeout_s) + " s", 0);
                    keep.push_back(std::move(conn));
                }
                continue;
            }
            keep.push_back(std::move(conn));
        }
        conns = std::move(keep);
        if (r > 0 && (fds[0].revents & POLLIN)) {
            std::uint64_t count;
            (void)!::read(wake_fd_, &count, sizeof count);
        }
        std::vector<Connection> arrived;
        {
            std::lock_guard lock(incoming_mutex_);
            arrived.swap(incoming_);
        }
        for (Connection& conn : arrived) {
            // A connection coming back from a worker may already hold the next (pipelined) head.
            if (!conn.buffer.empty() && TryDispatch(conn, conns)) continue;
            conns.push_back(std::move(conn));
        }
    }
    for (Connection& conn : conns) close_conn(conn);
    std::lock_guard lock(incoming_mutex_);
    for (Connection& conn : incoming_) close_conn(conn);
    incoming_.clear();
}

void GuardedServer::WorkerLoop() {
    for (;;) {
        Connection conn;
        {
            std::unique_lock lock(ready_mutex_);
            ready_cv_.wait(lock, [this] { return shutting_down_ || !ready_.empty(); });
            if (ready_.empty()) return;
            conn = std::move(ready_.front());
            ready_.pop_front();
        }
        ServeConnection(std::move(conn));
    }
}

void GuardedServer::ServeConnection(Connection conn) {
    GuardedStream stream(conn.fd, std::move(conn.buffer), limits_);
    stream.BeginRequest();
    const bool last = shutting_down_ || ++conn.served >= limits_.keepalive_max_requests;
    bool connection_closed = false;
    bool ok = false;
    try {
        ok = process_request(stream, last, connection_closed, nullptr);
    } catch (const std::exception& e) {  // httplib's own code throwing must not end the worker
        Log(LogLevel::kError, "http_connection_exception", {{"message", e.what()}});
    }
    if (conn.upload) {
        --uploads_;
        conn.upload = false;
    }
    if (stream.TimedOut()) Log(LogLevel::kWarn, "http_body_too_slow", {});
    if (!ok || connection_closed || last || shutting_down_) {
        ::shutdown(conn.fd, SHUT_RDWR);
        ::close(conn.fd);
        --open_connections_;
        return;
    }
    conn.buffer = stream.TakeBuffer();
    conn.got_bytes = !conn.buffer.empty();
    conn.deadline_ms = NowMs() + (conn.got_bytes ? limits_.header_timeout_s : limits_.keepalive_timeout_s) * 1000LL;
    Adopt(std::move(conn));
}

}  // namespace labhouse::http
