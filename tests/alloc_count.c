/*
 * Counts allocations, for a binary linked with -Wl,--wrap=malloc,
 * -Wl,--wrap=calloc and -Wl,--wrap=realloc: test_mustache checks that a
 * render allocates nothing, bench/render prints allocations per render.
 */
#include <stddef.h>

#include "alloc_count.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static size_t n_allocs;

size_t tc_allocs(void)
{
	return n_allocs;
}

void *__wrap_malloc(size_t n)
{
	n_allocs++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	n_allocs++;
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	n_allocs++;
	return __real_realloc(p, n);
}
