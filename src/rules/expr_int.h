/* Inside the rule language (rules/expr.h): the compiled form that
 * expr_compile.c produces and expr.c runs, and the small value helpers both
 * use. Not for other files. */
#ifndef CS_RULES_EXPR_INT_H
#define CS_RULES_EXPR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/hex.h"
#include "rules/expr.h"

/* ---- compiled form ----------------------------------------------------- */

enum op {
    OP_CONST,  /* push consts[arg] */
    OP_FIELD,  /* push fields[arg] resolved on the event */
    OP_BIN,    /* pop b, pop a, push a <arg> b */
    OP_NOT,    /* logical not of the top */
    OP_NEG,    /* arithmetic negation of the top */
    OP_TOBOOL, /* replace the top by its truth value */
    OP_JF,     /* top falsy: replace by false and jump to arg; else pop */
    OP_JT,     /* top truthy: replace by true and jump to arg; else pop */
    OP_CALL,   /* call function arg with n arguments */
    OP_ENUM,   /* an integer on top becomes enums[arg]'s label */
};

enum binop {
    B_EQ,
    B_NE,
    B_LT,
    B_LE,
    B_GT,
    B_GE,
    B_ADD,
    B_SUB,
    B_MUL,
    B_DIV,
    B_MOD,
    B_POW,
    B_CONTAINS,
    B_STARTS,
    B_ENDS,
};

enum fn { FN_LEN, FN_LOWER, FN_SUBNET };

typedef struct insn {
    uint8_t op;
    uint8_t n;
    uint32_t arg;
} insn;

typedef struct xfield {
    const char *p1; /* first path tried */
    uint32_t n1;
    const char *p2; /* fallback path; n2 == 0: none */
    uint32_t n2;
    int32_t pos;      /* $N: position in the argument root; -1 otherwise */
    const char *rest; /* after $N: ".x" or "[0]..." */
    uint32_t nrest;
} xfield;

struct cs_expr {
    insn *code;
    size_t ncode;
    cs_xval *consts;
    size_t nconsts;
    xfield *fields;
    size_t nfields;
    char *pool; /* strings of consts and fields */
    char *src;
    const char *arg_root;
    size_t arg_root_len;
    int max_stack;
    const cs_expr_enum *enums; /* borrowed from the options */
};

/* ---- value helpers ----------------------------------------------------- */

/* The digit value of c in *v (core/hex.h); false if it is not one. */
static inline bool hexval(char c, unsigned *v)
{
    int d = cs_hex_digit(c);
    *v = (unsigned)d;
    return d >= 0;
}

static inline void set_num(cs_xval *x, const cs_u256 *m, bool neg)
{
    memset(x, 0, sizeof *x);
    x->kind = CS_X_NUM;
    x->n = *m;
    x->neg = neg && !cs_u256_is_zero(m);
}

static inline void set_bool(cs_xval *x, bool b)
{
    memset(x, 0, sizeof *x);
    x->kind = CS_X_BOOL;
    x->b = b;
}

#endif
