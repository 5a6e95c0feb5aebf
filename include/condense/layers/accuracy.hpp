// The Accuracy layer: the fraction of positions whose label is among the top_k scores along
// accuracy_param.axis, with an optional second top giving the accuracy per class. Ties count against
// the label, as in Caffe: a prediction is right when fewer than top_k other classes score at least as
// high as the true one, so a net whose scores all collapse to one value scores 0 (and, unlike Caffe,
// a NaN score counts against the label, so a diverged net scores 0 too). The class is public
// because that rule matters for quantized nets: logits on a coarse grid tie often, and `condense test`
// reports how many predictions each Accuracy layer lost to ties alone (last_tally), so that a user
// can tell a format too coarse for the logits from a net that is wrong. AccuracyTallies sums those
// tallies over a whole test, for `condense test` and the solver's test phases alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "condense/net/layer.hpp"

namespace condense {

class Net;

class AccuracyLayer : public Layer {
 public:
  // What the last forward pass counted.
  struct Tally {
    int64_t scored = 0;        // positions with a label that is not ignored
    int64_t correct = 0;       // those with the label among the top_k, ties counted against it
    int64_t lost_to_ties = 0;  // wrong only by the tie rule: right had ties gone the label's way

    Tally& operator+=(const Tally& other);
  };

  using Layer::Layer;
  const char* type() const override { return "Accuracy"; }
  int ExactNumBottomBlobs() const override { return 2; }
  int MinTopBlobs() const override { return 1; }
  int MaxTopBlobs() const override { return 2; }
  // It has no gradient: force_backward must not ask it for one (Caffe would abort there).
  bool AllowForceBackward(int bottom_index) const override { return false; }
  // Scores may be quantized; labels and the accuracies it writes are not values of the net.
  bool QuantizableInput(int bottom_index) const override { return bottom_index == 0; }
  bool QuantizableOutput(int top_index) const override { return false; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override;
  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override;

  const Tally& last_tally() const { return tally_; }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override;

 private:
  int64_t top_k_ = 1;
  bool has_ignore_label_ = false;
  int ignore_label_ = 0;
  int axis_ = 1;
  int64_t classes_ = 0;
  int64_t outer_ = 0;
  int64_t inner_ = 0;
  Tally tally_;
};

// The tallies of every Accuracy layer of a net summed over the forward passes Add follows, in the
// net's order: what `condense test` and the solver's test phases report as predictions lost to ties.
class AccuracyTallies {
 public:
  struct Entry {
    std::string layer;
    AccuracyLayer::Tally sum;
  };

  explicit AccuracyTallies(const Net& net);
  // Adds the last forward pass's tally of each layer.
  void Add();
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<const AccuracyLayer*> layers_;
  std::vector<Entry> entries_;
};

}  // namespace condense
