#pragma once

#include "widgets/series_buffer.h"

#include <QHash>
#include <QPointer>
#include <QSize>
#include <QStringList>
#include <QWidget>

#include <vector>

class QAction;
class QCustomPlot;
class QCPAxis;
class QCPGraph;
class QCPItemText;
class QCPTextElement;
class QTextStream;

namespace dr2 {

class PlotStyle;

/// Base of the plot views: a QCustomPlot that keeps each series at full resolution and shows it decimated
/// (min/max per pixel column), rescales to the data until the user zooms or drags (then the user's view is
/// kept until resetView()), follows the widget palette, and exports as PNG, PDF, SVG and CSV.
///
/// Data arrives through appendSamples() (from a SeriesFeed) or the subclasses' own setters; nothing is
/// redrawn until refresh(), which queues one replot for the next event-loop pass.
class PlotView : public QWidget {
    Q_OBJECT
public:
    /// Which samples exportCsv() writes.
    enum class CsvRange {
        Full, ///< every sample of every series
        Visible ///< samples whose key lies in the visible range of the key axis
    };

    /// Creates an empty plot.
    explicit PlotView(QWidget* parent = nullptr);
    ~PlotView() override;

    /// The QCustomPlot inside (for menus, tests and the main window's layout).
    QCustomPlot* plot() const { return m_plot; }

    /// Appends samples of a named series (the names each view shows are its kSeries... constants).
    /// Returns false, and ignores the samples, when this view does not show that series.
    virtual bool appendSamples(const QString& series, const std::vector<SeriesSample>& samples);
    /// Queues one replot: rescales to the data (unless the user zoomed) and redecimates for the view. While
    /// the view sits hidden in a shown window (another tab), the replot waits until the view is shown.
    void refresh();
    /// Removes every sample (and the user's zoom); subclasses also clear their own items.
    virtual void clearData();

    /// True after the user zoomed or dragged; auto-rescaling is off until resetView().
    bool userZoomed() const { return m_userZoomed; }
    /// The "Reset view" action (also in the plot's context menu; a double click does the same).
    QAction* resetViewAction() const { return m_resetAction; }
    /// Shows `title` above the plot (empty removes it).
    void setTitle(const QString& title);

    /// Writes the plot as PNG, PDF or SVG (chosen by the suffix of `path`) at `size` pixels (points for PDF),
    /// with the series decimated for that width. The file is written under a temporary name and renamed.
    /// Returns false with a message naming the file in `error` on failure; never throws.
    bool exportImage(const QString& path, const QSize& size, QString* error = nullptr);
    /// Writes the series as CSV (see writeCsv() for the columns), the full data or the visible range.
    bool exportCsv(const QString& path, CsvRange range, QString* error = nullptr);

    /// Adds or replaces a comparison curve (e.g. the same series of another run selected in the run table),
    /// drawn thin and dashed on the main value axis; `name` is its legend entry and CSV series name.
    void setOverlay(const QString& name, const std::vector<SeriesSample>& samples);
    /// Removes every comparison curve.
    void clearOverlays();
    /// Names of the comparison curves shown (views that draw several curves per compared item name the items).
    virtual QStringList overlayNames() const;

    /// Names of the series this view holds, in the order they were added.
    QStringList seriesNames() const;
    /// Full-resolution samples of the series `name` (raw values, e.g. bytes); empty when unknown.
    std::vector<SeriesSample> seriesSamples(const QString& name) const;
    /// Number of points the series `name` currently draws (after decimation); -1 when unknown.
    int displayedPointCount(const QString& name) const;
    /// Number of replots done so far (counts real redraws, not requests).
    int replotCount() const { return m_replotCount; }
    /// What the plot says while it has no data ("no sweep yet — Run heatmap sweep"), centred over the axis rect
    /// whose tick labels are hidden meanwhile (no made-up 0.5–1.5 axis). Empty: nothing is said.
    void setEmptyText(const QString& text);
    /// The text set with setEmptyText().
    QString emptyText() const;
    /// True when the empty text is shown now (set, and the view has no data).
    bool showsEmptyText() const;

public slots:
    /// Forgets the user's zoom and rescales to the data.
    void resetView();

signals:
    /// The user zoomed or dragged (true), or the view was reset (false).
    void userZoomedChanged(bool zoomed);

protected:
    /// Sets axis ranges without counting as a user zoom (RAII).
    class RangeGuard {
    public:
        /// Starts a programmatic range change on `view`.
        explicit RangeGuard(PlotView* view);
        ~RangeGuard();
        RangeGuard(const RangeGuard&) = delete;
        RangeGuard& operator=(const RangeGuard&) = delete;

    private:
        PlotView* m_view;
    };

    /// Registers `graph` as the display of series `name`; returns its trace index. `exported` series are
    /// written to CSV. Display values are the raw values times the trace's scale (see setTraceScale()).
    int addTrace(const QString& name, QCPGraph* graph, bool exported = true);
    /// Appends samples to a trace.
    void appendToTrace(int trace, const std::vector<SeriesSample>& samples);
    /// Replaces a trace's samples.
    void setTraceData(int trace, std::vector<double> xs, std::vector<double> ys);
    /// Full-resolution keys and raw values of a trace.
    const std::vector<double>& traceKeys(int trace) const;
    /// Full-resolution raw values of a trace.
    const std::vector<double>& traceValues(int trace) const;
    /// Multiplies the trace's raw values by `scale` for display (MiB, percent).
    void setTraceScale(int trace, double scale);
    /// Index of the trace for series `name`, -1 when none.
    int traceIndex(const QString& name) const;
    /// Auto-rescale always covers [low, high] on `axis` (e.g. 0..100 % accuracy).
    void includeInRange(QCPAxis* axis, double low, double high);
    /// Changes of `axis`'s range that do not come from this class count as a user zoom.
    void watchAxis(QCPAxis* axis);
    /// Marks the data changed: the next replot rescales (unless zoomed) and redecimates.
    void markDataChanged();
    /// Whether there is anything to draw; the default: some trace holds a sample. Views with their own items
    /// (matrix, bars) override it.
    virtual bool hasData() const;
    /// Moves the legend out of the axis rect into a row under it (entries side by side, wrapping), so it never
    /// covers data or labels, and shows it.
    void placeLegendBelow();

    /// Sets the ranges from the data; the default covers every trace (plus includeInRange()) with a margin.
    virtual void rescaleToData();
    /// Applies `style` (palette changed); the default styles axes, grid, legend and title. Subclasses
    /// call the base and then colour their own graphs.
    virtual void restyle(const PlotStyle& style);
    /// Applies the current palette now (subclasses call it at the end of their constructor).
    void applyStyle();
    /// Writes the CSV body; the default writes "series,iteration,value" rows for every exported trace.
    virtual void writeCsv(QTextStream& out, CsvRange range) const;

    void changeEvent(QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void showEvent(QShowEvent* event) override;

private:
    struct Trace {
        QString name;
        QPointer<QCPGraph> graph;
        std::vector<double> xs;
        std::vector<double> ys;
        double scale = 1.0;
        bool exported = true;
        bool overlay = false;
        bool sorted = true;
        double minValue = 0.0; // raw, finite values only
        double maxValue = 0.0;
        bool hasValues = false;
    };
    struct Inclusion {
        double low;
        double high;
    };

    void onBeforeReplot();
    void updateEmptyState();
    void onRangeChanged();
    void setUserZoomed(bool zoomed);
    void prepare(int columns);
    void redecimate(int columns);
    void styleOverlays(const PlotStyle& style);
    double displayScale(const Trace& trace) const;
    static void updateBounds(Trace& trace, size_t from);

    QCustomPlot* m_plot = nullptr;
    QAction* m_resetAction = nullptr;
    QCPTextElement* m_title = nullptr;
    QCPItemText* m_emptyText = nullptr; // created by setEmptyText()
    std::vector<Trace> m_traces;
    QHash<QCPAxis*, Inclusion> m_inclusions;
    QList<QCPAxis*> m_watched;
    int m_rangeGuard = 0;
    bool m_userZoomed = false;
    bool m_dataDirty = true;
    bool m_decimationDirty = true;
    int m_replotCount = 0;
    bool m_replotDeferred = false; // refresh() while hidden in a shown window
};

} // namespace dr2
