#ifndef IOMMUD_CZLIB_SHIM_H
#define IOMMUD_CZLIB_SHIM_H
// zlib as Swift sees it: `iommud replay` inflates gzip input (IOMMUDaemon/Replay/ReplayInput.swift).
// inflateInit2 is a macro (it passes ZLIB_VERSION and the struct size): wrapped here.
#include <zlib.h>

static inline int iommud_inflate_init_gzip(z_stream *s) {
    return inflateInit2(s, 15 + 16); // 32 KiB window, gzip header and trailer only
}
#endif
