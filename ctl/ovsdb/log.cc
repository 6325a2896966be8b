#include "ctl/ovsdb/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/sha.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace trestle::ctl {
namespace {

constexpr std::string_view kMagic = "OVSDB JSON ";
constexpr std::string_view kClusterMagic = "OVSDB CLUSTER ";
constexpr size_t kShaHexLen = 2 * SHA_DIGEST_LENGTH;
constexpr size_t kMaxLenDigits = 19;  // fits in uint64_t
constexpr size_t kMaxHeaderLen = kMagic.size() + kMaxLenDigits + 1 + kShaHexLen + 1;
constexpr size_t kReplaceChunk = size_t{1} << 20;  // replace() writes in pieces this big

std::string errno_text(int err) { return strerror(err); }

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Resolves symbolic links in the last component, as many levels as there
// are, so that the lock file, <path>.tmp and the rename all concern the real
// file (a rename over a symlink would replace the link with a regular file).
std::string follow_symlinks(const std::string& path) {
  std::string p = path;
  for (int level = 0; level < 40; ++level) {
    char target[PATH_MAX];
    const ssize_t n = ::readlink(p.c_str(), target, sizeof(target));
    if (n <= 0 || static_cast<size_t>(n) == sizeof(target)) break;  // not a link (or absurd)
    if (target[0] == '/' || p.find('/') == std::string::npos)
      p.assign(target, n);
    else
      p = dir_of(p) + "/" + std::string(target, n);
  }
  return p;
}

void sha1_hex(const char* data, size_t n, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data), n, md);
  for (size_t i = 0; i < SHA_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xf];
  }
}

// Appends the record for `json` to `out`. The body is copied once, straight
// into place, and hashed there.
void append_record(std::string& out, std::string_view json) {
  const size_t len = json.size() + 1;  // the newline counts
  char len_text[24];
  const size_t len_digits = std::to_chars(len_text, len_text + sizeof(len_text), len).ptr - len_text;
  const size_t header = kMagic.size() + len_digits + 1 + kShaHexLen + 1;
  const size_t start = out.size();
  out.resize(start + header + len);
  char* p = out.data() + start;
  memcpy(p, kMagic.data(), kMagic.size());
  p += kMagic.size();
  memcpy(p, len_text, len_digits);
  p += len_digits;
  *p++ = ' ';
  char* sha = p;
  p += kShaHexLen;
  *p++ = '\n';
  memcpy(p, json.data(), json.size());
  p[json.size()] = '\n';
  sha1_hex(p, len, sha);
}

// 0 or an errno.
int write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

// Reads the whole file from offset 0 into `out`. 0 or an errno.
int read_all(int fd, size_t size_hint, std::string& out) {
  out.resize(size_hint + 1);  // one spare byte sees EOF (or growth) without a second buffer
  size_t have = 0;
  for (;;) {
    if (have == out.size()) out.resize(out.size() * 2);
    const ssize_t r = ::pread(fd, out.data() + have, out.size() - have, static_cast<off_t>(have));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) break;
    have += static_cast<size_t>(r);
  }
  out.resize(have);
  return 0;
}

Result<void> fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot open directory " + dir + " to fsync it: " + errno_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return make_error("cannot fsync directory " + dir + ": " + errno_text(err));
  return {};
}

// A bad header rendered for a message: printable, short.
std::string quote_line(std::string_view line) {
  std::string q = "\"";
  for (char c : line.substr(0, 60)) q += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (line.size() > 60) q += "...";
  return q + "\"";
}

struct Header {
  size_t header_len = 0;
  uint64_t body_len = 0;
  std::string_view sha;
};

// Parses the header line at the start of `rest`. On failure `why` says what
// is wrong and `torn` whether the file simply ends inside the header.
bool parse_header(std::string_view rest, Header& h, std::string& why, bool& torn) {
  const size_t nl = rest.substr(0, kMaxHeaderLen).find('\n');
  if (nl == std::string_view::npos) {
    torn = rest.size() < kMaxHeaderLen;
    why = torn ? "the file ends inside a record header " + quote_line(rest)
               : "no record header (no newline in the first " + std::to_string(kMaxHeaderLen) + " bytes)";
    return false;
  }
  const std::string_view line = rest.substr(0, nl);
  why = "bad record header " + quote_line(line);
  if (!line.starts_with(kMagic)) return false;
  std::string_view f = line.substr(kMagic.size());
  const size_t space = f.find(' ');
  if (space == 0 || space == std::string_view::npos || space > kMaxLenDigits) return false;
  for (size_t i = 0; i < space; ++i)
    if (f[i] < '0' || f[i] > '9') return false;
  std::from_chars(f.data(), f.data() + space, h.body_len);
  h.sha = f.substr(space + 1);
  if (h.sha.size() != kShaHexLen) return false;
  for (char c : h.sha)
    if (!isxdigit(static_cast<unsigned char>(c))) return false;
  h.header_len = nl + 1;
  return true;
}

// The in-process half of the lock. fcntl locks belong to the process: a
// second F_SETLK from this process would succeed, and closing any
// descriptor of the lock file would drop the first holder's lock. So the
// lock files this process holds are listed here (by device and inode, so
// two spellings of one path are one file), and a second open is refused
// before it touches the file. The pid lets a forked child, which inherits
// the table but not the locks, take a lock of its own.
struct LockTable {
  std::mutex mu;
  std::map<std::pair<dev_t, ino_t>, pid_t> held;
};

LockTable& lock_table() {
  static LockTable* table = new LockTable;  // never destroyed: logs may outlive static destructors
  return *table;
}

struct HeldLock {
  int fd;
  dev_t dev;
  ino_t ino;
};

Result<HeldLock> acquire_lock(const std::string& db_path, const std::string& lock_path) {
  LockTable& t = lock_table();
  std::lock_guard guard(t.mu);
  const pid_t me = ::getpid();
  struct stat st {};
  if (::stat(lock_path.c_str(), &st) == 0) {
    auto it = t.held.find({st.st_dev, st.st_ino});
    if (it != t.held.end() && it->second == me)
      return make_error(db_path + ": already locked by this process (pid " + std::to_string(me) +
                        "): another OvsdbLog has it open");
    if (it != t.held.end()) t.held.erase(it);  // inherited across fork(): not ours
  }
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(db_path + ": cannot open lock file " + lock_path + ": " + errno_text(errno));
  struct flock lck {};
  lck.l_type = F_WRLCK;
  lck.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file, as OVS locks it
  if (::fcntl(fd, F_SETLK, &lck) != 0) {
    const int err = errno;
    std::string msg;
    if (err == EAGAIN || err == EACCES) {
      msg = db_path + ": already locked by another process";
      struct flock who {};
      who.l_type = F_WRLCK;
      who.l_whence = SEEK_SET;
      if (::fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK && who.l_pid > 0)
        msg += " (pid " + std::to_string(who.l_pid) + ")";
    } else {
      msg = db_path + ": cannot lock " + lock_path + ": " + errno_text(err);
    }
    ::close(fd);  // safe: nothing in this process holds a lock on this file
    return make_error(msg);
  }
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error(db_path + ": cannot stat lock file " + lock_path + ": " + errno_text(err));
  }
  t.held[{st.st_dev, st.st_ino}] = me;
  return HeldLock{fd, st.st_dev, st.st_ino};
}

void release_lock(int fd, dev_t dev, ino_t ino) {
  LockTable& t = lock_table();
  std::lock_guard guard(t.mu);
  ::close(fd);  // under the mutex: no other open() of this file can slip in before the entry goes
  auto it = t.held.find({dev, ino});
  if (it != t.held.end() && it->second == ::getpid()) t.held.erase(it);
}

}  // namespace

std::string ovsdb_log_record(std::string_view compact_json) {
  std::string out;
  append_record(out, compact_json);
  return out;
}

Result<OvsdbLog::Opened> OvsdbLog::open(const std::string& path) {
  std::unique_ptr<OvsdbLog> log(new OvsdbLog);  // its destructor undoes whatever was done on failure
  log->path_ = path;
  log->real_path_ = follow_symlinks(path);
  const std::string& real = log->real_path_;
  const std::string dir = dir_of(real), base = base_of(real);
  if (base.empty() || base == "." || base == "..")
    return make_error(path + ": not a file name");

  auto lock = acquire_lock(path, dir + "/." + base + ".~lock~");
  if (!lock) return lock.error();
  log->lock_fd_ = lock->fd;
  log->lock_dev_ = lock->dev;
  log->lock_ino_ = lock->ino;

  bool created = true;
  log->fd_ = ::open(real.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (log->fd_ < 0 && errno == EEXIST) {
    created = false;
    log->fd_ = ::open(real.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  }
  if (log->fd_ < 0) return make_error("cannot open " + path + ": " + errno_text(errno));
  if (created) {
    auto synced = fsync_dir(dir);  // the new file's name must survive a power loss too
    if (!synced) return make_error(path + ": created, but " + synced.error().message);
  }
  struct stat st {};
  if (::fstat(log->fd_, &st) != 0) return make_error("cannot stat " + path + ": " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");

  std::string data;
  if (int err = read_all(log->fd_, static_cast<size_t>(st.st_size), data))
    return make_error("cannot read " + path + ": " + errno_text(err));

  // Refuse, rather than cut, a file that is not a standalone database at all.
  const std::string_view start = std::string_view(data).substr(0, kMagic.size());
  if (start != kMagic.substr(0, start.size())) {
    if (std::string_view(data).starts_with(kClusterMagic))
      return make_error(path + ": is a clustered OVSDB database, which trestle does not support; "
                        "convert it with 'ovsdb-tool cluster-to-standalone'");
    return make_error(path + ": not a standalone OVSDB database (it does not start with \"OVSDB JSON \"); "
                      "nothing was changed");
  }

  Opened opened;
  size_t off = 0;
  std::string why;
  bool torn = false;
  while (off < data.size()) {
    const std::string_view rest = std::string_view(data).substr(off);
    Header h;
    if (!parse_header(rest, h, why, torn)) break;
    if (h.body_len > rest.size() - h.header_len) {
      torn = true;
      why = "the record header announces " + std::to_string(h.body_len) + " bytes but only " +
            std::to_string(rest.size() - h.header_len) + " follow it";
      break;
    }
    const std::string_view body = rest.substr(h.header_len, h.body_len);
    char sha[kShaHexLen];
    sha1_hex(body.data(), body.size(), sha);
    if (strncasecmp(sha, h.sha.data(), kShaHexLen) != 0) {
      why = "SHA-1 mismatch (the header says " + std::string(h.sha) + ", the " + std::to_string(body.size()) +
            " bytes hash to " + std::string(sha, kShaHexLen) + ")";
      break;
    }
    auto json = Json::parse(body);
    if (!json) {
      why = "the record is not valid JSON (" + json.error().message + ")";
      break;
    }
    opened.records.push_back(std::move(json.value()));
    off += h.header_len + body.size();
  }

  if (off < data.size()) {
    const size_t index = opened.records.size();
    const std::string where = "record " + std::to_string(index) + " at byte offset " + std::to_string(off);
    if (index == 0 && !torn)
      return make_error(path + ": " + where + " (the schema) is corrupt: " + why +
                        "; refusing to open it (nothing was changed)");
    if (::ftruncate(log->fd_, static_cast<off_t>(off)) != 0 || ::fsync(log->fd_) != 0)
      return make_error(path + ": " + where + ": " + why + "; cutting the file there failed: " +
                        errno_text(errno));
    opened.warning = path + ": " + where + ": " + why + (torn ? " (a torn write)" : "") +
                     "; cut the file to " + std::to_string(off) + " bytes, dropping the last " +
                     std::to_string(data.size() - off) + " bytes (this record and everything after it)";
  }
  log->size_ = off;
  opened.log = std::move(log);
  return opened;
}

OvsdbLog::~OvsdbLog() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) release_lock(lock_fd_, lock_dev_, lock_ino_);
}

Result<void> OvsdbLog::write_record(std::string_view compact_json) {
  if (broken_)
    return make_error(path_ + ": an earlier failed append could not be cut off again; reopen the database");
  record_.clear();  // keeps its capacity: no allocation once the buffer has grown
  append_record(record_, compact_json);
  if (int err = write_all(fd_, record_.data(), record_.size())) {
    std::string msg = path_ + ": cannot append a record: " + errno_text(err);
    // A partial record would make the next open() cut here anyway, and every
    // record appended after it would go with it: cut it now.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      broken_ = true;
      msg += "; cutting the partial record off failed too (" + errno_text(errno) + "), no more appends";
    }
    return make_error(msg);
  }
  size_ += record_.size();
  return {};
}

Result<void> OvsdbLog::append(const Json& record) { return write_record(record.dump()); }

Result<void> OvsdbLog::append_text(std::string_view compact_json) { return write_record(compact_json); }

Result<void> OvsdbLog::sync() {
  if (::fdatasync(fd_) != 0) return make_error(path_ + ": fdatasync failed: " + errno_text(errno));
  return {};
}

template <typename TextAt>
Result<void> OvsdbLog::replace_with(size_t count, TextAt text_at) {
  const std::string tmp = real_path_ + ".tmp";
  struct stat st {};
  const mode_t mode = ::fstat(fd_, &st) == 0 ? (st.st_mode & 07777) : 0640;  // keep the operator's mode
  const int tfd = ::open(tmp.c_str(), O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (tfd < 0) return make_error(path_ + ": cannot create " + tmp + ": " + errno_text(errno));
  auto fail = [&](const std::string& what, int err) {
    ::close(tfd);
    ::unlink(tmp.c_str());
    return make_error(path_ + ": " + what + ": " + errno_text(err) + " (the database is unchanged)");
  };
  if (::fchmod(tfd, mode) != 0) return fail("cannot set the mode of " + tmp, errno);

  std::string buf;
  uint64_t total = 0;
  for (size_t i = 0; i <= count; ++i) {
    if (i < count) append_record(buf, text_at(i));
    if (buf.size() >= kReplaceChunk || (i == count && !buf.empty())) {
      if (int err = write_all(tfd, buf.data(), buf.size())) return fail("cannot write " + tmp, err);
      total += buf.size();
      buf.clear();
    }
  }
  if (::fsync(tfd) != 0) return fail("cannot fsync " + tmp, errno);
  if (::rename(tmp.c_str(), real_path_.c_str()) != 0)
    return fail("cannot rename " + tmp + " over " + real_path_, errno);

  // The new file is the database now, whatever happens next.
  ::close(fd_);
  fd_ = tfd;
  size_ = total;
  broken_ = false;
  auto synced = fsync_dir(dir_of(real_path_));
  if (!synced)
    return make_error(path_ + ": replaced, but the rename may not survive a power loss: " + synced.error().message);
  return {};
}

OvsdbLog::Replacement OvsdbLog::prepare_replacement(const std::vector<std::string>& texts) const {
  Replacement r;
  const std::string tmp = real_path_ + ".tmp";
  struct stat st {};
  const mode_t mode = ::fstat(fd_, &st) == 0 ? (st.st_mode & 07777) : 0640;
  r.fd = ::open(tmp.c_str(), O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (r.fd < 0) {
    r.error = "cannot create " + tmp + ": " + errno_text(errno);
    return r;
  }
  auto fail = [&](const std::string& what, int err) {
    ::close(r.fd);
    ::unlink(tmp.c_str());
    r.fd = -1;
    r.error = what + ": " + errno_text(err);
    return r;
  };
  if (::fchmod(r.fd, mode) != 0) return fail("cannot set the mode of " + tmp, errno);
  std::string buf;
  for (size_t i = 0; i <= texts.size(); ++i) {
    if (i < texts.size()) append_record(buf, texts[i]);
    if (buf.size() >= kReplaceChunk || (i == texts.size() && !buf.empty())) {
      if (int err = write_all(r.fd, buf.data(), buf.size())) return fail("cannot write " + tmp, err);
      r.size += buf.size();
      buf.clear();
    }
  }
  if (::fsync(r.fd) != 0) return fail("cannot fsync " + tmp, errno);
  return r;
}

Result<void> OvsdbLog::finish_replacement(Replacement r, const std::vector<std::string>& tail) {
  const std::string tmp = real_path_ + ".tmp";
  if (r.fd < 0) return make_error(path_ + ": compaction failed: " + r.error + " (the database is unchanged)");
  auto fail = [&](const std::string& what, int err) {
    ::close(r.fd);
    ::unlink(tmp.c_str());
    return make_error(path_ + ": " + what + ": " + errno_text(err) + " (the database is unchanged)");
  };
  std::string buf;
  for (auto& t : tail) append_record(buf, t);
  if (!buf.empty()) {
    if (int err = write_all(r.fd, buf.data(), buf.size())) return fail("cannot write " + tmp, err);
    if (::fsync(r.fd) != 0) return fail("cannot fsync " + tmp, errno);
  }
  if (::rename(tmp.c_str(), real_path_.c_str()) != 0)
    return fail("cannot rename " + tmp + " over " + real_path_, errno);
  ::close(fd_);
  fd_ = r.fd;
  size_ = r.size + buf.size();
  broken_ = false;
  auto synced = fsync_dir(dir_of(real_path_));
  if (!synced)
    return make_error(path_ + ": replaced, but the rename may not survive a power loss: " + synced.error().message);
  return {};
}

Result<void> OvsdbLog::replace(const std::vector<Json>& records) {
  std::string text;
  return replace_with(records.size(), [&](size_t i) {
    text = records[i].dump();
    return std::string_view(text);
  });
}

Result<void> OvsdbLog::replace_text(const std::vector<std::string>& compact_jsons) {
  return replace_with(compact_jsons.size(), [&](size_t i) { return std::string_view(compact_jsons[i]); });
}

}  // namespace trestle::ctl
