/*
 * pydn_trap.h - force-included (gcc -include) into every upstream Darknet C file.
 *
 * Darknet reports errors by printing and then calling exit() or assert(0)
 * (utils.c: error(), file_error(), malloc_error(); parser.c; ...).  Inside a Python
 * process that would end the interpreter.  We rename those calls, at compile time and
 * without touching darknet/, to functions in pydn_guard.c that jump back to the guarded
 * pydarknet entry point (see PYDN_GUARD_BEGIN in pydn.h) which then returns an error
 * code that Python turns into an exception.
 *
 * printf/fprintf(stdout|stderr)/perror are renamed the same way so that Darknet's
 * chatter is routed to Python logging (and the last lines are kept for error messages)
 * instead of being written to the process' stdout.
 *
 * malloc/calloc/realloc/free/fread go to pydn_alloc.c: a failed allocation becomes a
 * MemoryError instead of a NULL that upstream would write to, a network that fails to
 * build frees what it held, and building checks for Ctrl-C.  (Not in CUDA files: CUDA's
 * headers declare device-side malloc/free.)
 */
#ifndef PYDN_TRAP_H
#define PYDN_TRAP_H

#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

void pydn_exit(int status) __attribute__((noreturn));
void pydn_assert_fail(const char *expr, const char *file, unsigned int line,
                      const char *func) __attribute__((noreturn));
int pydn_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int pydn_fprintf(FILE *stream, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pydn_perror(const char *s);
void *pydn_malloc(size_t n);
void *pydn_calloc(size_t n, size_t size);
void *pydn_realloc(void *p, size_t n);
void pydn_free(void *p);
size_t pydn_fread(void *ptr, size_t size, size_t n, FILE *stream);

#ifdef __cplusplus
}
#endif

/* <assert.h> expands assert() to __assert_fail(...); its prototype is renamed too. */
#define exit pydn_exit
#define __assert_fail pydn_assert_fail
#define printf pydn_printf
#define fprintf pydn_fprintf
#define perror pydn_perror
#ifndef __CUDACC__
#define malloc pydn_malloc
#define calloc pydn_calloc
#define realloc pydn_realloc
#define free pydn_free
#define fread pydn_fread
#endif

#endif /* PYDN_TRAP_H */
