# DR2_SANITIZE_ADDRESS: AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer) on every target that links
# dr2_project_options. Run with `./dr2 asan` or the dev-asan preset; see CONTRIBUTING.md, "Build and test".
# LibTorch, SQLite, HDF5 and the other Debian libraries are not instrumented: their memory errors are not seen,
# but every allocation they make goes through ASan's malloc, so our misuse of their buffers is.
if(NOT DR2_SANITIZE_ADDRESS)
    return()
endif()

set(_dr2_sanitize -fsanitize=address,undefined)
target_compile_options(dr2_project_options INTERFACE
    ${_dr2_sanitize}
    # Whole stacks in reports: frame pointers, and no tail calls that drop the caller's frame.
    -fno-omit-frame-pointer -fno-optimize-sibling-calls
    # Undefined behaviour aborts the test (exit code non-zero) instead of printing a line and going on.
    -fno-sanitize-recover=undefined)
target_link_options(dr2_project_options INTERFACE ${_dr2_sanitize})

# Default ASan/UBSan/LSan options, compiled into every executable so that ctest, a test binary run by hand and a
# helper process a test starts all behave alike. ASAN_OPTIONS / UBSAN_OPTIONS / LSAN_OPTIONS in the environment
# still override them one by one (e.g. ASAN_OPTIONS=detect_leaks=0).
set(DR2_LSAN_SUPPRESSIONS ${PROJECT_SOURCE_DIR}/tests/sanitizers/lsan.supp)
configure_file(${PROJECT_SOURCE_DIR}/tests/sanitizers/sanitizer_defaults.cpp.in
    ${PROJECT_BINARY_DIR}/generated/sanitizer_defaults.cpp @ONLY)
# Executables only: a static library holding the hooks too would be harmless but redundant.
target_sources(dr2_project_options INTERFACE
    $<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:${PROJECT_BINARY_DIR}/generated/sanitizer_defaults.cpp>)
