# Project-wide compile settings and the helpers every module uses.

add_library(trestle_options INTERFACE)
target_compile_features(trestle_options INTERFACE cxx_std_20)
target_compile_options(trestle_options INTERFACE -Wall -Wextra -Werror)
# GCC 12 with optimisation reports std::variant members (Json, Result<T>) as
# maybe uninitialized after inlining: a known false positive of that
# compiler (clang and the sanitizers see nothing), so it stays a warning.
target_compile_options(trestle_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU>:-Wno-error=maybe-uninitialized -Wno-maybe-uninitialized>)
# GCC 12 at -O3 also reports "literal" + std::string as an overlapping
# memcpy (-Wrestrict, GCC bug 105329): another false positive.
target_compile_options(trestle_options INTERFACE
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<CONFIG:Release>>:-Wno-restrict>)
if(TRESTLE_FUZZ)
  # Coverage for libFuzzer in every library the fuzz targets link.
  target_compile_options(trestle_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
if(TRESTLE_SANITIZE STREQUAL "address")
  target_compile_options(trestle_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(trestle_options INTERFACE -fsanitize=address,undefined)
elseif(TRESTLE_SANITIZE STREQUAL "thread")
  # For the DPDK-free concurrent structures (flowtable): DPDK's own
  # libraries are not instrumented, so dataplane tests are not run this way.
  target_compile_options(trestle_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(trestle_options INTERFACE -fsanitize=thread)
elseif(NOT TRESTLE_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TRESTLE_SANITIZE must be 'address', 'thread' or empty, not '${TRESTLE_SANITIZE}'")
endif()

# trestle_add_library(NAME SOURCES ... LIBRARIES ...): a module's library,
# exported as trestle::NAME, includes written from the repository root.
function(trestle_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(trestle_${name} ${ARG_SOURCES})
  add_library(trestle::${name} ALIAS trestle_${name})
  target_include_directories(trestle_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(trestle_${name} PUBLIC trestle_options ${ARG_LIBRARIES})
endfunction()

# trestle_add_test(NAME SOURCES ... LIBRARIES ... LABELS unit|integration|e2e
#                  [TIMEOUT s] [SERIAL]): a GoogleTest binary whose tests ctest
# discovers one by one. SERIAL tests take the machine's cores (DPDK PMDs) and
# never run beside each other.
function(trestle_add_test name)
  cmake_parse_arguments(ARG "SERIAL" "TIMEOUT" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE trestle_options GTest::gtest GTest::gtest_main
                        ${ARG_LIBRARIES})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  set(props LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
      ENVIRONMENT "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan.supp;UBSAN_OPTIONS=print_stacktrace=1")
  if(ARG_SERIAL)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES ${props})
endfunction()

# trestle_add_bench(NAME SOURCES ... LIBRARIES ...): a Google Benchmark
# binary; its smoke run (one short repetition, SMOKE_ARGS added) is a ctest
# labelled bench.
function(trestle_add_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES;SMOKE_ARGS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE trestle_options benchmark::benchmark ${ARG_LIBRARIES})
  if(TRESTLE_BUILD_TESTS)
    add_test(NAME ${name}.smoke COMMAND ${name} --benchmark_min_time=0.01 ${ARG_SMOKE_ARGS})
    set_tests_properties(${name}.smoke PROPERTIES LABELS bench TIMEOUT 120 RUN_SERIAL TRUE
      ENVIRONMENT "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan.supp")
  endif()
endfunction()
