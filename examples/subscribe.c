/* A program outside chainscope: subscribes to a running log server and prints
 * every event it receives, decoded, one line each:
 *
 *   TYPE network=NETWORK key=KEY seq=SEQ {"field":value,...}
 *
 * It uses only the public headers (include/chainscope/) and the library:
 *
 *   cc -I include examples/subscribe.c build/libchainscope_lib.a \
 *      $(pkg-config --libs libuv libcurl libfyaml sqlite3 libcrypto nettle libzstd json-c) \
 *      -lhttp_parser -lnats -lpthread -lm
 *
 * Usage: subscribe ADDRESS FILTER [COUNT]
 *   ADDRESS  the log server's unix socket, or tcp:HOST:PORT (token in
 *            CHAINSCOPE_TOKEN)
 *   FILTER   a subject filter, e.g. "p2p.msg.*" or ">"
 *   COUNT    stop after this many events (default: run until the server
 *            closes the connection)
 * Prints "subscribed" on stderr once the subscription is in place. */
#include <chainscope/client.h>
#include <chainscope/error.h>
#include <chainscope/event.h>
#include <chainscope/value.h>

#include <stdio.h>
#include <stdlib.h>

/* Prints a string as a JSON string (control bytes and quotes escaped). */
static void print_str(const uint8_t *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            printf("\\%c", p[i]);
        else if (p[i] < 0x20)
            printf("\\u%04x", p[i]);
        else
            putchar(p[i]);
    }
    putchar('"');
}

/* Prints one value as JSON: bytes and big integers as 0x-hex strings. Returns
 * 0, or the reader's error on a malformed value. */
static int print_val(const cs_val *v)
{
    switch (v->kind) {
    case CS_VAL_NULL:
        printf("null");
        return 0;
    case CS_VAL_BOOL:
        printf(v->b ? "true" : "false");
        return 0;
    case CS_VAL_INT:
        if (v->neg)
            printf("%lld", (long long)v->i);
        else
            printf("%llu", (unsigned long long)v->u);
        return 0;
    case CS_VAL_DOUBLE:
        printf("%.17g", v->d);
        return 0;
    case CS_VAL_STR:
        print_str(v->p, v->n);
        return 0;
    case CS_VAL_BIG:
    case CS_VAL_BYTES:
        printf("\"%s0x", v->kind == CS_VAL_BIG && v->neg ? "-" : "");
        for (size_t i = 0; i < v->n; i++)
            printf("%02x", v->p[i]);
        putchar('"');
        return 0;
    case CS_VAL_ARRAY:
    case CS_VAL_OBJECT: {
        int object = v->kind == CS_VAL_OBJECT;
        cs_val_iter it;
        cs_val item;
        const char *key;
        size_t keylen;
        int rc, first = 1;
        putchar(object ? '{' : '[');
        cs_val_iter_init(&it, v);
        while ((rc = cs_val_next(&it, &key, &keylen, &item)) == 1) {
            if (!first)
                putchar(',');
            first = 0;
            if (object) {
                print_str((const uint8_t *)key, keylen);
                putchar(':');
            }
            if ((rc = print_val(&item)) != 0)
                return rc;
        }
        putchar(object ? '}' : ']');
        return rc;
    }
    }
    return CS_EPARSE;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: subscribe ADDRESS FILTER [COUNT]\n");
        return 2;
    }
    long count = argc == 4 ? strtol(argv[3], NULL, 10) : -1;
    cs_client *c;
    int rc = cs_client_connect(argv[1], "subscribe-example", getenv("CHAINSCOPE_TOKEN"), &c);
    if (rc != 0) {
        fprintf(stderr, "subscribe: %s: %s\n", argv[1], cs_strerror(rc));
        return 1;
    }
    if ((rc = cs_client_subscribe(c, argv[2])) != 0 || (rc = cs_client_flush(c, 5000)) != 0) {
        fprintf(stderr, "subscribe: %s: %s\n", argv[2], cs_strerror(rc));
        cs_client_close(c);
        return 1;
    }
    fprintf(stderr, "subscribed\n");

    const uint8_t *rec;
    size_t len;
    for (long seen = 0; count < 0 || seen < count; seen++) {
        if ((rc = cs_client_next(c, &rec, &len, -1)) != 0)
            break;
        cs_event *ev;
        if ((rc = cs_event_decode(rec, len, &ev)) != 0) {
            fprintf(stderr, "subscribe: bad record: %s\n", cs_strerror(rc));
            break;
        }
        printf("%s network=%s key=%s seq=%llu ", ev->type, ev->network, ev->key,
               (unsigned long long)ev->seq);
        rc = print_val(&ev->payload);
        putchar('\n');
        fflush(stdout);
        cs_event_unref(ev);
        if (rc != 0)
            break;
    }
    if (rc == CS_ECLOSED && count < 0)
        rc = 0;
    if (rc != 0)
        fprintf(stderr, "subscribe: %s %s\n", cs_strerror(rc), cs_client_error(c));
    cs_client_close(c);
    return rc == 0 ? 0 : 1;
}
