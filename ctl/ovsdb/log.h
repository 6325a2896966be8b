#pragma once
// OvsdbLog: the append-only file behind a standalone OVSDB database
// (conf.db), byte-compatible with what ovsdb-server and ovsdb-tool 3.1 read
// and write, so an operator can point the stock tools at our database and we
// can take over a database they wrote.
//
// The file is a sequence of records. Each record is a header line
//
//     OVSDB JSON <len> <sha1>\n
//
// followed by exactly <len> bytes: one compact JSON text and a newline. The
// SHA-1 (40 lowercase hex digits) covers those <len> bytes. Record 0 is the
// schema; every later record is a transaction (or, after compaction, the
// whole contents). This class stores and returns JSON values: it does not
// interpret them.
//
// Recovery. open() reads every record. The first malformed one (a bad
// header, a length running past the end of the file, a SHA-1 mismatch, a
// body that is not JSON) ends the good part: the file is cut right after the
// last good record and Opened::warning says what was found where and how
// many bytes went. A crash mid-append leaves exactly such a torn tail. Two
// cases refuse to open instead, because cutting would destroy a database
// that is damaged or not ours rather than torn:
//   - the file does not start with "OVSDB JSON " (not a standalone OVSDB
//     file; a clustered database starts with "OVSDB CLUSTER ");
//   - record 0, the schema, is complete but fails its SHA-1 or JSON check.
// A record 0 that is merely torn (the file ends inside it: a crash while
// creating the database) is cut like any torn tail, leaving an empty file.
//
// Locking. Like ovsdb-server and ovsdb-tool, open() takes a write lock
// (fcntl F_SETLK) on `.<basename>.~lock~` beside the file, so the stock
// tools and we exclude each other, and holds it until the OvsdbLog is
// destroyed. POSIX locks belong to the process, so a second OvsdbLog on the
// same file in this process is refused by an in-process table instead. The
// lock file is left in place, as OVS leaves it. Symbolic links to the
// database are followed (the lock, the temporary file and the rename apply
// to the real file), as OVS does.
//
// Durability. append() hands the whole record to the kernel with write(2)
// before it returns: the record survives the process being killed, not a
// power loss. sync() (fdatasync) makes everything appended so far survive
// power loss; the caller decides when that is worth it (ovsdb-server syncs
// only for transactions that ask for it with {"op":"commit","durable":true}).
// replace() is durable when it returns: temporary file written and fsynced,
// renamed over the database, directory fsynced. If an append fails half way
// the partial record is cut off again, so the file always ends on a record
// boundary; if even that fails, the log refuses further appends.
//
// Thread-safety: one thread owns an OvsdbLog (in trestle, the control
// event loop); it does no locking of its own. Opening and destroying logs
// from different threads is safe (the in-process lock table is guarded).

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "ctl/json.h"

namespace trestle::ctl {

class OvsdbLog {
 public:
  struct Opened {
    std::unique_ptr<OvsdbLog> log;
    // Every good record, in order (records[0] is the schema unless the file
    // is new).
    std::vector<Json> records;
    // Non-empty when a torn or corrupt tail was cut off: where and why, for
    // the daemon's log.
    std::string warning;
  };

  // Opens `path` for reading and appending, creating an empty file (mode
  // 0640) when absent, takes the lock, reads every record and cuts a bad
  // tail (see above). Fails with "<path>: already locked by another process
  // (pid N)" when someone else holds the lock.
  static Result<Opened> open(const std::string& path);
  ~OvsdbLog();  // closes the file and releases the lock

  OvsdbLog(const OvsdbLog&) = delete;
  OvsdbLog& operator=(const OvsdbLog&) = delete;

  // Appends one record (serialised with Json::dump()).
  Result<void> append(const Json& record);
  // Same, already serialised: `compact_json` must be one valid JSON text
  // (it is not re-parsed; a bad one would be cut off at the next open).
  Result<void> append_text(std::string_view compact_json);
  // fdatasync(2): everything appended so far survives a power loss.
  Result<void> sync();

  // Atomically replaces the whole file with `records` (compaction): writes
  // <path>.tmp, fsyncs it, renames it over the database, fsyncs the
  // directory, and goes on appending to the new file. On failure before the
  // rename the old file is untouched and still in use.
  Result<void> replace(const std::vector<Json>& records);
  // Same, from already-serialised compact JSON texts.
  Result<void> replace_text(const std::vector<std::string>& compact_jsons);

  // Compaction in the background, in two steps. prepare_replacement()
  // touches only <path>.tmp, so it may run on another thread while the
  // owner keeps appending: it writes the records there and fsyncs them.
  // finish_replacement(), on the owner's thread, appends the records
  // committed in the meantime (`tail`), fsyncs, renames the file over the
  // database and goes on appending to it. A failed replacement leaves the
  // database as it was (and removes the .tmp).
  struct Replacement {
    int fd = -1;
    uint64_t size = 0;
    std::string error;
  };
  Replacement prepare_replacement(const std::vector<std::string>& compact_jsons) const;
  Result<void> finish_replacement(Replacement r, const std::vector<std::string>& tail);

  uint64_t size() const { return size_; }  // bytes in the file now
  const std::string& path() const { return path_; }

 private:
  OvsdbLog() = default;
  Result<void> write_record(std::string_view compact_json);
  // Shared by replace() and replace_text(); defined (and only used) in log.cc.
  template <typename TextAt>
  Result<void> replace_with(size_t count, TextAt text_at);

  std::string path_;       // as given to open()
  std::string real_path_;  // after following symbolic links
  int fd_ = -1;            // the database, O_APPEND
  int lock_fd_ = -1;       // the lock file, holding the fcntl lock
  dev_t lock_dev_ = 0;     // the lock file's identity in the in-process table
  ino_t lock_ino_ = 0;
  uint64_t size_ = 0;
  bool broken_ = false;    // a failed append could not be cut off again
  std::string record_;     // reused buffer for one record's bytes
};

// One record's bytes (header and body) for a compact JSON text. Used by the
// log and by tests that build files by hand.
std::string ovsdb_log_record(std::string_view compact_json);

}  // namespace trestle::ctl
