#include "ctl/ovsdb/database.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace trestle::ctl {
namespace {

// A datum the way OVS prints it in messages ("br-int", "1", "[a, b]").
std::string datum_text(const ColumnType& t, const Datum& d) {
  auto atom = [](const Atom& a) { return atom_text(a); };
  if (t.is_scalar()) return d.empty() ? "" : atom(d.keys()[0]);
  std::string s = t.is_map() ? "{" : "[";
  for (size_t i = 0; i < d.size(); ++i) {
    if (i) s += ", ";
    s += atom(d.keys()[i]);
    if (t.is_map()) {
      s += '=';  // (not "=" + ...: GCC 12's -Wrestrict false positive at -O3)
      s += atom(d.values()[i]);
    }
  }
  s += t.is_map() ? '}' : ']';
  return s;
}

// Calls f(uuid, strong) for every reference a row's column holds.
template <typename F>
void for_each_ref(const ColumnSchema& c, const Datum& d, F&& f) {
  if (c.ref_table >= 0)
    for (auto& k : d.keys()) f(k.uuid(), c.ref_table, !c.type.key.weak);
  if (c.value_ref_table >= 0)
    for (auto& v : d.values()) f(v.uuid(), c.value_ref_table, !c.type.value->weak);
}

// Calls f(uuid, table, +1|-1) for references in `b` and not in `a` (+1) and
// in `a` and not in `b` (-1), strong ones only.
template <typename F>
void for_each_strong_ref_change(const ColumnSchema& c, const Datum* a, const Datum* b, F&& f) {
  static const std::vector<Atom> none;
  // Keys are sorted: a merge. Map values are not: count, then cancel.
  auto merge = [&](const std::vector<Atom>& xa, const std::vector<Atom>& xb, int table) {
    size_t i = 0, j = 0;
    while (i < xa.size() || j < xb.size()) {
      if (j == xb.size() || (i < xa.size() && xa[i] < xb[j])) f(xa[i++].uuid(), table, -1);
      else if (i == xa.size() || xb[j] < xa[i]) f(xb[j++].uuid(), table, +1);
      else ++i, ++j;
    }
  };
  auto count = [&](const std::vector<Atom>& xa, const std::vector<Atom>& xb, int table) {
    std::unordered_map<Uuid, int, UuidHash> n;
    for (auto& x : xa) --n[x.uuid()];
    for (auto& x : xb) ++n[x.uuid()];
    for (auto& [u, k] : n)
      for (int i = 0; i < std::abs(k); ++i) f(u, table, k > 0 ? 1 : -1);
  };
  if (c.ref_table >= 0 && !c.type.key.weak)
    merge(a ? a->keys() : none, b ? b->keys() : none, c.ref_table);
  if (c.value_ref_table >= 0 && !c.type.value->weak)
    count(a ? a->values() : none, b ? b->values() : none, c.value_ref_table);
}

OvsdbError error_of(std::string error, std::string details) {
  return OvsdbError{std::move(error), std::move(details), std::nullopt};
}

}  // namespace

Json row_to_json(const TableSchema& t, const Row& r, const std::vector<int>& columns) {
  Json::Object o;
  if (columns.empty()) {
    for (size_t c = 0; c < t.columns.size(); ++c)
      o[t.columns[c].name] = r.cols[c].to_json(t.columns[c].type);
  } else {
    for (int c : columns) o[t.columns[size_t(c)].name] = r.cols[size_t(c)].to_json(t.columns[size_t(c)].type);
  }
  return o;
}

DbStatus parse_where(const TableSchema& t, const Json& where, NamedUuids* names,
                     bool allow_booleans, std::vector<Clause>* out) {
  if (!where.is_array()) return syntax_error(where, "array of conditions expected");
  for (const Json& cj : where.as_array()) {
    Clause cl;
    if (allow_booleans && cj.is_bool()) {
      cl.func = cj.as_bool() ? Clause::kTrue : Clause::kFalse;
      out->push_back(std::move(cl));
      continue;
    }
    if (!cj.is_array() || cj.as_array().size() != 3 || !cj.as_array()[0].is_string() ||
        !cj.as_array()[1].is_string())
      return syntax_error(cj, "Parse error in condition.");
    const std::string& cname = cj.as_array()[0].as_string();
    cl.column = t.column(cname);
    if (cl.column < 0)
      return OvsdbError{"unknown column", "No column " + cname + " in table " + t.name + ".", cj};
    const ColumnType& ct = t.columns[size_t(cl.column)].type;
    static const std::pair<const char*, Clause::Func> funcs[] = {
        {"==", Clause::kEq}, {"!=", Clause::kNe}, {"<", Clause::kLt},
        {"<=", Clause::kLe}, {">", Clause::kGt}, {">=", Clause::kGe},
        {"includes", Clause::kIncludes}, {"excludes", Clause::kExcludes}};
    const std::string& fname = cj.as_array()[1].as_string();
    bool found = false;
    for (auto& [n, f] : funcs)
      if (fname == n) cl.func = f, found = true;
    if (!found) return OvsdbError{"unknown function", "No function named " + fname + ".", std::nullopt};
    ColumnType at = ct;
    at.min = 0;
    if (cl.func >= Clause::kLt && cl.func <= Clause::kGe) {
      if (ct.is_map() || ct.max != 1 ||
          (ct.key.type != AtomicType::kInteger && ct.key.type != AtomicType::kReal))
        return syntax_error(cj, "Type mismatch: \"" + fname +
                                    "\" operator may not be applied to column " + cname +
                                    " of type " + atomic_type_name(ct.key.type) + ".");
      at.min = 1;
    } else if (cl.func == Clause::kIncludes || cl.func == Clause::kExcludes) {
      at.max = ColumnType::kUnlimited;
    }
    if (auto e = Datum::from_json(at, cj.as_array()[2], names, &cl.arg)) return e;
    out->push_back(std::move(cl));
  }
  return std::nullopt;
}

bool row_matches(const TableSchema& t, const Row& r, const std::vector<Clause>& where) {
  for (const Clause& c : where) {
    if (c.func == Clause::kTrue) continue;
    if (c.func == Clause::kFalse) return false;
    const Datum& d = r.cols[size_t(c.column)];
    bool is_map = t.columns[size_t(c.column)].type.is_map();
    bool ok = false;
    switch (c.func) {
      case Clause::kEq: ok = d == c.arg; break;
      case Clause::kNe: ok = d != c.arg; break;
      case Clause::kLt: ok = !d.empty() && d.keys()[0] < c.arg.keys()[0]; break;
      case Clause::kLe: ok = !d.empty() && d.keys()[0] <= c.arg.keys()[0]; break;
      case Clause::kGt: ok = !d.empty() && d.keys()[0] > c.arg.keys()[0]; break;
      case Clause::kGe: ok = !d.empty() && d.keys()[0] >= c.arg.keys()[0]; break;
      case Clause::kIncludes: ok = d.includes(c.arg, is_map); break;
      case Clause::kExcludes: ok = d.excludes(c.arg, is_map); break;
      default: break;
    }
    if (!ok) return false;
  }
  return true;
}

// One transaction's overlay over the database.
class Txn {
 public:
  Txn(Database& db, const Database::Context& ctx) : db_(db), ctx_(ctx), changes_(db.tables_.size()) {}

  Database::Outcome run(const Json::Array& ops, size_t first);

 private:
  struct Change {
    RowPtr old_row;
    std::shared_ptr<Row> row;  // null: deleted
    bool inserted() const { return !old_row; }
  };
  using Changes = std::unordered_map<Uuid, Change, UuidHash>;

  const TableSchema& ts(int t) const { return *db_.tables_[size_t(t)].schema; }
  const Row* get(int t, const Uuid& u) const {
    auto& ch = changes_[size_t(t)];
    if (auto it = ch.find(u); it != ch.end()) return it->second.row.get();
    auto& rows = db_.tables_[size_t(t)].rows;
    auto it = rows.find(u);
    return it == rows.end() ? nullptr : it->second.get();
  }
  Row* get_mut(int t, const Uuid& u) {
    auto& ch = changes_[size_t(t)];
    if (auto it = ch.find(u); it != ch.end()) return it->second.row.get();
    auto& rows = db_.tables_[size_t(t)].rows;
    auto it = rows.find(u);
    if (it == rows.end()) return nullptr;
    Change& c = ch[u];
    c.old_row = it->second;
    c.row = std::make_shared<Row>(*it->second);
    return c.row.get();
  }
  void remove(int t, const Uuid& u) {
    auto& ch = changes_[size_t(t)];
    if (auto it = ch.find(u); it != ch.end()) {
      it->second.row.reset();
      return;
    }
    ch[u].old_row = db_.tables_[size_t(t)].rows.at(u);
  }
  // Rows of table t matching where, in the overlay.
  template <typename F>
  void for_each_match(int t, const std::vector<Clause>& where, F&& f) {
    // `_uuid == X`: one lookup instead of a scan (how clients address rows).
    for (const Clause& c : where)
      if (c.column == TableSchema::kUuid && c.func == Clause::kEq) {
        if (c.arg.size() != 1) return;
        const Uuid& u = c.arg.keys()[0].uuid();
        if (const Row* r = get(t, u); r && row_matches(ts(t), *r, where)) f(u, *r);
        return;
      }
    std::vector<Uuid> hits;
    for (auto& [u, r] : db_.tables_[size_t(t)].rows) {
      if (changes_[size_t(t)].count(u)) continue;
      if (row_matches(ts(t), *r, where)) hits.push_back(u);
    }
    for (auto& [u, c] : changes_[size_t(t)])
      if (c.row && row_matches(ts(t), *c.row, where)) hits.push_back(u);
    for (auto& u : hits)
      if (const Row* r = get(t, u)) f(u, *r);
  }

  // Operations: each returns its result or an error.
  DbStatus op_insert(const Json& op, int t, Json* result);
  DbStatus op_select(const Json& op, int t, Json* result);
  DbStatus op_update(const Json& op, int t, Json* result);
  DbStatus op_mutate(const Json& op, int t, Json* result);
  DbStatus op_delete(const Json& op, int t, Json* result);
  DbStatus op_wait(const Json& op, int t, Json* result);
  DbStatus parse_row(const Json& rj, int t, bool for_update, const Json& op,
                     std::vector<std::pair<int, Datum>>* out);
  DbStatus parse_columns(const Json& cj, int t, std::vector<int>* out);
  DbStatus mutate(int t, Row& r, int column, const std::string& mutator, const Json& arg,
                  const Json& mj);

  // Whole-transaction checks, then the commit.
  DbStatus precommit();
  DbStatus check_indexes(int t);

  Database& db_;
  const Database::Context& ctx_;
  std::vector<Changes> changes_;
  NamedUuids names_;
  std::string comment_;
  bool durable_ = false;
  bool blocked_ = false;
  int64_t deadline_ = -1;
  std::unordered_map<Uuid, int, UuidHash> ref_delta_;
};

DbStatus Txn::parse_columns(const Json& cj, int t, std::vector<int>* out) {
  if (!cj.is_array()) return syntax_error(cj, "array of column names expected");
  for (const Json& n : cj.as_array()) {
    int c = n.is_string() ? ts(t).column(n.as_string()) : -1;
    if (c < 0)
      return OvsdbError{"syntax error",
                        (n.is_string() ? n.as_string() : n.dump()) + " is not a valid column name",
                        cj};
    out->push_back(c);
  }
  return std::nullopt;
}

DbStatus Txn::parse_row(const Json& rj, int t, bool for_update, const Json& op,
                        std::vector<std::pair<int, Datum>>* out) {
  if (!rj.is_object()) return syntax_error(rj, "Object expected for row.");
  const TableSchema& s = ts(t);
  for (const auto& [name, vj] : rj.as_object()) {
    int c = s.column(name);
    if (c < 0)
      return OvsdbError{"unknown column", "No column " + name + " in table " + s.name + ".", rj};
    const ColumnSchema& col = s.columns[size_t(c)];
    if (c == TableSchema::kUuid || c == TableSchema::kVersion || (for_update && !col.is_mutable))
      return OvsdbError{"constraint violation",
                        "Cannot update immutable column " + name + " in table " + s.name + ".",
                        op};
    Datum d;
    if (auto e = Datum::from_json(col.type, vj, &names_, &d)) return e;
    out->emplace_back(c, std::move(d));
  }
  return std::nullopt;
}

DbStatus Txn::op_insert(const Json& op, int t, Json* result) {
  Uuid u;
  bool explicit_uuid = false;
  if (op.has("uuid")) {
    auto parsed = op["uuid"].is_string() ? Uuid::parse(op["uuid"].as_string()) : std::nullopt;
    if (!parsed) return syntax_error(op["uuid"], "bad \"uuid\"");
    u = *parsed;
    explicit_uuid = true;
  }
  if (op.has("uuid-name")) {
    const Json& nj = op["uuid-name"];
    if (!nj.is_string()) return syntax_error(nj, "uuid-name must be a string");
    bool fresh = explicit_uuid ? names_.define_as(nj.as_string(), u) : names_.define(nj.as_string(), &u);
    if (!fresh)
      return OvsdbError{"duplicate uuid-name",
                        "This \"uuid-name\" appeared on an earlier \"insert\" operation.", nj};
  } else if (!explicit_uuid) {
    u = Uuid::random();
  }
  for (size_t i = 0; i < changes_.size(); ++i)
    if (get(int(i), u) || changes_[i].count(u))
      return error_of("duplicate uuid",
                      "This UUID would duplicate a UUID already present within the table or "
                      "deleted within the same transaction.");
  std::vector<std::pair<int, Datum>> values;
  if (op.has("row"))
    if (auto e = parse_row(op["row"], t, false, op, &values)) return e;
  const TableSchema& s = ts(t);
  auto row = std::make_shared<Row>();
  row->cols.reserve(s.columns.size());
  for (auto& c : s.columns) row->cols.push_back(Datum::default_of(c.type));
  row->cols[TableSchema::kUuid] = Datum(Atom(u));
  for (auto& [c, d] : values) row->cols[size_t(c)] = std::move(d);
  changes_[size_t(t)][u] = Change{nullptr, std::move(row)};
  *result = Json::Object{{"uuid", Json::Array{"uuid", u.str()}}};
  return std::nullopt;
}

DbStatus Txn::op_select(const Json& op, int t, Json* result) {
  std::vector<Clause> where;
  if (auto e = parse_where(ts(t), op["where"], &names_, false, &where)) return e;
  std::vector<int> columns;
  if (op.has("columns"))
    if (auto e = parse_columns(op["columns"], t, &columns)) return e;
  Json::Array rows;
  if (op.has("columns") && columns.empty()) {
    for_each_match(t, where, [&](const Uuid&, const Row&) { rows.push_back(Json::Object{}); });
  } else {
    for_each_match(t, where,
                   [&](const Uuid&, const Row& r) { rows.push_back(row_to_json(ts(t), r, columns)); });
  }
  *result = Json::Object{{"rows", std::move(rows)}};
  return std::nullopt;
}

DbStatus Txn::op_update(const Json& op, int t, Json* result) {
  std::vector<Clause> where;
  if (auto e = parse_where(ts(t), op["where"], &names_, false, &where)) return e;
  std::vector<std::pair<int, Datum>> values;
  if (auto e = parse_row(op["row"], t, true, op, &values)) return e;
  int64_t count = 0;
  std::vector<Uuid> hits;
  for_each_match(t, where, [&](const Uuid& u, const Row&) { hits.push_back(u); });
  for (auto& u : hits) {
    Row* r = get_mut(t, u);
    for (auto& [c, d] : values) r->cols[size_t(c)] = d;
    ++count;
  }
  *result = Json::Object{{"count", count}};
  return std::nullopt;
}

DbStatus Txn::mutate(int t, Row& r, int column, const std::string& m, const Json& arg,
                     const Json& mj) {
  const ColumnSchema& col = ts(t).columns[size_t(column)];
  const ColumnType& ct = col.type;
  Datum& d = r.cols[size_t(column)];
  bool arith = m == "+=" || m == "-=" || m == "*=" || m == "/=" || m == "%=";
  if (arith) {
    BaseType b = ct.key;
    b.enumeration.clear();
    b.min_integer = INT64_MIN, b.max_integer = INT64_MAX;
    b.min_real = -INFINITY, b.max_real = INFINITY;
    Atom a;
    if (auto e = atom_from_json(b, arg, &names_, &a)) return e;
    std::vector<Atom>& keys = d.mutable_keys();
    for (Atom& k : keys) {
      if (ct.key.type == AtomicType::kInteger) {
        int64_t x = k.integer(), y = a.integer(), z = 0;
        bool overflow = false;
        if (m == "+=") overflow = __builtin_add_overflow(x, y, &z);
        else if (m == "-=") overflow = __builtin_sub_overflow(x, y, &z);
        else if (m == "*=") overflow = __builtin_mul_overflow(x, y, &z);
        else {
          if (y == 0) return error_of("domain error", "Division by zero.");
          if (x == INT64_MIN && y == -1) overflow = true;
          else z = m == "/=" ? x / y : x % y;
        }
        if (overflow)
          return error_of("range error", "Result of \"" + m + "\" operation is out of range.");
        k = Atom(z);
      } else {
        double x = k.real(), y = a.real(), z = 0;
        if (m == "+=") z = x + y;
        else if (m == "-=") z = x - y;
        else if (m == "*=") z = x * y;
        else if (m == "/=") {
          if (y == 0) return error_of("domain error", "Division by zero.");
          z = x / y;
        } else {
          return syntax_error(mj, "Type mismatch: \"%=\" operator may not be applied to column " +
                                      col.name + " of type real.");
        }
        if (!std::isfinite(z))
          return error_of("range error", "Result of \"" + m + "\" operation is out of range.");
        k = Atom(z);
      }
    }
    size_t n = keys.size();
    d.sort_unique(false);
    if (d.size() != n)
      return error_of("constraint violation",
                      "Result of \"" + m + "\" operation contains duplicate values.");
    return d.check(ct);
  }
  if (m == "insert" || m == "delete") {
    ColumnType at = ct;
    at.min = 0;
    at.max = ColumnType::kUnlimited;
    Datum x;
    bool match_values = ct.is_map();
    if (m == "delete" && ct.is_map()) {
      // Delete takes a map (matching pairs) or a set of keys.
      if (Datum::from_json(at, arg, &names_, &x)) {
        ColumnType keys = at;
        keys.value.reset();
        if (auto e = Datum::from_json(keys, arg, &names_, &x)) return e;
        match_values = false;
      }
    } else if (auto e = Datum::from_json(at, arg, &names_, &x)) {
      return e;
    }
    if (m == "insert") d.union_with(x);
    else d.subtract(x, match_values);
    return d.check(ct);
  }
  return OvsdbError{"unknown mutator", "No mutator named " + m + ".", std::nullopt};
}

DbStatus Txn::op_mutate(const Json& op, int t, Json* result) {
  std::vector<Clause> where;
  if (auto e = parse_where(ts(t), op["where"], &names_, false, &where)) return e;
  const Json& mutations = op["mutations"];
  if (!mutations.is_array()) return syntax_error(op, "array of mutations expected");
  struct M {
    int column;
    std::string mutator;
    const Json* arg;
    const Json* json;
  };
  std::vector<M> ms;
  for (const Json& mj : mutations.as_array()) {
    if (!mj.is_array() || mj.as_array().size() != 3 || !mj.as_array()[0].is_string() ||
        !mj.as_array()[1].is_string())
      return syntax_error(mj, "Parse error in mutation.");
    const std::string& cname = mj.as_array()[0].as_string();
    int c = ts(t).column(cname);
    if (c < 0)
      return OvsdbError{"unknown column", "No column " + cname + " in table " + ts(t).name + ".", mj};
    if (!ts(t).columns[size_t(c)].is_mutable || c < 2)
      return OvsdbError{"constraint violation",
                        "Cannot mutate immutable column " + cname + " in table " + ts(t).name + ".",
                        mj};
    ms.push_back({c, mj.as_array()[1].as_string(), &mj.as_array()[2], &mj});
  }
  std::vector<Uuid> hits;
  for_each_match(t, where, [&](const Uuid& u, const Row&) { hits.push_back(u); });
  for (auto& u : hits) {
    Row* r = get_mut(t, u);
    for (auto& m : ms)
      if (auto e = mutate(t, *r, m.column, m.mutator, *m.arg, *m.json)) return e;
  }
  *result = Json::Object{{"count", int64_t(hits.size())}};
  return std::nullopt;
}

DbStatus Txn::op_delete(const Json& op, int t, Json* result) {
  std::vector<Clause> where;
  if (auto e = parse_where(ts(t), op["where"], &names_, false, &where)) return e;
  std::vector<Uuid> hits;
  for_each_match(t, where, [&](const Uuid& u, const Row&) { hits.push_back(u); });
  for (auto& u : hits) remove(t, u);
  *result = Json::Object{{"count", int64_t(hits.size())}};
  return std::nullopt;
}

DbStatus Txn::op_wait(const Json& op, int t, Json* result) {
  std::vector<Clause> where;
  if (auto e = parse_where(ts(t), op["where"], &names_, false, &where)) return e;
  std::vector<int> columns;
  if (op.has("columns")) {
    if (auto e = parse_columns(op["columns"], t, &columns)) return e;
  } else {
    for (size_t c = 0; c < ts(t).columns.size(); ++c) columns.push_back(int(c));
  }
  const Json& until = op["until"];
  if (!until.is_string() || (until.as_string() != "==" && until.as_string() != "!="))
    return syntax_error(op, "\"until\" must be \"==\" or \"!=\"");
  const Json& rows = op["rows"];
  if (!rows.is_array()) return syntax_error(op, "\"rows\" must be an array");
  int64_t timeout = -1;
  if (op.has("timeout")) {
    if (!op["timeout"].is_integer() || op["timeout"].as_integer() < 0)
      return syntax_error(op["timeout"], "\"timeout\" must be a non-negative integer");
    timeout = op["timeout"].as_integer();
  }
  std::vector<std::vector<Datum>> expected, actual;
  for (const Json& rj : rows.as_array()) {
    if (!rj.is_object()) return syntax_error(rj, "Object expected for row.");
    std::vector<Datum> v;
    for (int c : columns) {
      const ColumnSchema& col = ts(t).columns[size_t(c)];
      const Json& cj = rj[col.name];
      Datum d = Datum::default_of(col.type);
      if (rj.has(col.name))
        if (auto e = Datum::from_json(col.type, cj, &names_, &d)) return e;
      v.push_back(std::move(d));
    }
    for (const auto& member : rj.as_object()) {
      const std::string& name = member.first;
      if (std::find_if(columns.begin(), columns.end(),
                       [&](int c) { return ts(t).columns[size_t(c)].name == name; }) == columns.end())
        return OvsdbError{"syntax error", "No column " + name + " in table " + ts(t).name + ".", rj};
    }
    expected.push_back(std::move(v));
  }
  for_each_match(t, where, [&](const Uuid&, const Row& r) {
    std::vector<Datum> v;
    for (int c : columns) v.push_back(r.cols[size_t(c)]);
    actual.push_back(std::move(v));
  });
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  bool equal = expected == actual;
  if (equal == (until.as_string() == "==")) {
    *result = Json::Object{};
    return std::nullopt;
  }
  int64_t deadline = timeout < 0 ? -1 : ctx_.started_ms + timeout;
  if (timeout == 0 || (deadline >= 0 && ctx_.now_ms >= deadline))
    return error_of("timed out", "\"where\" clause test failed");
  blocked_ = true;
  deadline_ = deadline;
  return error_of("timed out", "\"where\" clause test failed");
}

Database::Outcome Txn::run(const Json::Array& ops, size_t first) {
  Database::Outcome out;
  Json::Array results;
  size_t n = ops.size() - first;
  bool failed = false;
  for (size_t i = first; i < ops.size(); ++i) {
    if (failed) {
      results.push_back(Json());
      continue;
    }
    const Json& op = ops[i];
    Json result;
    DbStatus err;
    auto prefix = [&](OvsdbError e) {
      e.details = "Parsing ovsdb operation " + std::to_string(i - first + 1) + " of " +
                  std::to_string(n) + " failed: " + e.details;
      return e;
    };
    const std::string* name = op.is_object() && op["op"].is_string() ? &op["op"].as_string() : nullptr;
    if (!op.is_object()) {
      err = prefix(OvsdbError{"syntax error", "Object expected.", std::nullopt});
    } else if (!name) {
      err = prefix(syntax_error(op, "Required 'op' member is missing."));
    } else if (*name == "commit") {
      if (!op["durable"].is_bool()) err = syntax_error(op, "\"durable\" must be a boolean");
      else durable_ = durable_ || op["durable"].as_bool();
      result = Json::Object{};
    } else if (*name == "abort") {
      err = error_of("aborted", "aborted by request");
    } else if (*name == "comment") {
      if (!op["comment"].is_string()) {
        err = syntax_error(op, "\"comment\" must be a string");
      } else {
        if (!comment_.empty()) comment_ += "\n";
        comment_ += op["comment"].as_string();
        result = Json::Object{};
      }
    } else if (*name == "assert") {
      if (!op["lock"].is_string()) {
        err = syntax_error(op, "\"lock\" must be a string");
      } else if (!ctx_.holds_lock || !ctx_.holds_lock(op["lock"].as_string())) {
        err = error_of("not owner", "Asserted lock " + op["lock"].as_string() + " not held.");
      } else {
        result = Json::Object{};
      }
    } else {
      static const char* table_ops[] = {"insert", "select", "update", "mutate", "delete", "wait"};
      int kind = -1;
      for (int k = 0; k < 6; ++k)
        if (*name == table_ops[k]) kind = k;
      if (kind < 0) {
        err = prefix(syntax_error(op, "No operation \"" + *name + "\""));
      } else if (!op["table"].is_string()) {
        err = prefix(syntax_error(op, "Required 'table' member is missing."));
      } else if (int t = db_.schema_->table(op["table"].as_string()); t < 0) {
        err = prefix(syntax_error(op, "No table named " + op["table"].as_string() + "."));
      } else if (ctx_.reserved && kind != 1 && kind != 5) {
        err = error_of("not allowed", *name + " operation not allowed on table in reserved database " +
                                          db_.schema_->name);
      } else {
        switch (kind) {
          case 0: err = op_insert(op, t, &result); break;
          case 1: err = op_select(op, t, &result); break;
          case 2: err = op_update(op, t, &result); break;
          case 3: err = op_mutate(op, t, &result); break;
          case 4: err = op_delete(op, t, &result); break;
          case 5: err = op_wait(op, t, &result); break;
        }
      }
    }
    if (blocked_) {
      out.blocked = true;
      out.deadline_ms = deadline_;
      return out;
    }
    if (err) {
      results.push_back(err->to_json());
      failed = true;
    } else {
      results.push_back(std::move(result));
    }
  }
  if (!failed) {
    if (auto e = precommit()) {
      results.push_back(e->to_json());
    } else {
      auto commit = std::make_shared<Commit>();
      commit->comment = std::move(comment_);
      commit->durable = durable_;
      for (size_t t = 0; t < changes_.size(); ++t)
        for (auto& [u, c] : changes_[t]) {
          if (c.row) c.row->cols[TableSchema::kVersion] = Datum(Atom(Uuid::random()));
          if (!c.old_row && !c.row) continue;  // inserted and deleted again
          commit->changes.push_back({int(t), c.old_row, std::move(c.row)});
        }
      if (!commit->changes.empty() || commit->durable) {
        db_.apply(*commit, ref_delta_);
        out.commit = std::move(commit);
      }
    }
  }
  out.result = std::move(results);
  return out;
}

DbStatus Txn::precommit() {
  // Rows an update left as they were are no change at all (no monitor
  // update, no log record).
  for (auto& ch : changes_)
    for (auto it = ch.begin(); it != ch.end();) {
      Change& c = it->second;
      bool same = c.old_row && c.row && c.old_row->cols.size() == c.row->cols.size();
      if (same)
        for (size_t i = 2; i < c.row->cols.size() && same; ++i)
          same = c.old_row->cols[i] == c.row->cols[i];
      it = same ? ch.erase(it) : std::next(it);
    }

  // Reference counts: the difference each changed row makes; new strong
  // references must resolve.
  for (size_t t = 0; t < changes_.size(); ++t) {
    const TableSchema& s = ts(int(t));
    if (s.ref_columns.empty()) continue;
    for (auto& [u, c] : changes_[t]) {
      for (int col : s.ref_columns) {
        const Datum* a = c.old_row ? &c.old_row->cols[size_t(col)] : nullptr;
        const Datum* b = c.row ? &c.row->cols[size_t(col)] : nullptr;
        DbStatus err;
        const Uuid& row_uuid = u;  // (clang 14 cannot capture a structured binding)
        for_each_strong_ref_change(s.columns[size_t(col)], a, b, [&](const Uuid& target, int tt, int d) {
          ref_delta_[target] += d;
          if (d > 0 && !err && !get(tt, target))
            err = error_of("referential integrity violation",
                           "Table " + s.name + " column " + s.columns[size_t(col)].name + " row " +
                               row_uuid.str() + " references nonexistent row " + target.str() +
                               " in table " + ts(tt).name + ".");
        });
        if (err) return err;
      }
    }
  }
  auto refs_of = [&](const Uuid& u) {
    auto it = db_.refs_.find(u);
    int64_t n = it == db_.refs_.end() ? 0 : it->second;
    auto d = ref_delta_.find(u);
    return n + (d == ref_delta_.end() ? 0 : d->second);
  };

  // Garbage collection: non-root rows nothing references any more, new
  // ones included, and what they alone referenced.
  std::vector<std::pair<int, Uuid>> work;
  for (size_t t = 0; t < changes_.size(); ++t) {
    if (ts(int(t)).is_root) continue;
    for (auto& [u, c] : changes_[t])
      if (c.row) work.emplace_back(int(t), u);
  }
  for (auto& [u, d] : ref_delta_) {
    if (d >= 0) continue;
    for (size_t t = 0; t < changes_.size(); ++t)
      if (!ts(int(t)).is_root && get(int(t), u)) work.emplace_back(int(t), u);
  }
  while (!work.empty()) {
    auto [t, u] = work.back();
    work.pop_back();
    const Row* r = get(t, u);
    if (!r || refs_of(u) > 0) continue;
    RowPtr content = changes_[size_t(t)].count(u) ? RowPtr(changes_[size_t(t)][u].row)
                                                  : db_.tables_[size_t(t)].rows.at(u);
    if (changes_[size_t(t)].count(u) && !changes_[size_t(t)][u].old_row) {
      changes_[size_t(t)].erase(u);  // inserted, never referenced: never existed
      for (int col : ts(t).ref_columns)
        for_each_strong_ref_change(ts(t).columns[size_t(col)], &content->cols[size_t(col)], nullptr,
                                   [&](const Uuid& target, int tt, int d) {
                                     ref_delta_[target] += d;
                                     if (!ts(tt).is_root) work.emplace_back(tt, target);
                                   });
      continue;
    }
    remove(t, u);
    for (int col : ts(t).ref_columns)
      for_each_strong_ref_change(ts(t).columns[size_t(col)], &content->cols[size_t(col)], nullptr,
                                 [&](const Uuid& target, int tt, int d) {
                                   ref_delta_[target] += d;
                                   if (!ts(tt).is_root) work.emplace_back(tt, target);
                                 });
  }

  // A deleted row nothing else lets go of.
  for (size_t t = 0; t < changes_.size(); ++t)
    for (auto& [u, c] : changes_[t])
      if (c.old_row && !c.row) {
        int64_t n = refs_of(u);
        if (n > 0)
          return error_of("referential integrity violation",
                          "cannot delete " + ts(int(t)).name + " row " + u.str() + " because of " +
                              std::to_string(n) + " remaining reference(s)");
      }

  // maxRows.
  for (size_t t = 0; t < changes_.size(); ++t) {
    const TableSchema& s = ts(int(t));
    if (s.max_rows == UINT64_MAX || changes_[t].empty()) continue;
    int64_t n = int64_t(db_.tables_[t].rows.size());
    for (auto& [u, c] : changes_[t]) n += (c.row ? 1 : 0) - (c.old_row ? 1 : 0);
    if (uint64_t(n) > s.max_rows)
      return error_of("constraint violation",
                      "transaction causes \"" + s.name + "\" table to contain " + std::to_string(n) +
                          " rows, greater than the schema-defined limit of " +
                          std::to_string(s.max_rows) + " row(s)");
  }

  // Weak references to rows that are gone are dropped, then cardinality.
  for (size_t t = 0; t < changes_.size(); ++t) {
    const TableSchema& s = ts(int(t));
    if (!s.has_weak_refs) continue;
    std::vector<Uuid> candidates;
    for (auto& [u, r] : db_.tables_[t].rows) candidates.push_back(u);
    for (auto& [u, c] : changes_[t])
      if (c.inserted() && c.row) candidates.push_back(u);
    for (const Uuid& u : candidates) {
      const Row* r = get(int(t), u);
      if (!r) continue;
      for (int col : s.ref_columns) {
        const ColumnSchema& cs = s.columns[size_t(col)];
        bool dangling = false;
        for_each_ref(cs, r->cols[size_t(col)], [&](const Uuid& target, int tt, bool strong) {
          if (!strong && !get(tt, target)) dangling = true;
        });
        if (!dangling) continue;
        Row* w = get_mut(int(t), u);
        Datum& d = w->cols[size_t(col)];
        Datum kept;
        for (size_t i = 0; i < d.size(); ++i) {
          bool gone = (cs.ref_table >= 0 && cs.type.key.weak && !get(cs.ref_table, d.keys()[i].uuid())) ||
                      (cs.value_ref_table >= 0 && cs.type.value->weak &&
                       !get(cs.value_ref_table, d.values()[i].uuid()));
          if (!gone)
            kept.insert(d.keys()[i], cs.type.is_map() ? std::optional<Atom>(d.values()[i]) : std::nullopt);
        }
        d = std::move(kept);
        if (auto e = d.check(cs.type)) return e;
      }
    }
  }

  for (size_t t = 0; t < changes_.size(); ++t)
    if (!ts(int(t)).indexes.empty() && !changes_[t].empty())
      if (auto e = check_indexes(int(t))) return e;
  return std::nullopt;
}

DbStatus Txn::check_indexes(int t) {
  const TableSchema& s = ts(t);
  const Table& table = db_.tables_[size_t(t)];
  for (size_t i = 0; i < s.indexes.size(); ++i) {
    const auto& cols = s.indexes[i];
    auto key_of = [&](const Row& r) {
      IndexKey k;
      for (int c : cols) k.values.push_back(r.cols[size_t(c)]);
      return k;
    };
    auto describe = [&](const Uuid& u) {
      auto it = changes_[size_t(t)].find(u);
      std::string how = it == changes_[size_t(t)].end()
                            ? "existed in the database before this transaction and was not modified by the transaction."
                            : it->second.inserted() ? "was inserted by this transaction."
                                                    : "existed in the database before this transaction, which modified some of the row's columns.";
      return "row, with UUID " + u.str() + ", " + how;
    };
    auto fail = [&](const IndexKey& k, const Uuid& first, const Uuid& second) {
      std::string values, names;
      for (size_t j = 0; j < cols.size(); ++j) {
        const ColumnSchema& c = s.columns[size_t(cols[j])];
        values += (j ? ", " : "") + datum_text(c.type, k.values[j]);
        names += std::string(j ? ", " : "") + "\"" + c.name + "\"";
      }
      return error_of("constraint violation",
                      "Transaction causes multiple rows in \"" + s.name +
                          "\" table to have identical values (" + values + ") for index on column" +
                          (cols.size() > 1 ? "s " : " ") + names + ".  First " + describe(first) +
                          "  Second " + describe(second));
    };
    std::unordered_map<IndexKey, Uuid, IndexKeyHash> mine;
    for (auto& [u, c] : changes_[size_t(t)]) {
      if (!c.row) continue;
      IndexKey k = key_of(*c.row);
      if (auto it = mine.find(k); it != mine.end()) return fail(k, it->second, u);
      auto db_it = table.indexes[i].find(k);
      if (db_it != table.indexes[i].end() && db_it->second != u &&
          !changes_[size_t(t)].count(db_it->second))
        return fail(k, db_it->second, u);
      mine.emplace(std::move(k), u);
    }
  }
  return std::nullopt;
}

Database::Database(std::shared_ptr<const DatabaseSchema> schema) : schema_(std::move(schema)) {
  tables_.resize(schema_->tables.size());
  for (size_t t = 0; t < tables_.size(); ++t) {
    tables_[t].schema = &schema_->tables[t];
    tables_[t].indexes.resize(schema_->tables[t].indexes.size());
  }
}

const Row* Database::row(int t, const Uuid& u) const {
  auto& rows = tables_[size_t(t)].rows;
  auto it = rows.find(u);
  return it == rows.end() ? nullptr : it->second.get();
}

size_t Database::n_rows() const {
  size_t n = 0;
  for (auto& t : tables_) n += t.rows.size();
  return n;
}

Database::Outcome Database::transact(const Json::Array& ops, size_t first_op, const Context& ctx) {
  Txn txn(*this, ctx);
  return txn.run(ops, first_op);
}

void Database::apply(Commit& c, const std::unordered_map<Uuid, int, UuidHash>& ref_delta) {
  for (auto& ch : c.changes) {
    Table& t = tables_[size_t(ch.table)];
    const TableSchema& s = *t.schema;
    for (size_t i = 0; i < s.indexes.size(); ++i) {
      auto key_of = [&](const Row& r) {
        IndexKey k;
        for (int col : s.indexes[i]) k.values.push_back(r.cols[size_t(col)]);
        return k;
      };
      if (ch.old_row) {
        auto it = t.indexes[i].find(key_of(*ch.old_row));
        if (it != t.indexes[i].end() && it->second == ch.old_row->uuid()) t.indexes[i].erase(it);
      }
      if (ch.new_row) t.indexes[i][key_of(*ch.new_row)] = ch.new_row->uuid();
    }
    if (ch.new_row) t.rows[ch.new_row->uuid()] = ch.new_row;
    else t.rows.erase(ch.old_row->uuid());
  }
  for (auto& [u, d] : ref_delta) {
    if (d == 0) continue;
    int64_t n = int64_t(refs_[u]) + d;
    if (n <= 0) refs_.erase(u);
    else refs_[u] = uint32_t(n);
  }
  if (hook_) hook_(c);
}

Json Database::log_record(const Commit& c, int64_t wall_ms) const {
  Json::Object rec;
  for (auto& ch : c.changes) {
    const TableSchema& s = *tables_[size_t(ch.table)].schema;
    const Uuid& u = ch.new_row ? ch.new_row->uuid() : ch.old_row->uuid();
    Json row;
    if (!ch.new_row) {
      row = Json();
    } else {
      Json::Object cols;
      for (size_t i = 2; i < s.columns.size(); ++i) {
        const ColumnSchema& col = s.columns[i];
        if (col.ephemeral) continue;
        const Datum& d = ch.new_row->cols[i];
        bool changed = ch.old_row ? d != ch.old_row->cols[i] : !d.is_default(col.type);
        if (!changed) continue;
        // "_is_diff" (as ovsdb-server 3.1 writes): a set or map column of a
        // modified row holds what changed, not the whole value (a bridge's
        // 10,000 ports are not rewritten for each port added).
        cols[col.name] = ch.old_row && col.type.is_composite()
                             ? Datum::diff(ch.old_row->cols[i], d, col.type.is_map()).to_json(col.type)
                             : d.to_json(col.type);
      }
      if (ch.old_row && cols.empty()) continue;  // only ephemeral columns changed
      row = std::move(cols);
    }
    Json& table = rec[s.name];
    if (table.is_null()) table = Json::Object{};
    table.as_object()[u.str()] = std::move(row);
  }
  if (rec.empty()) return Json();
  rec["_is_diff"] = true;
  rec["_date"] = wall_ms;
  if (!c.comment.empty()) rec["_comment"] = c.comment;
  return rec;
}

std::vector<std::pair<int, RowPtr>> Database::all_rows() const {
  std::vector<std::pair<int, RowPtr>> v;
  v.reserve(n_rows());
  for (size_t t = 0; t < tables_.size(); ++t)
    for (auto& [u, r] : tables_[t].rows) v.emplace_back(int(t), r);
  return v;
}

Json Database::snapshot_of(const DatabaseSchema& s, const std::vector<std::pair<int, RowPtr>>& rows,
                           int64_t wall_ms, const std::string& comment) {
  Json::Object rec;
  for (auto& [t, r] : rows) {
    const TableSchema& ts = s.tables[size_t(t)];
    Json::Object cols;
    for (size_t i = 2; i < ts.columns.size(); ++i) {
      const ColumnSchema& col = ts.columns[i];
      if (!col.ephemeral && !r->cols[i].is_default(col.type)) cols[col.name] = r->cols[i].to_json(col.type);
    }
    Json& table = rec[ts.name];
    if (table.is_null()) table = Json::Object{};
    table.as_object()[r->uuid().str()] = std::move(cols);
  }
  rec["_date"] = wall_ms;
  rec["_comment"] = comment;
  return rec;
}

Json Database::snapshot_record(int64_t wall_ms, const std::string& comment) const {
  return snapshot_of(*schema_, all_rows(), wall_ms, comment);
}

DbStatus Database::replay(const Json& record) {
  if (!record.is_object()) return syntax_error(record, "transaction record must be an object");
  bool is_diff = record["_is_diff"].is_bool() && record["_is_diff"].as_bool();
  for (const auto& [tname, rows] : record.as_object()) {
    if (tname.empty() || tname[0] == '_') continue;
    int t = schema_->table(tname);
    if (t < 0) return syntax_error(record, "No table named " + tname + ".");
    if (!rows.is_object()) return syntax_error(rows, "rows must be an object");
    Table& table = tables_[size_t(t)];
    const TableSchema& s = *table.schema;
    for (const auto& [ustr, rj] : rows.as_object()) {
      auto u = Uuid::parse(ustr);
      if (!u) return syntax_error(rows, "bad row UUID " + ustr);
      if (rj.is_null()) {
        table.rows.erase(*u);
        continue;
      }
      if (!rj.is_object()) return syntax_error(rj, "row must be an object or null");
      auto it = table.rows.find(*u);
      std::shared_ptr<Row> row;
      if (it == table.rows.end()) {
        row = std::make_shared<Row>();
        for (auto& c : s.columns) row->cols.push_back(Datum::default_of(c.type));
        row->cols[TableSchema::kUuid] = Datum(Atom(*u));
      } else {
        row = std::make_shared<Row>(*it->second);
      }
      for (const auto& [cname, vj] : rj.as_object()) {
        int c = s.column(cname);
        if (c < 2) continue;  // a column a newer schema had: dropped, as OVS converts
        const ColumnSchema& col = s.columns[size_t(c)];
        ColumnType loose = col.type;
        loose.min = 0;
        loose.max = ColumnType::kUnlimited;
        Datum d;
        if (auto e = Datum::from_json(is_diff && col.type.is_composite() ? loose : col.type, vj, nullptr, &d))
          return e;
        if (is_diff && col.type.is_composite() && it != table.rows.end())
          row->cols[size_t(c)].apply_diff(d, col.type.is_map());
        else
          row->cols[size_t(c)] = std::move(d);
      }
      row->cols[TableSchema::kVersion] = Datum(Atom(Uuid::random()));
      table.rows[*u] = std::move(row);
    }
  }
  return std::nullopt;
}

void Database::rebuild() {
  refs_.clear();
  for (Table& t : tables_) {
    for (auto& idx : t.indexes) idx.clear();
    for (auto& [u, r] : t.rows) {
      for (size_t i = 0; i < t.schema->indexes.size(); ++i) {
        IndexKey k;
        for (int c : t.schema->indexes[i]) k.values.push_back(r->cols[size_t(c)]);
        t.indexes[i][std::move(k)] = u;
      }
      for (int col : t.schema->ref_columns)
        for_each_ref(t.schema->columns[size_t(col)], r->cols[size_t(col)],
                     [&](const Uuid& target, int, bool strong) {
                       if (strong) ++refs_[target];
                     });
    }
  }
}

}  // namespace trestle::ctl
