// Provides std::ios_base_library_init(), which GCC 13's <iostream> calls from every
// translation unit's static initialiser and which libstdc++ only exports from
// GLIBCXX_3.4.32 on. Older libstdc++ (Debian 12: 3.4.30) initialises the standard
// streams through std::ios_base::Init objects instead; constructing one here does
// exactly what the newer function does.
#include <ios>

namespace std {
void ios_base_library_init() {
    static ios_base::Init init;
}
}
