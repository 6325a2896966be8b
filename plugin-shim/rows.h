#pragma once
// Reading Open_vSwitch rows by column name, for the reconciler and the
// OpenFlow switch (the control thread; the rows are immutable).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ctl/ovsdb/database.h"

namespace trestle::shim {

using ctl::Datum;
using ctl::Row;
using ctl::TableSchema;
using ctl::Uuid;

// Columns of one row by name.
class RowView {
 public:
  RowView(const TableSchema& ts, const Row& r) : ts_(ts), r_(r) {}
  const Datum& operator[](const char* column) const { return r_.cols[size_t(ts_.column(column))]; }
  std::string str(const char* c) const {
    const Datum& d = (*this)[c];
    return d.empty() ? "" : d.keys()[0].string();
  }
  std::optional<int64_t> integer(const char* c) const {
    const Datum& d = (*this)[c];
    if (d.empty()) return std::nullopt;
    return d.keys()[0].integer();
  }
  std::map<std::string, std::string> smap(const char* c) const {
    std::map<std::string, std::string> m;
    const Datum& d = (*this)[c];
    for (size_t i = 0; i < d.size(); ++i) m[d.keys()[i].string()] = d.values()[i].string();
    return m;
  }
  std::vector<Uuid> refs(const char* c) const {
    std::vector<Uuid> v;
    for (auto& a : (*this)[c].keys()) v.push_back(a.uuid());
    return v;
  }
  const Uuid& uuid() const { return r_.uuid(); }

 private:
  const TableSchema& ts_;
  const Row& r_;
};

// The tables the switch reads.
struct Tables {
  const ctl::Database& db;
  int ovs, bridge, port, iface, controller;
  explicit Tables(const ctl::Database& d)
      : db(d),
        ovs(d.schema().table("Open_vSwitch")),
        bridge(d.schema().table("Bridge")),
        port(d.schema().table("Port")),
        iface(d.schema().table("Interface")),
        controller(d.schema().table("Controller")) {}
  const TableSchema& ts(int t) const { return db.schema().tables[size_t(t)]; }
  std::optional<RowView> row(int t, const Uuid& u) const {
    const Row* r = db.row(t, u);
    if (!r) return std::nullopt;
    return RowView(ts(t), *r);
  }
};

}  // namespace trestle::shim
