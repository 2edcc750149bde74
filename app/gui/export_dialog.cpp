#include "app/gui/export_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

namespace dr2 {

ExportDialog::ExportDialog(const QString& folder, QWidget* parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Export plots"));
    m_folder = new QLineEdit(folder, this);
    auto* browse = new QPushButton(tr("Browse…"), this);
    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(m_folder, 1);
    folderRow->addWidget(browse);
    // PlotView::exportImage accepts 16..16384 per side.
    m_width = new QSpinBox(this);
    m_width->setRange(16, 16384);
    m_width->setValue(1200);
    m_width->setSuffix(tr(" px"));
    m_height = new QSpinBox(this);
    m_height->setRange(16, 16384);
    m_height->setValue(800);
    m_height->setSuffix(tr(" px"));
    auto* sizeRow = new QHBoxLayout;
    sizeRow->addWidget(m_width);
    sizeRow->addWidget(new QLabel(QStringLiteral("×"), this));
    sizeRow->addWidget(m_height);
    sizeRow->addStretch(1);
    m_range = new QComboBox(this);
    m_range->addItem(tr("Every sample"), int(PlotView::CsvRange::Full));
    m_range->addItem(tr("Visible range only"), int(PlotView::CsvRange::Visible));
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);

    auto* form = new QFormLayout(this);
    form->addRow(tr("Folder:"), folderRow);
    form->addRow(tr("Image size (PNG, PDF, SVG):"), sizeRow);
    form->addRow(tr("CSV:"), m_range);
    form->addRow(new QLabel(tr("Writes loss, memory, coefficients, heatmap and branch_error as .png, .pdf, .svg "
                               "and .csv."),
        this));
    form->addRow(buttons);

    connect(browse, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Export plots into"), m_folder->text());
        if (!dir.isEmpty())
            m_folder->setText(dir);
    });
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto updateOk = [this, buttons] {
        buttons->button(QDialogButtonBox::Ok)->setEnabled(!m_folder->text().trimmed().isEmpty());
    };
    connect(m_folder, &QLineEdit::textChanged, this, updateOk);
    updateOk();
}

QString ExportDialog::folder() const
{
    return m_folder->text().trimmed();
}

QSize ExportDialog::imageSize() const
{
    return QSize(m_width->value(), m_height->value());
}

PlotView::CsvRange ExportDialog::csvRange() const
{
    return PlotView::CsvRange(m_range->currentData().toInt());
}

void ExportDialog::setChoices(const QString& folder, const QSize& size, PlotView::CsvRange range)
{
    m_folder->setText(folder);
    m_width->setValue(size.width());
    m_height->setValue(size.height());
    m_range->setCurrentIndex(m_range->findData(int(range)));
}

} // namespace dr2
