// libFuzzer target for the OVSDB server's input side: the JSON-RPC stream
// splitter, the JSON parser, message shapes, and every method's parameter
// and transaction parsing (transact ops, conditions, mutations, datums,
// monitor requests, locks), run against a real database whose rows the
// inputs may change. Crashes, sanitizer reports and leaks are findings.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "ctl/ovsdb/server.h"

using trestle::ctl::OvsdbServer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static OvsdbServer* server = [] {
    char tmpl[] = "/tmp/trestle-ovsdb-fuzz.XXXXXX";
    if (!mkdtemp(tmpl)) abort();
    OvsdbServer::Options o;
    o.db_path = std::string(tmpl) + "/conf.db";
    o.compact_min_bytes = 1 << 20;  // compaction gets exercised too
    auto s = OvsdbServer::open(o);
    if (!s) abort();
    (*s)->transact({trestle::ctl::Json::Object{{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", trestle::ctl::Json::Object{}}}});
    return s.value().release();
  }();
  server->feed_for_fuzzing(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
