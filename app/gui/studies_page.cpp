#include "app/gui/studies_page.h"

#include "app/gui/report_data.h"
#include "app/gui/report_renderer.h"
#include "app/recording/study_results.h"
#include "storage/run_store.h"
#include "training/study_spec.h"
#include "widgets/run_summary.h"

#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QTextBrowser>
#include <QThread>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <cmath>
#include <csignal> // ::kill (POSIX)

namespace dr2 {

/// One row of the planned-runs table, as text.
struct StudyPageRow {
    QString levels;
    QString seed;
    QString state;
    QString runId;
    QString bestPrimary;
};

/// What a worker read of a spec and the database gives the page.
struct StudyPageData {
    QString error;
    QString name;
    QString description;
    QString directory;
    QString primaryLabel;
    QString markdown;
    QVector<StudyPageRow> rows;
    QVector<qint64> finishedIds;
};

namespace {

    enum Column { kLevels, kSeed, kState, kRun, kBest, kColumns };

    StudyPageData readStudy(const QString& spec, bool quick, const QString& databasePath)
    {
        StudyPageData data;
        try {
            const StudySpec study = StudySpec::load(StudySpec::resolve(spec.toStdString()), quick);
            data.name = QString::fromStdString(study.name);
            data.description = QString::fromStdString(study.description);
            const std::string dir = StudySpec::defaultDirectory(databasePath.toStdString(), study.name);
            data.directory = QString::fromStdString(dir);
            std::vector<RunRecord> recorded;
            if (QFileInfo::exists(databasePath)) {
                RunStore store(databasePath.toStdString(), /*createIfMissing=*/false);
                recorded = store.listRuns();
            }
            const std::vector<StudyRunStatus> statuses = studyRunStatuses(study, study.expand(dir), recorded);
            const StudySummary summary = summarizeStudy(study, statuses);
            data.primaryLabel = QString::fromStdString(summary.primaryLabel);
            data.markdown = QString::fromStdString(studySummaryMarkdown(summary));
            for (const StudyRunStatus& status : statuses) {
                StudyPageRow row;
                QStringList levels;
                for (const auto& [group, level] : status.planned.levels)
                    levels << QStringLiteral("%1 %2").arg(QString::fromStdString(group), QString::fromStdString(level));
                row.levels = levels.join(QStringLiteral(", "));
                row.seed = QString::number(status.planned.seed);
                row.state = QString::fromStdString(toString(status.state));
                row.runId = status.record ? QString::number(status.record->id) : QStringLiteral("–");
                row.bestPrimary = status.record ? formatMetricValue(status.results.bestPrimary, summary.primaryFraction)
                                                : QStringLiteral("–");
                if (status.state == StudyRunState::Finished && status.record)
                    data.finishedIds << status.record->id;
                data.rows << row;
            }
        } catch (const std::exception& e) {
            data.error = QString::fromUtf8(e.what());
        }
        return data;
    }

} // namespace

StudiesPage::StudiesPage(const QString& databasePath, QWidget* parent)
    : QWidget(parent)
    , m_databasePath(databasePath)
{
    m_specs = new QComboBox(this);
    for (const std::string& name : StudySpec::builtInNames())
        m_specs->addItem(QString::fromStdString(name), QString::fromStdString(name));
    m_specs->addItem(tr("Open spec…"));
    m_quick = new QCheckBox(tr("&Quick profile"), this);
    m_quick->setToolTip(tr("The spec's quick profile: fewer seeds, less data, minutes instead of hours"));
    m_workers = new QSpinBox(this);
    m_workers->setRange(1, std::max(1, QThread::idealThreadCount()));
    m_workers->setToolTip(tr("Runs trained at once, each in its own process (the cores are shared)"));
    m_run = new QPushButton(tr("Ru&n"), this);
    m_stop = new QPushButton(tr("S&top"), this);
    m_compare = new QPushButton(tr("Co&mpare in Runs"), this);
    m_report = new QPushButton(tr("Save re&port…"), this);
    m_run->setObjectName(QStringLiteral("runButton"));
    m_stop->setObjectName(QStringLiteral("stopButton"));
    m_compare->setObjectName(QStringLiteral("compareButton"));
    m_report->setObjectName(QStringLiteral("reportButton"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Study:"), this));
    controls->addWidget(m_specs, 1);
    controls->addWidget(m_quick);
    controls->addWidget(new QLabel(tr("Workers:"), this));
    controls->addWidget(m_workers);
    controls->addWidget(m_run);
    controls->addWidget(m_stop);
    controls->addStretch();
    controls->addWidget(m_compare);
    controls->addWidget(m_report);

    m_description = new QLabel(this);
    m_description->setWordWrap(true);
    m_folder = new QLabel(this);
    m_folder->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1000);
    m_progress->setValue(0);
    m_progress->setFormat(QStringLiteral("%p %"));
    m_eta = new QLabel(this);
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    auto* progressRow = new QHBoxLayout;
    progressRow->addWidget(m_progress, 1);
    progressRow->addWidget(m_eta);

    m_table = new QTableWidget(0, kColumns, this);
    m_table->setHorizontalHeaderLabels({ tr("Levels"), tr("Seed"), tr("State"), tr("Run"), tr("Best") });
    m_table->horizontalHeader()->setSectionResizeMode(kLevels, QHeaderView::Stretch);
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_summary = new QTextBrowser(this);
    m_summary->setOpenExternalLinks(false);
    m_log = new QPlainTextEdit(this);
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(500);
    m_log->setPlaceholderText(tr("the study's messages (stderr)"));

    auto* right = new QSplitter(Qt::Vertical, this);
    right->addWidget(m_summary);
    right->addWidget(m_log);
    right->setStretchFactor(0, 3);
    right->setStretchFactor(1, 1);
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(m_table);
    split->addWidget(right);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(m_description);
    layout->addWidget(m_folder);
    layout->addLayout(progressRow);
    layout->addWidget(m_status);
    layout->addWidget(split, 1);

    m_process = new QProcess(this);
    connect(m_process, &QProcess::readyReadStandardOutput, this, &StudiesPage::onStdout);
    connect(m_process, &QProcess::readyReadStandardError, this, &StudiesPage::onStderr);
    connect(m_process, &QProcess::finished, this, &StudiesPage::onProcessFinished);
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error != QProcess::FailedToStart)
            return; // the others end in finished()
        setStatus(tr("cannot start %1: %2").arg(m_process->program(), m_process->errorString()), true);
        m_exitPending = true;
        m_pendingExit = -1;
        updateButtons();
        refresh();
    });
    connect(m_specs, QOverload<int>::of(&QComboBox::activated), this, &StudiesPage::onSpecPicked);
    connect(m_specs, QOverload<int>::of(&QComboBox::currentIndexChanged), this, [this](int index) {
        if (m_specs->itemData(index).isValid()) {
            m_lastSpecIndex = index;
            refresh();
        }
    });
    connect(m_quick, &QCheckBox::toggled, this, [this] { refresh(); });
    connect(m_run, &QPushButton::clicked, this, [this] { start(); });
    connect(m_stop, &QPushButton::clicked, this, &StudiesPage::stop);
    connect(m_compare, &QPushButton::clicked, this, [this] {
        if (!m_finishedIds.isEmpty())
            emit compareRequested(m_finishedIds);
    });
    connect(m_report, &QPushButton::clicked, this, &StudiesPage::saveReportWithDialog);
    if (cliPath().isEmpty())
        setStatus(tr("dr2net-cli was not found (beside %1, or set DR2_CLI): studies cannot run from here")
                      .arg(QCoreApplication::applicationDirPath()),
            true);
    updateButtons();
    if (m_specs->itemData(0).isValid())
        refresh();
}

StudiesPage::~StudiesPage()
{
    if (isRunning()) {
        // Leave no orphaned study: its runs checkpoint and a later Run resumes them.
        ::kill(static_cast<pid_t>(m_process->processId()), SIGINT);
        if (!m_process->waitForFinished(60000))
            m_process->kill();
        m_process->waitForFinished(5000);
    }
}

QString StudiesPage::cliPath()
{
    const QString fromEnvironment = qEnvironmentVariable("DR2_CLI");
    if (!fromEnvironment.isEmpty())
        return QFileInfo(fromEnvironment).isExecutable() ? fromEnvironment : QString();
    const QString dir = QCoreApplication::applicationDirPath();
    for (const QString& candidate : { dir + QStringLiteral("/dr2net-cli"), dir + QStringLiteral("/../cli/dr2net-cli") })
        if (QFileInfo(candidate).isExecutable() && QFileInfo(candidate).isFile())
            return QFileInfo(candidate).canonicalFilePath();
    return {};
}

void StudiesPage::setDatabasePath(const QString& path)
{
    m_databasePath = path;
    refresh();
}

void StudiesPage::setSpecFile(const QString& path)
{
    const QString absolute = QFileInfo(path).absoluteFilePath();
    int index = m_specs->findData(absolute);
    if (index < 0) {
        index = m_specs->count() - 1; // before "Open spec…"
        m_specs->insertItem(index, QFileInfo(absolute).fileName(), absolute);
        m_specs->setItemData(index, absolute, Qt::ToolTipRole);
    }
    m_lastSpecIndex = index;
    if (m_specs->currentIndex() == index)
        refresh();
    else
        m_specs->setCurrentIndex(index); // refreshes
}

QString StudiesPage::spec() const
{
    return m_specs->itemData(m_specs->currentIndex()).toString();
}

void StudiesPage::setQuick(bool quick)
{
    m_quick->setChecked(quick);
}

void StudiesPage::setWorkers(int workers)
{
    m_workers->setValue(workers);
}

void StudiesPage::onSpecPicked(int index)
{
    if (m_specs->itemData(index).isValid())
        return;
    // "Open spec…"
    const QString path = QFileDialog::getOpenFileName(this, tr("Study spec"), QString(), tr("Study specs (*.json)"));
    if (path.isEmpty()) {
        m_specs->setCurrentIndex(m_lastSpecIndex);
        return;
    }
    setSpecFile(path);
}

QString StudiesPage::specArgument() const
{
    QString picked = spec();
    try {
        return QString::fromStdString(StudySpec::resolve(picked.toStdString()));
    } catch (const std::exception&) {
        return picked; // the CLI says what is wrong
    }
}

bool StudiesPage::isRunning() const
{
    return m_process->state() != QProcess::NotRunning;
}

bool StudiesPage::start(QString* error)
{
    QString message;
    const QString cli = cliPath();
    if (isRunning())
        message = tr("a study is running");
    else if (spec().isEmpty())
        message = tr("pick a study spec first");
    else if (cli.isEmpty())
        message = tr("dr2net-cli was not found (beside %1, or set DR2_CLI)").arg(QCoreApplication::applicationDirPath());
    if (!message.isEmpty()) {
        setStatus(message, true);
        if (error)
            *error = message;
        return false;
    }
    QStringList arguments { QStringLiteral("study"), QStringLiteral("--spec"), specArgument() };
    if (m_quick->isChecked())
        arguments << QStringLiteral("--quick");
    arguments << QStringLiteral("--workers") << QString::number(m_workers->value()) << QStringLiteral("--db")
              << m_databasePath << QStringLiteral("--json");
    m_stdoutBuffer.clear();
    m_stderrBuffer.clear();
    m_lastStderr.clear();
    m_runsStarted = 0;
    m_failedRuns = 0;
    m_stopping = false;
    m_exitPending = false;
    m_eta->clear();
    m_log->appendPlainText(QStringLiteral("$ %1 %2").arg(cli, arguments.join(QLatin1Char(' '))));
    setStatus(tr("starting the study…"));
    m_process->start(cli, arguments);
    updateButtons();
    emit studyStarted();
    return true;
}

void StudiesPage::stop()
{
    if (!isRunning() || m_process->processId() <= 0)
        return;
    m_stopping = true;
    ::kill(static_cast<pid_t>(m_process->processId()), SIGINT);
    setStatus(tr("stopping: runs save a checkpoint…"));
    updateButtons();
}

void StudiesPage::onStdout()
{
    m_stdoutBuffer += m_process->readAllStandardOutput();
    int newline = 0;
    while ((newline = int(m_stdoutBuffer.indexOf('\n'))) >= 0) {
        const QByteArray line = m_stdoutBuffer.left(newline).trimmed();
        m_stdoutBuffer.remove(0, newline + 1);
        if (!line.isEmpty())
            onEvent(line);
    }
}

void StudiesPage::onStderr()
{
    m_stderrBuffer += m_process->readAllStandardError();
    int newline = 0;
    while ((newline = int(m_stderrBuffer.indexOf('\n'))) >= 0) {
        const QString line = QString::fromUtf8(m_stderrBuffer.left(newline)).trimmed();
        m_stderrBuffer.remove(0, newline + 1);
        if (line.isEmpty())
            continue;
        m_lastStderr = line;
        m_log->appendPlainText(line);
    }
}

void StudiesPage::onEvent(const QByteArray& line)
{
    const QJsonObject event = QJsonDocument::fromJson(line).object();
    const QString kind = event.value(QStringLiteral("event")).toString();
    if (kind.isEmpty()) {
        m_log->appendPlainText(QString::fromUtf8(line)); // not an event: show it as it came
        return;
    }
    if (kind == QLatin1String("study")) {
        m_totalRuns = event.value(QStringLiteral("runs")).toInt();
        updateProgress(event.value(QStringLiteral("finished")).toDouble(), m_totalRuns);
        setStatus(tr("study %1: %2 runs, %3 finished, %4 to resume")
                      .arg(event.value(QStringLiteral("name")).toString())
                      .arg(m_totalRuns)
                      .arg(event.value(QStringLiteral("finished")).toInt())
                      .arg(event.value(QStringLiteral("resumable")).toInt()));
    } else if (kind == QLatin1String("run_started")) {
        ++m_runsStarted;
        const bool resume = event.value(QStringLiteral("resume")).toBool();
        const QString label = event.value(QStringLiteral("label")).toString();
        if (!m_stopping)
            setStatus(resume ? tr("resuming %1").arg(label) : tr("running %1").arg(label));
        m_log->appendPlainText(tr("%1: %2 (log %3)")
                                   .arg(resume ? tr("resumed") : tr("started"), label,
                                       event.value(QStringLiteral("log")).toString()));
        refresh();
    } else if (kind == QLatin1String("progress")) {
        double finished = event.value(QStringLiteral("finished")).toDouble();
        const QJsonArray runningRuns = event.value(QStringLiteral("running")).toArray();
        for (const auto& value : runningRuns) {
            const QJsonObject running = value.toObject();
            const double total = running.value(QStringLiteral("total")).toDouble();
            if (total > 0 && running.value(QStringLiteral("key")).toString() != QLatin1String("pretrain"))
                finished += std::clamp(running.value(QStringLiteral("iteration")).toDouble() / total, 0.0, 1.0);
        }
        m_totalRuns = event.value(QStringLiteral("runs")).toInt(m_totalRuns);
        updateProgress(finished, m_totalRuns);
        const QJsonValue eta = event.value(QStringLiteral("eta_s"));
        m_eta->setText(eta.isDouble() ? tr("ETA %1").arg(ReportData::formatDuration(eta.toDouble()))
                                      : tr("ETA after the first iterations"));
    } else if (kind == QLatin1String("run_finished")) {
        const QString outcome = event.value(QStringLiteral("outcome")).toString();
        const QString label = event.value(QStringLiteral("label")).toString();
        if (outcome == QLatin1String("failed") || outcome == QLatin1String("error")) {
            ++m_failedRuns;
            m_log->appendPlainText(tr("%1 %2 (exit %3); log %4")
                                       .arg(label, outcome)
                                       .arg(event.value(QStringLiteral("exit_code")).toInt())
                                       .arg(event.value(QStringLiteral("log")).toString()));
        } else {
            m_log->appendPlainText(tr("%1: %2 in %3")
                                       .arg(outcome, label,
                                           ReportData::formatDuration(event.value(QStringLiteral("seconds")).toDouble())));
        }
        refresh();
    }
}

void StudiesPage::updateProgress(double finished, int runs)
{
    m_progress->setValue(runs > 0 ? int(std::lround(1000.0 * std::clamp(finished / runs, 0.0, 1.0))) : 0);
}

void StudiesPage::onProcessFinished(int exitCode, QProcess::ExitStatus status)
{
    onStdout();
    const int code = status == QProcess::CrashExit ? -1 : exitCode;
    QString text;
    bool error = false;
    switch (code) {
    case 0:
        m_progress->setValue(m_progress->maximum());
        m_eta->clear();
        text = m_runsStarted == 0 ? tr("finished: every run was already recorded, nothing started")
                                  : tr("finished: %n run(s) trained", nullptr, m_runsStarted);
        break;
    case 3:
        text = tr("interrupted, resumable: Run continues (finished runs are kept, interrupted ones resume from their "
                  "checkpoints)");
        break;
    case 4:
        text = tr("%n run(s) failed (logs in the study folder; `dr2net-cli study --retry-failed` starts them again)",
            nullptr, std::max(1, m_failedRuns));
        error = true;
        break;
    default:
        text = status == QProcess::CrashExit ? tr("the study process crashed")
                                             : tr("the study ended with exit code %1").arg(code);
        if (!m_lastStderr.isEmpty())
            text += QStringLiteral(": ") + m_lastStderr;
        error = true;
        break;
    }
    setStatus(text, error);
    m_stopping = false;
    m_pendingExit = code;
    m_exitPending = true;
    updateButtons();
    refresh();
}

void StudiesPage::refresh()
{
    const QString picked = spec();
    if (picked.isEmpty())
        return;
    const quint64 generation = ++m_generation;
    const bool quick = m_quick->isChecked();
    const QString database = m_databasePath;
    auto* watcher = new QFutureWatcher<StudyPageData>(this);
    connect(watcher, &QFutureWatcher<StudyPageData>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation != m_generation)
            return; // a newer read (another spec, profile or database, or a later event) follows
        showData(watcher->result());
    });
    watcher->setFuture(QtConcurrent::run([picked, quick, database] { return readStudy(picked, quick, database); }));
}

void StudiesPage::showData(const StudyPageData& data)
{
    const bool hadReadError = !m_error.isEmpty();
    m_error = data.error;
    m_studyDir = data.directory;
    m_finishedIds = data.finishedIds;
    if (!data.error.isEmpty()) {
        m_table->setRowCount(0);
        m_summary->clear();
        m_description->clear();
        m_folder->clear();
        if (!isRunning())
            setStatus(data.error, true);
    } else {
        m_description->setText(data.description.isEmpty() ? data.name
                                                           : QStringLiteral("<b>%1</b>: %2")
                                                                 .arg(data.name.toHtmlEscaped(),
                                                                     data.description.toHtmlEscaped()));
        m_folder->setText(tr("Study folder: %1").arg(data.directory));
        m_table->setHorizontalHeaderItem(kBest, new QTableWidgetItem(tr("Best %1").arg(data.primaryLabel)));
        m_table->setRowCount(int(data.rows.size()));
        for (int r = 0; r < data.rows.size(); ++r) {
            const StudyPageRow& row = data.rows[r];
            const QStringList cells { row.levels, row.seed, row.state, row.runId, row.bestPrimary };
            for (int c = 0; c < kColumns; ++c) {
                auto* item = new QTableWidgetItem(cells[c]);
                if (c != kLevels)
                    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                m_table->setItem(r, c, item);
            }
        }
        m_table->resizeColumnsToContents();
        m_summary->setMarkdown(data.markdown);
        if (hadReadError && !isRunning() && !m_exitPending)
            setStatus(QString()); // the old read error is gone
        if (!isRunning()) {
            m_totalRuns = int(data.rows.size());
            updateProgress(double(data.finishedIds.size()), m_totalRuns);
        }
    }
    updateButtons();
    emit statusesLoaded();
    if (m_exitPending && !isRunning()) {
        m_exitPending = false;
        emit studyFinished(m_pendingExit);
    }
}

void StudiesPage::setStatus(const QString& text, bool error)
{
    m_status->setText(text);
    m_status->setProperty("error", error);
    m_status->setStyleSheet(error ? QStringLiteral("color: #c0392b;") : QString());
}

QString StudiesPage::statusText() const
{
    return m_status->text();
}

QString StudiesPage::etaText() const
{
    return m_eta->text();
}

void StudiesPage::updateButtons()
{
    const bool running = isRunning();
    m_run->setEnabled(!running && !spec().isEmpty() && !cliPath().isEmpty());
    m_stop->setEnabled(running && !m_stopping);
    m_specs->setEnabled(!running);
    m_quick->setEnabled(!running);
    m_workers->setEnabled(!running);
    m_compare->setEnabled(!m_finishedIds.isEmpty());
    m_report->setEnabled(!m_finishedIds.isEmpty());
}

bool StudiesPage::saveReport(const QString& outPath, QString* error)
{
    QString message;
    const bool ok = ReportRenderer::renderStudy(m_databasePath, specArgument(), m_quick->isChecked(), outPath, &message);
    setStatus(ok ? tr("report written to %1").arg(outPath) : message, !ok);
    if (!ok && error)
        *error = message;
    return ok;
}

void StudiesPage::saveReportWithDialog()
{
    const QString suggested = m_studyDir.isEmpty() ? QString() : m_studyDir + QStringLiteral("/report.pdf");
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Save study report"), suggested, tr("Reports (*.pdf *.html *.png)"));
    if (!path.isEmpty())
        saveReport(path);
}

} // namespace dr2
