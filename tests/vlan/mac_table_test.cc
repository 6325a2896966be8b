#include "vlan/mac_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace trestle::vlan {
namespace {

constexpr uint64_t kA = 0x020000000001ull;
constexpr uint64_t kB = 0x020000000002ull;

TEST(MacTable, LearnsPerVlan) {
  MacTable t;
  EXPECT_EQ(t.lookup(1, kA), kNoPort);
  EXPECT_EQ(t.learn(1, kA, 3, 0), LearnResult::kLearned);
  EXPECT_EQ(t.lookup(1, kA), 3);
  EXPECT_EQ(t.lookup(2, kA), kNoPort);  // another VLAN is another table
  EXPECT_EQ(t.learn(2, kA, 4, 0), LearnResult::kLearned);
  EXPECT_EQ(t.lookup(2, kA), 4);
  EXPECT_EQ(t.lookup(1, kA), 3);
  EXPECT_EQ(t.size(), 2u);
}

TEST(MacTable, RefreshAndMove) {
  MacTable t;
  ASSERT_EQ(t.learn(1, kA, 3, 0), LearnResult::kLearned);
  EXPECT_EQ(t.learn(1, kA, 3, 10), LearnResult::kRefreshed);
  EXPECT_EQ(t.learn(1, kA, 7, 11), LearnResult::kMoved);
  EXPECT_EQ(t.lookup(1, kA), 7);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.stats().moved, 1u);
}

TEST(MacTable, NeverLearnsMulticast) {
  MacTable t;
  EXPECT_EQ(t.learn(1, 0xffffffffffffull, 1, 0), LearnResult::kInvalid);
  EXPECT_EQ(t.learn(1, 0x01005e000001ull, 1, 0), LearnResult::kInvalid);
  EXPECT_EQ(t.size(), 0u);
}

TEST(MacTable, AgesIdleEntriesOnly) {
  MacTable t;
  t.learn(1, kA, 1, 100);
  t.learn(1, kB, 2, 100);
  // A reader's touch keeps B alive.
  EXPECT_EQ(t.lookup_touch(1, kB, 350), 2);
  EXPECT_EQ(t.age(399, 300), 0u);
  EXPECT_EQ(t.age(400, 300), 1u);
  EXPECT_EQ(t.lookup(1, kA), kNoPort);
  EXPECT_EQ(t.lookup(1, kB), 2);
  EXPECT_EQ(t.age(650, 300), 1u);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.stats().aged, 2u);
}

TEST(MacTable, SizeLimitRefusesNewEntries) {
  MacTable t(4);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(t.learn(1, kA + i, 1, 0), LearnResult::kLearned);
  EXPECT_EQ(t.learn(1, kA + 4, 1, 0), LearnResult::kTableFull);
  EXPECT_EQ(t.stats().table_full, 1u);
  EXPECT_EQ(t.lookup(1, kA + 4), kNoPort);
  // Existing entries still move while full.
  EXPECT_EQ(t.learn(1, kA, 2, 0), LearnResult::kMoved);
  // Raising the limit makes room.
  t.set_max_entries(8);
  EXPECT_EQ(t.learn(1, kA + 4, 1, 0), LearnResult::kLearned);
  EXPECT_EQ(t.lookup(1, kA + 3), 1);
}

TEST(MacTable, FlushPortAndVlan) {
  MacTable t;
  t.learn(1, kA, 1, 0);
  t.learn(1, kB, 2, 0);
  t.learn(2, kB, 2, 0);
  EXPECT_EQ(t.flush_port(2), 2u);
  EXPECT_EQ(t.lookup(1, kA), 1);
  EXPECT_EQ(t.lookup(1, kB), kNoPort);
  t.learn(3, kB, 2, 0);
  EXPECT_EQ(t.flush_vlan(1), 1u);
  EXPECT_EQ(t.lookup(3, kB), 2);
  EXPECT_EQ(t.flush_all(), 1u);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.lookup(3, kB), kNoPort);
}

TEST(MacTable, ChurnKeepsEveryLiveEntryReachable) {
  // Learn and age many entries so tombstones pile up and sweeps run.
  MacTable t(1000);
  uint32_t now = 0;
  for (int round = 0; round < 50; ++round) {
    for (uint64_t i = 0; i < 900; ++i)
      ASSERT_NE(t.learn(1, kA + round * 1000 + i, static_cast<uint32_t>(i), now),
                LearnResult::kTableFull);
    for (uint64_t i = 0; i < 900; i += 97)
      ASSERT_EQ(t.lookup(1, kA + round * 1000 + i), static_cast<int32_t>(i));
    now += 400;
    t.age(now, 300);
    ASSERT_EQ(t.size(), 0u);
  }
  EXPECT_EQ(t.capacity(), 2048u);
}

TEST(MacTable, DumpReportsAge) {
  MacTable t;
  t.learn(7, kA, 9, 10);
  auto d = t.dump(15);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].vlan, 7);
  EXPECT_EQ(d[0].mac, kA);
  EXPECT_EQ(d[0].port, 9u);
  EXPECT_EQ(d[0].age_sec, 5u);
}

// One writer churning, one reader looking up: the reader must never see a
// port that was not the entry's port at some moment. Entry i is only ever
// learned on port i or port i + 1000.
TEST(MacTable, ConcurrentReaderSeesOnlyValidPorts) {
  std::vector<std::function<void()>> retired;
  std::atomic<bool> stop{false};
  MacTable t(512, [&](std::function<void()> f) { retired.push_back(std::move(f)); });
  std::atomic<uint64_t> bad{0}, hits{0};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      for (uint32_t i = 0; i < 400; ++i) {
        int32_t p = t.lookup(1, kA + i);
        if (p == kNoPort) continue;
        hits.fetch_add(1, std::memory_order_relaxed);
        if (p != static_cast<int32_t>(i) && p != static_cast<int32_t>(i + 1000))
          bad.fetch_add(1, std::memory_order_relaxed);
      }
    }
  });
  uint32_t now = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (int round = 0; round < 300 || (hits.load() < 100000 && std::chrono::steady_clock::now() < deadline);
       ++round) {
    for (uint32_t i = 0; i < 400; ++i) t.learn(1, kA + i, i + (round & 1) * 1000, now);
    now += 1000;
    t.age(now, 300);
  }
  stop = true;
  reader.join();
  for (auto& f : retired) f();  // the reader is gone: a grace period has passed
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
}

}  // namespace
}  // namespace trestle::vlan
