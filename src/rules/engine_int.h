/* What the files of the monitor engine share (monitor.c: compiling and
 * the entry points; monitor_doc.c: the alert document and a match's way
 * through filter, policy and publication; monitor_contract.c: contract
 * monitors over gathered blocks; monitor_event.c: event monitors). */
#ifndef CS_RULES_ENGINE_INT_H
#define CS_RULES_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/bus.h"
#include "abi/abi.h"
#include "rules/monitor.h"
#include "rules/monitor_int.h"
#include "rules/policy_int.h"

#define MAX_NETS 64
#define MAX_DEPTHS 64
#define MAX_REASONS 64

typedef struct csig {
    char canon[256];
    size_t len;
    bool by_name;  /* a bare name: compare with `event` / `function` */
    bool by_topic; /* 0x topic0 */
    uint8_t topic[32];
    cs_expr *cond;
    const cs_monitor_sig *src;
} csig;

struct cs_monitor {
    cs_monitor_def def;
    cs_monitor_engine *eng;
    cs_abi *abi; /* the monitor's `abi`, for what the follower left undecoded; NULL: none */
    uint32_t idx;
    csig *events, *functions;
    cs_expr *txcond, *cond, *dedup, *group, *of, *cost, *forget;
    cs_window *win;
    uint8_t (*addrs)[20];
    size_t naddrs;
    const char **chans;
    size_t nchans;
    cs_policy pol;
    cs_monitor_stats st;
    uint64_t stamp;
    uint64_t seq;
    bool warned;
    cs_pmatch fbatch[CS_FILTER_BATCH];
    size_t fn;
};

typedef struct aent {
    uint8_t a[20];
    bool used;
    uint32_t *mons;
    uint32_t n;
} aent;

typedef struct blk {
    uint64_t number;
    bool complete;
    int64_t evaluated; /* deepest confirmation depth evaluated; -1: none */
    cs_event **evs;
    size_t n, cap;
} blk;

typedef struct netstate {
    char *name;
    uint64_t head;
    blk *blocks; /* ascending by number */
    size_t nblocks;
} netstate;

struct cs_monitor_engine {
    cs_monitor_engine_opts o;
    char **defchans[CS_SEV_COUNT];
    size_t ndefchans[CS_SEV_COUNT];
    char **explorer_net, **explorer_url;
    size_t nexplorers;
    cs_monitor *mons;
    size_t n;
    uint32_t *contract, *wild, *evmons;
    size_t ncontract, nwild, nevmons;
    aent *aidx;
    size_t acap;
    int64_t depths[MAX_DEPTHS];
    size_t ndepths;
    int64_t maxdepth;
    netstate nets[MAX_NETS];
    size_t nnets;
    cs_sub *sub;
    cs_publisher pub;
    bool has_pub;
    uv_timer_t timer;
    bool has_timer;
    cs_vw doc;
    cs_vw dec; /* payloads decoded with a monitor's ABI */
    cs_buf tmp;
    uint64_t stamp;
    uint32_t *cand;
    cs_monitor_engine_stats st;
    size_t busy;
    bool closing;
    size_t pending_events; /* held in pending blocks, all networks */
    struct tcache *types;  /* event type -> event monitors whose subjects match it */
    size_t ntypes;
};

/* The event monitors of one event type, found once per type. */
#define TYPE_SLOTS 2048 /* at most 3/4 of them used; further types are matched every time */
typedef struct tcache {
    char *type;
    uint32_t *mons;
    uint32_t n;
} tcache;

typedef struct reason {
    int type; /* 0 event, 1 function, 2 transaction */
    const cs_event *ev;
    const csig *sig;
} reason;

bool cs_mon_hexnib(char c, uint8_t *v);
bool cs_mon_field_addr(const cs_event *ev, const char *name, uint8_t out[20]);
int cs_mon_val_text(const cs_val *v, char *buf, size_t cap);
bool cs_mon_field_u64(const cs_event *ev, const char *name, uint64_t *out);
aent *cs_mon_aidx_find(const cs_monitor_engine *e, const uint8_t a[20], bool add);
void cs_mon_blk_free(blk *b);
void cs_mon_maybe_free(cs_monitor_engine *e);
void cs_mon_w_monitor(cs_vw *w, const cs_monitor *m, const char *network);
void cs_mon_w_members(cs_vw *w, const cs_val *obj);
void cs_mon_w_field(cs_vw *w, const char *key, const cs_event *ev, const char *name);
void cs_mon_w_abi(cs_vw *w, const cs_val *v, int depth);
void cs_mon_w_reasons(cs_vw *w, cs_buf *fmt, const reason *r, size_t nr, const cs_monitor *m);
const char *cs_mon_explorer(const cs_monitor_engine *e, const char *network);
void cs_mon_flush_filter(cs_monitor *m);
void cs_mon_deliver(cs_monitor *m, const char *id, const char *network, int64_t t,
                    const cs_event *trigger);
bool cs_mon_net_ok(const cs_monitor *m, const char *network);
int cs_mon_test_cond(cs_monitor *m, const cs_expr *c, const cs_event *ev);
void cs_mon_blk_free_counted(cs_monitor_engine *e, blk *b);
void cs_mon_advance(cs_monitor_engine *e, netstate *ns, bool all);
void cs_mon_feed_evm(cs_monitor_engine *e, cs_event *ev);
void cs_mon_event_doc(cs_monitor_engine *e, cs_monitor *m, const cs_event *ev,
                      const cs_window_hit *hit, const char *network, int64_t t, char *id,
                      size_t idcap);
void cs_mon_feed_event_monitors(cs_monitor_engine *e, cs_event *ev);

#endif
