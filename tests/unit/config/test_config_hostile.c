/* Tests src/config/config.c against configs written to break it: duplicate
 * names in every named list, alias bombs, NUL bytes, second documents,
 * unclosed ${, bad listen addresses, and secrets from the environment that
 * an error must not quote. Each error names file:line:col and the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_config.h"
#include "config/config.h"
#include "core/error.h"
#include "evm/component.h"
#include "notify/channel.h"
#include "rules/monitor_config.h"

static char path[256];

/* The sections whose named lists are checked. */
static const cs_cfg_section sections[] = {
    {"channels", "", cs_channels_conf_parse, cs_channels_conf_free},
    {"monitors", "", cs_monitors_conf_parse, cs_monitors_conf_free},
    {"audit", "", cs_audit_config_parse, cs_audit_config_section_free},
    {"evm", "", cs_evm_config_parse, cs_evm_config_free},
};

static void write_bytes(const char *text, size_t n)
{
    snprintf(path, sizeof path, "/tmp/cs-config-hostile-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
}

/* Loads `n` bytes of text; returns the error (empty when it loaded). */
static int load_bytes(const char *text, size_t n, char *err, size_t errlen)
{
    write_bytes(text, n);
    cs_config *cfg = NULL;
    err[0] = 0;
    int rc = cs_config_load(path, sections, sizeof sections / sizeof *sections, &cfg, err, errlen);
    if (rc == 0)
        cs_config_free(cfg);
    else
        assert_null(cfg);
    return rc;
}

static void expect_error_n(const char *text, size_t n, const char *where_what)
{
    char err[1024];
    assert_int_equal(load_bytes(text, n, err, sizeof err), CS_ECONFIG);
    char want[1100];
    snprintf(want, sizeof want, "%s:%s", path, where_what);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got  '%s'\nwant '%s...'", err, want);
}

static void expect_error(const char *text, const char *where_what)
{
    expect_error_n(text, strlen(text), where_what);
}

static void test_duplicate_evm_networks(void **state)
{
    (void)state;
    /* Used to free the list and then format the second name. */
    expect_error("evm:\n"
                 "  networks:\n"
                 "    - name: main\n"
                 "      rpc: http://127.0.0.1:1\n"
                 "    - name: main\n"
                 "      rpc: http://127.0.0.1:2\n",
                 "5:13: evm.networks[1].name: \"main\" is already the name of evm.networks[0]");
    /* Equal once ${ENV} is substituted. */
    setenv("CS_TEST_NET", "main", 1);
    expect_error("evm:\n"
                 "  networks:\n"
                 "    - {name: main, rpc: 'http://127.0.0.1:1'}\n"
                 "    - {name: other, rpc: 'http://127.0.0.1:3'}\n"
                 "    - {name: '${CS_TEST_NET}', rpc: 'http://127.0.0.1:2'}\n",
                 "5:15: evm.networks[2].name: the value of ${CS_TEST_NET}");
}

static void test_duplicate_names_everywhere(void **state)
{
    (void)state;
    expect_error("monitors:\n"
                 "  - {name: m, subjects: [a.b], type: event}\n"
                 "  - {name: m, subjects: [a.c], type: event}\n",
                 "3:12: monitors[1].name: \"m\" is already the name of monitors[0]");
    expect_error("audit:\n"
                 "  networks:\n"
                 "    - name: j\n"
                 "      kind: evm\n"
                 "      nodes: [{name: a, role: rpc, rpc: 'http://127.0.0.1:1'}]\n"
                 "    - name: j\n"
                 "      kind: evm\n"
                 "      nodes: [{name: b, role: rpc, rpc: 'http://127.0.0.1:1'}]\n",
                 "6:13: audit.networks[1].name: \"j\" is already the name of audit.networks[0]");
    expect_error("audit:\n"
                 "  networks:\n"
                 "    - name: j\n"
                 "      kind: evm\n"
                 "      nodes:\n"
                 "        - {name: a, role: rpc, rpc: 'http://127.0.0.1:1'}\n"
                 "        - {name: a, role: rpc, rpc: 'http://127.0.0.1:2'}\n",
                 "7:18: audit.networks[0].nodes[1].name: \"a\" is already the name of "
                 "audit.networks[0].nodes[0]");
    setenv("CS_TEST_CH", "hook", 1);
    expect_error("channels:\n"
                 "  hook: {type: webhook, url: 'http://127.0.0.1:1/'}\n"
                 "  ${CS_TEST_CH}: {type: webhook, url: 'http://127.0.0.1:2/'}\n",
                 "3:3: channels: the value of ${CS_TEST_CH} (from the environment, not shown) is "
                 "listed twice");
    /* As written, YAML itself refuses a repeated key. */
    expect_error("channels:\n"
                 "  hook: {type: webhook, url: 'http://127.0.0.1:1/'}\n"
                 "  hook: {type: webhook, url: 'http://127.0.0.1:2/'}\n",
                 "3:3: invalid YAML: duplicate key");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Ten levels of nine aliases each: 9^10 values once expanded (the file
 * used to take 7.6 GiB and over a minute). */
static void test_alias_bomb(void **state)
{
    (void)state;
    char text[2048];
    size_t off = (size_t)snprintf(text, sizeof text,
                                  "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (char c = 'b'; c <= 'j'; c++)
        off += (size_t)snprintf(text + off, sizeof text - off,
                                "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c,
                                c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    double t0 = now_s();
    expect_error(text, "6:9: YAML aliases: expanding them would make more than 100000 values");
    double took = now_s() - t0;
    getrusage(RUSAGE_SELF, &after);
    assert_true(took < 1.0);
    /* ru_maxrss is in KiB: the peak grew by less than 64 MiB. */
    assert_true(after.ru_maxrss - before.ru_maxrss < 64 * 1024);

    /* Fewer values but one long scalar used many times. */
    static char big[300000];
    memset(big, 'x', sizeof big);
    char *doc = malloc(sizeof big + 4096);
    assert_non_null(doc);
    size_t n = (size_t)sprintf(doc, "a: &a \"%.*s\"\nb: [", (int)sizeof big, big);
    for (int i = 0; i < 60; i++)
        n += (size_t)sprintf(doc + n, "%s*a", i ? ", " : "");
    n += (size_t)sprintf(doc + n, "]\n");
    expect_error_n(doc, n, "2:");
    char err[1024];
    load_bytes(doc, n, err, sizeof err);
    assert_non_null(strstr(err, "make more than 16MiB of text"));
    free(doc);

    /* Aliases within the bounds still work. */
    assert_int_equal(load_bytes("channels:\n"
                                "  a: &h {type: webhook, url: 'http://127.0.0.1:1/'}\n"
                                "  b: *h\n",
                                strlen("channels:\n"
                                       "  a: &h {type: webhook, url: 'http://127.0.0.1:1/'}\n"
                                       "  b: *h\n"),
                                err, sizeof err),
                     0);
}

static void test_nul_second_document_unclosed(void **state)
{
    (void)state;
    /* Used to be "valid": the parser stopped at the NUL. */
    static const char nul[] = "node: a\n\0\nbogus: 1\n";
    expect_error_n(nul, sizeof nul - 1, "2:1: a NUL byte");
    static const char nul2[] = "node: ab\0c\n";
    expect_error_n(nul2, sizeof nul2 - 1, "1:9: a NUL byte");
    /* Used to be ignored after the first document. */
    expect_error("node: a\n---\nbogus: 1\n", "3:1: a second YAML document starts here");
    expect_error("---\nnode: a\n...\n---\nnode: b\n", "5:1: a second YAML document");
    /* A leading --- is one document. */
    char err[1024];
    assert_int_equal(load_bytes("---\nnode: a\n", 12, err, sizeof err), 0);
    /* Used to be taken literally. */
    expect_error("node: ${UNCLOSED\n", "1:7: node: \"${UNCLOSED\" has no closing }");
    expect_error("node: x${}\n", "1:7: node: \"${}\" is not a variable name");
    /* $${ is a literal ${. */
    assert_int_equal(load_bytes("node: a$${b}\n", 13, err, sizeof err), 0);
}

static void test_listen_addresses(void **state)
{
    (void)state;
    /* Used to say it needs a token. */
    expect_error("http:\n  listen: 999.1.1.1:99999\n",
                 "2:11: http.listen: \"999.1.1.1:99999\" is not a listen address");
    expect_error("http:\n  listen: 127.0.0.1:99999\n",
                 "2:11: http.listen: \"127.0.0.1:99999\" is not a listen address");
    expect_error("http:\n  listen: 127.0.0.1\n", "2:11: http.listen: \"127.0.0.1\" is not a");
    expect_error("logserver:\n  tcp:\n    listen: nowhere:7\n    token: 0123456789abcdef\n",
                 "3:13: logserver.tcp.listen: \"nowhere:7\" is not a listen address");
    /* Wider than loopback still needs a token; loopback does not. */
    expect_error("http:\n  listen: 10.0.0.1:9464\n", "2:11: http.listen: listening beyond");
    char err[1024];
    assert_int_equal(load_bytes("http:\n  listen: '[::1]:9464'\n", 28, err, sizeof err), 0);
}

/* A secret put under the wrong key is never in the message. */
static void test_env_values_not_quoted(void **state)
{
    (void)state;
    const char *secret = "smtppass-s3cr3t-0123456789";
    setenv("CS_TEST_SMTP_PASS", secret, 1);
    static const char *const cases[] = {
        "channels:\n  m: {type: webhook, url: 'http://127.0.0.1:1/', timeout: "
        "'${CS_TEST_SMTP_PASS}'}\n",
        "channels:\n  m: {type: webhook, url: 'http://127.0.0.1:1/', burst: "
        "'${CS_TEST_SMTP_PASS}'}\n",
        "channels:\n  m: {type: webhook, url: 'http://127.0.0.1:1/', rate: "
        "'${CS_TEST_SMTP_PASS}'}\n",
        "channels:\n  m: {type: '${CS_TEST_SMTP_PASS}', url: 'http://127.0.0.1:1/'}\n",
        "logserver:\n  buffer: ${CS_TEST_SMTP_PASS}\n",
        "logserver:\n  enabled: x${CS_TEST_SMTP_PASS}\n",
        "http:\n  listen: ${CS_TEST_SMTP_PASS}\n",
        /* a section parser's own message that quotes the value */
        "audit:\n  networks:\n    - name: j\n      kind: evm\n"
        "      auditor: '${CS_TEST_SMTP_PASS}'\n"
        "      nodes: [{name: a, role: rpc, rpc: 'http://127.0.0.1:1'}]\n",
        "evm:\n  networks:\n    - {name: '${CS_TEST_SMTP_PASS}', rpc: 'http://127.0.0.1:1'}\n"
        "    - {name: '${CS_TEST_SMTP_PASS}', rpc: 'http://127.0.0.1:1'}\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[1024];
        assert_int_equal(load_bytes(cases[i], strlen(cases[i]), err, sizeof err), CS_ECONFIG);
        if (strstr(err, "s3cr3t"))
            fail_msg("case %zu quotes the secret: %s", i, err);
        if (!strstr(err, "CS_TEST_SMTP_PASS"))
            fail_msg("case %zu does not name the variable: %s", i, err);
    }
    expect_error(cases[0], "2:60: channels.m.timeout: expected a duration like 500ms, 30s, 5m, 2h "
                           "or 1d, got the value of ${CS_TEST_SMTP_PASS} (from the environment, "
                           "not shown)");
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
        cmocka_unit_test(test_duplicate_evm_networks),
        cmocka_unit_test(test_duplicate_names_everywhere),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_nul_second_document_unclosed),
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_env_values_not_quoted),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
