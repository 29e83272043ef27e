/* Tests src/config/config.c: values, defaults, ${ENV}, and errors that name
 * file:line:col and the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/error.h"

static char path[256];

static void write_file(const char *text)
{
    snprintf(path, sizeof path, "/tmp/cs-config-test-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int load(const char *text, cs_config **cfg, char *err, size_t n)
{
    write_file(text);
    return cs_config_load(path, NULL, 0, cfg, err, n);
}

static void expect_error(const char *text, const char *where_what)
{
    cs_config *cfg = NULL;
    char err[1024];
    assert_int_equal(load(text, &cfg, err, sizeof err), CS_ECONFIG);
    assert_null(cfg);
    char want[1100];
    snprintf(want, sizeof want, "%s:%s", path, where_what);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got  '%s'\nwant '%s...'", err, want);
}

static void test_values_and_env(void **state)
{
    (void)state;
    setenv("CS_TEST_SECRET", "0123456789abcdef-secret", 1);
    cs_config *cfg;
    char err[1024];
    int rc = load("node: host-a\n"
                  "log: {level: debug}\n"
                  "logserver:\n"
                  "  socket: /tmp/x.sock\n"
                  "  buffer: 2MiB\n"
                  "  tcp:\n"
                  "    listen: 127.0.0.1:7400\n"
                  "    token: ${CS_TEST_SECRET}\n"
                  "http:\n"
                  "  listen: ${CS_UNSET_VAR:-127.0.0.1:9999}\n",
                  &cfg, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_string_equal(cfg->node, "host-a");
    assert_int_equal(cfg->log_level, 0);
    assert_int_equal(cfg->logserver_buffer, 2 * 1024 * 1024);
    assert_string_equal(cfg->logserver_token, "0123456789abcdef-secret");
    assert_string_equal(cfg->http_listen, "127.0.0.1:9999");
    assert_true(cfg->http_enabled);
    cs_config_free(cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    cs_config *cfg;
    char err[1024];
    assert_int_equal(load("# nothing\n", &cfg, err, sizeof err), 0);
    assert_true(cfg->logserver_enabled);
    assert_false(cfg->http_enabled);
    assert_int_equal(cfg->logserver_buffer, 8u << 20);
    assert_string_equal(cfg->http_listen, "127.0.0.1:9464");
    cs_config_free(cfg);
}

static void test_errors_name_position(void **state)
{
    (void)state;
    expect_error("node: a\nlogserver:\n  buffer: lots\n",
                 "3:11: logserver.buffer: expected a size");
    expect_error("node: a\nlog:\n  level: loud\n", "3:10: log.level: \"loud\" is not one of");
    expect_error("node: a\nlogservr:\n  socket: x\n", "2:1: logservr: unknown section");
    expect_error("logserver:\n  sockett: /x\n", "2:3: logserver.sockett: unknown key");
    expect_error("node: a\nlogserver:\n  tcp:\n    listen: 127.0.0.1:1\n",
                 "4:5: logserver.tcp.token: required key is missing");
    expect_error("http:\n  listen: 0.0.0.0:9464\n", "2:11: http.listen: listening beyond");
    expect_error("logserver:\n  socket: ${CS_SURELY_UNSET}\n",
                 "2:11: logserver.socket: environment variable CS_SURELY_UNSET is not set");
    expect_error("node: a\nlog: [1, 2\n", "3:1: invalid YAML");
}

static void test_missing_file(void **state)
{
    (void)state;
    cs_config *cfg;
    char err[256];
    assert_int_equal(cs_config_load("/nonexistent/x.yaml", NULL, 0, &cfg, err, sizeof err), CS_EIO);
    assert_non_null(strstr(err, "/nonexistent/x.yaml: cannot read"));
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_env),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors_name_position),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
