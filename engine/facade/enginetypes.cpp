#include "facade/enginetypes.h"

#include "net/identity.h"

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

QString shortPeerId(const QString &peerId)
{
    return peerId.left(kShortPeerIdChars);
}

} // namespace corolla
