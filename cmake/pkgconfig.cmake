# memlev.pc finds its prefix from its own location (${pcfiledir}), so the file stays right
# when the install prefix is chosen at install time (cmake --install build --prefix DIR).
include(GNUInstallDirs)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(ML_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH ML_PC_UP "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" ML_PC_UP "${ML_PC_UP}")
  set(ML_PC_PREFIX "\${pcfiledir}/${ML_PC_UP}")
endif()
