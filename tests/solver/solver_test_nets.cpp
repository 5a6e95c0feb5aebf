#include "solver_test_nets.hpp"

#include <cmath>

#include "condense/core/error.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense::testing {

namespace {

class SolverTestDataLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "SolverTestData"; }
  int ExactNumBottomBlobs() const override { return 0; }
  int ExactNumTopBlobs() const override { return 2; }

  void Reshape(const std::vector<Blob*>&, const std::vector<Blob*>& top) override {
    const DummyDataParameter& param = layer_param_.dummy_data_param();
    CONDENSE_CHECK(param.shape_size() == 2, "SolverTestData needs two shapes");
    top[0]->Reshape(param.shape(0));
    top[1]->Reshape(param.shape(1));
  }

  void set_position(int64_t position) { position_ = position % kTestRecords; }

 protected:
  void ForwardCpu(const std::vector<Blob*>&, const std::vector<Blob*>& top) override {
    const int64_t batch = top[0]->shape(0);
    const int64_t inputs = top[0]->count(1);
    const int64_t outputs = top[1]->count(1);
    for (int64_t row = 0; row < batch; ++row) {
      const int64_t record = (position_ + row) % kTestRecords;
      for (int64_t j = 0; j < inputs; ++j) {
        top[0]->mutable_data()[row * inputs + j] = TestFeature(record, j);
      }
      for (int64_t k = 0; k < outputs; ++k) {
        top[1]->mutable_data()[row * outputs + k] = TestTarget(record, k);
      }
    }
    position_ = (position_ + batch) % kTestRecords;
  }

 private:
  int64_t position_ = 0;
};

CONDENSE_REGISTER_LAYER("SolverTestData", SolverTestDataLayer);

void AddShape(DummyDataParameter* param, std::vector<int64_t> dims) {
  BlobShape* shape = param->add_shape();
  for (int64_t dim : dims) shape->add_dim(dim);
}

LayerParameter* AddInnerProduct(NetParameter* net, const std::string& name,
                                const std::string& bottom, int outputs) {
  LayerParameter* layer = net->add_layer();
  layer->set_name(name);
  layer->set_type("InnerProduct");
  layer->add_bottom(bottom);
  layer->add_top(name);
  InnerProductParameter* param = layer->mutable_inner_product_param();
  param->set_num_output(outputs);
  param->mutable_weight_filler()->set_type("gaussian");
  param->mutable_weight_filler()->set_std(0.5f);
  param->mutable_bias_filler()->set_type("constant");
  param->mutable_bias_filler()->set_value(0.1f);
  return layer;
}

}  // namespace

float TestFeature(int64_t record, int64_t j) {
  return static_cast<float>(std::sin(0.37 * static_cast<double>(record) + 1.1 * j));
}

float TestTarget(int64_t record, int64_t k) {
  return static_cast<float>(0.8 * std::cos(0.5 * static_cast<double>(record) - 0.3 * k));
}

NetParameter RegressionNet(int batch, int inputs, int outputs, int hidden) {
  NetParameter net;
  net.set_name("regression");
  LayerParameter* data = net.add_layer();
  data->set_name("data");
  data->set_type("SolverTestData");
  data->add_top("data");
  data->add_top("target");
  AddShape(data->mutable_dummy_data_param(), {batch, inputs});
  AddShape(data->mutable_dummy_data_param(), {batch, outputs});
  std::string last = "data";
  if (hidden > 0) {
    AddInnerProduct(&net, "hidden", last, hidden);
    LayerParameter* tanh = net.add_layer();
    tanh->set_name("tanh");
    tanh->set_type("TanH");
    tanh->add_bottom("hidden");
    tanh->add_top("hidden");
    last = "hidden";
  }
  AddInnerProduct(&net, "output", last, outputs);
  LayerParameter* loss = net.add_layer();
  loss->set_name("loss");
  loss->set_type("EuclideanLoss");
  loss->add_bottom("output");
  loss->add_bottom("target");
  loss->add_top("loss");
  return net;
}

SolverParameter BaseSolver(const NetParameter& net, int max_iter) {
  SolverParameter solver;
  *solver.mutable_net_param() = net;
  solver.set_base_lr(0.1f);
  solver.set_lr_policy("fixed");
  solver.set_max_iter(max_iter);
  solver.set_display(0);
  solver.set_snapshot_after_train(false);
  solver.set_random_seed(1234);
  return solver;
}

void SetDataPosition(Solver* solver, int64_t position) {
  for (const auto& layer : solver->net()->layers()) {
    if (auto* data = dynamic_cast<SolverTestDataLayer*>(layer.get())) data->set_position(position);
  }
}

void FeedByIteration(Solver* solver, int batch) {
  const int passes = solver->param().iter_size();
  solver->AddCallback({[solver, batch, passes](int iter) {
                         SetDataPosition(solver, static_cast<int64_t>(iter) * batch * passes);
                       },
                       nullptr});
}

std::vector<float> ParamValues(const Net& net) {
  std::vector<float> values;
  for (const Blob* blob : net.learnable_params()) {
    values.insert(values.end(), blob->data(), blob->data() + blob->count());
  }
  return values;
}

}  // namespace condense::testing
