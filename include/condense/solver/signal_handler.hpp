// Turning SIGINT and SIGHUP into solver actions, as Caffe's `train` does: a signal only sets a flag
// (the one thing that is safe inside a handler), and the solver asks for the pending action between
// iterations and between test batches. Defaults are Caffe's: Ctrl-C stops (after the current iteration,
// and the solver then writes its final snapshot when snapshot_after_train is set), SIGHUP snapshots
// and carries on. One SignalHandler may exist at a time; it restores the previous handlers when it dies.
#pragma once

#include <string>

#include "condense/solver/solver.hpp"

namespace condense {

// "stop", "snapshot" or "none"; throws naming `flag_name` otherwise.
SolverAction ParseSignalEffect(const std::string& value, const std::string& flag_name);

class SignalHandler {
 public:
  SignalHandler(SolverAction sigint_effect, SolverAction sighup_effect);
  ~SignalHandler();
  SignalHandler(const SignalHandler&) = delete;
  SignalHandler& operator=(const SignalHandler&) = delete;

  // The action of a signal received since the last call (SIGHUP first when both came), or kNone.
  // Each received signal is reported once.
  SolverAction CheckForSignals() const;
  // CheckForSignals as a function for Solver::SetActionFunction; valid while this object lives.
  ActionFunction GetActionFunction() const;

 private:
  SolverAction sigint_effect_;
  SolverAction sighup_effect_;
};

}  // namespace condense
