#pragma once

#include "app/gui/session_types.h"

#include <QWidget>

#include <functional>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace dr2 {

class BranchErrorView;
class CoefficientView;
class HeatmapView;
class LossView;
class MemoryView;
class PlotView;
class SegmentationPreview;
class SeriesFeed;
class SweepSession;
class TrainingSession;

/// The live page: loss/primary metric/lr, memory, α/β, the gradient-error heatmap with the run's path, and the
/// per-branch error of the latest probe, fed by a TrainingSession's buffer on a 40 ms coalescing timer. For a
/// segmentation run a prediction preview panel (input, ground truth and prediction of a few validation scenes,
/// renewed at each evaluation) appears beside the plots; classification runs do not show it. Also runs a heatmap
/// sweep of the configured model (on a SweepSession's worker, with progress and cancel), in float32, under bfloat16
/// autocast, or both: then the bf16 map appears beside the float32 one, each titled with its precision, on one
/// shared colour scale.
class LivePage : public QWidget {
    Q_OBJECT
public:
    /// Creates the page showing `session`'s run and `sweeps`' matrices (both must outlive the page).
    LivePage(TrainingSession* session, SweepSession* sweeps, QWidget* parent = nullptr);
    ~LivePage() override;

    /// Where the sweep takes its model from: returns the current run config JSON.
    void setConfigProvider(std::function<QString()> provider) { m_configProvider = std::move(provider); }
    /// Starts a sweep over the grid in the page's α/β fields; false with a message when it cannot.
    bool startSweep(QString* error = nullptr);
    /// Sets the α and β grid text of the sweep ("start:stop:step" or "a,b,c").
    void setSweepGrid(const QString& alphas, const QString& betas);
    /// The weights the next sweep probes instead of the config's checkpoint: the final weights of the last run of
    /// the session once it ended (empty: the config's checkpoint).
    QString sweepWeights() const { return m_runWeights; }
    /// The sweep bar's status line ("done: ... on 4 validation images of ...").
    QString sweepStatus() const;
    /// Chooses the precisions of the next sweep ({"fp32"}, {"bf16"}, {"fp32", "bf16"}: one map each, side by side);
    /// false when the precision box offers no such choice (SweepSession::availablePrecisions()).
    bool setSweepPrecisions(const QStringList& precisions);
    /// The precisions the next sweep runs in.
    QStringList sweepPrecisions() const;
    /// The precision of the map each heatmap view shows or will show (one entry, or two when the second is shown).
    QStringList heatmapPrecisions() const;
    /// Display name of a precision ("bf16" → "bfloat16").
    static QString precisionLabel(const QString& precision);

    /// The plots, for export and tests.
    LossView* lossView() const { return m_loss; }
    /// Memory per iteration.
    MemoryView* memoryView() const { return m_memory; }
    /// α and β per iteration.
    CoefficientView* coefficientView() const { return m_coefficients; }
    /// The gradient-error heatmap (of the sweep's first precision).
    HeatmapView* heatmapView() const { return m_heatmap; }
    /// The second precision's heatmap, beside the first (shown when the chosen or shown sweep has two precisions).
    HeatmapView* secondHeatmapView() const { return m_secondHeatmap; }
    /// True while the second heatmap is part of the page.
    bool showsSecondHeatmap() const;
    /// Error per branch of the latest probe.
    BranchErrorView* branchErrorView() const { return m_branches; }
    /// The prediction preview of the latest evaluation (shown for segmentation runs only).
    SegmentationPreview* previewView() const { return m_preview; }
    /// True while the preview panel is part of the page (a segmentation run, or a run that sent a preview).
    bool showsPreview() const { return m_previewShown; }
    /// Every plot of the page (the second heatmap only while it is shown).
    QList<PlotView*> plots() const;
    /// A file name stem per plot of plots(), in its order ("loss", ..., "heatmap", "branch_error", "heatmap_bf16").
    QStringList plotNames() const;
    /// The feed that moves samples from the session's buffer into the plots.
    SeriesFeed* feed() const { return m_feed; }

    /// Parses "start:stop:step" (inclusive) or "a,b,c"; false with a message naming `what` on bad input.
    static bool parseGrid(const QString& text, const QString& what, QVector<double>* values, QString* error);

signals:
    /// A sweep failed or could not start (one line).
    void sweepFailed(const QString& message);

private:
    void onStarted(const RunStartedInfo& info);
    void onProbe(const ProbeInfo& probe);
    void onPreview(const PreviewImages& preview);
    void showPreviewPanel(bool shown);
    void onProgress(const RunProgress& progress);
    void onSweepFinished(const SweepResult& result);
    void onSweepFailed(const QString& message);
    void setEmptyTexts();
    void resetHeatmapEmptyTexts();
    void updateHeatmapTitles();
    void updateSecondHeatmap();

    TrainingSession* m_session;
    SweepSession* m_sweeps;
    std::function<QString()> m_configProvider;
    SeriesFeed* m_feed = nullptr;
    LossView* m_loss = nullptr;
    MemoryView* m_memory = nullptr;
    CoefficientView* m_coefficients = nullptr;
    HeatmapView* m_heatmap = nullptr;
    HeatmapView* m_secondHeatmap = nullptr;
    QStringList m_shownPrecisions; ///< of the maps on the heatmap views (empty: no sweep shown)
    QStringList m_sweepingPrecisions; ///< of the sweep started last
    BranchErrorView* m_branches = nullptr;
    SegmentationPreview* m_preview = nullptr;
    bool m_previewShown = false;
    QLineEdit* m_alphaGrid = nullptr;
    QLineEdit* m_betaGrid = nullptr;
    QComboBox* m_precision = nullptr;
    QPushButton* m_sweepButton = nullptr;
    QPushButton* m_cancelButton = nullptr;
    QProgressBar* m_sweepProgress = nullptr;
    QLabel* m_sweepLabel = nullptr;
    QString m_runWeights;
    std::vector<double> m_pathAlphas;
    std::vector<double> m_pathBetas;
};

} // namespace dr2
