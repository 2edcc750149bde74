# Project-wide warning and sanitizer settings, applied per target through dr2_project_options.
add_library(dr2_project_options INTERFACE)
target_compile_options(dr2_project_options INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(DR2_FATAL_WARNINGS)
    target_compile_options(dr2_project_options INTERFACE -Werror)
endif()
# DR2_SANITIZE_ADDRESS: flags, default runtime options and suppressions.
include(${CMAKE_CURRENT_LIST_DIR}/Dr2Sanitizers.cmake)
