#include "app/gui/checkpoint_panel.h"

#include <QComboBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QFutureWatcher>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

namespace dr2 {

namespace {
const QString kRecentKey = QStringLiteral("checkpoints/recent");
}

CheckpointPanel::CheckpointPanel(QWidget* parent)
    : QWidget(parent)
{
    setAcceptDrops(true);
    auto* open = new QPushButton(tr("Open checkpoint…"), this);
    m_recentBox = new QComboBox(this);
    m_recentBox->setPlaceholderText(tr("Recent files"));
    m_recentBox->setMinimumContentsLength(40);
    m_heads = new QSpinBox(this);
    m_heads->setRange(0, 64);
    m_heads->setSpecialValueText(tr("auto"));
    m_heads->setToolTip(tr("Attention heads of a transformer backbone, for checkpoints whose metadata does not say"));
    auto* top = new QHBoxLayout;
    top->addWidget(open);
    top->addWidget(m_recentBox, 1);
    top->addWidget(new QLabel(tr("Heads:"), this));
    top->addWidget(m_heads);

    m_pathLabel = new QLabel(tr("Drop a .safetensors, .pt or .pth file here, or open one."), this);
    m_pathLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_error = new QLabel(this);
    m_error->setWordWrap(true);
    m_error->setStyleSheet(QStringLiteral("color: #c0392b;"));
    m_error->setObjectName(QStringLiteral("checkpointError"));
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_table = new QTableWidget(0, 2, this);
    m_table->setHorizontalHeaderLabels({ tr("Property"), tr("Value") });
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_busy = new QProgressBar(this);
    m_busy->setRange(0, 0); // indeterminate: the loader reports no progress
    m_busy->setTextVisible(false);
    m_busy->setMaximumHeight(12);
    m_busy->setToolTip(tr("Reading the checkpoint…"));
    m_busy->hide();

    m_emptyState = createEmptyState();
    m_table->hide(); // nothing to list until a file was read

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_pathLabel);
    layout->addWidget(m_busy);
    layout->addWidget(m_error);
    layout->addWidget(m_emptyState);
    layout->addWidget(m_table, 1);
    layout->addStretch(0);

    m_recent = QSettings().value(kRecentKey).toStringList();
    m_recentBox->addItems(m_recent);
    m_recentBox->setCurrentIndex(-1);
    connect(open, &QPushButton::clicked, this, &CheckpointPanel::openWithDialog);
    connect(m_recentBox, &QComboBox::activated, this, [this](int index) {
        if (index >= 0 && index < m_recent.size())
            openFile(m_recent.at(index));
    });
}

QGroupBox* CheckpointPanel::createEmptyState()
{
    auto* box = new QGroupBox(tr("No checkpoint yet"), this);
    box->setObjectName(QStringLiteral("checkpointEmptyState"));
    auto* intro = new QLabel(tr("Dr²Net finetunes a <b>pretrained</b> network. Without one, a run starts from random "
                                "weights (for dr2net that is \"reversible from scratch\"). Get one of these ways:"),
        box);
    intro->setWordWrap(true);
    auto* open = new QPushButton(tr("Open a checkpoint…"), box);
    open->setToolTip(tr("safetensors, PyTorch .pt/.pth state dicts or TorchScript; timm and torchvision names"));
    auto* openHint = new QLabel(tr("a ViT or Swin you already have (or drop the file here)"), box);
    m_starterButton = new QPushButton(tr("Pretrain a starter checkpoint on Fashion-MNIST"), box);
    m_starterButton->setObjectName(QStringLiteral("starterPretrain"));
    m_starterButton->setToolTip(tr("Conventional pretraining of a ViT-Ti (192-d × 12) on Fashion-MNIST classes 0-4, "
                                   "recorded like any run; the checkpoint is opened here when it finishes"));
    m_starterStatus = new QLabel(box);
    m_starterStatus->setObjectName(QStringLiteral("starterStatus"));
    m_starterStatus->setWordWrap(true);
    m_demoButton = new QPushButton(tr("Open the demo's run database"), box);
    m_demoButton->setObjectName(QStringLiteral("openDemoDatabase"));
    m_demoButton->hide();
    auto* grid = new QGridLayout;
    grid->addWidget(open, 0, 0);
    grid->addWidget(openHint, 0, 1);
    grid->addWidget(m_starterButton, 1, 0);
    grid->addWidget(m_starterStatus, 1, 1);
    grid->addWidget(m_demoButton, 2, 0);
    grid->setColumnStretch(1, 1);
    auto* layout = new QVBoxLayout(box);
    layout->addWidget(intro);
    layout->addLayout(grid);
    setStarterStatus(QString(), /*busy=*/false);
    connect(open, &QPushButton::clicked, this, &CheckpointPanel::openWithDialog);
    connect(m_starterButton, &QPushButton::clicked, this, &CheckpointPanel::starterPretrainRequested);
    connect(m_demoButton, &QPushButton::clicked, this, [this] { emit demoDatabaseRequested(m_demoDatabase); });
    return box;
}

void CheckpointPanel::setDemoDatabase(const QString& path)
{
    m_demoDatabase = path;
    m_demoButton->setVisible(!path.isEmpty());
    m_demoButton->setToolTip(path);
}

void CheckpointPanel::setStarterStatus(const QString& text, bool busy)
{
    m_starterStatus->setText(text.isEmpty()
            ? tr("about 4 minutes on 2 cores (ViT-Ti, 186 iterations); recorded like any run, then opened here")
            : text);
    m_starterButton->setEnabled(!busy);
}

QString CheckpointPanel::starterStatus() const
{
    return m_starterStatus->text();
}

bool CheckpointPanel::showsEmptyState() const
{
    return !m_emptyState->isHidden();
}

void CheckpointPanel::openFile(const QString& path)
{
    const quint64 generation = ++m_generation;
    const int heads = m_heads->value();
    ++m_pending;
    m_busy->show();
    m_pathLabel->setText(tr("Reading %1…").arg(path));
    auto* watcher = new QFutureWatcher<CheckpointInspection>(this);
    connect(watcher, &QFutureWatcher<CheckpointInspection>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        onInspected(generation, watcher->result());
    });
    // inspectCheckpoint never throws; the worker only sees the copied path and head count.
    watcher->setFuture(QtConcurrent::run([path, heads] { return inspectCheckpoint(path, heads); }));
}

bool CheckpointPanel::isBusy() const
{
    return m_pending > 0;
}

void CheckpointPanel::onInspected(quint64 generation, const CheckpointInspection& inspection)
{
    m_pending = std::max(0, m_pending - 1);
    m_busy->setVisible(m_pending > 0);
    if (generation != m_generation)
        return; // a newer file was opened meanwhile
    m_inspection = inspection;
    if (m_inspection.ok)
        rememberRecent(QFileInfo(m_inspection.path).absoluteFilePath());
    showInspection();
    emit inspectionFinished(m_inspection);
    if (m_inspection.ok)
        emit checkpointOpened(m_inspection);
}

void CheckpointPanel::setHeadsOverride(int heads)
{
    m_heads->setValue(heads);
}

void CheckpointPanel::openWithDialog()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open checkpoint"),
        m_recent.isEmpty() ? QString() : QFileInfo(m_recent.first()).absolutePath(),
        tr("Checkpoints (*.safetensors *.pt *.pth *.bin);;All files (*)"));
    if (!path.isEmpty())
        openFile(path);
}

QString CheckpointPanel::errorText() const
{
    return m_error->text();
}

void CheckpointPanel::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls() && event->mimeData()->urls().first().isLocalFile())
        event->acceptProposedAction();
}

void CheckpointPanel::dropEvent(QDropEvent* event)
{
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.isEmpty() || !urls.first().isLocalFile())
        return;
    event->acceptProposedAction();
    openFile(urls.first().toLocalFile());
}

void CheckpointPanel::rememberRecent(const QString& path)
{
    m_recent.removeAll(path);
    m_recent.prepend(path);
    while (m_recent.size() > kMaxRecent)
        m_recent.removeLast();
    QSettings().setValue(kRecentKey, m_recent);
    m_recentBox->clear();
    m_recentBox->addItems(m_recent);
    m_recentBox->setCurrentIndex(0);
}

void CheckpointPanel::showInspection()
{
    m_pathLabel->setText(m_inspection.path);
    m_error->setText(m_inspection.ok ? QString() : m_inspection.error);
    m_error->setVisible(!m_inspection.ok);
    // The first-run choices stay until some checkpoint was read: a broken file leaves them in reach.
    if (m_inspection.ok)
        m_emptyState->hide();
    m_table->setVisible(!m_inspection.rows.isEmpty());
    m_table->setRowCount(m_inspection.rows.size());
    for (int row = 0; row < m_inspection.rows.size(); ++row) {
        m_table->setItem(row, 0, new QTableWidgetItem(m_inspection.rows[row].first));
        m_table->setItem(row, 1, new QTableWidgetItem(m_inspection.rows[row].second));
    }
    m_table->resizeColumnToContents(0);
}

} // namespace dr2
