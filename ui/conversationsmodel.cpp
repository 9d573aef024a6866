#include "ui/conversationsmodel.h"

#include <optional>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QUuid>

namespace corolla {

namespace {

constexpr int kFormatVersion = 1;

QJsonObject toJson(const SavedMessage &message)
{
    QJsonObject json{{QStringLiteral("role"), chatRoleName(message.role)},
                     {QStringLiteral("content"), message.content}};
    if (message.role == ChatRole::Assistant) {
        json[QStringLiteral("ttft")] = message.timeToFirstTokenSeconds;
        json[QStringLiteral("tokensPerSecond")] = message.tokensPerSecond;
        json[QStringLiteral("tokens")] = message.tokens;
        json[QStringLiteral("route")] = message.route;
        json[QStringLiteral("stopped")] = message.stopped;
    }
    return json;
}

// The message, unless its role is not one of ours.
std::optional<SavedMessage> messageFromJson(const QJsonObject &json)
{
    const std::optional<ChatRole> role = chatRoleFromName(json[QStringLiteral("role")].toString());
    if (!role)
        return std::nullopt;
    SavedMessage message;
    message.role = *role;
    message.content = json[QStringLiteral("content")].toString();
    message.timeToFirstTokenSeconds = json[QStringLiteral("ttft")].toDouble();
    message.tokensPerSecond = json[QStringLiteral("tokensPerSecond")].toDouble();
    message.tokens = json[QStringLiteral("tokens")].toInteger();
    message.route = json[QStringLiteral("route")].toString();
    message.stopped = json[QStringLiteral("stopped")].toBool();
    return message;
}

} // namespace

ConversationsModel::ConversationsModel(QString path, QObject *parent)
    : QAbstractListModel(parent)
    , m_path(std::move(path))
{
}

bool ConversationsModel::load(QString *error)
{
    QFile file(m_path);
    if (!file.exists())
        return true;
    auto setAside = [&](const QString &why) {
        *error = tr("%1 could not be read (%2); it was kept as %1.unreadable").arg(m_path, why);
        QFile::remove(m_path + QStringLiteral(".unreadable"));
        QFile::rename(m_path, m_path + QStringLiteral(".unreadable"));
        return false;
    };
    if (!file.open(QIODevice::ReadOnly))
        return setAside(file.errorString());
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
    file.close();
    if (parseError.error != QJsonParseError::NoError)
        return setAside(parseError.errorString());
    const QJsonObject root = document.object();
    if (!document.isObject() || root[QStringLiteral("version")].toInt() != kFormatVersion
        || !root[QStringLiteral("conversations")].isArray())
        return setAside(tr("not a conversations file of this version"));
    QList<SavedConversation> loaded;
    for (const QJsonValue &value : root[QStringLiteral("conversations")].toArray()) {
        const QJsonObject json = value.toObject();
        SavedConversation conversation;
        conversation.id = json[QStringLiteral("id")].toString();
        if (conversation.id.isEmpty())
            conversation.id = QUuid::createUuid().toString(QUuid::WithoutBraces);
        conversation.title = json[QStringLiteral("title")].toString();
        conversation.systemPrompt = json[QStringLiteral("systemPrompt")].toString();
        conversation.updated =
            QDateTime::fromString(json[QStringLiteral("updated")].toString(), Qt::ISODate);
        for (const QJsonValue &value : json[QStringLiteral("messages")].toArray()) {
            const std::optional<SavedMessage> message = messageFromJson(value.toObject());
            if (!message)
                return setAside(tr("not a conversations file of this version"));
            conversation.messages.push_back(*message);
        }
        loaded.push_back(conversation);
    }
    beginResetModel();
    m_conversations = loaded;
    endResetModel();
    return true;
}

bool ConversationsModel::save(QString *error) const
{
    QJsonArray conversations;
    for (const SavedConversation &conversation : m_conversations) {
        QJsonArray messages;
        for (const SavedMessage &message : conversation.messages)
            messages.push_back(toJson(message));
        conversations.push_back(
            QJsonObject{{QStringLiteral("id"), conversation.id},
                        {QStringLiteral("title"), conversation.title},
                        {QStringLiteral("systemPrompt"), conversation.systemPrompt},
                        {QStringLiteral("updated"), conversation.updated.toString(Qt::ISODate)},
                        {QStringLiteral("messages"), messages}});
    }
    const QJsonObject root{{QStringLiteral("version"), kFormatVersion},
                           {QStringLiteral("conversations"), conversations}};
    QSaveFile file(m_path);
    if (!file.open(QIODevice::WriteOnly) || file.write(QJsonDocument(root).toJson()) < 0
        || !file.commit()) {
        *error = tr("cannot save the conversations to %1: %2").arg(m_path, file.errorString());
        return false;
    }
    return true;
}

void ConversationsModel::saveOrReport()
{
    QString error;
    if (!save(&error))
        Q_EMIT saveFailed(error);
}

int ConversationsModel::create(const QString &systemPrompt)
{
    SavedConversation conversation;
    conversation.id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    conversation.title = tr("New conversation");
    conversation.systemPrompt = systemPrompt;
    conversation.updated = QDateTime::currentDateTimeUtc();
    beginInsertRows({}, 0, 0);
    m_conversations.prepend(conversation);
    endInsertRows();
    saveOrReport();
    return 0;
}

void ConversationsModel::remove(int row)
{
    if (row < 0 || row >= m_conversations.size())
        return;
    beginRemoveRows({}, row, row);
    m_conversations.removeAt(row);
    endRemoveRows();
    saveOrReport();
}

void ConversationsModel::update(int row, const SavedConversation &conversation)
{
    if (row < 0 || row >= m_conversations.size())
        return;
    m_conversations[row] = conversation;
    Q_EMIT dataChanged(index(row), index(row));
    saveOrReport();
}

int ConversationsModel::rowOf(const QString &id) const
{
    for (int row = 0; row < m_conversations.size(); ++row) {
        if (m_conversations[row].id == id)
            return row;
    }
    return -1;
}

int ConversationsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_conversations.size());
}

QVariant ConversationsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const SavedConversation &conversation = m_conversations.at(index.row());
    switch (role) {
    case Qt::DisplayRole: return conversation.title;
    case Qt::ToolTipRole:
        return tr("%n message(s), last %1", nullptr, int(conversation.messages.size()))
            .arg(QLocale().toString(conversation.updated.toLocalTime(), QLocale::ShortFormat));
    case IdRole: return conversation.id;
    case UpdatedRole: return conversation.updated;
    default: return {};
    }
}

} // namespace corolla
