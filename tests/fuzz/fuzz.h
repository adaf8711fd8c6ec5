/* Shared by the libFuzzer targets tests/fuzz/fuzz_<target>.c and the
 * corpus replayer tests/fuzz/replay.c.
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with clang
 * -fsanitize=fuzzer (tests/fuzz/run.sh) it is driven by libFuzzer; built
 * with replay.c (every CMake build, ctest fuzz.<target>) it runs once per
 * file of tests/fuzz/corpus/<target>/. A target checks the contract of the
 * parser it drives, not only that it does not crash: a broken promise
 * calls FUZZ_CHECK, which aborts, so libFuzzer saves the input as a crash
 * and the replay test fails.
 */
#ifndef HS_FUZZ_H
#define HS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* One input. Returns 0 (libFuzzer reserves other values).
 * Thread: main. GIL: not used. Locks: none. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__,   \
                    __LINE__, #cond);                                     \
            abort();                                                      \
        }                                                                 \
    } while (0)

#endif
