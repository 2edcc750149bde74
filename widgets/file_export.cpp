#include "widgets/file_export.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dr2 {

namespace {

    void setError(QString* error, const QString& message)
    {
        if (error)
            *error = message;
    }

} // namespace

QString fileSuffix(const QString& path)
{
    return QFileInfo(path).suffix().toLower();
}

bool writeFileAtomically(
    const QString& path, const std::function<bool(const QString& tempPath, QString* error)>& write, QString* error)
{
    const QFileInfo target(path);
    if (path.isEmpty()) {
        setError(error, QStringLiteral("export: expected a file name, found an empty path"));
        return false;
    }
    const QDir dir = target.absoluteDir();
    if (!dir.exists()) {
        setError(error, QStringLiteral("export '%1': folder '%2' does not exist").arg(path, dir.path()));
        return false;
    }
    if (target.isDir()) {
        setError(error, QStringLiteral("export '%1': expected a file name, found a folder").arg(path));
        return false;
    }
    static std::atomic<int> counter { 0 };
    // Keep the real suffix last: some writers pick the format from it.
    const QString tempPath = dir.filePath(QStringLiteral(".%1.part-%2-%3.%4")
                                              .arg(target.completeBaseName())
                                              .arg(QCoreApplication::applicationPid())
                                              .arg(counter.fetch_add(1))
                                              .arg(target.suffix()));
    QString cause;
    const bool written = write(tempPath, &cause);
    const QFileInfo temp(tempPath);
    if (!written || !temp.exists() || temp.size() <= 0) {
        QFile::remove(tempPath);
        if (cause.isEmpty())
            cause = written ? QStringLiteral("nothing was written") : QStringLiteral("the writer failed");
        setError(error, QStringLiteral("export '%1': %2").arg(path, cause));
        return false;
    }
    // std::rename replaces an existing target atomically on POSIX (QFile::rename refuses to overwrite).
    const QByteArray from = QFile::encodeName(tempPath);
    const QByteArray to = QFile::encodeName(target.absoluteFilePath());
    if (std::rename(from.constData(), to.constData()) != 0) {
        const int code = errno;
        QFile::remove(tempPath);
        setError(error,
            QStringLiteral("export '%1': could not rename the temporary file into place: %2")
                .arg(path, QString::fromLocal8Bit(std::strerror(code))));
        return false;
    }
    return true;
}

bool checkPictureExport(const QString& path, const QSize& size, QString* error)
{
    const QString suffix = fileSuffix(path);
    if (suffix != QLatin1String("png") && suffix != QLatin1String("pdf") && suffix != QLatin1String("svg")) {
        if (error)
            *error = QStringLiteral("export '%1': expected a .png, .pdf or .svg file name, found '%2'")
                         .arg(path, suffix.isEmpty() ? QStringLiteral("no suffix") : QStringLiteral(".") + suffix);
        return false;
    }
    if (size.width() < 16 || size.height() < 16 || size.width() > kMaxExportSide || size.height() > kMaxExportSide) {
        if (error)
            *error = QStringLiteral("export '%1': expected a size between 16 and %2 pixels per side, found %3 x %4")
                         .arg(path)
                         .arg(kMaxExportSide)
                         .arg(size.width())
                         .arg(size.height());
        return false;
    }
    return true;
}

} // namespace dr2
