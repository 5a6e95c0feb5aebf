// Small regression nets for the solver tests, fed by a test-only data layer ("SolverTestData") that
// emits rows of a fixed 16-record data set in turn, so that consecutive forward passes (iter_size)
// see different batches, and whose position can be set from a solver callback, so that the data of
// an iteration depends only on the iteration number (which makes resumed runs comparable).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "condense/proto/condense.pb.h"
#include "condense/solver/solver.hpp"

namespace condense::testing {

constexpr int kTestRecords = 16;

// Feature j and target k of record r of the data set.
float TestFeature(int64_t record, int64_t j);
float TestTarget(int64_t record, int64_t k);

// data (batch x inputs) and target (batch x outputs) from SolverTestData, then
// InnerProduct(hidden) -> TanH -> InnerProduct(outputs) -> EuclideanLoss; hidden 0 drops the first
// InnerProduct and the TanH. Weights are gaussian (std 0.5), biases constant 0.1.
NetParameter RegressionNet(int batch, int inputs, int outputs, int hidden = 4);

// SGD, lr 0.1 fixed, no momentum, weight decay 0, no display, snapshot only when asked.
SolverParameter BaseSolver(const NetParameter& net, int max_iter);

// Points the SolverTestData layer of the solver's training net at record `position`.
void SetDataPosition(Solver* solver, int64_t position);
// Makes every iteration start at record iter * batch * iter_size, whatever ran before.
void FeedByIteration(Solver* solver, int batch);

// All learnable parameter values of a net, concatenated.
std::vector<float> ParamValues(const Net& net);

}  // namespace condense::testing
