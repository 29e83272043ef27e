/* libFuzzer target: the control protocol, frames and the body of every
 * command. The input is a stream of frames as a client would send them;
 * each frame the parser accepts is run by a control server without a
 * socket (cs_control_exec) against a connector on a loop that never runs:
 * CONNECT parses its address (every address is blocklisted, so nothing is
 * dialled), DISCONNECT and SEND look peers up, REGISTER parses raw messages
 * and JSON descriptions and encodes them, PEERS lists. Checked: every
 * accepted frame lies inside the input, every rejection has a reason,
 * every result is a valid value object, a failure carries an "error" and
 * a negative status, a success none. A fresh control server per input
 * keeps runs independent (the message table would otherwise fill up). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "btc/connector.h"
#include "btc/control.h"
#include "core/error.h"
#include "core/value.h"

static cs_connector *conn;
static uv_loop_t loop;

static void setup(void)
{
    if (uv_loop_init(&loop) != 0)
        abort();
    cs_connector_opts o = {.net = cs_wire_net_find("regtest"), .max_peers = 4, .no_events = true};
    if (cs_connector_new(&loop, NULL, &o, &conn) != 0)
        abort();
    /* CONNECT reaches cs_connector_connect, which stops at the blocklist */
    if (cs_connector_set_blocklist(conn, "0.0.0.0/0\n::/0\n", NULL, 0) != 0)
        abort();
}

static void check_result(int status, const uint8_t *res, size_t len)
{
    cs_val v, e;
    if (cs_val_validate(res, len) != 0 || cs_val_read(res, len, &v, NULL) != 0 ||
        v.kind != CS_VAL_OBJECT)
        abort();
    if (cs_val_get(&v, "op", 2, &e) != 0 || e.kind != CS_VAL_STR)
        abort();
    bool has_error = cs_val_get(&v, "error", 5, &e) == 0;
    if (status > 0 || (status < 0) != has_error)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!conn)
        setup();
    cs_control *ctl;
    cs_control_opts co = {.path = NULL, .max_messages = 8};
    if (cs_control_new(&loop, conn, &co, &ctl) != 0)
        abort();
    size_t off = 0;
    while (off < size) {
        cs_control_req r;
        size_t used = 0;
        char err[128] = "";
        int rc = cs_control_parse(data + off, size - off, &r, &used, err, sizeof err);
        if (rc == CS_ETRUNC)
            break;
        if (rc) {
            if (!err[0])
                abort();
            break;
        }
        if (used < 9 || used > size - off || r.body < data + off ||
            r.body + r.body_len != data + off + used)
            abort();
        const uint8_t *res;
        size_t len;
        check_result(cs_control_exec(ctl, &r, &res, &len), res, len);
        off += used;
    }
    cs_control_close(ctl);
    return 0;
}
