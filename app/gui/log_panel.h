#pragma once

#include <QWidget>

class QPlainTextEdit;

namespace dr2 {

/// The log of the current run: one line per Trainer log message, warnings and errors marked, bounded so a
/// long run cannot grow it without limit.
class LogPanel : public QWidget {
    Q_OBJECT
public:
    /// Lines kept (older ones are dropped).
    static constexpr int kMaxLines = 5000;
    /// Creates an empty log.
    explicit LogPanel(QWidget* parent = nullptr);
    /// Appends one line, prefixed with the time and, for warnings and errors, the level.
    void appendLine(const QString& level, const QString& text);
    /// Removes every line.
    void clear();
    /// The whole log as plain text.
    QString text() const;

private:
    QPlainTextEdit* m_text = nullptr;
};

} // namespace dr2
