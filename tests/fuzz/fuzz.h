/*
 * What the libFuzzer targets of tests/fuzz/ share: splitting an input into
 * pieces, a private folder for the targets that read files, and checks of
 * what the product promises (a broken promise aborts, so libFuzzer keeps
 * the input as a crash).
 *
 * Each target is one file defining LLVMFuzzerTestOneInput (and, when it
 * needs set-up, LLVMFuzzerInitialize), listed in tests/fuzz/targets, with
 * its seeds in tests/fuzz/corpus/<name>/.
 */
#ifndef TC_FUZZ_H
#define TC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of n bytes at p (embedded NULs stay: strlen sees
 * only the first piece). Aborts when out of memory. */
char *fz_strndup(const void *p, size_t n);

/* An input read piece by piece, the pieces separated by NUL bytes. */
struct fz_in {
	const char *p;
	size_t n;
};
/* The next piece (not NUL-terminated) and its length in *len; NULL when
 * the input is used up. A last piece without a NUL after it counts. */
const char *fz_next(struct fz_in *in, size_t *len);

/* A folder of this process' own (made on first call, removed at exit). */
const char *fz_dir(void);
/* Writes len bytes to fz_dir()/rel (its folders made as needed); aborts
 * when that fails. Returns the full path (static until the next call). */
const char *fz_write(const char *rel, const void *p, size_t len);
const char *fz_writes(const char *rel, const char *text);

/* Aborts, naming what was broken, when ok is false. */
void fz_assert(bool ok, const char *what);
/* Aborts when text that reaches a terminal or a log (a diagnostic, a
 * reason) holds a character a terminal acts on (tc_utf8_unsafe). */
void fz_shown(const char *text, const char *what);

#endif
