#include "ctl/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace trestle::ctl {

Result<std::unique_ptr<Pidfile>> Pidfile::create(const std::string& path) {
  std::unique_ptr<Pidfile> p(new Pidfile);
  p->path_ = path;
  p->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (p->fd_ < 0) return make_error("cannot open pidfile " + path + ": " + strerror(errno));
  struct flock lck {};
  lck.l_type = F_WRLCK;
  lck.l_whence = SEEK_SET;
  if (::fcntl(p->fd_, F_SETLK, &lck) != 0) {
    std::string err = strerror(errno);
    ::close(p->fd_);
    p->fd_ = -1;
    return make_error("pidfile " + path + " is locked by another running process (" + err + ")");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(p->fd_, 0) != 0 || ::pwrite(p->fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    return make_error("cannot write pidfile " + path + ": " + strerror(errno));
  return p;
}

Pidfile::~Pidfile() {
  if (fd_ >= 0) {
    ::unlink(path_.c_str());
    ::close(fd_);
  }
}

}  // namespace trestle::ctl
