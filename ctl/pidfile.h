#pragma once
// Pidfile: <rundir>/<program>.pid as the OVS daemons keep it. Stock
// ovs-appctl reads the pid and then checks, with fcntl(F_GETLK), that a
// process still holds a write lock on the file; a pidfile without the lock
// reads as "No such process". So the file is written and locked for the
// daemon's whole life, and removed when it ends.
//
// Thread-safety: owned by the daemon's main thread.

#include <memory>
#include <string>

#include "base/result.h"

namespace trestle::ctl {

class Pidfile {
 public:
  // Fails when another live process holds the lock (a second daemon on the
  // same run dir).
  static Result<std::unique_ptr<Pidfile>> create(const std::string& path);
  ~Pidfile();  // unlinks the file, releasing the lock
  const std::string& path() const { return path_; }

 private:
  Pidfile() = default;
  std::string path_;
  int fd_ = -1;
};

}  // namespace trestle::ctl
