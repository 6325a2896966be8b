#pragma once
// UnixctlServer: the control socket stock `ovs-appctl` talks to. JSON-RPC
// 1.0 over a Unix stream socket (OVS names it <rundir>/<program>.<pid>.ctl
// and ovs-appctl finds it through <rundir>/<program>.pid): a request
// {"method": "<command>", "params": ["arg", ...], "id": N} gets
// {"id": N, "result": "<text>", "error": null}, or a null result and the
// error text. list-commands and version are built in; the owner registers
// the rest (and "exit").
//
// Thread-safety: one thread (the control thread) calls everything,
// including run(); handlers run on it.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "ctl/json.h"

namespace trestle::ctl {

class UnixctlServer {
 public:
  // A handler's Error text is what ovs-appctl prints on stderr (exit 2).
  using Handler = std::function<Result<std::string>(const std::vector<std::string>& args)>;

  static Result<std::unique_ptr<UnixctlServer>> listen(const std::string& path,
                                                       const std::string& version_text);
  ~UnixctlServer();  // closes every connection and removes the socket file

  void add_command(const std::string& name, const std::string& usage, int min_args,
                   int max_args, Handler handler);
  // Accepts, reads and answers whatever is ready; waits up to timeout_ms
  // for something to happen.
  void run(int timeout_ms);

  const std::string& path() const { return path_; }
  // The sockets run() waits on, for a caller that polls elsewhere and
  // calls run(0) when one of them is readable.
  std::vector<int> fds() const {
    std::vector<int> v{listen_fd_};
    for (auto& c : conns_) v.push_back(c->fd);
    return v;
  }
  size_t connections() const { return conns_.size(); }

 private:
  struct Command {
    std::string usage;
    int min_args, max_args;
    Handler handler;
  };
  struct Conn {
    int fd;
    JsonSplitter splitter;
  };
  UnixctlServer() = default;
  Json handle(const Json& request);
  bool serve(Conn& c);  // false: close the connection

  std::string path_;
  int listen_fd_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::map<std::string, Command> commands_;
};

}  // namespace trestle::ctl
