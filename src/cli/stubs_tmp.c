#include "cli/cli.h"
int cs_cmd_run(int argc, char **argv) { (void)argc; (void)argv; return 4; }
int cs_cmd_publish(int argc, char **argv) { (void)argc; (void)argv; return 4; }
int cs_cmd_tail(int argc, char **argv) { (void)argc; (void)argv; return 4; }
int cs_cmd_check_config(int argc, char **argv) { (void)argc; (void)argv; return 4; }
int cs_cmd_events(int argc, char **argv) { (void)argc; (void)argv; return 4; }
