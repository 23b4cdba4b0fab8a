# The consumer test (label "consumer"): install into a temporary prefix under the build tree
# (fixture qpik_installed), build outside programs against it with find_package(qpik) and with
# pkg-config, then remove the prefix. Included from the top-level CMakeLists.txt.
set(_consumer_work "${CMAKE_CURRENT_BINARY_DIR}/consumer")
set(_consumer_run bash "${CMAKE_CURRENT_SOURCE_DIR}/tests/consumer/run.sh")
set(_consumer_env "CMAKE=${CMAKE_COMMAND};CC=${CMAKE_C_COMPILER};CXX=${CMAKE_CXX_COMPILER}")
foreach(_step install find_package pkg-config cleanup)
  add_test(NAME consumer.${_step}
           COMMAND ${_consumer_run} ${_step} "${CMAKE_CURRENT_BINARY_DIR}" "${_consumer_work}")
  set_tests_properties(consumer.${_step} PROPERTIES
    LABELS consumer ENVIRONMENT "${_consumer_env}" TIMEOUT 300 RESOURCE_LOCK qpik_consumer)
endforeach()
set_tests_properties(consumer.install PROPERTIES FIXTURES_SETUP qpik_installed)
set_tests_properties(consumer.find_package consumer.pkg-config PROPERTIES
  FIXTURES_REQUIRED qpik_installed)
set_tests_properties(consumer.cleanup PROPERTIES FIXTURES_CLEANUP qpik_installed)
