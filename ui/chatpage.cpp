#include "ui/chatpage.h"

#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QKeyEvent>
#include <QSpinBox>
#include <QSplitter>
#include <QTextBrowser>
#include <QVBoxLayout>

#include "facade/engine.h"
#include "ui/conversationsmodel.h"
#include "ui/settings.h"

namespace corolla {

namespace {

constexpr int kTitleLength = 40;

QString routeText(const QList<RouteHopInfo> &route)
{
    QStringList hops;
    for (const RouteHopInfo &hop : route) {
        const QString name = hop.publicName.isEmpty() ? shortPeerId(hop.peerId) : hop.publicName;
        hops.push_back(QStringLiteral("%1–%2 %3").arg(hop.start).arg(hop.end - 1).arg(name));
    }
    return hops.join(QStringLiteral(", "));
}

QString paragraphs(const QString &text)
{
    return text.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>"));
}

} // namespace

ChatPage::ChatPage(Engine &engine, ConversationsModel &conversations, Settings &settings,
                   QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_conversations(conversations)
    , m_settings(settings)
{
    buildLayout();
    connect(&m_engine, &Engine::chatChunk, this, &ChatPage::onChunk);
    connect(&m_engine, &Engine::chatFinished, this, &ChatPage::onFinished);
    connect(&m_conversations, &ConversationsModel::saveFailed, this, &ChatPage::showNotice);
    selectRow(m_conversations.rowCount() > 0 ? 0 : -1);
}

void ChatPage::buildLayout()
{
    auto *splitter = new QSplitter;
    splitter->addWidget(buildConversationList());
    splitter->addWidget(buildConversationPanel());
    splitter->setStretchFactor(1, 3);
    auto *layout = new QHBoxLayout(this);
    layout->addWidget(splitter);
    connectControls();
    updateButtons();
}

QWidget *ChatPage::buildConversationList()
{
    auto *panel = new QWidget;
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(0, 0, 0, 0);
    m_list = new QListView;
    m_list->setObjectName(QStringLiteral("conversationList"));
    m_list->setModel(&m_conversations);
    m_newButton = new QPushButton(tr("New conversation"));
    m_deleteButton = new QPushButton(tr("Delete"));
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_newButton);
    buttons->addWidget(m_deleteButton);
    layout->addWidget(m_list);
    layout->addLayout(buttons);
    return panel;
}

QWidget *ChatPage::buildConversationPanel()
{
    auto *panel = new QWidget;
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(0, 0, 0, 0);
    m_systemPrompt = new QLineEdit;
    m_systemPrompt->setPlaceholderText(
        tr("System prompt (optional): how the assistant should behave"));
    m_transcript = new QTextBrowser;
    m_transcript->setObjectName(QStringLiteral("transcript"));
    m_notice = new QLabel;
    m_notice->setWordWrap(true);
    m_notice->setVisible(false);
    m_notice->setStyleSheet(
        QStringLiteral("QLabel { background: #fff4d6; padding: 6px; border-radius: 4px; }"));
    m_input = new QPlainTextEdit;
    m_input->setObjectName(QStringLiteral("messageInput"));
    m_input->setPlaceholderText(tr("Type a message"));
    m_input->setMaximumHeight(90);
    m_sendButton = new QPushButton(tr("Send"));
    m_sendButton->setDefault(true);
    m_sendButton->setToolTip(tr("Send (Ctrl+Enter)"));
    m_stopButton = new QPushButton(tr("Stop"));
    m_regenerateButton = new QPushButton(tr("Regenerate"));
    m_editButton = new QPushButton(tr("Edit last message"));
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_editButton);
    buttons->addWidget(m_regenerateButton);
    buttons->addStretch();
    buttons->addWidget(m_stopButton);
    buttons->addWidget(m_sendButton);

    layout->addWidget(m_systemPrompt);
    layout->addWidget(m_transcript, 1);
    layout->addWidget(m_notice);
    layout->addWidget(m_input);
    layout->addLayout(buttons);
    layout->addWidget(buildSamplingBox());
    return panel;
}

QGroupBox *ChatPage::buildSamplingBox()
{
    auto *box = new QGroupBox(tr("Sampling"));
    auto *layout = new QHBoxLayout(box);
    const SamplingSettings saved = m_settings.sampling();
    m_temperature = new QDoubleSpinBox;
    m_temperature->setRange(0.0, 2.0);
    m_temperature->setSingleStep(0.1);
    m_temperature->setValue(saved.temperature);
    m_topP = new QDoubleSpinBox;
    m_topP->setRange(0.05, 1.0);
    m_topP->setSingleStep(0.05);
    m_topP->setValue(saved.topP);
    m_topK = new QSpinBox;
    m_topK->setRange(0, 1000);
    m_topK->setSpecialValueText(tr("off"));
    m_topK->setValue(saved.topK);
    m_maxTokens = new QSpinBox;
    m_maxTokens->setObjectName(QStringLiteral("maxTokens"));
    m_maxTokens->setRange(1, 4096);
    m_maxTokens->setValue(saved.maxTokens);
    m_seed = new QSpinBox;
    m_seed->setObjectName(QStringLiteral("seed"));
    m_seed->setRange(0, INT32_MAX);
    m_seed->setValue(int(saved.seed));
    auto addField = [layout](const QString &label, QWidget *field) {
        layout->addWidget(new QLabel(label));
        layout->addWidget(field);
    };
    addField(tr("Temperature"), m_temperature);
    addField(tr("Top-p"), m_topP);
    addField(tr("Top-k"), m_topK);
    addField(tr("Max tokens"), m_maxTokens);
    addField(tr("Seed"), m_seed);
    layout->addStretch();
    return box;
}

void ChatPage::connectControls()
{
    connect(
        m_list->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex &current) { selectRow(current.isValid() ? current.row() : -1); });
    connect(m_newButton, &QPushButton::clicked, this, &ChatPage::newConversation);
    connect(m_deleteButton, &QPushButton::clicked, this, [this] {
        if (m_row >= 0 && !isAnswering())
            m_conversations.remove(m_row);
        selectRow(m_conversations.rowCount() > 0 ? 0 : -1);
    });
    connect(m_sendButton, &QPushButton::clicked, this, [this] { send(m_input->toPlainText()); });
    m_input->installEventFilter(this);
    connect(m_stopButton, &QPushButton::clicked, this, &ChatPage::stop);
    connect(m_regenerateButton, &QPushButton::clicked, this, &ChatPage::regenerate);
    connect(m_editButton, &QPushButton::clicked, this, &ChatPage::editLastMessage);
    connect(m_systemPrompt, &QLineEdit::editingFinished, this, [this] {
        if (m_row < 0 || m_conversations.at(m_row).systemPrompt == m_systemPrompt->text())
            return;
        SavedConversation conversation = m_conversations.at(m_row);
        conversation.systemPrompt = m_systemPrompt->text();
        m_conversations.update(m_row, conversation);
    });
}

bool ChatPage::eventFilter(QObject *watched, QEvent *event)
{
    // Ctrl+Enter in the message box sends; Enter alone starts a new line.
    if (watched == m_input && event->type() == QEvent::KeyPress) {
        const auto *key = static_cast<QKeyEvent *>(event);
        if ((key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter)
            && key->modifiers().testFlag(Qt::ControlModifier)) {
            m_sendButton->click();
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

void ChatPage::newConversation()
{
    if (isAnswering())
        return;
    selectRow(m_conversations.create(QString()));
}

void ChatPage::selectRow(int row)
{
    if (isAnswering() && row != m_row) {
        // The answer belongs to the conversation it was asked in: stay there until it ends.
        m_list->setCurrentIndex(m_conversations.index(m_row));
        return;
    }
    m_row = row;
    if (row >= 0 && m_list->currentIndex().row() != row)
        m_list->setCurrentIndex(m_conversations.index(row));
    m_systemPrompt->setText(row >= 0 ? m_conversations.at(row).systemPrompt : QString());
    m_notice->setVisible(false);
    render();
    updateButtons();
}

SamplingSettings ChatPage::sampling() const
{
    SamplingSettings settings;
    settings.temperature = m_temperature->value();
    settings.topP = m_topP->value();
    settings.topK = m_topK->value();
    settings.maxTokens = m_maxTokens->value();
    settings.seed = m_seed->value();
    return settings;
}

void ChatPage::send(const QString &text)
{
    const QString message = text.trimmed();
    if (message.isEmpty() || isAnswering())
        return;
    if (m_row < 0)
        newConversation();
    SavedConversation conversation = m_conversations.at(m_row);
    conversation.systemPrompt = m_systemPrompt->text();
    if (conversation.messages.isEmpty())
        conversation.title = message.left(kTitleLength).simplified();
    conversation.messages.push_back({ChatRole::User, message});
    m_input->clear();
    ask(conversation);
}

void ChatPage::ask(SavedConversation conversation)
{
    conversation.updated = QDateTime::currentDateTimeUtc();
    m_conversations.update(m_row, conversation);
    m_settings.setSampling(sampling());

    ChatRequest request;
    request.conversationId = conversation.id;
    request.sampling = sampling();
    if (!conversation.systemPrompt.isEmpty())
        request.messages.push_back({ChatRole::System, conversation.systemPrompt});
    for (const SavedMessage &message : conversation.messages)
        request.messages.push_back({message.role, message.content});
    m_streaming.clear();
    m_notice->setVisible(false);
    m_pendingId = m_engine.chat(request);
    render();
    updateButtons();
}

void ChatPage::stop()
{
    if (isAnswering())
        m_engine.stopChat();
}

void ChatPage::regenerate()
{
    if (isAnswering() || m_row < 0)
        return;
    SavedConversation conversation = m_conversations.at(m_row);
    if (!conversation.messages.isEmpty()
        && conversation.messages.back().role == ChatRole::Assistant)
        conversation.messages.pop_back();
    if (conversation.messages.isEmpty())
        return;
    ask(conversation);
}

void ChatPage::editLastMessage()
{
    if (isAnswering() || m_row < 0)
        return;
    SavedConversation conversation = m_conversations.at(m_row);
    while (!conversation.messages.isEmpty()) {
        const SavedMessage last = conversation.messages.takeLast();
        if (last.role == ChatRole::User) {
            m_input->setPlainText(last.content);
            break;
        }
    }
    m_conversations.update(m_row, conversation);
    m_input->setFocus();
    render();
    updateButtons();
}

void ChatPage::onChunk(const ChatChunk &chunk)
{
    if (chunk.id != m_pendingId)
        return;
    m_streaming += chunk.text;
    // Only the new piece goes in, at the end of the answer being written: the transcript is
    // not rebuilt for every token.
    QTextCursor end(m_transcript->document());
    end.movePosition(QTextCursor::End);
    end.insertText(chunk.text);
    m_transcript->moveCursor(QTextCursor::End);
}

QString ChatPage::errorText(const ChatResult &result) const
{
    switch (result.error) {
    case ChatError::NoModel:
        return tr("No model is ready for chatting. Choose a model in Settings, or start the local "
                  "demo swarm.");
    case ChatError::MissingBlocks:
        return tr("The swarm has no server for blocks %1 of this model, so it cannot answer yet. "
                  "Turn on \"Donate my GPU\" to serve them yourself, wait for servers to join, or "
                  "start "
                  "the local demo swarm.")
            .arg(result.missingBlocks);
    case ChatError::Failed: return tr("The answer failed: %1").arg(result.message);
    case ChatError::None: break;
    }
    return {};
}

void ChatPage::onFinished(const ChatResult &result)
{
    if (result.id != m_pendingId)
        return;
    m_pendingId = 0;
    if (result.error != ChatError::None) {
        showNotice(errorText(result));
    } else if (m_row >= 0 && (!result.answer.isEmpty() || result.stoppedByUser)) {
        SavedConversation conversation = m_conversations.at(m_row);
        SavedMessage answer{ChatRole::Assistant, result.answer};
        answer.timeToFirstTokenSeconds = result.timeToFirstTokenSeconds;
        answer.tokensPerSecond = result.tokensPerSecond;
        answer.tokens = result.generatedTokens;
        answer.route = routeText(result.route);
        answer.stopped = result.stoppedByUser;
        conversation.messages.push_back(answer);
        conversation.updated = QDateTime::currentDateTimeUtc();
        m_conversations.update(m_row, conversation);
    }
    m_streaming.clear();
    render();
    updateButtons();
    Q_EMIT answerFinished(result);
}

void ChatPage::render()
{
    QString html;
    auto bubble = [&html](const QString &who, const QString &colour, const QString &body,
                          const QString &footer) {
        html +=
            QStringLiteral("<div style='margin:6px 0; padding:6px; background:%1;'><b>%2</b><br>%3")
                .arg(colour, who.toHtmlEscaped(), body);
        if (!footer.isEmpty())
            html += QStringLiteral("<br><span style='color:#666; font-size:small'>%1</span>")
                        .arg(footer.toHtmlEscaped());
        html += QStringLiteral("</div>");
    };
    if (m_row >= 0) {
        for (const SavedMessage &message : m_conversations.at(m_row).messages) {
            if (message.role == ChatRole::User) {
                bubble(tr("You"), QStringLiteral("#eef3fb"), paragraphs(message.content), {});
                continue;
            }
            QString footer =
                tr("%n token(s), first after %1 s, %2 tokens/s", nullptr, int(message.tokens))
                    .arg(message.timeToFirstTokenSeconds, 0, 'f', 2)
                    .arg(message.tokensPerSecond, 0, 'f', 1);
            if (!message.route.isEmpty())
                footer += tr("; route: %1").arg(message.route);
            if (message.stopped)
                footer += tr(" (stopped)");
            bubble(tr("Assistant"), QStringLiteral("#f6f6f6"), paragraphs(message.content), footer);
        }
    }
    if (isAnswering())
        bubble(tr("Assistant"), QStringLiteral("#f6f6f6"), paragraphs(m_streaming), {});
    m_transcript->setHtml(html);
    m_transcript->moveCursor(QTextCursor::End);
}

void ChatPage::updateButtons()
{
    const bool answering = isAnswering();
    const bool hasMessages = m_row >= 0 && !m_conversations.at(m_row).messages.isEmpty();
    m_sendButton->setEnabled(!answering);
    m_stopButton->setEnabled(answering);
    m_regenerateButton->setEnabled(!answering && hasMessages);
    m_editButton->setEnabled(!answering && hasMessages);
    m_newButton->setEnabled(!answering);
    m_deleteButton->setEnabled(!answering && m_row >= 0);
}

void ChatPage::showNotice(const QString &text)
{
    m_notice->setText(text);
    m_notice->setVisible(!text.isEmpty());
}

QString ChatPage::notice() const
{
    return m_notice->isHidden() ? QString() : m_notice->text();
}

} // namespace corolla
