#include "widgets/widget_picture.h"

#include "widgets/file_export.h"

#include <QFile>
#include <QImage>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSvgGenerator>
#include <QWidget>

#include <algorithm>

namespace dr2 {

namespace {

    using Paint = std::function<void(QPainter& painter, const QRect& target)>;

    bool paintOn(QPaintDevice* device, const QSize& size, const Paint& paint)
    {
        QPainter painter;
        if (!painter.begin(device))
            return false;
        paint(painter, QRect(QPoint(0, 0), size));
        return painter.end();
    }

    bool writePicture(const QString& suffix, const QString& tempPath, const QSize& size, const QString& title,
        const Paint& paint)
    {
        if (suffix == QLatin1String("png")) {
            QImage image(size, QImage::Format_ARGB32_Premultiplied);
            image.fill(Qt::white);
            return paintOn(&image, size, paint) && image.save(tempPath, "PNG");
        }
        if (suffix == QLatin1String("pdf")) {
            // One page of exactly `size` points; 72 dpi makes one painter unit one point.
            QPdfWriter writer(tempPath);
            writer.setCreator(QStringLiteral("Dr²Net Workbench"));
            writer.setTitle(title);
            writer.setResolution(72);
            writer.setPageSize(QPageSize(QSizeF(size), QPageSize::Point));
            writer.setPageMargins(QMarginsF(0, 0, 0, 0));
            return paintOn(&writer, size, paint);
        }
        QSvgGenerator generator;
        generator.setFileName(tempPath);
        generator.setSize(size);
        generator.setViewBox(QRect(QPoint(0, 0), size));
        generator.setTitle(title);
        generator.setDescription(QStringLiteral("Exported by Dr²Net Workbench"));
        return paintOn(&generator, size, paint);
    }

} // namespace

bool exportPicture(const QString& path, const QSize& size, const QString& title, const Paint& paint, QString* error)
{
    if (!checkPictureExport(path, size, error))
        return false;
    const QString suffix = fileSuffix(path);
    return writeFileAtomically(
        path,
        [&suffix, &size, &title, &paint](const QString& tempPath, QString* cause) {
            const bool written = writePicture(suffix, tempPath, size, title, paint);
            if (!written && cause)
                *cause = QStringLiteral("could not write %1 image to '%2'").arg(suffix.toUpper(), tempPath);
            return written;
        },
        error);
}

bool exportWidgetPicture(QWidget* widget, const QString& path, const QSize& size, const QString& title, QString* error)
{
    // Scaled to fit and centred, on the widget's background.
    return exportPicture(
        path, size, title,
        [widget](QPainter& painter, const QRect& target) {
            painter.fillRect(target, widget->palette().base());
            const QSize source = widget->size().expandedTo(QSize(1, 1));
            const double scale
                = std::min(double(target.width()) / source.width(), double(target.height()) / source.height());
            painter.translate((target.width() - source.width() * scale) / 2.0,
                (target.height() - source.height() * scale) / 2.0);
            painter.scale(scale, scale);
            widget->render(&painter, QPoint(), QRegion(), QWidget::DrawChildren);
        },
        error);
}

bool exportText(const QString& path, const QString& text, QString* error)
{
    return writeFileAtomically(
        path,
        [&text](const QString& tempPath, QString* cause) {
            QFile file(tempPath);
            const QByteArray bytes = text.toUtf8();
            if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(bytes) != bytes.size()
                || !file.flush()) {
                *cause = file.errorString();
                return false;
            }
            return true;
        },
        error);
}

} // namespace dr2
