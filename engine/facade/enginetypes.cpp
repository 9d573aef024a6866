#include "facade/enginetypes.h"

namespace corolla {

void registerEngineTypes()
{
    qRegisterMetaType<EngineStatus>();
    qRegisterMetaType<ChatRequest>();
    qRegisterMetaType<ChatChunk>();
    qRegisterMetaType<ChatResult>();
    qRegisterMetaType<SwarmSettings>();
    qRegisterMetaType<DonateSettings>();
}

} // namespace corolla
