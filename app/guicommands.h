#pragma once
// The desktop modes of the `corolla` binary: the app itself (no command, or --minimized)
// and `corolla screenshots`. Each makes its own QApplication.
// Thread: main.

namespace corolla {

// True when argv asks for a desktop mode.
bool isDesktopInvocation(int argc, char **argv);
int runDesktop(int argc, char **argv);

} // namespace corolla
