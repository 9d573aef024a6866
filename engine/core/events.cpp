#include "core/events.h"

#include <nlohmann/json.hpp>

namespace corolla {

namespace {

constexpr std::string_view kPrefix = "@event ";

} // namespace

std::string eventLine(std::string_view name, const nlohmann::json &fields)
{
    nlohmann::json event = fields.is_object() ? fields : nlohmann::json::object();
    event["event"] = std::string(name);
    return std::string(kPrefix) + event.dump() + "\n";
}

std::vector<nlohmann::json> parseEvents(std::string_view log)
{
    std::vector<nlohmann::json> events;
    while (!log.empty()) {
        const std::size_t end = log.find('\n');
        const std::string_view line = log.substr(0, end);
        log = end == std::string_view::npos ? std::string_view() : log.substr(end + 1);
        if (line.substr(0, kPrefix.size()) != kPrefix)
            continue;
        nlohmann::json event = nlohmann::json::parse(line.substr(kPrefix.size()), nullptr, false);
        if (event.is_object() && event.contains("event") && event["event"].is_string())
            events.push_back(std::move(event));
    }
    return events;
}

} // namespace corolla
