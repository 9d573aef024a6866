#pragma once
// The chat: saved conversations on the left; on the right the transcript, where answers
// stream in token by token, the message box, stop / regenerate / edit, the system prompt
// and sampling settings. Each answer shows its time to first token, speed and route.
// Thread: the GUI thread.

#include <QWidget>

#include "facade/enginetypes.h"

class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QListView;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTextBrowser;

namespace corolla {

class ConversationsModel;
class Engine;
class Settings;
struct SavedConversation;

class ChatPage : public QWidget {
    Q_OBJECT
public:
    ChatPage(Engine &engine, ConversationsModel &conversations, Settings &settings,
             QWidget *parent = nullptr);

    // What the buttons do, for the window's shortcuts and for tests.
    void send(const QString &text);
    void stop();
    void regenerate();
    void editLastMessage();
    void newConversation();

    bool isAnswering() const { return m_pendingId != 0; }
    int currentRow() const { return m_row; }
    QString streamingText() const { return m_streaming; }
    QString notice() const;

Q_SIGNALS:
    void answerFinished(const corolla::ChatResult &result);

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    // The page is built panel by panel: the conversation list on the left, the transcript
    // with its input and sampling settings on the right.
    void buildLayout();
    QWidget *buildConversationList();
    QWidget *buildConversationPanel();
    QGroupBox *buildSamplingBox();
    void connectControls();
    void selectRow(int row);
    void ask(SavedConversation conversation);
    void onChunk(const ChatChunk &chunk);
    void onFinished(const ChatResult &result);
    void render();
    void updateButtons();
    void showNotice(const QString &text);
    SamplingSettings sampling() const;
    QString errorText(const ChatResult &result) const;

    Engine &m_engine;
    ConversationsModel &m_conversations;
    Settings &m_settings;
    int m_row = -1;
    quint64 m_pendingId = 0;
    QString m_streaming;

    QListView *m_list = nullptr;
    QPushButton *m_newButton = nullptr;
    QPushButton *m_deleteButton = nullptr;
    QLineEdit *m_systemPrompt = nullptr;
    QTextBrowser *m_transcript = nullptr;
    QLabel *m_notice = nullptr;
    QPlainTextEdit *m_input = nullptr;
    QPushButton *m_sendButton = nullptr;
    QPushButton *m_stopButton = nullptr;
    QPushButton *m_regenerateButton = nullptr;
    QPushButton *m_editButton = nullptr;
    QDoubleSpinBox *m_temperature = nullptr;
    QDoubleSpinBox *m_topP = nullptr;
    QSpinBox *m_topK = nullptr;
    QSpinBox *m_maxTokens = nullptr;
    QSpinBox *m_seed = nullptr;
};

} // namespace corolla
