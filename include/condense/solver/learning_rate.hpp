// The learning-rate policies of Caffe's SGD-family solvers (SolverParameter.lr_policy): fixed, step, exp,
// inv, multistep, poly and sigmoid, with Caffe's formulas and its iteration counting, so a solver file
// gives the same schedule here as there. Only "multistep" carries state between calls (the index of the
// next step value), which is why the solver saves current_step in its snapshots.
#pragma once

#include <string>

#include "condense/proto/condense.pb.h"

namespace condense {

// Throws, naming `source` (the solver file) and the field, when lr_policy is unknown or its parameters
// cannot give a schedule (stepsize <= 0 for step/sigmoid, negative gamma, max_iter <= 0 for poly).
void CheckLearningRatePolicy(const SolverParameter& param, const std::string& source);

// The rate for iteration `iter` (the number of updates done so far). For "step" it sets
// *current_step to iter / stepsize; for "multistep" it advances *current_step by at most one step
// value per call, as Caffe does; other policies leave it alone.
float LearningRate(const SolverParameter& param, int iter, int* current_step);

}  // namespace condense
