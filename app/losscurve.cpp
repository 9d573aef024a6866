#include "app/losscurve.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace corolla {

namespace {

std::string number(double value, const char *format = "%.1f")
{
    char text[32];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

// Escapes text for an SVG text node.
std::string escaped(const std::string &text)
{
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        default: out += c;
        }
    }
    return out;
}

} // namespace

std::string lossCurveSvg(const std::vector<double> &losses, const std::string &title)
{
    constexpr double width = 640, height = 360, left = 60, right = 20, top = 40, bottom = 50;
    const double plotWidth = width - left - right, plotHeight = height - top - bottom;
    double low = 0, high = 1;
    if (!losses.empty()) {
        low = std::min(0.0, *std::min_element(losses.begin(), losses.end()));
        high = std::max(low + 1e-9, *std::max_element(losses.begin(), losses.end()));
    }
    const double steps = double(std::max<std::size_t>(losses.size(), 2) - 1);
    auto x = [&](std::size_t i) { return left + plotWidth * double(i) / steps; };
    auto y = [&](double loss) { return top + plotHeight * (high - loss) / (high - low); };

    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(width, "%.0f")
                      + "\" height=\"" + number(height, "%.0f")
                      + "\" font-family=\"sans-serif\" font-size=\"12\">\n"
                        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    svg += "<text x=\"" + number(left) + "\" y=\"24\" font-size=\"14\">" + escaped(title)
           + "</text>\n";
    // Axes, with the loss at the top, middle and bottom, and the first and last step.
    svg += "<path d=\"M" + number(left) + " " + number(top) + " V" + number(top + plotHeight) + " H"
           + number(left + plotWidth) + "\" stroke=\"#444\" fill=\"none\"/>\n";
    for (double loss : {high, (high + low) / 2, low})
        svg += "<text x=\"" + number(left - 6) + "\" y=\"" + number(y(loss) + 4)
               + "\" text-anchor=\"end\">" + number(loss, "%.3g") + "</text>\n";
    svg += "<text x=\"" + number(left) + "\" y=\"" + number(top + plotHeight + 18)
           + "\" text-anchor=\"middle\">1</text>\n";
    svg += "<text x=\"" + number(left + plotWidth) + "\" y=\"" + number(top + plotHeight + 18)
           + "\" text-anchor=\"middle\">" + std::to_string(losses.size()) + "</text>\n";
    svg += "<text x=\"" + number(left + plotWidth / 2) + "\" y=\"" + number(height - 12)
           + "\" text-anchor=\"middle\">step</text>\n";
    svg += "<text transform=\"translate(16 " + number(top + plotHeight / 2)
           + ") rotate(-90)\" text-anchor=\"middle\">loss</text>\n";
    std::string points;
    for (std::size_t i = 0; i < losses.size(); ++i) {
        if (std::isfinite(losses[i]))
            points += number(x(i)) + "," + number(y(losses[i])) + " ";
    }
    svg += "<polyline points=\"" + points
           + "\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\"/>\n</svg>\n";
    return svg;
}

} // namespace corolla
