#include "condense/solver/signal_handler.hpp"

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "condense/core/error.hpp"

namespace condense {

namespace {

volatile sig_atomic_t got_sigint = 0;
volatile sig_atomic_t got_sighup = 0;
std::atomic<bool> handler_installed{false};
struct sigaction previous_sigint;
struct sigaction previous_sighup;

// Runs in signal context: sets a flag and nothing else.
extern "C" void RecordSignal(int signal_number) {
  if (signal_number == SIGINT) got_sigint = 1;
  if (signal_number == SIGHUP) got_sighup = 1;
}

bool TakeFlag(volatile sig_atomic_t* flag) {
  if (!*flag) return false;
  *flag = 0;
  return true;
}

}  // namespace

SolverAction ParseSignalEffect(const std::string& value, const std::string& flag_name) {
  if (value == "stop") return SolverAction::kStop;
  if (value == "snapshot") return SolverAction::kSnapshot;
  if (value == "none") return SolverAction::kNone;
  Fail("--", flag_name, "=", value, ": unknown signal effect (use stop, snapshot or none)");
}

SignalHandler::SignalHandler(SolverAction sigint_effect, SolverAction sighup_effect)
    : sigint_effect_(sigint_effect), sighup_effect_(sighup_effect) {
  CONDENSE_CHECK(!handler_installed.exchange(true),
                 "a SignalHandler is already installed; only one may exist at a time");
  got_sigint = 0;
  got_sighup = 0;
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = &RecordSignal;
  // Restart interrupted reads (data files) instead of failing them; block other signals meanwhile.
  action.sa_flags = SA_RESTART;
  sigfillset(&action.sa_mask);
  if (sigaction(SIGINT, &action, &previous_sigint) != 0 ||
      sigaction(SIGHUP, &action, &previous_sighup) != 0) {
    handler_installed = false;
    Fail("cannot install the SIGINT/SIGHUP handlers: ", std::strerror(errno));
  }
}

SignalHandler::~SignalHandler() {
  sigaction(SIGINT, &previous_sigint, nullptr);
  sigaction(SIGHUP, &previous_sighup, nullptr);
  handler_installed = false;
}

SolverAction SignalHandler::CheckForSignals() const {
  if (TakeFlag(&got_sighup)) return sighup_effect_;
  if (TakeFlag(&got_sigint)) return sigint_effect_;
  return SolverAction::kNone;
}

ActionFunction SignalHandler::GetActionFunction() const {
  return [this] { return CheckForSignals(); };
}

}  // namespace condense
