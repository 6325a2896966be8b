// trestle-pktgen: a traffic generator and sink on virtio-user ports, as
// QEMU's guests would be: it connects to a switch's vhost-user sockets, sends
// 64-byte (or --size) Ethernet/IPv4 frames from one port with --macs distinct
// source MACs, and counts what comes back on the other.
//
// Phases: announce (the sink's MAC is sent once from the sink port, so the
// switch learns it), warm-up (--warmup s at full rate: the switch learns the
// sources), measure (--seconds s). With --switch-pid, SIGUSR1 goes to the
// switch when measuring starts and SIGUSR2 when it ends, so the switch reads
// its PMD counters over exactly that window; --at-start / --at-end run shell
// commands at those moments instead (ovs-appctl dpif-netdev/pmd-stats-clear
// and pmd-stats-show for OVS). Prints key=value lines.

#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "bench/peer/virtio_peer.h"
#include "dataplane/eal.h"

using namespace trestle;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string tx_sock, rx_sock, prefix = "trestle-pktgen-" + std::to_string(getpid());
  double warmup = 2, seconds = 5;
  uint32_t macs = 1, size = 60;  // 60 + 4 FCS = a 64-byte frame on the wire
  int switch_pid = 0, core = 0;
  std::string at_start, at_end;
  static option opts[] = {{"tx", required_argument, nullptr, 't'},
                          {"rx", required_argument, nullptr, 'r'},
                          {"macs", required_argument, nullptr, 'm'},
                          {"size", required_argument, nullptr, 'z'},
                          {"warmup", required_argument, nullptr, 'w'},
                          {"seconds", required_argument, nullptr, 's'},
                          {"switch-pid", required_argument, nullptr, 'p'},
                          {"core", required_argument, nullptr, 'c'},
                          {"file-prefix", required_argument, nullptr, 'f'},
                          {"at-start", required_argument, nullptr, 'A'},
                          {"at-end", required_argument, nullptr, 'E'},
                          {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    switch (c) {
      case 't': tx_sock = optarg; break;
      case 'r': rx_sock = optarg; break;
      case 'm': macs = static_cast<uint32_t>(std::stoul(optarg)); break;
      case 'z': size = static_cast<uint32_t>(std::stoul(optarg)); break;
      case 'w': warmup = std::stod(optarg); break;
      case 's': seconds = std::stod(optarg); break;
      case 'p': switch_pid = std::stoi(optarg); break;
      case 'c': core = std::stoi(optarg); break;
      case 'f': prefix = optarg; break;
      case 'A': at_start = optarg; break;
      case 'E': at_end = optarg; break;
      default:
        fprintf(stderr, "usage: trestle-pktgen --tx SOCK --rx SOCK [--macs N] [--size B] "
                        "[--warmup S] [--seconds S] [--switch-pid PID] [--core C]\n");
        return 2;
    }
  }
  if (tx_sock.empty() || rx_sock.empty() || macs == 0) {
    fprintf(stderr, "trestle-pktgen: --tx and --rx are required\n");
    return 2;
  }
  // A switch that goes away mid-run must not kill us before we report.
  signal(SIGPIPE, SIG_IGN);
  dataplane::EalConfig eal;
  eal.file_prefix = prefix;
  eal.control_core = core;
  eal.log_level = "*:error";
  if (auto r = dataplane::eal_init(eal); !r) {
    fprintf(stderr, "trestle-pktgen: %s\n", r.error().message.c_str());
    return 1;
  }
  rte_mempool* pool =
      rte_pktmbuf_pool_create("pktgen", 16384, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  auto tx = peer::VirtioPeer::open(tx_sock, false, pool);
  auto rx = peer::VirtioPeer::open(rx_sock, false, pool);
  if (!tx->wait_link() || !rx->wait_link()) {
    fprintf(stderr, "trestle-pktgen: links did not come up\n");
    return 1;
  }
  // Sources differ from the sink in their high bytes, so no source is ever the sink.
  constexpr uint64_t kSink = 0x02000000aaaaull, kSrcBase = 0x020100000000ull;
  rx->send({peer::make_frame(kSrcBase + macs, kSink, {}, size)});  // announce the sink
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  // One template per source MAC would cost memory at 100k; patch the source
  // MAC's low bytes per packet instead.
  peer::Frame tmpl = peer::make_frame(kSink, kSrcBase, {}, size);
  rte_mbuf* pkts[32];
  peer::VirtioPeer::RxCount rxc;
  uint64_t next_mac = 0, sent = 0;
  auto burst = [&] {
    if (rte_pktmbuf_alloc_bulk(pool, pkts, 32) == 0) {
      for (int i = 0; i < 32; ++i) {
        auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(pkts[i], static_cast<uint16_t>(size)));
        memcpy(d, tmpl.data(), size);
        const uint64_t src = kSrcBase + next_mac;
        next_mac = next_mac + 1 == macs ? 0 : next_mac + 1;
        d[8] = static_cast<uint8_t>(src >> 24);
        d[9] = static_cast<uint8_t>(src >> 16);
        d[10] = static_cast<uint8_t>(src >> 8);
        d[11] = static_cast<uint8_t>(src);
      }
      const uint16_t n = rte_eth_tx_burst(tx->port(), 0, pkts, 32);
      for (int i = n; i < 32; ++i) rte_pktmbuf_free(pkts[i]);
      sent += n;
    }
    while (rx->rx_count(rxc) == 64) {
    }
  };
  for (auto end = Clock::now() + std::chrono::duration<double>(warmup); Clock::now() < end;) burst();

  if (switch_pid) kill(switch_pid, SIGUSR1);
  if (!at_start.empty() && std::system(at_start.c_str()) != 0)
    fprintf(stderr, "trestle-pktgen: --at-start command failed\n");
  const uint64_t sent0 = sent, rx0 = rxc.packets;
  const auto t0 = Clock::now();
  for (auto end = t0 + std::chrono::duration<double>(seconds); Clock::now() < end;) burst();
  const double el = std::chrono::duration<double>(Clock::now() - t0).count();
  if (switch_pid) kill(switch_pid, SIGUSR2);
  if (!at_end.empty() && std::system(at_end.c_str()) != 0)
    fprintf(stderr, "trestle-pktgen: --at-end command failed\n");
  const uint64_t s = sent - sent0;
  uint64_t r = rxc.packets - rx0;
  // Frames in flight at the end still count as received.
  for (auto end = Clock::now() + std::chrono::milliseconds(100); Clock::now() < end;) rx->rx_count(rxc);
  r = rxc.packets - rx0;
  printf("tx_packets=%" PRIu64 "\nrx_packets=%" PRIu64 "\nseconds=%.3f\ntx_mpps=%.3f\nrx_mpps=%.3f\n"
         "loss_pct=%.4f\n", s, r, el, double(s) / el / 1e6, double(r) / el / 1e6,
         s ? 100.0 * (double(s) - double(std::min(r, s))) / double(s) : 0.0);
  std::string vids;
  for (auto [vid, n] : rxc.by_vid) vids += (vids.empty() ? "" : ",") + std::to_string(vid) + ":" + std::to_string(n);
  printf("rx_vids=%s\n", vids.c_str());
  fflush(stdout);
  tx.reset();
  rx.reset();
  return 0;
}
