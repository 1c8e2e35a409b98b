#ifndef FUZZER_DRIVER_H
#define FUZZER_DRIVER_H
// Nothing to call from Swift: this target only supplies the executable's entry point (see FuzzerDriver.c).
#endif
