// The server's durability in-process: commits on disk, background
// compaction while commits go on, reopening what it wrote.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "ctl/ovsdb/server.h"

namespace trestle::ctl {
namespace {

struct TmpDir {
  std::string path;
  TmpDir() {
    char tmpl[] = "/tmp/trestle-ovsdb-server.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TmpDir() { EXPECT_EQ(system(("rm -rf " + path).c_str()), 0); }
};

Json insert_qos(int i) {
  Json ext = Json::Array{"map", Json::Array{Json::Array{"n", std::to_string(i)}, Json::Array{"pad", std::string(200, 'p')}}};
  return Json::Object{{"op", "insert"}, {"table", "QoS"}, {"row", Json::Object{{"external_ids", ext}}}};
}

size_t qos_rows(OvsdbServer& s) { return s.db().table(s.db().schema().table("QoS")).rows.size(); }

TEST(OvsdbServer, CompactsInTheBackgroundAndLosesNothing) {
  TmpDir dir;
  std::string db = dir.path + "/conf.db";
  std::vector<std::string> lines;
  {
    OvsdbServer::Options o;
    o.db_path = db;
    o.compact_min_bytes = 256 << 10;
    o.log = [&](const std::string& l) { lines.push_back(l); };
    auto s = OvsdbServer::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    OvsdbServer& srv = **s;
    // Many commits, and deletes, so that a compacted file is smaller.
    for (int i = 0; i < 3000; ++i) {
      Json r = srv.transact({insert_qos(i)});
      ASSERT_FALSE(r.as_array()[0].has("error")) << r.dump();
      if (i % 2) {
        Json key = Json::Array{"map", Json::Array{Json::Array{"n", std::to_string(i)}}};
        Json where = Json::Array{Json::Array{"external_ids", "includes", key}};
        srv.transact({Json::Object{{"op", "delete"}, {"table", "QoS"}, {"where", where}}});
      }
      srv.run(0);  // lets a finished compaction complete
    }
    for (int i = 0; i < 100; ++i) srv.run(10);
    EXPECT_EQ(qos_rows(srv), 1500u);
  }
  bool compacted = false;
  for (auto& l : lines) compacted |= l.find("compacted") != std::string::npos;
  EXPECT_TRUE(compacted) << "no compaction happened";
  struct stat st {};
  ASSERT_EQ(stat(db.c_str(), &st), 0);
  EXPECT_LT(st.st_size, 3000 * 300);  // without compaction it holds every insert and delete
  OvsdbServer::Options o;
  o.db_path = db;
  auto s = OvsdbServer::open(o);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(qos_rows(**s), 1500u);
  // And stock ovsdb-tool reads it.
  EXPECT_EQ(system(("ovsdb-tool db-version " + db + " >/dev/null").c_str()), 0);
}

}  // namespace
}  // namespace trestle::ctl
