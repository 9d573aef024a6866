#include "ui/modelpicker.h"

#include <QDialogButtonBox>
#include <QFile>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/downloadcontroller.h"

namespace corolla {

namespace {

enum Column {
    ModelColumn,
    FamilyColumn,
    ParametersColumn,
    BlocksColumn,
    Bf16Column,
    Int8Column,
    Nf4Column,
    ColumnCount
};

QString sizeText(qint64 bytes)
{
    return bytes < 0 ? QStringLiteral("—")
                     : QLocale().formattedDataSize(bytes, 1, QLocale::DataSizeTraditionalFormat);
}

QTableWidgetItem *cell(const QString &text, Qt::Alignment alignment = Qt::AlignLeft)
{
    auto *item = new QTableWidgetItem(text);
    item->setTextAlignment(int(alignment | Qt::AlignVCenter));
    item->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    return item;
}

} // namespace

QList<CatalogModel> ModelPicker::catalog()
{
    QFile file(QStringLiteral(":/models/catalog.json"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return parseModelCatalog(file.readAll());
}

ModelPicker::ModelPicker(DownloadController &downloads, QWidget *parent)
    : QDialog(parent)
    , m_downloads(downloads)
    , m_models(catalog())
{
    setWindowTitle(tr("Get a model"));
    setObjectName(QStringLiteral("modelPicker"));
    auto *intro = new QLabel(
        tr("Models known to run on Corolla, with their whole size in each weight format. "
           "Chatting downloads only what this computer needs to use the swarm (the "
           "tokenizer, embeddings and output layer); serving downloads the weights of the "
           "blocks it serves. Files land in the shared Hugging Face cache, so Python tools "
           "find them too."));
    intro->setWordWrap(true);

    m_table = new QTableWidget(int(m_models.size()), ColumnCount);
    m_table->setObjectName(QStringLiteral("modelCatalog"));
    m_table->setHorizontalHeaderLabels({tr("Model"), tr("Family"), tr("Parameters"), tr("Blocks"),
                                        tr("bf16"), tr("int8"), tr("nf4")});
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->setVisible(false);
    m_table->horizontalHeader()->setSectionResizeMode(ModelColumn, QHeaderView::Stretch);
    for (int row = 0; row < m_models.size(); ++row) {
        const CatalogModel &model = m_models[row];
        auto *name = cell(model.id);
        if (!model.note.isEmpty())
            name->setToolTip(model.note);
        m_table->setItem(row, ModelColumn, name);
        m_table->setItem(row, FamilyColumn, cell(model.family));
        m_table->setItem(row, ParametersColumn, cell(model.parameters, Qt::AlignRight));
        m_table->setItem(row, BlocksColumn, cell(QString::number(model.blocks), Qt::AlignRight));
        m_table->setItem(row, Bf16Column, cell(sizeText(model.bytesBf16), Qt::AlignRight));
        m_table->setItem(row, Int8Column, cell(sizeText(model.bytesInt8), Qt::AlignRight));
        m_table->setItem(row, Nf4Column, cell(sizeText(model.bytesNf4), Qt::AlignRight));
    }
    m_table->resizeColumnsToContents();

    m_repo = new QLineEdit;
    m_repo->setObjectName(QStringLiteral("modelRepo"));
    m_repo->setPlaceholderText(tr("Or any model on the Hub: ORG/NAME, e.g. "
                                  "Qwen/Qwen2.5-0.5B-Instruct"));
    m_download = new QPushButton(tr("Download"));
    m_download->setObjectName(QStringLiteral("downloadModel"));
    m_cancel = new QPushButton(tr("Cancel download"));
    auto *repoRow = new QHBoxLayout;
    repoRow->addWidget(m_repo, 1);
    repoRow->addWidget(m_download);
    repoRow->addWidget(m_cancel);

    m_progress = new QProgressBar;
    m_progress->setRange(0, 1000);
    m_progress->setTextVisible(false);
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("downloadStatus"));
    m_status->setWordWrap(true);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addWidget(m_table, 1);
    layout->addLayout(repoRow);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addWidget(buttons);
    resize(820, 520);

    connect(m_table, &QTableWidget::itemSelectionChanged, this, [this] {
        const int row = m_table->currentRow();
        if (row >= 0 && row < m_models.size())
            m_repo->setText(m_models[row].id);
    });
    connect(m_download, &QPushButton::clicked, this, &ModelPicker::download);
    connect(m_repo, &QLineEdit::returnPressed, this, &ModelPicker::download);
    connect(m_cancel, &QPushButton::clicked, &m_downloads, &DownloadController::cancel);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(&m_downloads, &DownloadController::statusChanged, this, &ModelPicker::showStatus);
    showStatus(m_downloads.status());
}

void ModelPicker::download()
{
    QString error;
    if (!m_downloads.start(m_repo->text(), &error))
        m_status->setText(error);
}

void ModelPicker::showStatus(const DownloadStatus &status)
{
    const bool running = m_downloads.isRunning();
    m_cancel->setEnabled(running);
    m_progress->setVisible(running || status.state == DownloadState::Done);
    m_progress->setValue(status.state == DownloadState::Done ? 1000
                         : status.totalBytes > 0
                             ? int(1000.0 * double(status.bytes) / double(status.totalBytes))
                             : 0);
    m_status->setText(status.repo.isEmpty() ? QString() : downloadStatusText(status));
}

} // namespace corolla
