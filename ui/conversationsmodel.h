#pragma once
// The saved conversations of the chat, newest first, kept in one JSON file that is written
// whole (to a temporary name, then renamed) after every change, so a crash never leaves it
// half written. A file that cannot be read is set aside, never overwritten.
// Thread: the GUI thread.

#include <QAbstractListModel>
#include <QDateTime>

#include "facade/enginetypes.h"

namespace corolla {

struct SavedMessage {
    ChatRole role = ChatRole::User;
    QString content;
    // Of an answer:
    double timeToFirstTokenSeconds = 0;
    double tokensPerSecond = 0;
    qint64 tokens = 0;
    QString route; // "0-3 demo-1, 4-7 demo-2"
    bool stopped = false;
};

struct SavedConversation {
    QString id;
    QString title;
    QString systemPrompt;
    QList<SavedMessage> messages;
    QDateTime updated;
};

class ConversationsModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role { IdRole = Qt::UserRole + 1, UpdatedRole };

    // Conversations are read from and saved to `path`.
    explicit ConversationsModel(QString path, QObject *parent = nullptr);

    // Reads the file; false with `error` set when it exists but cannot be used (it is then
    // renamed to "<path>.unreadable" and the list starts empty).
    bool load(QString *error);
    bool save(QString *error) const;

    // A new empty conversation at the top; its row (0).
    int create(const QString &systemPrompt);
    void remove(int row);
    const SavedConversation &at(int row) const { return m_conversations.at(row); }
    // Replaces the conversation of `row` and saves.
    void update(int row, const SavedConversation &conversation);
    int rowOf(const QString &id) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void saveFailed(const QString &error);

private:
    void saveOrReport();

    QString m_path;
    QList<SavedConversation> m_conversations;
};

} // namespace corolla
