#include "app/events.h"

#include <cstdio>

#include "core/events.h"

namespace corolla {

namespace {

bool g_eventsEnabled = false; // one command runs per process

} // namespace

void addEventsOption(CommandParser &parser)
{
    parser.addFlag(QStringLiteral("events"),
                   QStringLiteral("also write machine-readable events to stderr, one "
                                  "'@event {json}' line each"));
}

void enableEvents(const CommandParser &parser)
{
    g_eventsEnabled = parser.isSet(QStringLiteral("events"));
}

void emitEvent(std::string_view name, const nlohmann::json &fields)
{
    if (!g_eventsEnabled)
        return;
    std::fputs(eventLine(name, fields).c_str(), stderr);
    std::fflush(stderr);
}

void emitErrorEvent(const Error &error)
{
    nlohmann::json fields{{"code", std::string(errorCodeName(error.code))},
                          {"message", error.message}};
    if (!error.peerId.empty())
        fields["peer_id"] = error.peerId;
    if (!error.blocks.empty())
        fields["blocks"] = error.blocks;
    emitEvent("error", fields);
}

int reportFailure(const std::string &command, const Error &error)
{
    emitErrorEvent(error);
    return reportError(command, error.toString());
}

} // namespace corolla
