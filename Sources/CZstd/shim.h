#ifndef IOMMUD_CZSTD_SHIM_H
#define IOMMUD_CZSTD_SHIM_H
// libzstd as Swift sees it: `iommud replay` decompresses zstd input (IOMMUDaemon/Replay/ReplayInput.swift).
#include <zstd.h>
#endif
