// DummyData: tops of given shapes filled by fillers (0, 1 or one per top; default constant 0).
// Constant tops are filled once at set-up; the others are refilled on every Forward, as in Caffe.
#include <vector>

#include "condense/core/error.hpp"
#include "condense/net/filler.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class DummyDataLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "DummyData"; }
  int ExactNumBottomBlobs() const override { return 0; }
  int MinTopBlobs() const override { return 1; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const DummyDataParameter& param = layer_param_.dummy_data_param();
    const int tops = static_cast<int>(top.size());
    const int given_fillers = param.data_filler_size();
    CONDENSE_CHECK(given_fillers == 0 || given_fillers == 1 || given_fillers == tops, Describe(),
                   ": give dummy_data_param.data_filler 0, 1 or ", tops, " times, not ",
                   given_fillers);
    const bool legacy = param.num_size() > 0 || param.channels_size() > 0 ||
                        param.height_size() > 0 || param.width_size() > 0;
    if (legacy) {
      CONDENSE_CHECK(param.shape_size() == 0, Describe(),
                     ": give dummy_data_param.shape or num/channels/height/width, not both");
      CheckCount("num", param.num_size(), tops);
      CheckCount("channels", param.channels_size(), tops);
      CheckCount("height", param.height_size(), tops);
      CheckCount("width", param.width_size(), tops);
    } else {
      CheckCount("shape", param.shape_size(), tops);
    }

    fillers_.clear();
    if (given_fillers == 0) {
      FillerParameter zeros;
      zeros.set_type("constant");
      zeros.set_value(0.0f);
      fillers_.push_back(zeros);
    } else {
      fillers_.assign(param.data_filler().begin(), param.data_filler().end());
    }

    for (int i = 0; i < tops; ++i) {
      if (legacy) {
        const auto pick = [i](const google::protobuf::RepeatedField<uint32_t>& values) {
          return static_cast<int64_t>(values.size() == 1 ? values.Get(0) : values.Get(i));
        };
        top[i]->Reshape(std::vector<int64_t>{pick(param.num()), pick(param.channels()),
                                             pick(param.height()), pick(param.width())});
      } else {
        top[i]->Reshape(param.shape(param.shape_size() == 1 ? 0 : i));
      }
    }
    // Constant tops never change: fill them now and skip them in Forward.
    for (int i = 0; i < tops; ++i) {
      if (IsConstant(FillerFor(i))) Fill(FillerFor(i), top[i]);
    }
  }

  // The shapes are fixed at set-up.
  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {}

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    for (size_t i = 0; i < top.size(); ++i) {
      if (!IsConstant(FillerFor(i))) Fill(FillerFor(i), top[i]);
    }
  }
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {}

 private:
  void CheckCount(const char* field, int given, int tops) const {
    CONDENSE_CHECK(given == 1 || given == tops, Describe(), ": give dummy_data_param.", field,
                   " once or once per top (", tops, "), not ", given, " times");
  }
  const FillerParameter& FillerFor(size_t top_index) const {
    return fillers_[fillers_.size() == 1 ? 0 : top_index];
  }
  static bool IsConstant(const FillerParameter& filler) { return filler.type() == "constant"; }

  std::vector<FillerParameter> fillers_;
};

CONDENSE_REGISTER_LAYER("DummyData", DummyDataLayer);

}  // namespace condense
