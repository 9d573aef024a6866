#pragma once
// A training run's loss per step as an SVG line chart, small enough to read in a browser
// or embed in a Markdown page: axes with the step and loss ranges, one polyline.
// Thread: any.

#include <string>
#include <vector>

namespace corolla {

// The SVG text of `losses` (step 1 first) under `title`.
std::string lossCurveSvg(const std::vector<double> &losses, const std::string &title);

} // namespace corolla
