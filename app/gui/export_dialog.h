#pragma once

#include "widgets/plot_view.h"

#include <QDialog>
#include <QSize>

class QComboBox;
class QLineEdit;
class QSpinBox;

namespace dr2 {

/// Asks where and how to export the live plots: the folder, the image size in pixels (points for PDF), and
/// whether the CSV holds every sample or only those in each plot's visible range.
class ExportDialog : public QDialog {
    Q_OBJECT
public:
    /// Creates the dialog with `folder` preselected.
    explicit ExportDialog(const QString& folder, QWidget* parent = nullptr);
    /// The folder the files go into.
    QString folder() const;
    /// The image size chosen.
    QSize imageSize() const;
    /// Which samples the CSV files hold.
    PlotView::CsvRange csvRange() const;
    /// Sets the choices (for tests and restoring the last ones).
    void setChoices(const QString& folder, const QSize& size, PlotView::CsvRange range);

private:
    QLineEdit* m_folder = nullptr;
    QSpinBox* m_width = nullptr;
    QSpinBox* m_height = nullptr;
    QComboBox* m_range = nullptr;
};

} // namespace dr2
