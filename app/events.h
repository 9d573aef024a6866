#pragma once
// The --events option of the headless modes: with it, each event (see core/events.h) is
// written to stderr as one "@event {json}" line as it happens.
// Thread: main.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/commandparser.h"
#include "core/error.h"

namespace corolla {

void addEventsOption(CommandParser &parser);
// Turns the events on when the option is set.
void enableEvents(const CommandParser &parser);

// Writes the event when events are on.
void emitEvent(std::string_view name, const nlohmann::json &fields = nlohmann::json::object());
// An "error" event: the code's name, the message, and the peer and blocks it names.
void emitErrorEvent(const Error &error);
// The error as an event and as "corolla <command>: <message>" on stderr; the exit code (1).
int reportFailure(const std::string &command, const Error &error);

} // namespace corolla
