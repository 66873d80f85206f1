# Builds and runs one consumer project (cmake -P). Registered by tests/CMakeLists.txt as
# consumer.<MODE>; also usable by hand:
#
#   cmake -DMODE=install -DEDDY_SOURCE_DIR=. -DCONSUMER_SOURCE_DIR=tests/consumer \
#         -DWORK_DIR=/tmp/eddy-consumer -DCXX_COMPILER=g++ -P tests/consumer/run_consumer.cmake
#
# MODE
#   install           configure eddy alone (no tests/examples/benchmarks, CMake's Release
#                     flags, no sanitizers), build it, `cmake --install` it into WORK_DIR/prefix
#   find_package      consumer project with find_package(eddy CONFIG REQUIRED) against that prefix
#   find_package_asan the same consumer built with -fsanitize=address,undefined against the
#                     release install: a program's sanitizer flags must not change how the
#                     library's frames are allocated and freed (frame_allocator.hpp)
#   add_subdirectory  consumer project with add_subdirectory(EDDY_SOURCE_DIR)
#   pkg_config        compile consumer.cpp with `pkg-config --cflags --libs [--static] eddy`
# Each consumer is built with CXX_COMPILER and then run; it must exit 0.
cmake_minimum_required(VERSION 3.25)

foreach(_var IN ITEMS MODE EDDY_SOURCE_DIR CONSUMER_SOURCE_DIR WORK_DIR CXX_COMPILER)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${_var}=... is required")
  endif()
endforeach()

set(_prefix "${WORK_DIR}/prefix")
set(_jobs 2)

# Ninja when it is there (fast); otherwise the outer build's generator.
find_program(_ninja NAMES ninja ninja-build)
if(_ninja)
  set(_generator_args -G Ninja "-DCMAKE_MAKE_PROGRAM=${_ninja}")
elseif(DEFINED OUTER_GENERATOR AND NOT OUTER_GENERATOR STREQUAL "")
  set(_generator_args -G "${OUTER_GENERATOR}")
  if(DEFINED OUTER_MAKE_PROGRAM AND NOT OUTER_MAKE_PROGRAM STREQUAL "")
    list(APPEND _generator_args "-DCMAKE_MAKE_PROGRAM=${OUTER_MAKE_PROGRAM}")
  endif()
else()
  set(_generator_args "")
endif()
set(_common_args
  ${_generator_args}
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  -DCMAKE_BUILD_TYPE=Debug
  -DCMAKE_CXX_FLAGS_DEBUG=-O0)

function(_step what)
  string(REPLACE ";" " " _shown "${ARGN}")
  message(STATUS "[consumer.${MODE}] ${what}: ${_shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "[consumer.${MODE}] ${what} failed (${_rc})")
  endif()
endfunction()

function(_build_and_run source_dir binary_dir)
  file(REMOVE_RECURSE "${binary_dir}")
  _step("configure" "${CMAKE_COMMAND}" -S "${source_dir}" -B "${binary_dir}" ${_common_args}
        ${ARGN})
  _step("build" "${CMAKE_COMMAND}" --build "${binary_dir}" -j ${_jobs})
  _step("run" "${binary_dir}/consumer")
endfunction()

if(MODE STREQUAL "install")
  set(_build "${WORK_DIR}/eddy-build")
  file(REMOVE_RECURSE "${_build}" "${_prefix}")
  _step("configure eddy" "${CMAKE_COMMAND}" -S "${EDDY_SOURCE_DIR}" -B "${_build}"
        ${_common_args} -DCMAKE_BUILD_TYPE=Release
        -DEDDY_BUILD_TESTS=OFF -DEDDY_BUILD_EXAMPLES=OFF -DEDDY_BUILD_BENCHMARKS=OFF
        -DEDDY_WARNINGS_AS_ERRORS=OFF "-DEDDY_SANITIZE="
        "-DCMAKE_INSTALL_PREFIX=${_prefix}")
  _step("build eddy" "${CMAKE_COMMAND}" --build "${_build}" -j ${_jobs})
  _step("install eddy" "${CMAKE_COMMAND}" --install "${_build}" --prefix "${_prefix}")
  foreach(_expected IN ITEMS include/eddy/eddy.hpp)
    if(NOT EXISTS "${_prefix}/${_expected}")
      message(FATAL_ERROR "[consumer.install] ${_expected} was not installed")
    endif()
  endforeach()
  file(GLOB_RECURSE _configs "${_prefix}/*/eddyConfig.cmake")
  file(GLOB_RECURSE _pcs "${_prefix}/*/eddy.pc")
  if(NOT _configs OR NOT _pcs)
    message(FATAL_ERROR "[consumer.install] eddyConfig.cmake or eddy.pc missing in ${_prefix}")
  endif()
  # Public headers must stand without liburing / epoll headers.
  file(GLOB_RECURSE _headers "${_prefix}/include/eddy/*.hpp")
  foreach(_header IN LISTS _headers)
    file(STRINGS "${_header}" _bad REGEX "#[ \t]*include[ \t]*[<\"](liburing|sys/epoll)")
    if(_bad)
      message(FATAL_ERROR "[consumer.install] ${_header} includes a backend header: ${_bad}")
    endif()
  endforeach()

elseif(MODE STREQUAL "find_package")
  _build_and_run("${CONSUMER_SOURCE_DIR}/find_package" "${WORK_DIR}/find_package"
                 "-DCMAKE_PREFIX_PATH=${_prefix}")

elseif(MODE STREQUAL "find_package_asan")
  set(_sanitize "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer")
  _build_and_run("${CONSUMER_SOURCE_DIR}/find_package" "${WORK_DIR}/find_package_asan"
                 "-DCMAKE_PREFIX_PATH=${_prefix}"
                 "-DCMAKE_CXX_FLAGS=${_sanitize}"
                 "-DCMAKE_EXE_LINKER_FLAGS=${_sanitize}")

elseif(MODE STREQUAL "add_subdirectory")
  _build_and_run("${CONSUMER_SOURCE_DIR}/add_subdirectory" "${WORK_DIR}/add_subdirectory"
                 "-DEDDY_SOURCE_DIR=${EDDY_SOURCE_DIR}")

elseif(MODE STREQUAL "pkg_config")
  find_program(_pkg_config NAMES pkg-config pkgconf REQUIRED)
  file(GLOB_RECURSE _pcs "${_prefix}/*/eddy.pc")
  list(GET _pcs 0 _pc)
  get_filename_component(_pc_dir "${_pc}" DIRECTORY)
  if(DEFINED ENV{PKG_CONFIG_PATH} AND NOT "$ENV{PKG_CONFIG_PATH}" STREQUAL "")
    set(ENV{PKG_CONFIG_PATH} "${_pc_dir}:$ENV{PKG_CONFIG_PATH}")
  else()
    set(ENV{PKG_CONFIG_PATH} "${_pc_dir}")
  endif()
  # A static libeddy needs --static for its private liburing; harmless for a shared one.
  execute_process(COMMAND "${_pkg_config}" --static --cflags --libs eddy
                  OUTPUT_VARIABLE _flags OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "[consumer.pkg_config] pkg-config eddy failed (${_rc})")
  endif()
  message(STATUS "[consumer.pkg_config] pkg-config --static --cflags --libs eddy: ${_flags}")
  separate_arguments(_flags UNIX_COMMAND "${_flags}")
  set(_out "${WORK_DIR}/pkg_config")
  file(REMOVE_RECURSE "${_out}")
  file(MAKE_DIRECTORY "${_out}")
  _step("compile" "${CXX_COMPILER}" -std=c++20 -O0 "${CONSUMER_SOURCE_DIR}/consumer.cpp"
        -o "${_out}/consumer" ${_flags})
  _step("run" "${_out}/consumer")

else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()

message(STATUS "[consumer.${MODE}] ok")
