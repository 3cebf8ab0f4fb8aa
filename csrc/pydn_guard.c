/*
 * pydn_guard.c - turns Darknet's exit()/assert() into error returns and routes its
 * printing to a log callback.  See pydn_trap.h for how the calls get here.
 *
 * Everything is thread-local, so concurrent calls on different networks keep their
 * own guard and their own error text.  The outermost guard of a thread also makes its
 * call stoppable (pydn_stop.c) and says why a call failed (pydn_last_failure).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pydn.h"

#define PYDN_ERR_LEN 1024
#define PYDN_LINE_LEN 1024

static __thread jmp_buf *guard_env;              /* innermost active guard, or NULL */
static __thread char last_error[PYDN_ERR_LEN];
static __thread char pending[2][PYDN_LINE_LEN];  /* partial line per stream */
static __thread char last_line[PYDN_LINE_LEN];   /* last complete stderr/stdout line */
static __thread int failure;                     /* PYDN_FAILED_* of the last call */
static pydn_log_fn log_fn;

void pydn_exit(int status) __attribute__((noreturn));
/* pydn_stop.c */
void pydn_stop_begin(void);
int pydn_stop_end(void);
const char *pydn_stop_message(int why);

int pydn_last_failure(void) { return failure; }
int pydn_guarded(void) { return guard_env != NULL; }

const char *pydn_last_error(void) { return last_error; }

void pydn_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    failure = PYDN_FAILED_DARKNET;
}

void pydn_set_log_callback(pydn_log_fn fn) { log_fn = fn; }

jmp_buf *pydn_guard_enter(jmp_buf *env)
{
    jmp_buf *previous = guard_env;
    guard_env = env;
    last_error[0] = 0;
    last_line[0] = 0;
    pending[0][0] = pending[1][0] = 0;
    failure = PYDN_FAILED_DARKNET;
    if (!previous) pydn_stop_begin();
    return previous;
}

int pydn_guard_leave(jmp_buf *previous)
{
    guard_env = previous;
    if (previous) return 0;
    int stopped = pydn_stop_end();
    if (!stopped) return 0;
    if (failure == PYDN_FAILED_DARKNET && !last_error[0]) { /* finished, half-done */
        failure = stopped;
        snprintf(last_error, sizeof last_error, "%s", pydn_stop_message(stopped));
    }
    return -1;
}

/* Emit the complete lines of text, keep a trailing partial line pending. */
static void emit(int level, const char *text)
{
    char *buf = pending[level];
    size_t len = strlen(buf);
    for (const char *p = text; *p; ++p) {
        if (*p == '\n' || len + 1 >= PYDN_LINE_LEN) {
            buf[len] = 0;
            if (len) {
                memcpy(last_line, buf, len + 1);
                if (log_fn) log_fn(level, buf);
            }
            len = 0;
            if (*p == '\n') continue;
        }
        buf[len++] = *p;
    }
    buf[len] = 0;
}

/* The most recent thing Darknet said: a pending partial line, else the last line. */
static const char *last_words(void)
{
    if (pending[1][0]) return pending[1];
    if (pending[0][0]) return pending[0];
    return last_line;
}

static void vemit(int level, const char *fmt, va_list ap)
{
    char text[4096];
    vsnprintf(text, sizeof text, fmt, ap);
    emit(level, text);
}

int pydn_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(0, fmt, ap);
    va_end(ap);
    return 0;
}

int pydn_fprintf(FILE *stream, const char *fmt, ...)
{
    va_list ap;
    int ret = 0;
    va_start(ap, fmt);
    if (stream == stdout || stream == stderr)
        vemit(stream == stderr, fmt, ap);
    else
        ret = vfprintf(stream, fmt, ap);  /* a real file Darknet writes */
    va_end(ap);
    return ret;
}

void pydn_perror(const char *s)
{
    char text[PYDN_LINE_LEN];
    snprintf(text, sizeof text, "%s: %s\n", s ? s : "", strerror(errno));
    emit(1, text);
}

static void __attribute__((noreturn)) fail(const char *what)
{
    const char *words = last_words();
    if (words[0])
        snprintf(last_error, sizeof last_error, "%s (Darknet said: %s)", what, words);
    else
        snprintf(last_error, sizeof last_error, "%s", what);
    longjmp(*guard_env, 1);
}

void pydn_guard_fail(int why, const char *what)
{
    if (!guard_env) pydn_exit(1);
    failure = why;
    snprintf(last_error, sizeof last_error, "%s", what);
    longjmp(*guard_env, 1);
}

void pydn_exit(int status)
{
    if (!guard_env) exit(status);  /* not inside pydarknet: keep Darknet's behaviour */
    char what[64];
    snprintf(what, sizeof what, "Darknet gave up (exit(%d))", status);
    fail(what);
}

void pydn_assert_fail(const char *expr, const char *file, unsigned int line, const char *func)
{
    char what[512];
    snprintf(what, sizeof what, "Darknet assertion failed: %s (%s:%u, %s)", expr, file, line, func);
    if (!guard_env) {
        fprintf(stderr, "%s\n", what);
        abort();
    }
    fail(what);
}
