/* The rule language: conditions over any event (docs/rules.md).
 *
 *   value > 0xde0b6b3a7640000 AND (from == "0xAbC..." OR NOT status == "success")
 *   msg.addresses[0].port != 8333 && peer.addr starts_with "10."
 *
 * An expression is compiled once (cs_expr_compile) into a flat program of
 * postfix instructions and constants; evaluating it against an event
 * (cs_expr_test, cs_expr_eval) never allocates and touches only the fields it
 * names. Numbers are exact: every integer is a sign and a 256-bit magnitude
 * (core/u256.h), so uint256 and int256 values compare exactly, decimal and
 * 0x-hex alike. Arithmetic that leaves that range, or divides by zero, is an
 * evaluation error: the condition is then false and the error is returned so
 * that callers can count it.
 *
 * Names resolve with cs_event_field (core/event.h) on the event being
 * tested. With opts->arg_root set (monitors set it to "args"), a bare name
 * `value` is first looked up as `args.value`, then as `value`; `$2` is the
 * third member of args (by position); aliases rename a leading name
 * (`gasPrice` -> `gas_price`). */
#ifndef CS_RULES_EXPR_H
#define CS_RULES_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/u256.h"
#include "core/value.h"

#define CS_EXPR_MAX_SOURCE 16384 /* bytes of source text */
#define CS_EXPR_MAX_STACK 64     /* evaluation stack slots; deeper nesting is a parse error */
#define CS_EXPR_MAX_CODE 4096    /* instructions */
#define CS_EXPR_SCRATCH 512      /* bytes for strings made during one evaluation */

typedef struct cs_expr cs_expr;

/* A name that means another: `gasPrice` -> `gas_price`. Borrowed. */
typedef struct cs_expr_alias {
    const char *name;
    const char *path;
} cs_expr_alias;

/* A field whose integer values have names: `status` is 0 or 1 in evm.tx and
 * reads as "failed" or "success". The field then evaluates to the label
 * (labels[value]) when it is an integer in range, else to itself; the label
 * still compares with numbers as the integer (`status == 1` holds too).
 * Borrowed: must outlive every expression compiled with it. */
typedef struct cs_expr_enum {
    const char *name;          /* the field as written in conditions */
    const char *const *labels; /* NULL-terminated */
    const char *type;          /* only in events of this type; NULL: any */
} cs_expr_enum;

typedef struct cs_expr_opts {
    const char *arg_root;         /* NULL: bare names are event fields only */
    const cs_expr_alias *aliases; /* may be NULL */
    size_t naliases;
    const cs_expr_enum *enums; /* may be NULL */
    size_t nenums;
} cs_expr_opts;

/* The kinds of values an expression computes. */
typedef enum cs_xkind {
    CS_X_NULL, /* a missing field, or the literal null */
    CS_X_BOOL,
    CS_X_NUM, /* sign + 256-bit magnitude; never negative zero */
    CS_X_DBL,
    CS_X_STR,
    CS_X_BYTES,
    CS_X_VAL, /* an array or object from the event (a cs_val view) */
} cs_xkind;

/* One value. Strings and bytes are views: into the event, into the compiled
 * expression's constants, or into the evaluation's scratch space. */
typedef struct cs_xval {
    cs_xkind kind;
    bool neg;      /* NUM */
    bool b;        /* BOOL */
    bool labeled;  /* STR that names an integer (cs_expr_enum): n holds it */
    cs_u256 n;     /* NUM magnitude */
    double d;      /* DBL */
    const char *s; /* STR (not NUL-terminated), BYTES */
    size_t len;
    cs_val v; /* VAL */
} cs_xval;

/* Compiles src[0..n). On a syntax error returns CS_EPARSE and writes
 * "LINE:COL: message" into err (errlen bytes, may be 0). opts may be NULL.
 * On success *out is owned by the caller: free with cs_expr_free. */
int cs_expr_compile(const char *src, size_t n, const cs_expr_opts *opts, cs_expr **out, char *err,
                    size_t errlen);
void cs_expr_free(cs_expr *e);
/* The source text as compiled (NUL-terminated; owned by e). */
const char *cs_expr_source(const cs_expr *e);

/* Tests a condition: returns 1 (true), 0 (false) or a negative CS_E* code
 * for an evaluation error (the condition then counts as false). A value is
 * true when it is true, a non-zero number, a non-empty string/bytes/array;
 * a missing field is false. ev is borrowed. */
int cs_expr_test(const cs_expr *e, const cs_event *ev);

/* Evaluates to a value. scratch (CS_EXPR_SCRATCH bytes) holds strings the
 * expression makes (lower(), subnet()); *out may point into it, into the
 * event and into e. Returns 0 or a negative CS_E* code. */
int cs_expr_eval(const cs_expr *e, const cs_event *ev, char *scratch, cs_xval *out);

/* Evaluates and writes the value as text (strings as they are, numbers in
 * decimal, bytes as 0x-hex, containers as JSON) into buf (cap bytes, NUL
 * included), for group and dedup keys. Returns the length or a negative
 * code (CS_ELIMIT when it does not fit). */
int cs_expr_eval_text(const cs_expr *e, const cs_event *ev, char *buf, size_t cap);

/* Compares two values the way `==` and `<` do: returns -1, 0, 1, or 2 when
 * they cannot be ordered (different kinds, a missing field). */
int cs_xval_cmp(const cs_xval *a, const cs_xval *b);
/* Converts a field view into an expression value. */
void cs_xval_from_val(cs_xval *out, const cs_val *v);
/* True when s[0..n) is an address as the language defines it: "0x" and 40
 * hex digits, any case. */
bool cs_expr_is_address(const char *s, size_t n);

#endif
