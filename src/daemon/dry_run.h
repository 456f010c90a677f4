// --dry-run: every effect is logged instead of performed.
#pragma once

#include <memory>

#include "effects/notifier.h"
#include "effects/process.h"
#include "effects/run_files.h"
#include "effects/state_file.h"
#include "effects/sysctl.h"

struct sd_event;

namespace havip {

std::unique_ptr<StateFiles> dry_run_state_files();
std::unique_ptr<Sysctls> dry_run_sysctls();
std::unique_ptr<RunFiles> dry_run_files();
// "Starts" nothing; a signal makes the pretend process exit on the next loop
// iteration, so supervision behaves as it would for real.
std::unique_ptr<Launcher> dry_run_launcher(sd_event* loop);
std::unique_ptr<Notifier> dry_run_notifier();

}  // namespace havip
