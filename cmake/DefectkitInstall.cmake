# Installs the core library, headers and a CMake package config so that a
# line controller can `find_package(defectkit)` and link defectkit::defectkit.
# In a wheel everything goes under the package folder (defectkit/lib, ...),
# and `defectkit.cmake_dir()` tells integrators where the config is.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

if(SKBUILD)
  set(_dk_prefix "defectkit/")
else()
  set(_dk_prefix "")
endif()
set(DEFECTKIT_INSTALL_LIBDIR "${_dk_prefix}${CMAKE_INSTALL_LIBDIR}")
set(DEFECTKIT_INSTALL_INCLUDEDIR "${_dk_prefix}${CMAKE_INSTALL_INCLUDEDIR}")
set(DEFECTKIT_INSTALL_CMAKEDIR "${DEFECTKIT_INSTALL_LIBDIR}/cmake/defectkit")

install(TARGETS defectkit_core EXPORT defectkitTargets
  ARCHIVE DESTINATION "${DEFECTKIT_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${DEFECTKIT_INSTALL_INCLUDEDIR}")
install(DIRECTORY cpp/include/defectkit DESTINATION "${DEFECTKIT_INSTALL_INCLUDEDIR}")
install(EXPORT defectkitTargets NAMESPACE defectkit:: DESTINATION "${DEFECTKIT_INSTALL_CMAKEDIR}")

configure_package_config_file(cmake/defectkitConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/defectkitConfig.cmake"
  INSTALL_DESTINATION "${DEFECTKIT_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/defectkitConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/defectkitConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/defectkitConfigVersion.cmake"
        DESTINATION "${DEFECTKIT_INSTALL_CMAKEDIR}")
