#pragma once

#include <QRect>
#include <QSize>
#include <QString>

#include <functional>

class QPainter;
class QWidget;

namespace dr2 {

/// Writes a PNG, PDF or SVG picture (chosen by the suffix of `path`) of `size` pixels (points for PDF) drawn by
/// `paint` into the given rectangle, atomically, with `title` naming the PDF/SVG document. Returns false with one
/// line naming the file in `error`; never throws. (Views that draw themselves, such as a prediction preview, can
/// export through this too.)
bool exportPicture(const QString& path, const QSize& size, const QString& title,
    const std::function<void(QPainter& painter, const QRect& target)>& paint, QString* error);

/// Writes `widget` as it is drawn on screen as a PNG, PDF or SVG picture (chosen by the suffix of `path`) of
/// `size` pixels (points for PDF), scaled to fit and centred; atomically, like the plots' exportImage().
/// `title` names the PDF/SVG document. Returns false with one line naming the file in `error`; never throws.
bool exportWidgetPicture(QWidget* widget, const QString& path, const QSize& size, const QString& title, QString* error);

/// Writes `text` to `path` atomically as UTF-8 (CSV files of the views that are not plots).
bool exportText(const QString& path, const QString& text, QString* error);

} // namespace dr2
