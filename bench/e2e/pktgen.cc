// trestle-pktgen: a traffic generator and sink on virtio-user ports, as
// QEMU's guests would be: it connects to a switch's vhost-user sockets
// (--tx/--rx; with --server it listens, for dpdkvhostuserclient ports) and
// sends Ethernet/IPv4/UDP frames of --frame-size bytes (64-1518, FCS
// included), optionally 802.1Q-tagged (--vlan; --rx-vlan for the frames the
// --rx port sends), over --flows flows that vary
// the source MAC (each a new learned MAC) or the source IP (--vary), in one
// direction or both (--bidir), at full speed or a paced --rate. Every frame
// carries a TSC timestamp: the sink reports latency percentiles. --search
// looks for the highest rate with loss <= --max-loss (binary search over
// --trial seconds each).
//
// Phases: announce (each sink's MAC is sent once from its port, so the
// switch learns it), warm-up (--warmup s: the switch learns the sources),
// measure (--seconds s). --at-start / --at-end run shell commands as
// measuring starts and ends (ovs-appctl dpif-netdev/pmd-stats-clear and
// pmd-stats-show). Prints key=value lines.

#include <getopt.h>
#include <rte_cycles.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "bench/harness/measure.h"
#include "bench/peer/virtio_peer.h"
#include "dataplane/eal.h"

using namespace trestle;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kMacA = 0x02000000aaaaull;  // port A's own MAC (sink of B's traffic)
constexpr uint64_t kMacB = 0x02000000bbbbull;  // port B's own MAC
constexpr uint64_t kSrcBase = 0x020100000000ull;  // varied sources differ in the high bytes
constexpr uint32_t kMagic = 0x7e57ab1e;
constexpr uint16_t kBurst = 32;

struct Options {
  std::string tx_sock, rx_sock, prefix = "trestle-pktgen-" + std::to_string(getpid());
  double warmup = 2, seconds = 5, rate = 0, trial = 2, max_loss = 0;
  uint32_t flows = 1, frame_size = 64;
  int vlan = -1, b_vlan = -2, core = 0;  // b_vlan -2: same as vlan
  bool vary_ip = false, bidir = false, server = false, search = false;
  std::string at_start, at_end;
};

void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
void put32(uint8_t* p, uint32_t v) { put16(p, uint16_t(v >> 16)), put16(p + 2, uint16_t(v)); }
void put_mac(uint8_t* p, uint64_t m) {
  for (int i = 0; i < 6; ++i) p[i] = uint8_t(m >> (40 - 8 * i));
}

// An Ethernet/IPv4/UDP frame of `len` bytes (FCS excluded).
peer::Frame build(uint64_t dst, uint64_t src, int vlan, uint32_t len) {
  peer::Frame f(len, 0);
  uint8_t* p = f.data();
  put_mac(p, dst);
  put_mac(p + 6, src);
  size_t off = 12;
  if (vlan >= 0) {
    put16(p + off, 0x8100);
    put16(p + off + 2, uint16_t(vlan));
    off += 4;
  }
  put16(p + off, 0x0800);
  off += 2;
  uint8_t* ip = p + off;
  const uint16_t ip_len = uint16_t(len - off);
  ip[0] = 0x45;
  put16(ip + 2, ip_len);
  ip[8] = 64;
  ip[9] = 17;  // UDP
  put32(ip + 12, 0xc6120000);  // 198.18.0.0/15: the benchmarking range (RFC 2544)
  put32(ip + 16, 0xc6130000);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += uint32_t(ip[i] << 8 | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(ip + 10, uint16_t(~sum));
  uint8_t* udp = ip + 20;
  put16(udp, 1024);
  put16(udp + 2, 1024);
  put16(udp + 4, uint16_t(ip_len - 20));
  return f;
}

// Offset of the UDP payload (timestamp) in a received frame, after any tags.
size_t payload_offset(const uint8_t* d, uint32_t len) {
  size_t off = 12;
  while (off + 4 <= len && ((d[off] == 0x81 && d[off + 1] == 0x00) || (d[off] == 0x88 && d[off + 1] == 0xa8)))
    off += 4;
  return off + 2 + 20 + 8;
}

class Stream {
 public:
  Stream(peer::VirtioPeer& port, rte_mempool* pool, peer::Frame tmpl, const Options& o)
      : port_(port), pool_(pool), tmpl_(std::move(tmpl)), o_(o) {
    ts_off_ = payload_offset(tmpl_.data(), uint32_t(tmpl_.size()));
  }
  uint16_t send_burst() {
    rte_mbuf* pkts[kBurst];
    if (rte_pktmbuf_alloc_bulk(pool_, pkts, kBurst) != 0) return 0;
    const uint64_t now = rte_rdtsc();
    for (uint16_t i = 0; i < kBurst; ++i) {
      auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(pkts[i], uint16_t(tmpl_.size())));
      memcpy(d, tmpl_.data(), tmpl_.size());
      if (o_.flows > 1) {
        const uint32_t f = next_flow_;
        next_flow_ = next_flow_ + 1 == o_.flows ? 0 : next_flow_ + 1;
        if (o_.vary_ip) {
          const size_t ip = ts_off_ - 28;
          put32(d + ip + 12, 0xc6120000 + f);
          uint32_t sum = 0;  // recompute the header checksum
          d[ip + 10] = d[ip + 11] = 0;
          for (int k = 0; k < 20; k += 2) sum += uint32_t(d[ip + k] << 8 | d[ip + k + 1]);
          while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
          put16(d + ip + 10, uint16_t(~sum));
        } else {
          put_mac(d + 6, kSrcBase + f);
        }
      }
      if (ts_off_ + 12 <= tmpl_.size()) {
        put32(d + ts_off_, kMagic);
        memcpy(d + ts_off_ + 4, &now, 8);
      }
    }
    const uint16_t n = rte_eth_tx_burst(port_.port(), 0, pkts, kBurst);
    for (uint16_t i = n; i < kBurst; ++i) rte_pktmbuf_free(pkts[i]);
    sent_ += n;
    return n;
  }
  uint64_t sent() const { return sent_; }

 private:
  peer::VirtioPeer& port_;
  rte_mempool* pool_;
  peer::Frame tmpl_;
  const Options& o_;
  size_t ts_off_;
  uint32_t next_flow_ = 0;
  uint64_t sent_ = 0;
};

struct Sink {
  uint64_t packets = 0;
  std::map<int, uint64_t> vids;  // outer VID of what arrived (-1: untagged)
  bench::LatencyHistogram latency;
  bool record = false;
  uint16_t poll(peer::VirtioPeer& port, double ns_per_tsc) {
    rte_mbuf* pkts[64];
    const uint16_t n = rte_eth_rx_burst(port.port(), 0, pkts, 64);
    const uint64_t now = rte_rdtsc();
    for (uint16_t i = 0; i < n; ++i) {
      const auto* d = rte_pktmbuf_mtod(pkts[i], const uint8_t*);
      const uint32_t len = pkts[i]->data_len;
      const size_t off = payload_offset(d, len);
      ++vids[off > 42 && len >= 18 ? int((d[14] << 8 | d[15]) & 0x0fff) : -1];
      if (record && off + 12 <= len && uint32_t(d[off] << 24 | d[off + 1] << 16 | d[off + 2] << 8 | d[off + 3]) == kMagic) {
        uint64_t then;
        memcpy(&then, d + off + 4, 8);
        if (now > then) latency.record(uint64_t(double(now - then) * ns_per_tsc));
      }
      rte_pktmbuf_free(pkts[i]);
    }
    packets += n;
    return n;
  }
};

int usage() {
  fprintf(stderr,
          "usage: trestle-pktgen --tx SOCK --rx SOCK [--server] [--frame-size 64..1518] [--vlan VID] [--rx-vlan VID]\n"
          "         [--flows N] [--vary mac|ip] [--bidir] [--rate MPPS] [--warmup S] [--seconds S]\n"
          "         [--search [--max-loss PCT] [--trial S]] [--at-start CMD] [--at-end CMD]\n"
          "         [--core C] [--file-prefix P]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  static option opts[] = {{"tx", required_argument, nullptr, 't'},
                          {"rx", required_argument, nullptr, 'r'},
                          {"server", no_argument, nullptr, 'S'},
                          {"frame-size", required_argument, nullptr, 'z'},
                          {"vlan", required_argument, nullptr, 'v'},
                          {"rx-vlan", required_argument, nullptr, 'B'},
                          {"flows", required_argument, nullptr, 'n'},
                          {"macs", required_argument, nullptr, 'm'},
                          {"vary", required_argument, nullptr, 'V'},
                          {"bidir", no_argument, nullptr, 'b'},
                          {"rate", required_argument, nullptr, 'R'},
                          {"warmup", required_argument, nullptr, 'w'},
                          {"seconds", required_argument, nullptr, 's'},
                          {"search", no_argument, nullptr, 'Q'},
                          {"max-loss", required_argument, nullptr, 'L'},
                          {"trial", required_argument, nullptr, 'T'},
                          {"core", required_argument, nullptr, 'c'},
                          {"file-prefix", required_argument, nullptr, 'f'},
                          {"at-start", required_argument, nullptr, 'A'},
                          {"at-end", required_argument, nullptr, 'E'},
                          {nullptr, 0, nullptr, 0}};
  try {
    for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
      switch (c) {
        case 't': o.tx_sock = optarg; break;
        case 'r': o.rx_sock = optarg; break;
        case 'S': o.server = true; break;
        case 'z': o.frame_size = uint32_t(std::stoul(optarg)); break;
        case 'v': o.vlan = std::stoi(optarg); break;
        case 'B': o.b_vlan = std::stoi(optarg); break;
        case 'n': case 'm': o.flows = uint32_t(std::stoul(optarg)); break;
        case 'V': o.vary_ip = std::string(optarg) == "ip"; break;
        case 'b': o.bidir = true; break;
        case 'R': o.rate = std::stod(optarg); break;
        case 'w': o.warmup = std::stod(optarg); break;
        case 's': o.seconds = std::stod(optarg); break;
        case 'Q': o.search = true; break;
        case 'L': o.max_loss = std::stod(optarg); break;
        case 'T': o.trial = std::stod(optarg); break;
        case 'c': o.core = std::stoi(optarg); break;
        case 'f': o.prefix = optarg; break;
        case 'A': o.at_start = optarg; break;
        case 'E': o.at_end = optarg; break;
        default: return usage();
      }
    }
  } catch (const std::exception&) {
    return usage();
  }
  if (o.tx_sock.empty() || o.rx_sock.empty() || o.flows == 0 || o.frame_size < 64 ||
      o.frame_size > 1518 || o.vlan > 4095)
    return usage();
  // A switch that goes away mid-run must not kill us before we report.
  signal(SIGPIPE, SIG_IGN);
  dataplane::EalConfig eal;
  eal.file_prefix = o.prefix;
  eal.control_core = o.core;
  eal.log_level = "*:error";
  if (auto r = dataplane::eal_init(eal); !r) {
    fprintf(stderr, "trestle-pktgen: %s\n", r.error().message.c_str());
    return 1;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("pktgen", 16384, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  auto a = peer::VirtioPeer::open(o.tx_sock, o.server, pool);
  auto b = peer::VirtioPeer::open(o.rx_sock, o.server, pool);
  if (!a->wait_link() || !b->wait_link()) {
    fprintf(stderr, "trestle-pktgen: links did not come up\n");
    return 1;
  }
  const uint32_t len = o.frame_size - 4;
  // Frames sent from the --rx port (announce, --bidir) may need another tag:
  // in the reference deployment the VM side is untagged, the NIC side VLAN 1.
  const int b_vlan = o.b_vlan == -2 ? o.vlan : o.b_vlan;
  // Announce both sinks so the switch learns where they are.
  a->send({build(0xffffffffffffull, kMacA, o.vlan, len)});
  b->send({build(0xffffffffffffull, kMacB, b_vlan, len)});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  a->drain(50);
  b->drain(50);

  Stream up(*a, pool, build(kMacB, o.flows > 1 && !o.vary_ip ? kSrcBase : kMacA, o.vlan, len), o);
  Stream down(*b, pool, build(kMacA, kMacB, b_vlan, len), o);
  Sink at_b, at_a;
  const double tsc_hz = double(rte_get_tsc_hz()), ns_per_tsc = 1e9 / tsc_hz;

  // Runs traffic for `seconds` at `rate` Mpps per direction (0: as fast as
  // possible); returns the elapsed time.
  auto run = [&](double seconds, double rate) {
    const uint64_t t0 = rte_rdtsc(), end = t0 + uint64_t(seconds * tsc_hz);
    const double tsc_per_burst = rate > 0 ? tsc_hz * kBurst / (rate * 1e6) : 0;
    double next = double(t0);
    for (uint64_t now = t0; now < end; now = rte_rdtsc()) {
      if (rate <= 0 || double(now) >= next) {
        up.send_burst();
        if (o.bidir) down.send_burst();
        next += tsc_per_burst;
        if (rate > 0 && double(now) > next + 64 * tsc_per_burst) next = double(now);  // no catch-up storm
      }
      while (at_b.poll(*b, ns_per_tsc) == 64) {
      }
      if (o.bidir) while (at_a.poll(*a, ns_per_tsc) == 64) {
        }
    }
    return double(rte_rdtsc() - t0) / tsc_hz;
  };
  auto settle = [&] {
    for (auto end = Clock::now() + std::chrono::milliseconds(100); Clock::now() < end;) {
      at_b.poll(*b, ns_per_tsc);
      at_a.poll(*a, ns_per_tsc);
    }
  };

  run(o.warmup, o.rate);
  settle();

  if (o.search) {
    // Each trial at a paced rate; the top of the range is what the
    // generator reaches unpaced.
    const uint64_t s0 = up.sent();
    const double el = run(1.0, 0);
    settle();
    const double top = bench::mpps(up.sent() - s0, el);
    bench::ZeroLossSearch search(0.05, top, o.max_loss, std::max(0.05, top * 0.01));
    int trials = 0;
    while (!search.done() && trials++ < 20) {
      const double rate = search.next();
      const uint64_t sent0 = up.sent() + down.sent(), rx0 = at_b.packets + at_a.packets;
      run(o.trial, rate);
      settle();
      const double loss = bench::loss_pct(up.sent() + down.sent() - sent0, at_b.packets + at_a.packets - rx0);
      printf("trial_mpps=%.3f trial_loss_pct=%.4f\n", rate, loss);
      search.report(rate, loss);
    }
    printf("generator_max_mpps=%.3f\nzero_loss_mpps=%.3f\nmax_loss_pct=%.4f\n", top, search.best(), o.max_loss);
  }

  // The measured window, at --rate (0: full speed).
  if (!o.at_start.empty() && std::system(o.at_start.c_str()) != 0)
    fprintf(stderr, "trestle-pktgen: --at-start command failed\n");
  at_b.latency = {};
  at_a.latency = {};
  at_b.record = at_a.record = true;
  const uint64_t sent0 = up.sent() + down.sent(), rx0 = at_b.packets + at_a.packets;
  const uint64_t rxb0 = at_b.packets, rxa0 = at_a.packets;
  const double el = run(o.seconds, o.rate);
  if (!o.at_end.empty() && std::system(o.at_end.c_str()) != 0)
    fprintf(stderr, "trestle-pktgen: --at-end command failed\n");
  settle();  // frames in flight at the end still count as received
  const uint64_t s = up.sent() + down.sent() - sent0, r = at_b.packets + at_a.packets - rx0;
  bench::LatencyHistogram lat = at_b.latency;
  lat.merge(at_a.latency);
  printf("tx_packets=%" PRIu64 "\nrx_packets=%" PRIu64 "\nseconds=%.3f\ntx_mpps=%.3f\nrx_mpps=%.3f\nloss_pct=%.4f\n",
         s, r, el, bench::mpps(s, el), bench::mpps(r, el), bench::loss_pct(s, r));
  if (o.bidir)
    printf("rx_at_b=%" PRIu64 "\nrx_at_a=%" PRIu64 "\n", at_b.packets - rxb0, at_a.packets - rxa0);
  std::string vids;
  for (const auto& [vid, n] : at_b.vids) vids += (vids.empty() ? "" : ",") + std::to_string(vid) + ":" + std::to_string(n);
  printf("rx_vids=%s\n", vids.c_str());
  auto us = [&](double p) { return lat.percentile(p) ? double(*lat.percentile(p)) / 1000.0 : 0.0; };
  printf("latency_samples=%" PRIu64 "\nlat_p50_us=%.2f\nlat_p99_us=%.2f\nlat_p999_us=%.2f\nlat_max_us=%.2f\n",
         lat.count(), us(50), us(99), us(99.9), double(lat.max()) / 1000.0);
  fflush(stdout);
  a.reset();
  b.reset();
  return 0;
}
