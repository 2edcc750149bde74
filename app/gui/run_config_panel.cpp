#include "app/gui/run_config_panel.h"

#include "training/schedule.h"
#include "training/train_config.h"
#include "widgets/coefficient_view.h"
#include "widgets/file_export.h"

#include <QComboBox>
#include <QFile>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QVBoxLayout>

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

} // namespace

RunConfigPanel::RunConfigPanel(QWidget* parent)
    : QWidget(parent)
    , m_json(TrainConfig {}.toJson())
{
    QStringList strategies;
    for (const auto& name : strategyNames())
        strategies << QString::fromStdString(name);

    auto* runBox = new QGroupBox(tr("Run"), this);
    auto* runForm = new QFormLayout(runBox);
    addField(runForm, QStringLiteral("name"), tr("Name"), Kind::String);
    addField(runForm, QStringLiteral("strategy"), tr("Strategy"), Kind::Choice, strategies);
    addField(runForm, QStringLiteral("seed"), tr("Seed"), Kind::Integer);
    addField(runForm, QStringLiteral("threads"), tr("Threads (0: default)"), Kind::Integer);

    auto* dataBox = new QGroupBox(tr("Dataset"), this);
    auto* dataForm = new QFormLayout(dataBox);
    addField(dataForm, QStringLiteral("data.dataset"), tr("Dataset"), Kind::Choice,
        { QStringLiteral("fashion-mnist"), QStringLiteral("folder") });
    addField(dataForm, QStringLiteral("data.root"), tr("Root"), Kind::String);
    addField(dataForm, QStringLiteral("data.classes"), tr("Classes (e.g. 5,6,7)"), Kind::IntegerList);
    addField(dataForm, QStringLiteral("data.train_limit"), tr("Train images (0: all)"), Kind::Integer);
    addField(dataForm, QStringLiteral("data.val_limit"), tr("Validation images (0: all)"), Kind::Integer);

    auto* modelBox = new QGroupBox(tr("Model and resolution"), this);
    auto* modelForm = new QFormLayout(modelBox);
    addField(modelForm, QStringLiteral("model.checkpoint"), tr("Checkpoint"), Kind::String);
    addField(modelForm, QStringLiteral("model.preset"), tr("Preset"), Kind::Choice,
        { QStringLiteral("vit-ti"), QStringLiteral("vit-s"), QStringLiteral("vit-b"), QStringLiteral("vit-l") });
    addField(modelForm, QStringLiteral("model.image_size"), tr("Image size"), Kind::Integer);
    addField(modelForm, QStringLiteral("model.patch_size"), tr("Patch size"), Kind::Integer);
    addField(modelForm, QStringLiteral("model.in_channels"), tr("Input channels"), Kind::Integer);
    addField(modelForm, QStringLiteral("model.embed_dim"), tr("Embedding (0: preset)"), Kind::Integer);
    addField(modelForm, QStringLiteral("model.depth"), tr("Depth (0: preset)"), Kind::Integer);
    addField(modelForm, QStringLiteral("model.heads"), tr("Heads (0: preset)"), Kind::Integer);

    auto* optimBox = new QGroupBox(tr("Optimizer"), this);
    auto* optimForm = new QFormLayout(optimBox);
    addField(optimForm, QStringLiteral("optim.epochs"), tr("Epochs"), Kind::Integer);
    addField(optimForm, QStringLiteral("optim.batch_size"), tr("Batch size"), Kind::Integer);
    addField(optimForm, QStringLiteral("optim.lr"), tr("Learning rate"), Kind::Real);
    addField(optimForm, QStringLiteral("optim.weight_decay"), tr("Weight decay"), Kind::Real);
    addField(optimForm, QStringLiteral("optim.warmup_iterations"), tr("Warm-up iterations"), Kind::Integer);

    auto* scheduleBox = new QGroupBox(tr("α/β schedule and probes"), this);
    auto* scheduleForm = new QFormLayout(scheduleBox);
    addField(scheduleForm, QStringLiteral("schedule.start.alpha"), tr("Start α"), Kind::Real);
    addField(scheduleForm, QStringLiteral("schedule.start.beta"), tr("Start β"), Kind::Real);
    addField(scheduleForm, QStringLiteral("schedule.end.alpha"), tr("End α"), Kind::Real);
    addField(scheduleForm, QStringLiteral("schedule.end.beta"), tr("End β"), Kind::Real);
    addField(scheduleForm, QStringLiteral("schedule.tau_iterations"), tr("τ (iterations)"), Kind::Integer);
    addField(scheduleForm, QStringLiteral("schedule.eta"), tr("η (update every)"), Kind::Integer);
    addField(scheduleForm, QStringLiteral("schedule.policy"), tr("Policy"), Kind::Choice,
        { QStringLiteral("linear"), QStringLiteral("exponential"), QStringLiteral("logarithmic") });
    addField(scheduleForm, QStringLiteral("schedule.order"), tr("Order"), Kind::Choice,
        { QStringLiteral("simultaneous"), QStringLiteral("alpha-first"), QStringLiteral("beta-first") });
    addField(scheduleForm, QStringLiteral("probe.every"), tr("Probe every (0: never)"), Kind::Integer);
    addField(scheduleForm, QStringLiteral("segments.every"), tr("Segment length (0: one)"), Kind::Integer);

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
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(load);
    buttons->addWidget(save);
    buttons->addStretch(1);

    auto* forms = new QWidget(this);
    auto* grid = new QHBoxLayout(forms);
    auto* left = new QVBoxLayout;
    left->addWidget(runBox);
    left->addWidget(dataBox);
    left->addWidget(optimBox);
    left->addStretch(1);
    auto* right = new QVBoxLayout;
    right->addWidget(modelBox);
    right->addWidget(scheduleBox);
    right->addStretch(1);
    grid->addLayout(left);
    grid->addLayout(right);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(forms);
    scroll->setWidgetResizable(true);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(scroll, 3);
    layout->addWidget(m_messageLabel);
    layout->addWidget(m_preview, 2);

    fillFromJson();
    revalidate();
}

QWidget* RunConfigPanel::addField(
    QFormLayout* form, const QString& key, const QString& label, Kind kind, const QStringList& choices)
{
    QWidget* editor = nullptr;
    if (kind == Kind::Choice) {
        auto* combo = new QComboBox(this);
        combo->addItems(choices);
        editor = combo;
    } else {
        editor = new QLineEdit(this);
    }
    editor->setObjectName(key);
    editor->setToolTip(key);
    form->addRow(label, editor);
    m_fields.push_back({ key, kind, editor });
    const Field field = m_fields.back();
    if (auto* combo = qobject_cast<QComboBox*>(editor))
        connect(combo, &QComboBox::currentTextChanged, this, [this, field] { onEdited(field); });
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
        const QString text = m_json.contains(pointer) ? displayText(m_json.at(pointer)) : QString();
        if (auto* combo = qobject_cast<QComboBox*>(field.editor)) {
            if (combo->findText(text) < 0 && !text.isEmpty())
                combo->addItem(text);
            combo->setCurrentText(text);
        } else if (auto* line = qobject_cast<QLineEdit*>(field.editor)) {
            line->setText(text);
        }
    }
    m_filling = false;
}

void RunConfigPanel::onEdited(const Field& field)
{
    if (m_filling)
        return;
    QString text;
    if (auto* combo = qobject_cast<QComboBox*>(field.editor))
        text = combo->currentText();
    else if (auto* line = qobject_cast<QLineEdit*>(field.editor))
        text = line->text().trimmed();
    nlohmann::json value;
    switch (field.kind) {
    case Kind::String:
    case Kind::Choice:
        value = text.toStdString();
        break;
    case Kind::Integer:
    case Kind::Real: {
        // Not a number: keep the text so TrainConfig::fromJson names the field and what it found.
        try {
            value = nlohmann::json::parse(text.isEmpty() ? std::string("null") : text.toStdString());
        } catch (const std::exception&) {
            value = text.toStdString();
        }
        break;
    }
    case Kind::IntegerList: {
        value = nlohmann::json::array();
        for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            bool ok = false;
            const qlonglong number = part.trimmed().toLongLong(&ok);
            value.push_back(ok ? nlohmann::json(number) : nlohmann::json(part.trimmed().toStdString()));
        }
        break;
    }
    }
    m_json[toPointer(field.key)] = value;
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
        const TrainConfig config = TrainConfig::fromJson(m_json);
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
    m_messageLabel->setText(m_valid ? tr("Config is valid.") : m_message);
    m_messageLabel->setStyleSheet(m_valid ? QString() : QStringLiteral("color: #c0392b;"));
    emit configChanged(m_valid);
}

void RunConfigPanel::updatePreview(const nlohmann::json& parsed)
{
    const TrainConfig config = TrainConfig::fromJson(parsed);
    // The Trainer resolves τ from epochs once it knows the dataset size; estimate it the same way here.
    const int64_t classes = config.data.classes.empty() ? 10 : int64_t(config.data.classes.size());
    int64_t images = config.data.trainLimit > 0 ? config.data.trainLimit : 6000 * classes;
    const int64_t perEpoch = std::max<int64_t>(1, (images + config.optim.batchSize - 1) / config.optim.batchSize
            / std::max<int64_t>(1, config.optim.accumulation));
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
