#include "widgets/metric_compare_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QVBoxLayout>

#include <cmath>

namespace dr2 {

MetricComparePanel::MetricComparePanel(QWidget* parent)
    : QWidget(parent)
    , m_metric(new QComboBox(this))
    , m_axis(new QComboBox(this))
    , m_smoothing(new QComboBox(this))
    , m_strength(new QSlider(Qt::Horizontal, this))
    , m_strengthLabel(new QLabel(this))
    , m_view(new MetricCompareView(this))
{
    m_metric->setToolTip(tr("Any series recorded for the selected runs"));
    m_metric->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_axis->addItem(tr("Iteration"), int(MetricXAxis::Iteration));
    m_axis->addItem(tr("Epoch"), int(MetricXAxis::Epoch));
    m_axis->addItem(tr("Wall time"), int(MetricXAxis::WallTime));
    m_smoothing->addItem(tr("No smoothing"), int(Smoothing::None));
    m_smoothing->addItem(tr("EMA (debiased)"), int(Smoothing::Ema));
    m_smoothing->addItem(tr("Running average"), int(Smoothing::RunningAverage));
    m_smoothing->addItem(tr("Gaussian"), int(Smoothing::Gaussian));
    m_smoothing->setToolTip(tr("The raw curve stays visible, faint, behind the smoothed one"));
    m_strength->setRange(0, 99);
    m_strength->setToolTip(tr("Smoothing strength: averages over about 1 / (1 − strength) samples"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Metric"), this));
    controls->addWidget(m_metric);
    controls->addWidget(new QLabel(tr("x axis"), this));
    controls->addWidget(m_axis);
    controls->addWidget(m_smoothing);
    controls->addWidget(m_strength, 1);
    controls->addWidget(m_strengthLabel);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    layout->addWidget(m_view, 1);

    setSmoothing(m_view->smoothing(), m_view->smoothingStrength());
    connect(m_metric, &QComboBox::currentIndexChanged, this, [this] {
        updateAxisLabels();
        if (!m_filling)
            emit metricChanged(metric());
    });
    connect(m_axis, &QComboBox::currentIndexChanged, this, [this] {
        updateAxisLabels();
        emit axisChanged(xAxis());
    });
    connect(m_smoothing, &QComboBox::currentIndexChanged, this, &MetricComparePanel::applySmoothing);
    connect(m_strength, &QSlider::valueChanged, this, &MetricComparePanel::applySmoothing);
    updateAxisLabels();
}

QString MetricComparePanel::axisLabel(MetricXAxis axis)
{
    switch (axis) {
    case MetricXAxis::Epoch:
        return tr("epoch");
    case MetricXAxis::WallTime:
        return tr("wall time (s)");
    case MetricXAxis::Iteration:
        break;
    }
    return tr("iteration");
}

void MetricComparePanel::setMetrics(const QStringList& metrics, const QString& preferred)
{
    const QString before = metric();
    {
        m_filling = true;
        m_metric->clear();
        m_metric->addItems(metrics);
        m_filling = false;
    }
    const QString wanted = metrics.contains(before) ? before : metrics.contains(preferred) ? preferred : QString();
    const int index = wanted.isEmpty() ? (metrics.isEmpty() ? -1 : 0) : m_metric->findText(wanted);
    {
        const QSignalBlocker blocker(m_metric);
        m_metric->setCurrentIndex(index);
    }
    updateAxisLabels();
    if (metric() != before)
        emit metricChanged(metric());
}

QStringList MetricComparePanel::metrics() const
{
    QStringList out;
    for (int i = 0; i < m_metric->count(); ++i)
        out << m_metric->itemText(i);
    return out;
}

QString MetricComparePanel::metric() const
{
    return m_metric->currentText();
}

void MetricComparePanel::setMetric(const QString& metric)
{
    const int index = m_metric->findText(metric);
    if (index >= 0)
        m_metric->setCurrentIndex(index);
}

MetricXAxis MetricComparePanel::xAxis() const
{
    return MetricXAxis(m_axis->currentData().toInt());
}

void MetricComparePanel::setXAxis(MetricXAxis axis)
{
    m_axis->setCurrentIndex(m_axis->findData(int(axis)));
}

void MetricComparePanel::setSmoothing(Smoothing kind, double strength)
{
    const QSignalBlocker kindBlocker(m_smoothing);
    const QSignalBlocker strengthBlocker(m_strength);
    m_smoothing->setCurrentIndex(m_smoothing->findData(int(kind)));
    m_strength->setValue(static_cast<int>(std::lround(strength * 100.0)));
    applySmoothing();
}

void MetricComparePanel::applySmoothing()
{
    const auto kind = Smoothing(m_smoothing->currentData().toInt());
    const double strength = m_strength->value() / 100.0;
    m_strength->setEnabled(kind != Smoothing::None);
    m_strengthLabel->setText(QString::number(strength, 'f', 2));
    m_view->setSmoothing(kind, strength);
}

void MetricComparePanel::updateAxisLabels()
{
    m_view->setAxisLabels(axisLabel(xAxis()), metric());
}

} // namespace dr2
