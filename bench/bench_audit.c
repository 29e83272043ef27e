/* Audit ledger and reports: how fast results go in and how long the
 * monthly SLA table and the daily report take on a month of hourly results
 * for 200 nodes (148,800 rows). Prints `name: value unit` lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/ledger.h"
#include "audit/report.h"

#define NODES 200

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    char path[] = "/tmp/cs-bench-ledger-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    cs_ledger *l;
    if (cs_ledger_open(path, &l) != 0)
        return 1;
    static cs_audit_node nodes[NODES];
    static char names[NODES][16];
    for (int i = 0; i < NODES; i++) {
        snprintf(names[i], sizeof names[i], "node-%03d", i);
        nodes[i] = (cs_audit_node){.name = names[i], .role = CS_ROLE_WITNESS, .owner = "ops"};
    }
    cs_audit_network net = {.name = "bench", .kind = CS_AUDIT_EVM, .nodes = nodes, .nnodes = NODES};
    cs_audit_config cfg;
    cs_audit_config_init(&cfg);
    cfg.nets = &net;
    cfg.nnets = 1;
    int64_t start, end;
    cs_month_range(2024, 1, &start, &end, NULL);
    double t0 = now_s();
    size_t rows = 0;
    for (int h = 0; h < 744; h++) {
        for (int i = 0; i < NODES; i++) {
            cs_audit_result r = {.time = start + h * 3600,
                                 .network = "bench",
                                 .node = names[i],
                                 .check = CS_AUDIT_AVAILABLE,
                                 .state = (h * 7 + i) % 97 == 0 ? CS_AUDIT_FAIL : CS_AUDIT_OK,
                                 .detail = NULL};
            cs_ledger_add(l, &r);
            rows++;
        }
        cs_ledger_flush(l); /* one transaction per sweep, as the scheduler does */
    }
    double t1 = now_s();
    printf("audit_ledger_insert: %.0f rows/s\n", (double)rows / (t1 - t0));
    printf("audit_ledger_sweep_commit: %.3f ms\n", (t1 - t0) / 744 * 1000);

    cs_buf out;
    cs_buf_init(&out, 0);
    cs_report_opts o = {.format = CS_REPORT_TEXT};
    t0 = now_s();
    cs_report_sla(l, &cfg, 2024, 1, &o, &out, NULL);
    t1 = now_s();
    printf("audit_sla_month_200_nodes: %.1f ms\n", (t1 - t0) * 1000);
    out.len = 0;
    o.format = CS_REPORT_HTML;
    t0 = now_s();
    cs_report_daily(l, &cfg, &o, &out, NULL);
    t1 = now_s();
    printf("audit_daily_report_html_200_nodes: %.1f ms\n", (t1 - t0) * 1000);
    printf("audit_daily_report_bytes: %zu bytes\n", out.len);
    cs_buf_free(&out);
    cs_ledger_close(l);
    unlink(path);
    char aux[64];
    snprintf(aux, sizeof aux, "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", path);
    unlink(aux);
    return 0;
}
