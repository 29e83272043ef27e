/* The certificate probe (see endpoint.h): a libcurl handshake on libuv's
 * thread pool (a HEAD request, verified against the given trust), the
 * server certificate read from libcurl's certificate info and its notAfter
 * compared with now by libcrypto. */
#include "antelope/endpoint.h"
#include "core/error.h"

#include <curl/curl.h>
#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tls_probe {
    uv_work_t work;
    cs_ant_tls_cb cb;
    void *arg;
    char *url, *ca_file;
    uint32_t timeout_ms;
    cs_ant_tls_result res;
} tls_probe;

/* notAfter and subject of the PEM certificate pem. */
static int read_cert(const char *pem, cs_ant_tls_result *r)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!x)
        return CS_EPARSE;
    const ASN1_TIME *na = X509_get0_notAfter(x);
    struct tm tm;
    int rc = CS_EPARSE;
    if (na && ASN1_TIME_to_tm(na, &tm) == 1) {
        r->not_after = (int64_t)timegm(&tm);
        r->days = difftime((time_t)r->not_after, time(NULL)) / 86400.0;
        rc = 0;
    }
    X509_NAME_oneline(X509_get_subject_name(x), r->subject, sizeof r->subject);
    X509_free(x);
    return rc;
}

/* The server certificate of the handshake e made into r (its error and
 * why say whether one was read). */
static void server_cert(CURL *e, cs_ant_tls_result *r)
{
    struct curl_certinfo *ci = NULL;
    r->error = CS_EPROTO;
    snprintf(r->why, sizeof r->why, "no server certificate in the handshake");
    if (curl_easy_getinfo(e, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci && ci->num_of_certs > 0)
        for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next)
            if (strncmp(s->data, "Cert:", 5) == 0) {
                r->error = read_cert(s->data + 5, r);
                snprintf(r->why, sizeof r->why, "%s",
                         r->error ? "unreadable server certificate" : "verified");
                break;
            }
}

/* A HEAD request on p's URL; verify: whether the chain and host name are
 * checked. */
static CURLcode handshake(const tls_probe *p, bool verify, cs_ant_tls_result *r, char *err)
{
    CURL *e = curl_easy_init();
    if (!e)
        return CURLE_OUT_OF_MEMORY;
    err[0] = 0;
    curl_easy_setopt(e, CURLOPT_URL, p->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    if (p->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, p->ca_file);
    if (!verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode c = curl_easy_perform(e);
    if (c == CURLE_OK)
        server_cert(e, r);
    curl_easy_cleanup(e);
    return c;
}

static void tls_work(uv_work_t *w)
{
    tls_probe *p = w->data;
    cs_ant_tls_result *r = &p->res;
    char err[CURL_ERROR_SIZE];
    CURLcode c = handshake(p, true, r, err);
    if (c == CURLE_OUT_OF_MEMORY) {
        r->error = CS_ENOMEM;
        snprintf(r->why, sizeof r->why, "out of memory");
    } else if (c != CURLE_OK) {
        r->error = c == CURLE_OPERATION_TIMEDOUT ? CS_ETIMEDOUT : CS_EIO;
        snprintf(r->why, sizeof r->why, "%s", err[0] ? err : curl_easy_strerror(c));
        if (c == CURLE_PEER_FAILED_VERIFICATION) {
            /* A certificate that does not verify (expired, another name, an
             * unknown issuer) is still read, in a second handshake that
             * checks nothing, for its dates alone: the verdict stays the
             * first handshake's. */
            cs_ant_tls_result dates = {0};
            char err2[CURL_ERROR_SIZE];
            if (handshake(p, false, &dates, err2) == CURLE_OK && dates.error == 0) {
                r->not_after = dates.not_after;
                r->days = dates.days;
                snprintf(r->subject, sizeof r->subject, "%s", dates.subject);
            }
        }
    }
}

static void tls_after(uv_work_t *w, int status)
{
    tls_probe *p = w->data;
    if (status == UV_ECANCELED) {
        p->res.error = CS_ECLOSED;
        snprintf(p->res.why, sizeof p->res.why, "cancelled");
    }
    p->cb(&p->res, p->arg);
    free(p->url);
    free(p->ca_file);
    free(p);
}

int cs_ant_tls_probe(uv_loop_t *loop, const char *url, const char *ca_file, uint32_t timeout_ms,
                     cs_ant_tls_cb cb, void *arg)
{
    if (!url || strncmp(url, "https://", 8) != 0)
        return CS_EINVAL;
    tls_probe *p = calloc(1, sizeof *p);
    if (!p)
        return CS_ENOMEM;
    p->url = strdup(url);
    p->ca_file = ca_file ? strdup(ca_file) : NULL;
    if (!p->url || (ca_file && !p->ca_file)) {
        free(p->url);
        free(p->ca_file);
        free(p);
        return CS_ENOMEM;
    }
    p->cb = cb;
    p->arg = arg;
    p->timeout_ms = timeout_ms ? timeout_ms : 5000;
    p->work.data = p;
    if (uv_queue_work(loop, &p->work, tls_work, tls_after)) {
        free(p->url);
        free(p->ca_file);
        free(p);
        return CS_EIO;
    }
    return 0;
}
