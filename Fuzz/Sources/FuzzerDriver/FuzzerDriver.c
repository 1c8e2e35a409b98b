// SwiftPM links an executable target with `--defsym main=<module>_main`, so libFuzzer's own `main`
// is not the entry point. This is: it hands the command line to libFuzzer's driver, exactly as
// libFuzzer's `main` does, with the test function the Swift module exports.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int ReaderFuzzer_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
