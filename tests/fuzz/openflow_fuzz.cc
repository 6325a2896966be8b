// libFuzzer target for the OpenFlow decoder: a byte stream as a peer would
// send it, framed and decoded at each version the switch speaks (with and
// without Nicira's flow_mod table id), every decoded message encoded again
// and decoded once more. Crashes, sanitizer reports and leaks are findings;
// an error result is the expected answer to bad input.
#include <cstdint>
#include <cstdlib>

#include "plugin-shim/openflow/ofp.h"

namespace of = trestle::shim::ofp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (uint8_t version : {of::OFP10_VERSION, of::OFP13_VERSION, of::OFP14_VERSION}) {
    for (bool table_id : {false, true}) {
      of::DecodeState st;
      st.version = version;
      st.flow_mod_table_id = table_id;
      of::ByteView rest(data, size);
      while (!rest.empty()) {
        of::Frame f = of::frame(rest);
        if (f.status != of::Frame::Status::kMessage) break;
        of::ByteView msg = rest.subspan(0, f.length);
        auto d = of::decode(msg, st);
        if (d) {
          of::Bytes again = of::encode(d->version, d->xid, d->msg, st);
          auto d2 = of::decode(again, st);
          (void)d2;
        } else {
          of::Bytes err = of::encode_error(version, 0, d.error(), msg);
          if (err.size() < 12) abort();  // an error message always has its header and type/code
        }
        rest = rest.subspan(f.length);
      }
    }
  }
  return 0;
}
