#!/bin/bash
# Build a stand-in binary shaped like the real release build: a dynamic ELF executable that
# needs libsystemd.so.0 (and so its own deps), libstdc++, libgcc_s and libc, padded to
# about the size of a static-Swift-stdlib binary. It calls into libsystemd (so the libraries
# must really load in the guest) and then runs the busybox stand-in (embedded) with its args.
# Proves run.sh's "copy everything ldd lists, plus the loader" and measures what a big
# initramfs costs. Needs gcc and g++ (not used by `make test`).
#   Tests/qemu/standin/make-dynamic-standin.sh OUT [PAD_MIB]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1 PAD=${2:-60}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
python3 - "$HERE/iommud" > "$T/script.h" <<'PY'
import sys
s = open(sys.argv[1]).read()
print("static const char script[] = " + "\n".join('"%s\\n"' % l.replace("\\", "\\\\").replace('"', '\\"') for l in s.split("\n")) + ";")
PY
cat > "$T/main.cc" <<'C'
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#include "script.h"
typedef struct { unsigned char bytes[16]; } id128;
extern "C" int sd_id128_get_boot(id128 *);
int main(int argc, char **argv) {
  id128 id;
  if (sd_id128_get_boot(&id) < 0) { std::fprintf(stderr, "libsystemd: sd_id128_get_boot failed\n"); }
  std::vector<std::string> a{"/bin/busybox", "sh", "-c", script, "iommud"};
  for (int i = 1; i < argc; i++) a.emplace_back(argv[i]);
  std::vector<char *> v; for (auto &s : a) v.push_back(&s[0]); v.push_back(nullptr);
  execv(v[0], v.data());
  std::perror("execv /bin/busybox");
  return 127;
}
C
g++ -O1 -I"$T" -o "$T/iommud" "$T/main.cc" -Wl,--no-as-needed /lib/x86_64-linux-gnu/libsystemd.so.0 -lgcc_s
if [ "$PAD" -gt 0 ]; then     # realistic-ish compressibility: pieces of the host's libraries
  (set +o pipefail; find /usr/lib/x86_64-linux-gnu -name '*.so*' -type f -size +1M | xargs cat 2>/dev/null |
    head -c "$((PAD * 1024 * 1024))" > "$T/pad")
  objcopy --add-section .standin_pad="$T/pad" --set-section-flags .standin_pad=noload,readonly "$T/iommud" "$OUT"
else
  cp "$T/iommud" "$OUT"
fi
ldd "$OUT"; ls -la "$OUT"
