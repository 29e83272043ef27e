/* Shared by the btclog files only. */
#ifndef CS_BTC_BTCLOG_INT_H
#define CS_BTC_BTCLOG_INT_H

#include "btc/btclog.h"
#include "btc/events.h"
#include "core/schema.h"

/* One pattern of the table: the kind's name and Core's line. */
typedef struct cs_btclog_row {
    const char *kind;
    const char *pattern;
} cs_btclog_row;

extern const cs_btclog_row cs_btclog_rows[]; /* ended by {NULL} */

#endif
