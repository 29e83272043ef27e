/* chainscope error codes, shared by the library and every component.
 *
 * Functions that can fail return int: 0 on success or a negative CS_E* code.
 * cs_strerror() names a code for people. Codes from libuv (negative errno
 * values) pass through unchanged and cs_strerror() names them too. */
#ifndef CHAINSCOPE_ERROR_H
#define CHAINSCOPE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    CS_OK = 0,
    CS_ENOMEM = -10001,       /* out of memory */
    CS_EINVAL = -10002,       /* invalid argument */
    CS_EPARSE = -10003,       /* malformed input */
    CS_ETRUNC = -10004,       /* input ends early */
    CS_ERANGE = -10005,       /* value out of range */
    CS_ENOTFOUND = -10006,    /* no such field, key or object */
    CS_ETYPE = -10007,        /* value of the wrong type */
    CS_ELIMIT = -10008,       /* a configured bound was reached */
    CS_EIO = -10009,          /* input/output error */
    CS_ECONFIG = -10010,      /* invalid configuration */
    CS_EAUTH = -10011,        /* authentication failed */
    CS_ECLOSED = -10012,      /* the connection or handle is closed */
    CS_ETIMEDOUT = -10013,    /* the operation timed out */
    CS_EPROTO = -10014,       /* protocol violation by the other side */
    CS_EEXIST = -10015,       /* already exists */
    CS_EUNSUPPORTED = -10016, /* not supported */
};

/* Returns a static, human-readable description of an error code. */
const char *cs_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
