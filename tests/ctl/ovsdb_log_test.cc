// OvsdbLog: records round-trip, torn and corrupt tails are cut, the lock
// excludes a second opener (in this process, in another one, and the stock
// ovsdb-tool), replace() is atomic, and Debian's stock ovsdb-tool
// (openvswitch-common 3.1) reads what we write and we read what it writes.

#include "ctl/ovsdb/log.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace trestle::ctl {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSchemaPath = "/usr/share/openvswitch/vswitch.ovsschema";

struct Out {
  int status;
  std::string text;
};

// Runs a shell command; its stdout and stderr together.
Out run(const std::string& cmd) {
  Out o{-1, ""};
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return o;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) o.text.append(buf, n);
  const int rc = pclose(f);
  o.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

Json parse(const std::string& text) {
  auto j = Json::parse(text);
  EXPECT_TRUE(j.ok()) << j.error().message;
  return j.ok() ? j.value() : Json();
}

Json schema() { return parse(read_file(kSchemaPath)); }

// ovsdb-tool does not copy the schema file into record 0: it writes its own
// normalised form (defaults such as "max":1 left out, {"type":"string"}
// written as "string", enum sets sorted). The same schema all the same.
void expect_same_schema(const Json& record0) {
  const Json file = schema();
  EXPECT_EQ(record0["name"], Json("Open_vSwitch"));
  EXPECT_EQ(record0["version"], file["version"]);
  EXPECT_EQ(record0["cksum"], file["cksum"]);
  ASSERT_TRUE(record0["tables"].is_object());
  std::vector<std::string> a, b;
  for (const auto& [name, table] : record0["tables"].as_object()) a.push_back(name);
  for (const auto& [name, table] : file["tables"].as_object()) b.push_back(name);
  EXPECT_EQ(a, b);
}

// A transaction record as ovsdb-server writes them.
Json txn(int n) {
  return parse(R"({"Open_vSwitch":{"6d9bb5a4-3d5c-4a3e-9f0e-2a1b3c4d5e6f":{"next_cfg":)" + std::to_string(n) +
               R"(}},"_date":1700000000000,"_comment":"txn )" + std::to_string(n) + R"("})");
}

class OvsdbLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/trestle-ovsdb-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_ = dir_ + "/conf.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  OvsdbLog::Opened open_ok(const std::string& path) {
    auto o = OvsdbLog::open(path);
    EXPECT_TRUE(o.ok()) << o.error().message;
    if (!o.ok()) return {};
    return std::move(o.value());
  }

  // Writes schema + txn(1..n) and closes; returns each record's start offset
  // and, last, the file size.
  std::vector<uint64_t> make_db(int n) {
    std::vector<uint64_t> offsets;
    auto o = open_ok(db_);
    if (!o.log) return offsets;
    offsets.push_back(o.log->size());
    EXPECT_TRUE(o.log->append(schema()).ok());
    for (int i = 1; i <= n; ++i) {
      offsets.push_back(o.log->size());
      EXPECT_TRUE(o.log->append(txn(i)).ok());
    }
    offsets.push_back(o.log->size());
    return offsets;
  }

  std::string dir_, db_;
};

TEST(OvsdbLogRecord, MatchesTheFormat) {
  // sha1sum of "{}\n", computed outside this code.
  EXPECT_EQ(ovsdb_log_record("{}"), "OVSDB JSON 3 5f36b2ea290645ee34d943220a14b54ee5ea5be5\n{}\n");
  const std::string r = ovsdb_log_record(R"({"a":[1,2,3]})");
  EXPECT_TRUE(r.starts_with("OVSDB JSON 14 ")) << r;
  EXPECT_TRUE(r.ends_with("\n{\"a\":[1,2,3]}\n")) << r;
}

TEST_F(OvsdbLogTest, CreatesAppendsAndReadsBack) {
  std::vector<Json> written = {schema(), txn(1), txn(2),
                               parse(R"({"T":{"u":{"s":"caf\u00e9 \"q\" \\ \n","r":1.5,"n":null}},"_is_diff":true})")};
  {
    auto o = open_ok(db_);
    ASSERT_TRUE(o.log);
    EXPECT_TRUE(o.records.empty());
    EXPECT_EQ(o.warning, "");
    EXPECT_EQ(o.log->size(), 0u);
    EXPECT_EQ(o.log->path(), db_);
    struct stat st {};
    ASSERT_EQ(stat(db_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0027, 0u);  // 0640 at most (umask may narrow it)
    EXPECT_TRUE(fs::exists(dir_ + "/.conf.db.~lock~"));
    for (const Json& j : written) ASSERT_TRUE(o.log->append(j).ok());
    ASSERT_TRUE(o.log->append_text(R"({"_comment":"text"})").ok());
    ASSERT_TRUE(o.log->sync().ok());
    EXPECT_EQ(o.log->size(), fs::file_size(db_));
  }
  written.push_back(parse(R"({"_comment":"text"})"));

  std::string expected;
  for (const Json& j : written) expected += ovsdb_log_record(j.dump());
  EXPECT_EQ(read_file(db_), expected);

  auto o = open_ok(db_);
  ASSERT_TRUE(o.log);
  EXPECT_EQ(o.warning, "");
  EXPECT_EQ(o.records, written);
  EXPECT_EQ(o.log->size(), expected.size());
}

// Cuts the file at `cut`, reopens, and checks that the records before
// `kept` survive, the file is cut back to offsets[kept], and appending then
// gives a file both we and ovsdb-tool read cleanly.
void expect_cut_and_repair(const std::string& db, const std::vector<uint64_t>& offsets, size_t kept,
                           uint64_t cut, const std::string& why) {
  if (cut != fs::file_size(db)) fs::resize_file(db, cut);
  {
    auto o = OvsdbLog::open(db);
    ASSERT_TRUE(o.ok()) << o.error().message;
    ASSERT_EQ(o->records.size(), kept);
    EXPECT_EQ(o->records[0]["name"], Json("Open_vSwitch"));
    for (size_t i = 1; i < kept; ++i) EXPECT_EQ(o->records[i], txn(int(i)));
    EXPECT_NE(o->warning, "");
    EXPECT_NE(o->warning.find("record " + std::to_string(kept) + " at byte offset " + std::to_string(offsets[kept])),
              std::string::npos)
        << o->warning;
    EXPECT_NE(o->warning.find(why), std::string::npos) << o->warning;
    EXPECT_NE(o->warning.find("dropping the last " + std::to_string(cut - offsets[kept]) + " bytes"),
              std::string::npos)
        << o->warning;
    EXPECT_EQ(fs::file_size(db), offsets[kept]);
    EXPECT_EQ(o->log->size(), offsets[kept]);
    ASSERT_TRUE(o->log->append(txn(99)).ok());
  }
  auto o = OvsdbLog::open(db);
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->warning, "");
  ASSERT_EQ(o->records.size(), kept + 1);
  EXPECT_EQ(o->records.back(), txn(99));
  o->log.reset();
  Out show = run("ovsdb-tool show-log " + db);
  EXPECT_EQ(show.status, 0) << show.text;
  EXPECT_NE(show.text.find("record " + std::to_string(kept) + ":"), std::string::npos) << show.text;
  EXPECT_NE(show.text.find("txn 99"), std::string::npos) << show.text;
}

TEST_F(OvsdbLogTest, TornTailInsideTheBodyIsCut) {
  auto off = make_db(3);
  ASSERT_EQ(off.size(), 5u);
  // The last record's header line is 60 bytes or so: cut 20 bytes into its body.
  const std::string bytes = read_file(db_);
  const uint64_t body = bytes.find('\n', off[3]) + 1;
  expect_cut_and_repair(db_, off, 3, body + 20, "only 20 follow it");
}

TEST_F(OvsdbLogTest, TornTailInsideTheHeaderIsCut) {
  auto off = make_db(3);
  ASSERT_EQ(off.size(), 5u);
  expect_cut_and_repair(db_, off, 3, off[3] + 15, "the file ends inside a record header");
}

TEST_F(OvsdbLogTest, CorruptMiddleRecordDropsItAndEverythingAfter) {
  auto off = make_db(4);
  ASSERT_EQ(off.size(), 6u);
  std::string bytes = read_file(db_);
  const size_t body = bytes.find('\n', off[2]) + 1;
  const size_t pos = bytes.find("next_cfg", body);  // inside record 2's body
  ASSERT_LT(pos, off[3]);
  bytes[pos] = 'N';
  write_file(db_, bytes);
  expect_cut_and_repair(db_, off, 2, off.back(), "SHA-1 mismatch");
}

TEST_F(OvsdbLogTest, RecordThatIsNotJsonIsCut) {
  auto off = make_db(1);
  ASSERT_EQ(off.size(), 3u);
  // Right length and SHA-1, but not JSON: what a buggy writer would leave.
  std::string bytes = read_file(db_) + ovsdb_log_record(R"({"a":)") + ovsdb_log_record("{}");
  write_file(db_, bytes);
  off.push_back(bytes.size());
  expect_cut_and_repair(db_, off, 2, bytes.size(), "not valid JSON");
}

TEST_F(OvsdbLogTest, GarbageHeaderIsCut) {
  auto off = make_db(2);
  ASSERT_EQ(off.size(), 4u);
  const std::string garbage = "OVSDB JSON 12 not-a-sha\n{}\n";
  write_file(db_, read_file(db_) + garbage);
  off.push_back(off.back() + garbage.size());
  expect_cut_and_repair(db_, off, 3, off.back(), "bad record header");
}

TEST_F(OvsdbLogTest, TornSchemaRecordLeavesAnEmptyDatabase) {
  // A crash while the database was being created.
  write_file(db_, ovsdb_log_record(schema().dump()).substr(0, 500));
  auto o = open_ok(db_);
  ASSERT_TRUE(o.log);
  EXPECT_TRUE(o.records.empty());
  EXPECT_NE(o.warning.find("record 0 at byte offset 0"), std::string::npos) << o.warning;
  EXPECT_EQ(fs::file_size(db_), 0u);
}

TEST_F(OvsdbLogTest, CorruptSchemaRecordIsRefusedNotCut) {
  auto off = make_db(2);
  std::string bytes = read_file(db_);
  const size_t pos = bytes.find("Open_vSwitch");
  bytes[pos] = 'o';
  write_file(db_, bytes);
  auto o = OvsdbLog::open(db_);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.error().message.find("record 0 at byte offset 0 (the schema) is corrupt: SHA-1 mismatch"),
            std::string::npos)
      << o.error().message;
  EXPECT_EQ(read_file(db_), bytes);
}

TEST_F(OvsdbLogTest, ForeignFilesAreRefusedNotCut) {
  write_file(db_, "this is not a database\n");
  auto o = OvsdbLog::open(db_);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.error().message.find("not a standalone OVSDB database"), std::string::npos) << o.error().message;
  EXPECT_EQ(read_file(db_), "this is not a database\n");

  write_file(db_, "OVSDB CLUSTER 3 5f36b2ea290645ee34d943220a14b54ee5ea5be5\n{}\n");
  o = OvsdbLog::open(db_);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.error().message.find("clustered"), std::string::npos) << o.error().message;
  EXPECT_EQ(read_file(db_), "OVSDB CLUSTER 3 5f36b2ea290645ee34d943220a14b54ee5ea5be5\n{}\n");

  auto d = OvsdbLog::open(dir_);
  EXPECT_FALSE(d.ok());
}

TEST_F(OvsdbLogTest, SecondOpenInThisProcessIsRefused) {
  auto first = open_ok(db_);
  ASSERT_TRUE(first.log);
  ASSERT_TRUE(first.log->append(schema()).ok());
  for (const std::string& path : {db_, dir_ + "/./conf.db"}) {
    auto second = OvsdbLog::open(path);
    ASSERT_FALSE(second.ok()) << path;
    EXPECT_NE(second.error().message.find(path + ": already locked"), std::string::npos) << second.error().message;
  }
  // The refused opens must not have dropped the first one's fcntl lock.
  Out tool = run("ovsdb-tool compact " + db_);
  EXPECT_NE(tool.status, 0) << tool.text;
  EXPECT_NE(tool.text.find("locked"), std::string::npos) << tool.text;

  first.log.reset();
  auto again = OvsdbLog::open(db_);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->records.size(), 1u);
}

TEST_F(OvsdbLogTest, OpenInAnotherProcessIsRefusedWithOurPid) {
  auto first = open_ok(db_);
  ASSERT_TRUE(first.log);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipefd[0]);
    auto o = OvsdbLog::open(db_);
    const std::string msg = o.ok() ? std::string("opened") : o.error().message;
    (void)!write(pipefd[1], msg.data(), msg.size());
    _exit(0);
  }
  close(pipefd[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof(buf))) > 0) msg.append(buf, size_t(n));
  close(pipefd[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(msg, db_ + ": already locked by another process (pid " + std::to_string(getpid()) + ")");
}

TEST_F(OvsdbLogTest, LockHeldByAnotherProcessIsSeen) {
  // ovsdb-server holds the lock for its whole life; no stock tool holds it
  // for long enough to test against, so a child takes it with fcntl
  // F_SETLK on the whole file, as OVS's lockfile does.
  const std::string lock = dir_ + "/.conf.db.~lock~";
  int ready[2], stop[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(stop), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0600);
    struct flock lck {};
    lck.l_type = F_WRLCK;
    lck.l_whence = SEEK_SET;
    const char ok = (fd >= 0 && fcntl(fd, F_SETLK, &lck) == 0) ? 'y' : 'n';
    (void)!write(ready[1], &ok, 1);
    char c;
    (void)!read(stop[0], &c, 1);
    _exit(0);
  }
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  auto o = OvsdbLog::open(db_);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().message, db_ + ": already locked by another process (pid " + std::to_string(child) + ")");
  (void)!write(stop[1], "x", 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  for (int fd : {ready[0], ready[1], stop[0], stop[1]}) close(fd);
  auto after = OvsdbLog::open(db_);
  EXPECT_TRUE(after.ok()) << after.error().message;
}

TEST_F(OvsdbLogTest, ReplaceWritesExactlyTheNewRecordsAndAppendsContinue) {
  make_db(5);
  ASSERT_EQ(chmod(db_.c_str(), 0600), 0);
  {
    auto o = open_ok(db_);
    ASSERT_TRUE(o.log);
    ASSERT_EQ(o.records.size(), 6u);
    const std::vector<Json> snapshot = {schema(), txn(42)};
    ASSERT_TRUE(o.log->replace(snapshot).ok());
    std::string expected;
    for (const Json& j : snapshot) expected += ovsdb_log_record(j.dump());
    EXPECT_EQ(read_file(db_), expected);
    EXPECT_EQ(o.log->size(), expected.size());
    EXPECT_FALSE(fs::exists(db_ + ".tmp"));
    struct stat st {};
    ASSERT_EQ(stat(db_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_TRUE(o.log->append(txn(43)).ok());
    EXPECT_EQ(o.log->size(), fs::file_size(db_));
  }
  {
    auto o = open_ok(db_);
    ASSERT_TRUE(o.log);
    EXPECT_EQ(o.warning, "");
    EXPECT_EQ(o.records, (std::vector<Json>{schema(), txn(42), txn(43)}));
    // replace_text, and a stale .tmp from an earlier crash does not matter.
    write_file(db_ + ".tmp", "leftover");
    ASSERT_TRUE(o.log->replace_text({schema().dump(), txn(7).dump()}).ok());
    ASSERT_TRUE(o.log->append_text(txn(8).dump()).ok());
  }
  auto o = open_ok(db_);
  ASSERT_TRUE(o.log);
  EXPECT_EQ(o.records, (std::vector<Json>{schema(), txn(7), txn(8)}));
  EXPECT_FALSE(fs::exists(db_ + ".tmp"));
  o.log.reset();
  Out q = run("ovsdb-tool query " + db_ +
              R"( '["Open_vSwitch",{"op":"select","table":"Open_vSwitch","where":[],"columns":["next_cfg"]}]')");
  EXPECT_EQ(q.status, 0) << q.text;
  EXPECT_NE(q.text.find(R"("next_cfg":8)"), std::string::npos) << q.text;
}

TEST_F(OvsdbLogTest, SymlinkedDatabaseStaysALink) {
  fs::create_directory(dir_ + "/real");
  fs::create_symlink("real/conf.db", db_);
  {
    auto o = open_ok(db_);
    ASSERT_TRUE(o.log);
    ASSERT_TRUE(o.log->append(schema()).ok());
    ASSERT_TRUE(o.log->replace({schema(), txn(1)}).ok());
    ASSERT_TRUE(o.log->append(txn(2)).ok());
  }
  EXPECT_TRUE(fs::is_symlink(db_));
  EXPECT_TRUE(fs::exists(dir_ + "/real/.conf.db.~lock~"));
  auto o = open_ok(dir_ + "/real/conf.db");
  ASSERT_TRUE(o.log);
  EXPECT_EQ(o.records, (std::vector<Json>{schema(), txn(1), txn(2)}));
}

TEST_F(OvsdbLogTest, FailedAppendLeavesNoPartialRecord) {
  make_db(1);
  const uint64_t before = fs::file_size(db_);
  // In a child: a file size limit lets the big record's write(2) only
  // partly through, then fail with EFBIG.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto o = OvsdbLog::open(db_);
    if (!o.ok()) _exit(10);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim {before + 400, before + 400};
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(11);
    auto big = o->log->append_text(R"({"_comment":")" + std::string(4000, 'x') + R"("})");
    if (big.ok()) _exit(12);
    if (big.error().message.find("cannot append a record") == std::string::npos) _exit(13);
    if (o->log->size() != before) _exit(14);
    struct stat st {};
    if (stat(db_.c_str(), &st) != 0 || uint64_t(st.st_size) != before) _exit(15);
    if (!o->log->append(txn(2)).ok()) _exit(16);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto o = open_ok(db_);
  ASSERT_TRUE(o.log);
  EXPECT_EQ(o.warning, "");
  EXPECT_EQ(o.records, (std::vector<Json>{schema(), txn(1), txn(2)}));
}

// Interoperability with Debian's stock ovsdb-tool 3.1.

TEST_F(OvsdbLogTest, ReadsWhatOvsdbToolCreates) {
  Out c = run(std::string("ovsdb-tool create ") + db_ + " " + kSchemaPath);
  ASSERT_EQ(c.status, 0) << c.text;
  auto o = open_ok(db_);
  ASSERT_TRUE(o.log);
  EXPECT_EQ(o.warning, "");
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0]["name"], Json("Open_vSwitch"));
  EXPECT_NE(o.records[0], schema());  // see expect_same_schema
  expect_same_schema(o.records[0]);
  EXPECT_EQ(o.log->size(), fs::file_size(db_));
}

TEST_F(OvsdbLogTest, OvsdbToolReadsWhatWeWrite) {
  {
    auto o = open_ok(db_);
    ASSERT_TRUE(o.log);
    ASSERT_TRUE(o.log->append(schema()).ok());
    ASSERT_TRUE(o.log->append(parse(R"({"Open_vSwitch":{"6d9bb5a4-3d5c-4a3e-9f0e-2a1b3c4d5e6f":{"next_cfg":1}},)"
                                    R"("_date":1700000000000,"_comment":"test"})"))
                    .ok());
  }
  Out v = run("ovsdb-tool db-version " + db_);
  EXPECT_EQ(v.status, 0) << v.text;
  EXPECT_EQ(v.text, "8.3.1\n");

  Out s = run("ovsdb-tool show-log " + db_);
  EXPECT_EQ(s.status, 0) << s.text;
  EXPECT_NE(s.text.find("record 1:"), std::string::npos) << s.text;
  EXPECT_NE(s.text.find("\"test\""), std::string::npos) << s.text;

  const std::string select =
      R"('["Open_vSwitch",{"op":"select","table":"Open_vSwitch","where":[],"columns":["next_cfg"]}]')";
  Out q = run("ovsdb-tool query " + db_ + " " + select);
  EXPECT_EQ(q.status, 0) << q.text;
  EXPECT_EQ(q.text, "[{\"rows\":[{\"next_cfg\":1}]}]\n");

  // ovsdb-tool appends a transaction to our file; we read it and append
  // after it; ovsdb-tool sees both.
  Out t = run("ovsdb-tool transact " + db_ +
              R"( '["Open_vSwitch",{"op":"update","table":"Open_vSwitch","where":[],"row":{"next_cfg":2}}]')");
  ASSERT_EQ(t.status, 0) << t.text;
  {
    auto o = open_ok(db_);
    ASSERT_TRUE(o.log);
    EXPECT_EQ(o.warning, "");
    ASSERT_EQ(o.records.size(), 3u);
    EXPECT_EQ(o.records[2]["Open_vSwitch"]["6d9bb5a4-3d5c-4a3e-9f0e-2a1b3c4d5e6f"]["next_cfg"], Json(2));
    ASSERT_TRUE(o.log->append(parse(R"({"Open_vSwitch":{"6d9bb5a4-3d5c-4a3e-9f0e-2a1b3c4d5e6f":{"next_cfg":3}},)"
                                    R"("_date":1700000000001})"))
                    .ok());
  }
  q = run("ovsdb-tool query " + db_ + " " + select);
  EXPECT_EQ(q.status, 0) << q.text;
  EXPECT_EQ(q.text, "[{\"rows\":[{\"next_cfg\":3}]}]\n");

  // ovsdb-tool compacts our file (its own <file>.tmp and rename); we read
  // the result: schema + one record holding every row.
  Out c = run("ovsdb-tool compact " + db_);
  ASSERT_EQ(c.status, 0) << c.text;
  auto o = open_ok(db_);
  ASSERT_TRUE(o.log);
  EXPECT_EQ(o.warning, "");
  ASSERT_EQ(o.records.size(), 2u);
  expect_same_schema(o.records[0]);
  EXPECT_EQ(o.records[1]["Open_vSwitch"]["6d9bb5a4-3d5c-4a3e-9f0e-2a1b3c4d5e6f"]["next_cfg"], Json(3));
  EXPECT_TRUE(o.records[1]["_comment"].as_string().starts_with("compacted by ovsdb-tool")) << o.records[1].dump();
}

}  // namespace
}  // namespace trestle::ctl
