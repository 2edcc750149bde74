# Installation and the Debian package (CPack DEB). Included at the end of the root CMakeLists.txt.
#
#   cmake --build BUILD && (cd BUILD && cpack)      -> BUILD/dr2net_VERSION_ARCH.deb
#   packaging/test-deb.sh BUILD                       builds, checks, installs, runs and removes the package
include(GNUInstallDirs)

# Programs.
install(TARGETS dr2net-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dr2net)
if(TARGET dr2net)
    install(TARGETS dr2net RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dr2net)
endif()

# Example configs and desktop integration.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/configs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/dr2net/configs
    COMPONENT dr2net FILES_MATCHING PATTERN "*.json")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/studies/ DESTINATION ${CMAKE_INSTALL_DATADIR}/dr2net/studies
    COMPONENT dr2net FILES_MATCHING PATTERN "*.json" PATTERN "*.md")
install(FILES ${PROJECT_SOURCE_DIR}/resources/desktop/io.github.dr2net.Workbench.desktop
    DESTINATION ${CMAKE_INSTALL_DATADIR}/applications COMPONENT dr2net)
install(FILES ${PROJECT_SOURCE_DIR}/resources/desktop/io.github.dr2net.Workbench.metainfo.xml
    DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo COMPONENT dr2net)
install(FILES ${PROJECT_SOURCE_DIR}/resources/icons/dr2net.svg
    DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps COMPONENT dr2net)

# Man pages (written by hand from the programs' --help), gzipped as Debian policy asks.
find_program(DR2_GZIP gzip)
set(_dr2_man_pages "")
foreach(page dr2net.1 dr2net-cli.1)
    if(DR2_GZIP)
        add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz
            COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
            COMMAND ${DR2_GZIP} -9 -n -c ${PROJECT_SOURCE_DIR}/packaging/man/${page} > ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz
            DEPENDS ${PROJECT_SOURCE_DIR}/packaging/man/${page}
            COMMENT "Compressing man page ${page}")
        list(APPEND _dr2_man_pages ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz)
    else()
        list(APPEND _dr2_man_pages ${PROJECT_SOURCE_DIR}/packaging/man/${page})
    endif()
endforeach()
add_custom_target(dr2_man_pages ALL DEPENDS ${_dr2_man_pages})
install(FILES ${_dr2_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT dr2net)

# Documentation.
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/method.md
    DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dr2net)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright COMPONENT dr2net)

# The .deb. Dependencies are the Debian 12 runtime packages of what the programs link (checked with ldd on the
# installed binaries by packaging/test-deb.sh); the dataset is recommended because `dr2net-cli demo` reads it.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "dr2net")
set(CPACK_PACKAGE_VENDOR "Dr²Net Workbench developers")
set(CPACK_PACKAGE_CONTACT "Dr²Net Workbench developers <dr2net@users.noreply.github.com>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "memory-efficient finetuning with reversible dual-residual networks")
set(CPACK_PACKAGE_DESCRIPTION
    "Dr2Net Workbench finetunes pretrained vision backbones as Dynamic Reversible Dual-Residual Networks, so\n"
    "activation memory stays constant in depth, and shows what the reversible surrogate does: loss, accuracy,\n"
    "memory, the alpha/beta trajectory and gradient-error heatmaps. Desktop application (dr2net) and headless\n"
    "command line (dr2net-cli) with a one-command demo on Fashion-MNIST.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/dr2net/workbench")
set(_dr2_depends
    "libc6"
    "libstdc++6"
    "libgcc-s1"
    "libgomp1"
    "libtorch1.13"
    "libopenblas0-pthread"
    "libsqlite3-0"
    "libhdf5-103-1"
    "libssl3"
    "zlib1g")
if(TARGET dr2net)
    list(APPEND _dr2_depends "libqt6core6" "libqt6gui6" "libqt6widgets6" "libqt6printsupport6" "libqt6svg6"
        "libqcustomplot2.1-qt6")
endif()
string(REPLACE ";" ", " CPACK_DEBIAN_PACKAGE_DEPENDS "${_dr2_depends}")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "dataset-fashion-mnist, qt6-qpa-plugins")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3-h5py, python3-numpy")
include(CPack)
