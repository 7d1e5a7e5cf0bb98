/* Allocations counted since the start (tests/alloc_count.c). */
#ifndef TC_ALLOC_COUNT_H
#define TC_ALLOC_COUNT_H

#include <stddef.h>

size_t tc_allocs(void);

#endif
