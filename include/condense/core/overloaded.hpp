// Overloaded: a set of lambdas as one visitor for std::visit, so that a switch over a std::variant's
// alternatives reads as a table of cases (the number formats are such a variant).
#pragma once

namespace condense {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace condense
