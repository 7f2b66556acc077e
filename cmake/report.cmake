# Report module: plots through PLplot (cairo drivers at run time: plplot-driver-cairo).
if(NOT PLPLOT_FOUND)
  message(FATAL_ERROR "memlev report needs PLplot: apt-get install libplplot-dev plplot-driver-cairo")
endif()
list(APPEND ML_LIB_DEPS PkgConfig::PLPLOT)
