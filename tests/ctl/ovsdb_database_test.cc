// Transactions on the Open_vSwitch schema, table-driven from what
// ovsdb-server 3.1 answered in ../shared/compat/traces/30-raw-rpc-errors-
// and-ops.trace (error names and details are the clients' contract).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "ctl/ovsdb/database.h"
#include "ctl/ovsdb/schema.h"

namespace trestle::ctl {
namespace {

Json J(const std::string& text) {
  auto j = Json::parse(text);
  EXPECT_TRUE(j.ok()) << text;
  return j.ok() ? j.value() : Json();
}

std::shared_ptr<const DatabaseSchema> vswitch() {
  static auto s = [] {
    auto j = Json::parse(vswitch_schema_text());
    EXPECT_TRUE(j.ok());
    auto schema = DatabaseSchema::parse(*j);
    EXPECT_TRUE(schema.ok()) << (schema.ok() ? "" : schema.error().message);
    return *schema;
  }();
  return s;
}

class OvsdbDb : public ::testing::Test {
 protected:
  OvsdbDb() : db(vswitch()) {
    db.set_commit_hook([this](const Commit& c) { commits.push_back(c); });
    Json r = tx(R"([{"op":"insert","table":"Open_vSwitch","row":{}}])");
    ovs = r.as_array()[0]["uuid"].as_array()[1].as_string();
  }
  Json tx(const std::string& ops, int64_t now = 0) {
    auto j = Json::parse(ops);
    EXPECT_TRUE(j.ok()) << ops;
    Database::Context ctx;
    ctx.now_ms = now;
    ctx.holds_lock = [](const std::string& l) { return l == "mine"; };
    auto out = db.transact(j->as_array(), 0, ctx);
    blocked = out.blocked;
    return out.result;
  }
  // Adds a bridge with one port and interface, as ovs-vsctl add-br does.
  void add_br(const std::string& name) {
    Json r = tx(R"([{"op":"insert","table":"Interface","row":{"name":")" + name +
                R"(","type":"internal"},"uuid-name":"i"},
       {"op":"insert","table":"Port","row":{"name":")" + name +
                R"(","interfaces":["named-uuid","i"]},"uuid-name":"p"},
       {"op":"insert","table":"Bridge","row":{"name":")" + name +
                R"(","ports":["named-uuid","p"]},"uuid-name":"b"},
       {"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["bridges","insert",["named-uuid","b"]]]}])");
    ASSERT_EQ(r.as_array().size(), 4u) << r.dump();
    ASSERT_FALSE(r.as_array()[3].has("error")) << r.dump();
  }
  static std::string error_of(const Json& r) {
    for (auto& e : r.as_array())
      if (e.has("error")) return e["error"].as_string() + ": " + (e.has("details") ? e["details"].as_string() : "");
    return "";
  }
  size_t rows(const char* table) { return db.table(db.schema().table(table)).rows.size(); }

  Database db;
  std::vector<Commit> commits;
  std::string ovs;
  bool blocked = false;
};

TEST(OvsdbSchema, SameAsDebiansVswitchSchema) {
  std::ifstream f("/usr/share/openvswitch/vswitch.ovsschema");
  ASSERT_TRUE(f) << "openvswitch-common's schema is missing";
  std::stringstream ss;
  ss << f.rdbuf();
  auto theirs = Json::parse(ss.str());
  ASSERT_TRUE(theirs.ok());
  auto ours = Json::parse(vswitch_schema_text());
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(*theirs, *ours);  // same tables, columns, types, constraints, indexes
  auto parsed = DatabaseSchema::parse(*ours);
  ASSERT_TRUE(parsed.ok());
  const DatabaseSchema& s = **parsed;
  EXPECT_EQ(s.version, "8.3.1");
  EXPECT_EQ(s.cksum, "3012963480 26720");
  const TableSchema& ovs = s.tables[size_t(s.table("Open_vSwitch"))];
  EXPECT_TRUE(ovs.is_root);
  EXPECT_EQ(ovs.max_rows, 1u);
  const TableSchema& port = s.tables[size_t(s.table("Port"))];
  EXPECT_FALSE(port.is_root);
  EXPECT_EQ(port.columns[size_t(port.column("interfaces"))].type.min, 1u);
  EXPECT_FALSE(port.columns[size_t(port.column("name"))].is_mutable);
  const TableSchema& bridge = s.tables[size_t(s.table("Bridge"))];
  EXPECT_TRUE(bridge.columns[size_t(bridge.column("datapath_id"))].ephemeral);
  ASSERT_EQ(bridge.indexes.size(), 1u);
}

TEST_F(OvsdbDb, InsertWithForwardReferenceAndSelect) {
  // The Bridge refers to a Port inserted after it (ovs-vsctl add-br, T:03).
  Json r = tx(R"([{"op":"insert","table":"Bridge","row":{"name":"br0","ports":["named-uuid","p"]},"uuid-name":"b"},
      {"op":"insert","table":"Port","row":{"name":"br0","interfaces":["named-uuid","i"]},"uuid-name":"p"},
      {"op":"insert","table":"Interface","row":{"name":"br0"},"uuid-name":"i"},
      {"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["bridges","insert",["named-uuid","b"]]]},
      {"op":"select","table":"Bridge","where":[["_uuid","==",["named-uuid","b"]]],"columns":["name"]}])");
  ASSERT_EQ(error_of(r), "") << r.dump();
  EXPECT_EQ(r.as_array()[4].dump(), R"({"rows":[{"name":"br0"}]})");
  EXPECT_EQ(rows("Bridge"), 1u);
  EXPECT_EQ(rows("Interface"), 1u);
}

TEST_F(OvsdbDb, NextCfgIncrementCountsAndSelects) {
  Json r = tx(R"([{"op":"mutate","table":"Open_vSwitch","where":[["_uuid","==",["uuid",")" + ovs +
              R"("]]],"mutations":[["next_cfg","+=",1]]},
      {"op":"select","table":"Open_vSwitch","where":[["_uuid","==",["uuid",")" + ovs +
              R"("]]],"columns":["next_cfg"]},{"op":"comment","comment":"ovs-vsctl add-br"}])");
  EXPECT_EQ(r.dump(), R"([{"count":1},{"rows":[{"next_cfg":1}]},{}])");
  EXPECT_EQ(commits.back().comment, "ovs-vsctl add-br");
}

TEST_F(OvsdbDb, DuplicateIndexIsAConstraintViolation) {
  add_br("br-int");
  Json r = tx(R"([{"op":"insert","table":"Bridge","row":{"name":"br-int"},"uuid-name":"b"},
      {"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["bridges","insert",["named-uuid","b"]]]}])");
  ASSERT_EQ(r.as_array().size(), 3u);  // the commit's error is an extra element
  EXPECT_EQ(r.as_array()[2]["error"].as_string(), "constraint violation");
  std::string d = r.as_array()[2]["details"].as_string();
  EXPECT_EQ(d.rfind("Transaction causes multiple rows in \"Bridge\" table to have identical values "
                    "(br-int) for index on column \"name\".  First row, with UUID ", 0), 0u) << d;
  EXPECT_NE(d.find("was inserted by this transaction."), std::string::npos) << d;
  EXPECT_EQ(rows("Bridge"), 1u);  // nothing committed
}

TEST_F(OvsdbDb, DanglingReferenceAndPortWithoutInterfaces) {
  Json r = tx(R"([{"op":"insert","table":"Bridge","row":{"name":"br-ri","ports":["uuid","11111111-2222-3333-4444-555555555555"]},"uuid-name":"b"},
      {"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["bridges","insert",["named-uuid","b"]]]}])");
  EXPECT_EQ(r.as_array()[2]["error"].as_string(), "referential integrity violation");
  EXPECT_NE(r.as_array()[2]["details"].as_string().find(
                "references nonexistent row 11111111-2222-3333-4444-555555555555 in table Port."),
            std::string::npos);
  // Port.interfaces has min 1: its default is the all-zero UUID (T:30 id 35).
  r = tx(R"([{"op":"insert","table":"Port","row":{"name":"orphan"},"uuid-name":"p"},
      {"op":"select","table":"Port","where":[["name","==","orphan"]],"columns":["name"]}])");
  ASSERT_EQ(r.as_array().size(), 3u) << r.dump();
  EXPECT_EQ(r.as_array()[1].dump(), R"({"rows":[{"name":"orphan"}]})");
  EXPECT_NE(r.as_array()[2]["details"].as_string().find(
                "references nonexistent row 00000000-0000-0000-0000-000000000000 in table Interface."),
            std::string::npos);
}

TEST_F(OvsdbDb, DelPortDropsTheReferenceAndGarbageCollects) {
  add_br("br0");
  Json r = tx(R"([{"op":"insert","table":"Interface","row":{"name":"vhu1","type":"dpdkvhostuser"},"uuid-name":"i"},
      {"op":"insert","table":"Port","row":{"name":"vhu1","interfaces":["named-uuid","i"],"tag":1},"uuid-name":"p"},
      {"op":"mutate","table":"Bridge","where":[["name","==","br0"]],"mutations":[["ports","insert",["named-uuid","p"]]]}])");
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(rows("Port"), 2u);
  std::string port = r.as_array()[1]["uuid"].as_array()[1].as_string();
  // Deleting a referenced row is refused (T:30 id 34).
  r = tx(R"([{"op":"delete","table":"Port","where":[["name","==","vhu1"]]}])");
  EXPECT_EQ(error_of(r), "referential integrity violation: cannot delete Port row " + port +
                             " because of 1 remaining reference(s)");
  // del-port: only the reference goes; Port and Interface follow (T:14).
  commits.clear();
  r = tx(R"([{"op":"mutate","table":"Bridge","where":[["name","==","br0"]],"mutations":[["ports","delete",["uuid",")" +
         port + R"("]]]}])");
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(rows("Port"), 1u);
  EXPECT_EQ(rows("Interface"), 1u);
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].changes.size(), 3u);  // bridge modified, port and interface deleted
  // del-br: the bridge and everything under it.
  r = tx(R"([{"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["bridges","delete",["set",[]]]]},
      {"op":"update","table":"Open_vSwitch","where":[],"row":{"bridges":["set",[]]}}])");
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(rows("Bridge"), 0u);
  EXPECT_EQ(rows("Port"), 0u);
  EXPECT_EQ(rows("Interface"), 0u);
}

TEST_F(OvsdbDb, UnreferencedNewRowOfNonRootTableNeverExists) {
  Json r = tx(R"([{"op":"insert","table":"Controller","row":{"target":"tcp:127.0.0.1:6633"}}])");
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(rows("Controller"), 0u);
  // A root table's row stays.
  r = tx(R"([{"op":"insert","table":"QoS","row":{"type":"linux-htb"}}])");
  EXPECT_EQ(rows("QoS"), 1u);
}

TEST_F(OvsdbDb, ErrorStringsOfTrace30) {
  add_br("br-int");
  struct Case {
    const char* ops;
    const char* expect;  // "error: details"
  } cases[] = {
      {R"([{"op":"insert","table":"Open_vSwitch","row":{}}])",
       "constraint violation: transaction causes \"Open_vSwitch\" table to contain 2 rows, greater than "
       "the schema-defined limit of 1 row(s)"},
      {R"([{"op":"insert","table":"Queue","row":{},"uuid-name":"q"},{"op":"insert","table":"Queue","row":{},"uuid-name":"q"}])",
       "duplicate uuid-name: This \"uuid-name\" appeared on an earlier \"insert\" operation."},
      {R"([{"op":"update","table":"Bridge","where":[["name","==","br-int"]],"row":{"no_such_column":1}}])",
       "unknown column: No column no_such_column in table Bridge."},
      {R"([{"op":"update","table":"Port","where":[["name","==","br-int"]],"row":{"tag":"abc"}}])",
       "syntax error: expected integer"},
      {R"([{"op":"update","table":"Bridge","where":[["name","==","br-int"]],"row":{"name":"br-renamed"}}])",
       "constraint violation: Cannot update immutable column name in table Bridge."},
      {R"([{"op":"update","table":"Bridge","where":[["name","==","br-int"]],"row":{"_uuid":["uuid","11111111-2222-3333-4444-555555555555"]}}])",
       "constraint violation: Cannot update immutable column _uuid in table Bridge."},
      {R"([{"op":"mutate","table":"Port","where":[["name","==","br-int"]],"mutations":[["tag","+=",5000]]}])",
       ""},  // tag is empty: += on no element changes nothing
      {R"([{"op":"update","table":"Port","where":[["name","==","br-int"]],"row":{"tag":5005}}])",
       "constraint violation: 5005 is not in the valid range 0 to 4095 (inclusive)"},
      {R"([{"op":"select","table":"NoSuchTable","where":[]}])",
       "syntax error: Parsing ovsdb operation 1 of 1 failed: No table named NoSuchTable."},
      {R"([{"op":"comment","comment":"hello"},{"op":"abort"}])", "aborted: aborted by request"},
      {R"([{"op":"assert","lock":"ovs_vswitchd"}])", "not owner: Asserted lock ovs_vswitchd not held."},
      {R"([{"op":"assert","lock":"mine"}])", ""},
      {R"([{"op":"wait","table":"Bridge","where":[["name","==","br-int"]],"columns":["name"],"until":"==","rows":[{"name":"not-br-int"}],"timeout":0}])",
       "timed out: \"where\" clause test failed"},
      {R"([{"op":"wait","table":"Bridge","where":[["name","==","br-int"]],"columns":["name"],"until":"!=","rows":[{"name":"other"}],"timeout":0}])",
       ""},
      {R"([{"op":"wait","table":"Bridge","where":[["name","==","br-int"]],"columns":["name"],"until":"==","rows":[{"name":"br-int"}],"timeout":0}])",
       ""},
      {R"([{"op":"update","table":"Bridge","where":[["name","==","br-int"]],"row":{"fail_mode":"sometimes"}}])",
       "constraint violation: sometimes is not one of the allowed values ([secure, standalone])"},
      {R"([{"op":"frobnicate"}])", "syntax error: Parsing ovsdb operation 1 of 1 failed: No operation \"frobnicate\""},
      {R"([{"op":"select","where":[]}])",
       "syntax error: Parsing ovsdb operation 1 of 1 failed: Required 'table' member is missing."},
      {R"([{"op":"select","table":"Bridge","where":[["name","=~","x"]]}])", "unknown function: No function named =~."},
      {R"([{"op":"select","table":"Bridge","where":[["nope","==","x"]]}])", "unknown column: No column nope in table Bridge."},
      {R"([{"op":"mutate","table":"Bridge","where":[],"mutations":[["flood_vlans","frob",1]]}])",
       "unknown mutator: No mutator named frob."},
      {R"([{"op":"update","table":"Bridge","where":[],"row":{"flood_vlans":["set",[1,1]]}}])", "ovsdb error: set contains duplicate"},
      {R"([42])", "syntax error: Parsing ovsdb operation 1 of 1 failed: Object expected."},
  };
  for (auto& c : cases) EXPECT_EQ(error_of(tx(c.ops)), c.expect) << c.ops;
  // A failed op ends the array with nulls (T:30 id 37).
  Json r = tx(R"([{"op":"select","table":"Bridge","where":[],"columns":["name"]},
      {"op":"wait","table":"Bridge","where":[],"columns":["name"],"until":"==","rows":[],"timeout":0},
      {"op":"select","table":"Bridge","where":[],"columns":["name"]}])");
  EXPECT_EQ(r.dump(), R"([{"rows":[{"name":"br-int"}]},{"details":"\"where\" clause test failed","error":"timed out"},null])");
}

TEST_F(OvsdbDb, WaitWithTimeoutBlocksUntilTrueOrTimedOut) {
  const char* ops = R"([{"op":"wait","table":"Bridge","where":[],"columns":["name"],"until":"==","rows":[{"name":"br0"}],"timeout":1000}])";
  tx(ops, 0);
  EXPECT_TRUE(blocked);
  Json r = tx(ops, 1000);  // the deadline (started 0 + 1000) has passed
  EXPECT_FALSE(blocked);
  EXPECT_EQ(error_of(r), "timed out: \"where\" clause test failed");
  add_br("br0");
  r = tx(ops, 0);
  EXPECT_FALSE(blocked);
  EXPECT_EQ(r.dump(), "[{}]");
}

TEST_F(OvsdbDb, MapAndSetMutations) {
  add_br("br-int");
  // T:30 ids 44-45: insert never overwrites; delete by key set or matching pair.
  Json r = tx(R"([{"op":"mutate","table":"Bridge","where":[["name","==","br-int"]],"mutations":[["external_ids","insert",["map",[["k1","v1"],["k2","v2"]]]],["other_config","insert",["map",[["hwaddr","02:00:00:00:00:01"]]]]]},
      {"op":"mutate","table":"Bridge","where":[["name","==","br-int"]],"mutations":[["external_ids","delete",["set",["k1"]]],["external_ids","delete",["map",[["k2","nomatch"]]]]]},
      {"op":"select","table":"Bridge","where":[["name","==","br-int"]],"columns":["external_ids","other_config"]}])");
  EXPECT_EQ(r.dump(), R"([{"count":1},{"count":1},{"rows":[{"external_ids":["map",[["k2","v2"]]],"other_config":["map",[["hwaddr","02:00:00:00:00:01"]]]}]}])");
  r = tx(R"([{"op":"mutate","table":"Bridge","where":[["name","==","br-int"]],"mutations":[["external_ids","insert",["map",[["k2","v2-new"]]]]]},
      {"op":"select","table":"Bridge","where":[["name","==","br-int"]],"columns":["external_ids"]}])");
  EXPECT_EQ(r.as_array()[1].dump(), R"({"rows":[{"external_ids":["map",[["k2","v2"]]]}]})");
  r = tx(R"([{"op":"mutate","table":"Bridge","where":[["name","==","br-int"]],"mutations":[["flood_vlans","insert",["set",[10,5,7]]],["flood_vlans","delete",7]]},
      {"op":"select","table":"Bridge","where":[["flood_vlans","includes",5]],"columns":["flood_vlans"]},
      {"op":"select","table":"Bridge","where":[["flood_vlans","excludes",["set",[5]]]],"columns":["flood_vlans"]}])");
  EXPECT_EQ(r.dump(), R"([{"count":1},{"rows":[{"flood_vlans":["set",[5,10]]}]},{"rows":[]}])");
  r = tx(R"([{"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["next_cfg","/=",0]]}])");
  EXPECT_EQ(error_of(r), "domain error: Division by zero.");
}

TEST_F(OvsdbDb, ConditionsOnOptionalAndRelational) {
  add_br("br0");
  Json r = tx(R"([{"op":"update","table":"Interface","where":[["name","==","br0"]],"row":{"ofport":65534}},
      {"op":"select","table":"Interface","where":[["ofport","<",65535],["ofport",">",0],["type","!=",""]],"columns":["name","ofport"]},
      {"op":"select","table":"Interface","where":[["ofport","==",["set",[]]]],"columns":["name"]},
      {"op":"select","table":"Interface","where":[["name","excludes","br0"]],"columns":["name"]},
      {"op":"select","table":"Interface","where":[["name","<","x"]]}])");
  ASSERT_EQ(r.as_array().size(), 5u);
  EXPECT_EQ(r.as_array()[1].dump(), R"({"rows":[{"name":"br0","ofport":65534}]})");
  EXPECT_EQ(r.as_array()[2].dump(), R"({"rows":[]})");
  EXPECT_EQ(r.as_array()[3].dump(), R"({"rows":[]})");
  EXPECT_EQ(r.as_array()[4]["error"].as_string(), "syntax error");
}

TEST_F(OvsdbDb, UnchangedUpdateCommitsNothing) {
  add_br("br0");
  commits.clear();
  Json r = tx(R"([{"op":"update","table":"Bridge","where":[["name","==","br0"]],"row":{"datapath_type":""}}])");
  EXPECT_EQ(r.dump(), R"([{"count":1}])");
  EXPECT_TRUE(commits.empty());
}

TEST_F(OvsdbDb, LogRecordsReplayToTheSameRows) {
  add_br("br0");
  tx(R"([{"op":"update","table":"Bridge","where":[["name","==","br0"]],"row":{"datapath_id":"0000aabbccddeeff","external_ids":["map",[["a","b"]]]}}])");
  std::vector<Json> records;
  for (auto& c : commits) {
    Json rec = db.log_record(c, 1);
    if (!rec.is_null()) records.push_back(rec);
  }
  // datapath_id is ephemeral: never on disk.
  for (auto& r : records) EXPECT_EQ(r.dump().find("datapath_id"), std::string::npos) << r.dump();
  Database copy(vswitch());
  for (auto& r : records) ASSERT_FALSE(copy.replay(r).has_value()) << r.dump();
  copy.rebuild();
  Database snap(vswitch());
  ASSERT_FALSE(snap.replay(db.snapshot_record(1, "x")).has_value());
  snap.rebuild();
  for (Database* d : {&copy, &snap}) {
    EXPECT_EQ(d->n_rows(), db.n_rows());
    for (size_t t = 0; t < db.schema().tables.size(); ++t)
      for (auto& [u, row] : db.table(int(t)).rows) {
        const Row* other = d->row(int(t), u);
        ASSERT_NE(other, nullptr);
        for (size_t c = 2; c < row->cols.size(); ++c) {
          if (db.schema().tables[t].columns[c].ephemeral) continue;
          EXPECT_EQ(other->cols[c], row->cols[c]) << db.schema().tables[t].columns[c].name;
        }
      }
  }
  // "_is_diff" records (what ovsdb-server and ovsdb-tool write) toggle set
  // and map elements.
  Json diff = J(R"({"Bridge":{")" + db.table(db.schema().table("Bridge")).rows.begin()->first.str() +
                           R"(":{"external_ids":["map",[["a","b"],["c","d"]]]}},"_is_diff":true})");
  ASSERT_FALSE(copy.replay(diff).has_value());
  const Row* br = copy.row(copy.schema().table("Bridge"), copy.table(copy.schema().table("Bridge")).rows.begin()->first);
  int c = copy.schema().tables[size_t(copy.schema().table("Bridge"))].column("external_ids");
  EXPECT_EQ(br->cols[size_t(c)].to_json(copy.schema().tables[size_t(copy.schema().table("Bridge"))].columns[size_t(c)].type).dump(),
            R"(["map",[["c","d"]]])");
}

TEST(OvsdbTypes, DatumDiffAndApply) {
  ColumnType t;
  t.key.type = AtomicType::kString;
  t.value = BaseType{};
  t.value->type = AtomicType::kString;
  t.min = 0;
  t.max = ColumnType::kUnlimited;
  Datum a, b;
  ASSERT_FALSE(Datum::from_json(t, J(R"(["map",[["x","1"],["y","2"],["z","3"]]])"), nullptr, &a));
  ASSERT_FALSE(Datum::from_json(t, J(R"(["map",[["y","2"],["z","4"],["w","5"]]])"), nullptr, &b));
  Datum d = Datum::diff(a, b, true);
  EXPECT_EQ(d.to_json(t).dump(), R"(["map",[["w","5"],["x","1"],["z","4"]]])");
  a.apply_diff(d, true);
  EXPECT_EQ(a, b);
  Datum dup;
  auto e = Datum::from_json(t, J(R"(["map",[["x","1"],["x","2"]]])"), nullptr, &dup);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->details, "map contains duplicate key");
  EXPECT_EQ(Uuid::parse("11111111-2222-3333-4444-555555555555")->str(), "11111111-2222-3333-4444-555555555555");
  EXPECT_FALSE(Uuid::parse("11111111-2222-3333-4444-55555555555"));
  Uuid r = Uuid::random();
  EXPECT_EQ(r.str()[14], '4');
}

}  // namespace
}  // namespace trestle::ctl
