// GuardedServer: cpp-httplib's Server with the connection handling replaced so that slow or
// abusive clients cannot starve the API (docs/architecture.md, "Slow and abusive clients").
//
// httplib gives every accepted connection a pool thread for as long as it lives, so 32 clients
// that send one header byte every few seconds (slow-loris) or that keep idle keep-alive
// connections open take every thread. Here one poll() thread (the "gatherer") owns every
// connection until a complete request head has arrived; only then does a worker thread run the
// request (httplib's own parser and routing), and the connection comes back to the gatherer
// when the response is written. The gatherer enforces a deadline on the whole request head, a
// byte limit on it, the keep-alive idle time and the connection cap; it answers a request with a
// body that would exceed the concurrent-upload cap with a fast 503 without reading the body. The
// worker's stream enforces a minimum average body rate, so a trickled body is cut off too.
// Internal to the HTTP adapter.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace labhouse::http {

struct ConnectionLimits {
    int workers = 32;                       // threads running requests (an SSE stream holds one)
    int max_connections = 900;              // open connections, idle ones included (below FD_SETSIZE)
    int header_timeout_s = 10;              // from the first byte of a request to the end of its head
    int keepalive_timeout_s = 5;            // idle time allowed between two requests
    int read_timeout_s = 30;                // longest wait for one read, and the body's grace time
    int write_timeout_s = 30;               // longest wait for one write
    std::int64_t min_body_rate = 1024;      // bytes/s a body must average once its grace is spent
    std::size_t max_header_bytes = 16384;   // request line plus headers
    int max_uploads = 8;                    // requests with a body being read or handled at once
    std::int64_t max_body_bytes = 21'000'000;
    int keepalive_max_requests = 1000;
};

class GuardedServer : public httplib::Server {
public:
    explicit GuardedServer(ConnectionLimits limits);
    ~GuardedServer() override;

    // Closes every connection and joins the threads; requests in flight finish first.
    void ShutdownConnections();
    int UploadsInFlight() const { return uploads_.load(); }
    // httplib listens with a backlog of 5: a burst of connections (200 clients starting at once)
    // overflows it, and each dropped SYN costs the client a 1 s retransmit. Call after binding.
    void RaiseListenBacklog();

private:
    struct Connection {
        int fd = -1;
        std::string buffer;      // bytes received and not yet parsed
        std::int64_t deadline_ms = 0;
        bool got_bytes = false;  // a request has started: the head deadline applies
        bool draining = false;   // answered and half-closed: discard input until EOF or deadline
        bool upload = false;     // counted in uploads_
        int served = 0;
    };

    bool process_and_close_socket(socket_t sock) override;

    void GatherLoop();
    void WorkerLoop();
    // A complete head is in `conn.buffer` (returns true when the connection went to a worker or
    // was answered); false when more bytes are needed.
    bool TryDispatch(Connection& conn, std::vector<Connection>& keep);
    void ServeConnection(Connection conn);
    void Adopt(Connection conn);  // hands a connection to the gatherer
    void Reject(Connection& conn, int status, const std::string& code, const std::string& message,
                int retry_after_s);
    void Wake();

    const ConnectionLimits limits_;
    std::atomic<bool> shutting_down_{false};
    std::atomic<int> open_connections_{0};
    std::atomic<int> uploads_{0};
    int wake_fd_ = -1;

    std::mutex incoming_mutex_;
    std::vector<Connection> incoming_;  // handed to the gatherer, not yet polled

    std::mutex ready_mutex_;
    std::condition_variable ready_cv_;
    std::deque<Connection> ready_;  // complete heads waiting for a worker

    std::thread gatherer_;
    std::vector<std::thread> workers_;
    std::once_flag shutdown_once_;
};

}  // namespace labhouse::http
