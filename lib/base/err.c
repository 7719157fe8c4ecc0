/*
 * err.c — the error chain behind errval_t: adding a layer's code, reading
 * the chain back, naming codes, and printing a chain.
 *
 * The codes and messages are the MINNOW_ERRORS table in
 * include/minnow/errors.h; this file only expands it into two arrays.
 * Printing goes through a caller-supplied output function and formats
 * numbers itself, because the kernel has no printf.
 */
#include <minnow/errors.h>

#include <stddef.h>

_Static_assert(ERR_CODE_BITS * ERR_CHAIN_DEPTH <= 64,
               "the whole chain must fit in one errval_t");

#define CODE_MASK ((errval_t)((1u << ERR_CODE_BITS) - 1))

static const char *const code_names[ERR_CODE_COUNT] = {
#define MINNOW_ERR_NAME(code, msg) [code] = #code,
    MINNOW_ERRORS(MINNOW_ERR_NAME)
#undef MINNOW_ERR_NAME
};

static const char *const code_messages[ERR_CODE_COUNT] = {
#define MINNOW_ERR_MESSAGE(code, msg) [code] = msg,
    MINNOW_ERRORS(MINNOW_ERR_MESSAGE)
#undef MINNOW_ERR_MESSAGE
};

/*
 * The new code goes into the low bits and older codes move up. A full chain
 * loses its oldest (innermost) code out of the top: the outer layers say
 * what the program was trying to do, and the newest code must always be
 * there for err_no(). Pushing SYS_ERR_OK adds nothing, because a success
 * code on top would make the failure beneath it read as a success.
 */
errval_t err_push(errval_t err, enum err_code code)
{
    if (code == SYS_ERR_OK)
        return err;
    return (err << ERR_CODE_BITS) | ((errval_t)code & CODE_MASK);
}

enum err_code err_code_at(errval_t err, unsigned depth)
{
    if (depth >= ERR_CHAIN_DEPTH)
        return SYS_ERR_OK;
    return (enum err_code)((err >> (depth * ERR_CODE_BITS)) & CODE_MASK);
}

/* Codes in the chain: up to the first empty slot, and at least one, so that
 * a success is the one-code chain SYS_ERR_OK. */
static unsigned chain_length(errval_t err)
{
    unsigned n = 0;
    while (n < ERR_CHAIN_DEPTH && err_code_at(err, n) != SYS_ERR_OK)
        n++;
    return n == 0 ? 1 : n;
}

bool err_contains(errval_t err, enum err_code code)
{
    unsigned n = chain_length(err);
    for (unsigned depth = 0; depth < n; depth++) {
        if (err_code_at(err, depth) == code)
            return true;
    }
    return false;
}

static bool code_is_known(enum err_code code)
{
    /* The cast also rejects negative values forced into the enum. */
    return (unsigned)code < ERR_CODE_COUNT;
}

const char *err_getcode(enum err_code code)
{
    return code_is_known(code) ? code_names[code] : "UNKNOWN_ERROR";
}

const char *err_getstring(enum err_code code)
{
    return code_is_known(code) ? code_messages[code] : "unknown error code";
}

/* Room for a sign, the 20 digits of a 64-bit number and the NUL. */
#define DECIMAL_SIZE 24

/* Write `value` in decimal at the end of `buf`; returns where it starts. */
static const char *format_decimal(char buf[DECIMAL_SIZE], int64_t value)
{
    /* Negate in unsigned arithmetic so that INT64_MIN does not overflow. */
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    char *p = buf + DECIMAL_SIZE - 1;

    *p = '\0';
    do {
        *--p = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (value < 0)
        *--p = '-';
    return p;
}

static void print_code_line(err_out_fn out, enum err_code code)
{
    char digits[DECIMAL_SIZE];

    out("  ");
    if (code_is_known(code)) {
        out(err_getcode(code));
    } else {
        out("UNKNOWN_ERROR(");
        out(format_decimal(digits, (int64_t)code));
        out(")");
    }
    out(": ");
    out(err_getstring(code));
    out("\n");
}

void err_print_chain(err_out_fn out, errval_t err, const char *file, int line,
                     const char *context)
{
    char digits[DECIMAL_SIZE];
    unsigned n = chain_length(err);

    out(file != NULL ? file : "?");
    out(":");
    out(format_decimal(digits, line));
    out(": ");
    out(context != NULL ? context : "");
    out("\n");
    for (unsigned depth = 0; depth < n; depth++)
        print_code_line(out, err_code_at(err, depth));
}
