#pragma once
// "Get a model": the catalog of models known to run (family, parameters, blocks, size in
// each weight format) or any ORG/NAME typed in, downloaded from the Hugging Face Hub with
// progress and cancel; the download goes on when the dialog closes, and at the next start.
// Thread: the GUI thread.

#include <QDialog>
#include <QList>

#include "facade/modelcatalog.h"

class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace corolla {

class DownloadController;
struct DownloadStatus;

class ModelPicker : public QDialog {
    Q_OBJECT
public:
    explicit ModelPicker(DownloadController &downloads, QWidget *parent = nullptr);

    // The catalog compiled into the app (:/models/catalog.json).
    static QList<CatalogModel> catalog();

    QTableWidget *table() const { return m_table; }
    QLineEdit *repoEdit() const { return m_repo; }

private:
    void showStatus(const DownloadStatus &status);
    void download();

    DownloadController &m_downloads;
    QList<CatalogModel> m_models;
    QTableWidget *m_table = nullptr;
    QLineEdit *m_repo = nullptr;
    QPushButton *m_download = nullptr;
    QPushButton *m_cancel = nullptr;
    QProgressBar *m_progress = nullptr;
    QLabel *m_status = nullptr;
};

} // namespace corolla
