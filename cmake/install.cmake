# Installation (`make install`, the Debian package): the binary, the shared
# library libchainscope.so.0 with its headers and pkg-config file, man pages
# and bash completion generated from --help (scripts/gen-man), systemd
# units, a default config and the example configs.
include(GNUInstallDirs)

add_library(chainscope_shared SHARED $<TARGET_OBJECTS:chainscope_obj>)
set_target_properties(chainscope_shared PROPERTIES OUTPUT_NAME chainscope
  VERSION ${PROJECT_VERSION} SOVERSION 0)
target_link_libraries(chainscope_shared PRIVATE PkgConfig::DEPS ${HTTP_PARSER_LIB} ${NATS_LIB}
  Threads::Threads ${M_LIB})
target_link_options(chainscope_shared PRIVATE -Wl,--no-undefined)

configure_file(${PROJECT_SOURCE_DIR}/packaging/chainscope.pc.in
  ${PROJECT_BINARY_DIR}/chainscope.pc @ONLY)

set(CS_MAN_DIR ${PROJECT_BINARY_DIR}/man)
add_custom_command(OUTPUT ${CS_MAN_DIR}/man1/chainscope.1 ${CS_MAN_DIR}/chainscope.bash
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/gen-man $<TARGET_FILE:chainscope>
    ${PROJECT_SOURCE_DIR}/docs/config.md ${CS_MAN_DIR}
  DEPENDS chainscope ${PROJECT_SOURCE_DIR}/scripts/gen-man ${PROJECT_SOURCE_DIR}/docs/config.md
  COMMENT "man pages and bash completion from --help")
add_custom_target(man ALL DEPENDS ${CS_MAN_DIR}/man1/chainscope.1)

find_package(PkgConfig)
pkg_get_variable(CS_SYSTEMD_DIR systemd systemdsystemunitdir)
if(NOT CS_SYSTEMD_DIR)
  set(CS_SYSTEMD_DIR /lib/systemd/system)
endif()
set(CS_SYSTEMD_UNIT_DIR ${CS_SYSTEMD_DIR} CACHE PATH "where the systemd units go")

install(TARGETS chainscope RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS chainscope_shared
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_SKIP)
install(TARGETS chainscope_shared
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev NAMELINK_ONLY)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/chainscope
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(FILES ${PROJECT_BINARY_DIR}/chainscope.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
install(DIRECTORY ${CS_MAN_DIR}/man1 ${CS_MAN_DIR}/man5 DESTINATION ${CMAKE_INSTALL_MANDIR})
install(FILES ${CS_MAN_DIR}/chainscope.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  RENAME chainscope)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/chainscope.service
  ${PROJECT_SOURCE_DIR}/packaging/systemd/chainscope@.service
  ${PROJECT_SOURCE_DIR}/packaging/systemd/chainscope-audit.service
  ${PROJECT_SOURCE_DIR}/packaging/systemd/chainscope-audit.timer
  DESTINATION ${CS_SYSTEMD_UNIT_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/chainscope.yaml
  DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/chainscope)
file(GLOB CS_EXAMPLE_CONFIGS ${PROJECT_SOURCE_DIR}/examples/*.yaml)
install(FILES ${CS_EXAMPLE_CONFIGS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/examples/subscribe.c DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
  COMPONENT dev)
