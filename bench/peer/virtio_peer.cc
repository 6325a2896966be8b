#include "bench/peer/virtio_peer.h"

#include <rte_dev.h>
#include <rte_errno.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>


namespace trestle::peer {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Frame make_frame(uint64_t dst, uint64_t src, std::vector<uint16_t> tags, uint32_t len,
                 uint16_t tpid) {
  Frame f;
  for (int i = 5; i >= 0; --i) f.push_back(static_cast<uint8_t>(dst >> (8 * i)));
  for (int i = 5; i >= 0; --i) f.push_back(static_cast<uint8_t>(src >> (8 * i)));
  for (size_t t = 0; t < tags.size(); ++t) {
    uint16_t tp = t == 0 ? tpid : 0x8100;
    f.push_back(static_cast<uint8_t>(tp >> 8));
    f.push_back(static_cast<uint8_t>(tp));
    f.push_back(static_cast<uint8_t>(tags[t] >> 8));
    f.push_back(static_cast<uint8_t>(tags[t]));
  }
  f.push_back(0x08);
  f.push_back(0x00);
  while (f.size() < len) f.push_back(static_cast<uint8_t>(f.size()));
  f.resize(std::max<size_t>(len, 0));
  return f;
}

static uint64_t mac_at(const Frame& f, size_t off) {
  uint64_t m = 0;
  for (size_t i = 0; i < 6; ++i) m = m << 8 | f[off + i];
  return m;
}
uint64_t frame_dst(const Frame& f) { return mac_at(f, 0); }
uint64_t frame_src(const Frame& f) { return mac_at(f, 6); }
std::optional<uint16_t> frame_vid(const Frame& f) {
  if (f.size() < 18) return std::nullopt;
  uint16_t t = static_cast<uint16_t>(f[12] << 8 | f[13]);
  if (t != 0x8100 && t != 0x88a8) return std::nullopt;
  return static_cast<uint16_t>((f[14] << 8 | f[15]) & 0x0fff);
}

std::unique_ptr<VirtioPeer> VirtioPeer::open(const std::string& path, bool server,
                                             rte_mempool* pool) {
  static int counter = 0;
  std::unique_ptr<VirtioPeer> p(new VirtioPeer);
  p->pool_ = pool;
  p->name_ = "net_virtio_user" + std::to_string(counter++);
  std::string args = "path=" + path + ",queues=1,queue_size=1024" + (server ? ",server=1" : "");
  if (rte_dev_probe((p->name_ + "," + args).c_str()) != 0)
    throw std::runtime_error("virtio_user " + args + ": " + rte_strerror(rte_errno));
  if (rte_eth_dev_get_port_by_name(p->name_.c_str(), &p->port_) != 0)
    throw std::runtime_error("virtio_user has no port");
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(p->port_, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(p->port_, 0, 1024, SOCKET_ID_ANY, nullptr, pool) != 0 ||
      rte_eth_tx_queue_setup(p->port_, 0, 1024, SOCKET_ID_ANY, nullptr) != 0 ||
      rte_eth_dev_start(p->port_) != 0)
    throw std::runtime_error("virtio_user setup failed");
  return p;
}

VirtioPeer::~VirtioPeer() {
  rte_eth_dev_stop(port_);
  rte_eth_dev_close(port_);
  rte_eal_hotplug_remove("vdev", name_.c_str());
}

bool VirtioPeer::wait_link(int timeout_ms) {
  auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < end) {
    rte_eth_link link;
    if (rte_eth_link_get_nowait(port_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

size_t VirtioPeer::send(const std::vector<Frame>& frames) {
  size_t sent = 0;
  auto end = Clock::now() + std::chrono::seconds(1);
  for (const Frame& f : frames) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (!m) break;
    char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(f.size()));
    if (!d) {
      rte_pktmbuf_free(m);
      continue;
    }
    memcpy(d, f.data(), f.size());
    while (rte_eth_tx_burst(port_, 0, &m, 1) == 0) {
      if (Clock::now() > end) {
        rte_pktmbuf_free(m);
        return sent;
      }
      std::this_thread::yield();
    }
    ++sent;
  }
  return sent;
}

uint16_t VirtioPeer::tx_copies(const Frame& f, uint16_t n) {
  rte_mbuf* pkts[64];
  n = std::min<uint16_t>(n, 64);
  if (rte_pktmbuf_alloc_bulk(pool_, pkts, n) != 0) return 0;
  for (uint16_t i = 0; i < n; ++i)
    memcpy(rte_pktmbuf_append(pkts[i], static_cast<uint16_t>(f.size())), f.data(), f.size());
  const uint16_t sent = rte_eth_tx_burst(port_, 0, pkts, n);
  for (uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(pkts[i]);
  return sent;
}

uint16_t VirtioPeer::rx_count(RxCount& c) {
  rte_mbuf* pkts[64];
  const uint16_t n = rte_eth_rx_burst(port_, 0, pkts, 64);
  for (uint16_t i = 0; i < n; ++i) {
    const auto* d = rte_pktmbuf_mtod(pkts[i], const uint8_t*);
    int vid = -1;
    if (pkts[i]->data_len >= 18 && ((d[12] == 0x81 && d[13] == 0x00) || (d[12] == 0x88 && d[13] == 0xa8)))
      vid = (d[14] << 8 | d[15]) & 0x0fff;
    ++c.by_vid[vid];
    c.bytes += pkts[i]->pkt_len;
    rte_pktmbuf_free(pkts[i]);
  }
  c.packets += n;
  return n;
}

std::vector<Frame> VirtioPeer::receive(size_t count, int timeout_ms) {
  std::vector<Frame> out;
  auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
  rte_mbuf* pkts[32];
  while (out.size() < count && Clock::now() < end) {
    uint16_t n = rte_eth_rx_burst(port_, 0, pkts, 32);
    for (uint16_t i = 0; i < n; ++i) {
      Frame f(rte_pktmbuf_pkt_len(pkts[i]));
      const auto* p = static_cast<const uint8_t*>(
          rte_pktmbuf_read(pkts[i], 0, static_cast<uint32_t>(f.size()), f.data()));
      if (p != f.data()) memcpy(f.data(), p, f.size());
      out.push_back(std::move(f));
      rte_pktmbuf_free(pkts[i]);
    }
    if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return out;
}

}  // namespace trestle::peer
