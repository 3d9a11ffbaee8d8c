// glibc malloc tuning (mallopt); see VerifyCommand.
#include <malloc.h>
