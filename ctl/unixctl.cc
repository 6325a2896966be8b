#include "ctl/unixctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace trestle::ctl {
namespace {

constexpr size_t kMaxConnections = 64;
constexpr size_t kMaxBuffered = 1 << 20;  // a request larger than this is bogus

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 1000) <= 0) return false;  // a peer that never reads
      continue;
    }
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<UnixctlServer>> UnixctlServer::listen(const std::string& path,
                                                             const std::string& version_text) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path))
    return make_error("unixctl socket path too long: " + path);
  std::unique_ptr<UnixctlServer> s(new UnixctlServer);
  s->path_ = path;
  s->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return make_error(std::string("unixctl socket: ") + strerror(errno));
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());  // a stale socket of a dead process
  if (::bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(s->listen_fd_, 16) != 0) {
    std::string err = strerror(errno);
    ::close(s->listen_fd_);
    s->listen_fd_ = -1;
    return make_error("cannot listen on " + path + ": " + err);
  }
  ::chmod(path.c_str(), 0750);
  std::string version = version_text;
  s->add_command("version", "", 0, 0, [version](const auto&) { return Result<std::string>(version + "\n"); });
  UnixctlServer* self = s.get();
  s->add_command("list-commands", "", 0, 0, [self](const auto&) {
    std::string out = "The available commands are:\n";
    for (const auto& [name, c] : self->commands_) {
      char line[256];
      snprintf(line, sizeof(line), "  %-23s %s\n", name.c_str(), c.usage.c_str());
      out += line;
    }
    return Result<std::string>(out);
  });
  return s;
}

UnixctlServer::~UnixctlServer() {
  for (auto& c : conns_) ::close(c->fd);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
}

void UnixctlServer::add_command(const std::string& name, const std::string& usage, int min_args,
                                int max_args, Handler handler) {
  commands_[name] = {usage, min_args, max_args, std::move(handler)};
}

Json UnixctlServer::handle(const Json& req) {
  Json::Object reply{{"id", req["id"]}, {"result", Json()}, {"error", Json()}};
  auto fail = [&](const std::string& text) {
    reply["error"] = text;
    return Json(reply);
  };
  if (!req.is_object() || !req["method"].is_string() || !req["params"].is_array() || !req.has("id"))
    return fail("invalid JSON-RPC request: expected an object with method, params and id");
  const std::string& method = req["method"].as_string();
  auto it = commands_.find(method);
  if (it == commands_.end())
    return fail("\"" + method + "\" is not a valid command (use \"list-commands\" to see a list of valid commands)");
  std::vector<std::string> args;
  for (const Json& p : req["params"].as_array()) {
    if (!p.is_string()) return fail("\"" + method + "\" command has non-string argument: " + p.dump());
    args.push_back(p.as_string());
  }
  const Command& c = it->second;
  if (static_cast<int>(args.size()) < c.min_args)
    return fail("\"" + method + "\" command requires at least " + std::to_string(c.min_args) + " arguments");
  if (static_cast<int>(args.size()) > c.max_args)
    return fail("\"" + method + "\" command takes at most " + std::to_string(c.max_args) + " arguments");
  Result<std::string> r = c.handler(args);
  if (!r) return fail(r.error().message);
  reply["result"] = r.value();
  return Json(reply);
}

bool UnixctlServer::serve(Conn& c) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    auto texts = c.splitter.feed(std::string_view(buf, static_cast<size_t>(n)));
    if (!texts || c.splitter.buffered() > kMaxBuffered) return false;  // not JSON-RPC
    for (const std::string& t : texts.value()) {
      auto req = Json::parse(t);
      Json reply = req ? handle(req.value())
                       : Json(Json::Object{{"id", Json()}, {"result", Json()},
                                           {"error", "invalid JSON: " + req.error().message}});
      if (!write_all(c.fd, reply.dump())) return false;
    }
  }
}

void UnixctlServer::run(int timeout_ms) {
  std::vector<pollfd> fds;
  fds.push_back({listen_fd_, POLLIN, 0});
  for (auto& c : conns_) fds.push_back({c->fd, POLLIN, 0});
  if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
  // Existing connections first: serve() may close some.
  std::vector<std::unique_ptr<Conn>> keep;
  for (size_t i = 0; i < conns_.size(); ++i) {
    if (fds[i + 1].revents && !serve(*conns_[i])) {
      ::close(conns_[i]->fd);
      continue;
    }
    keep.push_back(std::move(conns_[i]));
  }
  conns_ = std::move(keep);
  if (fds[0].revents & POLLIN) {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      if (conns_.size() >= kMaxConnections) {
        ::close(fd);
        continue;
      }
      conns_.push_back(std::make_unique<Conn>(Conn{fd, {}}));
      if (!serve(*conns_.back())) {
        ::close(fd);
        conns_.pop_back();
      }
    }
  }
}

}  // namespace trestle::ctl
