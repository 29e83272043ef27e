/* Tests src/bus/nats_subject.c and nats_conf.c: subjects and their
 * escaping, message decoding, the nats: section's checks (spool too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/nats.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"

static void test_subject_escaping(void **state)
{
    (void)state;
    char s[CS_NATS_MAX_SUBJECT];
    assert_int_equal(cs_nats_subject(s, sizeof s, "chainscope", "btc-main", "p2p.msg.addr"), 32);
    assert_string_equal(s, "chainscope.btc-main.p2p.msg.addr");
    cs_nats_subject(s, sizeof s, "cs", "btc.main", "evm.log");
    assert_string_equal(s, "cs.btc%2Emain.evm.log");
    cs_nats_subject(s, sizeof s, "cs", "a b%*>", "alert.fired");
    assert_string_equal(s, "cs.a%20b%25%2A%3E.alert.fired");
    cs_nats_subject(s, sizeof s, "cs", "", "alert.fired");
    assert_string_equal(s, "cs.%00.alert.fired");
    cs_nats_subject(s, sizeof s, "a.b", "n", "x:y.z");
    assert_string_equal(s, "a.b.n.x%3Ay.z");
    /* too long: an error, nothing half-written */
    char small[16];
    assert_int_equal(cs_nats_subject(small, sizeof small, "chainscope", "btc-main", "p2p.msg"),
                     CS_ELIMIT);
    assert_string_equal(small, "");
}

static void test_filter_subject(void **state)
{
    (void)state;
    char s[CS_NATS_MAX_SUBJECT];
    assert_true(cs_nats_filter_subject(s, sizeof s, "chainscope", "p2p.msg.*") > 0);
    assert_string_equal(s, "chainscope.*.p2p.msg.*");
    cs_nats_filter_subject(s, sizeof s, "chainscope", ">");
    assert_string_equal(s, "chainscope.*.>");
    cs_nats_filter_subject(s, sizeof s, "cs", "x:y.>");
    assert_string_equal(s, "cs.*.x%3Ay.>");
    assert_int_equal(cs_nats_filter_subject(s, sizeof s, "cs", "a..b"), CS_EINVAL);
    assert_int_equal(cs_nats_filter_subject(s, sizeof s, "cs", ">.a"), CS_EINVAL);
}

static void test_decode(void **state)
{
    (void)state;
    uint8_t payload[] = {0x0b, 4, 0, 0, 0, 0, 0, 0, 0}; /* {} */
    cs_event_hdr h = {
        .seq = 9, .time_ns = 5, .origin = "o@a", .network = "n", .type = "t.u", .key = "k"};
    cs_event *ev = cs_event_new(&h, payload, sizeof payload);
    assert_non_null(ev);
    cs_event *got;
    assert_int_equal(cs_nats_decode(ev->wire, ev->wire_len, NULL, &got), 0);
    assert_int_equal(got->seq, 9);
    assert_string_equal(got->type, "t.u");
    cs_event_unref(got);
    assert_int_equal(cs_nats_decode(ev->wire, ev->wire_len, "binary", &got), 0);
    cs_event_unref(got);
    /* truncated record, unknown encoding */
    assert_int_not_equal(cs_nats_decode(ev->wire, ev->wire_len - 1, "binary", &got), 0);
    assert_null(got);
    assert_int_equal(cs_nats_decode(ev->wire, ev->wire_len, "zstd", &got), CS_EUNSUPPORTED);
    /* the JSON rendering decodes to the same envelope */
    cs_buf b;
    cs_buf_init(&b, 0);
    assert_int_equal(cs_json_event(&b, ev), 0);
    assert_int_equal(cs_nats_decode(b.data, b.len, "json", &got), 0);
    assert_string_equal(got->origin, "o@a");
    assert_string_equal(got->network, "n");
    assert_string_equal(got->key, "k");
    assert_int_equal(got->seq, 9);
    cs_event_unref(got);
    assert_int_not_equal(cs_nats_decode("{", 1, "json", &got), 0);
    cs_buf_free(&b);
    cs_event_unref(ev);
}

static const cs_cfg_section sections[] = {
    {"nats", "nats", cs_nats_conf_parse, cs_nats_conf_free},
};

static int load(const char *yaml, cs_config **cfg, char *err, size_t errlen)
{
    char path[] = "/tmp/cs-nats-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    int rc = cs_config_load(path, sections, 1, cfg, err, errlen);
    unlink(path);
    return rc;
}

static void test_config(void **state)
{
    (void)state;
    cs_config *cfg;
    char err[1024];
    assert_int_equal(load("nats:\n"
                          "  servers: [nats://127.0.0.1:4222]\n"
                          "  user: u\n"
                          "  password_env: PW\n"
                          "  publish: {subjects: [\"p2p.>\"], encoding: json, buffer: 10}\n"
                          "  subscribe: [alert.fired]\n"
                          "  jetstream: {stream: S, durable: d, max_age: 1h, replicas: 3}\n",
                          &cfg, err, sizeof err),
                     0);
    const cs_nats_conf *c = cs_config_section(cfg, "nats");
    assert_int_equal(c->encoding, CS_NATS_JSON);
    assert_int_equal(c->buffer, 10);
    assert_string_equal(c->prefix, "chainscope");
    assert_int_equal(c->max_age_ms, 3600000);
    assert_int_equal(c->replicas, 3);
    assert_true(c->js);
    assert_null(c->spool_dir);
    assert_int_equal(c->spool_max, CS_NATS_DEFAULT_SPOOL_MAX);
    cs_config_free(cfg);
    assert_int_equal(load("nats:\n  publish: {subjects: [\">\"]}\n"
                          "  spool: {dir: /var/spool/cs, max: 1MiB}\n",
                          &cfg, err, sizeof err),
                     0);
    c = cs_config_section(cfg, "nats");
    assert_string_equal(c->spool_dir, "/var/spool/cs");
    assert_int_equal(c->spool_max, 1 << 20);
    cs_config_free(cfg);

    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"nats:\n  servers: [x]\n", "nothing to do"},
        {"nats:\n  publish: {subjects: [\"a..b\"]}\n", "not a subject filter"},
        {"nats:\n  subscribe: [a]\n  jetstream: {stream: S}\n", "durable"},
        {"nats:\n  password_env: X\n  subscribe: [a]\n", "needs user"},
        {"nats:\n  nkey: UABC\n  subscribe: [a]\n", "go together"},
        {"nats:\n  prefix: \"a.*\"\n  subscribe: [a]\n", "prefix"},
        {"nats:\n  password: x\n  subscribe: [a]\n", "password"},
        {"nats:\n  tls: {cert: c}\n  subscribe: [a]\n", "cert and key"},
        {"nats:\n  spool: {max: 1MiB}\n  subscribe: [a]\n", "nats.spool.dir"},
        {"nats:\n  spool: {dir: /tmp/x, max: 1KiB}\n  subscribe: [a]\n", "at least 4KiB"},
        {"nats:\n  spool: {dir: /tmp/x, size: 1MiB}\n  subscribe: [a]\n", "size"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(load(bad[i].yaml, &cfg, err, sizeof err), CS_ECONFIG);
        if (!strstr(err, bad[i].want))
            fail_msg("%s: got \"%s\", wanted \"%s\"", bad[i].yaml, err, bad[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject_escaping),
        cmocka_unit_test(test_filter_subject),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
