#pragma once

#include "widgets/series_buffer.h"

#include <QList>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <memory>

namespace dr2 {

class PlotView;

/// Moves samples from a SeriesBuffer (filled by a worker thread) into plot views on the GUI thread.
/// The first append after a drain posts one wake-up; the feed then waits `interval` ms on a single-shot
/// timer so a burst of appends is drained in one go, hands every series to every view and asks each view
/// for one queued replot. Lives on the GUI thread.
class SeriesFeed : public QObject {
    Q_OBJECT
public:
    /// Feeds from `buffer` (shared with the worker that appends to it).
    explicit SeriesFeed(std::shared_ptr<SeriesBuffer> buffer, QObject* parent = nullptr);
    ~SeriesFeed() override;

    /// The buffer the worker appends to.
    std::shared_ptr<SeriesBuffer> buffer() const { return m_buffer; }
    /// Adds a view that receives every drained series (views ignore series they do not show).
    void addView(PlotView* view);
    /// Removes a view.
    void removeView(PlotView* view);
    /// Coalescing delay in milliseconds (default 40).
    void setInterval(int milliseconds);
    /// Coalescing delay in milliseconds.
    int interval() const { return m_timer.interval(); }
    /// Number of drains so far (each one is followed by at most one replot per view).
    int drainCount() const { return m_drainCount; }
    /// Number of samples delivered so far.
    qint64 deliveredCount() const { return m_delivered; }

public slots:
    /// Drains the buffer now (also called by the timer).
    void drainNow();

signals:
    /// Emitted after each drain with the samples it delivered, after the views got them.
    void drained(const dr2::SeriesBatch& batch);

private:
    void scheduleDrain();

    std::shared_ptr<SeriesBuffer> m_buffer;
    QList<QPointer<PlotView>> m_views;
    QTimer m_timer;
    int m_drainCount = 0;
    qint64 m_delivered = 0;
};

} // namespace dr2
