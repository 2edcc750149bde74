#pragma once

#include "widgets/plot_view.h"

class QCPItemStraightLine;
class QCPItemText;

namespace dr2 {

/// Memory per iteration: current and peak tensor bytes, the process RSS (what `top` shows), the held baseline (parameters, gradients, optimizer
/// state) as a line, and optionally the conventional strategy's peak for the same config as a reference
/// line. The axis shows KiB, MiB or GiB depending on the largest value; data and CSV stay in bytes.
class MemoryView : public PlotView {
    Q_OBJECT
public:
    /// Series of tensor bytes alive at the end of each iteration.
    static inline const QString kSeriesCurrent = QStringLiteral("memory.current");
    /// Series of the peak tensor bytes within each iteration.
    static inline const QString kSeriesPeak = QStringLiteral("memory.peak");
    /// Series of the process's resident set size after each iteration (what `top` shows: tensors, the allocator's
    /// cache, code and data).
    static inline const QString kSeriesRss = QStringLiteral("memory.rss");

    /// Creates an empty view.
    explicit MemoryView(QWidget* parent = nullptr);

    bool appendSamples(const QString& series, const std::vector<SeriesSample>& samples) override;
    void clearData() override;
    /// Shows the held baseline at `bytes` (negative hides it).
    void setHeldBaseline(qint64 bytes);
    /// Shows a reference peak at `bytes`, e.g. the conventional strategy's peak (negative hides it).
    void setReferencePeak(qint64 bytes, const QString& label = QString());
    /// The reference peak shown in bytes (-1: none).
    qint64 referencePeak() const { return m_reference; }
    /// The reference line's label.
    QString referenceLabel() const { return m_referenceLabel; }
    /// Bytes per axis unit in use (1024, 1024², 1024³).
    double unitBytes() const { return m_unit; }
    /// Name of the axis unit in use ("KiB", "MiB", "GiB").
    QString unitName() const;
    /// Formats `bytes` with a binary unit ("512.0 MiB").
    static QString formatBytes(double bytes);

protected:
    void restyle(const PlotStyle& style) override;

private:
    void updateUnit();
    void updateLines();

    int m_current = -1;
    int m_peak = -1;
    int m_rss = -1;
    double m_unit = 1024.0 * 1024.0;
    double m_maxBytes = 0.0;
    qint64 m_baseline = -1;
    qint64 m_reference = -1;
    QString m_referenceLabel;
    QCPItemStraightLine* m_baselineLine = nullptr;
    QCPItemText* m_baselineText = nullptr;
    QCPItemStraightLine* m_referenceLine = nullptr;
    QCPItemText* m_referenceText = nullptr;
};

} // namespace dr2
