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
    qRegisterMetaType<DownloadStatus>();
    qRegisterMetaType<ApiSettings>();
    qRegisterMetaType<ApiStatus>();
}

QString chatRoleName(ChatRole role)
{
    switch (role) {
    case ChatRole::System: return QStringLiteral("system");
    case ChatRole::User: return QStringLiteral("user");
    case ChatRole::Assistant: return QStringLiteral("assistant");
    }
    return {};
}

std::optional<ChatRole> chatRoleFromName(const QString &name)
{
    for (ChatRole role : {ChatRole::System, ChatRole::User, ChatRole::Assistant})
        if (name == chatRoleName(role))
            return role;
    return std::nullopt;
}

QString shortPeerId(const QString &peerId)
{
    return peerId.left(kShortPeerIdChars);
}

} // namespace corolla
