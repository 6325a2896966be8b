#pragma once
// OpenFlow errors as a flow_mod reports them: the OpenFlow 1.3 type and code
// (the OpenFlow channel translates them for other versions) and a message
// a user can act on.

#include <cstdint>
#include <optional>
#include <string>

namespace trestle::flowtable {

// OpenFlow 1.3 §7.4.4 type and code names, kept as the spec spells them.
enum OfErrorType : uint16_t {
  OFPET_BAD_REQUEST = 1,
  OFPET_BAD_ACTION = 2,
  OFPET_BAD_INSTRUCTION = 3,
  OFPET_BAD_MATCH = 4,
  OFPET_FLOW_MOD_FAILED = 5,
};
enum : uint16_t {
  OFPBAC_BAD_TYPE = 0, OFPBAC_BAD_OUT_PORT = 4, OFPBAC_BAD_ARGUMENT = 5,
  OFPBAC_TOO_MANY = 7, OFPBAC_MATCH_INCONSISTENT = 10, OFPBAC_BAD_SET_TYPE = 13,
  OFPBAC_BAD_SET_ARGUMENT = 15,
};
enum : uint16_t {
  OFPBIC_UNSUP_INST = 1, OFPBIC_BAD_TABLE_ID = 2, OFPBIC_UNSUP_METADATA_MASK = 4,
};
enum : uint16_t {
  OFPBMC_BAD_FIELD = 6, OFPBMC_BAD_VALUE = 7, OFPBMC_BAD_MASK = 8, OFPBMC_BAD_PREREQ = 9,
};
enum : uint16_t {
  OFPFMFC_UNKNOWN = 0, OFPFMFC_TABLE_FULL = 1, OFPFMFC_BAD_TABLE_ID = 2, OFPFMFC_OVERLAP = 3,
  OFPFMFC_BAD_TIMEOUT = 5, OFPFMFC_BAD_COMMAND = 6, OFPFMFC_BAD_FLAGS = 7,
};

struct OfError {
  uint16_t type;
  uint16_t code;
  std::string message;
};

// Success, or the first error found.
using OfStatus = std::optional<OfError>;

}  // namespace trestle::flowtable
