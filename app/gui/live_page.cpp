#include "app/gui/live_page.h"

#include "app/gui/sweep_session.h"
#include "app/gui/training_session.h"
#include "widgets/branch_error_view.h"
#include "widgets/coefficient_view.h"
#include "widgets/heatmap_view.h"
#include "widgets/loss_view.h"
#include "widgets/memory_view.h"
#include "widgets/segmentation_preview.h"
#include "widgets/series_feed.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace dr2 {

LivePage::LivePage(TrainingSession* session, SweepSession* sweeps, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_sweeps(sweeps)
{
    m_loss = new LossView(this);
    m_loss->setTitle(tr("Loss, top-1 and learning rate"));
    m_memory = new MemoryView(this);
    m_memory->setTitle(tr("Memory: tensors and process RSS"));
    m_coefficients = new CoefficientView(this);
    m_coefficients->setTitle(tr("α and β"));
    m_heatmap = new HeatmapView(this);
    m_secondHeatmap = new HeatmapView(this);
    m_branches = new BranchErrorView(this);
    m_branches->setTitle(tr("Error per branch (latest probe)"));
    m_preview = new SegmentationPreview(this);
    m_preview->setTitle(tr("Prediction preview (fixed validation scenes)"));
    setEmptyTexts();

    m_feed = new SeriesFeed(session->buffer(), this);
    m_feed->addView(m_loss);
    m_feed->addView(m_memory);
    m_feed->addView(m_coefficients);
    // A sweep after a run probes what the run trained, not the checkpoint it started from.
    connect(session, &TrainingSession::finished, this,
        [this](const RunFinishedInfo& info) { m_runWeights = info.finalWeightsPath; });

    m_alphaGrid = new QLineEdit(QStringLiteral("0:1:0.25"), this);
    m_alphaGrid->setToolTip(tr("α values: start:stop:step or a,b,c"));
    m_betaGrid = new QLineEdit(QStringLiteral("0.25:1:0.25"), this);
    m_betaGrid->setToolTip(tr("β values: start:stop:step or a,b,c (no 0)"));
    m_sweepButton = new QPushButton(tr("Run heatmap sweep"), this);
    m_precision = new QComboBox(this);
    m_precision->setToolTip(tr("the precision both passes' forward runs in: float32 (the paper's Fig. 3), under an "
                               "autocast as a mixed-precision run computes, or both maps side by side"));
    const QStringList precisions = SweepSession::availablePrecisions();
    for (const QString& precision : precisions)
        m_precision->addItem(precisionLabel(precision), QStringList { precision });
    for (const QString& precision : precisions)
        if (precision != precisions.first())
            m_precision->addItem(
                tr("%1 + %2 side by side").arg(precisionLabel(precisions.first()), precisionLabel(precision)),
                QStringList { precisions.first(), precision });
    m_cancelButton = new QPushButton(tr("Cancel"), this);
    m_cancelButton->setEnabled(false);
    m_sweepProgress = new QProgressBar(this);
    m_sweepProgress->setRange(0, 1);
    m_sweepProgress->setValue(0);
    m_sweepLabel = new QLabel(this);
    auto* sweepBar = new QHBoxLayout;
    sweepBar->addWidget(new QLabel(tr("α:"), this));
    sweepBar->addWidget(m_alphaGrid);
    sweepBar->addWidget(new QLabel(tr("β:"), this));
    sweepBar->addWidget(m_betaGrid);
    sweepBar->addWidget(m_precision);
    sweepBar->addWidget(m_sweepButton);
    sweepBar->addWidget(m_cancelButton);
    sweepBar->addWidget(m_sweepProgress, 1);
    sweepBar->addWidget(m_sweepLabel);

    auto* grid = new QGridLayout;
    grid->addWidget(m_loss, 0, 0);
    grid->addWidget(m_memory, 0, 1);
    grid->addWidget(m_coefficients, 1, 0);
    auto* heatPane = new QSplitter(Qt::Horizontal, this);
    heatPane->addWidget(m_heatmap);
    heatPane->addWidget(m_secondHeatmap);
    heatPane->addWidget(m_branches);
    heatPane->setStretchFactor(0, 3);
    heatPane->setStretchFactor(1, 3);
    heatPane->setStretchFactor(2, 2);
    grid->addWidget(heatPane, 1, 1);
    grid->setColumnStretch(0, 1);
    grid->setColumnStretch(1, 1);
    grid->setRowStretch(0, 1);
    grid->setRowStretch(1, 1);
    // The plots keep their grid; the preview is a panel to its right that only segmentation runs show, so the
    // classification page looks as it always did.
    auto* plots = new QWidget(this);
    grid->setContentsMargins(0, 0, 0, 0);
    plots->setLayout(grid);
    auto* panes = new QSplitter(Qt::Horizontal, this);
    panes->setChildrenCollapsible(false);
    panes->addWidget(plots);
    panes->addWidget(m_preview);
    panes->setStretchFactor(0, 3);
    panes->setStretchFactor(1, 2);
    m_preview->hide();
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(panes, 1);
    layout->addLayout(sweepBar);

    connect(session, &TrainingSession::started, this, &LivePage::onStarted);
    connect(session, &TrainingSession::probed, this, &LivePage::onProbe);
    connect(session, &TrainingSession::previewed, this, &LivePage::onPreview);
    connect(session, &TrainingSession::progress, this, &LivePage::onProgress);
    connect(sweeps, &SweepSession::progress, this, [this](int done, int total) {
        m_sweepProgress->setRange(0, total);
        m_sweepProgress->setValue(done);
        const int maps = int(m_sweepingPrecisions.size());
        if (maps > 1 && total > 0) {
            // The precisions run one after the other: name the one being probed.
            const int current = std::min(maps - 1, int(qint64(std::max(done - 1, 0)) * maps / total));
            m_sweepLabel->setText(
                tr("%1 / %2 cells (%3)").arg(done).arg(total).arg(precisionLabel(m_sweepingPrecisions[current])));
        } else {
            m_sweepLabel->setText(tr("%1 / %2 cells").arg(done).arg(total));
        }
    });
    connect(sweeps, &SweepSession::finished, this, &LivePage::onSweepFinished);
    connect(sweeps, &SweepSession::failed, this, &LivePage::onSweepFailed);
    connect(m_sweepButton, &QPushButton::clicked, this, [this] {
        QString error;
        if (!startSweep(&error))
            emit sweepFailed(error);
    });
    connect(m_cancelButton, &QPushButton::clicked, m_sweeps, &SweepSession::cancel);
    connect(m_precision, &QComboBox::currentIndexChanged, this, [this] { updateSecondHeatmap(); });
    updateSecondHeatmap();
}

LivePage::~LivePage() = default;

void LivePage::setEmptyTexts()
{
    m_loss->setEmptyText(tr("no run yet — Start a run (Ctrl+R) to see its loss, accuracy and learning rate"));
    m_memory->setEmptyText(tr("no run yet — tensor memory and process RSS appear with the first iteration"));
    m_coefficients->setEmptyText(tr("no run yet — α and β appear with the first iteration"));
    resetHeatmapEmptyTexts();
    m_branches->setEmptyText(tr("no probe yet — runs with probe.every > 0 show each branch's error here"));
}

void LivePage::resetHeatmapEmptyTexts()
{
    m_heatmap->setEmptyText(tr("no sweep yet — Run heatmap sweep (below) measures the gradient error over α×β\n"
                               "on a batch of the configured data"));
    m_secondHeatmap->setEmptyText(tr("no sweep in two precisions yet — choose “… side by side” below: this map then\n"
                                     "shows the same sweep under autocast, on the float32 map's colour scale"));
}

QString LivePage::sweepStatus() const
{
    return m_sweepLabel->text();
}

void LivePage::onSweepFailed(const QString& message)
{
    m_sweepButton->setEnabled(true);
    m_cancelButton->setEnabled(false);
    m_sweepLabel->setText(tr("failed"));
    for (HeatmapView* view : { m_heatmap, m_secondHeatmap })
        if (view->matrixSize().isEmpty())
            view->setEmptyText(tr("the sweep failed — %1").arg(message));
    emit sweepFailed(message);
}

QList<PlotView*> LivePage::plots() const
{
    QList<PlotView*> views { m_loss, m_memory, m_coefficients, m_heatmap, m_branches };
    if (showsSecondHeatmap())
        views << m_secondHeatmap;
    return views;
}

QStringList LivePage::plotNames() const
{
    QStringList names { QStringLiteral("loss"), QStringLiteral("memory"), QStringLiteral("coefficients"),
        QStringLiteral("heatmap"), QStringLiteral("branch_error") };
    if (showsSecondHeatmap()) {
        const QStringList precisions = heatmapPrecisions();
        names << QStringLiteral("heatmap_%1").arg(precisions.size() > 1 ? precisions[1] : QStringLiteral("second"));
    }
    return names;
}

bool LivePage::showsSecondHeatmap() const
{
    return !m_secondHeatmap->isHidden();
}

QString LivePage::precisionLabel(const QString& precision)
{
    if (precision == QLatin1String("fp32"))
        return tr("float32");
    if (precision == QLatin1String("bf16"))
        return tr("bfloat16");
    if (precision == QLatin1String("fp16"))
        return tr("float16");
    return precision;
}

bool LivePage::setSweepPrecisions(const QStringList& precisions)
{
    const int index = m_precision->findData(precisions);
    if (index < 0)
        return false;
    m_precision->setCurrentIndex(index);
    return true;
}

QStringList LivePage::sweepPrecisions() const
{
    return m_precision->currentData().toStringList();
}

QStringList LivePage::heatmapPrecisions() const
{
    // The maps shown say what they are; before any sweep the views announce the chosen precisions.
    QStringList precisions = m_shownPrecisions.isEmpty() ? sweepPrecisions() : m_shownPrecisions;
    if (!m_shownPrecisions.isEmpty() && m_shownPrecisions.size() < 2 && sweepPrecisions().size() > 1)
        precisions << sweepPrecisions().mid(1); // the second view waits for a sweep in two precisions
    if (precisions.isEmpty())
        precisions << QStringLiteral("fp32");
    return precisions.mid(0, 2);
}

void LivePage::updateHeatmapTitles()
{
    const QStringList precisions = heatmapPrecisions();
    // Side by side each map has half the width: the short title still names the precision.
    const bool pair = showsSecondHeatmap() && precisions.size() > 1;
    const QString title = pair ? tr("Gradient error, %1") : tr("Gradient error over α×β, %1");
    m_heatmap->setTitle(title.arg(precisionLabel(precisions.first())));
    if (pair)
        m_secondHeatmap->setTitle(title.arg(precisionLabel(precisions[1])));
}

void LivePage::updateSecondHeatmap()
{
    // Shown while it holds a map, or while the chosen sweep will fill it: one map keeps the page as it was.
    m_secondHeatmap->setVisible(m_shownPrecisions.size() > 1 || sweepPrecisions().size() > 1);
    updateHeatmapTitles();
}

void LivePage::setSweepGrid(const QString& alphas, const QString& betas)
{
    m_alphaGrid->setText(alphas);
    m_betaGrid->setText(betas);
}

bool LivePage::parseGrid(const QString& text, const QString& what, QVector<double>* values, QString* error)
{
    values->clear();
    auto fail = [&](const QString& found) {
        if (error)
            *error = QStringLiteral("%1 '%2': expected start:stop:step or a comma-separated list, %3")
                         .arg(what, text, found);
        return false;
    };
    const QStringList range = text.split(QLatin1Char(':'));
    if (range.size() == 3) {
        bool ok[3] = {};
        const double start = range[0].trimmed().toDouble(&ok[0]);
        const double stop = range[1].trimmed().toDouble(&ok[1]);
        const double step = range[2].trimmed().toDouble(&ok[2]);
        if (!ok[0] || !ok[1] || !ok[2])
            return fail(QStringLiteral("found a part that is not a number"));
        if (!(step > 0) || !(stop >= start))
            return fail(QStringLiteral("found step <= 0 or stop < start"));
        const double count = std::floor((stop - start) / step + 0.5) + 1;
        if (count > 1000)
            return fail(QStringLiteral("found %1 values (at most 1000)").arg(count));
        for (int i = 0; i < int(count); ++i)
            values->push_back(start + i * step);
        return true;
    }
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        values->push_back(part.trimmed().toDouble(&ok));
        if (!ok)
            return fail(QStringLiteral("found '%1'").arg(part.trimmed()));
    }
    if (values->isEmpty())
        return fail(QStringLiteral("found nothing"));
    return true;
}

bool LivePage::startSweep(QString* error)
{
    SweepRequest request;
    if (!parseGrid(m_alphaGrid->text(), QStringLiteral("sweep α"), &request.alphas, error)
        || !parseGrid(m_betaGrid->text(), QStringLiteral("sweep β"), &request.betas, error))
        return false;
    request.configJson = m_configProvider ? m_configProvider() : QString();
    request.precisions = sweepPrecisions();
    if (!m_session->isRunning())
        request.weightsPath = m_runWeights;
    if (!m_sweeps->start(request, error))
        return false;
    m_sweepButton->setEnabled(false);
    m_cancelButton->setEnabled(true);
    m_sweepingPrecisions = request.precisions;
    resetHeatmapEmptyTexts();
    m_sweepProgress->setRange(0, request.alphas.size() * request.betas.size() * int(request.precisions.size()));
    m_sweepProgress->setValue(0);
    m_sweepLabel->setText(tr("loading a batch and building the model…"));
    return true;
}

void LivePage::onSweepFinished(const SweepResult& result)
{
    m_sweepButton->setEnabled(true);
    m_cancelButton->setEnabled(false);
    const std::vector<double> alphas(result.alphas.begin(), result.alphas.end());
    const std::vector<double> betas(result.betas.begin(), result.betas.end());
    QVector<SweepMap> maps = result.maps;
    if (maps.isEmpty())
        maps.push_back({ QStringLiteral("fp32"), result.values });
    QList<HeatmapView*> filled;
    QStringList precisions;
    const QList<HeatmapView*> views { m_heatmap, m_secondHeatmap };
    for (int i = 0; i < views.size(); ++i) {
        HeatmapView* view = views[i];
        if (i >= maps.size()) {
            view->clearData();
            continue;
        }
        precisions << maps[i].precision;
        // A cancelled sweep may stop before a precision began: no cell of its map was probed.
        const bool begun
            = std::any_of(maps[i].values.begin(), maps[i].values.end(), [](double v) { return !std::isnan(v); });
        if (!begun) {
            view->clearData();
            view->setEmptyText(
                tr("the sweep was cancelled before the %1 map began").arg(precisionLabel(maps[i].precision)));
            continue;
        }
        QString error;
        if (!view->setMatrix(
                alphas, betas, std::vector<double>(maps[i].values.begin(), maps[i].values.end()), &error)) {
            emit sweepFailed(error);
            return;
        }
        view->setPath(m_pathAlphas, m_pathBetas);
        filled << view;
    }
    // One colour is one error on both maps, so the precisions compare at a glance.
    const bool shared = filled.size() > 1;
    if (shared)
        HeatmapView::shareColorRange(filled);
    for (HeatmapView* view : views) {
        view->setValueLabel(shared ? tr("MSE, log scale shared by both maps") : tr("gradient error (MSE), log scale"));
        view->refresh();
    }
    m_shownPrecisions = precisions;
    updateSecondHeatmap();
    QStringList labels;
    for (const QString& precision : precisions)
        labels << precisionLabel(precision);
    const QString done = tr("done: %1 on %2").arg(result.source, result.batchSource);
    m_sweepLabel->setText(!result.complete ? tr("cancelled")
            : precisions.size() > 1        ? tr("%1 (%2)").arg(done, labels.join(QStringLiteral(" + ")))
                                           : done);
}

void LivePage::onStarted(const RunStartedInfo& info)
{
    for (PlotView* plot : { static_cast<PlotView*>(m_loss), static_cast<PlotView*>(m_memory),
             static_cast<PlotView*>(m_coefficients), static_cast<PlotView*>(m_branches) })
        plot->clearData();
    m_pathAlphas.clear();
    m_pathBetas.clear();
    m_runWeights.clear();
    m_preview->clear();
    showPreviewPanel(info.task == QLatin1String("segmentation"));
    if (!info.primaryLabel.isEmpty()) {
        m_loss->setPrimaryMetric(info.primaryLabel, info.primaryIsFraction);
        m_loss->setTitle(tr("Loss, %1 and learning rate").arg(info.primaryLabel));
    }
    m_coefficients->setPlannedPath(std::vector<double>(info.plannedIterations.begin(), info.plannedIterations.end()),
        std::vector<double>(info.plannedAlphas.begin(), info.plannedAlphas.end()),
        std::vector<double>(info.plannedBetas.begin(), info.plannedBetas.end()));
    if (!info.plannedIterations.isEmpty())
        m_coefficients->setEndPoint(info.plannedIterations.last(), info.plannedAlphas.last(), info.plannedBetas.last());
    m_coefficients->refresh();
}

void LivePage::onProgress(const RunProgress& progress)
{
    m_memory->setHeldBaseline(progress.heldBytes);
    // The path over the heatmap: one point per change of (α, β), so it stays short.
    if (m_pathAlphas.empty() || m_pathAlphas.back() != progress.alpha || m_pathBetas.back() != progress.beta) {
        m_pathAlphas.push_back(progress.alpha);
        m_pathBetas.push_back(progress.beta);
        for (HeatmapView* view : { m_heatmap, m_secondHeatmap }) {
            view->setPath(m_pathAlphas, m_pathBetas);
            view->refresh();
        }
    }
}

void LivePage::showPreviewPanel(bool shown)
{
    m_previewShown = shown;
    m_preview->setVisible(shown);
}

void LivePage::onPreview(const PreviewImages& preview)
{
    // Any task that sends previews gets the panel, not only the one named "segmentation".
    showPreviewPanel(true);
    QString error;
    if (!m_preview->setPreview(preview, &error))
        qWarning("live page: %s", qPrintable(error)); // the Trainer's own event: a bug, not a user error
}

void LivePage::onProbe(const ProbeInfo& probe)
{
    std::vector<double> errors(probe.branchMse.begin(), probe.branchMse.end());
    m_branches->setStageLengths(std::vector<int64_t>(probe.branchesPerStage.begin(), probe.branchesPerStage.end()));
    m_branches->setBranchErrors(errors,
        tr("iteration %1, α = %2, β = %3").arg(probe.iteration).arg(probe.alpha, 0, 'g', 3).arg(probe.beta, 0, 'g', 3));
    m_branches->refresh();
    for (HeatmapView* view : { m_heatmap, m_secondHeatmap }) {
        view->setLatestProbe(probe.alpha, probe.beta);
        view->refresh();
    }
}

} // namespace dr2
