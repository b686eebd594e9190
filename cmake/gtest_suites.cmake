# Run after a GoogleTest binary is linked (llmq_test in the top CMakeLists.txt): lists its
# cases (--gtest_list_tests) and writes CTEST_FILE with one CTest test per test suite, which
# runs that suite's cases in one process (--gtest_filter=Suite.*). A process per suite, not
# per case: a binary linked with libtorch spends ~0.7 s starting up (its operator
# registrations), which over ~300 cases was a minute and a half of each test run.
#
# cmake -D TEST_EXECUTABLE=... -D CTEST_FILE=... -D TEST_WORKING_DIR=... -D TEST_LABELS=a,b
#       -D TEST_TIMEOUT=300 -D TEST_RUN_SERIAL=FALSE -D TEST_ENVIRONMENT=K=V -P gtest_suites.cmake
execute_process(
  COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
  WORKING_DIRECTORY "${TEST_WORKING_DIR}"
  RESULT_VARIABLE result
  OUTPUT_VARIABLE listing
  ERROR_VARIABLE errors
  TIMEOUT 60)
if(NOT result EQUAL 0)
  file(REMOVE "${CTEST_FILE}")
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${result}):\n${listing}${errors}")
endif()

string(REPLACE "," ";" labels "${TEST_LABELS}")
set(script "")
string(REPLACE "\n" ";" lines "${listing}")
foreach(line IN LISTS lines)
  # Suites start in column 0 ("Suite." or "Prefix/Suite/0.  # TypeParam = ..."); their
  # cases are indented.
  if(line MATCHES "^([^ #]+)\\.")
    set(suite "${CMAKE_MATCH_1}")
    if(suite MATCHES "^DISABLED_" OR suite MATCHES "/DISABLED_")
      continue()
    endif()
    string(APPEND script
      "add_test([==[${suite}]==] \"${TEST_EXECUTABLE}\" [==[--gtest_filter=${suite}.*]==])\n"
      "set_tests_properties([==[${suite}]==] PROPERTIES\n"
      "  WORKING_DIRECTORY \"${TEST_WORKING_DIR}\"\n"
      "  LABELS \"${labels}\" TIMEOUT ${TEST_TIMEOUT} RUN_SERIAL ${TEST_RUN_SERIAL}\n"
      "  ENVIRONMENT [==[${TEST_ENVIRONMENT}]==])\n")
  endif()
endforeach()
if(script STREQUAL "")
  message(FATAL_ERROR "${TEST_EXECUTABLE} lists no test suite")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
