#include "app/gui/log_panel.h"

#include <QPlainTextEdit>
#include <QTime>
#include <QVBoxLayout>

namespace dr2 {

LogPanel::LogPanel(QWidget* parent)
    : QWidget(parent)
    , m_text(new QPlainTextEdit(this))
{
    m_text->setReadOnly(true);
    m_text->setMaximumBlockCount(kMaxLines);
    m_text->setFont(QFont(QStringLiteral("monospace")));
    m_text->setObjectName(QStringLiteral("logText"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_text);
}

void LogPanel::appendLine(const QString& level, const QString& text)
{
    QString line = QTime::currentTime().toString(QStringLiteral("HH:mm:ss "));
    if (level != QLatin1String("info"))
        line += level.toUpper() + QStringLiteral(": ");
    m_text->appendPlainText(line + text);
}

void LogPanel::clear()
{
    m_text->clear();
}

QString LogPanel::text() const
{
    return m_text->toPlainText();
}

} // namespace dr2
