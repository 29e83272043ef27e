/* Fuzzes the reader of the NATS publisher's disk spool (nats_int.h:
 * cs_nats_spool): the input is the content of a spool file (after its
 * magic), as a crash or a damaged disk may leave it. Opening must cut a
 * torn tail, every record handed out must be a valid event, and reading
 * must end with the spool empty and within its files. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/nats_int.h"

static char dir[64];

static void write_file(const uint8_t *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/nats-%016d.spool", dir, 1);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite("CSNSPOOL", 1, 8, f);
    fwrite(data, 1, size, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/nats-spool.pos", dir);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/cs-fuzz-spool-%d", (int)getpid());
        if (mkdir(dir, 0700) && access(dir, W_OK))
            abort();
    }
    write_file(data, size);
    cs_nats_spool sp;
    char why[256];
    if (cs_nats_spool_open(&sp, dir, 1 << 20, why, sizeof why))
        abort();
    if (sp.tail_size > size + 8)
        abort();
    uint64_t want = sp.events, got = 0;
    cs_event *evs[16];
    for (int guard = 0; guard < 100000; guard++) {
        size_t n = cs_nats_spool_peek(&sp, evs, 16);
        if (!n)
            break;
        for (size_t i = 0; i < n; i++)
            if (evs[i])
                cs_event_unref(evs[i]);
        got += n;
        cs_nats_spool_consume(&sp, n);
    }
    if (got != want || sp.events != 0)
        abort();
    cs_nats_spool_close(&sp);
    return 0;
}
