#include "widgets/series_feed.h"

#include "widgets/plot_view.h"

#include <algorithm>

namespace dr2 {

SeriesFeed::SeriesFeed(std::shared_ptr<SeriesBuffer> buffer, QObject* parent)
    : QObject(parent)
    , m_buffer(std::move(buffer))
{
    if (!m_buffer)
        m_buffer = std::make_shared<SeriesBuffer>();
    m_timer.setSingleShot(true);
    m_timer.setInterval(40);
    connect(&m_timer, &QTimer::timeout, this, &SeriesFeed::drainNow);
    // Runs on the worker thread under the buffer's lock: only post an event. The destructor clears the
    // callback under the same lock, so `this` is alive whenever it is posted to; Qt drops events still
    // queued for an object that is deleted.
    m_buffer->setWakeUp([this] {
        QMetaObject::invokeMethod(
            this, [this] { scheduleDrain(); }, Qt::QueuedConnection);
    });
}

SeriesFeed::~SeriesFeed()
{
    m_buffer->setWakeUp({});
}

void SeriesFeed::addView(PlotView* view)
{
    if (view && !m_views.contains(view))
        m_views.append(view);
}

void SeriesFeed::removeView(PlotView* view)
{
    m_views.removeAll(view);
}

void SeriesFeed::setInterval(int milliseconds)
{
    m_timer.setInterval(std::max(0, milliseconds));
}

void SeriesFeed::scheduleDrain()
{
    if (!m_timer.isActive())
        m_timer.start();
}

void SeriesFeed::drainNow()
{
    m_timer.stop();
    const SeriesBatch batch = m_buffer->drain();
    if (batch.empty())
        return;
    ++m_drainCount;
    m_views.removeAll(nullptr);
    for (const auto& view : m_views) {
        for (const auto& [name, samples] : batch)
            view->appendSamples(name, samples);
        view->refresh();
    }
    for (const auto& entry : batch)
        m_delivered += static_cast<qint64>(entry.second.size());
    emit drained(batch);
}

} // namespace dr2
