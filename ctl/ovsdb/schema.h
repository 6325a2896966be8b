#pragma once
// A database schema (RFC 7047 section 3.2): tables, their columns with
// types and constraints, root tables, unique indexes and row limits. Every
// table also has the implicit columns _uuid (index 0) and _version (1).
//
// The Open_vSwitch schema 8.3.1 and the _Server schema are compiled in from
// ctl/ovsdb/*.ovsschema (the Open_vSwitch file is Debian's, unchanged).
//
// Thread-safety: immutable after parsing.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "ctl/json.h"
#include "ctl/ovsdb/types.h"

namespace trestle::ctl {

struct ColumnSchema {
  std::string name;
  ColumnType type;
  bool ephemeral = false;  // never written to disk
  bool is_mutable = true;  // false: set only by insert
  int ref_table = -1;      // key's referenced table index (uuid columns)
  int value_ref_table = -1;
};

struct TableSchema {
  static constexpr int kUuid = 0, kVersion = 1;
  std::string name;
  std::vector<ColumnSchema> columns;  // [0] _uuid, [1] _version, then the schema's
  std::map<std::string, int, std::less<>> by_name;
  bool is_root = false;
  uint64_t max_rows = UINT64_MAX;
  std::vector<std::vector<int>> indexes;  // each a set of column indexes
  // Columns holding references (strong or weak), for reference counting.
  std::vector<int> ref_columns;
  bool has_weak_refs = false;

  int column(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? -1 : it->second;
  }
};

struct DatabaseSchema {
  std::string name, version, cksum;
  std::vector<TableSchema> tables;
  std::map<std::string, int, std::less<>> by_name;
  Json json;         // as served by get_schema
  std::string text;  // json.dump(), what _Server's Database.schema holds

  static Result<std::shared_ptr<const DatabaseSchema>> parse(const Json& j);
  int table(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? -1 : it->second;
  }
};

// The schema texts compiled into the binary.
std::string_view vswitch_schema_text();
std::string_view server_schema_text();

}  // namespace trestle::ctl
