// Intentionally empty: this target only exports CLibFuzzer.h to Swift.
#include "CLibFuzzer.h"
