// libFuzzer's documented driver entry point (compiler-rt FuzzerInterface.h).
// The fuzz targets call it from their own `main`, because SwiftPM links executables with
// `main` aliased to `<Target>_main`, which clashes with libFuzzer supplying `main` itself.
#ifndef C_LIB_FUZZER_H
#define C_LIB_FUZZER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
