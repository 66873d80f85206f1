# Install rules: headers, the library, the CMake package and the pkg-config file.
#
#   <prefix>/include/eddy/...                         public headers
#   <libdir>/libeddy.a (or .so)
#   <libdir>/cmake/eddy/eddyConfig.cmake              find_package(eddy CONFIG) -> eddy::eddy
#   <libdir>/cmake/eddy/eddyConfigVersion.cmake       SameMinorVersion while 0.x
#   <libdir>/cmake/eddy/eddyTargets*.cmake
#   <libdir>/pkgconfig/eddy.pc                        relocatable (paths from ${pcfiledir})
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(EDDY_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/eddy"
    CACHE STRING "Where eddy's CMake package files are installed (relative to the prefix)")
set(EDDY_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    CACHE STRING "Where eddy.pc is installed (relative to the prefix)")

install(TARGETS eddy
  EXPORT eddyTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT eddy_development
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT eddy_runtime
          NAMELINK_COMPONENT eddy_development
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT eddy_runtime
  FILE_SET HEADERS DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT eddy_development
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(EXPORT eddyTargets
  NAMESPACE eddy::
  DESTINATION "${EDDY_INSTALL_CMAKEDIR}"
  COMPONENT eddy_development)

# A static libeddy needs liburing at the consumer's link step; the config file recreates the
# PkgConfig::LIBURING target the exported link interface names.
get_target_property(EDDY_LIBRARY_TYPE eddy TYPE)
configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/eddyConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/eddyConfig.cmake"
  INSTALL_DESTINATION "${EDDY_INSTALL_CMAKEDIR}")
# 0.x: minor versions may break the API, so only the same minor version is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/eddyConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/eddyConfig.cmake"
  "${PROJECT_BINARY_DIR}/eddyConfigVersion.cmake"
  DESTINATION "${EDDY_INSTALL_CMAKEDIR}"
  COMPONENT eddy_development)

# pkg-config: paths relative to the .pc file, so `cmake --install --prefix X` works anywhere.
function(_eddy_pc_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "\${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
if(IS_ABSOLUTE "${EDDY_INSTALL_PKGCONFIGDIR}")
  set(EDDY_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _eddy_pc_up "/root/${EDDY_INSTALL_PKGCONFIGDIR}" "/root")
  string(REGEX REPLACE "/$" "" _eddy_pc_up "${_eddy_pc_up}")
  set(EDDY_PC_PREFIX "\${pcfiledir}/${_eddy_pc_up}")
endif()
_eddy_pc_dir(EDDY_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
_eddy_pc_dir(EDDY_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
set(EDDY_PC_SANITIZE "")
if(EDDY_SANITIZE_FLAGS)
  list(JOIN EDDY_SANITIZE_FLAGS " " EDDY_PC_SANITIZE)
  string(PREPEND EDDY_PC_SANITIZE " ")
endif()
list(JOIN EDDY_CONSUMER_COMPILE_OPTIONS " " EDDY_PC_CFLAGS)
configure_file("${CMAKE_CURRENT_LIST_DIR}/eddy.pc.in" "${PROJECT_BINARY_DIR}/eddy.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/eddy.pc"
  DESTINATION "${EDDY_INSTALL_PKGCONFIGDIR}"
  COMPONENT eddy_development)
