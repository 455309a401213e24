#include "labhouse/adapters/fs/fs_blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "labhouse/core/base/ids.h"
#include "labhouse/core/base/sha256.h"

namespace labhouse::fs {
namespace {
Error IoError(const std::string& what, int err) {
    const std::string message = what + ": " + std::strerror(err);
    if (err == ENOSPC || err == EDQUOT) return ResourceExhausted("disk full: " + message);
    return Unavailable(message);
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return IoError("write " + path, errno);
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return OkStatus();
}
}  // namespace

Result<std::unique_ptr<FsBlobStore>> FsBlobStore::Open(const std::filesystem::path& root) {
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec) return Unavailable("cannot create blob directory '" + root.string() + "': " + ec.message());
    return std::unique_ptr<FsBlobStore>(new FsBlobStore(root));
}

std::filesystem::path FsBlobStore::PathFor(const std::string& id) const { return root_ / id.substr(0, 2) / id; }

Result<std::string> FsBlobStore::Put(std::string_view bytes) {
    const std::string id = Sha256Hex(bytes);
    const auto path = PathFor(id);
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return id;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return Unavailable("cannot create '" + path.parent_path().string() + "': " + ec.message());
    const std::string temp = path.string() + ".tmp-" + NewWorkerId("w");
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return IoError("open " + temp, errno);
    Status written = WriteAll(fd, bytes, temp);
    if (written && ::fsync(fd) != 0) written = IoError("fsync " + temp, errno);
    ::close(fd);
    if (!written) {
        ::unlink(temp.c_str());
        return written.error();
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        return IoError("rename " + temp, err);
    }
    return id;
}

Result<std::string> FsBlobStore::Get(const std::string& id) const {
    if (!IsValidBlobId(id)) return InvalidArgument("malformed blob id");
    std::ifstream in(PathFor(id), std::ios::binary);
    if (!in) return NotFound("blob " + id + " not found");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return Unavailable("cannot read blob " + id);
    return bytes;
}

Result<bool> FsBlobStore::Exists(const std::string& id) const {
    if (!IsValidBlobId(id)) return InvalidArgument("malformed blob id");
    std::error_code ec;
    return std::filesystem::exists(PathFor(id), ec);
}

Result<int> FsBlobStore::SweepOrphans(const std::function<Result<bool>(const std::string&)>& in_use) {
    int removed = 0;
    std::error_code ec;
    for (std::filesystem::recursive_directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const std::string name = it->path().filename().string();
        bool orphan = name.find(".tmp-") != std::string::npos;
        if (!orphan && IsValidBlobId(name)) {
            LABHOUSE_ASSIGN_OR_RETURN(bool used, in_use(name));
            orphan = !used;
        }
        std::error_code rm;
        if (orphan && std::filesystem::remove(it->path(), rm)) ++removed;
    }
    if (ec) return Unavailable("cannot list blobs under " + root_.string() + ": " + ec.message());
    return removed;
}

Status FsBlobStore::Remove(const std::string& id) {
    if (!IsValidBlobId(id)) return InvalidArgument("malformed blob id");
    std::error_code ec;
    std::filesystem::remove(PathFor(id), ec);
    if (ec) return Unavailable("cannot remove blob " + id + ": " + ec.message());
    return OkStatus();
}

}  // namespace labhouse::fs
