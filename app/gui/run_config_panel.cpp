#include "app/gui/run_config_panel.h"

#include "app/gui/memory_plan_summary.h"

#include "training/schedule.h"
#include "training/train_config.h"
#include "widgets/coefficient_view.h"
#include "widgets/file_export.h"

#include <QCheckBox>
#include <QColor>
#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QGroupBox>
#include <QHeaderView>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMap>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <cmath>
#include <memory>

namespace dr2 {

namespace {

nlohmann::json::json_pointer toPointer(const QString& key)
{
    QString path = key;
    path.replace(QLatin1Char('.'), QLatin1Char('/'));
    return nlohmann::json::json_pointer(("/" + path).toStdString());
}

QString bytesText(qint64 bytes)
{
    const double b = double(bytes);
    if (b >= 1024.0 * 1024.0 * 1024.0)
        return QString::number(b / (1024.0 * 1024.0 * 1024.0), 'f', 2) + QStringLiteral(" GiB");
    return QString::number(b / (1024.0 * 1024.0), 'f', 1) + QStringLiteral(" MiB");
}

QString displayText(const nlohmann::json& value)
{
    if (value.is_string())
        return QString::fromStdString(value.get<std::string>());
    if (value.is_array()) {
        QStringList parts;
        for (const auto& v : value)
            parts << QString::fromStdString(v.dump());
        return parts.join(QStringLiteral(","));
    }
    if (value.is_null())
        return {};
    return QString::fromStdString(value.dump());
}

/// Iterations per epoch of a run of `config`, estimated before its data is loaded: data.train_limit or Fashion-MNIST's
/// 6000 images per class, in whole batches (the Trainer drops the last partial one) per accumulation.
int64_t iterationsPerEpoch(const TrainConfig& config)
{
    const int64_t classes = config.data.classes.empty() ? 10 : int64_t(config.data.classes.size());
    const int64_t images = config.data.trainLimit > 0 ? config.data.trainLimit : 6000 * classes;
    return std::max<int64_t>(
        1, images / config.optim.batchSize / std::max<int64_t>(1, config.optim.accumulation));
}

} // namespace

RunConfigPanel::RunConfigPanel(QWidget* parent)
    : QWidget(parent)
    , m_json(TrainConfig {}.toJson())
{
    // One group box per declared group, in the order the table first names them.
    QVector<QGroupBox*> boxes;
    QMap<QString, QFormLayout*> forms;
    for (const ConfigField& declaration : configFields()) {
        const QString group = QString::fromStdString(declaration.group);
        if (!forms.contains(group)) {
            auto* box = new QGroupBox(group, this);
            boxes.push_back(box);
            forms.insert(group, new QFormLayout(box));
        }
        addField(forms.value(group), declaration);
    }

    m_messageLabel = new QLabel(this);
    m_messageLabel->setWordWrap(true);
    m_messageLabel->setObjectName(QStringLiteral("configMessage"));
    m_preview = new CoefficientView(this);
    m_preview->setTitle(tr("Planned α/β schedule"));
    m_preview->setMinimumHeight(220);

    auto* load = new QPushButton(tr("Load config…"), this);
    auto* save = new QPushButton(tr("Save config…"), this);
    connect(load, &QPushButton::clicked, this, &RunConfigPanel::loadWithDialog);
    connect(save, &QPushButton::clicked, this, &RunConfigPanel::saveWithDialog);
    m_planButton = new QPushButton(tr("Plan memory"), this);
    m_planButton->setObjectName(QStringLiteral("planMemory"));
    m_planButton->setToolTip(tr("Predict the tensor memory of a training step for every strategy at this config's "
                                "model, batch and image size, and what fits this device (dr2net-cli plan)"));
    connect(m_planButton, &QPushButton::clicked, this, &RunConfigPanel::planMemory);
    m_timeButton = new QPushButton(tr("Estimate time"), this);
    m_timeButton->setObjectName(QStringLiteral("estimateTime"));
    m_timeButton->setToolTip(tr("Time training steps of this config's model at its batch and image size on this "
                                "machine and multiply by the run's iterations"));
    connect(m_timeButton, &QPushButton::clicked, this, &RunConfigPanel::estimateTime);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(load);
    buttons->addWidget(save);
    buttons->addWidget(m_timeButton);
    buttons->addWidget(m_planButton);
    buttons->addStretch(1);

    m_planLabel = new QLabel(tr("Memory plan: none yet — Plan memory predicts each strategy's step memory "
                                "without training (a few seconds to a minute of small calibration steps)."),
        this);
    m_planLabel->setObjectName(QStringLiteral("memoryPlanStatus"));
    m_planLabel->setWordWrap(true);
    m_timeLabel = new QLabel(tr("Expected time: none yet — Estimate time measures a training step of this config "
                                "(seconds) and multiplies by its iterations."),
        this);
    m_timeLabel->setObjectName(QStringLiteral("expectedTime"));
    m_timeLabel->setWordWrap(true);
    m_planTable = new QTableWidget(0, 7, this);
    m_planTable->setObjectName(QStringLiteral("memoryPlan"));
    m_planTable->setHorizontalHeaderLabels({ tr("strategy"), tr("held"), tr("step peak"), tr("total"), tr("fits"),
        tr("largest batch"), tr("largest image") });
    m_planTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_planTable->verticalHeader()->setVisible(false);
    m_planTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_planTable->setToolTip(tr("held: parameters, gradients, AdamW moments and one batch (counted); step peak: "
                               "activations and temporaries above that (fitted to measured small steps)"));
    m_planTable->setVisible(false);

    auto* formsWidget = new QWidget(this);
    auto* grid = new QHBoxLayout(formsWidget);
    auto* left = new QVBoxLayout;
    auto* right = new QVBoxLayout;
    for (int i = 0; i < boxes.size(); ++i)
        (i % 2 == 0 ? left : right)->addWidget(boxes[i]);
    left->addStretch(1);
    right->addStretch(1);
    grid->addLayout(left);
    grid->addLayout(right);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(formsWidget);
    scroll->setWidgetResizable(true);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(scroll, 3);
    layout->addWidget(m_messageLabel);
    layout->addWidget(m_timeLabel);
    layout->addWidget(m_planLabel);
    layout->addWidget(m_planTable, 1);
    layout->addWidget(m_preview, 2);

    fillFromJson();
    revalidate();
}

QWidget* RunConfigPanel::addField(QFormLayout* form, const ConfigField& declaration)
{
    const QString key = QString::fromStdString(declaration.key);
    QWidget* editor = nullptr;
    if (declaration.type == ConfigFieldType::Choice) {
        auto* combo = new QComboBox(this);
        for (const std::string& choice : declaration.choices())
            combo->addItem(QString::fromStdString(choice));
        editor = combo;
    } else if (declaration.type == ConfigFieldType::Bool) {
        editor = new QCheckBox(this);
    } else {
        editor = new QLineEdit(this);
    }
    editor->setObjectName(key);
    editor->setToolTip(QStringLiteral("%1: %2").arg(key, QString::fromStdString(declaration.help)));
    form->addRow(QString::fromStdString(declaration.label), editor);
    m_fields.push_back({ key, declaration.type, editor });
    const Field field = m_fields.back();
    if (auto* combo = qobject_cast<QComboBox*>(editor))
        connect(combo, &QComboBox::currentTextChanged, this, [this, field] { onEdited(field); });
    else if (auto* check = qobject_cast<QCheckBox*>(editor))
        connect(check, &QCheckBox::toggled, this, [this, field] { onEdited(field); });
    else if (auto* line = qobject_cast<QLineEdit*>(editor))
        connect(line, &QLineEdit::textEdited, this, [this, field] { onEdited(field); });
    return editor;
}

QWidget* RunConfigPanel::editorFor(const QString& key) const
{
    for (const Field& field : m_fields)
        if (field.key == key)
            return field.editor;
    return nullptr;
}

void RunConfigPanel::fillFromJson()
{
    m_filling = true;
    for (const Field& field : m_fields) {
        const auto pointer = toPointer(field.key);
        const nlohmann::json value = m_json.contains(pointer) ? m_json.at(pointer) : nlohmann::json();
        const QString text = displayText(value);
        if (auto* check = qobject_cast<QCheckBox*>(field.editor)) {
            check->setChecked(value.is_boolean() && value.get<bool>());
        } else if (auto* combo = qobject_cast<QComboBox*>(field.editor)) {
            if (combo->findText(text) < 0 && !text.isEmpty())
                combo->addItem(text);
            combo->setCurrentText(text);
        } else if (auto* line = qobject_cast<QLineEdit*>(field.editor)) {
            line->setText(text);
        }
    }
    m_filling = false;
}

nlohmann::json RunConfigPanel::editorValue(const Field& field) const
{
    if (auto* check = qobject_cast<QCheckBox*>(field.editor))
        return check->isChecked();
    QString text;
    if (auto* combo = qobject_cast<QComboBox*>(field.editor))
        text = combo->currentText();
    else if (auto* line = qobject_cast<QLineEdit*>(field.editor))
        text = line->text().trimmed();
    switch (field.type) {
    case ConfigFieldType::String:
    case ConfigFieldType::Choice:
        return text.toStdString();
    case ConfigFieldType::Bool:
    case ConfigFieldType::Integer:
    case ConfigFieldType::Real:
        // Not a number: keep the text so TrainConfig::fromJson names the field and what it found.
        try {
            return nlohmann::json::parse(text.isEmpty() ? std::string("null") : text.toStdString());
        } catch (const std::exception&) {
            return text.toStdString();
        }
    case ConfigFieldType::IntegerList: {
        nlohmann::json value = nlohmann::json::array();
        for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            bool ok = false;
            const qlonglong number = part.trimmed().toLongLong(&ok);
            value.push_back(ok ? nlohmann::json(number) : nlohmann::json(part.trimmed().toStdString()));
        }
        return value;
    }
    }
    return {};
}

nlohmann::json RunConfigPanel::formValues() const
{
    nlohmann::json values = m_json;
    for (const Field& field : m_fields)
        values[toPointer(field.key)] = editorValue(field);
    return values;
}

void RunConfigPanel::onEdited(const Field& field)
{
    if (m_filling)
        return;
    m_json[toPointer(field.key)] = editorValue(field);
    revalidate();
}

void RunConfigPanel::setValue(const QString& key, const nlohmann::json& value)
{
    m_json[toPointer(key)] = value;
    fillFromJson();
    revalidate();
}

void RunConfigPanel::revalidate()
{
    m_invalidField.clear();
    try {
        // The form starts runs: a missing checkpoint or data folder is worth flagging before Start.
        const TrainConfig config = TrainConfig::fromJson(m_json, TrainConfig::InputCheck::Check);
        m_valid = true;
        m_message.clear();
        updatePreview(m_json);
    } catch (const std::exception& e) {
        m_valid = false;
        m_message = QString::fromUtf8(e.what());
        // The message names the field ("config model.image_size: ..."): mark the longest key it mentions.
        for (const Field& field : m_fields)
            if (m_message.contains(field.key) && field.key.size() > m_invalidField.size())
                m_invalidField = field.key;
    }
    for (const Field& field : m_fields)
        field.editor->setStyleSheet(field.key == m_invalidField
                ? QStringLiteral("border: 2px solid #c0392b;")
                : QString());
    if (!m_plannedJson.isEmpty() && !m_planTable->isHidden() && configJson() != m_plannedJson)
        m_planLabel->setText(tr("Memory plan (out of date: the config changed since; Plan memory again)"));
    m_planButton->setEnabled(m_valid);
    m_timeButton->setEnabled(m_valid);
    if (!m_timedJson.isEmpty() && configJson() != m_timedJson)
        m_timeLabel->setText(tr("Expected time (out of date: the config changed since; Estimate time again)"));
    m_messageLabel->setText(m_valid ? tr("Config is valid.") : m_message);
    m_messageLabel->setStyleSheet(m_valid ? QString() : QStringLiteral("color: #c0392b;"));
    emit configChanged(m_valid);
}

void RunConfigPanel::planMemory()
{
    if (!m_valid)
        return;
    const QString json = configJson();
    const quint64 generation = ++m_planGeneration;
    m_planLabel->setText(tr("Memory plan: planning… (calibrating on small training steps)"));
    auto* watcher = new QFutureWatcher<MemoryPlanSummary>(this);
    connect(watcher, &QFutureWatcher<MemoryPlanSummary>::finished, this, [this, watcher, generation, json] {
        watcher->deleteLater();
        if (generation != m_planGeneration)
            return; // a newer request is running
        m_plannedJson = json;
        showMemoryPlan(watcher->result());
        if (m_planTable->isHidden() || configJson() == json)
            return;
        m_planLabel->setText(tr("Memory plan (out of date: the config changed while it was planned; Plan memory again)"));
    });
    watcher->setFuture(QtConcurrent::run([json] { return planConfigMemory(json); }));
}

void RunConfigPanel::estimateTime()
{
    if (!m_valid)
        return;
    const QString json = configJson();
    const qint64 iterations = expectedIterations();
    const quint64 generation = ++m_timeGeneration;
    m_timeLabel->setText(tr("Expected time: measuring… (building the model and timing training steps)"));
    auto* watcher = new QFutureWatcher<StepTimeEstimate>(this);
    connect(watcher, &QFutureWatcher<StepTimeEstimate>::finished, this, [this, watcher, generation, json, iterations] {
        watcher->deleteLater();
        if (generation != m_timeGeneration)
            return; // a newer request is running
        m_timedJson = json;
        showTimeEstimate(watcher->result(), iterations);
        if (configJson() != json)
            m_timeLabel->setText(tr("Expected time (out of date: the config changed while it was measured)"));
    });
    watcher->setFuture(QtConcurrent::run([json] { return measureConfigStep(json); }));
}

void RunConfigPanel::showTimeEstimate(const StepTimeEstimate& estimate, qint64 iterations)
{
    if (!estimate.ok) {
        m_timeLabel->setText(tr("Expected time: the measurement failed: %1").arg(estimate.error));
        m_timeLabel->setStyleSheet(QStringLiteral("color: #c0392b;"));
        emit timeEstimated(false);
        return;
    }
    const double total = estimate.secondsPerStep * double(iterations);
    const QString duration = total >= 5400.0 ? tr("%1 h").arg(total / 3600.0, 0, 'f', 1)
        : total >= 90.0                      ? tr("%1 min").arg(total / 60.0, 0, 'f', 1)
                                             : tr("%1 s").arg(total, 0, 'f', 0);
    m_timeLabel->setStyleSheet(QString());
    m_timeLabel->setText(tr("Expected time: about %1 — %2 iterations × %3 s per step measured here "
                            "(forward, loss, backward; evaluations and probes add to it)")
                             .arg(duration)
                             .arg(iterations)
                             .arg(estimate.secondsPerStep, 0, 'f', 2));
    emit timeEstimated(true);
}

QString RunConfigPanel::expectedTimeStatus() const
{
    return m_timeLabel->text();
}

qint64 RunConfigPanel::expectedIterations() const
{
    try {
        const TrainConfig config = TrainConfig::fromJson(m_json);
        return std::max<int64_t>(1, iterationsPerEpoch(config) * config.optim.epochs);
    } catch (const std::exception&) {
        return 0;
    }
}

QString RunConfigPanel::memoryPlanStatus() const
{
    return m_planLabel->text();
}

void RunConfigPanel::showMemoryPlan(const MemoryPlanSummary& plan)
{
    if (!plan.ok) {
        m_planTable->setVisible(false);
        m_planLabel->setText(tr("Memory plan failed: %1").arg(plan.error));
        m_planLabel->setStyleSheet(QStringLiteral("color: #c0392b;"));
        emit memoryPlanned(false);
        return;
    }
    m_planLabel->setStyleSheet(QString());
    m_planLabel->setText(tr("Memory plan: %1 (fitted to %2 measured steps)").arg(plan.header).arg(plan.calibrationSteps));
    m_planTable->setRowCount(int(plan.rows.size()));
    for (int r = 0; r < plan.rows.size(); ++r) {
        const MemoryPlanSummary::Row& row = plan.rows[r];
        const QStringList cells { row.strategy, bytesText(row.heldBytes), bytesText(row.stepBytes),
            bytesText(row.peakBytes), row.fits ? tr("yes") : tr("no"), QString::number(row.largestBatch),
            row.largestImageSize > 0 ? QStringLiteral("%1²").arg(row.largestImageSize) : tr("none") };
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setTextAlignment(c == 0 ? Qt::AlignLeft | Qt::AlignVCenter : Qt::AlignRight | Qt::AlignVCenter);
            if (!row.fits)
                item->setForeground(QColor(0xc0, 0x39, 0x2b));
            m_planTable->setItem(r, c, item);
        }
    }
    m_planTable->setVisible(true);
    emit memoryPlanned(true);
}

void RunConfigPanel::updatePreview(const nlohmann::json& parsed)
{
    const TrainConfig config = TrainConfig::fromJson(parsed);
    // The Trainer resolves τ from epochs once it knows the dataset size; estimate it the same way here.
    const int64_t perEpoch = iterationsPerEpoch(config);
    const int64_t total = std::max<int64_t>(1, perEpoch * config.optim.epochs);
    Coefficients fixed { 1.0, 0.0 };
    std::unique_ptr<CoefficientSchedule> schedule;
    switch (config.strategy) {
    case Strategy::Dr2Net: {
        ScheduleOptions options = config.schedule;
        if (config.tauEpochs > 0)
            options.tauIterations = std::max<int64_t>(1, std::llround(config.tauEpochs * double(perEpoch)));
        schedule = std::make_unique<CoefficientSchedule>(options);
        break;
    }
    case Strategy::Vanilla:
        fixed = { 1.0, 0.1 };
        break;
    case Strategy::ReversibleScratch:
    case Strategy::HardFinetune:
        fixed = { 0.0, 1.0 };
        break;
    default:
        break;
    }
    if (!schedule)
        schedule = std::make_unique<CoefficientSchedule>(CoefficientSchedule::constant(fixed));
    const int64_t tau = schedule->isConstant() ? 0 : schedule->options().tauIterations;
    const int64_t last = std::max(total, tau + tau / 4);
    const int64_t step = std::max<int64_t>(1, last / 400);
    std::vector<double> xs, alphas, betas;
    for (int64_t i = 0; i <= last; i += step) {
        const Coefficients c = schedule->at(i);
        xs.push_back(double(i));
        alphas.push_back(c.alpha);
        betas.push_back(c.beta);
    }
    m_preview->clearData();
    m_preview->setPlannedPath(xs, alphas, betas);
    if (tau > 0) {
        const Coefficients end = schedule->at(tau);
        m_preview->setEndPoint(double(tau), end.alpha, end.beta);
    } else {
        m_preview->setEndPoint(-1.0, 0.0, 0.0);
    }
    m_preview->refresh();
}

QString RunConfigPanel::configJson() const
{
    return QString::fromStdString(m_json.dump(2));
}

bool RunConfigPanel::setConfigJson(const QString& json, QString* error)
{
    nlohmann::json parsed;
    try {
        parsed = nlohmann::json::parse(json.toStdString());
    } catch (const std::exception& e) {
        if (error)
            *error = QStringLiteral("config: expected JSON, found a parse error: %1").arg(QString::fromUtf8(e.what()));
        return false;
    }
    if (!parsed.is_object()) {
        if (error)
            *error = QStringLiteral("config: expected a JSON object, found %1").arg(QString::fromUtf8(parsed.type_name()));
        return false;
    }
    // Start from the defaults so the form shows every field; the file's values win.
    nlohmann::json merged = TrainConfig {}.toJson();
    merged.merge_patch(parsed);
    m_json = merged;
    fillFromJson();
    revalidate();
    return true;
}

bool RunConfigPanel::loadFile(const QString& path, QString* error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        if (error)
            *error = QStringLiteral("config '%1': cannot read: %2").arg(path, file.errorString());
        return false;
    }
    constexpr qint64 kMaxConfigBytes = qint64 { 4 } * 1024 * 1024; // a config is a few KiB; refuse to slurp a huge file
    if (file.size() > kMaxConfigBytes) {
        if (error)
            *error = QStringLiteral("config '%1': expected at most 4 MiB, found %2 bytes").arg(path).arg(file.size());
        return false;
    }
    QString message;
    if (!setConfigJson(QString::fromUtf8(file.readAll()), &message)) {
        if (error)
            *error = QStringLiteral("config '%1': %2").arg(path, message);
        return false;
    }
    return true;
}

bool RunConfigPanel::saveFile(const QString& path, QString* error) const
{
    const QByteArray bytes = configJson().toUtf8() + '\n';
    return writeFileAtomically(
        path,
        [&bytes](const QString& tempPath, QString* writeError) {
            QFile file(tempPath);
            if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.flush()) {
                if (writeError)
                    *writeError = file.errorString();
                return false;
            }
            return true;
        },
        error);
}

void RunConfigPanel::loadWithDialog()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Load config"), {}, tr("JSON (*.json)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!loadFile(path, &error))
        QMessageBox::warning(this, tr("Load config"), error);
}

void RunConfigPanel::saveWithDialog()
{
    QString path = QFileDialog::getSaveFileName(this, tr("Save config"), QStringLiteral("run.json"), tr("JSON (*.json)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!saveFile(path, &error))
        QMessageBox::warning(this, tr("Save config"), error);
}

} // namespace dr2
