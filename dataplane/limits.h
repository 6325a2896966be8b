#pragma once
// Fixed sizes of the dataplane's tables, chosen so every per-PMD scratch
// array is allocated once, at start.

#include <cstdint>

namespace trestle::dataplane {

inline constexpr uint32_t kMaxPorts = 1024;
inline constexpr uint32_t kMaxBridges = 256;
inline constexpr uint32_t kMaxPatchDepth = 8;  // bridges one packet may cross

}  // namespace trestle::dataplane
