#pragma once
// An OVSDB database in memory and its transactions (RFC 7047 section 5.2):
// every operation (insert with uuid-name and forward references, select,
// update, mutate, delete, wait, commit, abort, comment, assert), executed on
// a private overlay of the rows they touch and committed all or nothing
// after the schema's whole-transaction checks: referential integrity
// (strong references must resolve, a referenced row cannot be deleted),
// garbage collection of non-root rows nothing references any more, weak
// references to deleted rows dropped, cardinality, unique indexes and
// maxRows. Error objects and their strings are OVS's (compat-ovsdb.md §4).
//
// Rows are immutable once committed (shared_ptr<const Row>): a commit
// swaps pointers, and hands the old and new versions of every changed row
// to whoever watches (monitors, the on-disk log) without copying them.
//
// Thread-safety: one thread (the control thread) owns a Database and calls
// everything.

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ctl/json.h"
#include "ctl/ovsdb/schema.h"
#include "ctl/ovsdb/types.h"

namespace trestle::ctl {

struct Row {
  std::vector<Datum> cols;  // one per schema column; [0] = _uuid, [1] = _version
  const Uuid& uuid() const { return cols[TableSchema::kUuid].keys()[0].uuid(); }
};
using RowPtr = std::shared_ptr<const Row>;

struct IndexKey {
  std::vector<Datum> values;
  bool operator==(const IndexKey&) const = default;
};
struct IndexKeyHash {
  size_t operator()(const IndexKey& k) const {
    size_t h = 0;
    for (auto& d : k.values) h = h * 31 + d.hash();
    return h;
  }
};

struct Table {
  const TableSchema* schema = nullptr;
  std::unordered_map<Uuid, RowPtr, UuidHash> rows;
  std::vector<std::unordered_map<IndexKey, Uuid, IndexKeyHash>> indexes;  // per schema index
};

// One committed row change: insert (old null), delete (new null) or modify.
struct RowChange {
  int table;
  RowPtr old_row, new_row;
};
struct Commit {
  std::vector<RowChange> changes;
  std::string comment;
  bool durable = false;  // a "commit" op asked for durability
};

// A condition of a where clause (also monitor_cond's, which adds true/false).
struct Clause {
  enum Func : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIncludes, kExcludes, kTrue, kFalse };
  int column = -1;
  Func func = kTrue;
  Datum arg;
};
// Parses a where array of `table`. Named UUIDs resolve through `names`
// (null: not allowed).
DbStatus parse_where(const TableSchema& table, const Json& where, NamedUuids* names,
                     bool allow_booleans, std::vector<Clause>* out);
bool row_matches(const TableSchema& table, const Row& row, const std::vector<Clause>& where);

class Database {
 public:
  explicit Database(std::shared_ptr<const DatabaseSchema> schema);

  const DatabaseSchema& schema() const { return *schema_; }
  const std::shared_ptr<const DatabaseSchema>& schema_ptr() const { return schema_; }
  const Table& table(int t) const { return tables_[size_t(t)]; }
  const Row* row(int t, const Uuid& u) const;

  struct Context {
    int64_t now_ms = 0;      // monotonic
    int64_t started_ms = 0;  // when the request arrived (wait timeouts)
    std::function<bool(const std::string& lock)> holds_lock;
    bool reserved = false;   // _Server: writes are "not allowed"
  };
  struct Outcome {
    Json result;             // the transact reply's array
    bool blocked = false;    // a "wait" is not satisfied yet: run again later
    int64_t deadline_ms = -1;  // when blocked: when the wait times out (-1: never)
    std::shared_ptr<const Commit> commit;  // what changed (null: nothing)
  };
  // Runs the operations of a transact request (params after the db name).
  Outcome transact(const Json::Array& ops, size_t first_op, const Context& ctx);

  // Every commit, after the rows changed.
  void set_commit_hook(std::function<void(const Commit&)> hook) { hook_ = std::move(hook); }

  // The on-disk log (compat-ovsdb.md §9): one transaction record, or the
  // rows of a compacted file. Ephemeral columns are never written.
  // Returns null when the commit changed only ephemeral columns.
  Json log_record(const Commit& c, int64_t wall_ms) const;
  Json snapshot_record(int64_t wall_ms, const std::string& comment) const;
  // The same from rows collected earlier: committed rows never change, so
  // another thread may serialize them while this one goes on committing.
  std::vector<std::pair<int, RowPtr>> all_rows() const;
  static Json snapshot_of(const DatabaseSchema& s, const std::vector<std::pair<int, RowPtr>>& rows,
                          int64_t wall_ms, const std::string& comment);
  // Replays a record read back from disk (either flavour, "_is_diff" too).
  // Call rebuild() after the last one.
  DbStatus replay(const Json& record);
  void rebuild();

  size_t n_rows() const;

 private:
  friend class Txn;
  void apply(Commit& c, const std::unordered_map<Uuid, int, UuidHash>& ref_delta);

  std::shared_ptr<const DatabaseSchema> schema_;
  std::vector<Table> tables_;
  // Strong references to each referenced row (rows with none are absent).
  std::unordered_map<Uuid, uint32_t, UuidHash> refs_;
  std::function<void(const Commit&)> hook_;
};

// A row as JSON: the given columns (all when empty), as select returns it.
Json row_to_json(const TableSchema& t, const Row& r, const std::vector<int>& columns);

}  // namespace trestle::ctl
