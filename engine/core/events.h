#pragma once
// Machine-readable events of the headless modes (`corolla serve --events`, say): each is one
// line "@event {json}" on stderr, beside the human log, for scripts and tests to read
// instead of the log's sentences. Every event is a JSON object with an "event" name.
// Thread: any; pure functions.

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace corolla {

// `fields` (a JSON object, or null) with "event": `name` added, as one line with its newline.
std::string eventLine(std::string_view name, const nlohmann::json &fields);
// The events among the lines of `log`, in order; lines that are not well-formed events are
// skipped.
std::vector<nlohmann::json> parseEvents(std::string_view log);

} // namespace corolla
