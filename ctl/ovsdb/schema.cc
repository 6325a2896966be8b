#include "ctl/ovsdb/schema.h"

namespace trestle::ctl {
namespace {

bool valid_id(const std::string& s) {
  if (s.empty() || !(isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

ColumnSchema uuid_column(const char* name) {
  ColumnSchema c;
  c.name = name;
  c.type.key.type = AtomicType::kUuid;
  c.is_mutable = false;
  return c;
}

}  // namespace

Result<std::shared_ptr<const DatabaseSchema>> DatabaseSchema::parse(const Json& j) {
  auto s = std::make_shared<DatabaseSchema>();
  if (!j.is_object() || !j["name"].is_string() || !j["tables"].is_object())
    return make_error("schema: expected an object with \"name\" and \"tables\"");
  s->name = j["name"].as_string();
  if (j["version"].is_string()) s->version = j["version"].as_string();
  if (j["cksum"].is_string()) s->cksum = j["cksum"].as_string();
  s->json = j;
  s->text = j.dump();
  bool any_root = false;
  for (const auto& [tname, tj] : j["tables"].as_object()) {
    if (!tj.is_object() || !tj["columns"].is_object())
      return make_error("schema: table " + tname + " has no \"columns\" object");
    TableSchema t;
    t.name = tname;
    t.columns.push_back(uuid_column("_uuid"));
    t.columns.push_back(uuid_column("_version"));
    for (const auto& [cname, cj] : tj["columns"].as_object()) {
      if (!valid_id(cname) || cname[0] == '_')
        return make_error("schema: table " + tname + ": bad column name " + cname);
      ColumnSchema c;
      c.name = cname;
      std::string why;
      auto type = ColumnType::from_json(cj["type"], &why);
      if (!type) return make_error("schema: " + tname + "." + cname + ": " + why);
      c.type = *type;
      c.ephemeral = cj["ephemeral"].is_bool() && cj["ephemeral"].as_bool();
      c.is_mutable = !cj["mutable"].is_bool() || cj["mutable"].as_bool();
      t.columns.push_back(std::move(c));
    }
    for (size_t i = 0; i < t.columns.size(); ++i) t.by_name[t.columns[i].name] = int(i);
    t.is_root = tj["isRoot"].is_bool() && tj["isRoot"].as_bool();
    any_root |= t.is_root;
    if (tj["maxRows"].is_integer()) t.max_rows = uint64_t(tj["maxRows"].as_integer());
    if (tj["indexes"].is_array()) {
      for (const Json& ij : tj["indexes"].as_array()) {
        std::vector<int> cols;
        if (!ij.is_array()) return make_error("schema: " + tname + ": bad index");
        for (const Json& cn : ij.as_array()) {
          int c = cn.is_string() ? t.column(cn.as_string()) : -1;
          if (c < 0) return make_error("schema: " + tname + ": index names an unknown column");
          cols.push_back(c);
        }
        t.indexes.push_back(std::move(cols));
      }
    }
    s->by_name[tname] = int(s->tables.size());
    s->tables.push_back(std::move(t));
  }
  // RFC 7047: a schema marking no table as root treats them all as roots
  // (what OVS does for schemas older than isRoot).
  for (auto& t : s->tables) {
    if (!any_root) t.is_root = true;
    for (size_t i = 2; i < t.columns.size(); ++i) {
      ColumnSchema& c = t.columns[i];
      if (!c.type.key.ref_table.empty()) {
        c.ref_table = s->table(c.type.key.ref_table);
        if (c.ref_table < 0)
          return make_error("schema: " + t.name + "." + c.name + " refers to unknown table " +
                            c.type.key.ref_table);
      }
      if (c.type.value && !c.type.value->ref_table.empty()) {
        c.value_ref_table = s->table(c.type.value->ref_table);
        if (c.value_ref_table < 0)
          return make_error("schema: " + t.name + "." + c.name + " refers to unknown table " +
                            c.type.value->ref_table);
      }
      if (c.ref_table >= 0 || c.value_ref_table >= 0) {
        t.ref_columns.push_back(int(i));
        t.has_weak_refs |= (c.ref_table >= 0 && c.type.key.weak) ||
                           (c.value_ref_table >= 0 && c.type.value->weak);
      }
    }
  }
  return std::shared_ptr<const DatabaseSchema>(std::move(s));
}

}  // namespace trestle::ctl
