/* Tests src/rules/monitor_config.c: the monitors: section, and the errors a
 * user sees for mistakes in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "notify/channel.h"
#include "notify/notifier.h"
#include "rules/monitor_config.h"

static const cs_cfg_section table[] = {
    {"monitors", "monitors", cs_monitors_conf_parse, cs_monitors_conf_free},
    {"channels", "channels", cs_channels_conf_parse, cs_channels_conf_free},
    {"notify", "notify", cs_notify_conf_parse, cs_notify_conf_free},
};

static int load(const char *yaml, cs_config **cfg, char *err, size_t errlen)
{
    char path[] = "/tmp/cs-monconf-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    int rc = cs_config_load(path, table, 3, cfg, err, errlen);
    unlink(path);
    /* strip the temp path from messages */
    char *colon = strstr(err, ".yaml:");
    if (colon)
        memmove(err, colon + 6, strlen(colon + 6) + 1);
    return rc;
}

static void test_example_file(void **state)
{
    (void)state;
    cs_config *cfg;
    char err[1024] = "";
    int rc = cs_config_load(CS_TEST_DATA "/rules/../../../examples/monitors.yaml", table, 3, &cfg,
                            err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    cs_monitors_conf *m = cs_config_section(cfg, "monitors");
    assert_non_null(m);
    assert_int_equal(m->n, 3);
    assert_string_equal(m->defs[0].name, "big-transfers");
    assert_int_equal(m->defs[0].kind, CS_MONITOR_CONTRACT);
    assert_int_equal(m->defs[0].severity, CS_SEV_HIGH);
    assert_int_equal(m->defs[0].risk, CS_RISK_FINANCIAL);
    assert_int_equal(m->defs[0].confirmations, 2);
    assert_int_equal(m->defs[0].nevents, 1);
    assert_string_equal(m->defs[0].events[0].condition, "value > 1000000000000000000000");
    assert_int_equal(m->defs[0].policy.min_interval_ns, 300ll * 1000000000);
    assert_string_equal(m->defs[0].policy.dedup_key, "args.to");
    assert_string_equal(m->defs[1].functions[0].signature, "transferOwnership(address)");
    assert_int_equal(m->defs[2].kind, CS_MONITOR_EVENT);
    assert_true(m->defs[2].window.enabled);
    assert_int_equal(m->defs[2].window.threshold, 6);
    assert_int_equal(m->defs[2].window.window_ns, 60ll * 1000000000);
    cs_channels_conf *cc = cs_config_section(cfg, "channels");
    assert_int_equal(cc->n, 3);
    assert_int_equal(cc->ch[1].type, CS_CH_SLACK);
    assert_true(cc->ch[1].rate_per_minute == 30);
    cs_notify_conf *nc = cs_config_section(cfg, "notify");
    assert_int_equal(nc->ndefaults[CS_SEV_HIGH], 2);
    assert_string_equal(nc->explorer_url[0], "https://etherscan.io");
    /* it compiles into an engine */
    cs_monitor_engine_opts o = {0};
    cs_monitor_engine *e;
    assert_int_equal(cs_monitor_engine_new(&o, m->defs, m->n, &e, err, sizeof err), 0);
    cs_monitor_engine_close(e);
    cs_config_free(cfg);
}

static void expect(const char *yaml, const char *want)
{
    cs_config *cfg = NULL;
    char err[1024] = "";
    assert_int_not_equal(load(yaml, &cfg, err, sizeof err), 0);
    if (strcmp(err, want) != 0)
        fprintf(stderr, "got:  %s\nwant: %s\n", err, want);
    assert_string_equal(err, want);
}

static void test_errors_with_positions(void **state)
{
    (void)state;
    expect("monitors:\n"
           "  - name: a\n"
           "    addresses: [\"0x1bb1b73c4f0bda4f67dca266ce6ef42f520fbb98\"]\n"
           "    events:\n"
           "      - signature: Transfer(address,address,uint256)\n"
           "        condition: \"value >\"\n",
           "6:21: monitors[0].events[0].condition: 1:8: expected a value, found end of input");
    expect("monitors:\n"
           "  - name: a\n"
           "    severity: critical\n",
           "3:15: monitors[0].severity: \"critical\" is not one of: low, medium, high");
    expect("monitors:\n"
           "  - name: a\n"
           "    addresses: [\"0x1234\"]\n",
           "3:18: monitors[0].addresses[0]: \"0x1234\" is not an address (0x and 40 hex digits)");
    expect("monitors:\n"
           "  - name: a\n"
           "    colour: red\n",
           "3:5: monitors[0].colour: unknown key (known here: name, type, networks, paused, "
           "severity, risk, channels, addresses, abi, events, functions, transaction, "
           "confirmations, subjects, condition, window, alert, filter, title, message)");
    expect("monitors:\n"
           "  - name: a\n"
           "    type: event\n"
           "    subjects: [p2p.msg.addr]\n"
           "    window: {kind: stale, duration: 60s}\n",
           "5:14: monitors[0].window: a stale window needs `of`: the value it watches");
    /* the ABI is loaded with the config, relative to its folder (/tmp) */
    expect("monitors:\n"
           "  - name: a\n"
           "    addresses: [\"0x1bb1b73c4f0bda4f67dca266ce6ef42f520fbb98\"]\n"
           "    abi: cs-no-such-abi.json\n",
           "4:10: monitors[0].abi: /tmp/cs-no-such-abi.json: No such file or directory");
    expect("monitors:\n"
           "  - name: a\n"
           "  - name: a\n",
           "3:11: monitors[1].name: \"a\" is already the name of monitors[0] (at 2:11)");
}

static void test_channel_errors(void **state)
{
    (void)state;
    expect("channels:\n"
           "  tg:\n"
           "    type: telegram\n"
           "    token: abc\n",
           "3:5: channels.tg: a telegram channel needs `chat_id`");
    expect("channels:\n"
           "  x:\n"
           "    type: carrier-pigeon\n",
           "3:11: channels.x.type: \"carrier-pigeon\" is not one of: webhook, slack, discord, "
           "telegram, pagerduty, opsgenie, email, script");
    expect("channels:\n"
           "  s:\n"
           "    type: slack\n"
           "    url: https://h\n"
           "    message: \"*{{ monitor.name }*\"\n",
           "5:15: channels.s.message: 1:2: '{{' is not closed with '}}'");
    expect("notify:\n"
           "  defaults:\n"
           "    critical: [a]\n",
           "3:5: notify.defaults.critical: unknown key (known here: low, medium, high)");
}

static const cs_monitor_def *find_def(const cs_monitors_conf *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->defs[i].name, name) == 0)
            return &m->defs[i];
    return NULL;
}

static void test_packs_include_override_off(void **state)
{
    (void)state;
    cs_config *cfg;
    char err[1024] = "";
    int rc = load("monitors:\n"
                  "  - name: mine\n"
                  "    type: event\n"
                  "    subjects: [x]\n"
                  "  - include: [builtin:p2p-attacks, builtin:node-health]\n"
                  "  - name: p2p-ping-spam\n"
                  "    severity: low\n"
                  "    channels: [ops]\n"
                  "    window: {threshold: 50}\n"
                  "  - name: p2p-addr-spam\n"
                  "    enabled: false\n"
                  "  - name: off-too\n"
                  "    enabled: false\n"
                  "    type: event\n"
                  "    subjects: [y]\n",
                  &cfg, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    cs_monitors_conf *m = cs_config_section(cfg, "monitors");
    const cs_monitor_def *d = find_def(m, "p2p-ping-spam");
    assert_non_null(d);
    assert_int_equal(d->severity, CS_SEV_LOW);
    assert_int_equal(d->nchannels, 1);
    assert_string_equal(d->channels[0], "ops");
    /* the override changed the threshold and kept the rest of the window */
    assert_int_equal(d->window.threshold, 50);
    assert_int_equal(d->window.kind, CS_WINDOW_COUNT);
    assert_int_equal(d->window.window_ns, 60ll * 1000000000);
    assert_string_equal(d->window.group_by, "key");
    assert_null(find_def(m, "p2p-addr-spam"));
    assert_null(find_def(m, "off-too"));
    assert_non_null(find_def(m, "mine"));
    assert_non_null(find_def(m, "node-stale-tip"));
    const cs_monitor_def *b = find_def(m, "p2p-addr-bucket");
    assert_non_null(b);
    assert_int_equal(b->window.kind, CS_WINDOW_TOKEN_BUCKET);
    assert_true(b->window.rate == 0.1 && b->window.burst == 1000);
    cs_config_free(cfg);

    assert_int_equal(load("monitors:\n  - include: [builtin:nope]\n", &cfg, err, sizeof err),
                     CS_ECONFIG);
    assert_non_null(strstr(err, "no pack \"builtin:nope\" (known: builtin:antelope, builtin:evm-ops"));
    assert_int_equal(load("monitors:\n  - include: [builtin:p2p-attacks]\n"
                          "  - name: p2p-ping-spam\n    window: {threshold: many}\n",
                          &cfg, err, sizeof err),
                     CS_ECONFIG);
    assert_non_null(strstr(err, "builtin:p2p-attacks"));
    assert_non_null(strstr(err, "threshold"));
    assert_int_equal(load("monitors:\n  - name: z\n    type: event\n    subjects: [x]\n"
                          "    window: {kind: zscore, k: 3}\n",
                          &cfg, err, sizeof err),
                     CS_ECONFIG);
    assert_non_null(strstr(err, "needs `of`"));
    assert_int_equal(load("monitors:\n  - name: z\n    type: event\n    subjects: [x]\n"
                          "    window: {kind: token_bucket, burst: 5}\n",
                          &cfg, err, sizeof err),
                     CS_ECONFIG);
    assert_non_null(strstr(err, "rate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_errors_with_positions),
        cmocka_unit_test(test_channel_errors),
        cmocka_unit_test(test_packs_include_override_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
