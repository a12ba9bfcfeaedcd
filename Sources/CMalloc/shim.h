// The C allocator's statistics, which the platform's Swift module for the C
// library does not export; used by LiaisonTesting.HeapInUse. (In Swift,
// `mallinfo2()` names the struct's zero initialiser, not the function, so
// the call is made here.)
#include <malloc.h>
#include <stddef.h>

static inline size_t liaison_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}
