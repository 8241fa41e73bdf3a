// crypt(3) from libxcrypt (Debian: libcrypt1, headers in libcrypt-dev). Only crypt_rn is
// used: reentrant, with a caller-owned struct crypt_data, and NULL (not a "*0" string) on
// failure.
#include <crypt.h>
